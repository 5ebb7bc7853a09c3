// SPDX-License-Identifier: GPL-2.0
/*
 * etsi_bench: figure 4 of bench/ (bench/README.md).  The cost of one key
 * from the qkd module (a take of the oldest initiator key over generic
 * netlink, libqkd) against one key from a KME (ETSI GS QKD 014 enc_keys,
 * one 256-bit key, over HTTPS with mutual TLS on a kept-alive connection:
 * the agent's own client, userspace/common/etsi_client.c), both in the
 * same guest, one after the other.  Prints timings only, never keys.
 *
 *   etsi_bench N KME_URL CERT KEY CA SLAVE_SAE
 *
 * Output: one "name value" line per figure (microseconds per operation:
 * median, p90, mean over N operations, after one warm-up each: the TLS
 * handshake and the link's first allocation are not counted).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "libqkd.h"
#include "etsi_client.h"
#include "../selftests/kmod/clock.h"

#define LINK	"etsibench"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* name_median, name_p90, name_mean of n samples (seconds) in us */
static void report(const char *name, double *s, unsigned int n)
{
	double sum = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		sum += s[i];
	qsort(s, n, sizeof(*s), cmp_double);
	printf("%s_us_median %.1f\n", name, s[n / 2] * 1e6);
	printf("%s_us_p90 %.1f\n", name, s[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1] * 1e6);
	printf("%s_us_mean %.1f\n", name, sum / n * 1e6);
	printf("%s_n %u\n", name, n);
}

/* N + 1 fresh keys into a link of its own, then N + 1 takes, timed one
 * by one (the first is the warm-up). */
static int bench_take(unsigned int n, double *s)
{
	static struct qkd_key_buf keys[QKD_INJECT_MAX_KEYS];
	struct qkd_link_opts o;
	struct qkd_key_buf got;
	struct qkd_nl *nl;
	unsigned int i, j, done = 0;
	int rc = 1;

	if (unshare(CLONE_NEWNET) || qkd_nl_open(&nl, 0, NULL)) {
		perror("etsi_bench: netlink setup");
		return 1;
	}
	qkd_link_opts_init(&o, "a", "b");
	if (qkd_link_new(nl, LINK, &o)) {
		fprintf(stderr, "etsi_bench: link: %s\n", qkd_nl_error(nl));
		goto out;
	}
	while (done < n + 1) {
		unsigned int k = n + 1 - done < QKD_INJECT_MAX_KEYS ?
				 n + 1 - done : QKD_INJECT_MAX_KEYS;

		for (j = 0; j < k; j++) {
			memset(&keys[j], 0, sizeof(keys[j]));
			memcpy(keys[j].id, &(uint32_t){ done + j }, 4);
			keys[j].id[15] = 0xe4;
			keys[j].len = 32;
			keys[j].role = QKD_KEY_ROLE_INITIATOR;
			if (getentropy(keys[j].material, 32))
				goto out;
		}
		if (qkd_key_inject(nl, LINK, keys, k)) {
			fprintf(stderr, "etsi_bench: inject: %s\n", qkd_nl_error(nl));
			goto out;
		}
		done += k;
	}
	for (i = 0; i < n + 1; i++) {
		double t = now_s();

		if (qkd_key_take(nl, LINK, NULL, -1, &got)) {
			fprintf(stderr, "etsi_bench: take: %s\n", qkd_nl_error(nl));
			goto out;
		}
		if (i)
			s[i - 1] = now_s() - t;
		qkd_key_wipe(&got);
	}
	rc = 0;
out:
	explicit_bzero(keys, sizeof(keys));
	qkd_link_del(nl, LINK);
	qkd_nl_free(nl);
	return rc;
}

/* N + 1 enc_keys of one 256-bit key on one client (one kept-alive
 * connection), timed one by one (the first, with the handshake, is the
 * warm-up). */
static int bench_enc_keys(unsigned int n, double *s, char **argv)
{
	struct etsi_client c;
	struct etsi_result res;
	struct etsi_keys ks;
	unsigned int i;
	int rc = 1;

	if (etsi_client_global_init() ||
	    etsi_client_init(&c, argv[2], argv[3], argv[4], argv[5], 10)) {
		fprintf(stderr, "etsi_bench: client setup failed\n");
		return 1;
	}
	for (i = 0; i < n + 1; i++) {
		double t = now_s();

		memset(&ks, 0, sizeof(ks));
		if (etsi_get_enc_keys(&c, argv[6], 1, 256, 0, &ks, &res) != ETSI_OK ||
		    ks.n != 1) {
			fprintf(stderr, "etsi_bench: enc_keys %u: %s\n", i, res.msg);
			etsi_keys_free(&ks);
			goto out;
		}
		if (i)
			s[i - 1] = now_s() - t;
		etsi_keys_free(&ks);
	}
	rc = 0;
out:
	etsi_client_cleanup(&c);
	etsi_client_global_cleanup();
	return rc;
}

int main(int argc, char **argv)
{
	unsigned int n;
	double *take, *enc;

	if (argc != 7) {
		fprintf(stderr, "usage: etsi_bench N KME_URL CERT KEY CA SLAVE_SAE\n");
		return 2;
	}
	n = (unsigned int)strtoul(argv[1], NULL, 10);
	if (n < 1 || n > 100000)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	take = calloc(n, sizeof(*take));
	enc = calloc(n, sizeof(*enc));
	if (!take || !enc)
		return 1;
	/* the ETSI client first: the take's unshare() leaves the loopback */
	if (bench_enc_keys(n, enc, argv) || bench_take(n, take))
		return 1;
	report("take", take, n);
	report("enc_keys", enc, n);
	printf("take_per_enc_keys %.5f\n", take[n / 2] / enc[n / 2]);
	return 0;
}
