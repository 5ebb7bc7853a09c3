// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * What the agent learns about its KME, which may read ETSI GS QKD 014 in
 * its own way: every key it loses and why, the deviations it has seen
 * (each said once, in one log line, and shown as a metric), refused
 * authentication, hung requests, and the evidence that the KME discards
 * keys the slave has not fetched yet (then the master side switches to
 * fetching just in time, see refill.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "agent.h"
#include "clock.h"
#include "log.h"

/* Wanted keys the KME did not have before the agent concludes that it
 * discards unfetched keys. */
#define DISCARD_EVIDENCE 3
/*
 * The evidence is the slave side's (the peer's master keys are missing),
 * the cure the peer's: its master must fetch just in time.  The agent
 * takes its own KME to be of the same kind and switches its own master
 * too (which cures the peer's slave side), but only after this many more
 * refills: until then its refills still discard keys of the peer's slave
 * side, so that the peer's agent gathers the same evidence and switches
 * in turn.  Switching at once would end the peer's evidence before it
 * sufficed, and leave this side's slave failing for good.
 */
#define DISCARD_SWITCH_AFTER 2

const char *const lost_reason_name[LOST__N] = {
	[LOST_MALFORMED] = "malformed", [LOST_WRONG_SIZE] = "wrong_size",
	[LOST_DUPLICATE_ID] = "duplicate_id", [LOST_NOT_ASKED] = "not_asked",
	[LOST_NOT_DELIVERED] = "not_delivered", [LOST_REPEATED_ID] = "repeated_id",
	[LOST_UNREADABLE] = "unreadable",
	[LOST_MAYBE_DELIVERED] = "maybe_delivered", [LOST_REFUSED] = "refused",
	[LOST_HELD_TOO_LONG] = "held_too_long", [LOST_STOPPING] = "stopping",
};

const char *const kme_dev_name[KD__N] = {
	[KD_SHORT_REPLY] = "short_reply",
	[KD_KEY_SIZE] = "key_size", [KD_BAD_ENTRIES] = "bad_entries",
	[KD_UNREADABLE] = "unreadable", [KD_NO_ERROR_BODY] = "no_error_body",
	[KD_401_UNKNOWN_ID] = "401_unknown_id", [KD_DISCARDS] = "discards_unfetched",
	[KD_HANG] = "hang",
};

void lost_keys(struct link *l, enum lost_reason r, uint64_t n)
{
	l->lost[r] += n;
	l->dropped += n;
}

void kme_deviation(struct link *l, enum kme_dev d, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (l->dev_seen & (1U << d))
		return;
	l->dev_seen |= 1U << d;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* keys of another size are useless: nothing the agent can do */
	qkd_log(d == KD_KEY_SIZE ? LOG_LVL_ERR : LOG_LVL_WARN, "link %s: KME %s %s",
		l->cfg->name, kme_now(l), msg);
}

void reply_dropped(struct link *l, const struct etsi_result *res, const char *what)
{
	const struct etsi_keys_report *rep = &res->rep;
	size_t malformed = rep->dropped[ETSI_DROP_ENTRY] + rep->dropped[ETSI_DROP_ID] +
			   rep->dropped[ETSI_DROP_KEY];

	if (!rep->ndropped)
		return;
	lost_keys(l, LOST_MALFORMED, malformed);
	lost_keys(l, LOST_WRONG_SIZE, rep->dropped[ETSI_DROP_SIZE]);
	lost_keys(l, LOST_DUPLICATE_ID, rep->dropped[ETSI_DROP_DUP]);
	lost_keys(l, LOST_NOT_ASKED, rep->dropped[ETSI_DROP_NOT_ASKED]);
	if (rep->dropped[ETSI_DROP_SIZE])
		kme_deviation(l, KD_KEY_SIZE, "hands out keys of another size than the %u bits "
			      "asked (%s: %s): they are dropped; no key of this KME is usable "
			      "until key_size matches what it delivers (on both sides)",
			      l->cfg->key_size, what, rep->first);
	if (malformed + rep->dropped[ETSI_DROP_DUP] + rep->dropped[ETSI_DROP_NOT_ASKED])
		kme_deviation(l, KD_BAD_ENTRIES, "sends key replies with unusable entries (%s: %s): "
			      "the good keys of a reply are kept, each bad one dropped and counted "
			      "in qkd_agent_keys_dropped_total{reason}", what, rep->first);
	log_debug("link %s: %s reply of %zu entries: %zu dropped (first: %s)", l->cfg->name,
		  what, rep->entries, rep->ndropped, rep->first);
}

/* A 401 where authentication is the only reading: the certificate was
 * revoked, has expired at the KME, or the KME does not know this SAE.
 * Not healed by retrying soon: retry at the longest backoff. */
static void auth_error(struct link *l, const struct etsi_result *res, const char *what,
		       struct backoff *b, double *next)
{
	l->auth_errors++;
	l->auth_ok = 0;
	if (!l->auth_failing || l->auth_errors % 100 == 0)
		log_err("link %s: KME %s refuses this SAE (HTTP 401 on %s: %s): check client_cert "
			"and client_key, and that the KME knows SAE '%s'; retrying every %u s",
			l->cfg->name, kme_now(l), what, res->msg, l->cfg->local_sae_id,
			l->cfg->backoff_max_ms / 1000 ? l->cfg->backoff_max_ms / 1000 : 1);
	l->auth_failing = 1;
	b->attempt = 32;	/* the cap from now on */
	*next = mono_now() + ms_to_s(backoff_next(b));
}

int kme_request_seen(struct link *l, int rc, const struct etsi_result *res,
		     const char *what, int master_side, struct backoff *b, double *next)
{
	if (rc == ETSI_OK) {
		if (l->auth_failing)
			log_info("link %s: KME accepts this SAE again", l->cfg->name);
		if (l->hanging)
			log_info("link %s: KME answers again", l->cfg->name);
		l->auth_failing = l->hanging = 0;
		l->auth_ok = 1;
		return 0;
	}
	if (rc == ETSI_E_TRANSPORT && res->timed_out) {
		l->timeouts++;
		if (!l->hanging)
			log_warn("link %s: KME %s did not answer %s within request_timeout (%u s): "
				 "no keys from it while it hangs; retrying with backoff",
				 l->cfg->name, kme_now(l), what, l->cfg->request_timeout);
		l->dev_seen |= 1U << KD_HANG;
		l->hanging = 1;
		return 0;
	}
	if (rc != ETSI_E_HTTP)
		return 0;
	if (!res->error_body)
		kme_deviation(l, KD_NO_ERROR_BODY, "answers errors without the ETSI JSON body "
			      "(%s: %s): going by the HTTP status alone", what, res->msg);
	if (res->http_code == 401 && master_side) {
		auth_error(l, res, what, b, next);
		return 1;
	}
	return 0;
}

/* dec_keys answered 401: an unknown key ID at a KME that says so with 401
 * (it accepted this certificate before), else authentication.  Returns 1
 * if it is an unknown ID. */
int kme_dec_401(struct link *l, const struct etsi_result *res, struct backoff *b,
		double *next)
{
	if (l->auth_ok) {
		kme_deviation(l, KD_401_UNKNOWN_ID, "answers dec_keys of an unknown key ID with "
			      "401 (%s), although it accepted this SAE before: taken as "
			      "\"no such key\"", res->msg);
		return 1;
	}
	auth_error(l, res, "dec_keys", b, next);
	return 0;
}

void kme_unknown_id(struct link *l)
{
	const struct conf_link *c = l->cfg;

	if (++l->unknown_ids < DISCARD_EVIDENCE || (l->dev_seen & (1U << KD_DISCARDS)))
		return;
	if (c->role == ROLE_SLAVE)
		kme_deviation(l, KD_DISCARDS, "had no key for %llu IDs the peer was given: its "
			      "KMEs discard keys the slave has not fetched yet when the master asks "
			      "again; the peer's agent must fetch just in time (prefetch = no)",
			      (unsigned long long)l->unknown_ids);
	else if (c->prefetch == PREFETCH_AUTO)
		kme_deviation(l, KD_DISCARDS, "had no key for %llu IDs the peer was given: the "
			      "KMEs discard keys the slave has not fetched yet when the master asks "
			      "again; the peer's agent must fetch just in time, and so does this one "
			      "after %d more refills (one enc_keys batch at a time, when the pool is "
			      "empty and %u s after the last take; prefetch = no starts this way)",
			      (unsigned long long)l->unknown_ids, DISCARD_SWITCH_AFTER, c->jit_grace);
	else
		kme_deviation(l, KD_DISCARDS, "had no key for %llu IDs the peer was given: the "
			      "KMEs may discard keys the slave has not fetched yet; prefetch = %s "
			      "keeps the configured behaviour", (unsigned long long)l->unknown_ids,
			      c->prefetch == PREFETCH_YES ? "yes" : "no");
	if (c->role != ROLE_SLAVE && c->prefetch == PREFETCH_AUTO && !l->jit)
		l->jit_in = DISCARD_SWITCH_AFTER;
}

/* ---- replicas ------------------------------------------------------------ */

const char *kme_now(const struct link *l)
{
	return l->cfg->kme_urls[l->kme_cur];
}

static void switch_kme(struct link *l, unsigned to, double now)
{
	l->kme_cur = to;
	l->kme_since = now;
	/* a status must name this link's SAE IDs again before enc_keys */
	l->id_ok = 0;
	l->next_status = now;
}

void kme_select(struct link *l, struct etsi_client *c, double now)
{
	if (l->kme_cur && now - l->kme_since >= l->cfg->kme_failback) {
		log_info("link %s: trying the first KME %s again (%.0f s on %s)", l->cfg->name,
			 l->cfg->kme_urls[0], now - l->kme_since, kme_now(l));
		switch_kme(l, 0, now);
	}
	if (strcmp(c->base, kme_now(l)))
		etsi_client_set_base(c, kme_now(l));
}

int kme_result(struct link *l, const struct etsi_client *c, int rc)
{
	const struct conf_link *cf = l->cfg;
	unsigned i, to;

	for (i = 0; i < cf->nkmes && strcmp(c->base, cf->kme_urls[i]); i++)
		;
	if (i == cf->nkmes)
		return 0;
	if (rc != ETSI_E_TRANSPORT) {
		l->kmes[i].answered++;
		l->kmes[i].up = 1;
		if (i == l->kme_cur)
			l->kme_round = 0;
		return 0;
	}
	l->kmes[i].failed++;
	l->kmes[i].up = 0;
	if (cf->nkmes < 2 || i != l->kme_cur)
		return 0;	/* one KME, or the other side failed over already */
	to = (i + 1) % cf->nkmes;
	l->failovers++;
	log_warn("link %s: KME %s unreachable: switching to %s", cf->name, cf->kme_urls[i],
		 cf->kme_urls[to]);
	switch_kme(l, to, mono_now());
	return ++l->kme_round < cf->nkmes;
}
