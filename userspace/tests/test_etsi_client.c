// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Integration: the ETSI GS QKD 014 client (common/etsi_client.c) against
 * qkd-kms-sim over HTTPS with mutual TLS on 127.0.0.1.
 * Usage: test_etsi_client SIM_BINARY PKI_DIR BASE_PORT
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <curl/curl.h>
#include "backoff.h"
#include "clock.h"
#include "etsi_client.h"
#include "secmem.h"
#include "tap.h"

static const char *sim_bin, *pki;
static int port_a, port_b, port_admin;
static char url_a[64], url_b[64];

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static char *pkif(const char *name)
{
	static char buf[8][512];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", pki, name);
	return buf[i];
}

/* Start the simulator with extra args (NULL-terminated); wait for "ready". */
static pid_t start_sim_delayed(int delay_ms, const char *const *extra)
{
	char la[32], lb[32], ad[32], logf[600];
	const char *argv[64];
	int n = 0, p[2], i;
	pid_t pid;

	snprintf(la, sizeof(la), "127.0.0.1:%d", port_a);
	snprintf(lb, sizeof(lb), "127.0.0.1:%d", port_b);
	snprintf(ad, sizeof(ad), "127.0.0.1:%d", port_admin);
	snprintf(logf, sizeof(logf), "%s/sim.log", pki);
	argv[n++] = sim_bin;
	argv[n++] = "--cert-a"; argv[n++] = pkif("kme.crt");
	argv[n++] = "--key-a"; argv[n++] = pkif("kme.key");
	argv[n++] = "--ca"; argv[n++] = pkif("ca.crt");
	argv[n++] = "--listen-a"; argv[n++] = la;
	argv[n++] = "--listen-b"; argv[n++] = lb;
	argv[n++] = "--admin"; argv[n++] = ad;
	for (i = 0; extra && extra[i] && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (delay_ms)
			msleep(delay_ms);
		dup2(p[1], 1);
		if (fd >= 0)
			dup2(fd, 2);
		close(p[0]);
		execv(sim_bin, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	if (!delay_ms) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		char buf[16] = "";

		if (poll(&pfd, 1, 5000) != 1 || read(p[0], buf, sizeof(buf) - 1) < 5 ||
		    strncmp(buf, "ready", 5)) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(p[0]);
			return -1;
		}
	}
	close(p[0]);
	return pid;
}

static pid_t start_sim(const char *const *extra)
{
	return start_sim_delayed(0, extra);
}

static int sim_bad_exits, sim_stops;

/* SIGTERM; the simulator must exit 0 (sanitizer builds exit non-zero on
 * leaks or errors). */
static void stop_sim(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	sim_stops++;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		sim_bad_exits++;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

/* Plain HTTP GET to the admin endpoint; returns HTTP code. */
static long admin(const char *path)
{
	CURL *h = curl_easy_init();
	char url[256];
	long code = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port_admin, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	return code;
}

/* Raw HTTPS POST as SAE_A to KME A; returns HTTP code. */
static long raw_post(const char *path, const char *body, size_t len)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	char url[256];
	long code = 0;

	snprintf(url, sizeof(url), "%s%s", url_a, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SSLCERT, pkif("SAE_A.crt"));
	curl_easy_setopt(h, CURLOPT_SSLKEY, pkif("SAE_A.key"));
	curl_easy_setopt(h, CURLOPT_CAINFO, pkif("ca.crt"));
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	return code;
}

static int client(struct etsi_client *c, const char *url, const char *who)
{
	char crt[64], key[64];

	snprintf(crt, sizeof(crt), "%s.crt", who);
	snprintf(key, sizeof(key), "%s.key", who);
	return etsi_client_init(c, url, pkif(crt), pkif(key), pkif("ca.crt"), 5);
}

