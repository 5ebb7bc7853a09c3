// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * qkd-kms-sim: two simulated ETSI GS QKD 014 key managers (KME A, KME B)
 * sharing one simulated QKD link.  HTTPS with mutual TLS via libmicrohttpd
 * (GnuTLS); each SAE is identified by its client certificate's CN.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <openssl/rand.h>
#include <jansson.h>

#include "addr.h"
#include "b64.h"
#include "clock.h"
#include "etsi.h"
#include "log.h"
#include "secmem.h"
#include "uuid.h"

#define SIM_VERSION	"1.0"
#define MAX_SAES	8
#define REQ_BODY_MAX	(64 * 1024)
#define API_PREFIX	"/api/v1/keys/"

/* Binary entropy. */
static double h2(double p)
{
	if (p <= 0 || p >= 1)
		return 0;
	return -p * log2(p) - (1 - p) * log2(1 - p);
}

struct pending_key {
	uint8_t id[16];
	int master, slave;		/* SAE indexes */
	double issued;			/* monotonic s */
	size_t len;
	uint8_t key[ETSI_KEY_MAX_BYTES];
};

struct sae {
	char id[ETSI_ID_MAX];
	int site;			/* 0: KME A, 1: KME B */
};

struct sim {
	pthread_mutex_t lock;
	/* configuration */
	char kme_id[2][ETSI_ID_MAX];
	struct sae saes[MAX_SAES];
	int nsaes;
	int key_size, min_key_size, max_key_size;
	int max_key_count, max_key_per_request, max_pending;
	double pending_ttl;
	/* link state */
	double key_rate;		/* secret bits/s at QBER 0 */
	double qber, qber_drift;	/* drift per second */
	int link_up;
	double fail_fraction;		/* fraction of API requests answered 503 */
	double avail_bits;
	double last;			/* monotonic s of the last update */
	/* issued to a master, waiting for the slave */
	struct pending_key *pending;	/* sec_calloc'd max_pending entries */
	int npending;
	/* counters */
	unsigned long long served_enc, served_dec, errors_400, errors_401, errors_503,
		injected_fail, expired;
};

static struct sim S;
static volatile sig_atomic_t g_stop, g_cut, g_restore;

static double eff_rate_locked(void)
{
	double f = 1 - 2 * h2(S.qber);

	if (!S.link_up || f <= 0)
		return 0;
	return S.key_rate * f;
}

/* Advance the simulated link to now.  Caller holds the lock. */
static void update_locked(void)
{
	double now = mono_now(), dt = now - S.last, cap;
	int i;

	if (dt > 0) {
		if (S.qber_drift != 0) {
			/* integrate the rate over the drift with a midpoint step */
			double q0 = S.qber;

			S.qber += S.qber_drift * dt;
			if (S.qber < 0)
				S.qber = 0;
			if (S.qber > 0.5)
				S.qber = 0.5;
			{
				double qm = (q0 + S.qber) / 2, f = 1 - 2 * h2(qm);

				if (S.link_up && f > 0)
					S.avail_bits += S.key_rate * f * dt;
			}
		} else {
			S.avail_bits += eff_rate_locked() * dt;
		}
		S.last = now;
	}
	cap = (double)S.max_key_count * S.key_size;
	if (S.avail_bits > cap)
		S.avail_bits = cap;
	/* expire keys the slave never fetched */
	for (i = 0; i < S.npending;) {
		if (now - S.pending[i].issued > S.pending_ttl) {
			S.pending[i] = S.pending[S.npending - 1];
			sec_wipe(&S.pending[S.npending - 1], sizeof(S.pending[0]));
			S.npending--;
			S.expired++;
		} else {
			i++;
		}
	}
}

static int stored_keys_locked(void)
{
	return (int)(S.avail_bits / S.key_size);
}

/* ---- HTTP helpers ---------------------------------------------------- */

