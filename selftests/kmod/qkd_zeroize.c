// SPDX-License-Identifier: GPL-2.0
/*
 * qkd_zeroize: after keys are flushed, expire or go with their link, their
 * material must be nowhere in RAM.  Reads all of physical memory through
 * /proc/kcore and searches for every key injected.
 *
 * Only meaningful without slab poisoning (slub_debug=P would overwrite
 * freed objects anyway and hide a missing wipe), so zeroize-guest.sh boots
 * the guest with slub_debug off.  Taken keys are not checked: the reply
 * that carries a key to its taker is not the module's to wipe (see
 * docs/kmod.md).
 *
 * The keys' material never exists in this process in the clear except
 * inside the request being built (wiped after sending): the test keeps it
 * masked and unmasks byte by byte while comparing, so that its own memory
 * cannot produce a false alarm.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "libqkd.h"

#define MASK		0xa5
#define KEYS_PER_CASE	64
#define CHUNK		(1 << 20)
/* flushed, link deleted, expired, and the control: still held */
#define NCASES		4

struct masked_key {
	uint8_t masked[QKD_KEY_MAX_LEN];
	const char *how;
	int found;
};

static struct masked_key keys[NCASES * KEYS_PER_CASE];

static int inject_masked(struct qkd_nl *nl, const char *link, int first,
			 const char *how)
{
	static struct qkd_key_buf buf[KEYS_PER_CASE];
	int i, j, ret;

	for (i = 0; i < KEYS_PER_CASE; i++) {
		struct masked_key *k = &keys[first + i];

		if (getrandom(k->masked, sizeof(k->masked), 0) !=
		    sizeof(k->masked))
			return -EIO;
		k->how = how;
		memset(&buf[i], 0, sizeof(buf[i]));
		buf[i].id[0] = 0x2e;
		buf[i].id[1] = (uint8_t)first;
		buf[i].id[15] = (uint8_t)i;
		buf[i].len = QKD_KEY_MAX_LEN;
		buf[i].role = i % 2 ? QKD_KEY_ROLE_RESPONDER :
			      QKD_KEY_ROLE_INITIATOR;
		for (j = 0; j < QKD_KEY_MAX_LEN; j++)
			buf[i].material[j] = k->masked[j] ^ MASK;
	}
	ret = qkd_key_inject(nl, link, buf, KEYS_PER_CASE);
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

/*
 * A freed slab object has its free pointer written into it, which may cut
 * 8 bytes out of the material; so look for the first and the last 16
 * bytes of each key separately (16 random bytes cannot match by chance).
 */
#define WINDOW 16

static int match(const uint8_t *p, const uint8_t *masked)
{
	int j;

	for (j = 0; j < WINDOW; j++)
		if ((uint8_t)(p[j] ^ MASK) != masked[j])
			return 0;
	return 1;
}

/*
 * Windows whose first two (unmasked) bytes are v, as a bitmap: one lookup
 * per byte of RAM rather than one per key, which matters under TCG.
 */
static uint8_t prefix_seen[65536];

static const uint8_t *window(int k, int tail)
{
	return keys[k].masked + (tail ? QKD_KEY_MAX_LEN - WINDOW : 0);
}

static void build_prefix_table(void)
{
	int k, t;

	for (k = 0; k < NCASES * KEYS_PER_CASE; k++)
		for (t = 0; t < 2; t++)
			prefix_seen[(window(k, t)[0] ^ MASK) << 8 |
				    (window(k, t)[1] ^ MASK)] = 1;
}

static void scan(const uint8_t *buf, size_t len)
{
	size_t i;
	int k, t;

	for (i = 0; i + WINDOW <= len; i++) {
		if (!prefix_seen[buf[i] << 8 | buf[i + 1]])
			continue;
		for (k = 0; k < NCASES * KEYS_PER_CASE; k++)
			for (t = 0; t < 2; t++)
				if (match(buf + i, window(k, t)))
					keys[k].found++;
	}
}

/* Scans the RAM segments of /proc/kcore; returns bytes scanned. */
static long long scan_kcore(void)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	long long total = 0;
	uint8_t *buf;
	int fd, i;

	fd = open("/proc/kcore", O_RDONLY);
	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != sizeof(eh))
		return -1;
	buf = malloc(CHUNK + WINDOW);
	for (i = 0; i < eh.e_phnum; i++) {
		off_t off;
		uint64_t done;

		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) !=
		    sizeof(ph))
			break;
		/* RAM has a physical address; vmalloc and the rest do not. */
		if (ph.p_type != PT_LOAD || ph.p_paddr == (Elf64_Addr)-1 ||
		    ph.p_filesz > (16ULL << 30))
			continue;
		for (done = 0; done < ph.p_filesz; done += CHUNK) {
			size_t want = ph.p_filesz - done < CHUNK + WINDOW ?
				      ph.p_filesz - done : CHUNK + WINDOW;
			ssize_t got;

			off = ph.p_offset + done;
			got = pread(fd, buf, want, off);
			if (got <= 0)
				continue;
			scan(buf, got);
			total += got < CHUNK ? got : CHUNK;
		}
	}
	free(buf);
	close(fd);
	return total;
}

