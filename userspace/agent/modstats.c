// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The module's own counters on the agent's metrics endpoint (qkd_module_*):
 * every counter of the module's stats reply for every link of the key
 * store (not only the agent's links: a gateway's other links are the
 * admin's too), and what the module's audit ring says about the SAs its
 * keys keyed.
 *
 * Read at each scrape, not cached per stats_interval: one LINK_GET dump
 * (all links, their stats nests) and one AUDIT_GET dump, answered from
 * the module's memory in microseconds, while scrapes come every 15-60 s.
 * A cache would only make the numbers older than `qkdctl stats` and the
 * module's notifications, and a reader could not tell by how much.  The
 * agent is single-threaded: the scrape delays its other work by the
 * dumps' time (bounded by the command handle's 5 s reply timeout should
 * the kernel stall).
 *
 * Metric names come from libqkd's counter names (qkd_stat_name), so a
 * counter the module and the library gain appears under the name qkdctl
 * -j stats already uses.  Samples appear only for counters the module
 * sent (an older module lacks newer ones); every family's HELP and TYPE
 * appear always, so a dashboard's names can be checked against any scrape.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "expo.h"
#include "sakeying.h"

/* One link as the module reported it, plus its audit records. */
struct modlink {
	char name[QKD_LINK_NAME_MAX];
	struct qkd_stats_buf st;
	uint32_t takes[3];	/* audit records by QKD_KEY_ROLE_* */
	uint32_t keyed, spis;	/* records with SPIs, SPIs they name */
};

struct modsnap {
	struct modlink *v;
	size_t n, cap;
	int up;			/* the stats dump succeeded */
	int audit_ok;		/* the audit dump succeeded */
	uint64_t audit_seq;	/* newest take record's sequence number */
};

/* How each counter is exposed: gauges are the "now" values. */
static const struct {
	unsigned int type;
	int gauge;
	const char *text;
} stat_defs[] = {
	{ QKD_STATS_A_INJECTED, 0, "keys the module accepted" },
	{ QKD_STATS_A_TAKEN, 0, "keys the module handed to a taker (IKE rekeys keyed by QKD)" },
	{ QKD_STATS_A_EXPIRED, 0, "keys dropped at their TTL" },
	{ QKD_STATS_A_FLUSHED, 0, "keys dropped by a flush or a link deletion" },
	{ QKD_STATS_A_RATE_LIMITED, 0, "takes refused by the link's token bucket" },
	{ QKD_STATS_A_WANTED, 0, "key-wanted notifications the module sent" },
	{ QKD_STATS_A_LOW_WATERMARK, 0, "low-watermark notifications the module sent" },
	{ QKD_STATS_A_KEYS_BUFFERED, 1, "keys buffered now, both roles" },
	{ QKD_STATS_A_INITIATOR_KEYS, 1, "initiator keys buffered now" },
	{ QKD_STATS_A_BYTES_BUFFERED, 1, "bytes of key material buffered now" },
	{ QKD_STATS_A_BYTES_HIGH_WATER, 1, "most bytes ever buffered at once" },
	{ QKD_STATS_A_PENDING, 1, "takes waiting for a key now" },
	{ QKD_STATS_A_RESERVED, 1, "initiator keys reserved now" },
};

/* The rejections, one family with the reason as a label. */
static const unsigned int rejected_types[] = {
	QKD_STATS_A_REJECTED_DUPLICATE, QKD_STATS_A_REJECTED_CAP,
	QKD_STATS_A_REJECTED_NOT_FOUND, QKD_STATS_A_REJECTED_REUSED,
};

static int has(const struct modlink *m, unsigned int t)
{
	return t <= QKD_STATS_A_MAX && (m->st.present & (1ULL << t));
}

