// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A link's ETSI requests to its KME: hand a prepared request to the
 * loop's curl multi handle, count how it ended (metrics and drift), back
 * off after a failure, and pass a finished reply to the role that asked
 * (refill.c for status and enc_keys, fetch.c for dec_keys).
 */
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "agent.h"
#include "clock.h"
#include "log.h"

void request_record(struct link *l, int rc, const struct etsi_result *res, int failure)
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
	if (r != RQ_OK && failure)
		l->iv_fail++;
	if (res->latency_s > 0 && rc != ETSI_E_ARG) {
		l->lat_sum += res->latency_s;
		l->lat_last = res->latency_s;
		l->lat_count++;
	}
}

void request_backoff(struct link *l, struct backoff *b, double *next, const char *what,
		     const struct etsi_result *res)
{
	uint32_t d = backoff_next(b);

	*next = mono_now() + ms_to_s(d);
	if (b->attempt <= 1 || b->attempt % 10 == 0)
		log_warn("link %s: %s failed (%s); retry %u in %u ms", l->cfg->name, what,
			 res->msg[0] ? res->msg : "error", b->attempt, d);
}

int request_submit(struct agent *a, struct link *l, struct etsi_client *c, int rc,
		   const char *what)
{
	if (rc == ETSI_OK && curl_multi_add_handle(a->multi, etsi_client_handle(c)) == CURLM_OK)
		return 0;
	etsi_abort(c);
	log_err("link %s: cannot start %s request", l->cfg->name, what);
	return -1;
}

void request_done(struct agent *a, struct link *l, struct etsi_client *c, int cc)
{
	enum etsi_kind kind = c->kind;
	struct etsi_result res;
	struct etsi_status st;
	struct etsi_keys ks = { 0, NULL };
	uint8_t (*ids)[16] = NULL;
	size_t nids = c->nids;
	int rc, retry;

	/* etsi_finish() frees the IDs asked; dec_done() needs them */
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
	/* after the role's handling, whose messages name the KME asked */
	retry = kme_result(l, c, rc);
	if (retry) {
		/* failed over to another replica: at once, not after backoff */
		double now = mono_now();

		if (kind == ETSI_REQ_DEC)
			l->next_slave = now;
		else
			l->next_status = l->next_master = now;
	}
}