int main(void)
{
	struct qkd_link_opts o;
	struct qkd_nl *nl;
	long long scanned;
	int i, bad = 0, n = 0;

	printf("TAP version 13\n");
	if (unshare(CLONE_NEWNET) || qkd_nl_open(&nl, 0, NULL)) {
		printf("not ok 1 - setup: %s\n", strerror(errno));
		return 1;
	}
	qkd_link_opts_init(&o, "a", "b");
	if (qkd_link_new(nl, "flushed", &o) ||
	    qkd_link_new(nl, "deleted", &o) || qkd_link_new(nl, "held", &o))
		return 1;
	o.key_ttl = 1;
	if (qkd_link_new(nl, "expiring", &o))
		return 1;
	if (inject_masked(nl, "flushed", 0, "flushed") ||
	    inject_masked(nl, "deleted", KEYS_PER_CASE, "link deleted") ||
	    inject_masked(nl, "expiring", 2 * KEYS_PER_CASE, "expired") ||
	    inject_masked(nl, "held", 3 * KEYS_PER_CASE, "held")) {
		printf("not ok 1 - inject: %s\n", qkd_nl_error(nl));
		return 1;
	}
	if (qkd_flush(nl, "flushed", 0) || qkd_link_del(nl, "deleted"))
		return 1;
	sleep(3);	/* the TTL of 1 s passes, the expiry work runs */
	struct qkd_stats_buf s;

	if (qkd_stats_get(nl, "expiring", &s) ||
	    s.v[QKD_STATS_A_EXPIRED] != KEYS_PER_CASE) {
		printf("not ok 1 - keys expired\n");
		return 1;
	}
	printf("ok %d - %d keys expired\n", ++n, KEYS_PER_CASE);

	build_prefix_table();
	scanned = scan_kcore();
	printf("# scanned %lld MiB of RAM\n", scanned >> 20);
	printf("%s %d - /proc/kcore scanned\n", scanned > (64LL << 20) ?
	       "ok" : "not ok", ++n);
	for (i = 0; i < NCASES; i++) {
		int j, left = 0;

		for (j = 0; j < KEYS_PER_CASE; j++)
			left += !!keys[i * KEYS_PER_CASE + j].found;
		if (i == NCASES - 1) {
			/*
			 * The control: keys the module still holds must be
			 * found, or the scan proves nothing.
			 */
			printf("%s %d - scan finds the keys still held (%d of %d found)\n",
			       left == KEYS_PER_CASE ? "ok" : "not ok", ++n,
			       left, KEYS_PER_CASE);
			bad += left != KEYS_PER_CASE;
			continue;
		}
		printf("%s %d - no %s key left in RAM (%d of %d found)\n",
		       left ? "not ok" : "ok", ++n, keys[i * KEYS_PER_CASE].how,
		       left, KEYS_PER_CASE);
		bad += !!left;
	}
	printf("1..%d\n", n);
	qkd_nl_free(nl);
	return bad ? 1 : 0;
}
