// SPDX-License-Identifier: GPL-2.0-only
/* qkdctl stats [NAME]: counters of one link, or the namespace's totals. */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <netlink/genl/genl.h>

#include "args.h"
#include "qkdctl.h"

/* JSON names; text output groups them (see stats_print). */
static const char *const stats_json_name[QKD_STATS_A_MAX + 1] = {
	[QKD_STATS_A_INJECTED] = "injected",
	[QKD_STATS_A_TAKEN] = "taken",
	[QKD_STATS_A_EXPIRED] = "expired",
	[QKD_STATS_A_FLUSHED] = "flushed",
	[QKD_STATS_A_REJECTED_DUPLICATE] = "rejected_duplicate",
	[QKD_STATS_A_REJECTED_CAP] = "rejected_cap",
	[QKD_STATS_A_REJECTED_NOT_FOUND] = "rejected_not_found",
	[QKD_STATS_A_RATE_LIMITED] = "rate_limited",
	[QKD_STATS_A_KEYS_BUFFERED] = "keys_buffered",
	[QKD_STATS_A_INITIATOR_KEYS] = "initiator_keys",
	[QKD_STATS_A_BYTES_BUFFERED] = "bytes_buffered",
	[QKD_STATS_A_BYTES_HIGH_WATER] = "bytes_high_water",
	[QKD_STATS_A_WANTED] = "wanted_ntf",
	[QKD_STATS_A_LOW_WATERMARK] = "low_watermark_ntf",
};

int stats_parse(struct nlattr *nest, struct qkd_stats *s)
{
	struct nlattr *a;
	int rem;

	memset(s, 0, sizeof(*s));
	nla_for_each_nested(a, nest, rem) {
		int t = nla_type(a);

		if (t <= QKD_STATS_A_PAD || t > QKD_STATS_A_MAX)
			continue;	/* newer module: ignore what we do not know */
		if (!nla_get_u64_checked(a, &s->val[t]))
			return -EBADMSG;
		s->present[t] = true;
	}
	return 0;
}

void stats_to_json(const struct qkd_stats *s, json_t *obj)
{
	int t;

	for (t = QKD_STATS_A_PAD + 1; t <= QKD_STATS_A_MAX; t++)
		if (s->present[t] && stats_json_name[t])
			json_object_set_new(obj, stats_json_name[t],
					    json_integer((json_int_t)(s->val[t] > INT64_MAX ?
								      INT64_MAX : s->val[t])));
}

static uint64_t v(const struct qkd_stats *s, int t)
{
	return s->present[t] ? s->val[t] : 0;
}

void stats_print(FILE *out, const struct qkd_stats *s, const char *ind)
{
	fprintf(out, "%sbuffered: %" PRIu64 " keys (%" PRIu64 " initiator), %" PRIu64
		" bytes (high water %" PRIu64 ")\n", ind,
		v(s, QKD_STATS_A_KEYS_BUFFERED), v(s, QKD_STATS_A_INITIATOR_KEYS),
		v(s, QKD_STATS_A_BYTES_BUFFERED), v(s, QKD_STATS_A_BYTES_HIGH_WATER));
	fprintf(out, "%skeys: injected %" PRIu64 " taken %" PRIu64 " expired %" PRIu64
		" flushed %" PRIu64 "\n", ind,
		v(s, QKD_STATS_A_INJECTED), v(s, QKD_STATS_A_TAKEN),
		v(s, QKD_STATS_A_EXPIRED), v(s, QKD_STATS_A_FLUSHED));
	fprintf(out, "%srejected: duplicate %" PRIu64 " cap %" PRIu64 " not-found %" PRIu64
		" rate-limited %" PRIu64 "\n", ind,
		v(s, QKD_STATS_A_REJECTED_DUPLICATE), v(s, QKD_STATS_A_REJECTED_CAP),
		v(s, QKD_STATS_A_REJECTED_NOT_FOUND), v(s, QKD_STATS_A_RATE_LIMITED));
	fprintf(out, "%snotifications: key-wanted %" PRIu64 " low-watermark %" PRIu64 "\n",
		ind, v(s, QKD_STATS_A_WANTED), v(s, QKD_STATS_A_LOW_WATERMARK));
}

static void stats_usage(FILE *out)
{
	fputs("Usage: qkdctl [-j [-p]] stats [NAME]\n"
	      "  Counters of link NAME, or totals of the network namespace.\n", out);
}

struct stats_reply {
	bool got;
	bool has_count;
	uint32_t link_count;
	struct qkd_stats s;
};

static int stats_reply_cb(struct nlmsghdr *nlh, void *arg)
{
	struct stats_reply *r = arg;
	struct nlattr *tb[QKD_A_MAX + 1];

	if (genlmsg_parse(nlh, 0, tb, QKD_A_MAX, NULL) < 0 || !tb[QKD_A_STATS])
		return -EBADMSG;
	if (stats_parse(tb[QKD_A_STATS], &r->s) < 0)
		return -EBADMSG;
	r->has_count = nla_get_u32_checked(tb[QKD_A_LINK_COUNT], &r->link_count);
	r->got = true;
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	struct link_args a;
	struct stats_reply r = { 0 };
	struct nl_status st;
	struct qkd_nl q;
	struct nl_msg *msg;
	char what[64], err[256];
	int ret;

	ret = args_stats(argc, argv, &a, err, sizeof(err));
	if (ret == ARGS_HELP) {
		stats_usage(stdout);
		return EXIT_OK;
	}
	if (ret != ARGS_OK)
		return report_usage_error("stats", err, stats_usage);
	snprintf(what, sizeof(what), "stats%s%s", a.has_name ? " " : "", a.name);

	ret = qkd_open_or_report(&q, what);
	if (ret)
		return ret;
	msg = qkd_nl_msg(&q, QKD_CMD_STATS_GET, 0);
	if (!msg || (a.has_name && nla_put_string(msg, QKD_A_LINK_NAME, a.name) < 0)) {
		st = (struct nl_status){ .err = ENOMEM };
		ret = report_nl_error(what, &st);
		goto out;
	}
	if (nl_transact(q.sk, msg, stats_reply_cb, &r, &st) < 0 || !r.got) {
		if (!st.err)
			st.err = EBADMSG;
		ret = report_nl_error(what, &st);
		goto out;
	}

	if (opts.json) {
		json_t *o = json_object();

		if (a.has_name)
			json_object_set_new(o, "link", json_string(a.name));
		if (r.has_count)
			json_object_set_new(o, "link_count", json_integer(r.link_count));
		stats_to_json(&r.s, o);
		json_emit(o);
	} else {
		if (a.has_name)
			printf("link %s\n", a.name);
		else if (r.has_count)
			printf("namespace: %" PRIu32 " link%s\n", r.link_count,
			       r.link_count == 1 ? "" : "s");
		else
			printf("namespace\n");
		stats_print(stdout, &r.s, "  ");
	}
	ret = EXIT_OK;
out:
	nlmsg_free(msg);
	qkd_nl_close(&q);
	return ret;
}
