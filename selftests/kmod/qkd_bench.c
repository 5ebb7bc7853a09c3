// SPDX-License-Identifier: GPL-2.0
/*
 * qkd_bench: what a buffered key costs in kernel memory, and throughput
 * of inject (by batch size) and take.  Prints figures; asserts nothing
 * (timing is not a test).  Run in the guest with the module loaded:
 * `make bench` at the top level, which boots with slub_debug=- so that
 * the bytes per key are those of a production kernel.
 *
 *   qkd_bench [MAX_KEYS [SPEED_KEYS]]
 *
 * Memory: 32-byte keys are injected into 16 links of up to 65536 keys
 * each, in a namespace of their own (whose caps the bench raises: it runs
 * as root of the initial user namespace), and at 10^3, 10^4, ... up to
 * MAX_KEYS (default 10^6) keys the growth of /proc/meminfo Slab (and of
 * VmallocUsed, where big hash tables may go) is divided by the keys held.
 * The key cache's own share is read from /sys/kernel/slab/qkd_key_32.
 *
 * Speed: SPEED_KEYS (default 8192) keys per round, fresh IDs every round
 * (a taken key's ID may never be injected again).  Under TCG the absolute
 * numbers are far below real hardware; compare the ratios.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "libqkd.h"
#include "clock.h"

#define MEM_LINKS	16
#define KEY_CACHE	"/sys/kernel/slab/qkd_key_32"

static struct qkd_key_buf keys[QKD_INJECT_MAX_KEYS];

/* Key n of round r: IDs never repeat within a run. */
static void fill(struct qkd_key_buf *k, uint32_t r, uint32_t n)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->id, &n, sizeof(n));
	memcpy(k->id + 4, &r, sizeof(r));
	k->id[15] = 0xbe;
	k->len = 32;
	k->role = QKD_KEY_ROLE_INITIATOR;
	memset(k->material, (int)n, k->len);
}

static int read_str(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static long long read_ll(const char *path)
{
	char buf[256];

	return read_str(path, buf, sizeof(buf)) ? -1 : strtoll(buf, NULL, 10);
}

static int write_ll(const char *path, long long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%lld", v);
	ok = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf);
	close(fd);
	return ok ? 0 : -1;
}

/* A /proc/meminfo field in bytes. */
static long long meminfo(const char *key)
{
	static char buf[8192];
	size_t len = strlen(key);
	char *p;

	if (read_str("/proc/meminfo", buf, sizeof(buf)))
		return -1;
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, len) && p[len] == ':')
			return strtoll(p + len + 1, NULL, 10) * 1024;
	return -1;
}

/* Bytes of slab pages the key cache holds (-1: no such cache). */
static long long key_cache_bytes(void)
{
	long long slabs = read_ll(KEY_CACHE "/slabs");
	long long order = read_ll(KEY_CACHE "/order");

	if (slabs < 0 || order < 0)
		return -1;
	return slabs * (sysconf(_SC_PAGESIZE) << order);
}

