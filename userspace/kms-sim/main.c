// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * qkd-kms-sim's command line and life cycle: parse the options into the
 * simulator's configuration, read the TLS files, start the two KME
 * daemons (and the admin one), then cut or restore the link on SIGUSR1 /
 * SIGUSR2 until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "secmem.h"
#include "signals.h"
#include "sim.h"
#include "testkeys.h"

#define SIM_VERSION	"1.0"

struct sim S;
static volatile sig_atomic_t g_stop, g_cut, g_restore;

/* The command line's endpoints, identities and TLS files. */
struct cli {
	const char *cert_a, *key_a, *cert_b, *key_b, *ca;
	const char *listen_a, *listen_b, *listen_a2, *listen_b2, *admin_at;
	const char *sae_a, *sae_b;
	double initial_keys;
};

/* The long options from O_CERTA on are numbered by their place in opts[]
 * (an error message names opts[o - O_CERTA]). */
enum { O_CERTA = 256, O_KEYA, O_CERTB, O_KEYB, O_CA, O_LA, O_LB, O_ADMIN, O_SAEA,
       O_SAEB, O_KA, O_KB, O_RATE, O_QBER, O_DRIFT, O_KS, O_MINKS, O_MAXKS, O_MKC,
       O_MKPR, O_INIT, O_FAIL, O_PTTL, O_MAXP, O_DEV, O_LA2, O_LB2, O_VERSION };
static const struct option opts[] = {
	{ "cert-a", 1, NULL, O_CERTA }, { "key-a", 1, NULL, O_KEYA },
	{ "cert-b", 1, NULL, O_CERTB }, { "key-b", 1, NULL, O_KEYB },
	{ "ca", 1, NULL, O_CA }, { "listen-a", 1, NULL, O_LA },
	{ "listen-b", 1, NULL, O_LB }, { "admin", 1, NULL, O_ADMIN },
	{ "sae-a", 1, NULL, O_SAEA }, { "sae-b", 1, NULL, O_SAEB },
	{ "kme-a-id", 1, NULL, O_KA }, { "kme-b-id", 1, NULL, O_KB },
	{ "key-rate", 1, NULL, O_RATE }, { "qber", 1, NULL, O_QBER },
	{ "qber-drift", 1, NULL, O_DRIFT }, { "key-size", 1, NULL, O_KS },
	{ "min-key-size", 1, NULL, O_MINKS }, { "max-key-size", 1, NULL, O_MAXKS },
	{ "max-key-count", 1, NULL, O_MKC }, { "max-key-per-request", 1, NULL, O_MKPR },
	{ "initial-keys", 1, NULL, O_INIT }, { "fail-fraction", 1, NULL, O_FAIL },
	{ "pending-ttl", 1, NULL, O_PTTL }, { "max-pending", 1, NULL, O_MAXP },
	{ "deviation", 1, NULL, O_DEV }, { "listen-a2", 1, NULL, O_LA2 },
	{ "listen-b2", 1, NULL, O_LB2 },
	{ "verbose", 0, NULL, 'v' }, { "quiet", 0, NULL, 'q' },
	{ "help", 0, NULL, 'h' }, { "version", 0, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		g_cut = 1;
	else if (sig == SIGUSR2)
		g_restore = 1;
	else
		g_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: qkd-kms-sim [OPTIONS]\n"
"Two simulated ETSI GS QKD 014 key managers (KME A and KME B) sharing one\n"
"simulated QKD link, served over HTTPS with mutual TLS.\n"
"\n"
"TLS:\n"
"  --cert-a FILE, --key-a FILE   server certificate and key of KME A (required)\n"
"  --cert-b FILE, --key-b FILE   same for KME B (default: those of KME A)\n"
"  --ca FILE                     CA that signs SAE client certificates (required);\n"
"                                an SAE's ID is its certificate's CN\n"
"Endpoints:\n"
"  --listen-a IP:PORT            KME A (default 127.0.0.1:8443)\n"
"  --listen-b IP:PORT            KME B (default 127.0.0.1:8444)\n"
"  --listen-a2 IP:PORT, --listen-b2 IP:PORT\n"
"                                a replica of KME A / B: another endpoint of the\n"
"                                same KME (same store), default none\n"
"  --admin IP:PORT               plain-HTTP admin endpoint (default off; bind to\n"
"                                loopback only: it is unauthenticated)\n"
"Identities:\n"
"  --sae-a ID[,ID...]            SAEs attached to KME A (default SAE_A)\n"
"  --sae-b ID[,ID...]            SAEs attached to KME B (default SAE_B)\n"
"  --kme-a-id ID, --kme-b-id ID  KME IDs (default KME_A, KME_B)\n"
"Link model:\n"
"  --key-rate BITS               secret key rate at QBER 0 in bit/s (default 25600);\n"
"                                effective rate = rate * max(0, 1 - 2 h(QBER))\n"
"  --qber X                      initial QBER 0..0.5 (default 0)\n"
"  --qber-drift X                QBER change per second (default 0)\n"
"  --key-size BITS               default key size (default 256)\n"
"  --min-key-size BITS           (default 64)\n"
"  --max-key-size BITS           (default %d)\n"
"  --max-key-count N             keys the link stores at most (default 1000)\n"
"  --max-key-per-request N       (default 128)\n"
"  --initial-keys N              keys stored at start (default 0)\n"
"  --fail-fraction F             answer this fraction of requests 503 (default 0)\n"
"  --pending-ttl S               drop keys the slave does not fetch within S s (default 300)\n"
"  --max-pending N               keys waiting for their slave, at most (default 10000)\n"
"Deviations of real KMEs (see qkd-kms-sim(8)):\n"
"  --deviation NAME[,NAME...]    %s\n"
"Other:\n"
"  -v, --verbose                 log every request\n"
"  -q, --quiet                   log errors only\n"
"  -h, --help                    this text\n"
"  --version\n"
"\n"
"Run time control: SIGUSR1 cuts the QKD link (no new keys), SIGUSR2 restores it;\n"
"the admin endpoint offers GET /admin/status, /admin/link?up=0|1,\n"
"/admin/qber?value=X&drift=Y, /admin/rate?bits=N, /admin/fail?fraction=F,\n"
"/admin/fill?keys=N, /admin/flush, /admin/deviation?set=NAME[,NAME...].\n"
"See qkd-kms-sim(8).\n",
		ETSI_KEY_MAX_BYTES * 8, deviation_names());
}

