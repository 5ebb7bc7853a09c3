/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * qkd-kms-sim: two simulated ETSI GS QKD 014 key managers (KME A, KME B)
 * sharing one simulated QKD link.  HTTPS with mutual TLS via libmicrohttpd
 * (GnuTLS); each SAE is identified by its client certificate's CN.
 *
 * The simulator's internal interface.  Where things live:
 *   main.c         command line, TLS files, daemons, signals (cut/restore)
 *   http.c         libmicrohttpd glue: request bodies, replies, error
 *                  counters, the HTTPS and admin daemons
 *   auth.c         the SAE ID from a verified client certificate
 *   api.c          the ETSI API: status, enc_keys, dec_keys
 *   store.c        keys issued to a master, waiting for its slave
 *   link_model.c   the simulated QKD link: key rate, QBER, stored bits
 *   admin.c        the plain-HTTP admin endpoint (tests drive the link)
 *   parse.c        what clients send, parsed (paths, queries, bodies,
 *                  deviation names): pure, fuzzed by tests/fuzz_kms_req.c
 *   deviation.c    switchable deviations of real KMEs (--deviation)
 *   replica.c      the KMEs' HTTPS endpoints and replicas (--listen-a2)
 *
 * One state, S, shared by libmicrohttpd's threads: every field below
 * the configuration is read and written under S.lock (functions named
 * *_locked expect the caller to hold it).
 */
#ifndef QKD_KMS_SIM_H
#define QKD_KMS_SIM_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>
#include <jansson.h>
#include "etsi.h"

#define MAX_SAES	8

/* Deviations of real KMEs (deviation.c, qkd-kms-sim(8)). */
enum {
	DEV_STATUS_PENDING = 1 << 0,	/* stored_key_count: keys waiting for the slave */
	DEV_STATUS_ZERO = 1 << 1,	/* stored_key_count: always 0 */
	DEV_DISCARD_UNFETCHED = 1 << 2,	/* enc_keys drops the pair's unfetched keys */
	DEV_IGNORE_NUMBER = 1 << 3,	/* enc_keys: one key, whatever number says */
	DEV_IGNORE_SIZE = 1 << 4,	/* enc_keys: the default size, whatever size says */
	DEV_ODD_SIZE = 1 << 5,		/* size not a multiple of 8: rounded up, no 400 */
	DEV_401_UNKNOWN_ID = 1 << 6,	/* dec_keys of an unknown ID: 401, not 400 */
	DEV_HTML_ERRORS = 1 << 7,	/* error bodies are an HTML page */
	DEV_EMPTY_ERRORS = 1 << 8,	/* error bodies are empty */
	DEV_HANG = 1 << 9,		/* API requests get no answer, connection kept */
	DEV_MALFORMED_JSON = 1 << 10,	/* key replies are broken JSON */
	DEV_BAD_ENTRIES = 1 << 11,	/* every 4th key entry of key replies is bad */
};
#define REQ_BODY_MAX	(64 * 1024)

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
	unsigned dev;			/* DEV_* (atomic: read without the lock) */
	double avail_bits;
	double last;			/* monotonic s of the last update */
	/* issued to a master, waiting for the slave */
	struct pending_key *pending;	/* sec_calloc'd max_pending entries */
	int npending;
	/* counters */
	unsigned long long served_enc, served_dec, errors_400, errors_401, errors_503,
		injected_fail, expired;
	/* deviations at work: keys dropped by discard-unfetched, keys made
	 * unusable in replies (bad-entries, malformed-json), requests hung */
	unsigned long long discarded, spoilt_keys, hung;
	/* test-only (QKD_KMS_SIM_TEST_SEED): keys derived from this seed,
	 * test_keys_issued of them so far (selftests/ramscan) */
	int test_seeded;
	uint8_t test_seed[32];
	unsigned long long test_keys_issued;
};

extern struct sim S;

/* Which endpoint a daemon serves (its libmicrohttpd closure). */
struct site_ctx {
	int site;	/* 0: KME A, 1: KME B, 2: admin */
};

/* A request's body, collected as libmicrohttpd hands it over. */
struct req {
	char *body;		/* sec_malloc'd, NUL-terminated */
	size_t len;
	int too_big;		/* over REQ_BODY_MAX: refused, body dropped */
	int hung;		/* suspended by the hang deviation */
};

/* link_model.c */
/* Start with initial_keys stored (capped at max_key_count). */
void link_init(double initial_keys);
/* Advance the link to now (and expire old pending keys). */
void update_locked(void);
/* Secret bits per second the link delivers now. */
double eff_rate_locked(void);
int stored_keys_locked(void);

/* store.c */
/* Take the test seed from the environment (and clear it there).
 * Returns 0 (seeded or not) or -1 with why (a malformed seed). */
int store_test_seed_from_env(char *why, size_t whysz);
int store_init(void);
void store_free(void);
/* Drop the keys their slave did not fetch within pending_ttl. */
void store_expire_locked(double now);
/* Generate number keys of size bits into ks and keep copies for the
 * slave.  The caller checked there is room.  Returns 0, or -1 with why. */
int store_issue_locked(struct etsi_keys *ks, int number, int size, int master, int slave,
		       char *why, size_t whysz);
/* Hand out the keys ids names, all or none: each must be pending for
 * this master and slave.  Fills ks and deletes the keys, or returns -1
 * with *missing the index of the first ID that is not. */