static struct modlink *snap_find(struct modsnap *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

static int collect_link(const struct qkd_link_info *info, void *arg)
{
	struct modsnap *s = arg;
	struct modlink *m;

	if (s->n == s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 16;
		struct modlink *nv = realloc(s->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	m = &s->v[s->n++];
	memset(m, 0, sizeof(*m));
	memcpy(m->name, info->name, sizeof(m->name));
	m->name[sizeof(m->name) - 1] = '\0';
	if (info->present & (1ULL << QKD_A_STATS))
		m->st = info->stats;
	return 0;
}

static void collect_audit(struct modsnap *s, const struct audit_record *r)
{
	struct modlink *m = snap_find(s, r->link);

	if (r->seq > s->audit_seq)
		s->audit_seq = r->seq;
	if (!m)		/* a record of a link deleted since */
		return;
	if (r->role <= QKD_KEY_ROLE_RESPONDER)
		m->takes[r->role]++;
	if (r->n_spi) {
		m->keyed++;
		m->spis += r->n_spi;
	}
}

int modstats_audit_read(struct sink *sink, int sink_ok, struct audit_list *out)
{
	memset(out, 0, sizeof(*out));
	if (!sink_ok || !sink->ops->audit)
		return 0;
	if (sink->ops->audit(sink, audit_list_add_lib, out) < 0) {
		audit_list_free(out);
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return 1;
}

/* One consistent dump of the links (again if links changed meanwhile);
 * the audit ring as read for this scrape. */
static void collect(struct modsnap *s, struct sink *sink, int sink_ok,
		    const struct audit_list *audit)
{
	size_t i;

	int r = -ENOENT, tries = 0;

	memset(s, 0, sizeof(*s));
	if (!sink_ok || !sink->ops->link_stats)
		return;
	do {
		s->n = 0;
		r = sink->ops->link_stats(sink, collect_link, s);
	} while (r == -EINTR && ++tries < 3);
	s->up = r >= 0;
	if (!s->up || !audit)
		return;
	s->audit_ok = 1;
	for (i = 0; i < audit->count; i++)
		collect_audit(s, &audit->rec[i]);
}

typedef char modnames[QKD_LINK_NAME_MAX * 2 + 1];

static void render_stats(struct sbuf *b, const struct modsnap *s, modnames *nm)
{
	char name[96];
	size_t d, i, k;

	for (d = 0; d < sizeof(stat_defs) / sizeof(stat_defs[0]); d++) {
		unsigned int t = stat_defs[d].type;

		snprintf(name, sizeof(name), "qkd_module_%s%s", qkd_stat_name(t),
			 stat_defs[d].gauge ? "" : "_total");
		help(b, name, stat_defs[d].gauge ? "gauge" : "counter", stat_defs[d].text);
		for (i = 0; i < s->n; i++)
			if (has(&s->v[i], t))
				sb_printf(b, "%s{link=\"%s\"} %llu\n", name, nm[i],
					  (unsigned long long)s->v[i].st.v[t]);
	}
	help(b, "qkd_module_rejected_total", "counter",
	     "requests the module refused: inject of a held ID (duplicate), over max_keys/max_bytes (cap), "
	     "of an ID already taken (reused); take of a missing key or from an empty pool (not_found)");
	for (i = 0; i < s->n; i++)
		for (k = 0; k < sizeof(rejected_types) / sizeof(rejected_types[0]); k++)
			if (has(&s->v[i], rejected_types[k]))
				sb_printf(b, "qkd_module_rejected_total{link=\"%s\",reason=\"%s\"} %llu\n",
					  nm[i], qkd_stat_name(rejected_types[k]) + strlen("rejected_"),
					  (unsigned long long)s->v[i].st.v[rejected_types[k]]);
	help(b, "qkd_module_pool_keys", "gauge", "keys buffered now, by role (responder: keys_buffered - initiator_keys)");
	for (i = 0; i < s->n; i++) {
		const struct modlink *m = &s->v[i];

		if (!has(m, QKD_STATS_A_INITIATOR_KEYS) || !has(m, QKD_STATS_A_KEYS_BUFFERED))
			continue;
		sb_printf(b, "qkd_module_pool_keys{link=\"%s\",role=\"initiator\"} %llu\n", nm[i],
			  (unsigned long long)m->st.v[QKD_STATS_A_INITIATOR_KEYS]);
		sb_printf(b, "qkd_module_pool_keys{link=\"%s\",role=\"responder\"} %llu\n", nm[i],
			  (unsigned long long)(m->st.v[QKD_STATS_A_KEYS_BUFFERED] -
					       m->st.v[QKD_STATS_A_INITIATOR_KEYS]));
	}
}

/* The audit ring is a window (the namespace's last 1024 takes), so these
 * are gauges of what it holds now, not counters.  Each family's HELP and
 * TYPE come right before its samples: the text format wants every
 * family's lines as one group. */
static void render_audit(struct sbuf *b, const struct modsnap *s, modnames *nm)
{
	size_t i;
	int role;

	help(b, "qkd_module_audit_up", "gauge", "1 if the module's audit ring was read at this scrape");
	sb_printf(b, "qkd_module_audit_up %d\n", s->audit_ok);
	help(b, "qkd_module_audit_seq", "gauge",
	     "sequence number of the newest take record (one per take in the namespace; restarts at module load)");
	if (s->audit_ok)
		sb_printf(b, "qkd_module_audit_seq %llu\n", (unsigned long long)s->audit_seq);
	help(b, "qkd_module_audit_records", "gauge", "take records of the link in the audit ring, by role");
	for (i = 0; s->audit_ok && i < s->n; i++)
		for (role = QKD_KEY_ROLE_INITIATOR; role <= QKD_KEY_ROLE_RESPONDER; role++)
			sb_printf(b, "qkd_module_audit_records{link=\"%s\",role=\"%s\"} %u\n", nm[i],
				  qkd_role_name((uint8_t)role), s->v[i].takes[role]);
	help(b, "qkd_module_audit_keyed_records", "gauge",
	     "take records of the link in the audit ring annotated with SPIs (keys that keyed IPsec SAs)");
	for (i = 0; s->audit_ok && i < s->n; i++)
		sb_printf(b, "qkd_module_audit_keyed_records{link=\"%s\"} %u\n", nm[i], s->v[i].keyed);
	help(b, "qkd_module_audit_spis", "gauge", "SPIs those records name (SAs keyed by QKD keys)");
	for (i = 0; s->audit_ok && i < s->n; i++)
		sb_printf(b, "qkd_module_audit_spis{link=\"%s\"} %u\n", nm[i], s->v[i].spis);
}

void modstats_render(struct sbuf *b, struct sink *sink, int sink_ok,
		     const struct audit_list *audit)
{
	struct modsnap s;
	modnames *nm = NULL;
	size_t i;

	collect(&s, sink, sink_ok, audit);
	if (s.n) {
		nm = calloc(s.n, sizeof(*nm));
		if (!nm)
			s.n = 0;	/* say up, list no link, rather than fail the scrape */
	}
	for (i = 0; i < s.n; i++)
		esc(s.v[i].name, nm[i], sizeof(nm[i]));
	help(b, "qkd_module_up", "gauge",
	     "1 if the key store's counters were read at this scrape (0: module not loaded or not answering)");
	sb_printf(b, "qkd_module_up %d\n", s.up);
	help(b, "qkd_module_links", "gauge", "links in the key store");
	if (s.up)
		sb_printf(b, "qkd_module_links %zu\n", s.n);
	render_stats(b, &s, nm);
	render_audit(b, &s, nm);
	free(nm);
	free(s.v);
}
