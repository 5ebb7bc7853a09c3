// SPDX-License-Identifier: GPL-2.0
/*
 * Per-namespace caps on what a namespace's store may hold: links, keys
 * and bytes buffered, spent IDs remembered and audit records kept.
 *
 * GENL_UNS_ADMIN_PERM lets the admin of any user namespace use the store
 * of a network namespace it owns, and an unprivileged user can make both
 * with `unshare -Urn`; so every store is capped.  A namespace owned by
 * the initial user namespace starts with the host defaults below, any
 * other with the (much smaller) userns_* module parameters, read when the
 * namespace is created.  The caps are the sysctls net.qkd.<name> of each
 * network namespace; only CAP_NET_ADMIN in the initial user namespace may
 * write them (a container's root reads them but cannot raise them).
 *
 * A refusal at a cap is EDQUOT with an extack message naming the cap and
 * its value.  The spent-ID and audit caps refuse nothing: at the spent-ID
 * cap a link forgets its own oldest spent ID first, and the audit ring
 * overwrites its oldest record.
 */
#include <linux/capability.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/netlink.h>
#include <linux/slab.h>
#include <linux/sysctl.h>
#include <net/net_namespace.h>

#include "qkd.h"

struct qkd_cap_def {
	const char *name;	/* sysctl net.qkd.<name> */
	u32 min, max;
	u32 host;		/* default in the initial user namespace */
	const char *fmt;	/* extack text of a refusal, or NULL */
};

static const struct qkd_cap_def qkd_cap_defs[QKD_NR_CAPS] = {
	[QKD_CAP_LINKS] = {
		"max_links", 0, 65536, 1024,
		KBUILD_MODNAME ": namespace link cap (%u links) reached (net.qkd.max_links)",
	},
	[QKD_CAP_KEYS] = {
		"max_keys", 0, 1U << 24, 1U << 18,
		KBUILD_MODNAME ": namespace key cap (%u keys) reached (net.qkd.max_keys)",
	},
	[QKD_CAP_BYTES] = {
		"max_bytes", 0, 1U << 30, 16U << 20,
		KBUILD_MODNAME ": namespace byte cap (%u bytes) reached (net.qkd.max_bytes)",
	},
	[QKD_CAP_SPENT_IDS] = {
		"max_spent_ids", 0, 1U << 24, 1U << 18, NULL,
	},
	[QKD_CAP_AUDIT_RECORDS] = {
		"audit_records", 1, 65536, QKD_AUDIT_RING_SIZE, NULL,
	},
};

/*
 * Defaults of a namespace owned by any other user namespace: about 1.5 MiB
 * of kernel memory at most (docs/kmod.md), charged to its memory cgroup.
 */
static unsigned int qkd_userns_caps[QKD_NR_CAPS] = {
	[QKD_CAP_LINKS] = 16,
	[QKD_CAP_KEYS] = 4096,
	[QKD_CAP_BYTES] = 256U << 10,
	[QKD_CAP_SPENT_IDS] = 16384,
	[QKD_CAP_AUDIT_RECORDS] = 256,
};

module_param_named(userns_max_links, qkd_userns_caps[QKD_CAP_LINKS], uint, 0644);
MODULE_PARM_DESC(userns_max_links,
		 "net.qkd.max_links of new namespaces not owned by the initial user namespace");
module_param_named(userns_max_keys, qkd_userns_caps[QKD_CAP_KEYS], uint, 0644);
MODULE_PARM_DESC(userns_max_keys,
		 "net.qkd.max_keys of new namespaces not owned by the initial user namespace");
module_param_named(userns_max_bytes, qkd_userns_caps[QKD_CAP_BYTES], uint, 0644);
MODULE_PARM_DESC(userns_max_bytes,
		 "net.qkd.max_bytes of new namespaces not owned by the initial user namespace");
module_param_named(userns_max_spent_ids, qkd_userns_caps[QKD_CAP_SPENT_IDS],
		   uint, 0644);
MODULE_PARM_DESC(userns_max_spent_ids,
		 "net.qkd.max_spent_ids of new namespaces not owned by the initial user namespace");
