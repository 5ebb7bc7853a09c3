/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Hex digits, as key files, UUIDs and the test seed use them. */
#ifndef QKD_HEX_H
#define QKD_HEX_H
#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1. */
int hex_digit(int c);
/* Decode exactly len digits (an even number) into out[0..cap).  Returns the
 * decoded length, -1 on a bad character or an odd length, -2 if the result
 * would not fit in cap (out untouched in both cases). */
int hex_decode(const char *s, size_t len, uint8_t *out, size_t cap);
/* Lower-case hex of len bytes; out holds 2 * len + 1. */
void hex_encode(const uint8_t *in, size_t len, char *out);

#endif
