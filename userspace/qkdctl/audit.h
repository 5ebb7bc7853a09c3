/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading the module's audit (take) records; shared by `audit` and `xfrm`. */
#ifndef QKDCTL_AUDIT_H
#define QKDCTL_AUDIT_H

#include <netlink/attr.h>

#include "model.h"
#include "nl.h"

/* Decode one QKD_A_AUDIT nest.  Returns 0 or -EBADMSG. */
int audit_record_parse(struct nlattr *nest, struct audit_record *r);

/* Dump the records (of one link if name is non-NULL), oldest first. */
int audit_fetch(struct qkd_nl *q, const char *name, struct audit_list *out,
		struct nl_status *st);

#endif