int store_take_locked(const struct etsi_key_ids *ids, int slave, int master,
		      struct etsi_keys *ks, size_t *missing);
/* Keys of this pair waiting for the slave. */
int store_pending_locked(int master, int slave);
/* Drop (wipe) them; returns how many (discard-unfetched). */
int store_discard_locked(int master, int slave);
/* Wipe every pending key. */
void store_flush_locked(void);

/* http.c */
/* Queue s (sec_malloc'd JSON, freed here) as the reply. */
enum MHD_Result send_buf(struct MHD_Connection *c, unsigned int code, char *s);
/* An ETSI error reply, counted and logged (details: printf format). */
enum MHD_Result send_err(struct MHD_Connection *c, unsigned int code, const char *msg,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* j (reference taken) as a JSON line. */
enum MHD_Result send_json(struct MHD_Connection *c, unsigned int code, json_t *j);
struct MHD_Daemon *start_tls(struct site_ctx *sc, const char *listen, const char *cert,
			     const char *key, const char *ca);
struct MHD_Daemon *start_admin(struct site_ctx *sc, const char *listen);

/* auth.c */
/* CN of the connection's verified client certificate: 0, or -1. */
int client_cn(struct MHD_Connection *c, char *cn, size_t cnsz);

/* api.c */
enum MHD_Result api(struct MHD_Connection *c, int site, const char *url, const char *method,
		    struct req *rq);
/* Index of the SAE with this ID, or -1. */
int find_sae(const char *id);

/* admin.c */
enum MHD_Result admin(struct MHD_Connection *c, const char *url);

/* deviation.c */
unsigned deviations(void);		/* the DEV_* bits now */
/* An error reply without the ETSI body: an HTML page, or empty. */
enum MHD_Result send_raw_error(struct MHD_Connection *c, unsigned int code, int html);
/* The body of a key reply as the deviations shape it (sec_malloc'd). */
char *deviation_keys_reply(const struct etsi_keys *ks);
/* Suspend the connection without an answer (hang). */
enum MHD_Result deviation_hang(struct MHD_Connection *c, struct req *rq);
/* Resume every hung connection (closed without an answer). */
void deviation_release_hung(void);

/* parse.c: no libmicrohttpd, no S. */
/* A query argument's value (already URL-decoded), or NULL if absent:
 * libmicrohttpd's in the daemon, a table in the fuzzer. */
typedef const char *(*arg_fn)(void *ctx, const char *name);
/* A number in min..max, the whole string: 0, or -1 (out untouched). */
int parse_double_in(const char *s, double min, double max, double *out);
/* "/api/v1/keys/{SAE}/...": 0 with the SAE ID in target and *rest at the
 * '/' after it; -1 not under the API prefix, -2 no or too long an ID. */
int api_parse_path(const char *url, char target[ETSI_ID_MAX], const char **rest);
enum api_op { API_STATUS, API_ENC, API_DEC, API_UNKNOWN };
enum api_op api_op_of(const char *rest);
/* enc_keys: the POST body, or GET's number and size (NULL: absent).
 * 0, or -1 with why (a 400). */
int enc_request_parse(int is_post, const char *body, size_t len, const char *number,
		      const char *size, struct etsi_key_request *kr, char *why, size_t whysz);
/* dec_keys: the POST body, or GET's key_ID (NULL: absent).  0 with ids
 * to free (etsi_key_ids_free), or -1 (a 400) / -2 (a 503) with why. */
int dec_request_parse(int is_post, const char *body, size_t len, const char *key_id,
		      struct etsi_key_ids *ids, char *why, size_t whysz);
enum admin_op {
	ADMIN_LINK, ADMIN_QBER, ADMIN_RATE, ADMIN_FAIL, ADMIN_FILL, ADMIN_FLUSH,
	ADMIN_DEVIATION, ADMIN_REPLICA, ADMIN_STATUS, ADMIN__N /* unknown path */
};
/* An admin request; which fields hold what depends on op. */
struct admin_cmd {
	enum admin_op op;
	double v;		/* link up, qber value, rate bits, fail fraction,
				 * fill keys, replica up */
	double v2;		/* qber drift */
	int has_v, has_v2;	/* qber: which of the two were given */
	unsigned dev;		/* deviation: DEV_* bits */
	const char *name;	/* replica: the endpoint (the query's string) */
};
/* NULL with cmd filled (op ADMIN__N: unknown path), or what the request
 * lacks (a 400). */
const char *admin_parse(const char *url, arg_fn arg, void *ctx, struct admin_cmd *cmd);
/* "a,b,...": 0 with *out the DEV_* bits, or -1 (an unknown name). */
int deviation_parse(const char *list, unsigned *out);
void deviation_format(unsigned v, char *out, size_t outsz);
const char *deviation_names(void);	/* every name, comma-separated */

/* replica.c */
/* Start the endpoints a, b, a2, b2 whose listen address is not NULL, with
 * site 0's or 1's certificate and key (PEM text, kept). 0, or -1. */
int replicas_start(const char *const listen[4], const char *const cert[2],
		   const char *const key[2], const char *ca);
/* Stop (up 0) or start (up 1) endpoint name: 0, -1 no such endpoint,
 * -2 it did not start. */
int replica_set(const char *name, int up);
void replicas_stop(void);
json_t *replicas_json(void);	/* {"a":true,...} */

#endif
