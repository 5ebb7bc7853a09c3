// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The ETSI GS QKD 014 API of both KMEs: /api/v1/keys/{SAE}/status,
 * /enc_keys (GET or POST) for a master SAE, /dec_keys (GET or POST) for
 * its slave.  Requests are checked against the SAE that the client
 * certificate names, and answered 400, 401 or 503 as the spec says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "log.h"
#include "secmem.h"
#include "sim.h"
#include "uuid.h"

/* One API request, authenticated and routed. */
struct call {
	struct MHD_Connection *c;
	int site;		/* the KME asked: 0 (A) or 1 (B) */
	int me, other;		/* SAE indexes: the caller and the one in the path */
	const char *target;	/* the SAE ID in the path */
	int is_get, is_post;
	struct req *rq;
};

int find_sae(const char *id)
{
	int i;

	for (i = 0; i < S.nsaes; i++)
		if (!strcmp(S.saes[i].id, id))
			return i;
	return -1;
}

static int check_size(int size, char *why, size_t whysz)
{
	if (size % 8 || size < S.min_key_size || size > S.max_key_size) {
		snprintf(why, whysz, "size %d: must be a multiple of 8 in %d..%d", size,
			 S.min_key_size, S.max_key_size);
		return -1;
	}
	return 0;
}

/* Answer this request 503 (--fail-fraction)? */
static int maybe_fail(void)
{
	double f;
	uint32_t r;

	pthread_mutex_lock(&S.lock);
	f = S.fail_fraction;
	pthread_mutex_unlock(&S.lock);
	if (f <= 0)
		return 0;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return 1;
	if ((double)r / 4294967296.0 < f) {
		pthread_mutex_lock(&S.lock);
		S.injected_fail++;
		pthread_mutex_unlock(&S.lock);
		return 1;
	}
	return 0;
}

static enum MHD_Result do_status(struct MHD_Connection *c, int site, int me, int slave)
{
	struct etsi_status st;

	memset(&st, 0, sizeof(st));
	snprintf(st.source_KME_ID, sizeof(st.source_KME_ID), "%s", S.kme_id[site]);
	snprintf(st.target_KME_ID, sizeof(st.target_KME_ID), "%s", S.kme_id[S.saes[slave].site]);
	snprintf(st.master_SAE_ID, sizeof(st.master_SAE_ID), "%s", S.saes[me].id);
	snprintf(st.slave_SAE_ID, sizeof(st.slave_SAE_ID), "%s", S.saes[slave].id);
	pthread_mutex_lock(&S.lock);
	update_locked();
	st.key_size = S.key_size;
	st.stored_key_count = stored_keys_locked();
	if (deviations() & DEV_STATUS_PENDING)
		st.stored_key_count = store_pending_locked(me, slave);
	if (deviations() & DEV_STATUS_ZERO)
		st.stored_key_count = 0;
	st.max_key_count = S.max_key_count;
	st.max_key_per_request = S.max_key_per_request;
	st.max_key_size = S.max_key_size;
	st.min_key_size = S.min_key_size;
	st.max_SAE_ID_count = 0;
	st.qber = S.qber;
	st.link_up = S.link_up;
	pthread_mutex_unlock(&S.lock);
	return send_buf(c, MHD_HTTP_OK, etsi_status_encode(&st));
}

/* Has the link number keys of size bits, and the store room for them? */
static int enc_room_locked(int number, int size, char *why, size_t whysz)
{
	if (S.avail_bits + 1e-6 < (double)number * size) {
		snprintf(why, whysz, "insufficient keys: %d stored, %d of %d bits asked",
			 stored_keys_locked(), number, size);
		return -1;
	}
	if (S.npending + number > S.max_pending) {
		snprintf(why, whysz, "too many keys waiting for the slave to fetch them");
		return -1;
	}
	return 0;
}