static void basic(void)
{
	static const char *const extra[] = { "--initial-keys", "100", "--key-rate", "0", NULL };
	struct etsi_client a, b, x, rogue, b_at_a;
	struct etsi_status st;
	struct etsi_result res;
	struct etsi_keys ks, ks2, ks3;
	uint8_t ids[4][16];
	pid_t pid = start_sim(extra);
	int rc, i, same = 1;

	memset(&st, 0, sizeof(st));	/* printed below even if the request failed */
	ok(pid > 0, "simulator starts with test certificates");
	client(&a, url_a, "SAE_A");
	client(&b, url_b, "SAE_B");
	client(&x, url_a, "SAE_X");
	client(&rogue, url_a, "rogue");
	client(&b_at_a, url_a, "SAE_B");

	rc = etsi_get_status(&a, "SAE_B", &st, &res);
	ok(rc == 0 && !strcmp(st.source_KME_ID, "KME_A") && !strcmp(st.target_KME_ID, "KME_B") &&
	   !strcmp(st.master_SAE_ID, "SAE_A") && !strcmp(st.slave_SAE_ID, "SAE_B") &&
	   st.key_size == 256 && st.stored_key_count == 100 && st.max_key_count == 1000 &&
	   st.max_key_per_request == 128 && st.min_key_size == 64 && st.max_key_size == 1024 &&
	   st.qber == 0 && st.link_up == 1,
	   "status: every field as configured (rc %d, %s, stored %d)", rc, res.msg, st.stored_key_count);
	ok(res.latency_s > 0 && res.latency_s < 10, "status latency measured: %.1f ms", res.latency_s * 1000);

	rc = etsi_get_enc_keys(&a, "SAE_B", 4, 256, 0, &ks, &res);
	ok(rc == 0 && ks.n == 4 && ks.keys[0].len == 32 && memcmp(ks.keys[0].id, ks.keys[1].id, 16),
	   "enc_keys POST {number:4,size:256}: 4 keys of 32 bytes (rc %d %s)", rc, res.msg);
	for (i = 0; i < 4 && rc == 0; i++)
		memcpy(ids[i], ks.keys[i].id, 16);
	rc = etsi_get_dec_keys(&b, "SAE_A", (const uint8_t (*)[16])ids, 4, 0, &ks2, &res);
	for (i = 0; i < 4 && rc == 0; i++)
		if (memcmp(ks.keys[i].key, ks2.keys[i].key, 32) || memcmp(ks.keys[i].id, ks2.keys[i].id, 16))
			same = 0;
	ok(rc == 0 && ks2.n == 4 && same, "dec_keys POST at KME B by ID: the same 4 keys (rc %d %s)", rc, res.msg);
	etsi_keys_free(&ks2);
	rc = etsi_get_dec_keys(&b, "SAE_A", (const uint8_t (*)[16])ids, 1, 0, &ks2, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 400, "dec_keys of a delivered key: 400, key deleted (%s)", res.msg);
	etsi_keys_free(&ks);

	rc = etsi_get_enc_keys(&a, "SAE_B", 2, 0, 1, &ks, &res);
	ok(rc == 0 && ks.n == 2 && ks.keys[0].len == 32, "enc_keys GET ?number=2: default size (rc %d %s)", rc, res.msg);
	if (rc == 0) {
		memcpy(ids[0], ks.keys[1].id, 16);
		rc = etsi_get_dec_keys(&b, "SAE_A", (const uint8_t (*)[16])ids, 1, 1, &ks3, &res);
		ok(rc == 0 && ks3.n == 1 && !memcmp(ks3.keys[0].key, ks.keys[1].key, 32),
		   "dec_keys GET ?key_ID=: matching key (rc %d %s)", rc, res.msg);
		etsi_keys_free(&ks3);
		memcpy(ids[0], ks.keys[0].id, 16);
		rc = etsi_get_dec_keys(&a, "SAE_B", (const uint8_t (*)[16])ids, 1, 0, &ks3, &res);
		ok(rc == ETSI_E_HTTP && res.http_code == 400,
		   "dec_keys by the master itself for its own key: 400 (%s)", res.msg);
		rc = etsi_get_dec_keys(&b, "SAE_A", (const uint8_t (*)[16])ids, 1, 0, &ks3, &res);
		ok(rc == 0 && ks3.n == 1, "the slave still gets that key afterwards (rc %d)", rc);
		etsi_keys_free(&ks3);
	}
	etsi_keys_free(&ks);

	rc = etsi_get_enc_keys(&a, "SAE_B", 1, 512, 0, &ks, &res);
	ok(rc == 0 && ks.n == 1 && ks.keys[0].len == 64, "enc_keys size 512: 64-byte key (rc %d)", rc);
	etsi_keys_free(&ks);

	/* authentication */
	rc = etsi_get_status(&rogue, "SAE_B", &st, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 401 && !strcmp(res.error.message, "Unauthorized"),
	   "client cert from another CA (CN SAE_A): 401 {message:Unauthorized} (%s)", res.msg);
	rc = etsi_get_status(&x, "SAE_B", &st, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 401, "valid cert of an unregistered SAE: 401 (%s)", res.msg);
	rc = etsi_get_enc_keys(&b_at_a, "SAE_A", 1, 0, 0, &ks, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 401, "SAE of KME B at KME A: 401 (%s)", res.msg);
	{
		CURL *h = curl_easy_init();
		char url[128];
		long code = 0;

		snprintf(url, sizeof(url), "%s/api/v1/keys/SAE_B/status", url_a);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_CAINFO, pkif("ca.crt"));
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		if (curl_easy_perform(h) == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_cleanup(h);
		ok(code == 401, "no client certificate at all: 401 (got %ld)", code);
	}
	/* server certificate checked by the client */
	{
		struct etsi_client bad;

		etsi_client_init(&bad, url_a, pkif("SAE_A.crt"), pkif("SAE_A.key"), pkif("rogue-ca.crt"), 5);
		rc = etsi_get_status(&bad, "SAE_B", &st, &res);
		ok(rc == ETSI_E_TRANSPORT, "client refuses a KME certificate from an untrusted CA (%s)", res.msg);
		etsi_client_cleanup(&bad);
	}

	/* malformed and oversized requests */
	rc = etsi_get_enc_keys(&a, "SAE_B", 1, 100 * 8 + 4, 0, &ks, &res);
	ok(rc == ETSI_E_ARG, "client refuses size not a multiple of 8 before sending");
	rc = etsi_get_enc_keys(&a, "SAE_B", 1, 2048, 0, &ks, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 400, "size above max_key_size: 400 (%s)", res.msg);
	rc = etsi_get_enc_keys(&a, "SAE_B", 129, 256, 0, &ks, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 400, "number above max_key_per_request: 400 (%s)", res.msg);
	rc = etsi_get_enc_keys(&a, "SAE_NOPE", 1, 256, 0, &ks, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 400, "unknown slave SAE: 400 (%s)", res.msg);
	rc = etsi_get_status(&a, "SAE_A", &st, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 400, "status for itself as slave: 400 (%s)", res.msg);
	memset(ids[0], 0x42, 16);
	rc = etsi_get_dec_keys(&b, "SAE_A", (const uint8_t (*)[16])ids, 1, 0, &ks, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 400, "dec_keys unknown key ID: 400 (%s)", res.msg);
	ok(raw_post("/api/v1/keys/SAE_B/enc_keys", "{\"number\":", 10) == 400, "truncated JSON body: 400");
	ok(raw_post("/api/v1/keys/SAE_B/enc_keys", "{\"number\":\"1\"}", 14) == 400, "number as a string: 400");
	ok(raw_post("/api/v1/keys/SAE_B/enc_keys", "[]", 2) == 400, "array body: 400");
	{
		size_t n = 100 * 1024;
		char *big = malloc(n);

		memset(big, ' ', n);
		big[0] = '{';
		big[n - 1] = '}';
		ok(raw_post("/api/v1/keys/SAE_B/enc_keys", big, n) == 400, "100 KiB body: 400");
		free(big);
	}
	ok(raw_post("/api/v1/keys/SAE_B/dec_keys", "{\"key_IDs\":[{\"key_ID\":\"x\"}]}", 27) == 400,
	   "dec_keys with a non-UUID ID: 400");
	ok(raw_post("/api/v1/keys/SAE_B/enc_keys", "{\"number\":1,\"extension_mandatory\":[{\"x\":1}]}", 45) == 400,
	   "unsupported extension_mandatory: 400");
	/* exhaustion: 100 initial, 4+2+1(512 bits = 2 keys' worth) used */
	rc = etsi_get_status(&a, "SAE_B", &st, &res);
	ok(rc == 0 && st.stored_key_count == 92, "stored_key_count counts down: 92 (got %d)", st.stored_key_count);
	rc = etsi_get_enc_keys(&a, "SAE_B", 93, 256, 0, &ks, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 503 && !strcmp(res.error.message, "Error on server side"),
	   "more keys than stored: 503 (%s)", res.msg);
	rc = etsi_get_enc_keys(&a, "SAE_B", 92, 256, 0, &ks, &res);
	ok(rc == 0 && ks.n == 92, "exactly the stored keys: granted (rc %d)", rc);
	etsi_keys_free(&ks);
	rc = etsi_get_enc_keys(&a, "SAE_B", 1, 256, 0, &ks, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 503, "exhausted store: 503 (%s)", res.msg);

	etsi_client_cleanup(&a);
	etsi_client_cleanup(&b);
	etsi_client_cleanup(&x);
	etsi_client_cleanup(&rogue);
	etsi_client_cleanup(&b_at_a);
	stop_sim(pid);
}

