/* SPDX-License-Identifier: GPL-2.0 OR MIT */
#ifndef QKD_UUID_H
#define QKD_UUID_H
#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 36	/* without the NUL */

/* Parse the canonical 8-4-4-4-12 hex form (either case) of exactly
 * UUID_STR_LEN characters.  Returns 0 or -1. */
int uuid_parse(const char *s, size_t len, uint8_t out[16]);
/* Lower-case canonical form; out holds UUID_STR_LEN + 1 bytes. */
void uuid_format(const uint8_t id[16], char out[UUID_STR_LEN + 1]);
/* Random (version 4, RFC 4122 variant) UUID from OpenSSL's DRBG.
 * Returns 0 or -1. */
int uuid_generate_v4(uint8_t out[16]);

#endif
