// SPDX-License-Identifier: GPL-2.0
/*
 * The "qkd" generic netlink family: commands and replies.  The policies,
 * the op table and the family are written from docs/netlink/qkd.yaml into
 * netlink-gen.c by tools/nlgen.py; the notifications the store sends on
 * the family's "keys" and "monitor" groups (and the KEY_READY of a
 * pending take) are built in notify.c.
 *
 * Every command requires CAP_NET_ADMIN in the user namespace that owns
 * the caller's network namespace (GENL_UNS_ADMIN_PERM), and so does
 * joining the notification group.  Policies are strict and per command:
 * an attribute the command does not take (key material included, which
 * only KEY_INJECT takes), unknown attributes, wrong lengths and
 * out-of-range values are refused by the core with an extack message
 * before any handler runs; every refusal a handler makes carries an
 * extack message of its own.
 */
#include <linux/ctype.h>
#include <linux/err.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "netlink-gen.h"
#include "qkd.h"

/*
 * Like GENL_REQ_ATTR_CHECK(), which reports which attribute is missing
 * (NLMSGERR_ATTR_MISS_TYPE), plus words so the refusal reads well in a log.
 */
static bool qkd_attr_missing(struct netlink_ext_ack *extack,
			     const struct nlattr *nest, struct nlattr **tb,
			     int type, const char *msg)
{
	if (tb[type])
		return false;
	NL_SET_ERR_ATTR_MISS(extack, nest, type);
	/* NL_SET_ERR_MSG() wants a literal; msg is one of two below. */
	if (extack)
		extack->_msg = msg;
	return true;
}

static bool qkd_require(struct genl_info *info, int type)
{
	return qkd_attr_missing(info->extack, NULL, info->attrs, type,
				KBUILD_MODNAME ": missing required attribute");
}

static struct qkd_net *qkd_info_net(struct genl_info *info)
{
	return qkd_pernet(genl_info_net(info));
}

/*
 * Link names appear in logs, in `qkdctl` columns and in config files:
 * keep them to characters that need no quoting anywhere.
 */
static int qkd_check_link_name(struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[QKD_A_LINK_NAME];
	const char *name = nla_data(attr);
	const char *p;

	if (!*name) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "link name is empty");
		return -EINVAL;
	}
	for (p = name; *p; p++) {
		if (!isalnum(*p) && !strchr("._-:@", *p)) {
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "link name may hold only letters, digits and . _ - : @");
			return -EINVAL;
		}
	}
	return 0;
}

static struct qkd_link *qkd_info_link(struct genl_info *info)
{
	struct qkd_link *link;

	link = qkd_link_get(qkd_info_net(info),
			    nla_data(info->attrs[QKD_A_LINK_NAME]));
	if (!link)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[QKD_A_LINK_NAME],
				    "no link of that name");
	return link;
}

/* The link named by the required QKD_A_LINK_NAME, or an ERR_PTR. */
static struct qkd_link *qkd_nl_required_link(struct genl_info *info)
{
	struct qkd_link *link;

	if (qkd_require(info, QKD_A_LINK_NAME))
		return ERR_PTR(-EINVAL);
	link = qkd_info_link(info);
	return link ?: ERR_PTR(-ENODEV);
}

static void qkd_nl_get_u32(struct genl_info *info, int type, u32 *val)
{
	if (info->attrs[type])
		*val = nla_get_u32(info->attrs[type]);
}

/* Applies the attributes present in @info over @cfg and checks the result. */
static int qkd_nl_parse_config(struct genl_info *info,
			       struct qkd_link_config *cfg)
{
	if (info->attrs[QKD_A_LOCAL_SAE_ID])
		nla_strscpy(cfg->local_sae_id, info->attrs[QKD_A_LOCAL_SAE_ID],
			    sizeof(cfg->local_sae_id));
	if (info->attrs[QKD_A_REMOTE_SAE_ID])
		nla_strscpy(cfg->remote_sae_id,
			    info->attrs[QKD_A_REMOTE_SAE_ID],
			    sizeof(cfg->remote_sae_id));
	qkd_nl_get_u32(info, QKD_A_MAX_KEYS, &cfg->max_keys);
	qkd_nl_get_u32(info, QKD_A_MAX_BYTES, &cfg->max_bytes);
	qkd_nl_get_u32(info, QKD_A_KEY_TTL, &cfg->key_ttl);
	qkd_nl_get_u32(info, QKD_A_RATE, &cfg->rate);
	qkd_nl_get_u32(info, QKD_A_BURST, &cfg->burst);
	qkd_nl_get_u32(info, QKD_A_LOW_WATERMARK, &cfg->low_watermark);

