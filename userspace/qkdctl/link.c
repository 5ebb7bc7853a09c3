// SPDX-License-Identifier: GPL-2.0-only
/* qkdctl link add | set | del | show */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "qkdctl.h"
#include "stats.h"

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

/* The limit l of a request's options and of a link the module reports. */
static int64_t *opts_limit(struct qkd_link_opts *o, int l)
{
	int64_t *const f[LIMIT_COUNT] = {
		[LIMIT_MAX_KEYS] = &o->max_keys,
		[LIMIT_MAX_BYTES] = &o->max_bytes,
		[LIMIT_TTL] = &o->key_ttl,
		[LIMIT_RATE] = &o->rate,
		[LIMIT_BURST] = &o->burst,
		[LIMIT_LOW_WATERMARK] = &o->low_watermark,
	};

	return f[l];
}

static uint32_t info_limit(const struct qkd_link_info *li, int l)
{
	const uint32_t f[LIMIT_COUNT] = {
		[LIMIT_MAX_KEYS] = li->max_keys,
		[LIMIT_MAX_BYTES] = li->max_bytes,
		[LIMIT_TTL] = li->key_ttl,
		[LIMIT_RATE] = li->rate,
		[LIMIT_BURST] = li->burst,
		[LIMIT_LOW_WATERMARK] = li->low_watermark,
	};

	return f[l];
}

static bool info_has(const struct qkd_link_info *li, int attr)
{
	return li->present & (1ULL << attr);
}

static void link_print(const struct qkd_link_info *li)
{
	int l;

	printf("%s: local %s remote %s\n   ", li->name, li->local_sae_id, li->remote_sae_id);
	for (l = 0; l < LIMIT_COUNT; l++)
		if (info_has(li, link_limit_defs[l].attr))
			printf(" %s %" PRIu32, link_limit_defs[l].keyword, info_limit(li, l));
	putchar('\n');
	if (info_has(li, QKD_A_STATS))
		stats_print(stdout, &li->stats, "    ");
}

static json_t *link_to_json(const struct qkd_link_info *li)
{
	json_t *o = json_object();
	int l;

	json_object_set_new(o, "name", json_string(li->name));
	json_object_set_new(o, "local_sae_id", json_string(li->local_sae_id));
	json_object_set_new(o, "remote_sae_id", json_string(li->remote_sae_id));
	for (l = 0; l < LIMIT_COUNT; l++)
		if (info_has(li, link_limit_defs[l].attr))
			json_object_set_new(o, link_limit_defs[l].json,
					    json_integer(info_limit(li, l)));
	if (info_has(li, QKD_A_STATS)) {
		json_t *s = json_object();

		stats_to_json(&li->stats, s);
		json_object_set_new(o, "stats", s);
	}
	return o;
}

enum link_op { LINK_ADD, LINK_SET, LINK_DEL };

struct link_change {
	enum link_op op;
	const struct link_args *a;
};

/* add, set, del: one request, no reply but the ack. */
static int link_change_run(struct qkd_nl *nl, void *arg)
{
	const struct link_change *c = arg;
	const struct link_args *a = c->a;
	struct qkd_link_opts o;
	int l;

	if (c->op == LINK_DEL)
		return qkd_link_del(nl, a->name);
	qkd_link_opts_init(&o, NULL, NULL);
	for (l = 0; l < LIMIT_COUNT; l++)
		if (a->limit[l].set)
			*opts_limit(&o, l) = a->limit[l].val;
	if (c->op == LINK_SET)
		return qkd_link_set(nl, a->name, &o);
	o.local_sae_id = a->local_sae;
	o.remote_sae_id = a->remote_sae;
	return qkd_link_new(nl, a->name, &o);
}

/* The links of one dump, kept until it completed (nothing is printed
 * from a dump that fails half-way). */
struct link_list {
	struct qkd_link_info *v;
	size_t n, cap;
};

static int link_collect(const struct qkd_link_info *info, void *arg)
{
	struct link_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct qkd_link_info *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *info;
	return 0;
}

static int link_show_run(struct qkd_nl *nl, void *arg)
{
	const struct link_args *a = arg;
	struct link_list l = { NULL, 0, 0 };
	struct qkd_link_info one;
	size_t i;
	int ret;

	/* A name asks for one link (ENODEV if absent); none dumps all. */
	if (a->has_name) {
		ret = qkd_link_get(nl, a->name, &one);
		if (!ret)
			ret = link_collect(&one, &l);
	} else {
		int tries = 0;

		/* one consistent dump: again if links changed under it */
		do {
			l.n = 0;
			ret = qkd_link_dump_each(nl, link_collect, &l);
		} while (ret == -EINTR && ++tries < 4);
	}
	if (ret >= 0 && opts.json) {
		json_t *arr = json_array();

		for (i = 0; i < l.n; i++)
			json_array_append_new(arr, link_to_json(&l.v[i]));
		json_emit(arr);
	} else if (ret >= 0) {
		for (i = 0; i < l.n; i++)
			link_print(&l.v[i]);
	}
	free(l.v);
	return ret < 0 ? ret : 0;
}

static int link_show(int argc, char **argv)
{
	struct link_args a;
	char err[256], what[64];
	int ret = args_link_show(argc, argv, &a, err, sizeof(err));

	if (ret != ARGS_OK)
		return args_exit(ret, "link show", err, link_usage);
	snprintf(what, sizeof(what), "link show%s%s", a.has_name ? " " : "", a.name);
	return qkd_run(what, link_show_run, &a);
}

int cmd_link(int argc, char **argv)
{
	struct link_change c;
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
	if (ret != ARGS_OK)
		return args_exit(ret, what, err, link_usage);
	snprintf(what, sizeof(what), "link %s %s", sub, a.name);
	c.a = &a;
	c.op = !strcmp(sub, "add") ? LINK_ADD : !strcmp(sub, "set") ? LINK_SET : LINK_DEL;
	return qkd_run(what, link_change_run, &c);
}