/* Whose keys an SAE may fetch, and which KME a client trusts. */
static void identities(void)
{
	static const char *const extra[] = { "--initial-keys", "20", "--key-rate", "0",
					     "--sae-b", "SAE_B,SAE_X", NULL };
	struct etsi_client a, b, x_at_b;
	struct etsi_result res;
	struct etsi_keys ks, ks2;
	struct etsi_status st;
	uint8_t id[1][16];
	pid_t pid = start_sim(extra);
	int rc;

	ok(pid > 0, "simulator with two SAEs at KME B (SAE_B, SAE_X)");
	client(&a, url_a, "SAE_A");
	client(&b, url_b, "SAE_B");
	client(&x_at_b, url_b, "SAE_X");
	rc = etsi_get_enc_keys(&a, "SAE_B", 1, 256, 0, &ks, &res);
	ok(rc == 0 && ks.n == 1, "SAE_A gets a key for SAE_B (rc %d %s)", rc, res.msg);
	memcpy(id[0], ks.n ? ks.keys[0].id : (const uint8_t *)"0123456789abcdef", 16);
	/* spec 5.3: the key is for SAE_B only; the sim answers 400 for
	 * another SAE's key exactly as for an unknown one */
	rc = etsi_get_dec_keys(&x_at_b, "SAE_A", (const uint8_t (*)[16])id, 1, 0, &ks2, &res);
	ok(rc == ETSI_E_HTTP && (res.http_code == 400 || res.http_code == 401) && ks2.n == 0,
	   "second SAE at KME B asking for SAE_B's key: refused, HTTP %ld (%s)", res.http_code,
	   res.msg);
	etsi_keys_free(&ks2);
	rc = etsi_get_dec_keys(&b, "SAE_X", (const uint8_t (*)[16])id, 1, 0, &ks2, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 400 && ks2.n == 0,
	   "dec_keys naming the wrong master (SAE_X) in the path: 400 (%s)", res.msg);
	etsi_keys_free(&ks2);
	rc = etsi_get_dec_keys(&b, "SAE_Q", (const uint8_t (*)[16])id, 1, 1, &ks2, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 400 && ks2.n == 0,
	   "dec_keys GET naming an unknown master (SAE_Q): 400 (%s)", res.msg);
	etsi_keys_free(&ks2);
	rc = etsi_get_dec_keys(&b, "SAE_A", (const uint8_t (*)[16])id, 1, 0, &ks2, &res);
	ok(rc == 0 && ks2.n == 1 && ks.n == 1 && ks2.keys[0].len == ks.keys[0].len &&
	   !memcmp(ks2.keys[0].key, ks.keys[0].key, ks.keys[0].len),
	   "after those refusals SAE_B still gets the key, unchanged (rc %d %s)", rc, res.msg);
	etsi_keys_free(&ks);
	etsi_keys_free(&ks2);
	etsi_client_cleanup(&a);
	etsi_client_cleanup(&b);
	etsi_client_cleanup(&x_at_b);
	stop_sim(pid);

	/* KME B presents a certificate of the trusted CA for another host */
	{
		const char *e2[] = { "--cert-b", NULL, "--key-b", NULL, NULL };
		char crt[600], key[600];

		snprintf(crt, sizeof(crt), "%s", pkif("kme-wronghost.crt"));
		snprintf(key, sizeof(key), "%s", pkif("kme-wronghost.key"));
		e2[1] = crt;
		e2[3] = key;
		pid = start_sim(e2);
		ok(pid > 0, "simulator with a wrong-host certificate on KME B");
		client(&a, url_a, "SAE_A");
		client(&b, url_b, "SAE_B");
		rc = etsi_get_status(&a, "SAE_B", &st, &res);
		ok(rc == 0, "KME A (right host name) accepted (rc %d %s)", rc, res.msg);
		rc = etsi_get_status(&b, "SAE_A", &st, &res);
		ok(rc == ETSI_E_TRANSPORT && res.http_code == 0,
		   "client refuses KME B's certificate (trusted CA, host name kme.elsewhere.example) (%s)",
		   res.msg);
		etsi_client_cleanup(&a);
		etsi_client_cleanup(&b);
		stop_sim(pid);
	}
}

