// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "etsi_client.h"
#include "clock.h"
#include "secmem.h"
#include "uuid.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <openssl/ssl.h>

_Static_assert(sizeof(((struct etsi_client *)0)->errbuf) >= CURL_ERROR_SIZE,
	       "errbuf must hold CURL_ERROR_SIZE bytes");

int etsi_client_global_init(void)
{
	sec_json_allocator_init();
	/* Everything libcurl allocates (its download buffer holds the
	 * decrypted reply body) is wiped when freed. */
	return curl_global_init_mem(CURL_GLOBAL_DEFAULT, sec_malloc_spare, sec_free,
				    sec_realloc_spare, sec_strdup_spare,
				    sec_calloc_spare) == CURLE_OK ? 0 : -1;
}

void etsi_client_global_cleanup(void)
{
	curl_global_cleanup();
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct etsi_client *c = ud;
	size_t n = size * nmemb;

	if (c->len + n + 1 > ETSI_BODY_MAX) {
		c->overflow = 1;
		return 0;	/* abort the transfer */
	}
	if (c->len + n + 1 > c->cap) {
		size_t ncap = c->cap ? c->cap : 4096;
		char *nb;

		while (ncap < c->len + n + 1)
			ncap *= 2;
		nb = sec_malloc(ncap);
		if (!nb)
			return 0;
		if (c->buf) {
			memcpy(nb, c->buf, c->len);
			sec_free(c->buf);	/* wipes the old copy */
		}
		c->buf = nb;
		c->cap = ncap;
	}
	memcpy(c->buf + c->len, ptr, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return n;
}

int etsi_client_set_base(struct etsi_client *c, const char *base_url)
{
	if (etsi_client_busy(c) ||
	    snprintf(c->base, sizeof(c->base), "%s", base_url) >= (int)sizeof(c->base))
		return -1;
	while (strlen(c->base) > 8 && c->base[strlen(c->base) - 1] == '/')
		c->base[strlen(c->base) - 1] = '\0';
	return 0;
}

int etsi_client_init(struct etsi_client *c, const char *base_url, const char *cert,
		     const char *key, const char *ca, long timeout_s)
{
	memset(c, 0, sizeof(*c));
	if (etsi_client_set_base(c, base_url) ||
	    snprintf(c->cert, sizeof(c->cert), "%s", cert) >= (int)sizeof(c->cert) ||
	    snprintf(c->key, sizeof(c->key), "%s", key) >= (int)sizeof(c->key) ||
	    snprintf(c->ca, sizeof(c->ca), "%s", ca) >= (int)sizeof(c->ca))
		return -1;
	c->timeout_s = timeout_s > 0 ? timeout_s : 5;
	c->curl = curl_easy_init();
	return c->curl ? 0 : -1;
}

int etsi_client_renew(struct etsi_client *c, const char *cert, const char *key,
		      const char *ca, long timeout_s)
{
	/* libcurl copied the old strings for a request in flight */
	if (snprintf(c->cert, sizeof(c->cert), "%s", cert) >= (int)sizeof(c->cert) ||
	    snprintf(c->key, sizeof(c->key), "%s", key) >= (int)sizeof(c->key) ||
	    snprintf(c->ca, sizeof(c->ca), "%s", ca) >= (int)sizeof(c->ca))
		return -1;
	c->timeout_s = timeout_s > 0 ? timeout_s : 5;
	c->fresh = 1;
	c->renewed = mono_now();
	return 0;
}

int etsi_client_set_pin(struct etsi_client *c, const char *pin)
{
	if (c->pin)
		sec_free(c->pin);
	c->pin = pin ? sec_strdup(pin) : NULL;
	return pin && !c->pin ? -1 : 0;
}

int etsi_client_set_crl(struct etsi_client *c, const char *crl_file)
{
	return snprintf(c->crl, sizeof(c->crl), "%s", crl_file ? crl_file : "") >=
	       (int)sizeof(c->crl) ? -1 : 0;
}

static void end_request(struct etsi_client *c);

void etsi_client_cleanup(struct etsi_client *c)
{
	end_request(c);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
	sec_free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
	etsi_client_set_pin(c, NULL);
}

static void wipe_reply(struct etsi_client *c)
{
	if (c->buf)
		sec_wipe(c->buf, c->cap);
	c->len = 0;
	c->overflow = 0;
}

static void end_request(struct etsi_client *c)
{
	if (c->hdr)
		curl_slist_free_all(c->hdr);
	c->hdr = NULL;
	sec_free(c->body);	/* no secrets in bodies, but cheap */
	c->body = NULL;
	free(c->ids);
	c->ids = NULL;
	c->nids = 0;
	c->kind = ETSI_REQ_NONE;
	if (c->curl)
		curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
}

/*
 * libcurl (OpenSSL backend) hands us each new SSL_CTX: make OpenSSL wipe
 * its copy of decrypted application data (key containers) as soon as it
 * was passed on.  Still not wiped: libcurl's own download buffer
 * (CURLOPT_BUFFERSIZE, freed without cleansing) - see userspace/README.md.
 */
static CURLcode ssl_ctx_cb(CURL *h, void *ssl_ctx, void *ud)
{
	(void)h;
	(void)ud;
#ifdef SSL_OP_CLEANSE_PLAINTEXT
	SSL_CTX_set_options((SSL_CTX *)ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
	return CURLE_OK;
#else
	(void)ssl_ctx;
	return CURLE_SSL_CIPHER;	/* OpenSSL < 3: refuse rather than keep plaintext */
#endif
}

/* Set up the easy handle for url; post_body (sec_malloc'd) is taken over. */
static int prepare(struct etsi_client *c, enum etsi_kind kind, const char *url, char *post_body)
{
	CURL *h = c->curl;
	struct curl_slist *hdr = NULL;

	wipe_reply(c);
	end_request(c);
	c->kind = kind;
	c->body = post_body;
	c->errbuf[0] = '\0';
	c->t0 = mono_now();
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->timeout_s < 3 ? c->timeout_s : 3L);
	/* after a renew: no connection from before it (the multi handle's
	 * cache keeps them, authenticated with the old files).  libcurl
	 * compares a connection's age in whole seconds with MAXLIFETIME: with
	 * floor(time since the renew) - 1 only connections made after the
	 * renew qualify, whichever way it rounds; in the first 2 s (where
	 * that is 0 = no limit) every request connects anew */
	if (c->fresh || (c->renewed > 0 && mono_now() - c->renewed < 2)) {
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		c->fresh = 0;
	} else if (c->renewed > 0) {
		curl_easy_setopt(h, CURLOPT_MAXLIFETIME_CONN, (long)(mono_now() - c->renewed) - 1);
	}
	curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
	curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	if (!strncmp(c->key, "pkcs11:", 7)) {
		/* the key stays in the token: OpenSSL's pkcs11 engine (p11.c) */
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "ENG");
		if (c->pin)
			curl_easy_setopt(h, CURLOPT_KEYPASSWD, c->pin);
	}
	curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	if (c->crl[0])
		curl_easy_setopt(h, CURLOPT_CRLFILE, c->crl);
	curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb) != CURLE_OK) {
		/* not the OpenSSL backend: TLS buffers would not be wiped */
		snprintf(c->errbuf, sizeof(c->errbuf), "libcurl is not built with OpenSSL");
		return ETSI_E_ARG;
	}
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* HTTP/1.1 only: nghttp2 keeps reply bytes in buffers of its own,
	 * outside libcurl's allocator. */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_PRIVATE, c);
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (post_body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, post_body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(post_body));
	}
	c->hdr = hdr;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	return ETSI_OK;
}