static enum MHD_Result do_enc(struct MHD_Connection *c, int me, int slave,
			      const struct etsi_key_request *rq)
{
	struct etsi_keys ks;
	char why[160];
	int number = rq->number ? rq->number : 1;
	int size = rq->size ? rq->size : S.key_size;
	unsigned dev = deviations();
	char *out;

	if (dev & DEV_IGNORE_NUMBER)
		number = 1;
	if (dev & DEV_IGNORE_SIZE)
		size = S.key_size;
	if ((dev & DEV_ODD_SIZE) && size % 8)
		size += 8 - size % 8;

	if (rq->additional_slave_count)
		return send_err(c, 400, "Bad request format",
				"additional_slave_SAE_IDs not supported (max_SAE_ID_count is 0)");
	if (rq->extension_mandatory)
		return send_err(c, 400, "Bad request format", "extension_mandatory not supported");
	if (check_size(size, why, sizeof(why)))
		return send_err(c, 400, "Bad request format", "%s", why);
	if (number < 1 || number > S.max_key_per_request)
		return send_err(c, 400, "Bad request format",
				"number %d: must be 1..%d (max_key_per_request)", number,
				S.max_key_per_request);
	if (etsi_keys_alloc(&ks, (size_t)number))
		return send_err(c, 503, "Error on server side", "out of memory");
	pthread_mutex_lock(&S.lock);
	update_locked();
	if (dev & DEV_DISCARD_UNFETCHED) {
		int gone = store_discard_locked(me, slave);

		S.discarded += (unsigned long long)gone;
		if (gone)
			log_debug("discard-unfetched: %d key(s) of %s for %s discarded", gone,
				  S.saes[me].id, S.saes[slave].id);
	}
	if (enc_room_locked(number, size, why, sizeof(why)) ||
	    store_issue_locked(&ks, number, size, me, slave, why, sizeof(why))) {
		pthread_mutex_unlock(&S.lock);
		etsi_keys_free(&ks);
		return send_err(c, 503, "Error on server side", "%s", why);
	}
	S.avail_bits -= (double)number * size;
	S.served_enc += (unsigned long long)number;
	pthread_mutex_unlock(&S.lock);
	out = deviation_keys_reply(&ks);
	etsi_keys_free(&ks);
	if (!out)
		return send_err(c, 503, "Error on server side", "encoding failed");
	log_debug("enc_keys: %d keys of %d bits to %s for %s", number, size, S.saes[me].id,
		  S.saes[slave].id);
	return send_buf(c, MHD_HTTP_OK, out);
}

static enum MHD_Result do_dec(struct MHD_Connection *c, int me, int master,
			      const struct etsi_key_ids *ids)
{
	struct etsi_keys ks;
	char idstr[UUID_STR_LEN + 1];
	size_t missing;
	char *out;

	if (ids->n > (size_t)S.max_key_per_request)
		return send_err(c, 400, "Bad request format",
				"%zu key_IDs: at most %d per request", ids->n,
				S.max_key_per_request);
	if (etsi_keys_alloc(&ks, ids->n))
		return send_err(c, 503, "Error on server side", "out of memory");
	pthread_mutex_lock(&S.lock);
	update_locked();
	if (store_take_locked(ids, me, master, &ks, &missing)) {
		pthread_mutex_unlock(&S.lock);
		uuid_format(ids->ids[missing], idstr);
		etsi_keys_free(&ks);
		if (deviations() & DEV_401_UNKNOWN_ID)
			return send_err(c, 401, "Unauthorized", "key_ID %s: not yours", idstr);
		return send_err(c, 400, "Bad request format",
				"key_ID %s: no such key for this master/slave pair", idstr);
	}
	S.served_dec += ids->n;
	pthread_mutex_unlock(&S.lock);
	out = deviation_keys_reply(&ks);
	etsi_keys_free(&ks);
	if (!out)
		return send_err(c, 503, "Error on server side", "encoding failed");
	return send_buf(c, MHD_HTTP_OK, out);
}

/* A query argument of the request (URL-decoded by libmicrohttpd). */
static const char *query(const struct call *k, const char *name)
{
	return MHD_lookup_connection_value(k->c, MHD_GET_ARGUMENT_KIND, name);
}