/* A fast consumer gets what the key rate allows, no more. */
static void rate(void)
{
	static const char *const extra[] = { "--key-rate", "5120", "--max-key-count", "1000", NULL };
	struct etsi_client a;
	struct etsi_status st;
	struct etsi_result res;
	struct etsi_keys ks;
	double t_pre = mono_now(), t_ready, t0, el, t_last503 = 0;
	pid_t pid = start_sim(extra);
	long got = 0, n503 = 0, nreq = 0, got_at503 = 0;

	t_ready = t0 = mono_now();
	client(&a, url_a, "SAE_A");
	while (mono_now() - t0 < 3.0) {
		double tr = mono_now();
		int rc = etsi_get_enc_keys(&a, "SAE_B", 1, 256, 0, &ks, &res);

		nreq++;
		if (rc == 0) {
			got += (long)ks.n;
		} else if (res.http_code == 503) {
			n503++;
			t_last503 = tr;		/* the store was empty after tr */
			got_at503 = got;
		}
		etsi_keys_free(&ks);
	}
	el = mono_now() - t_pre;
	/*
	 * 5120 bit/s = 20 keys/s of 256 bits.  Bounds from measured times, so
	 * a loaded machine cannot make this flaky: the link made at most
	 * 20 keys/s since before the start (upper bound), and a 503 at t
	 * means every key made by t (at least 20 keys/s since "ready") had
	 * been handed out (lower bound).
	 */
	ok(got <= (long)(20 * el) + 2 &&
	   (!n503 || got_at503 >= (long)(20 * (t_last503 - t_ready)) - 2),
	   "key rate 5120 bit/s: %ld keys of 256 bits in %.2f s (at most %.0f); at the last 503 "
	   "(%.2f s) %ld handed out (at least %.0f)", got, el, 20 * el + 2, t_last503 - t_ready,
	   got_at503, n503 ? 20 * (t_last503 - t_ready) - 2 : 0);
	ok(n503 > 0 || got == nreq,
	   "a consumer faster than the link runs the pool dry (%ld of %ld requests got 503)",
	   n503, nreq);
	stop_sim(pid);

	{
		static const char *const e2[] = { "--key-rate", "256000", "--max-key-count", "50", NULL };

		pid = start_sim(e2);
		msleep(400);
		int r = etsi_get_status(&a, "SAE_B", &st, &res);

		ok(r == 0 && st.stored_key_count == 50 && st.max_key_count == 50,
		   "keys accumulate up to max_key_count (stored %d)", st.stored_key_count);
		stop_sim(pid);
	}
	etsi_client_cleanup(&a);
}

