// SPDX-License-Identifier: GPL-2.0
/*
 * Notifications on the "notify" multicast group of the qkd family:
 * KEY_WANTED, LOW_WATERMARK, KEY_EXPIRED and LINK_DEL.  store.c calls
 * these after dropping its locks; the family itself is in netlink-gen.c,
 * its commands in netlink.c.  A notification nobody listens to is not built; one
 * that cannot be allocated or does not fit is dropped.
 */
#include <linux/spinlock.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "netlink-gen.h"
#include "qkd.h"

static struct sk_buff *qkd_ntf_new(struct net *net, int cmd, void **hdr)
{
	struct sk_buff *skb;

	if (!genl_has_listeners(&qkd_genl_family, net, QKD_MCGRP_NOTIFY_ID))
		return NULL;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &qkd_genl_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

static void qkd_ntf_send(struct net *net, struct sk_buff *skb, void *hdr,
			 int err)
{
	if (err) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	genlmsg_multicast_netns(&qkd_genl_family, net, skb, 0,
				QKD_MCGRP_NOTIFY_ID, GFP_KERNEL);
}

/*
 * Starts a notification about @link with the two attributes KEY_WANTED
 * and LOW_WATERMARK begin with: the link's name and its remote SAE ID.
 */
static struct sk_buff *qkd_ntf_new_link(struct qkd_link *link, int cmd,
					void **hdr)
{
	char remote_sae_id[QKD_SAE_ID_MAX];
	struct sk_buff *skb;

	spin_lock(&link->lock);
	memcpy(remote_sae_id, link->cfg.remote_sae_id, sizeof(remote_sae_id));
	spin_unlock(&link->lock);

	skb = qkd_ntf_new(link->qn->net, cmd, hdr);
	if (!skb)
		return NULL;
	if (nla_put_string(skb, QKD_A_LINK_NAME, link->name) ||
	    nla_put_string(skb, QKD_A_REMOTE_SAE_ID, remote_sae_id)) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

void qkd_notify_low_watermark(struct qkd_link *link, u32 count, u32 lowat)
{
	struct sk_buff *skb;
	void *hdr;

	skb = qkd_ntf_new_link(link, QKD_CMD_LOW_WATERMARK_NTF, &hdr);
	if (skb)
		qkd_ntf_send(link->qn->net, skb, hdr,
			     nla_put_u32(skb, QKD_A_KEY_COUNT, count) ||
			     nla_put_u32(skb, QKD_A_LOW_WATERMARK, lowat));
}

void qkd_notify_key_wanted(struct qkd_link *link, const u8 *id)
{
	struct sk_buff *skb;
	void *hdr;

	skb = qkd_ntf_new_link(link, QKD_CMD_KEY_WANTED_NTF, &hdr);
	if (skb)
		qkd_ntf_send(link->qn->net, skb, hdr,
			     nla_put(skb, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id));
}

void qkd_notify_key_expired(struct qkd_link *link, const u8 *id, u8 role)
{
	struct net *net = link->qn->net;
	struct sk_buff *skb;
	void *hdr;

	skb = qkd_ntf_new(net, QKD_CMD_KEY_EXPIRED_NTF, &hdr);
	if (skb)
		qkd_ntf_send(net, skb, hdr,
			     nla_put_string(skb, QKD_A_LINK_NAME, link->name) ||
			     nla_put(skb, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id) ||
			     nla_put_u8(skb, QKD_A_KEY_ROLE, role));
}

void qkd_notify_link_del(struct qkd_net *qn, const char *name)
{
	struct sk_buff *skb;
	void *hdr;

	skb = qkd_ntf_new(qn->net, QKD_CMD_LINK_DEL_NTF, &hdr);
	if (skb)
		qkd_ntf_send(qn->net, skb, hdr,
			     nla_put_string(skb, QKD_A_LINK_NAME, name));
}