	if (!cfg->local_sae_id[0] || !cfg->remote_sae_id[0]) {
		NL_SET_ERR_MSG_MOD(info->extack, "SAE IDs must not be empty");
		return -EINVAL;
	}
	if (cfg->low_watermark > cfg->max_keys) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[QKD_A_LOW_WATERMARK] ?:
				    info->attrs[QKD_A_MAX_KEYS],
				    "low watermark exceeds max_keys");
		return -EINVAL;
	}
	return 0;
}

/*
 * Reply sizes, so that a reply skb is only as large as it needs to be (one
 * of NLMSG_GOODSIZE lands in kmalloc-8k).  Attributes only: genlmsg_new()
 * adds the headers.
 */
static size_t qkd_nl_stats_size(void)
{
	/* The nest and one u64 per counter (all but UNSPEC and PAD). */
	return nla_total_size(0) + (QKD_STATS_A_MAX - QKD_STATS_A_PAD) *
				   nla_total_size_64bit(sizeof(u64));
}

static size_t qkd_nl_link_size(void)
{
	return nla_total_size(QKD_LINK_NAME_MAX) +
	       2 * nla_total_size(QKD_SAE_ID_MAX) +	/* SAE IDs */
	       6 * nla_total_size(sizeof(u32)) +	/* limits */
	       qkd_nl_stats_size();
}

static size_t qkd_nl_take_size(void)
{
	return nla_total_size(QKD_LINK_NAME_MAX) +
	       nla_total_size(0) +			/* the key nest */
	       nla_total_size(QKD_KEY_ID_LEN) +
	       nla_total_size(QKD_KEY_MAX_LEN) +
	       nla_total_size(sizeof(u8)) +		/* role */
	       2 * nla_total_size_64bit(sizeof(u64));	/* injected, expires */
}