struct req {
	char *body;
	size_t len;
	int too_big;
};

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned int code, char *s)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!s)
		return MHD_NO;
	r = MHD_create_response_from_buffer_with_free_callback(strlen(s), s, sec_free);
	if (!r) {
		sec_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_err(struct MHD_Connection *c, unsigned int code,
				const char *msg, const char *fmt, ...)
{
	char details[200];
	va_list ap;

	details[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(details, sizeof(details), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_lock(&S.lock);
	if (code == 400)
		S.errors_400++;
	else if (code == 401)
		S.errors_401++;
	else
		S.errors_503++;
	pthread_mutex_unlock(&S.lock);
	log_info("HTTP %u: %s%s%s", code, msg, details[0] ? ": " : "", details);
	return send_buf(c, code, etsi_error_encode(msg, details[0] ? details : NULL));
}

/* CN of a verified client certificate, or -1. */
static int client_cn(struct MHD_Connection *c, char *cn, size_t cnsz)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s;
	const gnutls_datum_t *peers;
	gnutls_x509_crt_t crt;
	unsigned int status = 0, n = 0;
	size_t sz = cnsz;
	int r;

	if (!ci || !ci->tls_session)
		return -1;
	s = (gnutls_session_t)ci->tls_session;
	if (gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS || status)
		return -1;
	peers = gnutls_certificate_get_peers(s, &n);
	if (!peers || n == 0)
		return -1;
	if (gnutls_x509_crt_init(&crt))
		return -1;
	r = gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER);
	if (!r) {
		/* Extended key usage, if the certificate has one, must allow
		 * TLS client authentication. */
		unsigned i, any = 0, client = 0;

		for (i = 0;; i++) {
			char oid[128];
			size_t osz = sizeof(oid);
			int e = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &osz, NULL);

			if (e == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
				break;
			if (e < 0) {
				r = e;
				break;
			}
			any = 1;
			if (!strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) || !strcmp(oid, GNUTLS_KP_ANY))
				client = 1;
		}
		if (!r && any && !client)
			r = -1;
	}
	if (!r)
		r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &sz);
	/* exactly one CN */
	if (!r) {
		char cn2[8];
		size_t sz2 = sizeof(cn2);
		int e = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 1, 0,
						      cn2, &sz2);

		if (e != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			r = -1;
	}
	gnutls_x509_crt_deinit(crt);
	if (r || sz == 0 || sz >= cnsz)
		return -1;
	cn[sz] = '\0';
	if (strlen(cn) != sz)
		return -1;	/* embedded NUL: "SAE_A\0evil" is not SAE_A */
	return 0;
}

static int find_sae(const char *id)
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

static enum MHD_Result do_enc(struct MHD_Connection *c, int me, int slave,
			      const struct etsi_key_request *rq)
{
	struct etsi_keys ks;
	char why[160];
	int number = rq->number ? rq->number : 1;
	int size = rq->size ? rq->size : S.key_size;
	double need;
	int i;
	char *out;

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
	need = (double)number * size;
	pthread_mutex_lock(&S.lock);
	update_locked();
	if (S.avail_bits + 1e-6 < need) {
		int have = stored_keys_locked();

		pthread_mutex_unlock(&S.lock);
		etsi_keys_free(&ks);
		return send_err(c, 503, "Error on server side",
				"insufficient keys: %d stored, %d of %d bits asked", have,
				number, size);
	}
	if (S.npending + number > S.max_pending) {
		pthread_mutex_unlock(&S.lock);
		etsi_keys_free(&ks);
		return send_err(c, 503, "Error on server side",
				"too many keys waiting for the slave to fetch them");
	}
	for (i = 0; i < number; i++) {
		struct pending_key *p = &S.pending[S.npending + i];

		if (uuid_generate_v4(ks.keys[i].id) ||
		    RAND_priv_bytes(ks.keys[i].key, size / 8) != 1) {
			pthread_mutex_unlock(&S.lock);
			etsi_keys_free(&ks);
			return send_err(c, 503, "Error on server side", "random generator failed");
		}
		ks.keys[i].len = (size_t)size / 8;
		memcpy(p->id, ks.keys[i].id, 16);
		memcpy(p->key, ks.keys[i].key, ks.keys[i].len);
		p->len = ks.keys[i].len;
		p->master = me;
		p->slave = slave;
		p->issued = mono_now();
	}
	S.npending += number;
	S.avail_bits -= need;
	S.served_enc += (unsigned long long)number;
	pthread_mutex_unlock(&S.lock);
	out = etsi_keys_encode(&ks);
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
	int *idx;
	size_t i;
	int k;
	char *out;

	if (ids->n > (size_t)S.max_key_per_request)
		return send_err(c, 400, "Bad request format",
				"%zu key_IDs: at most %d per request", ids->n,
				S.max_key_per_request);
	idx = calloc(ids->n, sizeof(*idx));
	if (!idx || etsi_keys_alloc(&ks, ids->n)) {
		free(idx);
		return send_err(c, 503, "Error on server side", "out of memory");
	}
	pthread_mutex_lock(&S.lock);
	update_locked();
	for (i = 0; i < ids->n; i++) {
		for (k = 0; k < S.npending; k++)
			if (!memcmp(S.pending[k].id, ids->ids[i], 16))
				break;
		if (k == S.npending || S.pending[k].slave != me || S.pending[k].master != master) {
			pthread_mutex_unlock(&S.lock);
			uuid_format(ids->ids[i], idstr);
			etsi_keys_free(&ks);
			free(idx);
			/* Same answer for unknown and for someone else's key. */
			return send_err(c, 400, "Bad request format",
					"key_ID %s: no such key for this master/slave pair", idstr);
		}
		idx[i] = k;
	}
	/* All found: hand them out, then delete and wipe (all-or-nothing). */
	for (i = 0; i < ids->n; i++) {
		memcpy(ks.keys[i].id, S.pending[idx[i]].id, 16);
		memcpy(ks.keys[i].key, S.pending[idx[i]].key, S.pending[idx[i]].len);
		ks.keys[i].len = S.pending[idx[i]].len;
		S.pending[idx[i]].len = 0;	/* mark */
	}
	for (k = 0; k < S.npending;) {
		if (S.pending[k].len == 0) {
			sec_wipe(&S.pending[k], sizeof(S.pending[k]));
			S.pending[k] = S.pending[S.npending - 1];
			sec_wipe(&S.pending[S.npending - 1], sizeof(S.pending[0]));
			S.npending--;
		} else {
			k++;
		}
	}
	S.served_dec += ids->n;
	pthread_mutex_unlock(&S.lock);
	free(idx);
	out = etsi_keys_encode(&ks);
	etsi_keys_free(&ks);
	if (!out)
		return send_err(c, 503, "Error on server side", "encoding failed");
	return send_buf(c, MHD_HTTP_OK, out);
}

