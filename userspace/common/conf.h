/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * qkd-agent configuration: an INI-style file.
 *
 *   # comment
 *   [agent]                      optional, global settings
 *   metrics_listen = 127.0.0.1:9464
 *   [link NAME]                  one section per module link
 *   kme_url = https://kme-a:8443
 *   local_sae_id = SAE_A
 *   ...
 *
 * conf_load() validates everything and reports the first problem as
 * "file:line: reason".
 *
 * Hand-written rather than on libinih, because Debian 12's libinih1 (r55)
 * is built with its header defaults, which this format cannot live with:
 * INI_HANDLER_LINENO 0 (the handler gets no line number, so a bad value
 * could not be reported as file:line), INI_MAX_LINE 200 (a kme_url list
 * of 4 replicas or a pkcs11: URI is longer), INI_ALLOW_MULTILINE 1 (an
 * indented line silently continues the previous value) and inline ';'
 * comments (a value with " ;" is cut).  The parser here is one function
 * over a buffer, fuzzed by userspace/tests/fuzz_conf.c, and refuses what
 * inih would accept silently: duplicate keys, NUL bytes, over-long lines.
 */
#ifndef QKD_CONF_H
#define QKD_CONF_H
#include <stddef.h>
#include <stdint.h>

#define CONF_PATH_MAX	256
#define CONF_URL_MAX	256
#define CONF_NAME_MAX	32	/* = QKD_LINK_NAME_MAX (asserted in conf.c) */
#define CONF_SAE_MAX	64	/* = QKD_SAE_ID_MAX (asserted in conf.c) */
#define CONF_LINKS_MAX	64
#define CONF_KMES_MAX	4	/* kme_url replicas per link */
/* where the strongSwan plugin writes its counters by default
 * (charon.plugins.qkd.metrics_file) */
#define CONF_PLUGIN_METRICS_DEFAULT "/run/qkd/charon-plugin.prom"

enum conf_role { ROLE_BOTH = 0, ROLE_MASTER, ROLE_SLAVE };
/* Keep a pool ahead of demand (yes), fetch just in time (no), or keep a
 * pool until the KME is seen discarding unfetched keys (auto). */
enum conf_prefetch { PREFETCH_AUTO = 0, PREFETCH_YES, PREFETCH_NO };

struct conf_link {
	int line;			/* of the [link] header */
	int cert_line, key_line, ca_line, crl_line;	/* of client_cert, client_key, ca_cert, crl_file */
	char name[CONF_NAME_MAX];
	/* kme_url: one or more replicas of this site's KME (the same key
	 * store), tried in this order; each without trailing '/' */
	char kme_urls[CONF_KMES_MAX][CONF_URL_MAX];
	unsigned nkmes;
	const char *kme_url;		/* = kme_urls[0] (never copy a conf_link) */
	uint32_t kme_failback;		/* s on a replica before the first is tried again */
	char local_sae_id[CONF_SAE_MAX];
	char remote_sae_id[CONF_SAE_MAX];
	char client_cert[CONF_PATH_MAX];
	char client_key[CONF_PATH_MAX];	/* a PEM file, or a pkcs11: URI (p11.c) */
	char client_key_pin_file[CONF_PATH_MAX];	/* the token's PIN ("": none) */
	char ca_cert[CONF_PATH_MAX];
	char crl_file[CONF_PATH_MAX];	/* PEM CRL(s) of ca_cert's CA for the KME's certificate ("": none) */
	enum conf_role role;
	uint32_t key_size;		/* bits, multiple of 8, 128..512 */
	uint32_t low_watermark;		/* initiator keys; refill below it */
	uint32_t high_watermark;	/* refill up to it */
	uint32_t batch;			/* keys per enc_keys request (0: KME's max) */
	/* Module link limits, 0 = module default. */
	uint32_t max_keys, max_bytes, key_ttl, rate, burst;
	uint32_t poll_interval;		/* s, pool-level check without notification */
	uint32_t request_timeout;	/* s, one HTTPS request */
	uint32_t backoff_base_ms, backoff_max_ms;
	double expected_key_rate;	/* keys/s delivered, 0: learn baseline */
	double rate_drift;		/* warn when rate falls below (1-x)*expected */
	double qber_threshold;		/* warn when KME-reported QBER passes it */
	double error_rate_threshold;	/* warn when failed/total requests passes it */
	int require_cn_match;		/* client_cert CN must equal local_sae_id */
	enum conf_prefetch prefetch;
	uint32_t jit_grace;		/* s: just in time, wait after a take */
};

struct conf {
	char file[CONF_PATH_MAX];
	char metrics_listen[64];	/* "" = off */
	int log_level;			/* 0 err,1 warn,2 info,3 debug */
	uint32_t stats_interval;	/* s, drift evaluation / stats log period */
	int audit_journal;		/* take records to the journal (auditlog.c) */
	uint32_t audit_interval;	/* s, between two reads of the audit ring */
	uint32_t audit_settle;		/* s, a record without SPIs is written then */
	uint32_t cert_warn_days;	/* warn this many days before client_cert expires (0: never) */
	char plugin_metrics[CONF_PATH_MAX];	/* the charon plugin's metrics file, "" = off */
	size_t nlinks;
	struct conf_link links[CONF_LINKS_MAX];
};

/* Returns 0, or -1 with "file:line: reason" in err. */
int conf_load(const char *path, struct conf *c, char *err, size_t errsz);
int conf_parse_buf(const char *name, const char *buf, size_t len, struct conf *c,
		   char *err, size_t errsz);
void conf_link_defaults(struct conf_link *l);
const struct conf_link *conf_find(const struct conf *c, const char *name);
/* Load every link's client certificate, key and CA file with OpenSSL:
 * PEM syntax, key matches certificate, unencrypted key, certificate not
 * expired, CA file holds at least one certificate, and (require_cn_match,
 * the default) the certificate's CN equals local_sae_id.  Returns 0, or -1
 * with "file:line: reason" naming the config line. */
int conf_check_tls(const struct conf *c, char *err, size_t errsz);
/* notAfter of a PEM certificate file, in seconds since the epoch.  0 or -1. */
int conf_cert_not_after(const char *path, int64_t *t);

#endif