/* An error reply without the spec's JSON body: say what it was (length
 * and content type, never its bytes). */
static void describe_body(const struct etsi_reply *r, struct etsi_result *res)
{
	char type[48];
	size_t i;

	if (!r->len) {
		snprintf(res->msg, sizeof(res->msg), "HTTP %ld (empty body)", r->http_code);
		return;
	}
	snprintf(type, sizeof(type), "%s", r->content_type ? r->content_type : "no content type");
	for (i = 0; type[i]; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+.-;= ",
			    type[i]))
			type[i] = '?';
	snprintf(res->msg, sizeof(res->msg), "HTTP %ld (no ETSI error body: %zu bytes, %s)",
		 r->http_code, r->len, type);
}

/* After the transfer: ETSI_OK, or the transport's error (the reply is
 * then wiped). */
static int complete(struct etsi_client *c, CURLcode cc, struct etsi_result *res)
{
	long code = 0;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
	res->http_code = code;
	res->latency_s = mono_now() - c->t0;
	if (c->overflow) {
		snprintf(res->msg, sizeof(res->msg), "reply larger than %u bytes", ETSI_BODY_MAX);
		wipe_reply(c);
		return ETSI_E_PROTO;
	}
	if (cc != CURLE_OK) {
		res->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
		snprintf(res->msg, sizeof(res->msg), "%s: %s", curl_easy_strerror(cc),
			 c->errbuf[0] ? c->errbuf : "-");
		wipe_reply(c);
		return ETSI_E_TRANSPORT;
	}
	return ETSI_OK;
}