static void set_defaults(struct cli *cli)
{
	*cli = (struct cli){ .listen_a = "127.0.0.1:8443", .listen_b = "127.0.0.1:8444",
			     .sae_a = "SAE_A", .sae_b = "SAE_B" };
	snprintf(S.kme_id[0], ETSI_ID_MAX, "KME_A");
	snprintf(S.kme_id[1], ETSI_ID_MAX, "KME_B");
	S.key_size = 256;
	S.min_key_size = 64;
	S.max_key_size = ETSI_KEY_MAX_BYTES * 8;
	S.max_key_count = 1000;
	S.max_key_per_request = 128;
	S.max_pending = 10000;
	S.pending_ttl = 300;
	S.key_rate = 25600;
	S.link_up = 1;
}

/* A link model option: its number in min..max into *out. */
static int link_option(int o, double min, double max, double *out)
{
	if (parse_double_in(optarg, min, max, out)) {
		fprintf(stderr, "qkd-kms-sim: bad value for --%s: '%s'\n", opts[o - O_CERTA].name,
			optarg);
		return -1;
	}
	return 0;
}

/* The options of the link model.  Returns 0, -1 if bad, 1 if o is none. */
static int parse_link_option(int o, struct cli *cli)
{
	double v;

#define NUM(min, max) do { if (link_option(o, min, max, &v)) return -1; } while (0)
	switch (o) {
	case O_RATE: NUM(0, 1e9); S.key_rate = v; break;
	case O_QBER: NUM(0, 0.5); S.qber = v; break;
	case O_DRIFT: NUM(-1, 1); S.qber_drift = v; break;
	case O_KS: NUM(8, ETSI_KEY_MAX_BYTES * 8); S.key_size = (int)v; break;
	case O_MINKS: NUM(8, ETSI_KEY_MAX_BYTES * 8); S.min_key_size = (int)v; break;
	case O_MAXKS: NUM(8, ETSI_KEY_MAX_BYTES * 8); S.max_key_size = (int)v; break;
	case O_MKC: NUM(1, 1e7); S.max_key_count = (int)v; break;
	case O_MKPR: NUM(1, ETSI_KEYS_MAX); S.max_key_per_request = (int)v; break;
	case O_INIT: NUM(0, 1e7); cli->initial_keys = v; break;
	case O_FAIL: NUM(0, 1); S.fail_fraction = v; break;
	case O_PTTL: NUM(1, 86400); S.pending_ttl = v; break;
	case O_MAXP: NUM(1, 1e6); S.max_pending = (int)v; break;
	default: return 1;
	}
#undef NUM
	return 0;
}

