// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-cli: a minimal client of the qkd module for shell selftests (in the
 * spirit of ovpn's ovpn-cli).  Admins use qkdctl; this tool exists so the
 * module's tests do not depend on it.  It never prints key material.
 *
 *   qkd-cli link-add NAME LOCAL_SAE REMOTE_SAE [KEY VALUE]...
 *   qkd-cli link-set NAME [KEY VALUE]...   (max_keys max_bytes ttl rate
 *                                           burst lowat)
 *   qkd-cli link-del NAME
 *   qkd-cli inject NAME < keys     lines: initiator|responder ID_HEX KEY_HEX
 *   qkd-cli take NAME [ID_HEX [WAIT_MS]]   prints: id=HEX role=N len=N
 *   qkd-cli stats [NAME]                   prints: name value, one a line
 *   qkd-cli flush [NAME]
 *   qkd-cli audit [NAME]
 *   qkd-cli annotate NAME ID_HEX SPI...
 *   qkd-cli monitor COUNT [TIMEOUT_MS]     prints COUNT notifications
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libqkd.h"


static int usage(void)
{
	fprintf(stderr, "usage: see the comment at the top of qkd_cli.c\n");
	return 2;
}

static int fail(struct qkd_nl *nl, const char *what, int err)
{
	const char *msg = qkd_nl_error(nl);

	fprintf(stderr, "qkd-cli: %s: %s%s%s\n", what, strerror(-err),
		msg[0] ? ": " : "", msg);
	return 1;
}

