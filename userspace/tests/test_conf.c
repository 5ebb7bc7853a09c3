// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "conf.h"
#include "tap.h"

static char certdir[] = "/tmp/qkd-conf-test-XXXXXX";
static char cert[300];

static const char *good_link(void)
{
	static char b[2048];

	snprintf(b, sizeof(b),
		 "[link site-b]\n"
		 "kme_url = https://127.0.0.1:8443/\n"
		 "local_sae_id = SAE_A\n"
		 "remote_sae_id = SAE_B\n"
		 "client_cert = %s\n"
		 "client_key = %s\n"
		 "ca_cert = %s\n", cert, cert, cert);
	return b;
}

/* Parse text; expect failure at the given line with the given fragment. */
static void expect_bad(const char *text, int line, const char *frag, const char *what)
{
	struct conf *c = malloc(sizeof(*c));
	char err[512], want[64];
	int r = conf_parse_buf("t.conf", text, strlen(text), c, err, sizeof(err));

	snprintf(want, sizeof(want), "t.conf:%d: ", line);
	ok(r < 0 && !strncmp(err, want, strlen(want)) && strstr(err, frag),
	   "conf: %s -> \"%s\"", what, r < 0 ? err : "(accepted)");
	free(c);
}

/* Write a self-signed EC certificate and its key (optionally encrypted,
 * optionally expired) with OpenSSL's API. */
static int make_pair(const char *crtpath, const char *keypath, int expired, int encrypted)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	FILE *f;
	int ok = 0;

	if (!k || !x)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), expired ? -7200 : 0);
	X509_gmtime_adj(X509_getm_notAfter(x), expired ? -3600 : 3600);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"SAE_T", -1, -1, 0);
	X509_set_issuer_name(x, n);
	if (!X509_sign(x, k, EVP_sha256()))
		goto out;
	f = fopen(crtpath, "w");
	if (!f)
		goto out;
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(keypath, "w");
	if (!f)
		goto out;
	if (encrypted)
		PEM_write_PrivateKey(f, k, EVP_aes_128_cbc(), (unsigned char *)"pw", 2, NULL, NULL);
	else
		PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	ok = 1;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return ok;
}

static void tls_case_sae(const char *crt, const char *key, const char *ca, const char *sae,
			 const char *extra, int want_line, const char *frag, const char *what)
{
	struct conf *c = malloc(sizeof(*c));
	char text[2048], err[512];
	int r;

	snprintf(text, sizeof(text),
		 "[link t]\nkme_url = https://k\nlocal_sae_id = %s\nremote_sae_id = B\n"
		 "client_cert = %s\nclient_key = %s\nca_cert = %s\n%s", sae, crt, key, ca, extra);
	r = conf_parse_buf("t.conf", text, strlen(text), c, err, sizeof(err));
	if (r == 0)
		r = conf_check_tls(c, err, sizeof(err));
	if (!want_line) {
		ok(r == 0, "conf TLS: %s (%s)", what, r ? err : "ok");
	} else {
		char want[32];

		snprintf(want, sizeof(want), "t.conf:%d: ", want_line);
		ok(r < 0 && !strncmp(err, want, strlen(want)) && strstr(err, frag),
		   "conf TLS: %s -> \"%s\"", what, r < 0 ? err : "(accepted)");
	}
	free(c);
}

/* certificates made by make_pair have CN SAE_T */
static void tls_case(const char *crt, const char *key, const char *ca, int want_line,
		     const char *frag, const char *what)
{
	tls_case_sae(crt, key, ca, "SAE_T", "", want_line, frag, what);
}

