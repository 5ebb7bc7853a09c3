// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "uuid.h"
#include "hex.h"
#include <openssl/rand.h>

int uuid_parse(const char *s, size_t len, uint8_t out[16])
{
	size_t i, o = 0;

	if (!s || len != UUID_STR_LEN)
		return -1;
	for (i = 0; i < UUID_STR_LEN;) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			i++;
			continue;
		}
		hi = hex_digit(s[i]);
		lo = hex_digit(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[o++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}

void uuid_format(const uint8_t id[16], char out[UUID_STR_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hx[id[i] >> 4];
		out[o++] = hx[id[i] & 15];
	}
	out[o] = '\0';
}

int uuid_generate_v4(uint8_t out[16])
{
	if (RAND_bytes(out, 16) != 1)
		return -1;
	out[6] = (out[6] & 0x0f) | 0x40;
	out[8] = (out[8] & 0x3f) | 0x80;
	return 0;
}