static int parse_hex(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(s), i;
	unsigned int v;

	if (n % 2 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

static void print_hex(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int parse_opts(int argc, char **argv, struct qkd_link_opts *o)
{
	int i;

	for (i = 0; i + 1 < argc; i += 2) {
		int64_t v = strtoll(argv[i + 1], NULL, 0);

		if (!strcmp(argv[i], "max_keys"))
			o->max_keys = v;
		else if (!strcmp(argv[i], "max_bytes"))
			o->max_bytes = v;
		else if (!strcmp(argv[i], "ttl"))
			o->key_ttl = v;
		else if (!strcmp(argv[i], "rate"))
			o->rate = v;
		else if (!strcmp(argv[i], "burst"))
			o->burst = v;
		else if (!strcmp(argv[i], "lowat"))
			o->low_watermark = v;
		else
			return -1;
	}
	return i == argc ? 0 : -1;
}

static int cmd_inject(struct qkd_nl *nl, const char *link)
{
	static struct qkd_key_buf keys[QKD_INJECT_MAX_KEYS];
	char line[512], role[32], id[64], mat[160];
	unsigned int nr = 0, lineno = 0;
	size_t len;
	int ret = 0;

	while (fgets(line, sizeof(line), stdin)) {
		struct qkd_key_buf *k = &keys[nr];

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%31s %63s %159s", role, id, mat) != 3 ||
		    parse_hex(id, k->id, QKD_KEY_ID_LEN, &len) ||
		    len != QKD_KEY_ID_LEN ||
		    parse_hex(mat, k->material, QKD_KEY_MAX_LEN, &len)) {
			fprintf(stderr, "qkd-cli: stdin:%u: malformed line\n",
				lineno);
			ret = 2;
			break;
		}
		k->len = (uint8_t)len;
		k->role = qkd_role_from_name(role);	/* else 0: refused */
		if (++nr == QKD_INJECT_MAX_KEYS) {
			ret = qkd_key_inject(nl, link, keys, nr);
			nr = 0;
			if (ret)
				break;
		}
	}
	if (!ret && nr)
		ret = qkd_key_inject(nl, link, keys, nr);
	explicit_bzero(keys, sizeof(keys));
	explicit_bzero(line, sizeof(line));
	explicit_bzero(mat, sizeof(mat));
	if (ret < 0)
		return fail(nl, "inject", ret);
	return ret;
}

static int cmd_take(struct qkd_nl *nl, int argc, char **argv)
{
	uint8_t id[QKD_KEY_ID_LEN];
	struct qkd_key_buf k;
	int64_t wait = -1;
	size_t len;
	int ret;

	if (argc > 1 && (parse_hex(argv[1], id, sizeof(id), &len) ||
			 len != sizeof(id)))
		return usage();
	if (argc > 2)
		wait = strtoll(argv[2], NULL, 0);
	ret = qkd_key_take(nl, argv[0], argc > 1 ? id : NULL, wait, &k);
	if (ret)
		return fail(nl, "take", ret);
	printf("id=");
	print_hex(k.id, sizeof(k.id));
	printf(" role=%u len=%u\n", k.role, k.len);
	explicit_bzero(&k, sizeof(k));
	return 0;
}

static int cmd_stats(struct qkd_nl *nl, const char *link)
{
	struct qkd_stats_buf s;
	int i, ret;

	ret = qkd_stats_get(nl, link, &s);
	if (ret)
		return fail(nl, "stats", ret);
	if (!link)
		printf("links %u\n", s.link_count);
	for (i = 0; i <= QKD_STATS_A_MAX; i++)
		if (qkd_stat_name(i))
			printf("%s %" PRIu64 "\n", qkd_stat_name(i), s.v[i]);
	return 0;
}

static int cmd_audit(struct qkd_nl *nl, const char *link)
{
	struct qkd_audit_buf *recs = calloc(QKD_AUDIT_RING_SIZE,
					    sizeof(*recs));
	unsigned int j;
	int n, i;

	n = qkd_audit_dump(nl, link, recs, QKD_AUDIT_RING_SIZE);
	if (n < 0) {
		free(recs);
		return fail(nl, "audit", n);
	}
	for (i = 0; i < n && i < QKD_AUDIT_RING_SIZE; i++) {
		printf("seq=%" PRIu64 " link=%s id=", recs[i].seq,
		       recs[i].link_name);
		print_hex(recs[i].key_id, QKD_KEY_ID_LEN);
		printf(" role=%u pid=%u comm=%s", recs[i].role, recs[i].pid,
		       recs[i].comm);
		for (j = 0; j < recs[i].nr_spi; j++)
			printf(" spi=0x%08x", recs[i].spi[j]);
		if (recs[i].usage[0])
			printf(" usage=%s", recs[i].usage);
		printf("\n");
	}
	free(recs);
	return 0;
}

static int cmd_monitor(struct qkd_nl *nl, int count, int timeout_ms)
{
	struct qkd_ntf n;
	int ret, i;

	ret = qkd_nl_subscribe(nl, QKD_NL_GROUPS_ALL);
	if (ret)
		return fail(nl, "monitor", ret);
	printf("subscribed\n");
	fflush(stdout);
	for (i = 0; i < count; i++) {
		ret = qkd_ntf_recv(nl, &n, timeout_ms);
		if (ret == 0)	/* none in time: said as before */
			ret = -ETIMEDOUT;
		if (ret < 0)
			return fail(nl, "monitor", ret);
		printf("cmd=%d link=%s", n.cmd, n.link_name);
		if (n.has_key_id) {
			printf(" id=");
			print_hex(n.key_id, QKD_KEY_ID_LEN);
		}
		printf(" count=%u lowat=%u\n", n.key_count, n.low_watermark);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct qkd_link_opts o;
	char err[QKD_NL_ERR_MAX];
	struct qkd_nl *nl;
	const char *cmd;
	int ret;

	if (argc < 2)
		return usage();
	cmd = argv[1];
	ret = qkd_nl_open(&nl, 0, err);
	if (ret) {
		fprintf(stderr, "qkd-cli: cannot reach the qkd family: %s: %s\n",
			strerror(-ret), err);
		return 1;
	}
	argc -= 2;
	argv += 2;

	if (!strcmp(cmd, "link-add") && argc >= 3) {
		qkd_link_opts_init(&o, argv[1], argv[2]);
		if (parse_opts(argc - 3, argv + 3, &o))
			return usage();
		ret = qkd_link_new(nl, argv[0], &o);
		ret = ret ? fail(nl, "link-add", ret) : 0;
	} else if (!strcmp(cmd, "link-set") && argc >= 1) {
		qkd_link_opts_init(&o, NULL, NULL);
		if (parse_opts(argc - 1, argv + 1, &o))
			return usage();
		ret = qkd_link_set(nl, argv[0], &o);
		ret = ret ? fail(nl, "link-set", ret) : 0;
	} else if (!strcmp(cmd, "link-del") && argc == 1) {
		ret = qkd_link_del(nl, argv[0]);
		ret = ret ? fail(nl, "link-del", ret) : 0;
	} else if (!strcmp(cmd, "inject") && argc == 1) {
		ret = cmd_inject(nl, argv[0]);
	} else if (!strcmp(cmd, "take") && argc >= 1 && argc <= 3) {
		ret = cmd_take(nl, argc, argv);
	} else if (!strcmp(cmd, "stats") && argc <= 1) {
		ret = cmd_stats(nl, argc ? argv[0] : NULL);
	} else if (!strcmp(cmd, "flush") && argc <= 1) {
		ret = qkd_flush(nl, argc ? argv[0] : NULL, 0);
		ret = ret ? fail(nl, "flush", ret) : 0;
	} else if (!strcmp(cmd, "audit") && argc <= 1) {
		ret = cmd_audit(nl, argc ? argv[0] : NULL);
	} else if (!strcmp(cmd, "annotate") && argc >= 3) {
		uint32_t spi[QKD_AUDIT_SPI_MAX];
		uint8_t id[QKD_KEY_ID_LEN];
		size_t len;
		int i;

		if (parse_hex(argv[1], id, sizeof(id), &len) ||
		    len != sizeof(id) || argc - 2 > QKD_AUDIT_SPI_MAX)
			return usage();
		for (i = 2; i < argc; i++)
			spi[i - 2] = (uint32_t)strtoul(argv[i], NULL, 0);
		ret = qkd_audit_annotate(nl, argv[0], id, spi, argc - 2,
					 NULL);
		ret = ret ? fail(nl, "annotate", ret) : 0;
	} else if (!strcmp(cmd, "monitor") && argc >= 1) {
		ret = cmd_monitor(nl, atoi(argv[0]),
				  argc > 1 ? atoi(argv[1]) : -1);
	} else {
		ret = usage();
	}
	qkd_nl_free(nl);
	return ret;
}
