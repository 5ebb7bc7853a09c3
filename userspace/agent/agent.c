// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * qkd-agent: keeps each configured link of the qkd kernel module supplied
 * with keys from an ETSI GS QKD 014 key manager.
 *  - master role: keeps the link's initiator pool between the low and high
 *    watermark with enc_keys, woken by the module's low-watermark
 *    notification (and a slow poll as a fallback);
 *  - slave role: answers key-wanted notifications with dec_keys by ID.
 * Single-threaded: one curl_multi_poll() loop waits on the netlink notify
 * socket, the metrics socket and every ETSI transfer in flight (libcurl
 * multi interface), so a slow KME never delays notifications.  Each link
 * has two clients: master side (status, enc_keys) and slave side
 * (dec_keys), so a key-wanted fetch never waits behind a refill.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <curl/curl.h>
#include <openssl/rand.h>
#include "agent.h"
#include "log.h"
#include "secmem.h"
#include "uuid.h"
#include "../../include/uapi/linux/qkd.h"

#define AGENT_VERSION	"1.0"
#define DEFAULT_CONF	"/etc/qkd/qkd-agent.conf"
/* How long a key-wanted request stays worth answering. */
#define WANTED_TTL	((double)QKD_TAKE_WAIT_MAX_MS / 1000 + 5)
#define HELD_MAX_S	120.0

static volatile sig_atomic_t g_stop;

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double ms(uint32_t m)
{
	return m / 1000.0;
}

static const char *role_name(int role)
{
	return role == QKD_KEY_ROLE_INITIATOR ? "initiator" : "responder";
}

static void sink_lost(struct agent *a, const char *why)
{
	size_t i;

	if (a->sink_ok)
		log_warn("key store (%s) lost: %s; reconnecting", a->sink.ops->name, why);
	a->sink_ok = 0;
	for (i = 0; i < a->nlinks; i++) {
		a->links[i].created = 0;
		/* retry held keys as soon as the link is back */
		a->links[i].held_next[1] = a->links[i].held_next[2] = 0;
	}
}

static void record(struct link *l, int rc, const struct etsi_result *res)
{
	enum req_result r;

	if (rc == ETSI_OK)
		r = RQ_OK;
	else if (rc == ETSI_E_TRANSPORT)
		r = RQ_TRANSPORT;
	else if (rc == ETSI_E_PROTO)
		r = RQ_PROTO;
	else if (res->http_code >= 500)
		r = RQ_HTTP_503;
	else
		r = RQ_HTTP_4XX;
	l->req[r]++;
	l->iv_req++;
	if (r != RQ_OK)
		l->iv_fail++;
	if (res->latency_s > 0 && rc != ETSI_E_ARG) {
		l->lat_sum += res->latency_s;
		l->lat_last = res->latency_s;
		l->lat_count++;
	}
}

static int recently_injected(struct link *l, const uint8_t id[16])
{
	unsigned i;

	for (i = 0; i < l->recent_n; i++)
		if (!memcmp(l->recent[i], id, 16))
			return 1;
	return 0;
}

static void remember(struct link *l, const uint8_t id[16])
{
	memcpy(l->recent[l->recent_head], id, 16);
	l->recent_head = (l->recent_head + 1) % RECENT_MAX;
	if (l->recent_n < RECENT_MAX)
		l->recent_n++;
}

static void drop_held(struct link *l, int role, const char *why)
{
	size_t left = l->held[role].n - l->held_off[role];

	if (!l->held[role].n)
		return;
	if (left)
		log_warn("link %s: wiping %zu fetched %s keys: %s", l->cfg->name, left,
			 role_name(role), why);
	l->dropped += left;
	etsi_keys_free(&l->held[role]);
	l->held_off[role] = 0;
}

static int holding(const struct link *l)
{
	return l->held[QKD_KEY_ROLE_INITIATOR].n || l->held[QKD_KEY_ROLE_RESPONDER].n;
}

/* The store refused a key as held or already used (EEXIST): never retry
 * it, never accept its ID again. */
static void dup_known(struct agent *a, struct link *l, const uint8_t id[16])
{
	char u[UUID_STR_LEN + 1];

	if (!recently_injected(l, id))
		remember(l, id);
	l->dup_skipped++;
	uuid_format(id, u);
	log_debug("link %s: key %s skipped: %s", l->cfg->name, u,
		  a->sink.last_error[0] ? a->sink.last_error : "already known to the key store");
}

/*
 * Keys [from, from+n) of l->held[role] went to the key store but no ack
 * settled the request (timeout, EINTR, socket error, unknown reply): the
 * store may hold them, and may even have handed them out already.  The
 * store only refuses IDs it still knows, so injecting them again could
 * give a one-time key out twice.  Wipe them, remember their IDs (never
 * accept them again) and count them as dropped.
 */
static void drop_maybe_delivered(struct agent *a, struct link *l, int role, size_t from,
				 size_t n, int r)
{
	struct etsi_keys *h = &l->held[role];
	size_t i;

	for (i = from; i < from + n; i++) {
		remember(l, h->keys[i].id);
		sec_wipe(h->keys[i].key, sizeof(h->keys[i].key));
	}
	l->dropped += n;
	l->maybe_delivered += n;
	log_warn("link %s: inject of %zu %s keys: %s%s%s after sending; the key store may "
		 "have them: wiped, never injected again", l->cfg->name, n, role_name(role),
		 strerror(-r), a->sink.last_error[0] ? ": " : "", a->sink.last_error);
}

