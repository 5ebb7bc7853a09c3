/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Names of the module's key roles (enum qkd_key_role in the UAPI header)
 * as logs and output spell them. */
#ifndef QKD_ROLE_H
#define QKD_ROLE_H

/* "initiator", "responder", or "unknown" for any other value. */
const char *qkd_role_name(int role);

#endif
