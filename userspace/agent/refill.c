// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Master role: keep a link's initiator pool between its low and high
 * watermark.  The pool level comes from the module's low-watermark
 * notification or a slow poll; the KME's status must name this link's
 * SAE IDs before any enc_keys request.  The rest of the status is
 * advisory: KMEs count stored_key_count in their own ways (some count only
 * the keys waiting for the slave, some say 0), so the agent asks enc_keys
 * whatever it says, bounded by max_key_per_request and its watermarks,
 * and learns from the replies how many keys to ask for (halved on a 503,
 * what a short reply brought, doubled again after full replies).
 *
 * Just in time (prefetch = no, or auto after kme.c saw the KME discard
 * keys the slave had not fetched): at a KME that drops a pair's unfetched
 * keys on every new enc_keys, a pool would be destroyed by its own
 * refills; the agent then asks for one batch only when the pool is empty
 * and jit_grace seconds after the last take (time for the peer to fetch
 * the keys taken last).
 */
#include <errno.h>
#include <string.h>
#include "agent.h"
#include "clock.h"
#include "log.h"

/* The KME must see us as the configured master SAE and the peer as the
 * slave: otherwise its keys belong to another SAE pair.  Returns 1 (and
 * refuses the KME's keys until a status names the right pair) if not. */
static int status_names_other_saes(struct link *l, const struct etsi_status *st, double now)
{
	uint32_t d;

	if (!strcmp(st->master_SAE_ID, l->cfg->local_sae_id) &&
	    !strcmp(st->slave_SAE_ID, l->cfg->remote_sae_id))
		return 0;
	d = backoff_next(&l->bo_status);
	if (!l->id_mismatch || l->bo_status.attempt % 10 == 0)
		log_err("link %s: KME status names master SAE '%s' and slave SAE '%s', "
			"configured local '%s' and remote '%s': refusing keys from this KME",
			l->cfg->name, st->master_SAE_ID, st->slave_SAE_ID,
			l->cfg->local_sae_id, l->cfg->remote_sae_id);
	l->id_mismatch = 1;
	l->id_ok = 0;
	l->st_valid = 0;
	l->next_status = now + ms_to_s(d);
	return 1;
}

/* Say what the KME reported when it is new, and what does not fit. */
static void log_status(const struct link *l, const struct etsi_status *st)
{
	if (!l->st_valid || st->key_size != l->st.key_size)
		log_info("link %s: KME %s -> %s: key_size %d, stored %d/%d, max %d per request%s",
			 l->cfg->name, st->source_KME_ID, st->target_KME_ID, st->key_size,
			 st->stored_key_count, st->max_key_count, st->max_key_per_request,
			 st->qber >= 0 ? ", reports QBER" : "");
	if ((st->max_key_size && (int)l->cfg->key_size > st->max_key_size) ||
	    (st->min_key_size && (int)l->cfg->key_size < st->min_key_size))
		log_warn("link %s: key_size %u outside the KME's %d..%d bits", l->cfg->name,
			 l->cfg->key_size, st->min_key_size, st->max_key_size);
}

void status_done(struct link *l, int rc, const struct etsi_status *st,
		 const struct etsi_result *res)
{
	double now = mono_now();

	request_record(l, rc, res, 1);
	if (kme_request_seen(l, rc, res, "status", 1, &l->bo_status, &l->next_status))
		return;
	if (rc) {
		request_backoff(l, &l->bo_status, &l->next_status, "status", res);
		return;
	}
	if (status_names_other_saes(l, st, now))
		return;
	if (l->id_mismatch)
		log_info("link %s: KME status names the configured SAE IDs again", l->cfg->name);
	l->id_mismatch = 0;
	l->id_ok = 1;
	backoff_reset(&l->bo_status);
	log_status(l, st);
	l->st = *st;
	l->st_valid = 1;
	l->next_status = now + (l->cfg->poll_interval < 10 ? l->cfg->poll_interval : 10);
}

/* Most keys one enc_keys may ask for: the batch, the KME's maximum, one
 * inject. */
static uint32_t enc_keys_max(const struct link *l)
{
	uint32_t n = l->cfg->batch ? l->cfg->batch : 128;

	if (l->st_valid && (uint32_t)l->st.max_key_per_request < n)
		n = (uint32_t)l->st.max_key_per_request;
	return n > SINK_INJECT_BATCH ? SINK_INJECT_BATCH : n;
}