/*
 * Inject l->held[role] from held_off on.  Keys accepted or already known
 * to the store (EEXIST: held, or already used) are done; on a failure the
 * store itself reported and that may heal (link or module gone, store
 * full) the rest stays held for a retry.
 *
 * The guarantee: a key is handed to the store at most once after the
 * store may have taken it.  The module's inject is all or nothing, so a
 * definite error (an ack with -errno) means none of the batch was taken
 * and the batch may be retried; EEXIST makes us retry key by key and drop
 * the known ones.  A failure after sending without such an ack ("maybe
 * delivered": timeout, EINTR, socket error, unknown reply) drops the
 * batch for good (drop_maybe_delivered), so such keys can be lost but are
 * never injected twice.
 */
static void inject_held(struct agent *a, struct link *l, int role)
{
	struct etsi_keys *h = &l->held[role];
	size_t *off = &l->held_off[role];

	while (*off < h->n) {
		size_t n = h->n - *off, i;
		int r;

		if (n > SINK_INJECT_BATCH)
			n = SINK_INJECT_BATCH;
		r = a->sink.ops->inject(&a->sink, l->cfg->name, h, *off, n, role);
		if (r == 0) {
			for (i = *off; i < *off + n; i++)
				remember(l, h->keys[i].id);
			l->injected[role] += n;
			*off += n;
			if (role == QKD_KEY_ROLE_INITIATOR)
				l->level += (uint32_t)n;
			continue;
		}
		if (a->sink.maybe_delivered) {
			drop_maybe_delivered(a, l, role, *off, n, r);
			*off += n;
		} else if (r == -EEXIST && n > 1) {
			/* isolate the duplicate(s): one key per message */
			for (i = *off; i < *off + n; i++) {
				int r1 = a->sink.ops->inject(&a->sink, l->cfg->name, h, i, 1, role);

				if (r1 == 0) {
					remember(l, h->keys[i].id);
					l->injected[role]++;
					if (role == QKD_KEY_ROLE_INITIATOR)
						l->level++;
				} else if (a->sink.maybe_delivered) {
					drop_maybe_delivered(a, l, role, i, 1, r1);
					r = r1;
					i++;
					break;
				} else if (r1 == -EEXIST) {
					dup_known(a, l, h->keys[i].id);
				} else {
					r = r1;
					break;
				}
			}
			*off = i;
			if (r == -EEXIST)
				continue;
		} else if (r == -EEXIST) {
			dup_known(a, l, h->keys[*off].id);
			*off += 1;
			continue;
		}
		if (a->sink.maybe_delivered) {
			/* the kernel side may be stuck: reconnect, keep the rest */
			l->inject_errors++;
			l->held_next[role] = mono() + 1.0;
			sink_lost(a, "inject outcome unknown");
			return;
		}
		l->inject_errors++;
		/* retry in a second; say so once per batch (and every 30 tries) */
		l->held_next[role] = mono() + 1.0;
		if (l->held_failures[role]++ % 30 == 0)
			log_warn("link %s: inject of %s keys failed: %s%s%s; %zu held for a retry",
				 l->cfg->name, role_name(role), strerror(-r),
				 a->sink.last_error[0] ? ": " : "", a->sink.last_error, h->n - *off);
		if (r == -ENODEV) {
			/* Link gone, perhaps the module was reloaded: reconnect
			 * (rejoins the notify group), recreate, then retry. */
			sink_lost(a, "link vanished");
		} else if (r == -ENOENT || r == -ECONNREFUSED || r == -EPROTO || r == -ETIMEDOUT) {
			/* nothing was sent (socket gone): reconnect, retry */
			sink_lost(a, "inject failed");
		} else if (r == -ENOSPC || r == -EDQUOT || r == -EBUSY || r == -ENOMEM || r == -ENOBUFS ||
			   r == -EINTR || r == -EAGAIN) {
			/* the store said so, or the send failed (nothing sent):
			 * keep them; retry after the next poll */
			l->level_valid = 0;
		} else {
			drop_held(l, role, "refused by the key store");
		}
		return;
	}
	etsi_keys_free(h);
	*off = 0;
}

/* Remove the keys of ks for which pred() is true: wipe them, log their
 * IDs (never material), compact the rest.  Returns how many went. */
static size_t drop_keys_if(struct link *l, struct etsi_keys *ks,
			   int (*pred)(struct link *, const struct etsi_key *, const void *),
			   const void *arg, const char *why)
{
	size_t i, o = 0, bad = 0;

	for (i = 0; i < ks->n; i++) {
		if (pred(l, &ks->keys[i], arg)) {
			char u[UUID_STR_LEN + 1];

			uuid_format(ks->keys[i].id, u);
			log_warn("link %s: key %s (%zu bytes) %s: dropped", l->cfg->name, u,
				 ks->keys[i].len, why);
			sec_wipe(&ks->keys[i], sizeof(ks->keys[i]));
			bad++;
			continue;
		}
		if (o != i) {
			ks->keys[o] = ks->keys[i];
			sec_wipe(&ks->keys[i], sizeof(ks->keys[i]));
		}
		o++;
	}
	ks->n = o;
	l->dropped += bad;
	return bad;
}

static int bad_size(struct link *l, const struct etsi_key *k, const void *arg)
{
	const struct conf_link *c = arg;

	(void)l;
	return k->len != c->key_size / 8;
}

static int is_recent(struct link *l, const struct etsi_key *k, const void *arg)
{
	(void)arg;
	return recently_injected(l, k->id);
}

