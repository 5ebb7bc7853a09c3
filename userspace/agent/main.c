// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * qkd-agent's command line, start-up and shutdown: parse the options,
 * load and check the configuration, set up the links, the key store
 * (netlink, or the dry-run TEST MODE) and the metrics endpoint, run the
 * event loop (loop.c), and wipe every held key on the way out.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <curl/curl.h>
#include <openssl/rand.h>
#include "agent.h"
#include "clock.h"
#include "log.h"
#include "secmem.h"
#include "signals.h"

#define AGENT_VERSION	"1.0"
#define DEFAULT_CONF	"/etc/qkd/qkd-agent.conf"

volatile sig_atomic_t agent_stop_requested, agent_reload_requested;
int agent_wake_fd = -1;
static int wake_wr = -1;

/* What the command line asked for. */
struct cli {
	const char *conf_path;
	const char *metrics;	/* overrides metrics_listen; "off" */
	struct dry_opts dry;
	int check, dry_run, verbosity;
	long stats_interval;	/* 0: the file's */
};

enum { O_METRICS = 256, O_STATS, O_DRY, O_CONSUME, O_TAKEN, O_WANTED, O_VERSION,
       O_FAILSEND };

static void on_signal(int sig)
{
	int e = errno;

	if (sig == SIGHUP)
		agent_reload_requested = 1;
	else
		agent_stop_requested = 1;
	if (wake_wr >= 0 && write(wake_wr, "", 1) < 0) {
		/* full: the loop wakes anyway */
	}
	errno = e;
}

/* The self-pipe of on_signal(); without it, signals still work, late. */
static void make_wake_pipe(void)
{
	int p[2];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC)) {
		log_warn("pipe: %s; a signal may wait for the next wake-up", strerror(errno));
		return;
	}
	agent_wake_fd = p[0];
	wake_wr = p[1];
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: qkd-agent [OPTIONS]\n"
"Keep the qkd kernel module's links supplied with keys from ETSI GS QKD 014\n"
"key managers (HTTPS with mutual TLS).\n"
"\n"
"  -c, --config FILE          configuration (default " DEFAULT_CONF ")\n"
"  -t, --check                validate the configuration and exit\n"
"      --metrics IP:PORT|off  Prometheus endpoint (overrides metrics_listen)\n"
"      --stats-interval S     drift evaluation period (overrides the file)\n"
"  -v, --verbose              debug logging\n"
"  -q, --quiet                errors only\n"
"  -h, --help                 this text\n"
"      --version\n"
"\n"
"Test mode (no kernel module; keys are counted, never stored):\n"
"      --dry-run              use the dry-run sink instead of netlink\n"
"      --dry-run-consume R    simulated takers use R initiator keys/s per link\n"
"      --dry-run-taken FIFO   write \"LINK UUID\" of each simulated take\n"
"      --dry-run-wanted FIFO  read \"[LINK ]UUID\" lines as key-wanted events\n"
"      --dry-run-fail-after-send N\n"
"                             every Nth inject stores its keys, takers get them,\n"
"                             the reply is lost (fault injection: keys dropped)\n"
"\n"
"See qkd-agent(8) and qkd-agent.conf(5).\n");
}

