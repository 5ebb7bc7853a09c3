/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading the module's audit (take) records; shared by `audit` and `xfrm`. */
#ifndef QKDCTL_AUDIT_H
#define QKDCTL_AUDIT_H

#include <libqkd.h>

#include "model.h"

/* One record as libqkd decoded it, in qkdctl's model (annotate.h). */
void audit_record_from_lib(const struct qkd_audit_buf *b, struct audit_record *r);

/* Dump the records (of one link if name is non-NULL), oldest first.
 * Returns 0, or a negative errno (explained by qkd_nl_error(nl)). */
int audit_fetch(struct qkd_nl *nl, const char *name, struct audit_list *out);

#endif