static int make_url(struct etsi_client *c, char *url, size_t sz, const char *sae,
		    const char *what, const char *query)
{
	char *esc = curl_easy_escape(c->curl, sae, 0);
	int n;

	if (!esc)
		return -1;
	n = snprintf(url, sz, "%s/api/v1/keys/%s/%s%s%s", c->base, esc, what,
		     query ? "?" : "", query ? query : "");
	curl_free(esc);
	return (n < 0 || (size_t)n >= sz) ? -1 : 0;
}

static void res_init(struct etsi_result *res)
{
	memset(res, 0, sizeof(*res));
}

void *etsi_client_handle(struct etsi_client *c)
{
	return c->curl;
}

int etsi_client_busy(const struct etsi_client *c)
{
	return c->kind != ETSI_REQ_NONE;
}

void etsi_abort(struct etsi_client *c)
{
	wipe_reply(c);
	end_request(c);
}

int etsi_start_status(struct etsi_client *c, const char *slave_sae)
{
	char url[1024];

	if (make_url(c, url, sizeof(url), slave_sae, "status", NULL))
		return ETSI_E_ARG;
	return prepare(c, ETSI_REQ_STATUS, url, NULL);
}

int etsi_start_enc_keys(struct etsi_client *c, const char *slave_sae, int number,
			int size_bits, int use_get)
{
	struct etsi_key_request rq = { .number = number, .size = size_bits };
	char url[1024], q[64];
	char *body = NULL;
	int rc;

	if (number < 0 || size_bits < 0 || size_bits % 8)
		return ETSI_E_ARG;
	if (use_get) {
		int n = 0;

		q[0] = '\0';
		if (number > 0)
			n = snprintf(q, sizeof(q), "number=%d", number);
		if (size_bits > 0)
			snprintf(q + n, sizeof(q) - (size_t)n, "%ssize=%d", n ? "&" : "", size_bits);
		if (make_url(c, url, sizeof(url), slave_sae, "enc_keys", q[0] ? q : NULL))
			return ETSI_E_ARG;
	} else {
		if (make_url(c, url, sizeof(url), slave_sae, "enc_keys", NULL))
			return ETSI_E_ARG;
		body = etsi_key_request_encode(&rq);
		if (!body)
			return ETSI_E_ARG;
	}
	rc = prepare(c, ETSI_REQ_ENC, url, body);
	c->number = number;
	c->expect_bytes = size_bits > 0 ? (size_t)size_bits / 8 : 0;
	return rc;
}

int etsi_start_dec_keys(struct etsi_client *c, const char *master_sae,
			const uint8_t (*ids)[16], size_t n, int use_get)
{
	char url[1024];
	char *body = NULL;
	uint8_t (*copy)[16];
	int rc;

	if (n == 0 || n > ETSI_KEYS_MAX || (use_get && n != 1))
		return ETSI_E_ARG;
	if (use_get) {
		char q[16 + UUID_STR_LEN];
		char idstr[UUID_STR_LEN + 1];

		uuid_format(ids[0], idstr);
		snprintf(q, sizeof(q), "key_ID=%s", idstr);
		if (make_url(c, url, sizeof(url), master_sae, "dec_keys", q))
			return ETSI_E_ARG;
	} else {
		struct etsi_key_ids kid = { .n = n, .ids = (uint8_t (*)[16])ids };

		if (make_url(c, url, sizeof(url), master_sae, "dec_keys", NULL))
			return ETSI_E_ARG;
		body = etsi_key_ids_encode(&kid);
		if (!body)
			return ETSI_E_ARG;
	}
	copy = malloc(n * 16);
	if (!copy) {
		sec_free(body);
		return ETSI_E_ARG;
	}
	memcpy(copy, ids, n * 16);
	rc = prepare(c, ETSI_REQ_DEC, url, body);
	c->ids = copy;
	c->nids = n;
	return rc;
}

/* The IDs a dec_keys asked for, and where to count the others. */
struct asked {
	const struct etsi_reply *r;
	struct etsi_keys_report *rep;
};

