// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Prometheus text exposition on a local address, served from the agent's
 * own event loop (libmicrohttpd, external epoll mode: no extra thread). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include "addr.h"
#include "agent.h"
#include "expo.h"
#include "sakeying.h"
#include "plugstats.h"
#include "log.h"
#include "secmem.h"

/* Link names escaped as label values. */
typedef char label_names[CONF_LINKS_MAX][2 * CONF_NAME_MAX + 1];

/* For every link, its metric line: L is the link, N its label value. */
#define EACH for (i = 0; i < a->nlinks && i < CONF_LINKS_MAX; i++)
#define L (&a->links[i])
#define N (names[i])

/* The key store, the pool and the keys through it. */
static void render_keys(struct sbuf *b, struct agent *a, label_names names)
{
	size_t i;

	help(b, "qkd_agent_sink_up", "gauge", "1 if the key store (module or dry-run sink) is reachable");
	sb_printf(b, "qkd_agent_sink_up{sink=\"%s\"} %d\n", a->sink.ops->name, a->sink_ok);
	help(b, "qkd_agent_link_present", "gauge", "1 if the link exists in the key store");
	EACH sb_printf(b, "qkd_agent_link_present{link=\"%s\"} %d\n", N, L->created);
	help(b, "qkd_agent_pool_level", "gauge", "initiator keys buffered in the link (last read)");
	EACH sb_printf(b, "qkd_agent_pool_level{link=\"%s\"} %u\n", N, L->level);
	help(b, "qkd_agent_pool_low_watermark", "gauge", "refill below this many initiator keys");
	EACH sb_printf(b, "qkd_agent_pool_low_watermark{link=\"%s\"} %u\n", N, L->cfg->low_watermark);
	help(b, "qkd_agent_pool_high_watermark", "gauge", "refill up to this many initiator keys");
	EACH sb_printf(b, "qkd_agent_pool_high_watermark{link=\"%s\"} %u\n", N, L->cfg->high_watermark);
	help(b, "qkd_agent_keys_obtained_total", "counter", "keys fetched from the KME");
	EACH {
		sb_printf(b, "qkd_agent_keys_obtained_total{link=\"%s\",role=\"initiator\"} %llu\n", N,
			  (unsigned long long)L->obtained[1]);
		sb_printf(b, "qkd_agent_keys_obtained_total{link=\"%s\",role=\"responder\"} %llu\n", N,
			  (unsigned long long)L->obtained[2]);
	}
	help(b, "qkd_agent_keys_injected_total", "counter", "keys accepted by the key store");
	EACH {
		sb_printf(b, "qkd_agent_keys_injected_total{link=\"%s\",role=\"initiator\"} %llu\n", N,
			  (unsigned long long)L->injected[1]);
		sb_printf(b, "qkd_agent_keys_injected_total{link=\"%s\",role=\"responder\"} %llu\n", N,
			  (unsigned long long)L->injected[2]);
	}
	help(b, "qkd_agent_key_rate", "gauge", "keys per second obtained over the last stats interval");
	EACH sb_printf(b, "qkd_agent_key_rate{link=\"%s\"} %.3f\n", N, L->rate);
	help(b, "qkd_agent_key_rate_baseline", "gauge", "expected or learned key rate (keys/s)");
	EACH sb_printf(b, "qkd_agent_key_rate_baseline{link=\"%s\"} %.3f\n", N, L->rate_baseline);
	help(b, "qkd_agent_fetch_latency_seconds", "summary", "ETSI request latency");
	EACH {
		sb_printf(b, "qkd_agent_fetch_latency_seconds_sum{link=\"%s\"} %.6f\n", N, L->lat_sum);
		sb_printf(b, "qkd_agent_fetch_latency_seconds_count{link=\"%s\"} %llu\n", N,
			  (unsigned long long)L->lat_count);
	}
	help(b, "qkd_agent_fetch_latency_last_seconds", "gauge", "latency of the last ETSI request");
	EACH sb_printf(b, "qkd_agent_fetch_latency_last_seconds{link=\"%s\"} %.6f\n", N, L->lat_last);
}