static void tls_checks(void)
{
	char crt[320], key[320], crt2[320], key2[320], enc_crt[320], enc_key[320];
	char old_crt[320], old_key[320];

	snprintf(crt, sizeof(crt), "%s/a.crt", certdir);
	snprintf(key, sizeof(key), "%s/a.key", certdir);
	snprintf(crt2, sizeof(crt2), "%s/b.crt", certdir);
	snprintf(key2, sizeof(key2), "%s/b.key", certdir);
	snprintf(enc_crt, sizeof(enc_crt), "%s/e.crt", certdir);
	snprintf(enc_key, sizeof(enc_key), "%s/e.key", certdir);
	snprintf(old_crt, sizeof(old_crt), "%s/o.crt", certdir);
	snprintf(old_key, sizeof(old_key), "%s/o.key", certdir);
	if (!make_pair(crt, key, 0, 0) || !make_pair(crt2, key2, 0, 0) ||
	    !make_pair(enc_crt, enc_key, 0, 1) || !make_pair(old_crt, old_key, 1, 0)) {
		ok(0, "conf TLS: make test certificates");
		return;
	}
	tls_case(crt, key, crt, 0, "", "matching certificate, key and CA accepted");
	tls_case(cert, key, crt, 5, "is not a PEM certificate", "certificate file without PEM");
	tls_case(key, key, crt, 5, "is not a PEM certificate", "key file given as certificate");
	tls_case(crt, key2, crt, 6, "does not match client_cert", "key of another certificate");
	tls_case(crt, cert, crt, 6, "is not a PEM private key", "key file without PEM");
	tls_case(enc_crt, enc_key, crt, 6, "is encrypted", "passphrase-protected key refused");
	tls_case(old_crt, old_key, crt, 5, "has expired", "expired certificate");
	tls_case(crt, key, key, 7, "holds no PEM certificate", "CA file without certificates");
	tls_case_sae(crt, key, crt, "SAE_A", "", 5, "its CN is not local_sae_id 'SAE_A'",
		     "certificate CN (SAE_T) differs from local_sae_id: refused");
	tls_case_sae(crt, key, crt, "SAE_A", "require_cn_match = no\n", 0, "",
		     "CN differs but require_cn_match = no: accepted");
	tls_case_sae(crt, key, crt, "SAE_TX", "", 5, "its CN is not local_sae_id",
		     "local_sae_id longer than the CN: refused");
	tls_case_sae(crt, key, crt, "SAE_T", "require_cn_match = maybe\n", 8,
		     "require_cn_match must be yes or no", "require_cn_match takes yes or no");
	unlink(crt); unlink(key); unlink(crt2); unlink(key2);
	unlink(enc_crt); unlink(enc_key); unlink(old_crt); unlink(old_key);
}

