// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "conf.h"
#include "p11.h"
#include "addr.h"
#include "etsi.h"
#include "../../include/uapi/linux/qkd.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <curl/curl.h>

#define LINE_MAX_LEN 1024
#define WHY_MAX 96	/* a refusal formatted with its limits */

/* conf.h keeps its own sizes so that it needs no kernel header; the
 * module is what they must fit. */
_Static_assert(CONF_NAME_MAX == QKD_LINK_NAME_MAX, "link names: conf.h and the UAPI differ");
_Static_assert(CONF_SAE_MAX == QKD_SAE_ID_MAX, "SAE IDs: conf.h and the UAPI differ");

void conf_link_defaults(struct conf_link *l)
{
	memset(l, 0, sizeof(*l));
	l->role = ROLE_BOTH;
	l->key_size = 256;
	l->low_watermark = 16;
	l->high_watermark = 64;
	l->poll_interval = 10;
	l->request_timeout = 5;
	l->backoff_base_ms = 500;
	l->backoff_max_ms = 30000;
	l->rate_drift = 0.5;
	l->qber_threshold = 0.08;
	l->error_rate_threshold = 0.2;
	l->require_cn_match = 1;
	l->prefetch = PREFETCH_AUTO;
	l->kme_url = l->kme_urls[0];
	l->kme_failback = 60;
	/* a responder take waits at most QKD_TAKE_WAIT_MAX_MS for its key */
	l->jit_grace = QKD_TAKE_WAIT_MAX_MS / 1000 + 2;
}

static int perr(char *err, size_t errsz, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errsz)
		return -1;
	n = snprintf(err, errsz, "%s:%d: ", file, line);
	if (n < 0 || (size_t)n >= errsz)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long x;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x < min || x > max)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int parse_double(const char *v, double min, double max, double *out)
{
	char *end;
	double x;

	if (!*v)
		return -1;
	errno = 0;
	x = strtod(v, &end);
	if (errno || *end || !(x >= min && x <= max))
		return -1;
	*out = x;
	return 0;
}

static int valid_id(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	if (!*p)
		return 0;
	for (; *p; p++)
		if (!isgraph(*p) || *p == '/' || *p == '?' || *p == '#' || *p == '%')
			return 0;
	return 1;
}

/*
 * The module's rule for link names (kmod/netlink.c, qkd_check_link_name):
 * 1..QKD_LINK_NAME_MAX-1 letters, digits and . _ - : @, so that a name
 * needs no quoting in logs, qkdctl columns and config files.  The UAPI
 * header gives only the length; the character set lives in the module.
 */
static int valid_link_name(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	if (!*p || strlen(v) >= QKD_LINK_NAME_MAX)
		return 0;
	for (; *p; p++)
		if (!isalnum(*p) && !strchr("._-:@", *p))
			return 0;
	return 1;
}

/*
 * kme_url as libcurl will see it (its own URL parser): https, a host, an
 * optional port and path, nothing else (the agent appends
 * /api/v1/keys/...: a query, fragment or credentials would break that).
 * Returns NULL or why not.
 */
static int has_part(CURLU *u, CURLUPart what)
{
	char *p = NULL;
	int r = curl_url_get(u, what, &p, 0) == CURLUE_OK;

	curl_free(p);
	return r;
}

static const char *check_kme_url(const char *v, char whybuf[WHY_MAX])
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	const char *why = NULL;
	CURLUcode rc;

	if (!u)
		return "out of memory";
	rc = curl_url_set(u, CURLUPART_URL, v, 0);
	if (rc) {
		snprintf(whybuf, WHY_MAX, "not a URL libcurl accepts (%s)", curl_url_strerror(rc));
		why = whybuf;
	} else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) || strcmp(scheme, "https")) {
		why = "must be https://HOST[:PORT][/PATH]";
	} else if (curl_url_get(u, CURLUPART_HOST, &host, 0) || !*host) {
		why = "must be https://HOST[:PORT][/PATH] (no host)";
	} else if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD)) {
		why = "must not hold user credentials";
	} else if (has_part(u, CURLUPART_QUERY) || has_part(u, CURLUPART_FRAGMENT) ||
		   strpbrk(v, "?#")) {
		why = "must not hold a query or fragment (the agent appends /api/v1/keys/...)";
	} else if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && atoi(port) < 1) {
		why = "port must be 1..65535";
	}
	curl_free(port);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return why;
}

