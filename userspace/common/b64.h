/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Strict RFC 4648 base64 (standard alphabet, '=' padding required). */
#ifndef QKD_B64_H
#define QKD_B64_H
#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of n bytes, without the NUL. */
#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode; out must hold B64_ENCODED_LEN(n)+1 bytes.  Returns the length
 * written (without the NUL) or -1 if out is too small. */
long b64_encode(const uint8_t *in, size_t n, char *out, size_t outsz);

/* Decode exactly inlen characters.  Rejects whitespace, bad characters,
 * missing or misplaced padding and non-zero trailing bits.  Returns the
 * number of bytes written, or -1 on malformed input or if out is too
 * small (out may then hold partial data: the caller wipes it). */
long b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outsz);

#endif