static int qkd_nl_put_stats(struct sk_buff *skb, const struct qkd_stats *s)
{
	struct nlattr *nest = nla_nest_start(skb, QKD_A_STATS);
	const struct {
		int type;
		u64 val;
	} counters[] = {
		{ QKD_STATS_A_INJECTED, s->injected },
		{ QKD_STATS_A_TAKEN, s->taken },
		{ QKD_STATS_A_EXPIRED, s->expired },
		{ QKD_STATS_A_FLUSHED, s->flushed },
		{ QKD_STATS_A_REJECTED_DUPLICATE, s->rejected_duplicate },
		{ QKD_STATS_A_REJECTED_CAP, s->rejected_cap },
		{ QKD_STATS_A_REJECTED_NOT_FOUND, s->rejected_not_found },
		{ QKD_STATS_A_RATE_LIMITED, s->rate_limited },
		{ QKD_STATS_A_KEYS_BUFFERED, s->keys_buffered },
		{ QKD_STATS_A_INITIATOR_KEYS, s->initiator_keys },
		{ QKD_STATS_A_BYTES_BUFFERED, s->bytes_buffered },
		{ QKD_STATS_A_BYTES_HIGH_WATER, s->bytes_high_water },
		{ QKD_STATS_A_WANTED, s->wanted },
		{ QKD_STATS_A_LOW_WATERMARK, s->low_watermark },
		{ QKD_STATS_A_REJECTED_REUSED, s->rejected_reused },
		{ QKD_STATS_A_PENDING, s->pending },
		{ QKD_STATS_A_RESERVED, s->reserved },
	};
	unsigned int i;

	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		if (nla_put_u64_64bit(skb, counters[i].type, counters[i].val,
				      QKD_STATS_A_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* cb: the dump this message is part of, or NULL for a LINK_GET reply. */
static int qkd_nl_fill_link(struct sk_buff *skb, struct qkd_link *link,
			    u32 portid, u32 seq, int flags,
			    struct netlink_callback *cb)
{
	struct qkd_link_config cfg;
	struct qkd_stats stats;
	void *hdr;

	qkd_link_snapshot(link, &cfg, &stats);
	hdr = genlmsg_put(skb, portid, seq, &qkd_genl_family, flags,
			  QKD_CMD_LINK_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (cb)
		genl_dump_check_consistent(cb, hdr);
	if (nla_put_string(skb, QKD_A_LINK_NAME, link->name) ||
	    nla_put_string(skb, QKD_A_LOCAL_SAE_ID, cfg.local_sae_id) ||
	    nla_put_string(skb, QKD_A_REMOTE_SAE_ID, cfg.remote_sae_id) ||
	    nla_put_u32(skb, QKD_A_MAX_KEYS, cfg.max_keys) ||
	    nla_put_u32(skb, QKD_A_MAX_BYTES, cfg.max_bytes) ||
	    nla_put_u32(skb, QKD_A_KEY_TTL, cfg.key_ttl) ||
	    nla_put_u32(skb, QKD_A_RATE, cfg.rate) ||
	    nla_put_u32(skb, QKD_A_BURST, cfg.burst) ||
	    nla_put_u32(skb, QKD_A_LOW_WATERMARK, cfg.low_watermark) ||
	    qkd_nl_put_stats(skb, &stats)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

int qkd_nl_link_new(struct sk_buff *skb, struct genl_info *info)
{
	struct qkd_link_config cfg;
	int err;

	if (qkd_require(info, QKD_A_LINK_NAME) ||
	    qkd_require(info, QKD_A_LOCAL_SAE_ID) ||
	    qkd_require(info, QKD_A_REMOTE_SAE_ID))
		return -EINVAL;
	err = qkd_check_link_name(info);
	if (err)
		return err;
	qkd_link_config_defaults(&cfg);
	err = qkd_nl_parse_config(info, &cfg);
	if (err)
		return err;
	return qkd_link_create(qkd_info_net(info),
			       nla_data(info->attrs[QKD_A_LINK_NAME]), &cfg,
			       info->extack);
}

int qkd_nl_link_set(struct sk_buff *skb, struct genl_info *info)
{
	struct qkd_net *qn = qkd_info_net(info);
	struct qkd_link_config cfg;
	struct qkd_link *link;
	int err;

	link = qkd_nl_required_link(info);
	if (IS_ERR(link))
		return PTR_ERR(link);
	/*
	 * Read-modify-write under qn->lock, which every LINK_SET holds for
	 * it: two concurrent sets of different limits both apply.
	 */
	mutex_lock(&qn->lock);
	qkd_link_snapshot(link, &cfg, NULL);
	err = qkd_nl_parse_config(info, &cfg);
	if (!err)
		qkd_link_set_config(link, &cfg);
	mutex_unlock(&qn->lock);
	qkd_link_put(link);
	return err;
}

int qkd_nl_link_del(struct sk_buff *skb, struct genl_info *info)
{
	if (qkd_require(info, QKD_A_LINK_NAME))
		return -EINVAL;
	return qkd_link_delete(qkd_info_net(info),
			       nla_data(info->attrs[QKD_A_LINK_NAME]),
			       info->extack);
}

int qkd_nl_link_get(struct sk_buff *skb, struct genl_info *info)
{
	struct qkd_link *link;
	struct sk_buff *msg;
	int err;

	link = qkd_nl_required_link(info);
	if (IS_ERR(link))
		return PTR_ERR(link);
	msg = genlmsg_new(qkd_nl_link_size(), GFP_KERNEL);
	if (!msg) {
		qkd_link_put(link);
		return -ENOMEM;
	}
	err = qkd_nl_fill_link(msg, link, info->snd_portid, info->snd_seq, 0,
			       NULL);
	qkd_link_put(link);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	return genlmsg_reply(msg, info);
}

int qkd_nl_link_get_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct qkd_net *qn = qkd_pernet(sock_net(cb->skb->sk));
	long idx = 0, start = cb->args[0];
	struct qkd_link *link;

	mutex_lock(&qn->lock);
	/* A link added or deleted between two rounds: NLM_F_DUMP_INTR. */
	cb->seq = qn->links_gen;
	list_for_each_entry(link, &qn->links, node) {
		if (idx++ < start)
			continue;
		if (qkd_nl_fill_link(skb, link, NETLINK_CB(cb->skb).portid,
				     cb->nlh->nlmsg_seq, NLM_F_MULTI, cb)) {
			idx--;
			break;
		}
	}
	mutex_unlock(&qn->lock);
	cb->args[0] = idx;
	/* A full skb ends this round; the core calls again for the rest. */
	return skb->len;
}

/* Zero every key's material inside the request, whatever happened. */
static void qkd_nl_wipe_request_keys(struct genl_info *info)
{
	struct nlattr *attr, *inner;
	int rem, rem_inner;

	nla_for_each_attr(attr, genlmsg_data(info->genlhdr),
			  genlmsg_len(info->genlhdr), rem) {
		if (nla_type(attr) != QKD_A_KEY)
			continue;
		nla_for_each_nested(inner, attr, rem_inner)
			if (nla_type(inner) == QKD_KEY_A_MATERIAL)
				memzero_explicit(nla_data(inner),
						 nla_len(inner));
	}
}

static bool qkd_key_attr_missing(struct netlink_ext_ack *extack,
				 const struct nlattr *nest, struct nlattr **tb,
				 int type)
{
	return qkd_attr_missing(extack, nest, tb, type,
				KBUILD_MODNAME ": missing required attribute in key");
}

static int qkd_nl_parse_keys(struct genl_info *info, struct qkd_key_in *in,
			     unsigned int *nr)
{
	struct nlattr *tb[QKD_KEY_A_MAX + 1];
	struct nlattr *attr;
	int rem, err;

	*nr = 0;
	nla_for_each_attr(attr, genlmsg_data(info->genlhdr),
			  genlmsg_len(info->genlhdr), rem) {
		struct qkd_key_in *k = &in[*nr];

		if (nla_type(attr) != QKD_A_KEY)
			continue;
		if (*nr == QKD_INJECT_MAX_KEYS) {
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "too many keys in one message");
			return -E2BIG;
		}
		err = nla_parse_nested(tb, QKD_KEY_A_MAX, attr,
				       qkd_key_inject_input_nl_policy,
				       info->extack);
		if (err)
			return err;
		if (qkd_key_attr_missing(info->extack, attr, tb, QKD_KEY_A_ID) ||
		    qkd_key_attr_missing(info->extack, attr, tb,
					 QKD_KEY_A_MATERIAL) ||
		    qkd_key_attr_missing(info->extack, attr, tb, QKD_KEY_A_ROLE))
			return -EINVAL;
		k->attr = attr;
		memcpy(k->id, nla_data(tb[QKD_KEY_A_ID]), QKD_KEY_ID_LEN);
		k->len = nla_len(tb[QKD_KEY_A_MATERIAL]);
		memcpy(k->material, nla_data(tb[QKD_KEY_A_MATERIAL]), k->len);
		k->role = nla_get_u8(tb[QKD_KEY_A_ROLE]);
		(*nr)++;
	}
	if (!*nr) {
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, QKD_A_KEY);
		NL_SET_ERR_MSG_MOD(info->extack, "no key to inject");
		return -EINVAL;
	}
	return 0;
}

int qkd_nl_key_inject(struct sk_buff *skb, struct genl_info *info)
{
	const size_t size = QKD_INJECT_MAX_KEYS * sizeof(struct qkd_key_in);
	struct qkd_link *link = NULL;
	struct qkd_key_in *in;
	unsigned int nr;
	int err;

	in = kvzalloc(size, QKD_GFP);
	if (!in) {
		err = -ENOMEM;
		goto out;
	}
	link = qkd_nl_required_link(info);
	if (IS_ERR(link)) {
		err = PTR_ERR(link);
		link = NULL;
		goto out;
	}
	err = qkd_nl_parse_keys(info, in, &nr);
	if (!err)
		err = qkd_link_inject(link, in, nr, info->extack);
out:
	if (link)
		qkd_link_put(link);
	qkd_nl_wipe_request_keys(info);
	kvfree_sensitive(in, size);
	return err;
}

static int qkd_nl_put_key(struct sk_buff *skb, const struct qkd_key_out *key)
{
	struct nlattr *nest = nla_nest_start(skb, QKD_A_KEY);

	if (!nest ||
	    nla_put(skb, QKD_KEY_A_ID, QKD_KEY_ID_LEN, key->id) ||
	    /* a reservation (RESERVE) carries the ID only */
	    (key->len &&
	     nla_put(skb, QKD_KEY_A_MATERIAL, key->len, key->material)) ||
	    nla_put_u8(skb, QKD_KEY_A_ROLE, key->role) ||
	    nla_put_u64_64bit(skb, QKD_KEY_A_INJECTED, key->injected_ns,
			      QKD_KEY_A_PAD) ||
	    nla_put_u64_64bit(skb, QKD_KEY_A_EXPIRES, key->expires_ns,
			      QKD_KEY_A_PAD))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/* WANT and RELEASE name a key by ID and take no other flag, no wait. */
static int qkd_nl_take_req_alone(struct genl_info *info,
				 const struct qkd_take_req *req)
{
	struct nlattr **a = info->attrs;
	u32 f = req->flags & (QKD_TAKE_F_WANT | QKD_TAKE_F_RELEASE);

	if (!f)
		return 0;
	if (req->flags != QKD_TAKE_F_WANT && req->flags != QKD_TAKE_F_RELEASE) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[QKD_A_TAKE_FLAGS],
				    "WANT and RELEASE go alone");
		return -EINVAL;
	}
	if (!req->id) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[QKD_A_TAKE_FLAGS],
				    "WANT and RELEASE name a key by ID");
		return -EINVAL;
	}
	if (a[QKD_A_WAIT_MS]) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[QKD_A_WAIT_MS],
				    "WANT and RELEASE never wait");
		return -EINVAL;
	}
	return 0;
}

