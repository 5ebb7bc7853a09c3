// SPDX-License-Identifier: GPL-2.0
/*
 * Pending takes: a take by key ID that cannot be served at once does not
 * sleep in the netlink handler (which would hold genetlink's cb_lock and
 * stall every family's requests and registrations behind it).  Like
 * net/handshake, it leaves a record and returns EINPROGRESS; when the key
 * arrives (or the link goes, or the module unloads) the record's socket
 * gets a KEY_READY notification by unicast and takes the key again.
 *
 * Records live on their link, at most QKD_LINK_PENDING_MAX per link, each
 * until its wait runs out, its taker takes again, or its socket closes
 * (NETLINK_URELEASE).  They hold no key material.
 */
#include <linux/jiffies.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <net/netlink.h>

#include "qkd.h"

struct qkd_pending {
	struct list_head node;		/* link->pending */
	u8 id[QKD_KEY_ID_LEN];
	u32 portid;
	unsigned long deadline;		/* jiffies */
};

struct qkd_pending *qkd_pending_alloc(void)
{
	return kzalloc(sizeof(struct qkd_pending), QKD_GFP);
}

void qkd_pending_free(struct qkd_pending *p)
{
	kfree(p);
}

static void qkd_pending_unlink(struct qkd_link *link, struct qkd_pending *p,
			       struct list_head *out)
{
	list_move_tail(&p->node, out);
	link->nr_pending--;
	qkd_stat_add(link, &link->stats.pending, (u64)-1);
	atomic_dec(&link->qn->nr_pending);
}

/* Drop the records whose wait ran out.  Under link->lock. */
static void qkd_pending_reap(struct qkd_link *link, struct list_head *out)
{
	struct qkd_pending *p, *tmp;

	list_for_each_entry_safe(p, tmp, &link->pending, node)
		if (time_after(jiffies, p->deadline))
			qkd_pending_unlink(link, p, out);
}

int qkd_pending_add(struct qkd_link *link, struct qkd_pending **prealloc,
		    const u8 *id, u32 portid, u32 wait_ms,
		    struct list_head *reaped, struct netlink_ext_ack *extack)
{
	struct qkd_pending *p = *prealloc;

	lockdep_assert_held(&link->lock);
	qkd_pending_reap(link, reaped);
	if (link->nr_pending >= QKD_LINK_PENDING_MAX) {
		NL_SET_ERR_MSG_MOD(extack,
				   "too many takes pending on this link");
		return -ENOBUFS;
	}
	memcpy(p->id, id, QKD_KEY_ID_LEN);
	p->portid = portid;
	p->deadline = jiffies + msecs_to_jiffies(wait_ms);
	list_add_tail(&p->node, &link->pending);
	link->nr_pending++;
	qkd_stat_add(link, &link->stats.pending, 1);
	atomic_inc(&link->qn->nr_pending);
	*prealloc = NULL;
	return 0;
}

void qkd_pending_cancel(struct qkd_link *link, const u8 *id, u32 portid,
			struct list_head *out)
{
	struct qkd_pending *p, *tmp;

	lockdep_assert_held(&link->lock);
	list_for_each_entry_safe(p, tmp, &link->pending, node)
		if (p->portid == portid && !memcmp(p->id, id, QKD_KEY_ID_LEN))
			qkd_pending_unlink(link, p, out);
}

void qkd_pending_collect(struct qkd_link *link, const u8 *id,
			 struct list_head *out)
{
	struct qkd_pending *p, *tmp;

	lockdep_assert_held(&link->lock);
	list_for_each_entry_safe(p, tmp, &link->pending, node)
		if (!id || !memcmp(p->id, id, QKD_KEY_ID_LEN))
			qkd_pending_unlink(link, p, out);
}

void qkd_pending_notify(struct qkd_link *link, struct list_head *list,
			u32 status)
{
	struct qkd_pending *p, *tmp;

	list_for_each_entry_safe(p, tmp, list, node) {
		/* a wait that ran out gets nothing: its taker has given up */
		if (status || !time_after(jiffies, p->deadline))
			qkd_notify_key_ready(link->qn->net, p->portid, link->name,
					     p->id, status);
		list_del(&p->node);
		kfree(p);
	}
}

void qkd_pending_free_list(struct list_head *list)
{
	struct qkd_pending *p, *tmp;

	list_for_each_entry_safe(p, tmp, list, node) {
		list_del(&p->node);
		kfree(p);
	}
}

/* The socket of a pending take closed: forget its records. */
static void qkd_pending_release_port(struct qkd_net *qn, u32 portid)
{
	struct qkd_pending *p, *tmp;
	struct qkd_link *link;
	LIST_HEAD(gone);

	/* every genetlink socket of the namespace ends here: be quick */
	if (!atomic_read(&qn->nr_pending))
		return;
	mutex_lock(&qn->lock);
	list_for_each_entry(link, &qn->links, node) {
		spin_lock(&link->lock);
		list_for_each_entry_safe(p, tmp, &link->pending, node)
			if (p->portid == portid)
				qkd_pending_unlink(link, p, &gone);
		spin_unlock(&link->lock);
	}
	mutex_unlock(&qn->lock);
	qkd_pending_free_list(&gone);
}

static int qkd_pending_urelease(struct notifier_block *nb,
				unsigned long event, void *ptr)
{
	struct netlink_notify *n = ptr;

	if (event != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC ||
	    !n->portid)
		return NOTIFY_DONE;
	qkd_pending_release_port(qkd_pernet(n->net), n->portid);
	return NOTIFY_DONE;
}

static struct notifier_block qkd_pending_nb = {
	.notifier_call = qkd_pending_urelease,
};

int qkd_pending_init(void)
{
	return netlink_register_notifier(&qkd_pending_nb);
}

void qkd_pending_exit(void)
{
	netlink_unregister_notifier(&qkd_pending_nb);
}