static void faults(void)
{
	static const char *const extra[] = { "--key-rate", "25600", "--qber", "0.03", NULL };
	struct etsi_client a;
	struct etsi_status st, st2;
	struct etsi_result res;
	struct backoff bo;
	pid_t pid = start_sim(extra), pid2;
	int rc, tries, i, n503 = 0;
	double t0;

	client(&a, url_a, "SAE_A");
	rc = etsi_get_status(&a, "SAE_B", &st, &res);
	ok(rc == 0 && fabs(st.qber - 0.03) < 1e-9, "QBER visible to clients as status extension 'qber' (%.3f)", st.qber);
	rc = admin("/admin/qber?value=0.07") == 200 ? etsi_get_status(&a, "SAE_B", &st, &res) : -1;
	ok(rc == 0 && fabs(st.qber - 0.07) < 1e-9, "QBER set at run time via admin endpoint (%.3f)", st.qber);
	rc = admin("/admin/qber?value=0.2") == 200 && admin("/admin/flush") == 200 ? 0 : -1;
	msleep(300);
	if (rc == 0)
		rc = etsi_get_status(&a, "SAE_B", &st, &res);
	ok(rc == 0 && st.stored_key_count == 0,
	   "QBER above 11%% (0.2): no secret key is distilled (stored %d after 0.3 s)", st.stored_key_count);
	{
		/* expected QBER from the measured times: set between ta0 and
		 * ta1, read between ts0 and ts1 */
		double ta0 = mono_now(), ta1, ts0, ts1, lo, hi;

		admin("/admin/qber?value=0.01&drift=0.05");
		ta1 = mono_now();
		msleep(500);
		ts0 = mono_now();
		rc = etsi_get_status(&a, "SAE_B", &st, &res);
		ts1 = mono_now();
		lo = 0.01 + 0.05 * (ts0 - ta1) - 1e-4;
		hi = 0.01 + 0.05 * (ts1 - ta0) + 1e-4;
		ok(rc == 0 && st.qber >= lo && st.qber <= hi && st.qber > 0.01,
		   "QBER drifts at run time (%.4f after %.2f s at 0.05/s; expected %.4f..%.4f)",
		   st.qber, ts0 - ta1, lo, hi);
	}
	admin("/admin/qber?value=0&drift=0");

	ok(kill(pid, SIGUSR1) == 0, "SIGUSR1 cuts the link");
	msleep(300);
	etsi_get_status(&a, "SAE_B", &st, &res);
	msleep(400);
	rc = etsi_get_status(&a, "SAE_B", &st2, &res);
	ok(rc == 0 && st2.link_up == 0 && st2.stored_key_count == st.stored_key_count,
	   "cut link: no new keys (%d -> %d), link_up false", st.stored_key_count, st2.stored_key_count);
	kill(pid, SIGUSR2);
	msleep(400);
	rc = etsi_get_status(&a, "SAE_B", &st, &res);
	ok(rc == 0 && st.link_up == 1 && st.stored_key_count > st2.stored_key_count + 20,
	   "SIGUSR2 restores it: keys accumulate again (%d -> %d)", st2.stored_key_count, st.stored_key_count);

	admin("/admin/fail?fraction=0.5");
	for (i = 0; i < 40; i++)
		if (etsi_get_status(&a, "SAE_B", &st, &res) == ETSI_E_HTTP && res.http_code == 503)
			n503++;
	ok(n503 >= 8 && n503 <= 32, "fail fraction 0.5: %d of 40 requests answered 503", n503);
	admin("/admin/fail?fraction=0");

	/* KME down and back */
	stop_sim(pid);
	rc = etsi_get_status(&a, "SAE_B", &st, &res);
	ok(rc == ETSI_E_TRANSPORT, "KME down: transport error (%s)", res.msg);
	pid2 = start_sim_delayed(1500, extra);
	backoff_init(&bo, 100, 1000, 1);
	t0 = mono_now();
	for (tries = 1; tries < 100; tries++) {
		rc = etsi_get_status(&a, "SAE_B", &st, &res);
		if (rc == 0)
			break;
		msleep((int)backoff_next(&bo));
	}
	ok(rc == 0 && tries > 1 && mono_now() - t0 < 10,
	   "KME back: client recovers with backoff after %d tries in %.2f s", tries, mono_now() - t0);
	stop_sim(pid2);
	etsi_client_cleanup(&a);
}