/* A KME that hands out an ID we injected lately is broken or replaying:
 * never take such a key (the module forgets IDs it no longer holds). */
static void drop_recent(struct link *l, struct etsi_keys *ks, const char *what)
{
	size_t bad = drop_keys_if(l, ks, is_recent, NULL,
				  "was injected lately; the KME repeats a key ID");

	if (bad)
		log_err("link %s: %s reply repeated %zu key ID(s) injected lately", l->cfg->name,
			what, bad);
	l->dup_skipped += bad;
}

static void hold(struct link *l, struct etsi_keys *ks, int role)
{
	l->held[role] = *ks;	/* take ownership; the slot is empty here */
	ks->keys = NULL;
	ks->n = 0;
	l->held_off[role] = 0;
	l->held_since[role] = mono();
	l->held_next[role] = 0;
	l->held_failures[role] = 0;
}

static void backoff_wait(struct link *l, struct backoff *b, double *next, const char *what,
			 const struct etsi_result *res)
{
	uint32_t d = backoff_next(b);

	*next = mono() + ms(d);
	if (b->attempt <= 1 || b->attempt % 10 == 0)
		log_warn("link %s: %s failed (%s); retry %u in %u ms", l->cfg->name, what,
			 res->msg[0] ? res->msg : "error", b->attempt, d);
}

/* Hand a prepared request to the multi handle. */
static int submit(struct agent *a, struct link *l, struct etsi_client *c, int rc, const char *what)
{
	if (rc == ETSI_OK && curl_multi_add_handle(a->multi, etsi_client_handle(c)) == CURLM_OK)
		return 0;
	etsi_abort(c);
	log_err("link %s: cannot start %s request", l->cfg->name, what);
	return -1;
}

static void status_done(struct link *l, int rc, const struct etsi_status *st,
			const struct etsi_result *res)
{
	double now = mono();

	record(l, rc, res);
	if (rc) {
		backoff_wait(l, &l->bo_status, &l->next_status, "status", res);
		return;
	}
	/* The KME must see us as the configured master SAE and the peer as
	 * the slave: otherwise its keys belong to another SAE pair. */
	if (strcmp(st->master_SAE_ID, l->cfg->local_sae_id) ||
	    strcmp(st->slave_SAE_ID, l->cfg->remote_sae_id)) {
		uint32_t d = backoff_next(&l->bo_status);

		if (!l->id_mismatch || l->bo_status.attempt % 10 == 0)
			log_err("link %s: KME status names master SAE '%s' and slave SAE '%s', "
				"configured local '%s' and remote '%s': refusing keys from this KME",
				l->cfg->name, st->master_SAE_ID, st->slave_SAE_ID,
				l->cfg->local_sae_id, l->cfg->remote_sae_id);
		l->id_mismatch = 1;
		l->id_ok = 0;
		l->st_valid = 0;
		l->next_status = now + ms(d);
		return;
	}
	if (l->id_mismatch)
		log_info("link %s: KME status names the configured SAE IDs again", l->cfg->name);
	l->id_mismatch = 0;
	l->id_ok = 1;
	backoff_reset(&l->bo_status);
	if (!l->st_valid || st->key_size != l->st.key_size)
		log_info("link %s: KME %s -> %s: key_size %d, stored %d/%d, max %d per request%s",
			 l->cfg->name, st->source_KME_ID, st->target_KME_ID, st->key_size,
			 st->stored_key_count, st->max_key_count, st->max_key_per_request,
			 st->qber >= 0 ? ", reports QBER" : "");
	if ((st->max_key_size && (int)l->cfg->key_size > st->max_key_size) ||
	    (st->min_key_size && (int)l->cfg->key_size < st->min_key_size))
		log_warn("link %s: key_size %u outside the KME's %d..%d bits", l->cfg->name,
			 l->cfg->key_size, st->min_key_size, st->max_key_size);
	if (l->st_valid && l->st.stored_key_count == 0 && st->stored_key_count > 0)
		l->next_master = now;	/* keys again: no need to wait */
	l->st = *st;
	l->st_valid = 1;
	l->next_status = now + (l->cfg->poll_interval < 10 ? l->cfg->poll_interval : 10);
}

static void enc_done(struct agent *a, struct link *l, int rc, struct etsi_keys *ks,
		     const struct etsi_result *res)
{
	const struct conf_link *c = l->cfg;

	record(l, rc, res);
	if (rc) {
		/* A 503 may mean "not that many": re-read stored_key_count soon. */
		if (res->http_code == 503)
			l->next_status = mono();
		backoff_wait(l, &l->bo_master, &l->next_master, "enc_keys", res);
		return;
	}
	backoff_reset(&l->bo_master);
	drop_recent(l, ks, "enc_keys");
	l->obtained[QKD_KEY_ROLE_INITIATOR] += ks->n;
	l->iv_obtained += ks->n;
	if (l->st_valid)
		l->st.stored_key_count -= (int)ks->n < l->st.stored_key_count ?
					  (int)ks->n : l->st.stored_key_count;
	log_debug("link %s: got %zu initiator keys in %.1f ms (pool %u)", c->name, ks->n,
		  res->latency_s * 1000, l->level);
	if (!ks->n)
		return;		/* request_done frees ks */
	hold(l, ks, QKD_KEY_ROLE_INITIATOR);
	if (a->sink_ok && l->created)
		inject_held(a, l, QKD_KEY_ROLE_INITIATOR);
	if (l->level >= c->high_watermark) {
		l->refill = 0;
		l->iv_demand = 0;	/* not supply-limited this interval */
	}
}