/* kme_url = URL[, URL...]: replicas of one KME, each checked. */
static int kme_urls(struct conf_link *l, const char *v, const char **why, char whybuf[WHY_MAX])
{
	char buf[CONF_KMES_MAX * CONF_URL_MAX], *tok, *next;

	if (snprintf(buf, sizeof(buf), "%s", v) >= (int)sizeof(buf))
		return *why = "value too long", -1;
	l->nkmes = 0;
	for (tok = buf; tok; tok = next) {
		char *u = tok, *e;
		size_t n;

		next = strchr(tok, ',');
		if (next)
			*next++ = '\0';

		while (*u == ' ' || *u == '\t')
			u++;
		e = u + strlen(u);
		while (e > u && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		while (e - u > 8 && e[-1] == '/')
			*--e = '\0';
		n = strlen(u);
		if (l->nkmes == CONF_KMES_MAX) {
			snprintf(whybuf, WHY_MAX, "at most %d URLs (replicas of one KME)", CONF_KMES_MAX);
			return *why = whybuf, -1;
		}
		if (!n || n >= CONF_URL_MAX)
			return *why = "a URL empty or too long", -1;
		if ((*why = check_kme_url(u, whybuf)))
			return -1;
		memcpy(l->kme_urls[l->nkmes++], u, n + 1);
	}
	if (!l->nkmes)
		return *why = "value empty", -1;
	return 0;
}

static int set_str(char *dst, size_t dstsz, const char *v)
{
	size_t l = strlen(v);

	if (l == 0 || l >= dstsz)
		return -1;
	memcpy(dst, v, l + 1);
	return 0;
}

/* Keys seen in the current section, to refuse duplicates. */
struct seen {
	char keys[48][32];
	int n;
};

static int seen_add(struct seen *s, const char *k)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->keys[i], k))
			return -1;
	if (s->n < 48)
		snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%s", k);
	return 0;
}

/* Refuse a value outside min..max, saying the range (the limits come
 * from headers, so the text is formatted, not a literal). */
static int out_of_range(const char **why, char whybuf[WHY_MAX], const char *what,
			uint32_t min, uint32_t max, const char *unit)
{
	snprintf(whybuf, WHY_MAX, "%s in %u..%u%s", what, min, max, unit);
	*why = whybuf;
	return -1;
}

