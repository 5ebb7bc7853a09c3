// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The real sink: the kernel module "qkd" through libqkd (lib/libqkd.h),
 * which owns the netlink rules: sockets connected to the kernel, replies
 * and notifications accepted only from port 0, CAP_ACK, buffers locked,
 * kept out of core dumps and wiped after use.  Two handles: one for
 * commands, one subscribed to the "notify" group (a request on a
 * subscribed handle would skip the notifications that arrive meanwhile).
 * This file maps the agent's configuration and events onto the library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libqkd.h>
#include "log.h"
#include "sink.h"

struct nl {
	struct qkd_nl *cmd, *ntf;
	unsigned long foreign_logged;	/* datagrams not from the kernel */
};

/* The library drops datagrams that do not come from the kernel (forged
 * replies or notifications): say so in the log. */
static void nl_log_foreign(struct nl *n)
{
	unsigned long now = qkd_nl_foreign_dropped(n->cmd) + qkd_nl_foreign_dropped(n->ntf);

	if (now > n->foreign_logged)
		log_warn("netlink: dropped %lu message(s) not from the kernel",
			 now - n->foreign_logged);
	n->foreign_logged = now;
}

int sink_netlink_setup(struct sink *s)
{
	struct nl *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->cmd = qkd_nl_new();
	n->ntf = qkd_nl_new();
	if (!n->cmd || !n->ntf) {
		qkd_nl_free(n->cmd);
		qkd_nl_free(n->ntf);
		free(n);
		return -ENOMEM;
	}
	s->ops = &sink_netlink_ops;
	s->priv = n;
	return 0;
}

/* The library's words for the last failure on h, for the agent's log. */
static int nl_fail(struct sink *s, struct qkd_nl *h, int r)
{
	snprintf(s->last_error, sizeof(s->last_error), "%s", qkd_nl_error(h));
	/* a reply that did not come in time: the agent reconnects on this */
	return r == -EAGAIN ? -ETIMEDOUT : r;
}

static int nl_open(struct sink *s)
{
	struct nl *n = s->priv;
	int r;

	s->last_error[0] = '\0';
	/* Never block forever on a reply (5 s): a daemon must notice a stuck
	 * kernel side and reconnect. */
	n->foreign_logged = 0;	/* a reconnect starts the counts anew */
	r = qkd_nl_connect(n->cmd, 5000);
	if (r)
		return nl_fail(s, n->cmd, r);
	r = qkd_nl_connect(n->ntf, 5000);
	if (!r)
		r = qkd_nl_subscribe(n->ntf, QKD_NL_GROUP_KEYS);
	if (r) {
		nl_fail(s, n->ntf, r);
		qkd_nl_disconnect(n->cmd);
		qkd_nl_disconnect(n->ntf);
	}
	return r;
}

static void nl_close(struct sink *s)
{
	struct nl *n = s->priv;

	if (!n)
		return;
	qkd_nl_free(n->cmd);
	qkd_nl_free(n->ntf);
	free(n);
	s->priv = NULL;
}

static int nl_fd(struct sink *s)
{
	struct nl *n = s->priv;

	return qkd_nl_fd(n->ntf);
}

/* Not connected (module unloaded): callers treat -ENOENT as "reopen". */
static int nl_ready(struct sink *s)
{
	struct nl *n = s->priv;

	s->last_error[0] = '\0';
	s->maybe_delivered = 0;
	return qkd_nl_connected(n->cmd) ? 0 : -ENOENT;
}

static int link_get(struct sink *s, const char *link, struct qkd_link_info *info)
{
	struct nl *n = s->priv;
	int r = nl_ready(s);

	if (!r)
		r = qkd_link_get(n->cmd, link, info);
	return r ? nl_fail(s, n->cmd, r) : 0;
}

/* An existing link: bring the limits this configuration names into line,
 * above all the low watermark that wakes the refills. */