/* Per replica of each link's KME (kme_url), labelled by its URL. */
static void render_replicas(struct sbuf *b, struct agent *a, label_names names)
{
	static const char *const kinds[] = { "qkd_agent_kme_active", "qkd_agent_kme_up",
					     "qkd_agent_kme_answered_total", "qkd_agent_kme_failed_total" };
	static const char *const texts[] = {
		"1 for the replica the link uses now", "last request: 1 answered, 0 failed, -1 none yet",
		"requests the replica answered (any HTTP status)", "requests that failed to reach it",
	};
	char u[2 * CONF_URL_MAX + 1];
	size_t i, k, m;

	for (m = 0; m < 4; m++) {
		help(b, kinds[m], m < 2 ? "gauge" : "counter", texts[m]);
		EACH for (k = 0; k < L->cfg->nkmes; k++) {
			const struct kme_replica *r = &L->kmes[k];
			long long v = m == 0 ? k == L->kme_cur : m == 1 ? r->up :
				      m == 2 ? (long long)r->answered : (long long)r->failed;

			esc(L->cfg->kme_urls[k], u, sizeof(u));
			sb_printf(b, "%s{link=\"%s\",kme=\"%s\"} %lld\n", kinds[m], N, u, v);
		}
	}
}

/* What the agent learnt about each KME, and the locked key memory. */
static void render_learnt(struct sbuf *b, struct agent *a, label_names names)
{
	static const struct {
		const char *name, *text;
		size_t off;
	} counters[] = {
		{ "qkd_agent_kme_auth_errors_total",
		  "401 from the KME where it means authentication (certificate or SAE refused)",
		  offsetof(struct link, auth_errors) },
		{ "qkd_agent_kme_timeouts_total", "KME requests without an answer in request_timeout",
		  offsetof(struct link, timeouts) },
		{ "qkd_agent_kme_replies_unusable_total", "key replies that are no key container",
		  offsetof(struct link, replies_unusable) },
		{ "qkd_agent_kme_unknown_ids_total", "wanted key IDs the KME had no key for",
		  offsetof(struct link, unknown_ids) },
	};
	struct sec_stats ss;
	size_t i, c;
	int d;

	help(b, "qkd_agent_kme_deviation", "gauge",
	     "1 once the KME was seen deviating this way (logged once, see qkd-agent(8))");
	EACH for (d = 0; d < KD__N; d++)
		sb_printf(b, "qkd_agent_kme_deviation{link=\"%s\",kind=\"%s\"} %d\n", N,
			  kme_dev_name[d], !!(L->dev_seen & (1U << d)));
	for (c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		help(b, counters[c].name, "counter", counters[c].text);
		EACH sb_printf(b, "%s{link=\"%s\"} %llu\n", counters[c].name, N,
			       (unsigned long long)*(const uint64_t *)((const char *)L + counters[c].off));
	}
	help(b, "qkd_agent_kme_failovers_total", "counter", "switches to the next replica of the KME");
	EACH sb_printf(b, "qkd_agent_kme_failovers_total{link=\"%s\"} %llu\n", N,
		       (unsigned long long)L->failovers);
	render_replicas(b, a, names);
	help(b, "qkd_agent_prefetch", "gauge", "1: the pool is kept ahead of demand; 0: just in time");
	EACH sb_printf(b, "qkd_agent_prefetch{link=\"%s\"} %d\n", N,
		       L->cfg->role != ROLE_SLAVE && !L->jit);
	help(b, "qkd_agent_enc_keys_ask", "gauge", "keys the next enc_keys asks for at most (learnt; 0: no limit learnt)");
	EACH sb_printf(b, "qkd_agent_enc_keys_ask{link=\"%s\"} %u\n", N, L->ask);
	sec_get_stats(&ss);
	help(b, "qkd_agent_key_memory_locked", "gauge", "1 if key buffers live in locked memory");
	sb_printf(b, "qkd_agent_key_memory_locked %d\n", ss.locked);
	help(b, "qkd_agent_secure_heap_bytes", "gauge", "size of the locked secure heap (0: none)");
	sb_printf(b, "qkd_agent_secure_heap_bytes %zu\n", ss.heap_bytes);
	help(b, "qkd_agent_secure_heap_used_bytes", "gauge", "bytes of the secure heap in use");
	sb_printf(b, "qkd_agent_secure_heap_used_bytes %zu\n", ss.heap_used);
	help(b, "qkd_agent_secure_heap_fallbacks_total", "counter",
	     "key buffers that did not fit into the secure heap (wiped, not locked)");
	sb_printf(b, "qkd_agent_secure_heap_fallbacks_total %llu\n", (unsigned long long)ss.fallbacks);
}