static int link_key(struct conf_link *l, const char *k, const char *v, const char **why,
		    char whybuf[WHY_MAX])
{
	uint32_t u;

#define STR(field, check) \
	if (!strcmp(k, #field)) { \
		if (set_str(l->field, sizeof(l->field), v)) \
			return *why = "value empty or too long", -1; \
		if (check && !valid_id(v)) \
			return *why = "invalid characters in ID", -1; \
		return 0; \
	}
#define U32(field, min, max) \
	if (!strcmp(k, #field)) { \
		if (parse_u32(v, min, max, &l->field)) \
			return out_of_range(why, whybuf, "expected an integer", min, max, ""); \
		return 0; \
	}
#define U32Z(field, min, max) \
	if (!strcmp(k, #field)) { \
		if (parse_u32(v, 0, max, &l->field) || (l->field && l->field < min)) \
			return out_of_range(why, whybuf, "expected 0 (module default) or an integer", \
					    min, max, ""); \
		return 0; \
	}
#define DBL(field, min, max) \
	if (!strcmp(k, #field)) { \
		if (parse_double(v, min, max, &l->field)) \
			return *why = "expected a number in " #min ".." #max, -1; \
		return 0; \
	}
	if (!strcmp(k, "kme_url"))
		return kme_urls(l, v, why, whybuf);
	STR(local_sae_id, 1)
	STR(remote_sae_id, 1)
	STR(client_cert, 0)
	STR(client_key, 0)
	STR(client_key_pin_file, 0)
	STR(ca_cert, 0)
	STR(crl_file, 0)
	/* words: their index is the value (enum order) */
#define WORDS(field, msg, ...) \
	if (!strcmp(k, #field)) { \
		static const char *const w[] = { __VA_ARGS__, NULL }; \
		int i; \
		for (i = 0; w[i]; i++) \
			if (!strcmp(v, w[i])) \
				return l->field = i, 0; \
		return *why = msg, -1; \
	}
	WORDS(role, "role must be master, slave or both", "both", "master", "slave")
	WORDS(require_cn_match, "require_cn_match must be yes or no", "no", "yes")
	WORDS(prefetch, "prefetch must be auto, yes or no", "auto", "yes", "no")
#undef WORDS
	if (!strcmp(k, "key_size")) {
		if (parse_u32(v, QKD_KEY_MIN_LEN * 8, QKD_KEY_MAX_LEN * 8, &u) || u % 8)
			return out_of_range(why, whybuf, "key_size must be a multiple of 8",
					    QKD_KEY_MIN_LEN * 8, QKD_KEY_MAX_LEN * 8, " (bits)");
		l->key_size = u;
		return 0;
	}
	U32(low_watermark, 0, QKD_LINK_MAX_KEYS_LIMIT)
	U32(high_watermark, 1, QKD_LINK_MAX_KEYS_LIMIT)
	U32(batch, 1, ETSI_KEYS_MAX)
	/* 0: not sent, the module's default applies */
	U32Z(max_keys, 1, QKD_LINK_MAX_KEYS_LIMIT)
	U32Z(max_bytes, QKD_KEY_MAX_LEN, QKD_LINK_MAX_BYTES_LIMIT)
	U32Z(key_ttl, 1, QKD_LINK_TTL_MAX)
	U32(rate, 0, QKD_LINK_RATE_MAX)
	U32Z(burst, 1, QKD_LINK_BURST_MAX)
	U32(poll_interval, 1, 3600)
	U32(jit_grace, 0, 3600)
	U32(kme_failback, 1, 86400)
	U32(request_timeout, 1, 300)
	U32(backoff_base_ms, 1, 600000)
	U32(backoff_max_ms, 1, 3600000)
	DBL(expected_key_rate, 0, 1e9)
	DBL(rate_drift, 0, 1)
	DBL(qber_threshold, 0, 1)
	DBL(error_rate_threshold, 0, 1)
#undef STR
#undef U32
#undef U32Z
#undef DBL
	return *why = "unknown key", -1;
}

static int agent_key(struct conf *c, const char *k, const char *v, const char **why)
{
	if (!strcmp(k, "metrics_listen")) {
		if (!strcmp(v, "off")) {
			c->metrics_listen[0] = '\0';
			return 0;
		}
		if (parse_ipv4_port(v, NULL, NULL) ||
		    set_str(c->metrics_listen, sizeof(c->metrics_listen), v))
			return *why = "metrics_listen must be IPV4:PORT or off", -1;
		return 0;
	}
	if (!strcmp(k, "log_level")) {
		static const char *lv[] = { "error", "warning", "info", "debug" };
		int i;

		for (i = 0; i < 4; i++)
			if (!strcmp(v, lv[i])) {
				c->log_level = i;
				return 0;
			}
		return *why = "log_level must be error, warning, info or debug", -1;
	}
	if (!strcmp(k, "stats_interval"))
		return parse_u32(v, 1, 3600, &c->stats_interval) ?
		       (*why = "expected an integer in 1..3600", -1) : 0;
	if (!strcmp(k, "audit_interval"))
		return parse_u32(v, 1, 3600, &c->audit_interval) ?
		       (*why = "expected an integer in 1..3600", -1) : 0;
	if (!strcmp(k, "cert_warn_days"))
		return parse_u32(v, 0, 3650, &c->cert_warn_days) ?
		       (*why = "expected an integer in 0..3650", -1) : 0;
	if (!strcmp(k, "audit_settle"))
		return parse_u32(v, 1, 3600, &c->audit_settle) ?
		       (*why = "expected an integer in 1..3600", -1) : 0;
	if (!strcmp(k, "plugin_metrics")) {
		/* read at each scrape: a file that is missing now may appear
		 * when charon starts, so only the form is checked here */
		if (!strcmp(v, "off")) {
			c->plugin_metrics[0] = '\0';
			return 0;
		}
		if (v[0] != '/' || set_str(c->plugin_metrics, sizeof(c->plugin_metrics), v))
			return *why = "plugin_metrics must be an absolute path or off", -1;
		return 0;
	}
	if (!strcmp(k, "audit_journal")) {
		if (strcmp(v, "yes") && strcmp(v, "no"))
			return *why = "audit_journal must be yes or no", -1;
		c->audit_journal = !strcmp(v, "yes");
		return 0;
	}
	return *why = "unknown key", -1;
}

static int readable(const char *path)
{
	return access(path, R_OK) == 0;
}

static int finish_link(const char *file, struct conf *c, struct conf_link *l,
		       char *err, size_t errsz)
{
	uint32_t max_keys, max_bytes;
	size_t i;

	if (!l->nkmes)
		return perr(err, errsz, file, l->line, "link %s: kme_url missing", l->name);
	if (!l->local_sae_id[0])
		return perr(err, errsz, file, l->line, "link %s: local_sae_id missing", l->name);
	if (!l->remote_sae_id[0])
		return perr(err, errsz, file, l->line, "link %s: remote_sae_id missing", l->name);
	if (!strcmp(l->local_sae_id, l->remote_sae_id))
		return perr(err, errsz, file, l->line, "link %s: local and remote SAE IDs are equal", l->name);
	if (!l->client_cert[0] || !l->client_key[0] || !l->ca_cert[0])
		return perr(err, errsz, file, l->line, "link %s: client_cert, client_key and ca_cert are required", l->name);
	if (p11_is_uri(l->client_key) && strstr(l->client_key, "pin-value"))
		return perr(err, errsz, file, l->key_line, "client_key: put the PIN in client_key_pin_file, "
			    "not in the URI (the URI reaches logs and error messages)");
	if (l->client_key_pin_file[0] && !p11_is_uri(l->client_key))
		return perr(err, errsz, file, l->key_line,
			    "client_key_pin_file needs a pkcs11: client_key (a key file has no PIN)");
	if (l->role != ROLE_SLAVE && l->low_watermark == 0)
		return perr(err, errsz, file, l->line, "link %s: low_watermark 0 would stop the refills "
			    "(the module never notifies, the pool level never drops below 0): use 1 or more",
			    l->name);
	if (l->low_watermark >= l->high_watermark)
		return perr(err, errsz, file, l->line, "link %s: low_watermark (%u) must be below high_watermark (%u)",
			    l->name, l->low_watermark, l->high_watermark);
	/* max_keys and max_bytes 0 mean the module's defaults */
	max_keys = l->max_keys ? l->max_keys : QKD_LINK_DEFAULT_MAX_KEYS;
	max_bytes = l->max_bytes ? l->max_bytes : QKD_LINK_DEFAULT_MAX_BYTES;
	if (l->high_watermark > max_keys)
		return perr(err, errsz, file, l->line, "link %s: high_watermark (%u) exceeds the link's max_keys (%u)",
			    l->name, l->high_watermark, max_keys);
	if ((uint64_t)l->high_watermark * (l->key_size / 8) > max_bytes)
		return perr(err, errsz, file, l->line, "link %s: high_watermark keys of %u bits exceed max_bytes (%u)",
			    l->name, l->key_size, max_bytes);
	if (l->backoff_base_ms > l->backoff_max_ms)
		return perr(err, errsz, file, l->line, "link %s: backoff_base_ms exceeds backoff_max_ms", l->name);
	for (i = 0; i + 1 < c->nlinks; i++)
		if (!strcmp(c->links[i].name, l->name))
			return perr(err, errsz, file, l->line, "duplicate link %s (first at line %d)",
				    l->name, c->links[i].line);
	return 0;
}

int conf_parse_buf(const char *file, const char *buf, size_t len, struct conf *c,
		   char *err, size_t errsz)
{
	char line[LINE_MAX_LEN + 2];
	struct seen seen = { .n = 0 };
	struct conf_link *cur = NULL;
	int in_agent = 0, agent_seen = 0, lineno = 0;
	size_t pos = 0;
	memset(c, 0, sizeof(*c));
	snprintf(c->file, sizeof(c->file), "%s", file);
	c->log_level = 2;
	c->stats_interval = 10;
	c->audit_journal = 1;
	c->audit_interval = 5;
	c->audit_settle = 30;
	c->cert_warn_days = 30;
	snprintf(c->plugin_metrics, sizeof(c->plugin_metrics), "%s", CONF_PLUGIN_METRICS_DEFAULT);
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		char *s, *eq, *k, *v;
		const char *why = NULL;
		char whybuf[WHY_MAX];

		lineno++;
		if (l > LINE_MAX_LEN)
			return perr(err, errsz, file, lineno, "line too long (over %d bytes)", LINE_MAX_LEN);
		memcpy(line, buf + pos, l);
		line[l] = '\0';
		pos += l + (nl ? 1 : 0);
		if (memchr(line, '\0', l))
			return perr(err, errsz, file, lineno, "NUL byte in line");
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']'), *name;

			if (!e || *trim(e + 1))
				return perr(err, errsz, file, lineno, "malformed section header");
			*e = '\0';
			s = trim(s + 1);
			cur = NULL;
			in_agent = 0;
			seen.n = 0;
			if (!strcmp(s, "agent")) {
				if (agent_seen)
					return perr(err, errsz, file, lineno, "duplicate [agent] section");
				in_agent = agent_seen = 1;
				continue;
			}
			if (!strcmp(s, "link"))
				return perr(err, errsz, file, lineno, "link name missing: [link NAME]");
			if (strncmp(s, "link", 4) || (s[4] != ' ' && s[4] != '\t'))
				return perr(err, errsz, file, lineno,
					    "unknown section '%s' (expected [agent] or [link NAME])", s);
			name = trim(s + 4);
			if (!valid_link_name(name))
				return perr(err, errsz, file, lineno,
					    "link name must be 1..%d letters, digits and . _ - : @ "
					    "(the module's rule)", CONF_NAME_MAX - 1);
			if (c->nlinks >= CONF_LINKS_MAX)
				return perr(err, errsz, file, lineno, "too many links (max %d)", CONF_LINKS_MAX);
			cur = &c->links[c->nlinks++];
			conf_link_defaults(cur);
			cur->line = lineno;
			memcpy(cur->name, name, strlen(name) + 1);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			return perr(err, errsz, file, lineno, "expected KEY = VALUE");
		*eq = '\0';
		k = trim(s);
		v = trim(eq + 1);
		if (!*k)
			return perr(err, errsz, file, lineno, "empty key");
		if (!cur && !in_agent)
			return perr(err, errsz, file, lineno, "'%s' outside a section", k);
		if (seen_add(&seen, k))
			return perr(err, errsz, file, lineno, "duplicate key '%s'", k);
		if (in_agent ? agent_key(c, k, v, &why) : link_key(cur, k, v, &why, whybuf))
			return perr(err, errsz, file, lineno, "%s: %s", k, why);
		if (cur && (!strcmp(k, "client_cert") || !strcmp(k, "client_key") ||
			    !strcmp(k, "ca_cert") || !strcmp(k, "client_key_pin_file") ||
			    !strcmp(k, "crl_file")) &&
		    !(!strcmp(k, "client_key") && p11_is_uri(v)) && !readable(v))
			return perr(err, errsz, file, lineno, "%s: cannot read '%s': %s",
				    k, v, strerror(errno));
		if (cur && !strcmp(k, "client_cert"))
			cur->cert_line = lineno;
		else if (cur && !strcmp(k, "client_key"))
			cur->key_line = lineno;
		else if (cur && !strcmp(k, "ca_cert"))
			cur->ca_line = lineno;
		else if (cur && !strcmp(k, "crl_file"))
			cur->crl_line = lineno;
	}
	/* Cross-field checks, reported at each link's header line. */
	{
		size_t i, n = c->nlinks;

		for (i = 0; i < n; i++) {
			c->nlinks = i + 1;
			if (finish_link(file, c, &c->links[i], err, errsz)) {
				c->nlinks = n;
				return -1;
			}
		}
		c->nlinks = n;
	}
	if (c->nlinks == 0)
		return perr(err, errsz, file, lineno ? lineno : 1, "no [link NAME] section");
	return 0;
}

int conf_load(const char *path, struct conf *c, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long sz;
	int r;

	if (!f) {
		snprintf(err, errsz, "%s:0: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    sz > (1 << 20)) {
		fclose(f);
		snprintf(err, errsz, "%s:0: cannot read or larger than 1 MiB", path);
		return -1;
	}
	buf = malloc((size_t)sz + 1);
	if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		free(buf);
		fclose(f);
		snprintf(err, errsz, "%s:0: read error", path);
		return -1;
	}
	fclose(f);
	r = conf_parse_buf(path, buf, (size_t)sz, c, err, errsz);
	free(buf);
	return r;
}

const struct conf_link *conf_find(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nlinks; i++)
		if (!strcmp(c->links[i].name, name))
			return &c->links[i];
	return NULL;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)u = 1;
	return 0;	/* refuse: the agent runs unattended */
}

static void ossl_reason(char *buf, size_t sz)
{
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, buf, sz);
	else
		snprintf(buf, sz, "no PEM data");
	ERR_clear_error();
}