static void master_step(struct agent *a, struct link *l, double now)
{
	const struct conf_link *c = l->cfg;
	uint32_t want, n;

	if (!l->level_valid || now >= l->next_poll) {
		uint32_t lv;
		int r = a->sink.ops->pool_level(&a->sink, c->name, &lv);

		l->next_poll = now + c->poll_interval;
		if (r == -ENODEV) {
			log_warn("link %s: gone from the key store; recreating", c->name);
			sink_lost(a, "link vanished");
			return;
		}
		if (r) {
			log_warn("link %s: reading the pool level failed: %s%s%s", c->name, strerror(-r),
				 a->sink.last_error[0] ? ": " : "", a->sink.last_error);
			if (r == -ENOENT || r == -EPROTO || r == -ETIMEDOUT)
				sink_lost(a, "LINK_GET failed");
			return;
		}
		l->level = lv;
		l->level_valid = 1;
		if (lv < c->low_watermark && !l->refill) {
			log_debug("link %s: pool %u below low watermark %u (poll)", c->name, lv,
				  c->low_watermark);
			l->refill = 1;
		}
	}
	if (etsi_client_busy(&l->kme_m) || l->held[QKD_KEY_ROLE_INITIATOR].n)
		return;
	if (now >= l->next_status) {
		submit(a, l, &l->kme_m, etsi_start_status(&l->kme_m, c->remote_sae_id), "status");
		return;
	}
	if (!l->refill || now < l->next_master || !l->id_ok)
		return;		/* no keys before the KME's status named our SAE IDs */
	if (l->level >= c->high_watermark) {
		l->refill = 0;
		l->iv_demand = 0;
		return;
	}
	if (l->st_valid && l->st.stored_key_count == 0) {
		/* The KME said it is empty: ask for its status, not for keys,
		 * until it has some (no error, no log: a slow link is normal). */
		uint32_t d = backoff_next(&l->bo_master);

		l->next_master = now + ms(d < 2000 ? d : 2000);
		submit(a, l, &l->kme_m, etsi_start_status(&l->kme_m, c->remote_sae_id), "status");
		return;
	}
	want = c->high_watermark - l->level;
	n = c->batch ? c->batch : 128;
	if (l->st_valid && (uint32_t)l->st.max_key_per_request < n)
		n = (uint32_t)l->st.max_key_per_request;
	if (n > SINK_INJECT_BATCH)
		n = SINK_INJECT_BATCH;
	if (n > want)
		n = want;
	if (l->st_valid && l->st.stored_key_count > 0 && (uint32_t)l->st.stored_key_count < n)
		n = (uint32_t)l->st.stored_key_count;
	submit(a, l, &l->kme_m, etsi_start_enc_keys(&l->kme_m, c->remote_sae_id, (int)n,
						     (int)c->key_size, 0), "enc_keys");
}

static int wanted_index(const struct link *l, const uint8_t id[16])
{
	int k;

	for (k = 0; k < l->nwanted; k++)
		if (!memcmp(l->wanted[k].id, id, 16))
			return k;
	return -1;
}

static void remove_wanted(struct link *l, int i, int n)
{
	memmove(&l->wanted[i], &l->wanted[i + n], sizeof(l->wanted[0]) * (size_t)(l->nwanted - i - n));
	l->nwanted -= n;
}

static void dec_done(struct agent *a, struct link *l, int rc, struct etsi_keys *ks,
		     const uint8_t (*ids)[16], size_t nids, const struct etsi_result *res)
{
	size_t i, bad;
	int k;

	record(l, rc, res);
	if (rc == 0) {
		backoff_reset(&l->bo_slave);
		for (i = 0; i < ks->n; i++)
			if ((k = wanted_index(l, ks->keys[i].id)) >= 0)
				remove_wanted(l, k, 1);
		/* A responder key must match the initiator's size; a key of
		 * another size is useless (and suspicious): drop that key only. */
		bad = drop_keys_if(l, ks, bad_size, (void *)l->cfg, "has the wrong size");
		l->wanted_failed += bad;
		if (l->single > 0)
			l->single--;
		l->obtained[QKD_KEY_ROLE_RESPONDER] += ks->n;
		l->iv_obtained += ks->n;
		if (!ks->n)
			return;
		hold(l, ks, QKD_KEY_ROLE_RESPONDER);
		if (a->sink_ok && l->created)
			inject_held(a, l, QKD_KEY_ROLE_RESPONDER);
		return;
	}
	if (rc == ETSI_E_HTTP && res->http_code == 400) {
		if (nids > 1) {
			/* one bad ID spoils a batch: retry these one by one */
			l->single = (int)nids;
			l->next_slave = mono();
			return;
		}
		if (nids == 1 && (k = wanted_index(l, ids[0])) >= 0) {
			char u[UUID_STR_LEN + 1];

			uuid_format(ids[0], u);
			log_warn("link %s: KME has no key %s for us: %s", l->cfg->name, u, res->msg);
			l->wanted_failed++;
			remove_wanted(l, k, 1);
		}
		if (l->single > 0)
			l->single--;
		l->next_slave = mono();
		return;
	}
	backoff_wait(l, &l->bo_slave, &l->next_slave, "dec_keys", res);
}

