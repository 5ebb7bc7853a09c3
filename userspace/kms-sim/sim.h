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
	double avail_bits;
	double last;			/* monotonic s of the last update */
	/* issued to a master, waiting for the slave */
	struct pending_key *pending;	/* sec_calloc'd max_pending entries */
	int npending;
	/* counters */
	unsigned long long served_enc, served_dec, errors_400, errors_401, errors_503,
		injected_fail, expired;
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

/* main.c */
/* A number in min..max, the whole string: 0, or -1 (out untouched). */
int parse_double_in(const char *s, double min, double max, double *out);

#endif