static int not_asked(const struct etsi_key *k, size_t idx, void *arg)
{
	struct asked *ak = arg;
	size_t i;

	(void)idx;
	for (i = 0; i < ak->r->nids; i++)
		if (!memcmp(k->id, ak->r->ids[i], 16))
			return 0;
	ak->rep->dropped[ETSI_DROP_NOT_ASKED]++;
	if (ak->rep->ndropped++ == 0)
		snprintf(ak->rep->first, sizeof(ak->rep->first), "a key_ID that was not asked for");
	return 1;
}

int etsi_reply_decode(const struct etsi_reply *r, struct etsi_status *st,
		      struct etsi_keys *out, struct etsi_result *res)
{
	struct asked ak = { r, &res->rep };

	if (out) {
		out->n = 0;
		out->keys = NULL;
	}
	if (r->http_code != 200) {
		if (etsi_error_decode(r->body, r->len, &res->error) == 0) {
			res->error_body = 1;
			snprintf(res->msg, sizeof(res->msg), "HTTP %ld: %s%s%s", r->http_code,
				 res->error.message, res->error.details[0] ? " " : "",
				 res->error.details);
		} else {
			describe_body(r, res);
		}
		return ETSI_E_HTTP;
	}
	if (r->kind == ETSI_REQ_STATUS)
		return st && etsi_status_decode(r->body, r->len, st, res->msg,
						sizeof(res->msg)) == 0 ? ETSI_OK : ETSI_E_PROTO;
	if (r->kind != ETSI_REQ_ENC && r->kind != ETSI_REQ_DEC)
		return ETSI_E_ARG;
	if (!out || etsi_keys_decode_partial(r->body, r->len,
					     r->kind == ETSI_REQ_ENC ? r->expect_bytes : 0, out,
					     &res->rep, res->msg, sizeof(res->msg)))
		return ETSI_E_PROTO;
	/* dec_keys: only keys asked for */
	if (r->kind == ETSI_REQ_DEC)
		etsi_keys_remove_if(out, not_asked, &ak);
	return ETSI_OK;
}

int etsi_finish(struct etsi_client *c, int curl_code, struct etsi_status *st,
		struct etsi_keys *out, struct etsi_result *res)
{
	struct etsi_reply r = { .kind = c->kind, .body = c->buf, .len = c->len,
				.expect_bytes = c->expect_bytes,
				.ids = (const uint8_t (*)[16])c->ids, .nids = c->nids };
	char *ct = NULL;
	int rc;

	res_init(res);
	if (out) {
		out->n = 0;
		out->keys = NULL;
	}
	if (r.kind == ETSI_REQ_NONE)
		return ETSI_E_ARG;
	if (r.kind == ETSI_REQ_ENC)
		res->asked = c->number;
	rc = complete(c, (CURLcode)curl_code, res);
	if (rc == ETSI_OK) {
		curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct);
		r.http_code = res->http_code;
		r.content_type = ct;
		rc = etsi_reply_decode(&r, st, out, res);
	}
	wipe_reply(c);
	end_request(c);
	return rc;
}

static int run_sync(struct etsi_client *c, struct etsi_status *st, struct etsi_keys *out,
		    struct etsi_result *res)
{
	CURLcode cc = curl_easy_perform(c->curl);

	return etsi_finish(c, (int)cc, st, out, res);
}

int etsi_get_status(struct etsi_client *c, const char *slave_sae, struct etsi_status *st,
		    struct etsi_result *res)
{
	res_init(res);
	if (etsi_start_status(c, slave_sae))
		return ETSI_E_ARG;
	return run_sync(c, st, NULL, res);
}

int etsi_get_enc_keys(struct etsi_client *c, const char *slave_sae, int number,
		      int size_bits, int use_get, struct etsi_keys *out,
		      struct etsi_result *res)
{
	res_init(res);
	out->n = 0;
	out->keys = NULL;
	if (etsi_start_enc_keys(c, slave_sae, number, size_bits, use_get))
		return ETSI_E_ARG;
	return run_sync(c, NULL, out, res);
}

int etsi_get_dec_keys(struct etsi_client *c, const char *master_sae,
		      const uint8_t (*ids)[16], size_t n, int use_get,
		      struct etsi_keys *out, struct etsi_result *res)
{
	res_init(res);
	out->n = 0;
	out->keys = NULL;
	if (etsi_start_dec_keys(c, master_sae, ids, n, use_get))
		return ETSI_E_ARG;
	return run_sync(c, NULL, out, res);
}