/* The KME's requests and status, inject and notification outcomes, drift. */
static void render_kme(struct sbuf *b, struct agent *a, label_names names)
{
	static const char *const res[RQ__N] = { "ok", "http_4xx", "http_5xx", "transport", "protocol" };
	size_t i;
	int r;

	help(b, "qkd_agent_kme_requests_total", "counter", "ETSI requests by result");
	EACH for (r = 0; r < RQ__N; r++)
		sb_printf(b, "qkd_agent_kme_requests_total{link=\"%s\",result=\"%s\"} %llu\n", N, res[r],
			  (unsigned long long)L->req[r]);
	help(b, "qkd_agent_kme_errors_total", "counter", "failed ETSI requests");
	EACH sb_printf(b, "qkd_agent_kme_errors_total{link=\"%s\"} %llu\n", N,
		       (unsigned long long)(L->req[RQ_HTTP_4XX] + L->req[RQ_HTTP_503] +
					    L->req[RQ_TRANSPORT] + L->req[RQ_PROTO]));
	help(b, "qkd_agent_kme_stored_keys", "gauge", "stored_key_count from the KME status");
	EACH sb_printf(b, "qkd_agent_kme_stored_keys{link=\"%s\"} %d\n", N, L->st_valid ? L->st.stored_key_count : -1);
	help(b, "qkd_agent_kme_qber", "gauge", "QBER reported by the KME (-1: not reported)");
	EACH sb_printf(b, "qkd_agent_kme_qber{link=\"%s\"} %.6f\n", N, L->st_valid ? L->st.qber : -1.0);
	help(b, "qkd_agent_inject_errors_total", "counter", "key store refused an inject");
	EACH sb_printf(b, "qkd_agent_inject_errors_total{link=\"%s\"} %llu\n", N, (unsigned long long)L->inject_errors);
	help(b, "qkd_agent_duplicate_keys_skipped_total", "counter", "keys the store already held (not injected twice)");
	EACH sb_printf(b, "qkd_agent_duplicate_keys_skipped_total{link=\"%s\"} %llu\n", N, (unsigned long long)L->dup_skipped);
	help(b, "qkd_agent_keys_dropped_total", "counter", "fetched keys wiped without being injected");
	EACH sb_printf(b, "qkd_agent_keys_dropped_total{link=\"%s\"} %llu\n", N, (unsigned long long)L->dropped);
	help(b, "qkd_agent_keys_maybe_delivered_total", "counter",
	     "keys dropped because an inject's outcome is unknown (sent, no ack); never retried");
	EACH sb_printf(b, "qkd_agent_keys_maybe_delivered_total{link=\"%s\"} %llu\n", N, (unsigned long long)L->maybe_delivered);
	help(b, "qkd_agent_keys_lost_total", "counter",
	     "fetched keys wiped without being injected, by reason (qkd-agent(8) lists them)");
	EACH for (r = 0; r < LOST__N; r++)
		sb_printf(b, "qkd_agent_keys_lost_total{link=\"%s\",reason=\"%s\"} %llu\n", N,
			  lost_reason_name[r], (unsigned long long)L->lost[r]);
	help(b, "qkd_agent_low_watermark_events_total", "counter", "low-watermark notifications received");
	EACH sb_printf(b, "qkd_agent_low_watermark_events_total{link=\"%s\"} %llu\n", N, (unsigned long long)L->lowwm_events);
	help(b, "qkd_agent_key_wanted_total", "counter", "key-wanted notifications by outcome");
	EACH {
		sb_printf(b, "qkd_agent_key_wanted_total{link=\"%s\",outcome=\"received\"} %llu\n", N, (unsigned long long)L->wanted_total);
		sb_printf(b, "qkd_agent_key_wanted_total{link=\"%s\",outcome=\"failed\"} %llu\n", N, (unsigned long long)L->wanted_failed);
		sb_printf(b, "qkd_agent_key_wanted_total{link=\"%s\",outcome=\"expired\"} %llu\n", N, (unsigned long long)L->wanted_expired);
		sb_printf(b, "qkd_agent_key_wanted_total{link=\"%s\",outcome=\"duplicate\"} %llu\n", N, (unsigned long long)L->wanted_dup);
	}
	help(b, "qkd_agent_client_cert_expiry_timestamp_seconds", "gauge",
	     "notAfter of the link's client_cert (seconds since the epoch; 0: unreadable)");
	EACH sb_printf(b, "qkd_agent_client_cert_expiry_timestamp_seconds{link=\"%s\"} %lld\n", N,
		       (long long)L->cert_not_after);
	help(b, "qkd_agent_links_created_total", "counter", "times the agent (re)created the link");
	EACH sb_printf(b, "qkd_agent_links_created_total{link=\"%s\"} %llu\n", N, (unsigned long long)L->links_created);
	help(b, "qkd_agent_drift_warning", "gauge", "1 while a drift warning is active");
	EACH {
		sb_printf(b, "qkd_agent_drift_warning{link=\"%s\",kind=\"key_rate\"} %d\n", N, L->warn_rate);
		sb_printf(b, "qkd_agent_drift_warning{link=\"%s\",kind=\"qber\"} %d\n", N, L->warn_qber);
		sb_printf(b, "qkd_agent_drift_warning{link=\"%s\",kind=\"error_rate\"} %d\n", N, L->warn_err);
	}
}
#undef EACH
#undef L
#undef N