/*
 * The KEY_TAKE request's attributes as a qkd_take_req; -EINVAL if they
 * do not go together.
 */
static int qkd_nl_take_req(struct genl_info *info, struct qkd_take_req *req)
{
	struct nlattr **a = info->attrs;

	memset(req, 0, sizeof(*req));
	req->portid = info->snd_portid;
	if (a[QKD_A_KEY_ID])
		req->id = nla_data(a[QKD_A_KEY_ID]);
	if (a[QKD_A_TAKE_FLAGS])
		req->flags = nla_get_u32(a[QKD_A_TAKE_FLAGS]);
	if (a[QKD_A_WAIT_MS]) {
		if (!req->id || (req->flags & QKD_TAKE_F_INITIATOR)) {
			NL_SET_ERR_MSG_ATTR(info->extack, a[QKD_A_WAIT_MS],
					    "waiting applies only to a take by key ID of a responder key");
			return -EINVAL;
		}
		req->wait_ms = nla_get_u32(a[QKD_A_WAIT_MS]);
	}
	if ((req->flags & QKD_TAKE_F_INITIATOR) && !req->id) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[QKD_A_TAKE_FLAGS],
				    "INITIATOR takes a key by ID");
		return -EINVAL;
	}
	if ((req->flags & QKD_TAKE_F_RESERVE) && req->id) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[QKD_A_TAKE_FLAGS],
				    "RESERVE picks the oldest initiator key: no key ID");
		return -EINVAL;
	}
	return qkd_nl_take_req_alone(info, req);
}

