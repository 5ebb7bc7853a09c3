// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Test-only seeded keys: see testkeys.h. */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "hex.h"
#include "testkeys.h"

int testkeys_parse_seed(const char *hex, uint8_t seed[TESTKEYS_SEED_LEN])
{
	if (!hex || strlen(hex) != 2 * TESTKEYS_SEED_LEN ||
	    hex_decode(hex, 2 * TESTKEYS_SEED_LEN, seed, TESTKEYS_SEED_LEN) != TESTKEYS_SEED_LEN)
		return -1;
	return 0;
}

/* HMAC-SHA256(seed, label || be64(n) || be32(block)) */
static int block(const uint8_t seed[TESTKEYS_SEED_LEN], const char *label,
		 uint64_t n, uint32_t blk, uint8_t out[32])
{
	uint8_t msg[32 + 8 + 4];
	size_t ll = strlen(label), i;
	unsigned int outlen = 32;
	int ok;

	memcpy(msg, label, ll);
	for (i = 0; i < 8; i++)
		msg[ll + i] = (uint8_t)(n >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		msg[ll + 8 + i] = (uint8_t)(blk >> (24 - 8 * i));
	ok = HMAC(EVP_sha256(), seed, TESTKEYS_SEED_LEN, msg, ll + 12, out, &outlen) != NULL;
	return ok && outlen == 32 ? 0 : -1;
}

int testkeys_derive(const uint8_t seed[TESTKEYS_SEED_LEN], uint64_t n,
		    uint8_t id[16], uint8_t *key, size_t len)
{
	uint8_t b[32];
	uint32_t blk;
	size_t off, c;

	if (block(seed, "qkd-kms-sim test id", n, 0, b))
		goto fail;
	memcpy(id, b, 16);
	id[6] = (id[6] & 0x0f) | 0x40;
	id[8] = (id[8] & 0x3f) | 0x80;
	for (off = 0, blk = 0; off < len; off += c, blk++) {
		if (block(seed, "qkd-kms-sim test key", n, blk, b))
			goto fail;
		c = len - off < 32 ? len - off : 32;
		memcpy(key + off, b, c);
	}
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
fail:
	OPENSSL_cleanse(b, sizeof(b));
	OPENSSL_cleanse(key, len);
	return -1;
}