/* The audit trail (auditlog.c). */
static void render_audit(struct sbuf *b, const struct audit_trail *t)
{
	help(b, "qkd_agent_audit_records_total", "counter",
	     "module take records written to the audit trail, by destination");
	sb_printf(b, "qkd_agent_audit_records_total{dest=\"journal\"} %llu\n",
		  (unsigned long long)t->journaled);
	sb_printf(b, "qkd_agent_audit_records_total{dest=\"log\"} %llu\n",
		  (unsigned long long)t->logged);
	help(b, "qkd_agent_audit_records_lost_total", "counter",
	     "take records overwritten in the module's ring before the agent read them");
	sb_printf(b, "qkd_agent_audit_records_lost_total %llu\n", (unsigned long long)t->lost);
	help(b, "qkd_agent_audit_restarts_total", "counter",
	     "times the module's take record sequence started again (module reloads)");
	sb_printf(b, "qkd_agent_audit_restarts_total %llu\n", (unsigned long long)t->restarts);
	help(b, "qkd_agent_audit_journal_up", "gauge",
	     "1 while take records go to the journal, 0 once it refused one (then to the log)");
	sb_printf(b, "qkd_agent_audit_journal_up %d\n", !t->no_journal);
}

static char *render(struct agent *a)
{
	label_names names;
	struct sbuf b = { NULL, 0, 0 };
	struct audit_list audit;
	int audit_ok;
	size_t i;

	for (i = 0; i < a->nlinks && i < CONF_LINKS_MAX; i++)
		esc(a->links[i].cfg->name, names[i], sizeof(names[i]));
	render_keys(&b, a, names);
	render_kme(&b, a, names);
	render_learnt(&b, a, names);
	render_audit(&b, &a->audit);
	help(&b, "qkd_agent_config_reloads_total", "counter",
	     "SIGHUP reloads of the configuration, applied or refused (then nothing changed)");
	sb_printf(&b, "qkd_agent_config_reloads_total{result=\"applied\"} %llu\n",
		  (unsigned long long)a->reloads_ok);
	sb_printf(&b, "qkd_agent_config_reloads_total{result=\"refused\"} %llu\n",
		  (unsigned long long)a->reloads_refused);
	/* the audit ring once per scrape, for the module's and the SAs' view */
	audit_ok = modstats_audit_read(&a->sink, a->sink_ok, &audit);
	modstats_render(&b, &a->sink, a->sink_ok, audit_ok ? &audit : NULL);
	xfrmstats_render(&b, audit_ok ? &audit : NULL);
	audit_list_free(&audit);
	plugstats_render(&b, a->conf->plugin_metrics, a->plugin_metrics_why,
			 sizeof(a->plugin_metrics_why));
	return b.p;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct agent *a = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *text;
	unsigned int code = 200;

	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	if (strcmp(url, "/metrics")) {
		static char nf[] = "not found: try /metrics\n";

		r = MHD_create_response_from_buffer(strlen(nf), nf, MHD_RESPMEM_PERSISTENT);
		code = 404;
	} else {
		text = render(a);
		if (!text)
			return MHD_NO;
		r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
	}
	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

int metrics_start(struct agent *a, const char *listen)
{
	struct sockaddr_in sa;

	if (parse_ipv4_port(listen, NULL, &sa)) {
		log_err("metrics_listen '%s': expected IPV4:PORT", listen);
		return -1;
	}
	a->metrics = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				      handler, a,
				      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				      MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
				      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16,
				      MHD_OPTION_END);
	if (!a->metrics) {
		log_err("metrics: cannot listen on %s: %s", listen, strerror(errno));
		return -1;
	}
	log_info("metrics on http://%s/metrics", listen);
	return 0;
}

int metrics_fd(struct agent *a)
{
	const union MHD_DaemonInfo *i;

	if (!a->metrics)
		return -1;
	i = MHD_get_daemon_info(a->metrics, MHD_DAEMON_INFO_EPOLL_FD);
	return i ? i->epoll_fd : -1;
}

void metrics_run(struct agent *a)
{
	if (a->metrics)
		MHD_run(a->metrics);
}

void metrics_stop(struct agent *a)
{
	if (a->metrics)
		MHD_stop_daemon(a->metrics);
	a->metrics = NULL;
}
