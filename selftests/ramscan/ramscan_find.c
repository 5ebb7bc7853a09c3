// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ramscan_find: search a dump of guest RAM for every key a seeded
 * qkd-kms-sim handed out (selftests/ramscan/README.md).
 *
 *   QKD_KMS_SIM_TEST_SEED=HEX ramscan_find [-k KEYBYTES] [-x EXTRA] DUMP COUNT
 *
 * Keys 0..COUNT-1 (and key number EXTRA: a test's decoy) are recomputed from the seed (userspace/common/testkeys.c)
 * in this process only: no key is written anywhere.  Each key is searched
 * in the forms it takes on its way: raw bytes (module, libqkd buffers,
 * plugin), standard base64 (the ETSI JSON between KME and agent) and
 * lower/upper-case hex; a raw half (16 bytes) is reported as a partial
 * copy.  One line per copy, then a summary:
 *
 *   copy key=N id=UUID form=raw|raw-head|raw-tail|base64|hex offset=0xHEX
 *   searched COUNT keys in MIB MiB: COPIES copies
 *
 * Key numbers, IDs and offsets only, never a key byte.  A hand-written
 * hash of 8-byte prefixes, because every byte offset of gigabytes is
 * looked up (no library matches many fixed patterns that fast).
 */
#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "b64.h"
#include "hex.h"
#include "testkeys.h"
#include "uuid.h"

#define MAX_KEYBYTES	64
#define PAT_MAX		(2 * MAX_KEYBYTES)

enum form { F_RAW, F_TAIL, F_B64, F_HEX, F_HEXU, F__N };
static const char *const form_name[F__N] = { "raw", "raw-tail", "base64", "hex", "hex" };

struct pat {
	uint64_t prefix;	/* first 8 bytes */
	uint32_t key;		/* key number */
	uint8_t form, len;
	uint8_t bytes[PAT_MAX];	/* raw: the head (16), checked for the whole key too */
};

static struct pat *pats;
static uint32_t *slot;		/* index + 1 into pats, 0 empty */
static uint8_t *first3;		/* bit per 24-bit pattern start: the cheap test */
static size_t nslots, npats, keybytes;
static uint8_t (*keys)[MAX_KEYBYTES];
static uint8_t (*ids)[16];
static uint64_t *number;	/* key number of each entry */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void add(uint32_t key, enum form f, const void *p, size_t len)
{
	struct pat *t = &pats[npats];
	size_t h;

	t->key = key;
	t->form = (uint8_t)f;
	t->len = (uint8_t)len;
	memcpy(t->bytes, p, len);
	memcpy(&t->prefix, p, 8);
	for (h = mix(t->prefix) & (nslots - 1); slot[h]; h = (h + 1) & (nslots - 1))
		;
	slot[h] = (uint32_t)++npats;
	h = (size_t)t->bytes[0] | (size_t)t->bytes[1] << 8 | (size_t)t->bytes[2] << 16;
	first3[h >> 3] |= (uint8_t)(1 << (h & 7));
}

/* Entries 0..count-1: keys 0..count-1, then key extra if not -1. */
static int build(const uint8_t seed[TESTKEYS_SEED_LEN], uint32_t count, long long extra)
{
	char text[2 * MAX_KEYBYTES + 4];
	uint32_t n;
	size_t i;

	for (nslots = 16; nslots < (size_t)count * F__N * 2; nslots <<= 1)
		;
	number = calloc((size_t)count + 1, sizeof(*number));
	if (extra >= 0)
		number[count++] = (uint64_t)extra;
	pats = calloc((size_t)count * F__N, sizeof(*pats));
	slot = calloc(nslots, sizeof(*slot));
	keys = calloc(count, sizeof(*keys));
	ids = calloc(count, sizeof(*ids));
	first3 = calloc(1 << 21, 1);
	if (!number || !pats || !slot || !keys || !ids || !first3)
		return -1;
	/* (these buffers hold test keys only: the process exits after) */
	for (n = 0; n < count; n++) {
		if (extra < 0 || n + 1 < count)
			number[n] = n;
		if (testkeys_derive(seed, number[n], ids[n], keys[n], keybytes))
			return -1;
		add(n, F_RAW, keys[n], 16);
		add(n, F_TAIL, keys[n] + keybytes - 16, 16);
		if (b64_encode(keys[n], keybytes, text, sizeof(text)) < 0)
			return -1;
		add(n, F_B64, text, B64_ENCODED_LEN(keybytes));
		hex_encode(keys[n], keybytes, text);
		add(n, F_HEX, text, 2 * keybytes);
		for (i = 0; i < 2 * keybytes; i++)
			text[i] = (char)toupper((unsigned char)text[i]);
		add(n, F_HEXU, text, 2 * keybytes);
	}
	OPENSSL_cleanse(text, sizeof(text));
	return 0;
}

/* The copy at off, if any pattern starts there; raw: the whole key or
 * its head.  Returns the number of copies reported (0 or 1 per pattern). */
static unsigned long match_at(const uint8_t *m, size_t size, size_t off)
{
	unsigned long found = 0;
	uint64_t pre;
	size_t h;

	memcpy(&pre, m + off, 8);
	for (h = mix(pre) & (nslots - 1); slot[h]; h = (h + 1) & (nslots - 1)) {
		const struct pat *t = &pats[slot[h] - 1];
		const char *form = form_name[t->form];
		char id[UUID_STR_LEN + 1];

		if (t->prefix != pre || off + t->len > size || memcmp(m + off, t->bytes, t->len))
			continue;
		if (t->form == F_RAW) {
			if (off + keybytes <= size && !memcmp(m + off, keys[t->key], keybytes))
				form = "raw";
			else
				form = "raw-head";
		} else if (t->form == F_TAIL && off >= keybytes - 16 &&
			   !memcmp(m + off - (keybytes - 16), keys[t->key], keybytes)) {
			continue;	/* the end of a whole copy, reported at its start */
		}
		uuid_format(ids[t->key], id);
		printf("copy key=%" PRIu64 " id=%s form=%s offset=0x%zx\n", number[t->key], id,
		       form, off);
		found++;
	}
	return found;
}

static void usage(void)
{
	fprintf(stderr, "usage: ramscan_find [-k KEYBYTES] [-x EXTRA] DUMP COUNT (seed in $%s)\n",
		TESTKEYS_SEED_ENV);
	exit(2);
}

/* a number 0..max, or exit 2 naming what and why */
static unsigned long long number_arg(const char *what, const char *s, unsigned long long max)
{
	unsigned long long v;
	char *end;

	v = strtoull(s, &end, 10);
	if (!*s || *end || *s == '-' || v > max) {
		fprintf(stderr, "ramscan_find: %s '%s': not a number 0..%llu\n", what, s, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	uint8_t seed[TESTKEYS_SEED_LEN];
	unsigned long copies = 0, count;
	long long extra = -1;
	const uint8_t *m;
	struct stat st;
	size_t off;
	int fd, o;

	keybytes = 32;
	while ((o = getopt(argc, argv, "k:x:")) != -1) {
		if (o == 'k')
			keybytes = number_arg("KEYBYTES", optarg, MAX_KEYBYTES);
		else if (o == 'x')
			extra = (long long)number_arg("EXTRA", optarg, 1ULL << 62);
		else
			usage();
	}
	if (argc - optind != 2)
		usage();
	if (keybytes < 16) {
		fprintf(stderr, "ramscan_find: KEYBYTES %zu: under 16\n", keybytes);
		return 2;
	}
	if (testkeys_parse_seed(getenv(TESTKEYS_SEED_ENV), seed)) {
		fprintf(stderr, "ramscan_find: $%s: not %d hex digits\n", TESTKEYS_SEED_ENV,
			2 * TESTKEYS_SEED_LEN);
		return 2;
	}
	count = number_arg("COUNT", argv[optind + 1], 10000000);
	fd = open(argv[optind], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) || st.st_size < 8) {
		fprintf(stderr, "ramscan_find: %s: cannot open or too small\n", argv[optind]);
		return 2;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED || build(seed, (uint32_t)count, extra)) {
		fprintf(stderr, "ramscan_find: out of memory\n");
		return 2;
	}
	OPENSSL_cleanse(seed, sizeof(seed));
	madvise((void *)m, (size_t)st.st_size, MADV_SEQUENTIAL);
	for (off = 0; off + 8 <= (size_t)st.st_size; off++) {
		size_t b = (size_t)m[off] | (size_t)m[off + 1] << 8 | (size_t)m[off + 2] << 16;

		if (first3[b >> 3] & (1 << (b & 7)))
			copies += match_at(m, (size_t)st.st_size, off);
	}
	printf("searched %lu keys%s in %lld MiB: %lu copies\n", count, extra >= 0 ? " + 1" : "",
	       (long long)(st.st_size >> 20), copies);
	OPENSSL_cleanse(keys, (count + 1) * sizeof(*keys));
	return 0;
}