static void describe_slab(void)
{
	char cmdline[4096], target[PATH_MAX], *p, *last = NULL;
	ssize_t n;

	if (!read_str("/proc/cmdline", cmdline, sizeof(cmdline)))
		for (p = cmdline; (p = strstr(p, "slub_debug=")); p++)
			last = p;
	if (last)
		last[strcspn(last, " \n")] = '\0';
	printf("kernel: %s (%s)\n", last ? last : "no slub_debug=",
	       last && !strcmp(last, "slub_debug=-") ?
	       "no slab debugging: production sizes" :
	       "slab debugging may inflate objects");
	if (read_ll(KEY_CACHE "/object_size") < 0) {
		printf("key cache: none (%s missing: a module without one)\n",
		       KEY_CACHE);
		return;
	}
	printf("key cache: object %lld B (%lld B with metadata), %lld per %ld KiB slab",
	       read_ll(KEY_CACHE "/object_size"), read_ll(KEY_CACHE "/slab_size"),
	       read_ll(KEY_CACHE "/objs_per_slab"),
	       (sysconf(_SC_PAGESIZE) << read_ll(KEY_CACHE "/order")) >> 10);
	n = readlink(KEY_CACHE, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		printf("; merged into %s (its counts include other objects)",
		       strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
	}
	printf("\n");
}

static int bench_memory(unsigned long max_keys)
{
	static const unsigned long points[] = {
		1000, 10000, 100000, 1000000, 10000000,
	};
	long long slab0, sunr0, vm0, cache0;
	unsigned long done = 0;
	struct qkd_link_opts o;
	struct qkd_nl *nl;
	unsigned int p, l;
	char name[16];

	if (unshare(CLONE_NEWNET) || qkd_nl_open(&nl, 0, NULL)) {
		perror("qkd_bench: memory setup");
		return 1;
	}
	if (max_keys > MEM_LINKS * (unsigned long)QKD_LINK_MAX_KEYS_LIMIT)
		max_keys = MEM_LINKS * (unsigned long)QKD_LINK_MAX_KEYS_LIMIT;
	/* The initial namespace's root may raise its namespace's caps. */
	if (write_ll("/proc/sys/net/qkd/max_keys", max_keys) ||
	    write_ll("/proc/sys/net/qkd/max_bytes", max_keys * 32))
		printf("note: cannot raise net.qkd caps (module without them?)\n");
	qkd_link_opts_init(&o, "a", "b");
	o.max_keys = QKD_LINK_MAX_KEYS_LIMIT;
	o.max_bytes = QKD_LINK_MAX_BYTES_LIMIT;
	for (l = 0; l < MEM_LINKS; l++) {
		snprintf(name, sizeof(name), "mem%u", l);
		if (qkd_link_new(nl, name, &o)) {
			fprintf(stderr, "link: %s\n", qkd_nl_error(nl));
			return 1;
		}
	}
	describe_slab();
	printf("\n%9s %12s %10s %12s %12s %12s\n", "keys", "Slab delta",
	       "Slab B/key", "SUnreclaim", "+vmalloc", "key cache");
	printf("%9s %12s %10s %12s %12s %12s\n", "", "(KiB)", "", "B/key",
	       "B/key", "B/key");
	/*
	 * Settle first: the files read below get their inodes, deferred
	 * frees run; otherwise the 10^3 row measures that too.
	 */
	meminfo("Slab");
	key_cache_bytes();
	sync();
	sleep(2);
	slab0 = meminfo("Slab");
	sunr0 = meminfo("SUnreclaim");
	vm0 = meminfo("VmallocUsed");
	cache0 = key_cache_bytes();
	for (p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
		unsigned long want = points[p];
		long long slab, cache;

		if (want > max_keys)
			break;
		while (done < want) {
			unsigned int n = QKD_INJECT_MAX_KEYS, j;

			if (n > want - done)
				n = want - done;
			l = done / QKD_LINK_MAX_KEYS_LIMIT;
			if (n > (l + 1) * QKD_LINK_MAX_KEYS_LIMIT - done)
				n = (l + 1) * QKD_LINK_MAX_KEYS_LIMIT - done;
			for (j = 0; j < n; j++)
				fill(&keys[j], 0xffff, done + j);
			snprintf(name, sizeof(name), "mem%u", l);
			if (qkd_key_inject(nl, name, keys, n)) {
				fprintf(stderr, "inject at %lu keys: %s\n", done,
					qkd_nl_error(nl));
				return 1;
			}
			done += n;
		}
		slab = meminfo("Slab");
		cache = key_cache_bytes();
		printf("%9lu %12lld %10.1f %12.1f %12.1f ", done,
		       (slab - slab0) >> 10, (double)(slab - slab0) / done,
		       (double)(meminfo("SUnreclaim") - sunr0) / done,
		       (double)(meminfo("VmallocUsed") - vm0) / done);
		if (cache >= 0)
			printf("%12.1f\n", (double)(cache - cache0) / done);
		else
			printf("%12s\n", "-");
		fflush(stdout);
	}
	if (qkd_flush(nl, NULL, 0))
		fprintf(stderr, "flush: %s\n", qkd_nl_error(nl));
	explicit_bzero(keys, sizeof(keys));
	qkd_nl_free(nl);
	return 0;
}

/*
 * The physical floor of a take: one bare genetlink round trip
 * (CTRL_CMD_GETFAMILY "qkd", answered by genetlink's own controller) on a
 * plain libmnl socket.  Seconds per round trip, or < 0.
 */
static double genl_round_trip_s(unsigned int n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *s = mnl_socket_open(NETLINK_GENERIC);
	unsigned int i, seq;
	double t;

	if (!s || mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0)
		return -1;
	t = now_s();
	for (i = 0, seq = 1; i < n; i++, seq++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct genlmsghdr *g;

		nlh->nlmsg_type = GENL_ID_CTRL;
		nlh->nlmsg_flags = NLM_F_REQUEST;
		nlh->nlmsg_seq = seq;
		g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
		g->cmd = CTRL_CMD_GETFAMILY;
		g->version = 1;
		mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, QKD_FAMILY_NAME);
		if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0 ||
		    mnl_socket_recvfrom(s, buf, sizeof(buf)) <= 0) {
			mnl_socket_close(s);
			return -1;
		}
	}
	t = now_s() - t;
	mnl_socket_close(s);
	return t / n;
}

static int bench_speed(unsigned int total)
{
	double rate1 = 0, take_s = 0, genl_s;
	const unsigned int batches[] = { 1, 16, 256 };
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
	printf("\nqkd_bench: %u keys of 32 bytes per run\n", total);
	for (b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
		t = now_s();
		for (i = 0; i < total; i += batches[b]) {
			for (j = 0; j < batches[b]; j++)
				fill(&keys[j], b, i + j);
			if (qkd_key_inject(nl, "bench", keys, batches[b])) {
				fprintf(stderr, "inject: %s\n", qkd_nl_error(nl));
				return 1;
			}
		}
		t = now_s() - t;
		printf("inject batch %3u: %9.0f keys/s", batches[b], total / t);
		if (b == 0)
			rate1 = total / t;
		else
			printf("  (%.1fx batch 1)", total / t / rate1);
		printf("\n");
		t = now_s();
		for (i = 0; i < total; i++)
			if (qkd_key_take(nl, "bench", NULL, -1, &got)) {
				fprintf(stderr, "take: %s\n", qkd_nl_error(nl));
				return 1;
			}
		t = now_s() - t;
		printf("take (oldest)   : %9.0f keys/s\n", total / t);
		take_s += t / total;
	}
	take_s /= sizeof(batches) / sizeof(batches[0]);
	genl_s = genl_round_trip_s(total);
	if (genl_s > 0)
		printf("genetlink round trip (CTRL_CMD_GETFAMILY): %.1f us; one take "
		       "%.1f us = %.2fx the floor\n", genl_s * 1e6, take_s * 1e6,
		       take_s / genl_s);
	explicit_bzero(keys, sizeof(keys));
	explicit_bzero(&got, sizeof(got));
	qkd_nl_free(nl);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long max_keys = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	unsigned int total = argc > 2 ? (unsigned int)atoi(argv[2]) : 8192;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("qkd_bench: kernel memory per buffered 32-byte key\n");
	if (max_keys && bench_memory(max_keys))
		return 1;
	if (total && bench_speed(total))
		return 1;
	return 0;
}
