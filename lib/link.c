// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libqkd: links (new, set, del, get, dump), flush and counters.
 */
#include <errno.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "internal.h"

#define PUT_OK(call) do { if (!(call)) return -EMSGSIZE; } while (0)

void qkd_link_opts_init(struct qkd_link_opts *o, const char *local_sae_id,
			const char *remote_sae_id)
{
	o->local_sae_id = local_sae_id;
	o->remote_sae_id = remote_sae_id;
	o->max_keys = o->max_bytes = o->key_ttl = -1;
	o->rate = o->burst = o->low_watermark = -1;
}

struct qkd_link_req {
	const char *name;
	const struct qkd_link_opts *o;
	uint8_t role;
	int err;
};

static int qkd_put_opt_u32(struct nlmsghdr *nlh, uint16_t type, int64_t v)
{
	if (v < 0)
		return 0;
	if (v > UINT32_MAX)	/* the module's ranges say why it is wrong */
		v = UINT32_MAX;
	PUT_OK(mnl_attr_put_u32_check(nlh, QKD_NL_BUF_SIZE, type, (uint32_t)v));
	return 0;
}

static int qkd_put_str(struct nlmsghdr *nlh, uint16_t type, const char *s)
{
	if (s)
		PUT_OK(mnl_attr_put_strz_check(nlh, QKD_NL_BUF_SIZE, type, s));
	return 0;
}

static int qkd_put_link_attrs(struct nlmsghdr *nlh, const struct qkd_link_req *r)
{
	const struct qkd_link_opts *o = r->o;

	if (qkd_put_str(nlh, QKD_A_LINK_NAME, r->name))
		return -EMSGSIZE;
	if (r->role)
		PUT_OK(mnl_attr_put_u8_check(nlh, QKD_NL_BUF_SIZE, QKD_A_KEY_ROLE,
					     r->role));
	if (!o)
		return 0;
	if (qkd_put_str(nlh, QKD_A_LOCAL_SAE_ID, o->local_sae_id) ||
	    qkd_put_str(nlh, QKD_A_REMOTE_SAE_ID, o->remote_sae_id) ||
	    qkd_put_opt_u32(nlh, QKD_A_MAX_KEYS, o->max_keys) ||
	    qkd_put_opt_u32(nlh, QKD_A_MAX_BYTES, o->max_bytes) ||
	    qkd_put_opt_u32(nlh, QKD_A_KEY_TTL, o->key_ttl) ||
	    qkd_put_opt_u32(nlh, QKD_A_RATE, o->rate) ||
	    qkd_put_opt_u32(nlh, QKD_A_BURST, o->burst) ||
	    qkd_put_opt_u32(nlh, QKD_A_LOW_WATERMARK, o->low_watermark))
		return -EMSGSIZE;
	return 0;
}

static void qkd_build_link(struct nlmsghdr *nlh, void *arg)
{
	struct qkd_link_req *r = arg;

	r->err = qkd_put_link_attrs(nlh, r);
}

/* One request about a link (or the namespace), built from r. */
static int qkd_link_request(struct qkd_nl *nl, uint8_t cmd, uint16_t flags,
			    struct qkd_link_req *r, qkd_nl_parse_fn parse,
			    void *arg)
{
	struct nlmsghdr *nlh;

	if (!(flags & NLM_F_DUMP))
		flags |= NLM_F_ACK;
	nlh = qkd_nl_put_request(nl, nl->family, cmd, QKD_FAMILY_VERSION, flags);
	qkd_build_link(nlh, r);
	if (r->err) {
		explicit_bzero(nl->sbuf, QKD_NL_BUF_SIZE);
		qkd_nl_set_error(nl, "request does not fit in %d bytes",
				 QKD_NL_BUF_SIZE);
		return r->err;
	}
	return qkd_nl_transact(nl, nlh, parse, arg);
}

int qkd_link_new(struct qkd_nl *nl, const char *name,
		 const struct qkd_link_opts *o)
{
	struct qkd_link_req r = { name, o, 0, 0 };

	if (qkd_nl_check_link(nl, name, false))
		return -EINVAL;
	return qkd_link_request(nl, QKD_CMD_LINK_NEW, 0, &r, NULL, NULL);
}

int qkd_link_set(struct qkd_nl *nl, const char *name,
		 const struct qkd_link_opts *o)
{
	struct qkd_link_req r = { name, o, 0, 0 };

	if (qkd_nl_check_link(nl, name, false))
		return -EINVAL;
	return qkd_link_request(nl, QKD_CMD_LINK_SET, 0, &r, NULL, NULL);
}

int qkd_link_del(struct qkd_nl *nl, const char *name)
{
	struct qkd_link_req r = { name, NULL, 0, 0 };

	if (qkd_nl_check_link(nl, name, false))
		return -EINVAL;
	return qkd_link_request(nl, QKD_CMD_LINK_DEL, 0, &r, NULL, NULL);
}

/* The counters nest; unknown (newer) counters are skipped. */
static int qkd_parse_stats_nest(const struct nlattr *nest,
				struct qkd_stats_buf *stats)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		uint16_t type = mnl_attr_get_type(a);

		if (type == QKD_STATS_A_PAD || type > QKD_STATS_A_MAX)
			continue;
		if (!qkd_nl_get_u64(a, &stats->v[type]))
			return -EPROTO;
		stats->present |= 1ULL << type;
	}
	return 0;
}