/* One option o with optarg.  Returns -1 to go on, or the exit status. */
static int parse_option(int o, struct cli *cli)
{
	char *end;
	long v;

	switch (o) {
	case 'c': cli->conf_path = optarg; break;
	case 't': cli->check = 1; break;
	case O_METRICS: cli->metrics = optarg; break;
	case O_STATS:
		cli->stats_interval = strtol(optarg, &end, 10);
		if (*end || cli->stats_interval < 1 || cli->stats_interval > 3600) {
			fprintf(stderr, "qkd-agent: --stats-interval: 1..3600 seconds\n");
			return 2;
		}
		break;
	case 'v': cli->verbosity = LOG_LVL_DEBUG; break;
	case 'q': cli->verbosity = LOG_LVL_ERR; break;
	case 'h': usage(stdout); return 0;
	case O_VERSION: printf("qkd-agent %s\n", AGENT_VERSION); return 0;
	case O_DRY: cli->dry_run = 1; break;
	case O_CONSUME:
		cli->dry.consume_rate = strtod(optarg, &end);
		if (*end || !(cli->dry.consume_rate >= 0 && cli->dry.consume_rate <= 1e6)) {
			fprintf(stderr, "qkd-agent: --dry-run-consume: 0..1e6 keys/s\n");
			return 2;
		}
		break;
	case O_TAKEN: cli->dry.taken_out = optarg; break;
	case O_WANTED: cli->dry.wanted_in = optarg; break;
	case O_FAILSEND:
		v = strtol(optarg, &end, 10);
		if (*end || v < 1 || v > 1000000) {
			fprintf(stderr, "qkd-agent: --dry-run-fail-after-send: 1..1000000\n");
			return 2;
		}
		cli->dry.fail_after_send = (unsigned)v;
		break;
	default: usage(stderr); return 2;
	}
	return -1;
}

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
		{ "config", 1, NULL, 'c' }, { "check", 0, NULL, 't' },
		{ "metrics", 1, NULL, O_METRICS }, { "stats-interval", 1, NULL, O_STATS },
		{ "verbose", 0, NULL, 'v' }, { "quiet", 0, NULL, 'q' },
		{ "help", 0, NULL, 'h' }, { "version", 0, NULL, O_VERSION },
		{ "dry-run", 0, NULL, O_DRY }, { "dry-run-consume", 1, NULL, O_CONSUME },
		{ "dry-run-taken", 1, NULL, O_TAKEN }, { "dry-run-wanted", 1, NULL, O_WANTED },
		{ "dry-run-fail-after-send", 1, NULL, O_FAILSEND },
		{ NULL, 0, NULL, 0 }
	};
	int o, r;

	while ((o = getopt_long(argc, argv, "c:tvqh", opts, NULL)) != -1)
		if ((r = parse_option(o, cli)) >= 0)
			return r;
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if ((cli->dry.consume_rate > 0 || cli->dry.taken_out || cli->dry.wanted_in ||
	     cli->dry.fail_after_send) && !cli->dry_run) {
		fprintf(stderr, "qkd-agent: --dry-run-* options need --dry-run\n");
		return 2;
	}
	return -1;
}

/* Load and check the configuration (and stop there for --check).
 * Returns -1 to go on, or the exit status. */
static int load_conf(struct agent *a, const struct cli *cli)
{
	char err[512];

	a->conf = calloc(1, sizeof(*a->conf));
	if (!a->conf)
		return 1;
	if (conf_load(cli->conf_path, a->conf, err, sizeof(err)) ||
	    conf_check_tls(a->conf, err, sizeof(err))) {
		fprintf(stderr, "qkd-agent: %s\n", err);
		free(a->conf);
		return 2;
	}
	if (cli->check) {
		printf("%s: OK, %zu link(s)\n", cli->conf_path, a->conf->nlinks);
		free(a->conf);
		return 0;
	}
	qkd_log_level = cli->verbosity >= 0 ? cli->verbosity : a->conf->log_level;
	a->cli_log_level = cli->verbosity;
	if (cli->stats_interval)
		a->conf->stats_interval = (uint32_t)cli->stats_interval;
	a->cli_stats_interval = (uint32_t)cli->stats_interval;
	return -1;
}

static int init_links(struct agent *a)
{
	size_t i, k;
	uint64_t seed;

	a->nlinks = a->conf->nlinks;
	a->links = calloc(a->nlinks, sizeof(*a->links));
	if (!a->links)
		return -1;
	for (i = 0; i < a->nlinks; i++) {
		struct link *l = &a->links[i];
		const struct conf_link *c = &a->conf->links[i];

		l->cfg = c;
		if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
			seed = (uint64_t)time(NULL) + i;
		backoff_init(&l->bo_master, c->backoff_base_ms, c->backoff_max_ms, seed);
		backoff_init(&l->bo_slave, c->backoff_base_ms / 4 ? c->backoff_base_ms / 4 : 1,
			     c->backoff_max_ms / 4 ? c->backoff_max_ms / 4 : 1, seed ^ 1);
		backoff_init(&l->bo_status, c->backoff_base_ms, c->backoff_max_ms, seed ^ 2);
		backoff_init(&l->bo_create, c->backoff_base_ms, c->backoff_max_ms, seed ^ 3);
		l->jit = c->role != ROLE_SLAVE && c->prefetch == PREFETCH_NO;
		for (k = 0; k < CONF_KMES_MAX; k++)
			l->kmes[k].up = -1;
		l->recent = calloc(RECENT_MAX, 16);
		if (!l->recent)
			return -1;
		if (etsi_client_init(&l->kme_m, c->kme_url, c->client_cert, c->client_key,
				     c->ca_cert, (long)c->request_timeout) ||
		    etsi_client_init(&l->kme_s, c->kme_url, c->client_cert, c->client_key,
				     c->ca_cert, (long)c->request_timeout) ||
		    link_tls_setup(l))
			return -1;
	}
	return 0;
}

