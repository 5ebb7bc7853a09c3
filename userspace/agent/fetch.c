// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Slave role: the module says a taker waits for a responder key by its ID
 * (the peer chose it as master); the agent collects those IDs, fetches
 * them with dec_keys, and gives up on an ID when the KME has no such key
 * or the taker has long stopped waiting.
 */
#include <string.h>
#include "agent.h"
#include "clock.h"
#include "log.h"
#include "uuid.h"

/* How long a key-wanted request stays worth answering. */
#define WANTED_TTL	((double)QKD_TAKE_WAIT_MAX_MS / 1000 + 5)

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

void slave_key_wanted(struct link *l, const struct sink_event *ev, double now)
{
	l->wanted_total++;	/* counted on a master-only link too */
	if (l->cfg->role == ROLE_MASTER)
		return;
	if (ev->remote_sae[0] && strcmp(ev->remote_sae, l->cfg->remote_sae_id))
		log_warn("link %s: key wanted for SAE %s, configured %s", l->cfg->name,
			 ev->remote_sae, l->cfg->remote_sae_id);
	if (recently_injected(l, ev->key_id) || wanted_index(l, ev->key_id) >= 0) {
		l->wanted_dup++;
		return;
	}
	if (l->nwanted == WANTED_MAX) {
		l->wanted_failed++;
		return;
	}
	memcpy(l->wanted[l->nwanted].id, ev->key_id, 16);
	l->wanted[l->nwanted++].since = now;
	/* a waiting taker beats any backoff from older failures */
	l->next_slave = now;
}

static int bad_size(struct link *l, const struct etsi_key *k, const void *arg)
{
	const struct conf_link *c = arg;

	(void)l;
	return k->len != c->key_size / 8;
}

static int has_key(const struct etsi_keys *ks, const uint8_t id[16])
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (!memcmp(ks->keys[i].id, id, 16))
			return 1;
	return 0;
}

/* The KME answered: every ID asked is settled, by a good key or as lost
 * (it handed the key out, or never will: a retry would only find it
 * gone).  Good keys are held and injected. */
static void dec_keys_got(struct agent *a, struct link *l, struct etsi_keys *ks,
			 const uint8_t (*ids)[16], size_t nids, const struct etsi_result *res)
{
	const struct etsi_keys_report *rep = &res->rep;
	size_t i, bad, failed = 0, spoilt;
	int k;

	backoff_reset(&l->bo_slave);
	reply_dropped(l, res, "dec_keys");
	/* A responder key must match the initiator's size; a key of
	 * another size is useless (and suspicious): drop that key only. */
	bad = drop_keys_if(l, ks, bad_size, (void *)l->cfg, LOST_WRONG_SIZE, "has the wrong size");
	if (bad)
		kme_deviation(l, KD_KEY_SIZE, "hands out keys of another size than the %u bits of "
			      "key_size (dec_keys): they are dropped", l->cfg->key_size);
	for (i = 0; i < nids; i++) {
		if (has_key(ks, ids[i]))
			continue;
		failed++;
		if ((k = wanted_index(l, ids[i])) >= 0)
			remove_wanted(l, k, 1);
	}
	for (i = 0; i < ks->n; i++)
		if ((k = wanted_index(l, ks->keys[i].id)) >= 0)
			remove_wanted(l, k, 1);
	/* asked, and neither a good key nor a bad entry in the reply */
	spoilt = rep->ndropped - rep->dropped[ETSI_DROP_NOT_ASKED] + bad;
	if (failed > spoilt)
		lost_keys(l, LOST_NOT_DELIVERED, failed - spoilt);
	l->wanted_failed += failed;
	if (failed)
		log_warn("link %s: dec_keys: %zu of %zu key(s) asked for not usable in the reply",
			 l->cfg->name, failed, nids);
	if (l->single > 0)
		l->single--;
	l->obtained[QKD_KEY_ROLE_RESPONDER] += ks->n;
	l->iv_obtained += ks->n;
	if (!ks->n)
		return;
	hold(l, ks, QKD_KEY_ROLE_RESPONDER);
	if (a->sink_ok && l->created)
		inject_held(a, l, QKD_KEY_ROLE_RESPONDER);
}

