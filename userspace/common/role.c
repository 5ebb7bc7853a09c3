// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Key role names (see role.h). */
#include "role.h"
#include "../../include/uapi/linux/qkd.h"

const char *qkd_role_name(int role)
{
	static const char *const names[QKD_KEY_ROLE_MAX + 1] = {
		[QKD_KEY_ROLE_INITIATOR] = "initiator",
		[QKD_KEY_ROLE_RESPONDER] = "responder",
	};

	if (role < 0 || role > QKD_KEY_ROLE_MAX || !names[role])
		return "unknown";
	return names[role];
}