int qkd_nl_key_take(struct sk_buff *skb, struct genl_info *info)
{
	struct qkd_take_req req;
	struct qkd_link *link;
	struct sk_buff *msg;
	struct qkd_key_out key;
	void *hdr;
	int err;

	err = qkd_nl_take_req(info, &req);
	if (err)
		return err;
	link = qkd_nl_required_link(info);
	if (IS_ERR(link))
		return PTR_ERR(link);

	/* Allocate first: a key taken must not be lost to a failed alloc. */
	msg = genlmsg_new(qkd_nl_take_size(), GFP_KERNEL);
	if (!msg) {
		qkd_link_put(link);
		return -ENOMEM;
	}
	err = qkd_link_take(link, &req, &key, info->extack);
	if (err)
		goto out_free;

	hdr = genlmsg_put_reply(msg, info, &qkd_genl_family, 0,
				QKD_CMD_KEY_TAKE);
	if (!hdr || nla_put_string(msg, QKD_A_LINK_NAME, link->name) ||
	    qkd_nl_put_key(msg, &key)) {
		err = -EMSGSIZE;
		goto out_wipe;
	}
	genlmsg_end(msg, hdr);
	memzero_explicit(&key, sizeof(key));
	qkd_link_put(link);
	/*
	 * The reply skb holds the material until the caller reads it; the
	 * module cannot wipe it after that (see docs: init_on_free=1).
	 */
	return genlmsg_reply(msg, info);

out_wipe:
	memzero_explicit(&key, sizeof(key));
	memzero_explicit(msg->data, msg->len);
out_free:
	nlmsg_free(msg);
	qkd_link_put(link);
	return err;
}

