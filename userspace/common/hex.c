// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "hex.h"

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
	size_t i;

	if (len == 0 || len % 2)
		return -1;
	for (i = 0; i < len; i++)
		if (hex_digit((unsigned char)s[i]) < 0)
			return -1;
	if (len / 2 > cap)
		return -2;
	for (i = 0; i < len / 2; i++)
		out[i] = (uint8_t)(hex_digit((unsigned char)s[2 * i]) << 4 |
				   hex_digit((unsigned char)s[2 * i + 1]));
	return (int)(len / 2);
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}
