// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Periodic checks, once per stats_interval: is every link still in the
 * key store, and did its key rate, the KME-reported QBER or the KME
 * request error rate cross a threshold?  A warning is logged when a state
 * changes, not every interval, and shows in the metrics while it lasts.
 */
#include <errno.h>
#include <time.h>
#include "agent.h"
#include "log.h"
#include "secmem.h"

/* Liveness of a link (a module reload drops them silently) and a fresh
 * pool level for the metrics. */
static void check_link_alive(struct agent *a, struct link *l, double now)
{
	uint32_t lv;
	int r;

	if (!a->sink_ok || !l->created)
		return;
	r = a->sink.ops->pool_level(&a->sink, l->cfg->name, &lv);
	if (r == 0 && l->cfg->role != ROLE_SLAVE)
		master_level_seen(l, lv, now);	/* a drop here is a take too */
	else if (r == -ENODEV || r == -ENOENT || r == -ETIMEDOUT)
		sink_lost(a, r == -ENODEV ? "link vanished" : "family gone or stuck");
}

/* The delivered key rate against the expected one, or the one learnt
 * while the pool stayed below high all interval long (iv_demand: then
 * the rate is what the KME could deliver, supply-limited). */
static void check_key_rate(struct link *l, double dt)
{
	const struct conf_link *c = l->cfg;
	int w;

	l->rate = l->iv_obtained / dt;
	if (c->expected_key_rate > 0)
		l->rate_baseline = c->expected_key_rate;
	else if (l->iv_demand && !l->warn_rate)
		l->rate_baseline = l->rate_baseline <= 0 ? l->rate :
				   0.8 * l->rate_baseline + 0.2 * l->rate;
	w = l->iv_demand && l->rate_baseline > 0 &&
	    l->rate < (1 - c->rate_drift) * l->rate_baseline;
	if (w != l->warn_rate)
		log_warn("link %s: delivered key rate %.2f keys/s %s %.0f%% of the baseline %.2f keys/s",
			 c->name, l->rate, w ? "fell below" : "is no longer below",
			 (1 - c->rate_drift) * 100, l->rate_baseline);
	l->warn_rate = w;
}

static void check_qber(struct link *l)
{
	const struct conf_link *c = l->cfg;
	int w = l->st_valid && l->st.qber >= 0 && l->st.qber > c->qber_threshold;

	if (w != l->warn_qber)
		log_warn("link %s: KME-reported QBER %.4f %s the threshold %.4f", c->name,
			 l->st.qber, w ? "exceeds" : "is back below", c->qber_threshold);
	l->warn_qber = w;
}

/* Fewer than 3 requests in the interval say nothing: keep the state. */
static void check_error_rate(struct link *l)
{
	const struct conf_link *c = l->cfg;
	int w = l->iv_req < 3 ? l->warn_err :
		(double)l->iv_fail / l->iv_req > c->error_rate_threshold;

	if (w != l->warn_err)
		log_warn("link %s: KME request error rate %llu/%llu %s the threshold %.2f",
			 c->name, (unsigned long long)l->iv_fail, (unsigned long long)l->iv_req,
			 w ? "exceeds" : "is back below", c->error_rate_threshold);
	l->warn_err = w;
}

/* client_cert's expiry: a warning cert_warn_days ahead, again once a day
 * until it is renewed (a reload reads it again), an error once expired
 * (the KME will refuse the agent). */
static void check_cert_expiry(const struct agent *a, struct link *l, time_t wall)
{
	uint32_t warn = a->conf->cert_warn_days;
	double left;

	if (!l->cert_not_after || !warn || wall - l->cert_warned < 86400)
		return;
	left = (double)(l->cert_not_after - wall) / 86400.0;
	if (left >= warn)
		return;
	l->cert_warned = (double)wall;
	if (left < 0)
		log_err("link %s: client_cert '%s' has expired: the KME will refuse this SAE; "
			"renew it, then systemctl reload qkd-agent", l->cfg->name, l->cfg->client_cert);
	else
		log_warn("link %s: client_cert '%s' expires in %.1f days (cert_warn_days %u): "
			 "renew it, then systemctl reload qkd-agent", l->cfg->name,
			 l->cfg->client_cert, left, warn);
}

void agent_stats(struct agent *a, double now)
{
	double dt = now - a->last_stats;
	size_t i;

	if (dt <= 0)
		return;
	if (sec_fallback_news()) {
		struct sec_stats ss;

		sec_get_stats(&ss);
		log_warn("the locked secure heap (%zu KiB) is full: further key buffers are wiped "
			 "but not locked (qkd_agent_secure_heap_fallbacks_total)", ss.heap_bytes >> 10);
	}
	for (i = 0; i < a->nlinks; i++) {
		struct link *l = &a->links[i];

		check_link_alive(a, l, now);
		check_cert_expiry(a, l, time(NULL));
		check_key_rate(l, dt);
		check_qber(l);
		check_error_rate(l);
		log_debug("link %s: rate %.2f keys/s, pool %u, requests %llu (%llu failed)",
			  l->cfg->name, l->rate, l->level, (unsigned long long)l->iv_req,
			  (unsigned long long)l->iv_fail);
		/* the next interval starts */
		l->iv_obtained = l->iv_req = l->iv_fail = 0;
		l->iv_demand = l->refill;
	}
	a->last_stats = now;
}