static int nl_align_link(struct sink *s, const struct conf_link *l,
			 const struct qkd_link_info *g)
{
	struct nl *n = s->priv;
	const struct { int attr; uint32_t want, have; const char *name; } lims[] = {
		{ QKD_A_MAX_KEYS, l->max_keys, g->max_keys, "max_keys" },
		{ QKD_A_MAX_BYTES, l->max_bytes, g->max_bytes, "max_bytes" },
		{ QKD_A_KEY_TTL, l->key_ttl, g->key_ttl, "key_ttl" },
		{ QKD_A_RATE, l->rate, g->rate, "rate" },
		{ QKD_A_BURST, l->burst, g->burst, "burst" },
		{ QKD_A_LOW_WATERMARK, l->role != ROLE_SLAVE ? l->low_watermark : 0,
		  g->low_watermark, "low_watermark" },
	};
	int64_t *dst[] = { NULL, NULL, NULL, NULL, NULL, NULL };
	struct qkd_link_opts o;
	size_t i;
	int r, nset = 0;

	qkd_link_opts_init(&o, NULL, NULL);
	dst[0] = &o.max_keys;
	dst[1] = &o.max_bytes;
	dst[2] = &o.key_ttl;
	dst[3] = &o.rate;
	dst[4] = &o.burst;
	dst[5] = &o.low_watermark;
	for (i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
		if (!lims[i].want || !(g->present & (1ULL << lims[i].attr)) ||
		    lims[i].have == lims[i].want)
			continue;
		log_info("link %s: existing link: setting %s to %u (was %u)", l->name,
			 lims[i].name, lims[i].want, lims[i].have);
		*dst[i] = lims[i].want;
		nset++;
	}
	if (!nset)
		return 0;
	r = qkd_link_set(n->cmd, l->name, &o);
	if (!r)
		return 0;
	r = nl_fail(s, n->cmd, r);
	log_warn("link %s: LINK_SET failed: %s%s%s", l->name, strerror(-r),
		 s->last_error[0] ? ": " : "", s->last_error);
	return (r == -ENOENT || r == -ETIMEDOUT || r == -ENODEV) ? r : 0;
}

/* 0 in the configuration: not sent, so the module's default applies */
static int64_t opt_u32(uint32_t v)
{
	return v ? (int64_t)v : -1;
}

static int nl_create_link(struct sink *s, const struct conf_link *l)
{
	struct nl *n = s->priv;
	struct qkd_link_opts o;
	int r;

	qkd_link_opts_init(&o, l->local_sae_id, l->remote_sae_id);
	o.max_keys = opt_u32(l->max_keys);
	o.max_bytes = opt_u32(l->max_bytes);
	o.key_ttl = opt_u32(l->key_ttl);
	o.rate = opt_u32(l->rate);
	o.burst = opt_u32(l->burst);
	if (l->role != ROLE_SLAVE && l->low_watermark)
		o.low_watermark = l->low_watermark;
	r = qkd_link_new(n->cmd, l->name, &o);
	return r ? nl_fail(s, n->cmd, r) : 0;
}

static int nl_ensure(struct sink *s, const struct conf_link *l)
{
	struct qkd_link_info g;
	int r, tries = 0;

again:
	r = link_get(s, l->name, &g);
	if (r == 0) {
		/* Keys for one SAE pair must never go into a link of
		 * another pair: refuse the link (no inject) until an admin
		 * deletes it or fixes the configuration. */
		if (strcmp(g.local_sae_id, l->local_sae_id) ||
		    strcmp(g.remote_sae_id, l->remote_sae_id)) {
			snprintf(s->last_error, sizeof(s->last_error),
				 "the module's link has SAE IDs '%s' -> '%s', the configuration "
				 "'%s' -> '%s'; not using it", g.local_sae_id, g.remote_sae_id,
				 l->local_sae_id, l->remote_sae_id);
			return -EEXIST;
		}
		return nl_align_link(s, l, &g);
	}
	if (r != -ENODEV)
		return r;
	r = nl_create_link(s, l);
	if (r == -EEXIST && !tries++)
		goto again;	/* created meanwhile by someone else: check it */
	return r ? r : 1;
}

static int nl_level(struct sink *s, const char *link, uint32_t *init)
{
	struct qkd_link_info g;
	uint64_t v;
	int r = link_get(s, link, &g);

	if (r)
		return r;
	if (!(g.present & (1ULL << QKD_A_STATS))) {
		snprintf(s->last_error, sizeof(s->last_error), "LINK_GET reply without QKD_A_STATS");
		return -EPROTO;
	}
	v = g.stats.v[QKD_STATS_A_INITIATOR_KEYS];
	*init = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	return 0;
}

