// SPDX-License-Identifier: GPL-2.0
/*
 * qkd: a per-network-namespace store of QKD key material for IPsec.
 *
 * Module and namespace lifetime.  Each network namespace gets its own
 * store (pernet_operations); a store is reachable only through a netlink
 * socket of its own namespace.  On namespace exit and module unload every
 * buffered key is wiped.
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <net/genetlink.h>
#include <net/netns/generic.h>

#include "qkd.h"

static unsigned int qkd_net_id __read_mostly;

/* All stores, so that unload can tell the pending takes of any of them. */
static LIST_HEAD(qkd_all_nets);
static DEFINE_MUTEX(qkd_all_nets_lock);
bool qkd_unloading;

struct qkd_net *qkd_pernet(struct net *net)
{
	return net_generic(net, qkd_net_id);
}

static int __net_init qkd_net_init(struct net *net)
{
	struct qkd_net *qn = qkd_pernet(net);
	int err;

	qn->net = net;
	mutex_init(&qn->lock);
	INIT_LIST_HEAD(&qn->links);
	spin_lock_init(&qn->stats_lock);
	atomic_set(&qn->nr_spent, 0);
	atomic_set(&qn->nr_pending, 0);
	err = qkd_caps_net_init(qn);
	if (err)
		return err;
	qkd_audit_init(&qn->audit, qn->caps[QKD_CAP_AUDIT_RECORDS]);

	mutex_lock(&qkd_all_nets_lock);
	list_add(&qn->all_nets, &qkd_all_nets);
	mutex_unlock(&qkd_all_nets_lock);
	return 0;
}

static void __net_exit qkd_net_exit(struct net *net)
{
	struct qkd_net *qn = qkd_pernet(net);

	mutex_lock(&qkd_all_nets_lock);
	list_del(&qn->all_nets);
	mutex_unlock(&qkd_all_nets_lock);

	qkd_caps_net_exit(qn);
	qkd_net_destroy_links(qn);
	qkd_audit_destroy(&qn->audit);
}

static struct pernet_operations qkd_net_ops = {
	.init = qkd_net_init,
	.exit = qkd_net_exit,
	.id = &qkd_net_id,
	.size = sizeof(struct qkd_net),
};

static int __init qkd_init(void)
{
	int err;

	err = qkd_store_init();
	if (err)
		return err;
	err = register_pernet_subsys(&qkd_net_ops);
	if (err)
		goto err_store;
	err = qkd_pending_init();
	if (err)
		goto err_pernet;
	err = qkd_genl_register();
	if (err)
		goto err_pending;
	pr_info("QKD key store loaded\n");
	return 0;

err_pending:
	qkd_pending_exit();
err_pernet:
	unregister_pernet_subsys(&qkd_net_ops);
err_store:
	qkd_store_exit();
	return err;
}

static void __exit qkd_exit(void)
{
	struct qkd_net *qn;

	/*
	 * Pending takes by ID wait in userspace for a KEY_READY: tell them
	 * the module is going (ESHUTDOWN) while the family can still send.
	 */
	WRITE_ONCE(qkd_unloading, true);
	mutex_lock(&qkd_all_nets_lock);
	list_for_each_entry(qn, &qkd_all_nets, all_nets)
		qkd_net_wake_all(qn);
	mutex_unlock(&qkd_all_nets_lock);

	qkd_genl_unregister();
	qkd_pending_exit();
	/* Wipes every key left in every namespace. */
	unregister_pernet_subsys(&qkd_net_ops);
	qkd_store_exit();
	pr_info("QKD key store unloaded, all keys wiped\n");
}

module_init(qkd_init);
module_exit(qkd_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Per-namespace QKD key store for IPsec gateways");
MODULE_AUTHOR("qkd-ipsec developers");
MODULE_VERSION("0.1.0");
MODULE_ALIAS_GENL_FAMILY(QKD_FAMILY_NAME);