/* What the reply says about the KME: how many keys to ask for next. */
static void learn_from_reply(struct link *l, const struct etsi_result *res, size_t kept)
{
	size_t got = res->rep.entries;

	if (res->asked > 0 && got < (size_t)res->asked) {
		kme_deviation(l, KD_SHORT_REPLY, "handed out %zu key(s) when asked for %d: "
			      "asking for what it delivers", got, res->asked);
		l->ask = got ? (uint32_t)got : 1;
	} else if (l->ask && (uint32_t)res->asked >= l->ask && l->ask < enc_keys_max(l)) {
		l->ask *= 2;	/* it gave what it was asked at the limit: more */
	}
	(void)kept;
}

void enc_done(struct agent *a, struct link *l, int rc, struct etsi_keys *ks,
	      const struct etsi_result *res)
{
	const struct conf_link *c = l->cfg;

	/* A 503 may mean "not that many" (ETSI has no other way to say it):
	 * ask for half at once, and back off only when one key is refused.
	 * Such a probe is no failure of the KME. */
	if (rc == ETSI_E_HTTP && res->http_code == 503 && res->asked > 1) {
		request_record(l, rc, res, 0);
		l->ask = (uint32_t)res->asked / 2;
		l->next_master = mono_now();
		log_debug("link %s: enc_keys of %d keys: 503; asking for %u", c->name, res->asked,
			  l->ask);
		return;
	}
	/* One key refused by a KME whose count (less what it gave since)
	 * says it is empty: no failure either, just no key yet; back off. */
	if (rc == ETSI_E_HTTP && res->http_code == 503 && l->st_valid &&
	    l->st.stored_key_count == 0) {
		uint32_t d = backoff_next(&l->bo_master);

		request_record(l, rc, res, 0);
		l->next_master = mono_now() + ms_to_s(d);
		log_debug("link %s: KME has no key yet; asking again in %u ms", c->name, d);
		return;
	}
	request_record(l, rc, res, 1);
	if (kme_request_seen(l, rc, res, "enc_keys", 1, &l->bo_master, &l->next_master))
		return;
	if (rc) {
		if (rc == ETSI_E_PROTO) {
			/* the KME handed the keys out: count those asked for */
			l->replies_unusable++;
			lost_keys(l, LOST_UNREADABLE, res->asked > 0 ? (uint64_t)res->asked : 1);
			kme_deviation(l, KD_UNREADABLE, "sent an enc_keys reply that is not a key "
				      "container (%s): the keys it held are lost (counted in "
				      "qkd_agent_kme_replies_unusable_total)", res->msg);
		}
		request_backoff(l, &l->bo_master, &l->next_master, "enc_keys", res);
		return;
	}
	backoff_reset(&l->bo_master);
	if (l->jit_in && --l->jit_in == 0) {
		l->jit = 1;
		log_info("link %s: fetching just in time from now on", c->name);
	}
	reply_dropped(l, res, "enc_keys");
	learn_from_reply(l, res, ks->n);
	if (l->st_valid)	/* the hint, until the next status */
		l->st.stored_key_count -= (int)res->rep.entries < l->st.stored_key_count ?
					  (int)res->rep.entries : l->st.stored_key_count;
	drop_recent(l, ks, "enc_keys");
	l->obtained[QKD_KEY_ROLE_INITIATOR] += ks->n;
	l->iv_obtained += ks->n;
	log_debug("link %s: got %zu initiator keys in %.1f ms (pool %u)", c->name, ks->n,
		  res->latency_s * 1000, l->level);
	if (!ks->n) {
		/* nothing usable in a reply with keys: do not drain the KME
		 * at full speed (request_done frees ks) */
		if (res->rep.entries)
			l->next_master = mono_now() + ms_to_s(backoff_next(&l->bo_master));
		return;
	}
	hold(l, ks, QKD_KEY_ROLE_INITIATOR);
	if (a->sink_ok && l->created)
		inject_held(a, l, QKD_KEY_ROLE_INITIATOR);
	if (l->level >= c->high_watermark) {
		l->refill = 0;
		l->iv_demand = 0;	/* not supply-limited this interval */
	}
}