static int nl_inject(struct sink *s, const char *link, const struct etsi_keys *ks,
		     size_t off, size_t cnt, int role)
{
	struct nl *n = s->priv;
	struct qkd_key_ref refs[SINK_INJECT_BATCH];
	size_t i;
	int r = nl_ready(s);

	if (r)
		return r;
	if (cnt == 0 || cnt > QKD_INJECT_MAX_KEYS || cnt > SINK_INJECT_BATCH)
		return -EINVAL;
	/* references only: the material stays in the agent's secure heap */
	for (i = 0; i < cnt; i++) {
		refs[i].id = ks->keys[off + i].id;
		refs[i].material = ks->keys[off + i].key;
		refs[i].len = ks->keys[off + i].len;
		refs[i].role = (uint8_t)role;
	}
	r = qkd_key_inject_refs(n->cmd, link, refs, (unsigned int)cnt);
	s->maybe_delivered = qkd_nl_outcome_unknown(n->cmd);
	nl_log_foreign(n);
	return r ? nl_fail(s, n->cmd, r) : 0;
}

/* One notification as an agent event; false for those it does not act on
 * (KEY_EXPIRED: the periodic poll covers it). */
static bool ev_from_ntf(struct sink_event *ev, const struct qkd_ntf *ntf)
{
	memset(ev, 0, sizeof(*ev));
	switch (ntf->cmd) {
	case QKD_NTF_LOW_WATERMARK:
		ev->type = SINK_EV_LOW_WATERMARK;
		break;
	case QKD_NTF_KEY_WANTED:
		ev->type = SINK_EV_KEY_WANTED;
		break;
	case QKD_NTF_LINK_DEL:
		ev->type = SINK_EV_LINK_DEL;
		break;
	default:
		return false;
	}
	snprintf(ev->link, sizeof(ev->link), "%s", ntf->link_name);
	snprintf(ev->remote_sae, sizeof(ev->remote_sae), "%s", ntf->remote_sae_id);
	if (ntf->has_key_id)
		memcpy(ev->key_id, ntf->key_id, sizeof(ev->key_id));
	ev->key_count = ntf->key_count;
	ev->low_watermark = ntf->low_watermark;
	return true;
}

static int nl_events(struct sink *s, struct sink_event *ev, int max)
{
	struct nl *n = s->priv;
	int cnt = 0;

	if (qkd_nl_fd(n->ntf) < 0)
		return 0;
	while (cnt < max) {
		struct qkd_ntf ntf;
		int r = qkd_ntf_recv(n->ntf, &ntf, 0);

		if (r == 0)
			break;
		if (r == -ENOBUFS) {	/* overrun: notifications lost */
			memset(&ev[cnt], 0, sizeof(ev[cnt]));
			ev[cnt++].type = SINK_EV_RESYNC;
			continue;
		}
		if (r < 0)
			return nl_fail(s, n->ntf, r);
		if (ev_from_ntf(&ev[cnt], &ntf))
			cnt++;
	}
	nl_log_foreign(n);
	return cnt;
}

/* One LINK_GET dump: every link with its QKD_A_STATS nest. */
static int nl_link_stats(struct sink *s, qkd_link_fn fn, void *arg)
{
	struct nl *n = s->priv;
	int r = nl_ready(s);

	if (!r)
		r = qkd_link_dump_each(n->cmd, fn, arg);
	nl_log_foreign(n);
	return r < 0 ? nl_fail(s, n->cmd, r) : r;
}

/* One AUDIT_GET dump of the whole namespace's ring. */
static int nl_audit(struct sink *s, qkd_audit_fn fn, void *arg)
{
	struct nl *n = s->priv;
	int r = nl_ready(s);

	if (!r)
		r = qkd_audit_dump_each(n->cmd, NULL, fn, arg);
	nl_log_foreign(n);
	return r < 0 ? nl_fail(s, n->cmd, r) : r;
}

const struct sink_ops sink_netlink_ops = {
	.name = "netlink",
	.open = nl_open,
	.close = nl_close,
	.fd = nl_fd,
	.ensure_link = nl_ensure,
	.pool_level = nl_level,
	.inject = nl_inject,
	.events = nl_events,
	.tick = NULL,
	.link_stats = nl_link_stats,
	.audit = nl_audit,
};