/* The KME has no key for some ID asked (400, or a 401 taken as such). */
static void dec_keys_refused(struct link *l, const uint8_t (*ids)[16], size_t nids,
			     const struct etsi_result *res)
{
	int k;

	if (nids > 1) {
		/* one bad ID spoils a batch: retry these one by one */
		l->single = (int)nids;
		l->next_slave = mono_now();
		return;
	}
	if (nids == 1 && (k = wanted_index(l, ids[0])) >= 0) {
		char u[UUID_STR_LEN + 1];

		uuid_format(ids[0], u);
		log_context_key(u);
		log_warn("link %s: KME has no key %s for us: %s", l->cfg->name, u, res->msg);
		log_context_key(NULL);
		l->wanted_failed++;
		remove_wanted(l, k, 1);
		kme_unknown_id(l);
	}
	if (l->single > 0)
		l->single--;
	l->next_slave = mono_now();
}

/* A reply that is not a key container: the KME has handed the keys out
 * (and deleted them); asking again would only find them gone. */
static void dec_keys_unusable(struct link *l, const uint8_t (*ids)[16], size_t nids,
			      const struct etsi_result *res)
{
	size_t i;
	int k;

	l->replies_unusable++;
	lost_keys(l, LOST_UNREADABLE, nids);
	kme_deviation(l, KD_UNREADABLE, "sent a dec_keys reply that is not a key container "
		      "(%s): the keys asked for are lost", res->msg);
	for (i = 0; i < nids; i++)
		if ((k = wanted_index(l, ids[i])) >= 0) {
			remove_wanted(l, k, 1);
			l->wanted_failed++;
		}
	if (l->single > 0)
		l->single--;
	request_backoff(l, &l->bo_slave, &l->next_slave, "dec_keys", res);
}

void dec_done(struct agent *a, struct link *l, int rc, struct etsi_keys *ks,
	      const uint8_t (*ids)[16], size_t nids, const struct etsi_result *res)
{
	request_record(l, rc, res, 1);
	kme_request_seen(l, rc, res, "dec_keys", 0, &l->bo_slave, &l->next_slave);
	if (rc == 0)
		dec_keys_got(a, l, ks, ids, nids, res);
	else if (rc == ETSI_E_HTTP && res->http_code == 400)
		dec_keys_refused(l, ids, nids, res);
	else if (rc == ETSI_E_HTTP && res->http_code == 401) {
		if (kme_dec_401(l, res, &l->bo_slave, &l->next_slave))
			dec_keys_refused(l, ids, nids, res);
	} else if (rc == ETSI_E_PROTO)
		dec_keys_unusable(l, ids, nids, res);
	else
		request_backoff(l, &l->bo_slave, &l->next_slave, "dec_keys", res);
}

/* Forget the wanted IDs whose taker gave up. */
static void expire_wanted(struct link *l, double now)
{
	int i;

	for (i = 0; i < l->nwanted;) {
		if (now - l->wanted[i].since > WANTED_TTL) {
			char u[UUID_STR_LEN + 1];

			uuid_format(l->wanted[i].id, u);
			log_context_key(u);
			log_warn("link %s: key %s wanted for %.0f s; giving up", l->cfg->name, u,
				 now - l->wanted[i].since);
			log_context_key(NULL);
			l->wanted_expired++;
			remove_wanted(l, i, 1);
		} else {
			i++;
		}
	}
}

void slave_step(struct agent *a, struct link *l, double now)
{
	uint8_t ids[SINK_INJECT_BATCH][16];
	int n, i;

	expire_wanted(l, now);
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
	kme_select(l, &l->kme_s, now);
	request_submit(a, l, &l->kme_s,
		       etsi_start_dec_keys(&l->kme_s, l->cfg->remote_sae_id,
					   (const uint8_t (*)[16])ids, (size_t)n, 0),
		       "dec_keys");
}