static int parse_pos_int(const char *s, int *out)
{
	char *end;
	long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 1 << 30)
		return -1;
	*out = (int)v;
	return 0;
}

static enum MHD_Result api(struct MHD_Connection *c, int site, const char *url,
			   const char *method, struct req *rq)
{
	char cn[ETSI_ID_MAX], target[ETSI_ID_MAX], why[200];
	const char *rest, *slash;
	int me, other, is_get = !strcmp(method, "GET"), is_post = !strcmp(method, "POST");
	size_t tl;

	if (client_cn(c, cn, sizeof(cn)))
		return send_err(c, 401, "Unauthorized", "no valid client certificate");
	me = find_sae(cn);
	if (me < 0 || S.saes[me].site != site)
		return send_err(c, 401, "Unauthorized", "SAE '%s' is not registered at %s", cn,
				S.kme_id[site]);
	if (strncmp(url, API_PREFIX, strlen(API_PREFIX)))
		return send_err(c, 400, "Bad request format", "unknown path");
	rest = url + strlen(API_PREFIX);
	slash = strchr(rest, '/');
	if (!slash || (tl = (size_t)(slash - rest)) == 0 || tl >= sizeof(target))
		return send_err(c, 400, "Bad request format", "malformed path");
	memcpy(target, rest, tl);
	target[tl] = '\0';
	other = find_sae(target);
	if (!is_get && !is_post)
		return send_err(c, 400, "Bad request format", "method %s not allowed", method);
	if (rq->too_big)
		return send_err(c, 400, "Bad request format", "request body over %d bytes",
				REQ_BODY_MAX);
	if (maybe_fail())
		return send_err(c, 503, "Error on server side", "simulated KME failure");

	if (!strcmp(slash, "/status") || !strcmp(slash, "/enc_keys")) {
		int is_status = slash[1] == 's';

		if (other < 0 || other == me)
			return send_err(c, 400, "Bad request format", "unknown slave_SAE_ID '%s'",
					target);
		if (is_status) {
			if (!is_get)
				return send_err(c, 400, "Bad request format", "status is GET only");
			return do_status(c, site, me, other);
		}
		if (is_post) {
			struct etsi_key_request kr;

			if (etsi_key_request_decode(rq->body, rq->len, &kr, why, sizeof(why)))
				return send_err(c, 400, "Bad request format", "%s", why);
			return do_enc(c, me, other, &kr);
		} else {
			struct etsi_key_request kr = { 0 };
			const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "number");
			const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "size");

			if (n && parse_pos_int(n, &kr.number))
				return send_err(c, 400, "Bad request format", "bad number");
			if (s && parse_pos_int(s, &kr.size))
				return send_err(c, 400, "Bad request format", "bad size");
			return do_enc(c, me, other, &kr);
		}
	}
	if (!strcmp(slash, "/dec_keys")) {
		struct etsi_key_ids ids = { 0 };
		enum MHD_Result r;

		if (other < 0 || other == me)
			return send_err(c, 400, "Bad request format", "unknown master_SAE_ID '%s'",
					target);
		if (is_post) {
			if (etsi_key_ids_decode(rq->body, rq->len, &ids, why, sizeof(why)))
				return send_err(c, 400, "Bad request format", "%s", why);
		} else {
			const char *k = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key_ID");

			if (!k)
				return send_err(c, 400, "Bad request format", "key_ID missing");
			ids.ids = calloc(1, 16);
			if (!ids.ids)
				return send_err(c, 503, "Error on server side", "out of memory");
			ids.n = 1;
			if (uuid_parse(k, strlen(k), ids.ids[0])) {
				etsi_key_ids_free(&ids);
				return send_err(c, 400, "Bad request format", "key_ID is not a UUID");
			}
		}
		r = do_dec(c, me, other, &ids);
		etsi_key_ids_free(&ids);
		return r;
	}
	return send_err(c, 400, "Bad request format", "unknown path");
}