int qkd_nl_flush(struct sk_buff *skb, struct genl_info *info)
{
	const char *name = NULL;
	u8 role = 0;

	if (info->attrs[QKD_A_LINK_NAME])
		name = nla_data(info->attrs[QKD_A_LINK_NAME]);
	if (info->attrs[QKD_A_KEY_ROLE])
		role = nla_get_u8(info->attrs[QKD_A_KEY_ROLE]);
	return qkd_flush(qkd_info_net(info), name, role, info->extack);
}

int qkd_nl_stats_get(struct sk_buff *skb, struct genl_info *info)
{
	struct qkd_link *link = NULL;
	struct qkd_stats stats;
	struct sk_buff *msg;
	u32 nr_links = 0;
	void *hdr;

	if (info->attrs[QKD_A_LINK_NAME]) {
		link = qkd_info_link(info);
		if (!link)
			return -ENODEV;
		qkd_link_snapshot(link, NULL, &stats);
	} else {
		qkd_net_snapshot(qkd_info_net(info), &stats, &nr_links);
	}

	/* The link's name or the namespace's link count, and counters. */
	msg = genlmsg_new(nla_total_size(QKD_LINK_NAME_MAX) +
			  qkd_nl_stats_size(), GFP_KERNEL);
	if (!msg)
		goto nomem;
	hdr = genlmsg_put_reply(msg, info, &qkd_genl_family, 0,
				QKD_CMD_STATS_GET);
	if (!hdr)
		goto nomem_free;
	if (link ? nla_put_string(msg, QKD_A_LINK_NAME, link->name) :
		   nla_put_u32(msg, QKD_A_LINK_COUNT, nr_links))
		goto nomem_free;
	if (qkd_nl_put_stats(msg, &stats))
		goto nomem_free;
	genlmsg_end(msg, hdr);
	if (link)
		qkd_link_put(link);
	return genlmsg_reply(msg, info);

nomem_free:
	nlmsg_free(msg);
nomem:
	if (link)
		qkd_link_put(link);
	return -EMSGSIZE;
}

