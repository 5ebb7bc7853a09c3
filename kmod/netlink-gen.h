/* SPDX-License-Identifier: GPL-2.0 */
/* Do not edit: written by tools/nlgen.py from docs/netlink/qkd.yaml. */
#ifndef _QKD_NETLINK_GEN_H
#define _QKD_NETLINK_GEN_H

#include <net/genetlink.h>
#include <net/netlink.h>

#include <uapi/linux/qkd.h>

/* Policies of request nests, for handlers that parse them */
extern const struct nla_policy qkd_key_inject_input_nl_policy[QKD_KEY_A_MAX + 1];

/* The handlers (netlink.c) */
int qkd_nl_link_new(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_link_set(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_link_del(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_link_get(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_link_get_dump(struct sk_buff *skb, struct netlink_callback *cb);
int qkd_nl_key_inject(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_key_take(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_flush(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_stats_get(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_audit_get_dump(struct sk_buff *skb, struct netlink_callback *cb);
int qkd_nl_audit_annotate(struct sk_buff *skb, struct genl_info *info);

/* Multicast groups, by index in the family */
enum qkd_mcgrp {
	QKD_MCGRP_NOTIFY_ID,
};

extern struct genl_family qkd_genl_family;

#endif /* _QKD_NETLINK_GEN_H */