/* Keys the store took from us: the level seen last grows with them, so
 * that a whole batch taken between two looks at the pool still counts as
 * taken (without this, a batch consumed between two polls left jit_after
 * where it was, and the next enc_keys discarded the keys the peer had not
 * fetched yet). */
void master_keys_added(struct link *l, uint32_t n)
{
	l->level += n;
	l->jit_level += n;
}

void master_level_seen(struct link *l, uint32_t lv, double now)
{
	/* fewer keys than seen last: taken (or expired); just in time
	 * waits for the peer to fetch them before asking again */
	if (lv < l->jit_level)
		l->jit_after = now + l->cfg->jit_grace;
	l->jit_level = lv;
	l->level = lv;
	l->level_valid = 1;
}

/* Re-read the pool level when it is unknown or the poll is due (the
 * fallback for a lost low-watermark notification).  Returns -1 if the
 * link or the key store failed: nothing more this step. */
static int poll_pool_level(struct agent *a, struct link *l, double now)
{
	const struct conf_link *c = l->cfg;
	uint32_t lv;
	int r;

	if (l->level_valid && now < l->next_poll)
		return 0;
	r = a->sink.ops->pool_level(&a->sink, c->name, &lv);
	/* just in time: notice the empty pool within a second */
	l->next_poll = now + (l->jit && l->level < c->low_watermark && c->poll_interval > 1 ?
			      1 : c->poll_interval);
	if (r == -ENODEV) {
		log_warn("link %s: gone from the key store; recreating", c->name);
		sink_lost(a, "link vanished");
		return -1;
	}
	if (r) {
		log_warn("link %s: reading the pool level failed: %s%s%s", c->name, strerror(-r),
			 a->sink.last_error[0] ? ": " : "", a->sink.last_error);
		if (r == -ENOENT || r == -EPROTO || r == -ETIMEDOUT)
			sink_lost(a, "LINK_GET failed");
		return -1;
	}
	master_level_seen(l, lv, now);
	if (lv < c->low_watermark && !l->refill) {
		log_debug("link %s: pool %u below low watermark %u (poll)", c->name, lv,
			  c->low_watermark);
		l->refill = 1;
	}
	return 0;
}

/* Keys to ask for: up to the high watermark, no more than the batch, the
 * KME's per-request maximum, one inject and what the KME was seen to
 * deliver.  The status's stored_key_count (less what was fetched since)
 * is a hint while it is positive: a 0 never stops the asking. */
static uint32_t enc_keys_count(const struct link *l)
{
	uint32_t want = l->cfg->high_watermark - l->level;
	uint32_t n = enc_keys_max(l);

	if (l->ask && l->ask < n)
		n = l->ask;
	if (l->st_valid && l->st.stored_key_count > 0 && (uint32_t)l->st.stored_key_count < n)
		n = (uint32_t)l->st.stored_key_count;
	return n > want ? want : n;
}

void master_step(struct agent *a, struct link *l, double now)
{
	const struct conf_link *c = l->cfg;

	if (poll_pool_level(a, l, now))
		return;
	if (etsi_client_busy(&l->kme_m) || l->held[QKD_KEY_ROLE_INITIATOR].n)
		return;
	kme_select(l, &l->kme_m, now);
	if (now >= l->next_status) {
		request_submit(a, l, &l->kme_m, etsi_start_status(&l->kme_m, c->remote_sae_id),
			       "status");
		return;
	}
	if (now < l->next_master || !l->id_ok)
		return;		/* no keys before the KME's status named our SAE IDs */
	if (l->jit) {
		/* one batch at a time: only into an empty pool, and not before
		 * the peer had time to fetch the keys taken last */
		if (l->level > 0 || now < l->jit_after)
			return;
	} else {
		if (!l->refill)
			return;
		if (l->level >= c->high_watermark) {
			l->refill = 0;
			l->iv_demand = 0;
			return;
		}
	}
	request_submit(a, l, &l->kme_m,
		       etsi_start_enc_keys(&l->kme_m, c->remote_sae_id, (int)enc_keys_count(l),
					   (int)c->key_size, 0), "enc_keys");
}
