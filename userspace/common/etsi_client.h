/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ETSI GS QKD 014 v1.1.1 client (SAE side) over HTTPS with mutual TLS:
 * libcurl built with OpenSSL, one easy handle per client (connection reuse).
 *
 * Two ways to use it:
 *  - synchronous: etsi_get_status / etsi_get_enc_keys / etsi_get_dec_keys;
 *  - asynchronous: etsi_start_* prepares the easy handle (etsi_client_handle)
 *    for a curl multi handle; when the transfer is done, etsi_finish_*
 *    with its CURLcode decodes the reply.  One request at a time per client.
 */
#ifndef QKD_ETSI_CLIENT_H
#define QKD_ETSI_CLIENT_H
#include "etsi.h"

enum etsi_rc {
	ETSI_OK = 0,
	ETSI_E_TRANSPORT = -1,	/* connect / TLS / timeout: KME unreachable */
	ETSI_E_HTTP = -2,	/* KME answered 4xx/5xx: see http_code, error */
	ETSI_E_PROTO = -3,	/* reply malformed */
	ETSI_E_ARG = -4,	/* bad arguments, nothing sent */
};

enum etsi_kind { ETSI_REQ_NONE, ETSI_REQ_STATUS, ETSI_REQ_ENC, ETSI_REQ_DEC };

struct etsi_result {
	long http_code;		/* 0 if none */
	double latency_s;	/* of the whole request */
	int timed_out;		/* ETSI_E_TRANSPORT: no answer within the timeout */
	int error_body;		/* ETSI_E_HTTP: 1 ETSI error JSON, 0 none (empty,
				 * HTML, ...): see msg */
	struct etsi_error error; /* for ETSI_E_HTTP, when the body parsed */
	/* ENC/DEC with ETSI_OK: what the reply held beside the keys kept
	 * (bad entries, and for dec_keys IDs not asked for: dropped, wiped) */
	struct etsi_keys_report rep;
	int asked;		/* ENC: number of keys asked (0: KME default) */
	char msg[640];		/* human readable, never key material */
};

struct etsi_client {
	void *curl;
	char base[512];		/* "https://host:port" (+ path prefix) */
	char cert[256], key[256], ca[256];
	char crl[256];		/* CRL file for the KME's certificate ("": none) */
	long timeout_s;
	char *buf;		/* sec_malloc'd reply buffer, wiped per request */
	size_t len, cap;
	int overflow;
	/* the request in flight */
	enum etsi_kind kind;
	char *body;		/* sec_malloc'd POST body */
	void *hdr;		/* struct curl_slist * */
	char errbuf[256];	/* CURL_ERROR_SIZE */
	double t0;
	int number;		/* enc: keys asked (0: default) */
	size_t expect_bytes;	/* enc: bytes per key (0: any) */
	uint8_t (*ids)[16];	/* dec: IDs asked */
	size_t nids;
	int fresh;		/* the next request opens a new connection */
	char *pin;		/* a pkcs11: key's PIN (wiping heap), or NULL */
	double renewed;		/* mono time of the last renew (0: never) */
};

/* Process-wide: curl_global_init_mem with the wiping allocator of
 * secmem.h (libcurl's download buffers hold reply bodies), and the wiping
 * jansson allocator.  Requests use HTTP/1.1 only (no HTTP/2 buffers). */
int etsi_client_global_init(void);
void etsi_client_global_cleanup(void);

int etsi_client_init(struct etsi_client *c, const char *base_url, const char *cert,
		     const char *key, const char *ca, long timeout_s);
void etsi_client_cleanup(struct etsi_client *c);
/* New TLS files and timeout (a configuration reload) from the next
 * request on; that request opens a new connection, and connections opened
 * before this call are not reused, so that the files are read again even
 * at the same paths (a renewed certificate). -1 if a path is too long. */
int etsi_client_renew(struct etsi_client *c, const char *cert, const char *key,
		      const char *ca, long timeout_s);
/* The PIN of a pkcs11: client key (copied into the wiping heap; NULL: none),
 * handed to libcurl as CURLOPT_KEYPASSWD.  -1 out of memory. */
int etsi_client_set_pin(struct etsi_client *c, const char *pin);
/* Check the KME's certificate against the CRLs in this PEM file ("" or
 * NULL: none) from the next request on.  -1 if the path is too long. */
int etsi_client_set_crl(struct etsi_client *c, const char *crl_file);
/* Talk to another KME from the next request on (a replica: same keys).
 * -1 if a request is in flight or the URL is too long. */
int etsi_client_set_base(struct etsi_client *c, const char *base_url);

/* Synchronous requests. */
int etsi_get_status(struct etsi_client *c, const char *slave_sae, struct etsi_status *st,
		    struct etsi_result *res);
/* size_bits 0: KME default.  use_get: GET with query instead of POST. */
int etsi_get_enc_keys(struct etsi_client *c, const char *slave_sae, int number,
		      int size_bits, int use_get, struct etsi_keys *out,
		      struct etsi_result *res);
/* use_get only with n == 1 (GET ?key_ID=). */
int etsi_get_dec_keys(struct etsi_client *c, const char *master_sae,
		      const uint8_t (*ids)[16], size_t n, int use_get,
		      struct etsi_keys *out, struct etsi_result *res);

/* Asynchronous requests: start returns ETSI_OK or ETSI_E_ARG. */
void *etsi_client_handle(struct etsi_client *c);	/* CURL * */
int etsi_client_busy(const struct etsi_client *c);
int etsi_start_status(struct etsi_client *c, const char *slave_sae);
int etsi_start_enc_keys(struct etsi_client *c, const char *slave_sae, int number,
			int size_bits, int use_get);
int etsi_start_dec_keys(struct etsi_client *c, const char *master_sae,
			const uint8_t (*ids)[16], size_t n, int use_get);
/* curl_code: the transfer's CURLcode.  For ETSI_REQ_STATUS fills st, for
 * ENC/DEC fills out (wiped and freed by etsi_keys_free).  Ends the request.
 * Key replies are taken partially: every usable key is kept (the KME has
 * handed them out), bad entries are dropped and counted in res->rep; the
 * number of keys need not be the number asked (res->asked), and dec_keys
 * keys whose ID was not asked for are dropped (ETSI_DROP_NOT_ASKED).  Only
 * a body that is unusable as a whole is ETSI_E_PROTO. */
int etsi_finish(struct etsi_client *c, int curl_code, struct etsi_status *st,
		struct etsi_keys *out, struct etsi_result *res);
/* What etsi_finish knows of a finished transfer: the pure half of it,
 * apart from libcurl so that tests and the fuzzer feed replies directly. */
struct etsi_reply {
	enum etsi_kind kind;
	long http_code;
	const char *body;		/* need not be NUL-terminated */
	size_t len;
	const char *content_type;	/* NULL: none */
	size_t expect_bytes;		/* ENC: bytes per key (0: any) */
	const uint8_t (*ids)[16];	/* DEC: the IDs asked */
	size_t nids;
};
/* Decode a reply as etsi_finish does (same return codes); res must be
 * initialised by the caller (http_code and latency are not touched). */
int etsi_reply_decode(const struct etsi_reply *r, struct etsi_status *st,
		      struct etsi_keys *out, struct etsi_result *res);
/* Abandon the request in flight (after removing the handle from a multi). */
void etsi_abort(struct etsi_client *c);

#endif