struct site_ctx {
	int site;	/* 0, 1; 2 = admin */
};

static enum MHD_Result admin(struct MHD_Connection *c, const char *url);

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct site_ctx *sc = cls;
	struct req *rq = *con_cls;

	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rq->too_big) {
			if (rq->len + *upload_size > REQ_BODY_MAX) {
				rq->too_big = 1;
				sec_free(rq->body);
				rq->body = NULL;
				rq->len = 0;
			} else {
				char *nb = sec_malloc(rq->len + *upload_size + 1);

				if (!nb)
					return MHD_NO;
				if (rq->body)
					memcpy(nb, rq->body, rq->len);
				memcpy(nb + rq->len, upload_data, *upload_size);
				sec_free(rq->body);
				rq->body = nb;
				rq->len += *upload_size;
				rq->body[rq->len] = '\0';
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (sc->site == 2)
		return admin(c, url);
	return api(c, sc->site, url, method, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		sec_free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

/* ---- admin endpoint (plain HTTP, bind it to loopback) ----------------- */

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned int code, json_t *j)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
	char *s = sec_malloc(n + 2);

	if (!s) {
		json_decref(j);
		return MHD_NO;
	}
	json_dumpb(j, s, n, JSON_COMPACT);
	s[n] = '\n';
	s[n + 1] = '\0';
	json_decref(j);
	return send_buf(c, code, s);
}

static int arg_double(struct MHD_Connection *c, const char *name, double min, double max,
		      double *out)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	char *end;
	double x;

	if (!v)
		return 1;	/* absent */
	errno = 0;
	x = strtod(v, &end);
	if (!*v || *end || errno || !(x >= min && x <= max))
		return -1;
	*out = x;
	return 0;
}

static enum MHD_Result admin_bad(struct MHD_Connection *c, const char *what)
{
	return send_json(c, 400, json_pack("{s:s}", "error", what));
}

static enum MHD_Result admin(struct MHD_Connection *c, const char *url)
{
	double v;
	int r;