static void slave_step(struct agent *a, struct link *l, double now)
{
	uint8_t ids[SINK_INJECT_BATCH][16];
	int n, i;

	/* expire requests whose taker gave up */
	for (i = 0; i < l->nwanted;) {
		if (now - l->wanted[i].since > WANTED_TTL) {
			char u[UUID_STR_LEN + 1];

			uuid_format(l->wanted[i].id, u);
			log_warn("link %s: key %s wanted for %.0f s; giving up", l->cfg->name, u,
				 now - l->wanted[i].since);
			l->wanted_expired++;
			remove_wanted(l, i, 1);
		} else {
			i++;
		}
	}
	if (!l->nwanted || now < l->next_slave || etsi_client_busy(&l->kme_s) ||
	    l->held[QKD_KEY_ROLE_RESPONDER].n)
		return;
	n = l->nwanted;
	if (l->st_valid && n > l->st.max_key_per_request)
		n = l->st.max_key_per_request;
	if (n > SINK_INJECT_BATCH)
		n = SINK_INJECT_BATCH;
	if (l->single > 0)
		n = 1;
	for (i = 0; i < n; i++)
		memcpy(ids[i], l->wanted[i].id, 16);
	submit(a, l, &l->kme_s, etsi_start_dec_keys(&l->kme_s, l->cfg->remote_sae_id,
						    (const uint8_t (*)[16])ids, (size_t)n, 0),
	       "dec_keys");
}

/* A request of link l on client c finished with curl code cc. */
static void request_done(struct agent *a, struct link *l, struct etsi_client *c, int cc)
{
	enum etsi_kind kind = c->kind;
	struct etsi_result res;
	struct etsi_status st;
	struct etsi_keys ks = { 0, NULL };
	uint8_t (*ids)[16] = NULL;
	size_t nids = c->nids;
	int rc;

	if (kind == ETSI_REQ_DEC && nids) {
		ids = malloc(nids * 16);
		if (ids)
			memcpy(ids, c->ids, nids * 16);
		else
			nids = 0;
	}
	rc = etsi_finish(c, cc, &st, &ks, &res);
	switch (kind) {
	case ETSI_REQ_STATUS:
		status_done(l, rc, &st, &res);
		break;
	case ETSI_REQ_ENC:
		enc_done(a, l, rc, &ks, &res);
		break;
	case ETSI_REQ_DEC:
		dec_done(a, l, rc, &ks, (const uint8_t (*)[16])ids, nids, &res);
		break;
	default:
		break;
	}
	etsi_keys_free(&ks);	/* no-op unless not handed over */
	free(ids);
}

static void link_step(struct agent *a, struct link *l, double now)
{
	const struct conf_link *c = l->cfg;
	int role;

	if (!a->sink_ok)
		return;
	if (!l->created) {
		int r;

		if (now < l->next_create)
			return;
		r = a->sink.ops->ensure_link(&a->sink, c);
		if (r < 0) {
			uint32_t d = backoff_next(&l->bo_create);

			l->next_create = now + ms(d);
			log_warn("link %s: cannot create it: %s%s%s", c->name, strerror(-r),
				 a->sink.last_error[0] ? ": " : "", a->sink.last_error);
			if (r == -ENOENT || r == -ETIMEDOUT)
				sink_lost(a, "LINK_NEW failed");
			return;
		}
		backoff_reset(&l->bo_create);
		l->created = 1;
		l->level_valid = 0;
		l->refill = c->role != ROLE_SLAVE;	/* start full */
		if (r == 1) {
			l->links_created++;
			log_info("link %s: created (%s -> %s)", c->name, c->local_sae_id, c->remote_sae_id);
		}
	}
	for (role = QKD_KEY_ROLE_INITIATOR; role <= QKD_KEY_ROLE_RESPONDER && a->sink_ok; role++) {
		if (!l->held[role].n)
			continue;
		if (now - l->held_since[role] > HELD_MAX_S)
			drop_held(l, role, "held too long");
		else if (now >= l->held_next[role])
			inject_held(a, l, role);
	}
	if (!a->sink_ok || !l->created)
		return;
	if (c->role != ROLE_MASTER)
		slave_step(a, l, now);
	if (!a->sink_ok || !l->created)
		return;
	if (c->role != ROLE_SLAVE)
		master_step(a, l, now);
}

static struct link *find_link(struct agent *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->nlinks; i++)
		if (!strcmp(a->links[i].cfg->name, name))
			return &a->links[i];
	return NULL;
}

static void handle_event(struct agent *a, const struct sink_event *ev, double now)
{
	struct link *l;
	size_t i;
	int k;

	if (ev->type == SINK_EV_RESYNC) {
		log_warn("notifications lost (socket overrun): re-reading every link");
		for (i = 0; i < a->nlinks; i++)
			a->links[i].level_valid = 0;
		return;
	}
	l = find_link(a, ev->link);
	if (!l)
		return;		/* not ours */
	switch (ev->type) {
	case SINK_EV_LOW_WATERMARK:
		l->lowwm_events++;
		log_debug("link %s: low watermark (%u < %u)", l->cfg->name, ev->key_count, ev->low_watermark);
		if (l->cfg->role != ROLE_SLAVE) {
			l->level = ev->key_count;
			l->level_valid = 1;
			l->refill = 1;
		}
		break;
	case SINK_EV_KEY_WANTED:
		l->wanted_total++;
		if (l->cfg->role == ROLE_MASTER)
			break;
		if (ev->remote_sae[0] && strcmp(ev->remote_sae, l->cfg->remote_sae_id))
			log_warn("link %s: key wanted for SAE %s, configured %s", l->cfg->name,
				 ev->remote_sae, l->cfg->remote_sae_id);
		if (recently_injected(l, ev->key_id)) {
			l->wanted_dup++;
			break;
		}
		for (k = 0; k < l->nwanted; k++)
			if (!memcmp(l->wanted[k].id, ev->key_id, 16))
				break;
		if (k < l->nwanted) {
			l->wanted_dup++;
			break;
		}
		if (l->nwanted == WANTED_MAX) {
			l->wanted_failed++;
			break;
		}
		memcpy(l->wanted[l->nwanted].id, ev->key_id, 16);
		l->wanted[l->nwanted++].since = now;
		/* a waiting taker beats any backoff from older failures */
		l->next_slave = now;
		break;
	case SINK_EV_LINK_DEL:
		log_info("link %s: deleted; recreating", l->cfg->name);
		l->created = 0;
		l->level_valid = 0;
		break;
	default:
		break;
	}
}