/* One option o.  Returns -1 to go on, or the exit status. */
static int parse_option(int o, struct cli *cli)
{
	int r = parse_link_option(o, cli);

	if (r <= 0)
		return r < 0 ? 2 : -1;
	switch (o) {
	case O_CERTA: cli->cert_a = optarg; break;
	case O_KEYA: cli->key_a = optarg; break;
	case O_CERTB: cli->cert_b = optarg; break;
	case O_KEYB: cli->key_b = optarg; break;
	case O_CA: cli->ca = optarg; break;
	case O_LA: cli->listen_a = optarg; break;
	case O_LB: cli->listen_b = optarg; break;
	case O_LA2: cli->listen_a2 = optarg; break;
	case O_LB2: cli->listen_b2 = optarg; break;
	case O_ADMIN: cli->admin_at = optarg; break;
	case O_SAEA: cli->sae_a = optarg; break;
	case O_SAEB: cli->sae_b = optarg; break;
	case O_KA:
	case O_KB:
		if (!*optarg || strlen(optarg) >= ETSI_ID_MAX) {
			fprintf(stderr, "qkd-kms-sim: bad KME ID\n");
			return 2;
		}
		snprintf(S.kme_id[o == O_KB], ETSI_ID_MAX, "%s", optarg);
		break;
	case O_DEV:
		if (deviation_parse(optarg, &S.dev)) {
			fprintf(stderr, "qkd-kms-sim: --deviation: unknown name in '%s' (known: %s)\n",
				optarg, deviation_names());
			return 2;
		}
		break;
	case 'v': qkd_log_level = LOG_LVL_DEBUG; break;
	case 'q': qkd_log_level = LOG_LVL_ERR; break;
	case 'h': usage(stdout); return 0;
	case O_VERSION: printf("qkd-kms-sim %s\n", SIM_VERSION); return 0;
	default: usage(stderr); return 2;
	}
	return -1;
}

static int add_saes(const char *list, int site)
{
	char buf[1024], *tok, *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return -1;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (S.nsaes >= MAX_SAES || !*tok || strlen(tok) >= ETSI_ID_MAX ||
		    strpbrk(tok, "/?#% ") || find_sae(tok) >= 0)
			return -1;
		snprintf(S.saes[S.nsaes].id, ETSI_ID_MAX, "%s", tok);
		S.saes[S.nsaes++].site = site;
	}
	return 0;
}

/* Parse and check the command line.  Returns -1 to go on, or the exit
 * status. */
static int parse_args(int argc, char **argv, struct cli *cli)
{
	int o, r;

	while ((o = getopt_long(argc, argv, "vqh", opts, NULL)) != -1)
		if ((r = parse_option(o, cli)) >= 0)
			return r;
	if (optind != argc || !cli->cert_a || !cli->key_a || !cli->ca) {
		fprintf(stderr, "qkd-kms-sim: --cert-a, --key-a and --ca are required (see --help)\n");
		return 2;
	}
	if (S.key_size % 8 || S.min_key_size % 8 || S.max_key_size % 8 ||
	    S.min_key_size > S.key_size || S.key_size > S.max_key_size) {
		fprintf(stderr, "qkd-kms-sim: key sizes must be multiples of 8 with min <= default <= max\n");
		return 2;
	}
	if (add_saes(cli->sae_a, 0) || add_saes(cli->sae_b, 1)) {
		fprintf(stderr, "qkd-kms-sim: bad or duplicate SAE IDs\n");
		return 2;
	}
	return -1;
}

/* The store of pending keys (and replies) in the locked secure heap:
 * twice the store, a power of two of 1..64 MiB. */
static void lock_secrets(void)
{
	size_t want = (size_t)S.max_pending * sizeof(struct pending_key) * 2, heap = 1 << 20;
	char why[256];

	while (heap < want && heap < ((size_t)64 << 20))
		heap <<= 1;
	if (sec_init(heap, why, sizeof(why)) != 1)
		log_warn("%s", why);
}

