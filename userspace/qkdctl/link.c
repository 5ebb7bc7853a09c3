// SPDX-License-Identifier: GPL-2.0-only
/* qkdctl link add | set | del | show */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <netlink/genl/genl.h>

#include "args.h"
#include "qkdctl.h"
#include "stats.h"
#include "util.h"

static void link_usage(FILE *out)
{
	fputs("Usage: qkdctl link add NAME local SAE_ID remote SAE_ID [LIMIT VALUE]...\n"
	      "       qkdctl link set NAME LIMIT VALUE [LIMIT VALUE]...\n"
	      "       qkdctl link del NAME\n"
	      "       qkdctl [-j [-p]] link show [NAME]\n"
	      "LIMIT := max-keys 1..65536 | max-bytes 64..4194304 | ttl SECONDS (1..604800)\n"
	      "       | rate KEYS_PER_S (0=unlimited..1000000) | burst 1..1000000\n"
	      "       | low-watermark 0..max-keys (0=off)\n"
	      "Defaults for link add: max-keys 1024 max-bytes 65536 ttl 3600 rate 0\n"
	      "burst 16 low-watermark 0.\n", out);
}

/* One link as LINK_GET reports it. */
struct link_info {
	char name[QKD_LINK_NAME_MAX];
	char local_sae[QKD_SAE_ID_MAX];
	char remote_sae[QKD_SAE_ID_MAX];
	struct opt_u32 limit[LIMIT_COUNT];
	bool has_stats;
	struct qkd_stats stats;
};

struct link_show {
	json_t *json;		/* array when -j */
	unsigned int count;
};

static int link_decode(struct nlmsghdr *nlh, struct link_info *li)
{
	struct nlattr *tb[QKD_A_MAX + 1];
	int l;

	memset(li, 0, sizeof(*li));
	if (genlmsg_parse(nlh, 0, tb, QKD_A_MAX, NULL) < 0 || !tb[QKD_A_LINK_NAME])
		return -EBADMSG;
	nla_get_str_copy(tb[QKD_A_LINK_NAME], li->name, sizeof(li->name));
	if (tb[QKD_A_LOCAL_SAE_ID])
		nla_get_str_copy(tb[QKD_A_LOCAL_SAE_ID], li->local_sae, sizeof(li->local_sae));
	if (tb[QKD_A_REMOTE_SAE_ID])
		nla_get_str_copy(tb[QKD_A_REMOTE_SAE_ID], li->remote_sae, sizeof(li->remote_sae));
	for (l = 0; l < LIMIT_COUNT; l++)
		li->limit[l].set = nla_get_u32_checked(tb[link_limit_defs[l].attr],
						       &li->limit[l].val);
	if (tb[QKD_A_STATS]) {
		if (stats_parse(tb[QKD_A_STATS], &li->stats) < 0)
			return -EBADMSG;
		li->has_stats = true;
	}
	return 0;
}

static void link_print(const struct link_info *li)
{
	int l;

	printf("%s: local %s remote %s\n   ", li->name, li->local_sae, li->remote_sae);
	for (l = 0; l < LIMIT_COUNT; l++)
		if (li->limit[l].set)
			printf(" %s %" PRIu32, link_limit_defs[l].keyword, li->limit[l].val);
	putchar('\n');
	if (li->has_stats)
		stats_print(stdout, &li->stats, "    ");
}

static json_t *link_to_json(const struct link_info *li)
{
	json_t *o = json_object();
	int l;

	json_object_set_new(o, "name", json_string(li->name));
	json_object_set_new(o, "local_sae_id", json_string(li->local_sae));
	json_object_set_new(o, "remote_sae_id", json_string(li->remote_sae));
	for (l = 0; l < LIMIT_COUNT; l++)
		if (li->limit[l].set)
			json_object_set_new(o, link_limit_defs[l].json,
					    json_integer(li->limit[l].val));
	if (li->has_stats) {
		json_t *s = json_object();

		stats_to_json(&li->stats, s);
		json_object_set_new(o, "stats", s);
	}
	return o;
}

static int link_show_cb(struct nlmsghdr *nlh, void *arg)
{
	struct link_show *ls = arg;
	struct link_info li;
	int ret = link_decode(nlh, &li);

	if (ret)
		return ret;
	if (ls->json)
		json_array_append_new(ls->json, link_to_json(&li));
	else
		link_print(&li);
	ls->count++;
	return 0;
}