int main(void)
{
	struct conf *c = malloc(sizeof(*c));
	char err[512], text[4096];
	FILE *f;
	int r;

	if (!mkdtemp(certdir))
		return 1;
	snprintf(cert, sizeof(cert), "%s/x.pem", certdir);
	f = fopen(cert, "w");
	fputs("dummy\n", f);
	fclose(f);

	snprintf(text, sizeof(text),
		 "# qkd-agent test\n"
		 "[agent]\n"
		 "metrics_listen = 127.0.0.1:9464\n"
		 "log_level = debug\n"
		 "audit_journal = no\n"
		 "audit_interval = 7\n"
		 "plugin_metrics = /run/ns-a/charon-plugin.prom\n"
		 "\n"
		 "%s"
		 "role = master\n"
		 "key_size = 512\n"
		 "low_watermark = 8   \n"
		 "high_watermark = 32\n"
		 "max_keys = 100\n"
		 "key_ttl = 600\n"
		 "rate = 50\n"
		 "burst = 10\n"
		 "qber_threshold = 0.05\n"
		 "; another comment\n"
		 "[link other]\n"
		 "kme_url = https://kme:1\n"
		 "local_sae_id = A2\n"
		 "remote_sae_id = B2\n"
		 "client_cert = %s\n"
		 "client_key = %s\n"
		 "ca_cert = %s\n",
		 good_link(), cert, cert, cert);
	r = conf_parse_buf("t.conf", text, strlen(text), c, err, sizeof(err));
	ok(r == 0, "conf: valid file accepted (%s)", r ? err : "ok");
	ok(r == 0 && c->nlinks == 2 && !strcmp(c->metrics_listen, "127.0.0.1:9464") &&
	   c->log_level == 3 && c->audit_journal == 0 && c->audit_interval == 7 &&
	   c->audit_settle == 30 && !strcmp(c->plugin_metrics, "/run/ns-a/charon-plugin.prom"),
	   "conf: [agent] section parsed (audit_settle default 30)");
	ok(r == 0 && !strcmp(c->links[0].name, "site-b") &&
	   !strcmp(c->links[0].kme_url, "https://127.0.0.1:8443") &&
	   c->links[0].role == ROLE_MASTER && c->links[0].key_size == 512 &&
	   c->links[0].low_watermark == 8 && c->links[0].high_watermark == 32 &&
	   c->links[0].max_keys == 100 && c->links[0].key_ttl == 600 && c->links[0].rate == 50 &&
	   c->links[0].burst == 10 && c->links[0].qber_threshold == 0.05 && c->links[0].line == 9,
	   "conf: link values parsed, trailing '/' of kme_url dropped");
	ok(r == 0 && c->links[1].role == ROLE_BOTH && c->links[1].key_size == 256 &&
	   c->links[1].low_watermark == 16 && c->links[1].high_watermark == 64,
	   "conf: defaults applied");
	ok(r == 0 && conf_find(c, "other") == &c->links[1] && conf_find(c, "nope") == NULL, "conf: find by name");

	expect_bad("kme_url = x\n", 1, "outside a section", "key before any section");
	expect_bad("[agent]\nfoo\n", 2, "expected KEY = VALUE", "line without '='");
	expect_bad("[agent]\nbogus = 1\n", 2, "unknown key", "unknown agent key");
	expect_bad("[agent\n", 1, "malformed section header", "unterminated section header");
	expect_bad("[links x]\n", 1, "unknown section", "unknown section");
	expect_bad("[link ]\n", 1, "link name missing", "empty link name");
	expect_bad("[link abcdefghijabcdefghijabcdefghij12]\n", 1, "link name", "link name too long");
	expect_bad("[agent]\nlog_level = loud\n", 2, "log_level", "bad log level");
	expect_bad("[agent]\naudit_journal = on\n", 2, "audit_journal must be yes or no",
		   "audit_journal neither yes nor no");
	expect_bad("[agent]\naudit_settle = 0\n", 2, "1..3600", "audit_settle 0");
	expect_bad("[agent]\nmetrics_listen = 9464\n", 2, "metrics_listen", "metrics without address");
	expect_bad("[agent]\nmetrics_listen = localhost:9464\n", 2, "IPV4:PORT", "metrics with a host name");
	expect_bad("[agent]\nmetrics_listen = 127.0.0.1:99999\n", 2, "IPV4:PORT", "metrics port out of range");
	expect_bad("[agent]\nplugin_metrics = run/x.prom\n", 2, "absolute path or off",
		   "plugin_metrics relative");
	r = conf_parse_buf("t.conf", good_link(), strlen(good_link()), c, err, sizeof(err));
	ok(r == 0 && !strcmp(c->plugin_metrics, "/run/qkd/charon-plugin.prom"),
	   "conf: plugin_metrics defaults to the plugin's default metrics_file");
	snprintf(text, sizeof(text), "[agent]\nplugin_metrics = off\n%s", good_link());
	r = conf_parse_buf("t.conf", text, strlen(text), c, err, sizeof(err));
	ok(r == 0 && c->plugin_metrics[0] == '\0', "conf: plugin_metrics = off");
	expect_bad("[agent]\n[agent]\n", 2, "duplicate [agent]", "duplicate agent section");
	expect_bad("", 1, "no [link NAME]", "empty file");

	snprintf(text, sizeof(text), "%skey_size = 100\n", good_link());
	expect_bad(text, 8, "multiple of 8", "key_size not a multiple of 8");
	snprintf(text, sizeof(text), "%skey_size = 1024\n", good_link());
	expect_bad(text, 8, "key_size", "key_size above the module's 512 bits");
	snprintf(text, sizeof(text), "%slow_watermark = -1\n", good_link());
	expect_bad(text, 8, "low_watermark", "negative watermark");
	snprintf(text, sizeof(text), "%slow_watermark = 12x\n", good_link());
	expect_bad(text, 8, "integer", "trailing garbage after a number");
	snprintf(text, sizeof(text), "%slow_watermark = 99999999999999999999\n", good_link());
	expect_bad(text, 8, "integer", "number overflow");
	snprintf(text, sizeof(text), "%srole = boss\n", good_link());
	expect_bad(text, 8, "role", "bad role");
	snprintf(text, sizeof(text), "%slocal_sae_id = X\n", good_link());
	expect_bad(text, 8, "duplicate key 'local_sae_id'", "duplicate key");
	snprintf(text, sizeof(text), "%sqber_threshold = 1.5\n", good_link());
	expect_bad(text, 8, "qber_threshold", "threshold out of range");
	snprintf(text, sizeof(text), "%sclient_cert = /nonexistent/c.pem\n", good_link());
	expect_bad(text, 8, "duplicate key 'client_cert'", "duplicate client_cert");
	snprintf(text, sizeof(text),
		 "[link a]\nkme_url = https://k\nlocal_sae_id = A\nremote_sae_id = B\n"
		 "client_cert = /nonexistent/c.pem\n");
	expect_bad(text, 5, "cannot read '/nonexistent/c.pem'", "unreadable certificate");
	snprintf(text, sizeof(text), "%slow_watermark = 64\nhigh_watermark = 64\n", good_link());
	expect_bad(text, 1, "must be below high_watermark", "low >= high watermark (reported at [link])");
	snprintf(text, sizeof(text), "%shigh_watermark = 200\nmax_keys = 100\n", good_link());
	expect_bad(text, 1, "exceeds the link's max_keys", "high watermark above max_keys");
	snprintf(text, sizeof(text), "%skey_size = 512\nhigh_watermark = 100\nmax_bytes = 4096\n", good_link());
	expect_bad(text, 1, "exceed max_bytes", "high watermark above max_bytes");
	snprintf(text, sizeof(text),
		 "[link a]\nkme_url = http://k\nlocal_sae_id = A\nremote_sae_id = B\n"
		 "client_cert = %s\nclient_key = %s\nca_cert = %s\n", cert, cert, cert);
	expect_bad(text, 2, "https://", "plain http KME URL (named at its line)");
	{
		/* kme_url as libcurl parses it, and what the agent appends to */
		static const struct { const char *url, *frag, *what; } urls[] = {
			{ "https://k:99999", "libcurl", "port out of range" },
			{ "https://k:0", "port must be", "port 0" },
			{ "https://a b", "libcurl", "space in the host" },
			{ "https://k/x?y=1", "query", "query" },
			{ "https://k/x#", "fragment", "empty fragment" },
			{ "https://u:p@k", "credentials", "user and password" },
			{ "ftp://k", "https://", "another scheme" },
			{ "k:8443", "", "no scheme" },
		};
		size_t i;

		for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
			snprintf(text, sizeof(text), "[link a]\nkme_url = %s\n", urls[i].url);
			expect_bad(text, 2, urls[i].frag, urls[i].what);
		}
	}
	expect_bad("[link a/b]\n", 1, "letters, digits and . _ - : @", "link name with '/' (module refuses it)");
	expect_bad("[link a*b]\n", 1, "the module's rule", "link name with '*'");
	snprintf(text, sizeof(text), "%slow_watermark = 0\n", good_link());
	expect_bad(text, 1, "low_watermark 0 would stop the refills", "low_watermark 0 with role both");
	snprintf(text, sizeof(text), "%slow_watermark = 0\nrole = slave\n", good_link());
	r = conf_parse_buf("t.conf", text, strlen(text), c, err, sizeof(err));
	ok(r == 0, "conf: low_watermark 0 accepted for a slave-only link (%s)", r ? err : "ok");
	snprintf(text, sizeof(text), "[link a.b-c_d:e@f]\nkme_url = https://[::1]:8443/kme/\n"
		 "local_sae_id = A\nremote_sae_id = B\nclient_cert = %s\nclient_key = %s\n"
		 "ca_cert = %s\nmax_keys = 0\nmax_bytes = 0\nkey_ttl = 0\nburst = 0\nrate = 0\n",
		 cert, cert, cert);
	r = conf_parse_buf("t.conf", text, strlen(text), c, err, sizeof(err));
	ok(r == 0 && c->links[0].max_keys == 0 && c->links[0].max_bytes == 0 &&
	   c->links[0].key_ttl == 0 && c->links[0].burst == 0 &&
	   !strcmp(c->links[0].kme_url, "https://[::1]:8443/kme"),
	   "conf: 0 for max_keys, max_bytes, key_ttl, burst means the module default; "
	   "every character the module allows in a link name; IPv6 KME (%s)", r ? err : "ok");
	snprintf(text, sizeof(text), "[link r]\nkme_url = https://k1:8443/ , https://k2:8443/x/\n"
		 "local_sae_id = A\nremote_sae_id = B\nclient_cert = %s\nclient_key = %s\n"
		 "ca_cert = %s\nkme_failback = 5\n", cert, cert, cert);
	r = conf_parse_buf("t.conf", text, strlen(text), c, err, sizeof(err));
	ok(r == 0 && c->links[0].nkmes == 2 && !strcmp(c->links[0].kme_urls[0], "https://k1:8443") &&
	   !strcmp(c->links[0].kme_urls[1], "https://k2:8443/x") &&
	   c->links[0].kme_url == c->links[0].kme_urls[0] && c->links[0].kme_failback == 5,
	   "conf: kme_url lists replicas, each trimmed; kme_failback (%s)", r ? err : "ok");
	expect_bad("[link a]\nkme_url = https://a, https://b, https://c, https://d, https://e\n", 2,
		   "at most 4 URLs", "five KME replicas");
	expect_bad("[link a]\nkme_url = https://a, http://b\n", 2, "https://", "one replica not https");
	expect_bad("[link a]\nkme_url = https://a,,\n", 2, "kme_url", "an empty replica");
	snprintf(text, sizeof(text), "%smax_bytes = 32\n", good_link());
	expect_bad(text, 8, "0 (module default) or an integer in 64..", "max_bytes below one key");
	snprintf(text, sizeof(text),
		 "[link a]\nkme_url = https://k\nlocal_sae_id = A\n"
		 "client_cert = %s\nclient_key = %s\nca_cert = %s\n", cert, cert, cert);
	expect_bad(text, 1, "remote_sae_id missing", "missing remote SAE ID");
	snprintf(text, sizeof(text),
		 "[link a]\nkme_url = https://k\nlocal_sae_id = A\nremote_sae_id = A\n"
		 "client_cert = %s\nclient_key = %s\nca_cert = %s\n", cert, cert, cert);
	expect_bad(text, 1, "equal", "local == remote SAE ID");
	snprintf(text, sizeof(text), "%slocal_sae_id2 = X\n", good_link());
	expect_bad(text, 8, "unknown key", "unknown link key");
	snprintf(text, sizeof(text), "[link a]\nremote_sae_id = A/B\n");
	expect_bad(text, 2, "invalid characters", "SAE ID with '/'");
	snprintf(text, sizeof(text), "%s%s", good_link(), good_link());
	expect_bad(text, 8, "duplicate link site-b (first at line 1)", "duplicate link name");
	{
		char longl[1200];

		memset(longl, 'x', sizeof(longl) - 2);
		longl[sizeof(longl) - 2] = '\n';
		longl[sizeof(longl) - 1] = '\0';
		memcpy(longl, "[agent]\n# ", 10);
		expect_bad(longl, 2, "line too long", "over-long line");
	}
	{
		const char nul[] = "[agent]\nlog_level = in\0fo\n";
		struct conf *c2 = malloc(sizeof(*c2));

		r = conf_parse_buf("t.conf", nul, sizeof(nul) - 1, c2, err, sizeof(err));
		ok(r < 0 && strstr(err, "t.conf:2: NUL byte"), "conf: NUL byte inside a line refused (%s)", err);
		free(c2);
	}
	r = conf_load("/nonexistent/qkd-agent.conf", c, err, sizeof(err));
	ok(r < 0 && strstr(err, "/nonexistent/qkd-agent.conf:0: cannot open"), "conf: missing file reported (%s)", err);
	{
		char p[300];

		snprintf(p, sizeof(p), "%s/a.conf", certdir);
		f = fopen(p, "w");
		fprintf(f, "%s\nbatch = 0\n", good_link());
		fclose(f);
		r = conf_load(p, c, err, sizeof(err));
		ok(r < 0 && strstr(err, "a.conf:9: batch"), "conf: conf_load names file and line (%s)", err);
		unlink(p);
	}
	tls_checks();
	unlink(cert);
	rmdir(certdir);
	free(c);
	return tap_done();
}