static int qkd_nl_fill_audit(struct sk_buff *skb,
			     const struct qkd_audit_record *rec,
			     u32 portid, u32 seq)
{
	struct nlattr *nest;
	unsigned int i;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &qkd_genl_family, NLM_F_MULTI,
			  QKD_CMD_AUDIT_GET);
	if (!hdr)
		return -EMSGSIZE;
	nest = nla_nest_start(skb, QKD_A_AUDIT);
	if (!nest ||
	    nla_put_u64_64bit(skb, QKD_AUDIT_A_SEQ, rec->seq,
			      QKD_AUDIT_A_PAD) ||
	    nla_put_u64_64bit(skb, QKD_AUDIT_A_TIME, rec->time_ns,
			      QKD_AUDIT_A_PAD) ||
	    nla_put_string(skb, QKD_AUDIT_A_LINK_NAME, rec->link_name) ||
	    nla_put(skb, QKD_AUDIT_A_KEY_ID, QKD_KEY_ID_LEN, rec->key_id) ||
	    nla_put_u8(skb, QKD_AUDIT_A_ROLE, rec->role) ||
	    nla_put_u32(skb, QKD_AUDIT_A_PID, rec->pid) ||
	    nla_put_string(skb, QKD_AUDIT_A_COMM, rec->comm))
		goto cancel;
	for (i = 0; i < rec->nr_spi; i++)
		if (nla_put_u32(skb, QKD_AUDIT_A_SPI, rec->spi[i]))
			goto cancel;
	if (rec->usage[0] &&
	    nla_put_string(skb, QKD_AUDIT_A_USAGE, rec->usage))
		goto cancel;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;

cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

int qkd_nl_audit_get_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct genl_dumpit_info *dinfo = genl_dumpit_info(cb);
	struct qkd_net *qn = qkd_pernet(sock_net(cb->skb->sk));
	const struct nlattr *name_attr = dinfo->attrs[QKD_A_LINK_NAME];
	struct qkd_audit_record rec;
	u64 cursor = cb->args[0], prev;

	for (;;) {
		prev = cursor;
		if (!qkd_audit_read(&qn->audit, &cursor, &rec))
			break;
		if (name_attr && strcmp(rec.link_name, nla_data(name_attr)))
			continue;
		if (qkd_nl_fill_audit(skb, &rec, NETLINK_CB(cb->skb).portid,
				      cb->nlh->nlmsg_seq)) {
			/* Resend this record in the next round. */
			cursor = prev;
			break;
		}
	}
	cb->args[0] = cursor;
	return skb->len;
}

int qkd_nl_audit_annotate(struct sk_buff *skb, struct genl_info *info)
{
	u32 spi[QKD_AUDIT_SPI_MAX];
	const char *usage = NULL;
	unsigned int nr_spi = 0;
	struct nlattr *attr;
	int rem, err;

	if (qkd_require(info, QKD_A_LINK_NAME) ||
	    qkd_require(info, QKD_A_KEY_ID))
		return -EINVAL;
	nla_for_each_attr(attr, genlmsg_data(info->genlhdr),
			  genlmsg_len(info->genlhdr), rem) {
		if (nla_type(attr) != QKD_A_SPI)
			continue;
		if (nr_spi == QKD_AUDIT_SPI_MAX) {
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "too many SPIs for one record");
			return -E2BIG;
		}
		spi[nr_spi++] = nla_get_u32(attr);
	}
	if (info->attrs[QKD_A_USAGE])
		usage = nla_data(info->attrs[QKD_A_USAGE]);
	if (!nr_spi && !usage) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "nothing to annotate: give SPIs or a usage");
		return -EINVAL;
	}
	err = qkd_audit_annotate(&qkd_info_net(info)->audit,
				 nla_data(info->attrs[QKD_A_LINK_NAME]),
				 nla_data(info->attrs[QKD_A_KEY_ID]), spi,
				 nr_spi, usage);
	if (err == -ENOENT)
		NL_SET_ERR_MSG_MOD(info->extack,
				   "no take record of that key ID on that link");
	else if (err == -ENOSPC)
		NL_SET_ERR_MSG_MOD(info->extack,
				   "the record already names its maximum of SPIs");
	return err;
}

int __init qkd_genl_register(void)
{
	return genl_register_family(&qkd_genl_family);
}

void qkd_genl_unregister(void)
{
	genl_unregister_family(&qkd_genl_family);
}