static int qkd_link_parse_attr(const struct nlattr *a, struct qkd_link_info *info)
{
	uint16_t type = mnl_attr_get_type(a);
	uint32_t *lim = NULL;

	switch (type) {
	case QKD_A_LINK_NAME:
		qkd_nl_copy_str(info->name, sizeof(info->name), a);
		break;
	case QKD_A_LOCAL_SAE_ID:
		qkd_nl_copy_str(info->local_sae_id, sizeof(info->local_sae_id), a);
		break;
	case QKD_A_REMOTE_SAE_ID:
		qkd_nl_copy_str(info->remote_sae_id, sizeof(info->remote_sae_id), a);
		break;
	case QKD_A_MAX_KEYS:
		lim = &info->max_keys;
		break;
	case QKD_A_MAX_BYTES:
		lim = &info->max_bytes;
		break;
	case QKD_A_KEY_TTL:
		lim = &info->key_ttl;
		break;
	case QKD_A_RATE:
		lim = &info->rate;
		break;
	case QKD_A_BURST:
		lim = &info->burst;
		break;
	case QKD_A_LOW_WATERMARK:
		lim = &info->low_watermark;
		break;
	case QKD_A_STATS:
		if (qkd_parse_stats_nest(a, &info->stats))
			return -EPROTO;
		break;
	default:
		return 0;	/* newer attributes */
	}
	if (lim && !qkd_nl_get_u32(a, lim))
		return -EPROTO;
	info->present |= 1ULL << type;
	return 0;
}

int qkd_link_parse(const struct nlmsghdr *nlh, struct qkd_link_info *info)
{
	const struct nlattr *a;

	memset(info, 0, sizeof(*info));
	if (qkd_nl_genl_ok(nlh, QKD_CMD_LINK_GET))
		return -EPROTO;
	qkd_attr_for_each(a, nlh, GENL_HDRLEN) {
		if (qkd_link_parse_attr(a, info))
			return -EPROTO;
	}
	if (!info->name[0])
		return -EPROTO;
	return 0;
}

static int qkd_link_parse_cb(const struct nlmsghdr *nlh, void *arg)
{
	return qkd_link_parse(nlh, arg);
}

int qkd_link_get(struct qkd_nl *nl, const char *name,
		 struct qkd_link_info *info)
{
	struct qkd_link_req r = { name, NULL, 0, 0 };

	memset(info, 0, sizeof(*info));
	if (qkd_nl_check_link(nl, name, false))
		return -EINVAL;
	return qkd_link_request(nl, QKD_CMD_LINK_GET, 0, &r, qkd_link_parse_cb,
				info);
}

static int qkd_dump_link_one(const struct nlmsghdr *nlh, void *item)
{
	return qkd_link_parse(nlh, item);
}

struct qkd_link_each {
	qkd_link_fn fn;
	void *arg;
};

static int qkd_link_each_cb(const void *item, void *arg)
{
	const struct qkd_link_each *e = arg;

	return e->fn(item, e->arg);
}

int qkd_link_dump_each(struct qkd_nl *nl, qkd_link_fn fn, void *arg)
{
	struct qkd_link_info info;
	struct qkd_link_each e = { fn, arg };
	struct qkd_dump_ctx ctx = { &info, qkd_dump_link_one, qkd_link_each_cb,
				    &e, 0 };
	struct qkd_link_req r = { NULL, NULL, 0, 0 };
	int ret;

	ret = qkd_link_request(nl, QKD_CMD_LINK_GET, NLM_F_DUMP, &r,
			       qkd_nl_dump_item, &ctx);
	if (!ret && nl->dump_intr) {	/* NLM_F_DUMP_INTR on a message */
		qkd_nl_set_error(nl, "links changed during the dump: dump again");
		return -EINTR;
	}
	return ret ? ret : ctx.n;
}

static int qkd_link_to_array(const struct qkd_link_info *info, void *arg)
{
	return qkd_dump_to_array(info, arg);
}

int qkd_link_dump(struct qkd_nl *nl, struct qkd_link_info *infos, int max)
{
	int tries = 0, ret;

	/* an array can be filled again: retry a dump links changed under */
	do {
		struct qkd_dump_array a = { infos, sizeof(*infos), max, 0 };

		ret = qkd_link_dump_each(nl, qkd_link_to_array, &a);
	} while (ret == -EINTR && ++tries < 4);
	return ret;
}

int qkd_flush(struct qkd_nl *nl, const char *link, uint8_t role)
{
	struct qkd_link_req r = { link, NULL, role, 0 };

	return qkd_link_request(nl, QKD_CMD_FLUSH, 0, &r, NULL, NULL);
}

int qkd_stats_parse(const struct nlmsghdr *nlh, struct qkd_stats_buf *stats)
{
	const struct nlattr *a;

	memset(stats, 0, sizeof(*stats));
	if (qkd_nl_genl_ok(nlh, QKD_CMD_STATS_GET))
		return -EPROTO;
	qkd_attr_for_each(a, nlh, GENL_HDRLEN) {
		if (mnl_attr_get_type(a) == QKD_A_STATS &&
		    qkd_parse_stats_nest(a, stats))
			return -EPROTO;
		if (mnl_attr_get_type(a) == QKD_A_LINK_COUNT &&
		    !qkd_nl_get_u32(a, &stats->link_count))
			return -EPROTO;
	}
	return 0;
}

static int qkd_stats_parse_cb(const struct nlmsghdr *nlh, void *arg)
{
	return qkd_stats_parse(nlh, arg);
}

int qkd_stats_get(struct qkd_nl *nl, const char *link,
		  struct qkd_stats_buf *stats)
{
	struct qkd_link_req r = { link, NULL, 0, 0 };

	memset(stats, 0, sizeof(*stats));
	return qkd_link_request(nl, QKD_CMD_STATS_GET, 0, &r,
				qkd_stats_parse_cb, stats);
}