/* What the client makes of replies of deviating KMEs (qkd-kms-sim(8)). */
static void deviations(void)
{
	static const char *const extra[] = { "--initial-keys", "100", "--key-rate", "0", NULL };
	struct etsi_client a, b;
	struct etsi_result res;
	struct etsi_keys ks;
	uint8_t id[16];
	pid_t pid = start_sim(extra);
	int rc;

	client(&a, url_a, "SAE_A");
	client(&b, url_b, "SAE_B");
	admin("/admin/deviation?set=ignore-number");
	rc = etsi_get_enc_keys(&a, "SAE_B", 4, 256, 0, &ks, &res);
	ok(rc == 0 && ks.n == 1 && res.asked == 4 && res.rep.entries == 1,
	   "ignore-number: a short reply is no error: 1 key for 4 asked (rc %d, %s)", rc, res.msg);
	etsi_keys_free(&ks);
	admin("/admin/deviation?set=bad-entries");
	rc = etsi_get_enc_keys(&a, "SAE_B", 8, 256, 0, &ks, &res);
	ok(rc == 0 && ks.n + res.rep.ndropped == 8 && res.rep.ndropped >= 2 && ks.n >= 4,
	   "bad-entries: the good keys of a reply kept (%zu), bad ones counted (%zu: %s)", ks.n,
	   res.rep.ndropped, res.rep.first);
	etsi_keys_free(&ks);
	admin("/admin/deviation?set=401-unknown-id,html-errors");
	memset(id, 0x42, 16);
	rc = etsi_get_dec_keys(&b, "SAE_A", (const uint8_t (*)[16])&id, 1, 0, &ks, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 401 && !res.error_body &&
	   strstr(res.msg, "no ETSI error body") && strstr(res.msg, "text/html"),
	   "401-unknown-id, html-errors: 401 with an HTML page, told apart from an ETSI body (%s)",
	   res.msg);
	admin("/admin/deviation?set=empty-errors");
	rc = etsi_get_dec_keys(&b, "SAE_A", (const uint8_t (*)[16])&id, 1, 0, &ks, &res);
	ok(rc == ETSI_E_HTTP && res.http_code == 400 && strstr(res.msg, "empty body"),
	   "empty-errors: 400 with an empty body (%s)", res.msg);
	admin("/admin/deviation?set=malformed-json");
	rc = etsi_get_enc_keys(&a, "SAE_B", 2, 256, 0, &ks, &res);
	ok(rc == ETSI_E_PROTO && strstr(res.msg, "malformed JSON at line 1, column") &&
	   !strstr(res.msg, "Q0FO") && !strstr(res.msg, "near"),
	   "malformed-json: unusable reply, its position only in the message (%s)", res.msg);
	admin("/admin/deviation?set=hang");
	etsi_client_cleanup(&a);
	etsi_client_init(&a, url_a, pkif("SAE_A.crt"), pkif("SAE_A.key"), pkif("ca.crt"), 1);
	rc = etsi_get_status(&a, "SAE_B", &(struct etsi_status){ 0 }, &res);
	ok(rc == ETSI_E_TRANSPORT && res.timed_out && res.latency_s < 3,
	   "hang: no answer, a timeout after %.1f s (%s)", res.latency_s, res.msg);
	admin("/admin/deviation?set=");
	rc = etsi_get_status(&a, "SAE_B", &(struct etsi_status){ 0 }, &res);
	ok(rc == 0, "hang over: the KME answers again (rc %d)", rc);
	etsi_client_cleanup(&a);
	etsi_client_cleanup(&b);
	stop_sim(pid);
}

int main(int argc, char **argv)
{
	int base;

	if (argc != 4) {
		fprintf(stderr, "usage: %s SIM PKI_DIR BASE_PORT\n", argv[0]);
		return 2;
	}
	sim_bin = argv[1];
	pki = argv[2];
	base = atoi(argv[3]);
	port_a = base;
	port_b = base + 1;
	port_admin = base + 2;
	snprintf(url_a, sizeof(url_a), "https://localhost:%d", port_a);
	snprintf(url_b, sizeof(url_b), "https://127.0.0.1:%d", port_b);
	signal(SIGPIPE, SIG_IGN);
	etsi_client_global_init();
	basic();
	identities();
	rate();
	faults();
	deviations();
	ok(sim_bad_exits == 0, "simulator exited 0 on SIGTERM %d times of %d (see %s/sim.log)",
	   sim_stops - sim_bad_exits, sim_stops, pki);
	etsi_client_global_cleanup();
	return tap_done();
}
