/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Test-only keys derived from a seed, for the full-RAM scan
 * (selftests/ramscan/README.md): qkd-kms-sim hands out key number n as
 * testkeys_derive(seed, n) when QKD_KMS_SIM_TEST_SEED is set, and the
 * host recomputes every key from the same seed to search a dump of the
 * guest's RAM for it, so no key is ever written to a file.  Keys made
 * this way are known to whoever holds the seed: never for a real link.
 */
#ifndef QKD_TESTKEYS_H
#define QKD_TESTKEYS_H
#include <stddef.h>
#include <stdint.h>

#define TESTKEYS_SEED_LEN	32
#define TESTKEYS_SEED_ENV	"QKD_KMS_SIM_TEST_SEED"

/* Parse exactly 2 * TESTKEYS_SEED_LEN hex digits.  Returns 0 or -1. */
int testkeys_parse_seed(const char *hex, uint8_t seed[TESTKEYS_SEED_LEN]);
/* Key number n: its ID (a version 4 UUID) and len bytes of key
 * (HMAC-SHA256(seed, label || n || block), block by block).
 * Returns 0 or -1. */
int testkeys_derive(const uint8_t seed[TESTKEYS_SEED_LEN], uint64_t n,
		    uint8_t id[16], uint8_t *key, size_t len);

#endif