/* enc_keys: a POST body, or GET ?number=&size=. */
static enum MHD_Result enc_keys_call(const struct call *k)
{
	struct etsi_key_request kr;
	const char *n = NULL, *s = NULL;
	char why[200];

	if (!k->is_post) {
		n = deviations() & DEV_IGNORE_NUMBER ? NULL : query(k, "number");
		s = deviations() & DEV_IGNORE_SIZE ? NULL : query(k, "size");
	}
	if (enc_request_parse(k->is_post, k->rq->body, k->rq->len, n, s, &kr, why, sizeof(why)))
		return send_err(k->c, 400, "Bad request format", "%s", why);
	return do_enc(k->c, k->me, k->other, &kr);
}

/* dec_keys: a POST body, or GET ?key_ID=. */
static enum MHD_Result dec_keys_call(const struct call *k)
{
	struct etsi_key_ids ids;
	enum MHD_Result r;
	char why[200];
	int e = dec_request_parse(k->is_post, k->rq->body, k->rq->len,
				  k->is_post ? NULL : query(k, "key_ID"), &ids, why, sizeof(why));

	if (e == -2)
		return send_err(k->c, 503, "Error on server side", "%s", why);
	if (e)
		return send_err(k->c, 400, "Bad request format", "%s", why);
	r = do_dec(k->c, k->me, k->other, &ids);
	etsi_key_ids_free(&ids);
	return r;
}

/* The path's method, after the SAE ID. */
static enum MHD_Result route(const struct call *k, const char *method)
{
	int peer_ok = k->other >= 0 && k->other != k->me;

	switch (api_op_of(method)) {
	case API_STATUS:
		if (!peer_ok)
			return send_err(k->c, 400, "Bad request format",
					"unknown slave_SAE_ID '%s'", k->target);
		if (!k->is_get)
			return send_err(k->c, 400, "Bad request format", "status is GET only");
		return do_status(k->c, k->site, k->me, k->other);
	case API_ENC:
		if (!peer_ok)
			return send_err(k->c, 400, "Bad request format",
					"unknown slave_SAE_ID '%s'", k->target);
		return enc_keys_call(k);
	case API_DEC:
		if (!peer_ok)
			return send_err(k->c, 400, "Bad request format",
					"unknown master_SAE_ID '%s'", k->target);
		return dec_keys_call(k);
	default:
		break;
	}
	return send_err(k->c, 400, "Bad request format", "unknown path");
}

enum MHD_Result api(struct MHD_Connection *c, int site, const char *url, const char *method,
		    struct req *rq)
{
	char cn[ETSI_ID_MAX], target[ETSI_ID_MAX];
	struct call k = { .c = c, .site = site, .target = target, .rq = rq,
			  .is_get = !strcmp(method, "GET"), .is_post = !strcmp(method, "POST") };
	const char *rest;
	int e;

	if (deviations() & DEV_HANG)
		return deviation_hang(c, rq);
	if (client_cn(c, cn, sizeof(cn)))
		return send_err(c, 401, "Unauthorized", "no valid client certificate");
	k.me = find_sae(cn);
	if (k.me < 0 || S.saes[k.me].site != site)
		return send_err(c, 401, "Unauthorized", "SAE '%s' is not registered at %s", cn,
				S.kme_id[site]);
	e = api_parse_path(url, target, &rest);
	if (e)
		return send_err(c, 400, "Bad request format", e == -1 ? "unknown path" :
				"malformed path");
	k.other = find_sae(target);
	if (!k.is_get && !k.is_post)
		return send_err(c, 400, "Bad request format", "method %s not allowed", method);
	if (rq->too_big)
		return send_err(c, 400, "Bad request format", "request body over %d bytes",
				REQ_BODY_MAX);
	if (maybe_fail())
		return send_err(c, 503, "Error on server side", "simulated KME failure");
	return route(&k, rest);
}