static void stats(struct agent *a, double now)
{
	double dt = now - a->last_stats;
	size_t i;

	if (dt <= 0)
		return;
	for (i = 0; i < a->nlinks; i++) {
		struct link *l = &a->links[i];
		const struct conf_link *c = l->cfg;
		int w;
		uint32_t lv;

		/* Liveness of every link (a module reload drops them silently)
		 * and a fresh pool level for the metrics. */
		if (a->sink_ok && l->created) {
			int r = a->sink.ops->pool_level(&a->sink, c->name, &lv);

			if (r == 0 && c->role != ROLE_SLAVE)
				l->level = lv;
			else if (r == -ENODEV || r == -ENOENT || r == -ETIMEDOUT)
				sink_lost(a, r == -ENODEV ? "link vanished" : "family gone or stuck");
		}
		/* iv_demand: the pool stayed below high all interval long, so
		 * the rate is what the KME could deliver (supply-limited). */
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
		w = l->st_valid && l->st.qber >= 0 && l->st.qber > c->qber_threshold;
		if (w != l->warn_qber)
			log_warn("link %s: KME-reported QBER %.4f %s the threshold %.4f", c->name,
				 l->st.qber, w ? "exceeds" : "is back below", c->qber_threshold);
		l->warn_qber = w;
		w = l->iv_req < 3 ? l->warn_err :
		    (double)l->iv_fail / l->iv_req > c->error_rate_threshold;
		if (w != l->warn_err)
			log_warn("link %s: KME request error rate %llu/%llu %s the threshold %.2f",
				 c->name, (unsigned long long)l->iv_fail, (unsigned long long)l->iv_req,
				 w ? "exceeds" : "is back below", c->error_rate_threshold);
		l->warn_err = w;
		log_debug("link %s: rate %.2f keys/s, pool %u, requests %llu (%llu failed)", c->name,
			  l->rate, l->level, (unsigned long long)l->iv_req, (unsigned long long)l->iv_fail);
		l->iv_obtained = l->iv_req = l->iv_fail = 0;
		l->iv_demand = l->refill;
	}
	a->last_stats = now;
}

static volatile sig_atomic_t g_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		g_hup = 1;
	else
		g_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: qkd-agent [OPTIONS]\n"
"Keep the qkd kernel module's links supplied with keys from ETSI GS QKD 014\n"
"key managers (HTTPS with mutual TLS).\n"
"\n"
"  -c, --config FILE          configuration (default " DEFAULT_CONF ")\n"
"  -t, --check                validate the configuration and exit\n"
"      --metrics IP:PORT|off  Prometheus endpoint (overrides metrics_listen)\n"
"      --stats-interval S     drift evaluation period (overrides the file)\n"
"  -v, --verbose              debug logging\n"
"  -q, --quiet                errors only\n"
"  -h, --help                 this text\n"
"      --version\n"
"\n"
"Test mode (no kernel module; keys are counted, never stored):\n"
"      --dry-run              use the dry-run sink instead of netlink\n"
"      --dry-run-consume R    simulated takers use R initiator keys/s per link\n"
"      --dry-run-taken FIFO   write \"LINK UUID\" of each simulated take\n"
"      --dry-run-wanted FIFO  read \"[LINK ]UUID\" lines as key-wanted events\n"
"      --dry-run-fail-after-send N\n"
"                             every Nth inject stores its keys, takers get them,\n"
"                             the reply is lost (fault injection: keys dropped)\n"
"\n"
"See qkd-agent(8) and qkd-agent.conf(5).\n");
}

