/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * qkd-agent: keeps each configured link of the qkd kernel module supplied
 * with keys from an ETSI GS QKD 014 key manager.
 *  - master role: keeps the link's initiator pool between the low and high
 *    watermark with enc_keys, woken by the module's low-watermark
 *    notification (and a slow poll as a fallback);
 *  - slave role: answers key-wanted notifications with dec_keys by ID.
 * Single-threaded: one curl_multi_poll() loop waits on the netlink notify
 * socket, the metrics socket and every ETSI transfer in flight (libcurl
 * multi interface), so a slow KME never delays notifications.  Each link
 * has two clients: master side (status, enc_keys) and slave side
 * (dec_keys), so a key-wanted fetch never waits behind a refill.
 *
 * The agent's internal interface.  Where things live:
 *   main.c         command line, configuration, start-up and shutdown
 *   loop.c         the event loop: key store (re)connect, each link's step,
 *                  how long to sleep, finished transfers, notifications
 *   request.c      a link's ETSI requests: start, account, back off, finish
 *   refill.c       master role: KME status, enc_keys refills of the pool
 *   fetch.c        slave role: key-wanted IDs, dec_keys fetches by ID
 *   inject.c       held keys into the key store: at most once, IDs
 *                  injected lately, keys to wipe instead
 *   drift.c        periodic checks: link liveness, key rate, QBER and
 *                  request error rate against their thresholds
 *   metrics.c      Prometheus endpoint
 *   sink_netlink.c, sink_dry.c   the key stores (see sink.h)
 */
#ifndef QKD_AGENT_H
#define QKD_AGENT_H
#include <signal.h>
#include <stdint.h>
#include "backoff.h"
#include "conf.h"
#include "etsi_client.h"
#include "sink.h"
#include "../../include/uapi/linux/qkd.h"

#define WANTED_MAX	512
#define RECENT_MAX	4096	/* IDs injected lately, per link */

enum req_result { RQ_OK, RQ_HTTP_4XX, RQ_HTTP_503, RQ_TRANSPORT, RQ_PROTO, RQ__N };

struct wanted {
	uint8_t id[16];
	double since;
};

struct link {
	const struct conf_link *cfg;
	/* Two clients so a key-wanted fetch never waits behind a refill. */
	struct etsi_client kme_m;	/* master side: status, enc_keys */
	struct etsi_client kme_s;	/* slave side: dec_keys */
	/* sink */
	int created;
	uint32_t level;
	int level_valid;
	double next_poll;
	int refill;
	double next_master, next_slave, next_status, next_create;
	struct backoff bo_master, bo_slave, bo_status, bo_create;
	/* keys fetched but not yet accepted by the sink, by QKD_KEY_ROLE_* */
	struct etsi_keys held[3];
	size_t held_off[3];
	double held_since[3];
	double held_next[3];	/* next inject attempt after a failure */
	int held_failures[3];
	/* slave role */
	struct wanted wanted[WANTED_MAX];
	int nwanted;
	int single;		/* fetch this many wanted IDs one by one */
	uint8_t (*recent)[16];
	unsigned recent_head, recent_n;
	/* KME status */
	struct etsi_status st;
	int st_valid;
	/* counters (metrics) */
	uint64_t obtained[3], injected[3];	/* by QKD_KEY_ROLE_* */
	uint64_t inject_errors, dup_skipped, dropped;
	uint64_t maybe_delivered;	/* dropped: sent, outcome unknown */
	int id_ok, id_mismatch;	/* KME status named the configured SAE IDs / others */
	uint64_t wanted_total, wanted_failed, wanted_expired, wanted_dup;
	uint64_t lowwm_events, links_created;
	uint64_t req[RQ__N];
	double lat_sum, lat_last;
	uint64_t lat_count;
	/* drift */
	uint64_t iv_obtained, iv_req, iv_fail;
	int iv_demand;
	double rate, rate_baseline;
	int warn_rate, warn_qber, warn_err;
};

struct agent {
	struct conf *conf;
	struct sink sink;
	int sink_ok;
	double next_sink_open;
	struct backoff bo_sink;
	struct link *links;
	size_t nlinks;
	double next_stats, last_stats;
	void *metrics;		/* struct MHD_Daemon */
	void *multi;		/* CURLM: all ETSI requests in flight */
	double started;
};

static inline double ms_to_s(uint32_t ms)
{
	return ms / 1000.0;
}

/* main.c: set by the signal handler, read by the loop. */
extern volatile sig_atomic_t agent_stop_requested, agent_reload_requested;

/* loop.c */
/* Run until agent_stop_requested (or the poll itself fails). */
void agent_run(struct agent *a);
/* The key store failed as a whole: reconnect, recreate every link. */
void sink_lost(struct agent *a, const char *why);

/* request.c */
/* Count a finished request of l by its result (metrics, drift). */
void request_record(struct link *l, int rc, const struct etsi_result *res);
/* A request failed: schedule the next try in *next by backoff b. */
void request_backoff(struct link *l, struct backoff *b, double *next, const char *what,
		     const struct etsi_result *res);
/* Hand a prepared request (rc from etsi_start_*) to the multi handle. */
int request_submit(struct agent *a, struct link *l, struct etsi_client *c, int rc,
		   const char *what);
/* The request of link l on client c finished with curl code cc. */
void request_done(struct agent *a, struct link *l, struct etsi_client *c, int cc);

/* refill.c */
void master_step(struct agent *a, struct link *l, double now);
void status_done(struct link *l, int rc, const struct etsi_status *st,
		 const struct etsi_result *res);
void enc_done(struct agent *a, struct link *l, int rc, struct etsi_keys *ks,
	      const struct etsi_result *res);

/* fetch.c */
void slave_step(struct agent *a, struct link *l, double now);
/* The module says a taker waits for responder key ev->key_id. */
void slave_key_wanted(struct link *l, const struct sink_event *ev, double now);
void dec_done(struct agent *a, struct link *l, int rc, struct etsi_keys *ks,
	      const uint8_t (*ids)[16], size_t nids, const struct etsi_result *res);

/* inject.c */
int recently_injected(struct link *l, const uint8_t id[16]);
/* Take ownership of ks as l's held keys of role (the slot is empty). */
void hold(struct link *l, struct etsi_keys *ks, int role);
int holding(const struct link *l);
void drop_held(struct link *l, int role, const char *why);
void inject_held(struct agent *a, struct link *l, int role);
/* Remove the keys of ks for which pred() is true (wiped, IDs logged, the
 * rest compacted).  Returns how many went. */
size_t drop_keys_if(struct link *l, struct etsi_keys *ks,
		    int (*pred)(struct link *, const struct etsi_key *, const void *),
		    const void *arg, const char *why);
/* Drop the keys of a reply (what) whose IDs were injected lately. */
void drop_recent(struct link *l, struct etsi_keys *ks, const char *what);

/* drift.c */
/* Once per stats_interval: liveness, rate, QBER, error-rate warnings. */
void agent_stats(struct agent *a, double now);

/* metrics.c */
int metrics_start(struct agent *a, const char *listen);
int metrics_fd(struct agent *a);
void metrics_run(struct agent *a);
void metrics_stop(struct agent *a);

#endif
