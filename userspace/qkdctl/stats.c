// SPDX-License-Identifier: GPL-2.0-only
/* qkdctl stats [NAME]: counters of one link, or the namespace's totals. */
#include "stats.h"

#include <inttypes.h>

#include "args.h"
#include "qkdctl.h"

/*
 * JSON names: libqkd's counter names (qkd_stat_name()), except the two
 * notification counters, which qkdctl.8 documents with an "_ntf" suffix;
 * text output groups them (see stats_print).
 */
static const char *stats_json_name(int t)
{
	switch (t) {
	case QKD_STATS_A_WANTED:
		return "wanted_ntf";
	case QKD_STATS_A_LOW_WATERMARK:
		return "low_watermark_ntf";
	default:
		return qkd_stat_name((unsigned int)t);
	}
}

void stats_to_json(const struct qkd_stats_buf *s, json_t *obj)
{
	int t;

	/* only what the module sent: an older module lacks newer counters */
	for (t = QKD_STATS_A_PAD + 1; t <= QKD_STATS_A_MAX; t++)
		if (stats_json_name(t) && (s->present & (1ULL << t)))
			json_object_set_new(obj, stats_json_name(t),
					    json_integer((json_int_t)(s->v[t] > INT64_MAX ?
								      INT64_MAX : s->v[t])));
}

void stats_print(FILE *out, const struct qkd_stats_buf *s, const char *ind)
{
	fprintf(out, "%sbuffered: %" PRIu64 " keys (%" PRIu64 " initiator), %" PRIu64
		" bytes (high water %" PRIu64 ")\n", ind,
		s->v[QKD_STATS_A_KEYS_BUFFERED], s->v[QKD_STATS_A_INITIATOR_KEYS],
		s->v[QKD_STATS_A_BYTES_BUFFERED], s->v[QKD_STATS_A_BYTES_HIGH_WATER]);
	fprintf(out, "%skeys: injected %" PRIu64 " taken %" PRIu64 " expired %" PRIu64
		" flushed %" PRIu64 "\n", ind,
		s->v[QKD_STATS_A_INJECTED], s->v[QKD_STATS_A_TAKEN],
		s->v[QKD_STATS_A_EXPIRED], s->v[QKD_STATS_A_FLUSHED]);
	fprintf(out, "%srejected: duplicate %" PRIu64 " cap %" PRIu64 " not-found %" PRIu64
		" rate-limited %" PRIu64 "\n", ind,
		s->v[QKD_STATS_A_REJECTED_DUPLICATE], s->v[QKD_STATS_A_REJECTED_CAP],
		s->v[QKD_STATS_A_REJECTED_NOT_FOUND], s->v[QKD_STATS_A_RATE_LIMITED]);
	fprintf(out, "%snotifications: key-wanted %" PRIu64 " low-watermark %" PRIu64 "\n",
		ind, s->v[QKD_STATS_A_WANTED], s->v[QKD_STATS_A_LOW_WATERMARK]);
}

static void stats_usage(FILE *out)
{
	fputs("Usage: qkdctl [-j [-p]] stats [NAME]\n"
	      "  Counters of link NAME, or totals of the network namespace.\n", out);
}

static int stats_run(struct qkd_nl *nl, void *arg)
{
	const struct link_args *a = arg;
	struct qkd_stats_buf s;
	/* Only the namespace totals have a link count. */
	bool has_count = !a->has_name;
	int ret = qkd_stats_get(nl, a->has_name ? a->name : NULL, &s);

	if (ret)
		return ret;
	if (opts.json) {
		json_t *o = json_object();

		if (a->has_name)
			json_object_set_new(o, "link", json_string(a->name));
		if (has_count)
			json_object_set_new(o, "link_count", json_integer(s.link_count));
		stats_to_json(&s, o);
		json_emit(o);
	} else {
		if (a->has_name)
			printf("link %s\n", a->name);
		else
			printf("namespace: %" PRIu32 " link%s\n", s.link_count,
			       s.link_count == 1 ? "" : "s");
		stats_print(stdout, &s, "  ");
	}
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	struct link_args a;
	char what[64], err[256];
	int ret;

	ret = args_stats(argc, argv, &a, err, sizeof(err));
	if (ret != ARGS_OK)
		return args_exit(ret, "stats", err, stats_usage);
	snprintf(what, sizeof(what), "stats%s%s", a.has_name ? " " : "", a.name);
	return qkd_run(what, stats_run, &a);
}