static int agent_init_links(struct agent *a)
{
	size_t i;
	uint64_t seed;

	a->nlinks = a->conf->nlinks;
	a->links = calloc(a->nlinks, sizeof(*a->links));
	if (!a->links)
		return -1;
	for (i = 0; i < a->nlinks; i++) {
		struct link *l = &a->links[i];
		const struct conf_link *c = &a->conf->links[i];

		l->cfg = c;
		if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
			seed = (uint64_t)time(NULL) + i;
		backoff_init(&l->bo_master, c->backoff_base_ms, c->backoff_max_ms, seed);
		backoff_init(&l->bo_slave, c->backoff_base_ms / 4 ? c->backoff_base_ms / 4 : 1,
			     c->backoff_max_ms / 4 ? c->backoff_max_ms / 4 : 1, seed ^ 1);
		backoff_init(&l->bo_status, c->backoff_base_ms, c->backoff_max_ms, seed ^ 2);
		backoff_init(&l->bo_create, c->backoff_base_ms, c->backoff_max_ms, seed ^ 3);
		l->recent = calloc(RECENT_MAX, 16);
		if (!l->recent)
			return -1;
		if (etsi_client_init(&l->kme_m, c->kme_url, c->client_cert, c->client_key,
				     c->ca_cert, (long)c->request_timeout) ||
		    etsi_client_init(&l->kme_s, c->kme_url, c->client_cert, c->client_key,
				     c->ca_cert, (long)c->request_timeout))
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_METRICS = 256, O_STATS, O_DRY, O_CONSUME, O_TAKEN, O_WANTED, O_VERSION,
	       O_FAILSEND };
	static const struct option opts[] = {
		{ "config", 1, NULL, 'c' }, { "check", 0, NULL, 't' },
		{ "metrics", 1, NULL, O_METRICS }, { "stats-interval", 1, NULL, O_STATS },
		{ "verbose", 0, NULL, 'v' }, { "quiet", 0, NULL, 'q' },
		{ "help", 0, NULL, 'h' }, { "version", 0, NULL, O_VERSION },
		{ "dry-run", 0, NULL, O_DRY }, { "dry-run-consume", 1, NULL, O_CONSUME },
		{ "dry-run-taken", 1, NULL, O_TAKEN }, { "dry-run-wanted", 1, NULL, O_WANTED },
		{ "dry-run-fail-after-send", 1, NULL, O_FAILSEND },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf_path = DEFAULT_CONF, *metrics = NULL;
	struct dry_opts dry = { 0, NULL, NULL, 0 };
	int check = 0, dry_run = 0, verbosity = -1, o, rc = 1;
	long stats_iv = 0;
	static struct agent A;
	struct agent *a = &A;
	char err[512];
	struct sigaction sa;
	size_t i;

	qkd_log_ident = "qkd-agent";
	while ((o = getopt_long(argc, argv, "c:tvqh", opts, NULL)) != -1) {
		char *end;

		switch (o) {
		case 'c': conf_path = optarg; break;
		case 't': check = 1; break;
		case O_METRICS: metrics = optarg; break;
		case O_STATS:
			stats_iv = strtol(optarg, &end, 10);
			if (*end || stats_iv < 1 || stats_iv > 3600) {
				fprintf(stderr, "qkd-agent: --stats-interval: 1..3600 seconds\n");
				return 2;
			}
			break;
		case 'v': verbosity = LOG_LVL_DEBUG; break;
		case 'q': verbosity = LOG_LVL_ERR; break;
		case 'h': usage(stdout); return 0;
		case O_VERSION: printf("qkd-agent %s\n", AGENT_VERSION); return 0;
		case O_DRY: dry_run = 1; break;
		case O_CONSUME:
			dry.consume_rate = strtod(optarg, &end);
			if (*end || !(dry.consume_rate >= 0 && dry.consume_rate <= 1e6)) {
				fprintf(stderr, "qkd-agent: --dry-run-consume: 0..1e6 keys/s\n");
				return 2;
			}
			break;
		case O_TAKEN: dry.taken_out = optarg; break;
		case O_WANTED: dry.wanted_in = optarg; break;
		case O_FAILSEND: {
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1 || v > 1000000) {
				fprintf(stderr, "qkd-agent: --dry-run-fail-after-send: 1..1000000\n");
				return 2;
			}
			dry.fail_after_send = (unsigned)v;
			break;
		}
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if ((dry.consume_rate > 0 || dry.taken_out || dry.wanted_in || dry.fail_after_send) &&
	    !dry_run) {
		fprintf(stderr, "qkd-agent: --dry-run-* options need --dry-run\n");
		return 2;
	}
	a->conf = calloc(1, sizeof(*a->conf));
	if (!a->conf)
		return 1;
	if (conf_load(conf_path, a->conf, err, sizeof(err)) ||
	    conf_check_tls(a->conf, err, sizeof(err))) {
		fprintf(stderr, "qkd-agent: %s\n", err);
		free(a->conf);
		return 2;
	}
	if (check) {
		printf("%s: OK, %zu link(s)\n", conf_path, a->conf->nlinks);
		free(a->conf);
		return 0;
	}
	qkd_log_level = verbosity >= 0 ? verbosity : a->conf->log_level;
	if (stats_iv)
		a->conf->stats_interval = (uint32_t)stats_iv;
	/* No core dumps or ptrace by other users: key material lives here. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (etsi_client_global_init()) {
		log_err("curl initialisation failed");
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (agent_init_links(a)) {
		log_err("out of memory");
		goto out;
	}
	if (dry_run) {
		log_warn("DRY-RUN TEST MODE: keys are counted and wiped, not given to the kernel");
		if (sink_dry_setup(&a->sink, &dry, a->conf)) {
			log_err("dry-run sink setup failed");
			goto out;
		}
	} else if (sink_netlink_setup(&a->sink)) {
		log_err("netlink sink setup failed");
		goto out;
	}
	if (!metrics && a->conf->metrics_listen[0])
		metrics = a->conf->metrics_listen;
	if (metrics && strcmp(metrics, "off") && metrics_start(a, metrics))
		goto out;
	backoff_init(&a->bo_sink, 500, 10000, (uint64_t)getpid());
	a->started = a->last_stats = mono();
	a->next_stats = a->started + a->conf->stats_interval;
	log_info("started: %zu link(s), sink %s, config %s", a->nlinks, a->sink.ops->name, conf_path);

	a->multi = curl_multi_init();
	if (!a->multi) {
		log_err("curl_multi_init failed");
		goto out;
	}
	while (!g_stop) {
		struct curl_waitfd wfd[2];
		CURLMsg *msg;
		long ctimeout = -1;
		struct sink_event ev[32];
		double now = mono(), next;
		int nfd = 0, timeout, n, k, running;

		if (g_hup) {
			g_hup = 0;
			log_info("SIGHUP: configuration reload is not supported; restart the agent to apply changes");
		}

		if (!a->sink_ok && now >= a->next_sink_open) {
			int r = a->sink.ops->open(&a->sink);

			if (r == 0) {
				a->sink_ok = 1;
				backoff_reset(&a->bo_sink);
				log_info("key store (%s) connected", a->sink.ops->name);
			} else {
				uint32_t d = backoff_next(&a->bo_sink);

				if (a->bo_sink.attempt <= 1 || a->bo_sink.attempt % 20 == 0)
					log_warn("key store (%s) unavailable: %s%s%s%s; retrying",
						 a->sink.ops->name, strerror(-r),
						 r == -ENOENT ? " (module qkd not loaded?)" : "",
						 a->sink.last_error[0] ? ": " : "", a->sink.last_error);
				a->next_sink_open = now + ms(d);
			}
		}
		for (i = 0; i < a->nlinks && !g_stop; i++)
			link_step(a, &a->links[i], mono());
		now = mono();
		if (now >= a->next_stats) {
			stats(a, now);
			a->next_stats = now + a->conf->stats_interval;
		}
		/* how long may we sleep? */
		next = a->next_stats;
		if (!a->sink_ok && a->next_sink_open < next)
			next = a->next_sink_open;
		for (i = 0; i < a->nlinks && a->sink_ok; i++) {
			struct link *l = &a->links[i];

			if (!l->created && l->next_create < next)
				next = l->next_create;
			if (holding(l))
				next = now + 0.2 < next ? now + 0.2 : next;
			if (l->nwanted && !etsi_client_busy(&l->kme_s) && l->next_slave < next)
				next = l->next_slave;
			if (l->cfg->role != ROLE_SLAVE && !etsi_client_busy(&l->kme_m)) {
				if (l->refill && l->next_master < next)
					next = l->next_master;
				if (l->next_status < next)
					next = l->next_status;
			}
			if (l->cfg->role != ROLE_SLAVE && l->next_poll < next)
				next = l->next_poll;
		}
		timeout = next <= now ? 0 : (int)((next - now) * 1000) + 1;
		if (a->sink.ops->tick && timeout > 50)
			timeout = 50;	/* dry-run takers */
		if (curl_multi_timeout(a->multi, &ctimeout) == CURLM_OK && ctimeout >= 0 &&
		    ctimeout < timeout)
			timeout = (int)ctimeout;
		if (a->sink_ok && a->sink.ops->fd(&a->sink) >= 0) {
			wfd[nfd].fd = a->sink.ops->fd(&a->sink);
			wfd[nfd].events = CURL_WAIT_POLLIN;
			wfd[nfd++].revents = 0;
		}
		if (metrics_fd(a) >= 0) {
			wfd[nfd].fd = metrics_fd(a);
			wfd[nfd].events = CURL_WAIT_POLLIN;
			wfd[nfd++].revents = 0;
		}
		/* waits on our fds and every ETSI transfer in flight */
		if (curl_multi_poll(a->multi, wfd, (unsigned int)nfd, timeout, NULL) != CURLM_OK) {
			log_err("curl_multi_poll failed");
			break;
		}
		curl_multi_perform(a->multi, &running);
		while ((msg = curl_multi_info_read(a->multi, &k))) {
			struct etsi_client *c = NULL;
			CURL *h = msg->easy_handle;
			CURLcode cc = msg->data.result;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&c);
			curl_multi_remove_handle(a->multi, h);
			for (i = 0; i < a->nlinks && c; i++)
				if (c == &a->links[i].kme_m || c == &a->links[i].kme_s) {
					request_done(a, &a->links[i], c, (int)cc);
					break;
				}
		}
		metrics_run(a);
		if (!a->sink_ok)
			continue;
		if (a->sink.ops->tick)
			a->sink.ops->tick(&a->sink);
		while ((n = a->sink.ops->events(&a->sink, ev, 32)) > 0) {
			now = mono();
			for (k = 0; k < n; k++)
				handle_event(a, &ev[k], now);
			if (n < 32)
				break;
		}
		if (n < 0)
			sink_lost(a, strerror(-n));
	}
	log_info("stopping");
	rc = 0;
out:
	metrics_stop(a);
	for (i = 0; i < a->nlinks && a->links; i++) {
		struct link *l = &a->links[i];
		int role;

		for (role = QKD_KEY_ROLE_INITIATOR; role <= QKD_KEY_ROLE_RESPONDER; role++)
			drop_held(l, role, "stopping");
		if (a->multi && etsi_client_busy(&l->kme_m))
			curl_multi_remove_handle(a->multi, etsi_client_handle(&l->kme_m));
		if (a->multi && etsi_client_busy(&l->kme_s))
			curl_multi_remove_handle(a->multi, etsi_client_handle(&l->kme_s));
		etsi_client_cleanup(&l->kme_m);
		etsi_client_cleanup(&l->kme_s);
		free(l->recent);
	}
	if (a->multi)
		curl_multi_cleanup(a->multi);
	free(a->links);
	if (a->sink.ops)
		a->sink.ops->close(&a->sink);
	etsi_client_global_cleanup();
	free(a->conf);
	return rc;
}