static int put_limits(struct nl_msg *msg, const struct link_args *a)
{
	int l;

	for (l = 0; l < LIMIT_COUNT; l++)
		if (a->limit[l].set &&
		    nla_put_u32(msg, link_limit_defs[l].attr, a->limit[l].val) < 0)
			return -1;
	return 0;
}

/* Run one request without replies (add/set/del). */
static int simple_request(const char *what, uint8_t cmd, const struct link_args *a,
			  bool with_sae, bool with_limits)
{
	struct nl_status st = { 0 };
	struct qkd_nl q;
	struct nl_msg *msg;
	int ret = qkd_open_or_report(&q, what);

	if (ret)
		return ret;
	msg = qkd_nl_msg(&q, cmd, 0);
	if (!msg || nla_put_string(msg, QKD_A_LINK_NAME, a->name) < 0 ||
	    (with_sae && (nla_put_string(msg, QKD_A_LOCAL_SAE_ID, a->local_sae) < 0 ||
			  nla_put_string(msg, QKD_A_REMOTE_SAE_ID, a->remote_sae) < 0)) ||
	    (with_limits && put_limits(msg, a) < 0)) {
		st.err = ENOMEM;
		ret = report_nl_error(what, &st);
	} else if (nl_transact(q.sk, msg, NULL, NULL, &st) < 0) {
		ret = report_nl_error(what, &st);
	} else {
		ret = EXIT_OK;
	}
	nlmsg_free(msg);
	qkd_nl_close(&q);
	return ret;
}

static int link_show(int argc, char **argv)
{
	struct link_show ls = { 0 };
	struct nl_status st;
	struct link_args a;
	struct qkd_nl q;
	struct nl_msg *msg;
	char err[256], what[64];
	int ret = args_link_show(argc, argv, &a, err, sizeof(err));

	if (ret == ARGS_HELP) {
		link_usage(stdout);
		return EXIT_OK;
	}
	if (ret != ARGS_OK)
		return report_usage_error("link show", err, link_usage);
	snprintf(what, sizeof(what), "link show%s%s", a.has_name ? " " : "", a.name);
	ret = qkd_open_or_report(&q, what);
	if (ret)
		return ret;
	/* A name asks for one link (doit, ENODEV if absent); none dumps all. */
	msg = qkd_nl_msg(&q, QKD_CMD_LINK_GET, a.has_name ? 0 : NLM_F_DUMP);
	if (!msg || (a.has_name && nla_put_string(msg, QKD_A_LINK_NAME, a.name) < 0)) {
		st = (struct nl_status){ .err = ENOMEM };
		ret = report_nl_error(what, &st);
		goto out;
	}
	if (opts.json)
		ls.json = json_array();
	if (nl_transact(q.sk, msg, link_show_cb, &ls, &st) < 0) {
		ret = report_nl_error(what, &st);
		json_decref(ls.json);
		goto out;
	}
	if (opts.json)
		json_emit(ls.json);
	ret = EXIT_OK;
out:
	nlmsg_free(msg);
	qkd_nl_close(&q);
	return ret;
}

int cmd_link(int argc, char **argv)
{
	struct link_args a;
	char err[256], what[96];
	const char *sub = argc > 0 ? argv[0] : "show";
	int ret;

	if (argc > 0) {
		argc--;
		argv++;
	}
	if (!strcmp(sub, "help") || !strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		link_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(sub, "show") || !strcmp(sub, "list"))
		return link_show(argc, argv);

	if (!strcmp(sub, "add"))
		ret = args_link_add(argc, argv, &a, err, sizeof(err));
	else if (!strcmp(sub, "set"))
		ret = args_link_set(argc, argv, &a, err, sizeof(err));
	else if (!strcmp(sub, "del") || !strcmp(sub, "delete"))
		ret = args_link_del(argc, argv, &a, err, sizeof(err));
	else {
		snprintf(err, sizeof(err), "unknown command \"%s\"", sub);
		return report_usage_error("link", err, link_usage);
	}
	snprintf(what, sizeof(what), "link %s", sub);
	if (ret == ARGS_HELP) {
		link_usage(stdout);
		return EXIT_OK;
	}
	if (ret != ARGS_OK)
		return report_usage_error(what, err, link_usage);
	snprintf(what, sizeof(what), "link %s %s", sub, a.name);

	if (!strcmp(sub, "add"))
		return simple_request(what, QKD_CMD_LINK_NEW, &a, true, true);
	if (!strcmp(sub, "set"))
		return simple_request(what, QKD_CMD_LINK_SET, &a, false, true);
	return simple_request(what, QKD_CMD_LINK_DEL, &a, false, false);
}