/* A whole PEM file into a wiping buffer (keys are secrets), or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *b;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (1 << 20) ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NULL;
	}
	b = sec_malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		sec_free(b);
		b = NULL;
	}
	if (b)
		b[n] = '\0';
	fclose(f);
	return b;
}

/* KME A's certificate and key, KME B's (A's by default), the CA. */
enum { PEM_CERT_A, PEM_KEY_A, PEM_CERT_B, PEM_KEY_B, PEM_CA, PEM__N };

static int read_pems(const struct cli *cli, char *pem[PEM__N])
{
	int i;

	pem[PEM_CERT_A] = slurp(cli->cert_a);
	pem[PEM_KEY_A] = slurp(cli->key_a);
	pem[PEM_CERT_B] = slurp(cli->cert_b ? cli->cert_b : cli->cert_a);
	pem[PEM_KEY_B] = slurp(cli->key_b ? cli->key_b : cli->key_a);
	pem[PEM_CA] = slurp(cli->ca);
	for (i = 0; i < PEM__N; i++)
		if (!pem[i]) {
			log_err("cannot read certificate/key/CA file %d: %s", i, strerror(errno));
			return -1;
		}
	return 0;
}

/* Until SIGINT or SIGTERM: SIGUSR1 cuts the link, SIGUSR2 restores it. */
static void run(void)
{
	while (!g_stop) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		if (g_cut || g_restore) {
			pthread_mutex_lock(&S.lock);
			update_locked();
			if (g_cut)
				S.link_up = 0;
			if (g_restore)
				S.link_up = 1;
			pthread_mutex_unlock(&S.lock);
			log_info("signal: link %s", g_restore ? "restored" : "cut");
			g_cut = g_restore = 0;
		}
	}
}

int main(int argc, char **argv)
{
	struct cli cli;
	char *pem[PEM__N] = { NULL };
	struct site_ctx admin_sc = { 2 };
	struct MHD_Daemon *adm = NULL;
	int started = 0;
	static const int sigs[] = { SIGINT, SIGTERM, SIGUSR1, SIGUSR2, 0 };
	int rc = 1, i;

	qkd_log_ident = "qkd-kms-sim";
	pthread_mutex_init(&S.lock, NULL);
	set_defaults(&cli);
	if ((rc = parse_args(argc, argv, &cli)) >= 0)
		return rc;
	rc = 1;
	{
		char why[128];

		if (store_test_seed_from_env(why, sizeof(why))) {
			fprintf(stderr, "qkd-kms-sim: %s\n", why);
			return 2;
		}
	}
	lock_secrets();
	sec_json_allocator_init();
	if (store_init()) {
		fprintf(stderr, "qkd-kms-sim: out of memory\n");
		return 1;
	}
	link_init(cli.initial_keys);
	if (read_pems(&cli, pem))
		goto out;
	install_signals(on_signal, sigs);
	{
		const char *const listen[4] = { cli.listen_a, cli.listen_b, cli.listen_a2,
						 cli.listen_b2 };
		const char *const cert[2] = { pem[PEM_CERT_A], pem[PEM_CERT_B] };
		const char *const key[2] = { pem[PEM_KEY_A], pem[PEM_KEY_B] };

		started = 1;
		if (replicas_start(listen, cert, key, pem[PEM_CA]))
			goto out;
	}
	if (cli.admin_at && !(adm = start_admin(&admin_sc, cli.admin_at)))
		goto out;
	{
		char dev[256];

		deviation_format(deviations(), dev, sizeof(dev));
		log_info("KME %s on %s, KME %s on %s, key rate %.0f bit/s, admin %s%s%s",
			 S.kme_id[0], cli.listen_a, S.kme_id[1], cli.listen_b, S.key_rate,
			 cli.admin_at ? cli.admin_at : "off", dev[0] ? ", deviations " : "", dev);
	}
	if (S.test_seeded)
		log_warn("TEST ONLY: keys are derived from %s, not random: anyone with the seed knows them",
			 TESTKEYS_SEED_ENV);
	/* Readiness line for scripts (stdout). */
	printf("ready\n");
	fflush(stdout);
	run();
	log_info("stopping");
	rc = 0;
out:
	/* no new hung connections; replicas_stop() lets the old ones go */
	__atomic_and_fetch(&S.dev, ~(unsigned)DEV_HANG, __ATOMIC_RELAXED);
	if (adm)
		MHD_stop_daemon(adm);
	if (started)
		replicas_stop();
	for (i = 0; i < PEM__N; i++)
		sec_free(pem[i]);
	store_free();
	pthread_mutex_destroy(&S.lock);
	return rc;
}