module_param_named(userns_audit_records,
		   qkd_userns_caps[QKD_CAP_AUDIT_RECORDS], uint, 0644);
MODULE_PARM_DESC(userns_audit_records,
		 "net.qkd.audit_records of new namespaces not owned by the initial user namespace");

/* Called under qn->lock, or before the namespace is visible. */
static void qkd_cap_msg_update(struct qkd_net *qn, enum qkd_cap cap)
{
	const struct qkd_cap_def *def = &qkd_cap_defs[cap];

	if (def->fmt)
		/* The last byte stays NUL: the texts are shorter. */
		snprintf(qn->cap_msg[cap], QKD_CAP_MSG_MAX - 1, def->fmt,
			 qn->caps[cap]);
}

void qkd_cap_refuse(struct qkd_net *qn, enum qkd_cap cap,
		    struct netlink_ext_ack *extack)
{
	/* NL_SET_ERR_MSG() wants a literal; this text lives as long as qn. */
	if (extack)
		extack->_msg = qn->cap_msg[cap];
}

static int qkd_sysctl_cap(struct ctl_table *table, int write, void *buffer,
			  size_t *lenp, loff_t *ppos)
{
	struct qkd_net *qn = table->extra1;
	enum qkd_cap cap = (u32 *)table->data - qn->caps;
	const struct qkd_cap_def *def = &qkd_cap_defs[cap];
	unsigned int val = READ_ONCE(qn->caps[cap]);
	struct ctl_table tmp = {
		.data = &val,
		.maxlen = sizeof(val),
		.mode = table->mode,
		.extra1 = (void *)&def->min,
		.extra2 = (void *)&def->max,
	};
	int err;

	/* Container roots own their namespace's files, but may not raise. */
	if (write && !capable(CAP_NET_ADMIN))
		return -EPERM;
	err = proc_douintvec_minmax(&tmp, write, buffer, lenp, ppos);
	if (err || !write)
		return err;

	mutex_lock(&qn->lock);
	if (cap == QKD_CAP_AUDIT_RECORDS)
		err = qkd_audit_resize(&qn->audit, val);
	if (!err) {
		WRITE_ONCE(qn->caps[cap], val);
		qkd_cap_msg_update(qn, cap);
	}
	mutex_unlock(&qn->lock);
	return err;
}

int qkd_caps_net_init(struct qkd_net *qn)
{
	bool host = qn->net->user_ns == &init_user_ns;
	struct ctl_table *tbl;
	unsigned int i;

	for (i = 0; i < QKD_NR_CAPS; i++) {
		const struct qkd_cap_def *def = &qkd_cap_defs[i];

		qn->caps[i] = host ? def->host :
			      clamp_t(u32, READ_ONCE(qkd_userns_caps[i]),
				      def->min, def->max);
		qkd_cap_msg_update(qn, i);
	}

	/* One entry per cap and the terminating empty one. */
	tbl = kcalloc(QKD_NR_CAPS + 1, sizeof(*tbl), GFP_KERNEL_ACCOUNT);
	if (!tbl)
		return -ENOMEM;
	for (i = 0; i < QKD_NR_CAPS; i++) {
		tbl[i].procname = qkd_cap_defs[i].name;
		tbl[i].data = &qn->caps[i];
		tbl[i].maxlen = sizeof(qn->caps[i]);
		tbl[i].mode = 0644;
		tbl[i].proc_handler = qkd_sysctl_cap;
		tbl[i].extra1 = qn;
	}
	qn->sysctl = register_net_sysctl(qn->net, "net/qkd", tbl);
	if (!qn->sysctl) {
		kfree(tbl);
		return -ENOMEM;
	}
	return 0;
}

void qkd_caps_net_exit(struct qkd_net *qn)
{
	struct ctl_table *tbl;

	if (!qn->sysctl)
		return;
	tbl = qn->sysctl->ctl_table_arg;
	unregister_net_sysctl_table(qn->sysctl);
	qn->sysctl = NULL;
	kfree(tbl);
}