/* Is crl issued and signed by one of the CA certificates? */
static int crl_signed_by(X509_CRL *crl, STACK_OF(X509_INFO) *cas)
{
	int i;

	for (i = 0; i < sk_X509_INFO_num(cas); i++) {
		X509 *ca = sk_X509_INFO_value(cas, i)->x509;
		EVP_PKEY *pub = ca ? X509_get0_pubkey(ca) : NULL;

		if (pub && !X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) &&
		    X509_CRL_verify(crl, pub) == 1)
			return 1;
	}
	ERR_clear_error();
	return 0;
}

/* crl_file: libcurl checks the KME's certificate against it (CRLFILE,
 * leaf only).  Every CRL in it must come from ca_cert's CA and be current:
 * with an expired one OpenSSL refuses every connection to the KME. */
static int check_crl(const char *file, const struct conf_link *l, STACK_OF(X509_INFO) *cas,
		     char *err, size_t errsz)
{
	STACK_OF(X509_INFO) *crls = NULL;
	int i, n = 0, r = -1;
	FILE *f = fopen(l->crl_file, "r");

	if (f)
		crls = PEM_X509_INFO_read(f, NULL, NULL, NULL);
	for (i = 0; crls && i < sk_X509_INFO_num(crls); i++) {
		X509_CRL *crl = sk_X509_INFO_value(crls, i)->crl;
		const ASN1_TIME *next = crl ? X509_CRL_get0_nextUpdate(crl) : NULL;

		if (!crl)
			continue;
		n++;
		if (!crl_signed_by(crl, cas)) {
			perr(err, errsz, file, l->crl_line, "crl_file: '%s': CRL %d is not signed by "
			     "a CA of ca_cert '%s'", l->crl_file, n, l->ca_cert);
			goto out;
		}
		if (next && X509_cmp_current_time(next) < 0) {
			perr(err, errsz, file, l->crl_line, "crl_file: '%s': CRL %d has expired (its "
			     "next update is past): every connection to the KME would be refused",
			     l->crl_file, n);
			goto out;
		}
	}
	if (!n) {
		perr(err, errsz, file, l->crl_line, "crl_file: '%s' holds no PEM CRL", l->crl_file);
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	if (f)
		fclose(f);
	if (crls)
		sk_X509_INFO_pop_free(crls, X509_INFO_free);
	return r;
}

/* client_key in a token: through the pkcs11 engine with the PIN file's
 * PIN, as libcurl will load it. */
static EVP_PKEY *load_token_key(const char *file, const struct conf_link *l, char *err,
				size_t errsz)
{
	char why[300];
	char *pin = NULL;
	EVP_PKEY *key;

	if (l->client_key_pin_file[0] &&
	    !(pin = p11_read_pin(l->client_key_pin_file, why, sizeof(why)))) {
		perr(err, errsz, file, l->key_line, "client_key_pin_file: '%s': %s",
		     l->client_key_pin_file, why);
		return NULL;
	}
	key = p11_load_key(l->client_key, pin, why, sizeof(why));
	p11_free_pin(pin);
	if (!key)
		perr(err, errsz, file, l->key_line, "client_key: PKCS#11 key '%s' could not be loaded (%s)",
		     l->client_key, why);
	return key;
}

static int check_link_tls(const char *file, const struct conf_link *l, char *err, size_t errsz)
{
	char why[256];
	X509 *crt = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509_INFO) *cas = NULL;
	FILE *f;
	int asked = 0, r = -1, i, ncas = 0;

	f = fopen(l->client_cert, "r");
	if (!f || !(crt = PEM_read_X509(f, NULL, NULL, NULL))) {
		ossl_reason(why, sizeof(why));
		perr(err, errsz, file, l->cert_line, "client_cert: '%s' is not a PEM certificate (%s)",
		     l->client_cert, why);
		goto out;
	}
	fclose(f);
	f = NULL;
	if (X509_cmp_current_time(X509_get0_notAfter(crt)) < 0) {
		perr(err, errsz, file, l->cert_line, "client_cert: '%s' has expired", l->client_cert);
		goto out;
	}
	if (l->require_cn_match) {
		/* The KME knows an SAE by its certificate (GS QKD 014 leaves
		 * the mapping open; the simulator and this project use the
		 * CN): a certificate of another SAE would fetch its keys. */
		X509_NAME *nm = X509_get_subject_name(crt);
		int idx = nm ? X509_NAME_get_index_by_NID(nm, NID_commonName, -1) : -1;
		const ASN1_STRING *cn = idx >= 0 ?
			X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx)) : NULL;
		size_t idl = strlen(l->local_sae_id);

		if (!cn || X509_NAME_get_index_by_NID(nm, NID_commonName, idx) >= 0 ||
		    (size_t)ASN1_STRING_length(cn) != idl ||
		    memcmp(ASN1_STRING_get0_data(cn), l->local_sae_id, idl)) {
			perr(err, errsz, file, l->cert_line,
			     "client_cert: '%s': its CN is not local_sae_id '%s' (one CN required; "
			     "set require_cn_match = no if your KME maps certificates otherwise)",
			     l->client_cert, l->local_sae_id);
			goto out;
		}
	}
	if (p11_is_uri(l->client_key)) {
		if (!(key = load_token_key(file, l, err, errsz)))
			goto out;
	} else if (!(f = fopen(l->client_key, "r")) ||
		   !(key = PEM_read_PrivateKey(f, NULL, no_passphrase, &asked))) {
		ossl_reason(why, sizeof(why));
		perr(err, errsz, file, l->key_line, "client_key: '%s' %s", l->client_key,
		     asked ? "is encrypted (not supported: the agent runs unattended)" :
			     "is not a PEM private key");
		if (!asked)
			snprintf(err + strlen(err), errsz - strlen(err), " (%s)", why);
		goto out;
	}
	if (f)
		fclose(f);
	f = NULL;
	if (X509_check_private_key(crt, key) != 1) {
		ERR_clear_error();
		perr(err, errsz, file, l->key_line, "client_key: '%s' does not match client_cert '%s'",
		     l->client_key, l->client_cert);
		goto out;
	}
	f = fopen(l->ca_cert, "r");
	if (f)
		cas = PEM_X509_INFO_read(f, NULL, NULL, NULL);
	for (i = 0; cas && i < sk_X509_INFO_num(cas); i++)
		if (sk_X509_INFO_value(cas, i)->x509)
			ncas++;
	if (!ncas) {
		ERR_clear_error();
		perr(err, errsz, file, l->ca_line, "ca_cert: '%s' holds no PEM certificate", l->ca_cert);
		goto out;
	}
	if (l->crl_file[0] && check_crl(file, l, cas, err, errsz))
		goto out;
	r = 0;
out:
	if (f)
		fclose(f);
	if (cas)
		sk_X509_INFO_pop_free(cas, X509_INFO_free);
	EVP_PKEY_free(key);
	X509_free(crt);
	return r;
}

int conf_cert_not_after(const char *path, int64_t *t)
{
	FILE *f = fopen(path, "r");
	X509 *crt = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	struct tm tm;
	int r = -1;

	if (crt && ASN1_TIME_to_tm(X509_get0_notAfter(crt), &tm) == 1) {
		*t = (int64_t)timegm(&tm);
		r = 0;
	}
	ERR_clear_error();
	X509_free(crt);
	if (f)
		fclose(f);
	return r;
}

int conf_check_tls(const struct conf *c, char *err, size_t errsz)
{
	size_t i;

	for (i = 0; i < c->nlinks; i++)
		if (check_link_tls(c->file, &c->links[i], err, errsz))
			return -1;
	return 0;
}
