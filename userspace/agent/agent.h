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
 *   kme.c          what the agent learns about its KME: keys lost and why,
 *                  deviations from the spec, 401s, hangs, discarded keys
 *   drift.c        periodic checks: link liveness, key rate, QBER and
 *                  request error rate against their thresholds
 *   metrics.c      Prometheus endpoint (expo.c: its text helpers)
 *   modstats.c     the module's counters and audit ring on that endpoint
 *   sink_netlink.c, sink_dry.c   the key stores (see sink.h)
 */
#ifndef QKD_AGENT_H
#define QKD_AGENT_H
#include <signal.h>
#include <stdint.h>
#include <sys/uio.h>
#include "backoff.h"
#include "conf.h"
#include "etsi_client.h"
#include "sink.h"
#include "../../include/uapi/linux/qkd.h"

#define WANTED_MAX	512
#define RECENT_MAX	4096	/* IDs injected lately, per link */

enum req_result { RQ_OK, RQ_HTTP_4XX, RQ_HTTP_503, RQ_TRANSPORT, RQ_PROTO, RQ__N };

/* Every way a fetched key can be lost (wiped, never injected): the
 * metric qkd_agent_keys_dropped_total{reason} and qkd-agent(8). */
enum lost_reason {
	LOST_MALFORMED,		/* reply entry: bad key_ID, not base64, not an object */
	LOST_WRONG_SIZE,	/* reply entry: not key_size bits */
	LOST_DUPLICATE_ID,	/* reply entry: its key_ID twice in the reply */
	LOST_NOT_ASKED,		/* dec_keys reply: an ID that was not asked for */
	LOST_NOT_DELIVERED,	/* dec_keys: an ID asked, missing from a 200 reply */
	LOST_REPEATED_ID,	/* enc_keys: an ID injected lately (KME repeats) */
	LOST_UNREADABLE,	/* a key reply unusable as a whole (keys asked) */
	LOST_MAYBE_DELIVERED,	/* inject sent, outcome unknown: never retried */
	LOST_REFUSED,		/* the key store refused it for good */
	LOST_HELD_TOO_LONG,	/* the key store was unavailable for 120 s */
	LOST_STOPPING,		/* held at SIGTERM */
	LOST__N
};
extern const char *const lost_reason_name[LOST__N];

/* What the agent learnt about its KME (logged once, metric
 * qkd_agent_kme_deviation{kind}). */
enum kme_dev {
	KD_SHORT_REPLY,		/* hands out fewer keys than asked */
	KD_KEY_SIZE,		/* keys of another size than asked */
	KD_BAD_ENTRIES,		/* replies with unusable entries */
	KD_UNREADABLE,		/* replies that are not a key container */
	KD_NO_ERROR_BODY,	/* errors without the ETSI JSON body */
	KD_401_UNKNOWN_ID,	/* dec_keys: 401 for an unknown key ID */
	KD_DISCARDS,		/* drops keys the slave has not fetched */
	KD_HANG,		/* does not answer within request_timeout */
	KD__N
};
extern const char *const kme_dev_name[KD__N];

struct wanted {
	uint8_t id[16];
	double since;
};

/* One replica of the link's KME (kme_url lists them in order). */
struct kme_replica {
	uint64_t answered, failed;	/* requests: an HTTP answer / a transport error */
	int up;				/* last request: 1 answered, 0 failed, -1 none yet */
};