/* The dry-run sink or the module's (netlink). */
static int setup_sink(struct agent *a, const struct cli *cli)
{
	if (cli->dry_run) {
		log_warn("DRY-RUN TEST MODE: keys are counted and wiped, not given to the kernel");
		if (sink_dry_setup(&a->sink, &cli->dry, a->conf)) {
			log_err("dry-run sink setup failed");
			return -1;
		}
	} else if (sink_netlink_setup(&a->sink)) {
		log_err("netlink sink setup failed");
		return -1;
	}
	return 0;
}

/* Key buffers (replies, the JSON parser's strings, decoded keys, held
 * keys, libcurl's buffers while there is room) in OpenSSL's locked secure
 * heap: AGENT_HEAP_PER_LINK per link, a power of two of 1..32 MiB.  Fails
 * soft: one warning, and the agent runs with wiped, unlocked buffers. */
#define AGENT_HEAP_PER_LINK	(256U << 10)

static void lock_secrets(const struct agent *a)
{
	size_t want = (size_t)a->conf->nlinks * AGENT_HEAP_PER_LINK, heap = 1 << 20;
	char why[320];

	while (heap < want && heap < ((size_t)32 << 20))
		heap <<= 1;
	if (sec_init(heap, why, sizeof(why)) != 1)
		log_warn("%s", why);
	else
		log_debug("key buffers in a locked secure heap of %zu KiB", heap >> 10);
}

/* Everything the loop needs.  Returns 0, or -1 (logged). */
static int start(struct agent *a, const struct cli *cli)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, 0 };
	const char *metrics = cli->metrics;

	if (etsi_client_global_init()) {
		log_err("curl initialisation failed");
		return -1;
	}
	make_wake_pipe();
	if (journal_log_init(NULL))
		log_debug("logging to the journal with QKD_LINK/QKD_KME fields");
	auditlog_init(a);
	sdnotify_init(a);
	install_signals(on_signal, sigs);
	if (init_links(a)) {
		log_err("out of memory");
		return -1;
	}
	if (setup_sink(a, cli))
		return -1;
	if (!metrics && a->conf->metrics_listen[0])
		metrics = a->conf->metrics_listen;
	if (metrics && strcmp(metrics, "off") && metrics_start(a, metrics))
		return -1;
	backoff_init(&a->bo_sink, 500, 10000, (uint64_t)getpid());
	a->started = a->last_stats = mono_now();
	a->next_stats = a->started + a->conf->stats_interval;
	log_info("started: %zu link(s), sink %s, config %s", a->nlinks, a->sink.ops->name,
		 cli->conf_path);
	a->multi = curl_multi_init();
	if (!a->multi) {
		log_err("curl_multi_init failed");
		return -1;
	}
	return 0;
}

/* Undo start(), however far it got; wipes every key still held. */
static void stop(struct agent *a)
{
	size_t i;

	metrics_stop(a);
	for (i = 0; i < a->nlinks && a->links; i++) {
		struct link *l = &a->links[i];
		int role;

		for (role = QKD_KEY_ROLE_INITIATOR; role <= QKD_KEY_ROLE_RESPONDER; role++)
			drop_held(l, role, LOST_STOPPING, "stopping");
		if (a->multi && etsi_client_busy(&l->kme_m))
			curl_multi_remove_handle(a->multi, etsi_client_handle(&l->kme_m));
		if (a->multi && etsi_client_busy(&l->kme_s))
			curl_multi_remove_handle(a->multi, etsi_client_handle(&l->kme_s));
		etsi_client_cleanup(&l->kme_m);
		etsi_client_cleanup(&l->kme_s);
		free(l->recent);
	}
	if (a->multi)
		curl_multi_cleanup(a->multi);
	free(a->links);
	if (a->sink.ops)
		a->sink.ops->close(&a->sink);
	etsi_client_global_cleanup();
	free(a->conf);
	if (agent_wake_fd >= 0) {
		close(agent_wake_fd);
		close(wake_wr);
	}
}

int main(int argc, char **argv)
{
	struct cli cli = { .conf_path = DEFAULT_CONF, .verbosity = -1 };
	static struct agent A;
	struct agent *a = &A;
	int rc;

	qkd_log_ident = "qkd-agent";
	rc = parse_args(argc, argv, &cli);
	if (rc < 0)
		rc = load_conf(a, &cli);
	if (rc >= 0)
		return rc;	/* --help, --check, or a usage or config error */
	rc = 1;
	/* No core dumps or ptrace by other users: key material lives here. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	lock_secrets(a);
	if (start(a, &cli) == 0) {
		sdnotify_ready(a);
		agent_run(a);
		log_info("stopping");
		sdnotify_stopping();
		auditlog_flush(a);
		rc = 0;
	}
	stop(a);
	return rc;
}