	pthread_mutex_lock(&S.lock);
	update_locked();
	pthread_mutex_unlock(&S.lock);
	if (!strcmp(url, "/admin/link")) {
		r = arg_double(c, "up", 0, 1, &v);
		if (r)
			return admin_bad(c, "up=0|1 required");
		pthread_mutex_lock(&S.lock);
		S.link_up = v >= 0.5;
		pthread_mutex_unlock(&S.lock);
		log_info("admin: link %s", v >= 0.5 ? "restored" : "cut");
	} else if (!strcmp(url, "/admin/qber")) {
		double q = -1, d = 0;
		int rq = arg_double(c, "value", 0, 0.5, &q);
		int rd = arg_double(c, "drift", -1, 1, &d);

		if (rq < 0 || rd < 0 || (rq && rd))
			return admin_bad(c, "value=0..0.5 and/or drift=-1..1 (per second)");
		pthread_mutex_lock(&S.lock);
		if (!rq)
			S.qber = q;
		if (!rd)
			S.qber_drift = d;
		q = S.qber;
		d = S.qber_drift;
		pthread_mutex_unlock(&S.lock);
		log_info("admin: qber %.4f drift %.5f/s", q, d);
	} else if (!strcmp(url, "/admin/rate")) {
		if (arg_double(c, "bits", 0, 1e9, &v))
			return admin_bad(c, "bits=0..1e9 required");
		pthread_mutex_lock(&S.lock);
		S.key_rate = v;
		pthread_mutex_unlock(&S.lock);
		log_info("admin: key rate %.0f bit/s", v);
	} else if (!strcmp(url, "/admin/fail")) {
		if (arg_double(c, "fraction", 0, 1, &v))
			return admin_bad(c, "fraction=0..1 required");
		pthread_mutex_lock(&S.lock);
		S.fail_fraction = v;
		pthread_mutex_unlock(&S.lock);
		log_info("admin: fail fraction %.3f", v);
	} else if (!strcmp(url, "/admin/fill")) {
		if (arg_double(c, "keys", 0, 1e7, &v))
			return admin_bad(c, "keys=N required");
		pthread_mutex_lock(&S.lock);
		S.avail_bits += v * S.key_size;
		update_locked();
		pthread_mutex_unlock(&S.lock);
	} else if (!strcmp(url, "/admin/flush")) {
		pthread_mutex_lock(&S.lock);
		S.avail_bits = 0;
		sec_wipe(S.pending, sizeof(S.pending[0]) * (size_t)S.max_pending);
		S.npending = 0;
		pthread_mutex_unlock(&S.lock);
	} else if (strcmp(url, "/admin/status")) {
		return send_json(c, 404, json_pack("{s:s}", "error", "unknown admin path"));
	}
	pthread_mutex_lock(&S.lock);
	{
		json_t *j = json_pack("{s:b, s:f, s:f, s:f, s:f, s:i, s:i, s:i, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				      "link_up", S.link_up, "qber", S.qber,
				      "qber_drift", S.qber_drift, "key_rate", S.key_rate,
				      "effective_key_rate", eff_rate_locked(),
				      "key_size", S.key_size,
				      "stored_key_count", stored_keys_locked(),
				      "pending_keys", S.npending,
				      "fail_fraction", S.fail_fraction,
				      "served_enc", (json_int_t)S.served_enc,
				      "served_dec", (json_int_t)S.served_dec,
				      "errors_400", (json_int_t)S.errors_400,
				      "errors_401", (json_int_t)S.errors_401,
				      "errors_503", (json_int_t)S.errors_503,
				      "injected_failures", (json_int_t)S.injected_fail,
				      "expired", (json_int_t)S.expired);

		pthread_mutex_unlock(&S.lock);
		return send_json(c, 200, j);
	}
}