struct link {
	const struct conf_link *cfg;
	/* Two clients so a key-wanted fetch never waits behind a refill. */
	struct etsi_client kme_m;	/* master side: status, enc_keys */
	struct etsi_client kme_s;	/* slave side: dec_keys */
	/* replicas of the KME: the one in use, since when, failovers */
	struct kme_replica kmes[CONF_KMES_MAX];
	unsigned kme_cur, kme_round;	/* round: failovers since an answer */
	int64_t cert_not_after;		/* client_cert's notAfter (unix s; 0: unknown) */
	double cert_warned;		/* realtime of the last expiry warning */
	double kme_since;
	uint64_t failovers;
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
	uint64_t unknown_ids;	/* dec_keys: the KME has no key for a wanted ID */
	uint8_t (*recent)[16];
	unsigned recent_head, recent_n;
	/* KME status (advisory: keys are asked for whatever it counts) */
	struct etsi_status st;
	int st_valid;
	/* what the KME delivers */
	uint32_t ask;		/* keys to ask for next (learnt; 0: as many as fit) */
	int jit;		/* fetch just in time: one batch, pool empty */
	int jit_in;		/* refills to go before jit (auto, see kme.c) */
	double jit_after;	/* just in time: not before (the peer fetches) */
	uint32_t jit_level;	/* level seen last, to notice takes */
	unsigned dev_seen;	/* 1 << KD_* */
	int auth_ok;		/* the KME accepted our certificate once */
	int auth_failing;	/* the last master-side request got 401 */
	int hanging;		/* the last request timed out */
	/* counters (metrics) */
	uint64_t obtained[3], injected[3];	/* by QKD_KEY_ROLE_* */
	uint64_t inject_errors, dup_skipped, dropped;
	uint64_t maybe_delivered;	/* dropped: sent, outcome unknown */
	uint64_t lost[LOST__N];		/* dropped, by reason */
	uint64_t replies_unusable;	/* key replies unusable as a whole */
	uint64_t auth_errors, timeouts;
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

/* auditlog.c: the module's take records, written once each to the journal */
struct audit_trail {
	uint64_t next_seq;	/* oldest record not written yet; 0: none seen */
	uint64_t last_time_ns;	/* take time of the last record written */
	uint64_t head_seq;	/* the unsettled record holding the others back, */
	double head_seen;	/* since this mono time */
	double next_run;
	uint64_t netns;		/* inode of our network namespace (QKD_NETNS) */
	int no_journal;		/* the journal refused: records go to the log */
	uint64_t journaled, logged, lost, restarts, read_errors;
	/* sd_journal_sendv; a test's capture */
	int (*sendv)(const struct iovec *iov, int n);
	const char *journal_socket;	/* journald's; NULL: do not look */
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
	struct audit_trail audit;
	double wd_interval, next_wd;	/* systemd watchdog ping period (0: off) */
	int cli_log_level;		/* -v/-q: over log_level at a reload; -1: none */
	uint32_t cli_stats_interval;	/* --stats-interval; 0: none */
	uint64_t reloads_ok, reloads_refused;
	char plugin_metrics_why[160];	/* last reason the plugin's file was not served */
};

static inline double ms_to_s(uint32_t ms)
{
	return ms / 1000.0;
}

/* main.c: set by the signal handler, read by the loop; the handler also
 * writes a byte to a pipe whose read end (agent_wake_fd, non-blocking)
 * the loop polls, so that no signal waits out a poll timeout. */
extern volatile sig_atomic_t agent_stop_requested, agent_reload_requested;
extern int agent_wake_fd;

/* reload.c: SIGHUP.  0 applied, -1 refused (logged; nothing changed). */
int agent_reload(struct agent *a);
/* The link's TLS extras into its two clients: the client_key_pin_file's
 * PIN, the crl_file; and client_cert's expiry.  0, or -1 (logged). */
int link_tls_setup(struct link *l);

/* sdnotify.c: systemd readiness, status, watchdog (no-ops without systemd) */
void sdnotify_init(struct agent *a);
void sdnotify_ready(struct agent *a);
void sdnotify_status(struct agent *a);
void sdnotify_step(struct agent *a, double now);
void sdnotify_stopping(void);
void sdnotify_reloading(void);

/* journal.c: log lines as journal entries with QKD_LINK/QKD_KME fields
 * when stderr is the journal (or always, into sendv: a test).  Returns 1
 * if installed. */
int journal_log_init(int (*sendv)(const struct iovec *iov, int n));
/* The link (and its KME) the loop works on now, for those fields; NULLs
 * after. */
void log_context(const char *link, const char *kme);
/* The key ID (UUID text) the next lines are about, for QKD_KEY_ID; NULL
 * after. */
void log_context_key(const char *key_id);

/* auditlog.c */
void auditlog_init(struct agent *a);
/* Write the settled take records not written yet, if audit_interval has
 * passed since the last read (now: mono_now(); real_ns: the wall clock,
 * to age records). */
void auditlog_step(struct agent *a, double now, uint64_t real_ns);
/* The trail is on and the key store has an audit ring: the loop wakes
 * for auditlog_step at audit.next_run (only then: a dry-run sink has no
 * ring, and a deadline that never moves would spin the loop). */
int auditlog_active(const struct agent *a);
/* At exit: write the settled records now, without waiting for the
 * interval (the unsettled ones stay in the ring for the next start). */
void auditlog_flush(struct agent *a);
uint64_t auditlog_realtime_ns(void);

/* loop.c */
/* Run until agent_stop_requested (or the poll itself fails). */
void agent_run(struct agent *a);
/* The key store failed as a whole: reconnect, recreate every link. */
void sink_lost(struct agent *a, const char *why);

/* request.c */
/* Count a finished request of l by its result (metrics, drift); a
 * request that did not succeed counts as a failure of the KME (the error
 * rate) unless failure is 0. */
void request_record(struct link *l, int rc, const struct etsi_result *res, int failure);
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
/* The pool level lv was read (poll or notification). */
void master_keys_added(struct link *l, uint32_t n);
void master_level_seen(struct link *l, uint32_t lv, double now);

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
void drop_held(struct link *l, int role, enum lost_reason r, const char *why);
void inject_held(struct agent *a, struct link *l, int role);
/* Remove the keys of ks for which pred() is true (wiped, IDs logged, the
 * rest compacted).  Returns how many went. */
size_t drop_keys_if(struct link *l, struct etsi_keys *ks,
		    int (*pred)(struct link *, const struct etsi_key *, const void *),
		    const void *arg, enum lost_reason r, const char *why);
/* Drop the keys of a reply (what) whose IDs were injected lately. */
void drop_recent(struct link *l, struct etsi_keys *ks, const char *what);

/* kme.c: what the agent learns about its KME */
/* n keys of l are wiped without being injected, for reason r. */
void lost_keys(struct link *l, enum lost_reason r, uint64_t n);
/* Count the entries a key reply dropped (res->rep), by reason; one
 * warning for the reply.  what: "enc_keys" or "dec_keys". */
void reply_dropped(struct link *l, const struct etsi_result *res, const char *what);
/* The KME shows deviation d: the first time, the one log line why (and
 * what the agent does about it); always the metric. */
void kme_deviation(struct link *l, enum kme_dev d, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* After any finished request: authentication, hangs, error bodies.
 * Returns 1 if it was a 401 that the caller must not retry soon (the
 * master side's authentication error, logged at error level). */
int kme_request_seen(struct link *l, int rc, const struct etsi_result *res,
		     const char *what, int master_side, struct backoff *b, double *next);
/* dec_keys got 401: 1 if it is taken as an unknown key ID (the KME
 * accepted this SAE before), else 0 (an authentication error, logged,
 * *next pushed to the longest backoff). */
int kme_dec_401(struct link *l, const struct etsi_result *res, struct backoff *b,
		double *next);
/* The KME (replica) in use. */
const char *kme_now(const struct link *l);
/* Before a request on c: back to the first replica after kme_failback s
 * on another, and c pointed at the replica in use. */
void kme_select(struct link *l, struct etsi_client *c, double now);
/* A request of l on c ended (rc): count it for its replica; a transport
 * error fails over to the next one.  Returns 1 if the caller should retry
 * at once on the new replica (each replica once per round). */
int kme_result(struct link *l, const struct etsi_client *c, int rc);
/* The slave side saw one more wanted key the KME does not have. */
void kme_unknown_id(struct link *l);

/* drift.c */
/* Once per stats_interval: liveness, rate, QBER, error-rate warnings. */
void agent_stats(struct agent *a, double now);

/* modstats.c: the module's counters (qkd_module_*), read from the
 * store at each scrape and appended to b. */
struct sbuf;
struct audit_list;
/* One read of the module's audit ring per scrape, for both renders
 * below: 1 if it was read into out, else 0 (out stays empty). */
int modstats_audit_read(struct sink *sink, int sink_ok, struct audit_list *out);
/* audit: the ring as read at this scrape, NULL if it could not be */
void modstats_render(struct sbuf *b, struct sink *sink, int sink_ok,
		     const struct audit_list *audit);
/* xfrmstats.c: the kernel's IPsec SAs by keying (qkd_xfrm_*); audit as
 * for modstats_render() */
void xfrmstats_render(struct sbuf *b, const struct audit_list *audit);

/* metrics.c */
int metrics_start(struct agent *a, const char *listen);
int metrics_fd(struct agent *a);
void metrics_run(struct agent *a);
void metrics_stop(struct agent *a);

#endif
