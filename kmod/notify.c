// SPDX-License-Identifier: GPL-2.0
/*
 * Notifications of the qkd family.  Two multicast groups, so that a flood
 * of monitoring events cannot overflow an agent's socket and lose a
 * KEY_WANTED: "keys" (KEY_WANTED, LOW_WATERMARK, LINK_DEL) and "monitor"
 * (KEY_EXPIRED, LINK_NEW, LINK_SET, LINK_DEL); and KEY_READY, unicast to
 * the socket of a pending take (pending.c).  store.c and pending.c call
 * these after dropping their locks; the family itself is in
 * netlink-gen.c, its commands in netlink.c.  A notification nobody listens to is not built; one
 * that cannot be allocated or does not fit is dropped.
 */
#include <linux/spinlock.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "netlink-gen.h"
#include "qkd.h"

/* Every notification is small: a name, an SAE ID, an ID and a few u32. */
#define QKD_NTF_SIZE	(nla_total_size(QKD_LINK_NAME_MAX) +		\
			 nla_total_size(QKD_SAE_ID_MAX) +		\
			 nla_total_size(QKD_KEY_ID_LEN) +		\
			 4 * nla_total_size(sizeof(u32)))

static struct sk_buff *qkd_ntf_alloc(int cmd, void **hdr)
{
	struct sk_buff *skb = genlmsg_new(QKD_NTF_SIZE, GFP_KERNEL);

	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &qkd_genl_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

static struct sk_buff *qkd_ntf_new(struct net *net, unsigned int grp, int cmd,
				   void **hdr)
{
	if (!genl_has_listeners(&qkd_genl_family, net, grp))
		return NULL;
	return qkd_ntf_alloc(cmd, hdr);
}

static void qkd_ntf_send(struct net *net, unsigned int grp,
			 struct sk_buff *skb, void *hdr, int err)
{
	if (err) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	genlmsg_multicast_netns(&qkd_genl_family, net, skb, 0, grp, GFP_KERNEL);
}

/*
 * Starts a notification about @link with the two attributes KEY_WANTED
 * and LOW_WATERMARK begin with: the link's name and its remote SAE ID.
 */
static struct sk_buff *qkd_ntf_new_link(struct qkd_link *link, unsigned int grp,
					int cmd, void **hdr)
{
	char remote_sae_id[QKD_SAE_ID_MAX];
	struct sk_buff *skb;

	spin_lock(&link->lock);
	memcpy(remote_sae_id, link->cfg.remote_sae_id, sizeof(remote_sae_id));
	spin_unlock(&link->lock);

	skb = qkd_ntf_new(link->qn->net, grp, cmd, hdr);
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

	skb = qkd_ntf_new_link(link, QKD_MCGRP_KEYS_ID,
			       QKD_CMD_LOW_WATERMARK_NTF, &hdr);
	if (skb)
		qkd_ntf_send(link->qn->net, QKD_MCGRP_KEYS_ID, skb, hdr,
			     nla_put_u32(skb, QKD_A_KEY_COUNT, count) ||
			     nla_put_u32(skb, QKD_A_LOW_WATERMARK, lowat));
}

void qkd_notify_key_wanted(struct qkd_link *link, const u8 *id)
{
	struct sk_buff *skb;
	void *hdr;

	skb = qkd_ntf_new_link(link, QKD_MCGRP_KEYS_ID, QKD_CMD_KEY_WANTED_NTF,
			       &hdr);
	if (skb)
		qkd_ntf_send(link->qn->net, QKD_MCGRP_KEYS_ID, skb, hdr,
			     nla_put(skb, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id));
}

void qkd_notify_key_expired(struct qkd_link *link, const u8 *id, u8 role)
{
	struct net *net = link->qn->net;
	struct sk_buff *skb;
	void *hdr;

	skb = qkd_ntf_new(net, QKD_MCGRP_MONITOR_ID, QKD_CMD_KEY_EXPIRED_NTF,
			  &hdr);
	if (skb)
		qkd_ntf_send(net, QKD_MCGRP_MONITOR_ID, skb, hdr,
			     nla_put_string(skb, QKD_A_LINK_NAME, link->name) ||
			     nla_put(skb, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id) ||
			     nla_put_u8(skb, QKD_A_KEY_ROLE, role));
}

/* LINK_DEL concerns both: an agent stops feeding, a monitor shows it. */
void qkd_notify_link_del(struct qkd_net *qn, const char *name)
{
	static const unsigned int grps[] = { QKD_MCGRP_KEYS_ID,
					     QKD_MCGRP_MONITOR_ID };
	struct sk_buff *skb;
	unsigned int i;
	void *hdr;

	for (i = 0; i < ARRAY_SIZE(grps); i++) {
		skb = qkd_ntf_new(qn->net, grps[i], QKD_CMD_LINK_DEL_NTF, &hdr);
		if (skb)
			qkd_ntf_send(qn->net, grps[i], skb, hdr,
				     nla_put_string(skb, QKD_A_LINK_NAME, name));
	}
}

/* LINK_NEW_NTF or LINK_SET_NTF: the link's name and remote SAE ID. */
void qkd_notify_link_changed(struct qkd_link *link, int cmd)
{
	struct sk_buff *skb;
	void *hdr;

	skb = qkd_ntf_new_link(link, QKD_MCGRP_MONITOR_ID, cmd, &hdr);
	if (skb)
		qkd_ntf_send(link->qn->net, QKD_MCGRP_MONITOR_ID, skb, hdr, 0);
}

void qkd_notify_key_ready(struct net *net, u32 portid, const char *link_name,
			  const u8 *id, u32 status)
{
	struct sk_buff *skb;
	void *hdr;

	skb = qkd_ntf_alloc(QKD_CMD_KEY_READY_NTF, &hdr);
	if (!skb)
		return;		/* the taker's own timeout covers it */
	if (nla_put_string(skb, QKD_A_LINK_NAME, link_name) ||
	    nla_put(skb, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id) ||
	    nla_put_u32(skb, QKD_A_STATUS, status)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	/* never blocks; a socket gone or full is the taker's timeout */
	genlmsg_unicast(net, skb, portid);
}