/* ---- start-up --------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *b;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (1 << 20) ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NULL;
	}
	b = sec_malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		sec_free(b);
		b = NULL;
	}
	if (b)
		b[n] = '\0';
	fclose(f);
	return b;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char m[512];

	(void)cls;
	vsnprintf(m, sizeof(m), fmt, ap);
	m[strcspn(m, "\n")] = '\0';
	log_debug("microhttpd: %s", m);
}

static struct MHD_Daemon *start_tls(struct site_ctx *sc, const char *listen,
				    const char *cert, const char *key, const char *ca)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;

	if (parse_ipv4_port(listen, "127.0.0.1", &sa)) {
		log_err("bad listen address '%s' (expected IPV4:PORT)", listen);
		return NULL;
	}
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS |
			     MHD_USE_ERROR_LOG,
			     0, NULL, NULL, handler, sc,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
			     MHD_OPTION_HTTPS_MEM_CERT, cert,
			     MHD_OPTION_HTTPS_MEM_KEY, key,
			     MHD_OPTION_HTTPS_MEM_TRUST, ca,
			     MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1",
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
			     MHD_OPTION_END);
	if (!d)
		log_err("cannot listen on %s: %s", listen, strerror(errno));
	return d;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		g_cut = 1;
	else if (sig == SIGUSR2)
		g_restore = 1;
	else
		g_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: qkd-kms-sim [OPTIONS]\n"
"Two simulated ETSI GS QKD 014 key managers (KME A and KME B) sharing one\n"
"simulated QKD link, served over HTTPS with mutual TLS.\n"
"\n"
"TLS:\n"
"  --cert-a FILE, --key-a FILE   server certificate and key of KME A (required)\n"
"  --cert-b FILE, --key-b FILE   same for KME B (default: those of KME A)\n"
"  --ca FILE                     CA that signs SAE client certificates (required);\n"
"                                an SAE's ID is its certificate's CN\n"
"Endpoints:\n"
"  --listen-a IP:PORT            KME A (default 127.0.0.1:8443)\n"
"  --listen-b IP:PORT            KME B (default 127.0.0.1:8444)\n"
"  --admin IP:PORT               plain-HTTP admin endpoint (default off; bind to\n"
"                                loopback only: it is unauthenticated)\n"
"Identities:\n"
"  --sae-a ID[,ID...]            SAEs attached to KME A (default SAE_A)\n"
"  --sae-b ID[,ID...]            SAEs attached to KME B (default SAE_B)\n"
"  --kme-a-id ID, --kme-b-id ID  KME IDs (default KME_A, KME_B)\n"
"Link model:\n"
"  --key-rate BITS               secret key rate at QBER 0 in bit/s (default 25600);\n"
"                                effective rate = rate * max(0, 1 - 2 h(QBER))\n"
"  --qber X                      initial QBER 0..0.5 (default 0)\n"
"  --qber-drift X                QBER change per second (default 0)\n"
"  --key-size BITS               default key size (default 256)\n"
"  --min-key-size BITS           (default 64)\n"
"  --max-key-size BITS           (default %d)\n"
"  --max-key-count N             keys the link stores at most (default 1000)\n"
"  --max-key-per-request N       (default 128)\n"
"  --initial-keys N              keys stored at start (default 0)\n"
"  --fail-fraction F             answer this fraction of requests 503 (default 0)\n"
"  --pending-ttl S               drop keys the slave does not fetch within S s (default 300)\n"
"  --max-pending N               keys waiting for their slave, at most (default 10000)\n"
"Other:\n"
"  -v, --verbose                 log every request\n"
"  -q, --quiet                   log errors only\n"
"  -h, --help                    this text\n"
"  --version\n"
"\n"
"Run time control: SIGUSR1 cuts the QKD link (no new keys), SIGUSR2 restores it;\n"
"the admin endpoint offers GET /admin/status, /admin/link?up=0|1,\n"
"/admin/qber?value=X&drift=Y, /admin/rate?bits=N, /admin/fail?fraction=F,\n"
"/admin/fill?keys=N, /admin/flush.  See qkd-kms-sim(8).\n",
		ETSI_KEY_MAX_BYTES * 8);
}

static int add_saes(const char *list, int site)
{
	char buf[1024], *tok, *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return -1;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (S.nsaes >= MAX_SAES || !*tok || strlen(tok) >= ETSI_ID_MAX ||
		    strpbrk(tok, "/?#% ") || find_sae(tok) >= 0)
			return -1;
		snprintf(S.saes[S.nsaes].id, ETSI_ID_MAX, "%s", tok);
		S.saes[S.nsaes++].site = site;
	}
	return 0;
}

static int num_opt(const char *v, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(v, &end);
	return (!*v || *end || errno || !(*out >= min && *out <= max)) ? -1 : 0;
}

int main(int argc, char **argv)
{
	enum { O_CERTA = 256, O_KEYA, O_CERTB, O_KEYB, O_CA, O_LA, O_LB, O_ADMIN, O_SAEA,
	       O_SAEB, O_KA, O_KB, O_RATE, O_QBER, O_DRIFT, O_KS, O_MINKS, O_MAXKS, O_MKC,
	       O_MKPR, O_INIT, O_FAIL, O_PTTL, O_MAXP, O_VERSION };
	static const struct option opts[] = {
		{ "cert-a", 1, NULL, O_CERTA }, { "key-a", 1, NULL, O_KEYA },
		{ "cert-b", 1, NULL, O_CERTB }, { "key-b", 1, NULL, O_KEYB },
		{ "ca", 1, NULL, O_CA }, { "listen-a", 1, NULL, O_LA },
		{ "listen-b", 1, NULL, O_LB }, { "admin", 1, NULL, O_ADMIN },
		{ "sae-a", 1, NULL, O_SAEA }, { "sae-b", 1, NULL, O_SAEB },
		{ "kme-a-id", 1, NULL, O_KA }, { "kme-b-id", 1, NULL, O_KB },
		{ "key-rate", 1, NULL, O_RATE }, { "qber", 1, NULL, O_QBER },
		{ "qber-drift", 1, NULL, O_DRIFT }, { "key-size", 1, NULL, O_KS },
		{ "min-key-size", 1, NULL, O_MINKS }, { "max-key-size", 1, NULL, O_MAXKS },
		{ "max-key-count", 1, NULL, O_MKC }, { "max-key-per-request", 1, NULL, O_MKPR },
		{ "initial-keys", 1, NULL, O_INIT }, { "fail-fraction", 1, NULL, O_FAIL },
		{ "pending-ttl", 1, NULL, O_PTTL }, { "max-pending", 1, NULL, O_MAXP },
		{ "verbose", 0, NULL, 'v' }, { "quiet", 0, NULL, 'q' },
		{ "help", 0, NULL, 'h' }, { "version", 0, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	const char *cert_a = NULL, *key_a = NULL, *cert_b = NULL, *key_b = NULL, *ca = NULL;
	const char *listen_a = "127.0.0.1:8443", *listen_b = "127.0.0.1:8444", *admin_at = NULL;
	const char *sae_a = "SAE_A", *sae_b = "SAE_B";
	char *pem[5] = { NULL };
	struct site_ctx sc[3] = { { 0 }, { 1 }, { 2 } };
	struct MHD_Daemon *d[3] = { NULL };
	struct sigaction sa;
	double v, initial = 0;
	int o, rc = 1, i;

	qkd_log_ident = "qkd-kms-sim";
	sec_json_allocator_init();
	pthread_mutex_init(&S.lock, NULL);
	snprintf(S.kme_id[0], ETSI_ID_MAX, "KME_A");
	snprintf(S.kme_id[1], ETSI_ID_MAX, "KME_B");
	S.key_size = 256;
	S.min_key_size = 64;
	S.max_key_size = ETSI_KEY_MAX_BYTES * 8;
	S.max_key_count = 1000;
	S.max_key_per_request = 128;
	S.max_pending = 10000;
	S.pending_ttl = 300;
	S.key_rate = 25600;
	S.link_up = 1;

#define NUM(min, max) do { if (num_opt(optarg, min, max, &v)) { \
		fprintf(stderr, "qkd-kms-sim: bad value for --%s: '%s'\n", \
			opts[(o) - 256].name, optarg); return 2; } } while (0)
	while ((o = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (o) {
		case O_CERTA: cert_a = optarg; break;
		case O_KEYA: key_a = optarg; break;
		case O_CERTB: cert_b = optarg; break;
		case O_KEYB: key_b = optarg; break;
		case O_CA: ca = optarg; break;
		case O_LA: listen_a = optarg; break;
		case O_LB: listen_b = optarg; break;
		case O_ADMIN: admin_at = optarg; break;
		case O_SAEA: sae_a = optarg; break;
		case O_SAEB: sae_b = optarg; break;
		case O_KA:
		case O_KB:
			if (!*optarg || strlen(optarg) >= ETSI_ID_MAX) {
				fprintf(stderr, "qkd-kms-sim: bad KME ID\n");
				return 2;
			}
			snprintf(S.kme_id[o == O_KB], ETSI_ID_MAX, "%s", optarg);
			break;
		case O_RATE: NUM(0, 1e9); S.key_rate = v; break;
		case O_QBER: NUM(0, 0.5); S.qber = v; break;
		case O_DRIFT: NUM(-1, 1); S.qber_drift = v; break;
		case O_KS: NUM(8, ETSI_KEY_MAX_BYTES * 8); S.key_size = (int)v; break;
		case O_MINKS: NUM(8, ETSI_KEY_MAX_BYTES * 8); S.min_key_size = (int)v; break;
		case O_MAXKS: NUM(8, ETSI_KEY_MAX_BYTES * 8); S.max_key_size = (int)v; break;
		case O_MKC: NUM(1, 1e7); S.max_key_count = (int)v; break;
		case O_MKPR: NUM(1, ETSI_KEYS_MAX); S.max_key_per_request = (int)v; break;
		case O_INIT: NUM(0, 1e7); initial = v; break;
		case O_FAIL: NUM(0, 1); S.fail_fraction = v; break;
		case O_PTTL: NUM(1, 86400); S.pending_ttl = v; break;
		case O_MAXP: NUM(1, 1e6); S.max_pending = (int)v; break;
		case 'v': qkd_log_level = LOG_LVL_DEBUG; break;
		case 'q': qkd_log_level = LOG_LVL_ERR; break;
		case 'h': usage(stdout); return 0;
		case O_VERSION: printf("qkd-kms-sim %s\n", SIM_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
#undef NUM
	if (optind != argc || !cert_a || !key_a || !ca) {
		fprintf(stderr, "qkd-kms-sim: --cert-a, --key-a and --ca are required (see --help)\n");
		return 2;
	}
	if (S.key_size % 8 || S.min_key_size % 8 || S.max_key_size % 8 ||
	    S.min_key_size > S.key_size || S.key_size > S.max_key_size) {
		fprintf(stderr, "qkd-kms-sim: key sizes must be multiples of 8 with min <= default <= max\n");
		return 2;
	}
	if (add_saes(sae_a, 0) || add_saes(sae_b, 1)) {
		fprintf(stderr, "qkd-kms-sim: bad or duplicate SAE IDs\n");
		return 2;
	}
	S.pending = sec_calloc((size_t)S.max_pending, sizeof(*S.pending));
	if (!S.pending) {
		fprintf(stderr, "qkd-kms-sim: out of memory\n");
		return 1;
	}
	S.avail_bits = initial * S.key_size;
	S.last = mono_now();
	if (S.avail_bits > (double)S.max_key_count * S.key_size)
		S.avail_bits = (double)S.max_key_count * S.key_size;
	pem[0] = slurp(cert_a);
	pem[1] = slurp(key_a);
	pem[2] = slurp(cert_b ? cert_b : cert_a);
	pem[3] = slurp(key_b ? key_b : key_a);
	pem[4] = slurp(ca);
	for (i = 0; i < 5; i++)
		if (!pem[i]) {
			log_err("cannot read certificate/key/CA file %d: %s", i, strerror(errno));
			goto out;
		}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	d[0] = start_tls(&sc[0], listen_a, pem[0], pem[1], pem[4]);
	d[1] = d[0] ? start_tls(&sc[1], listen_b, pem[2], pem[3], pem[4]) : NULL;
	if (!d[0] || !d[1])
		goto out;
	if (admin_at) {
		struct sockaddr_in aa;

		if (parse_ipv4_port(admin_at, "127.0.0.1", &aa)) {
			log_err("bad admin address '%s'", admin_at);
			goto out;
		}
		d[2] = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
					0, NULL, NULL, handler, &sc[2],
					MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
					MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&aa,
					MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
					MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
					MHD_OPTION_END);
		if (!d[2]) {
			log_err("cannot listen on %s", admin_at);
			goto out;
		}
	}
	log_info("KME %s on %s, KME %s on %s, key rate %.0f bit/s, admin %s",
		 S.kme_id[0], listen_a, S.kme_id[1], listen_b, S.key_rate,
		 admin_at ? admin_at : "off");
	/* Readiness line for scripts (stdout). */
	printf("ready\n");
	fflush(stdout);
	while (!g_stop) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		if (g_cut || g_restore) {
			pthread_mutex_lock(&S.lock);
			update_locked();
			if (g_cut)
				S.link_up = 0;
			if (g_restore)
				S.link_up = 1;
			pthread_mutex_unlock(&S.lock);
			log_info("signal: link %s", g_restore ? "restored" : "cut");
			g_cut = g_restore = 0;
		}
	}
	log_info("stopping");
	rc = 0;
out:
	for (i = 0; i < 3; i++)
		if (d[i])
			MHD_stop_daemon(d[i]);
	for (i = 0; i < 5; i++)
		sec_free(pem[i]);
	if (S.pending)
		sec_free(S.pending);
	pthread_mutex_destroy(&S.lock);
	return rc;
}
