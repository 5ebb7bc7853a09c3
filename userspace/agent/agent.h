/* SPDX-License-Identifier: GPL-2.0 OR MIT */
#ifndef QKD_AGENT_H
#define QKD_AGENT_H
#include <stdint.h>
#include "backoff.h"
#include "conf.h"
#include "etsi_client.h"
#include "sink.h"

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

int metrics_start(struct agent *a, const char *listen);
int metrics_fd(struct agent *a);
void metrics_run(struct agent *a);
void metrics_stop(struct agent *a);

#endif
