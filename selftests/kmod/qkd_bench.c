// SPDX-License-Identifier: GPL-2.0
/*
 * qkd_bench: throughput of inject (by batch size) and take, in keys per
 * second, printed as figures (no pass/fail: timing is not a test).  Run
 * in the guest with the module loaded: `make bench` at the top level.
 * Under TCG the absolute numbers are far below real hardware; the ratios
 * between batch sizes are what to look at.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libqkd.h"
#include "clock.h"

static void fill(struct qkd_key_buf *k, uint32_t n)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->id, &n, sizeof(n));
	k->id[15] = 0xbe;
	k->len = 32;
	k->role = QKD_KEY_ROLE_INITIATOR;
	memset(k->material, (int)n, k->len);
}

int main(int argc, char **argv)
{
	const unsigned int batches[] = { 1, 16, 256 };
	unsigned int total = argc > 1 ? (unsigned int)atoi(argv[1]) : 8192;
	static struct qkd_key_buf keys[QKD_INJECT_MAX_KEYS];
	struct qkd_link_opts o;
	struct qkd_key_buf got;
	struct qkd_nl *nl;
	unsigned int b, i, j;
	double t;

	if (unshare(CLONE_NEWNET) || qkd_nl_open(&nl, 0, NULL)) {
		perror("qkd_bench: setup");
		return 1;
	}
	qkd_link_opts_init(&o, "a", "b");
	o.max_keys = QKD_LINK_MAX_KEYS_LIMIT;
	o.max_bytes = QKD_LINK_MAX_BYTES_LIMIT;
	if (qkd_link_new(nl, "bench", &o))
		return 1;
	printf("qkd_bench: %u keys of 32 bytes per run\n", total);
	for (b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
		t = now_s();
		for (i = 0; i < total; i += batches[b]) {
			for (j = 0; j < batches[b]; j++)
				fill(&keys[j], i + j);
			if (qkd_key_inject(nl, "bench", keys, batches[b])) {
				fprintf(stderr, "inject: %s\n", qkd_nl_error(nl));
				return 1;
			}
		}
		t = now_s() - t;
		printf("inject batch %3u: %9.0f keys/s\n", batches[b], total / t);
		t = now_s();
		for (i = 0; i < total; i++)
			if (qkd_key_take(nl, "bench", NULL, -1, &got))
				return 1;
		t = now_s() - t;
		printf("take (oldest)   : %9.0f keys/s\n", total / t);
	}
	explicit_bzero(keys, sizeof(keys));
	explicit_bzero(&got, sizeof(got));
	qkd_nl_free(nl);
	return 0;
}
