// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "b64.h"

static const char enc_tab[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long b64_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	size_t need, i, o = 0;

	if (n > (((size_t)-1) / 4) * 3 - 3)
		return -1;
	need = B64_ENCODED_LEN(n);
	if (outsz < need + 1)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = enc_tab[(v >> 18) & 63];
		out[o++] = enc_tab[(v >> 12) & 63];
		out[o++] = enc_tab[(v >> 6) & 63];
		out[o++] = enc_tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = enc_tab[(v >> 18) & 63];
		out[o++] = enc_tab[(v >> 12) & 63];
		out[o++] = (i + 1 < n) ? enc_tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

static int dec_char(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outsz)
{
	size_t i, o = 0, pad = 0;

	if (inlen % 4 != 0)
		return -1;
	if (inlen >= 1 && in[inlen - 1] == '=')
		pad++;
	if (inlen >= 2 && in[inlen - 2] == '=')
		pad++;
	if (inlen / 4 * 3 - pad > outsz)
		return -1;
	for (i = 0; i < inlen; i += 4) {
		int c[4];
		int k, last = (i + 4 == inlen);
		uint32_t v;

		for (k = 0; k < 4; k++) {
			c[k] = dec_char((unsigned char)in[i + k]);
			if (c[k] < 0) {
				/* '=' only as the last one or two of the last quantum */
				if (!last || in[i + k] != '=' || k < 2)
					return -1;
				if (k == 2 && in[i + 3] != '=')
					return -1;
				c[k] = 0;
			}
		}
		v = (uint32_t)c[0] << 18 | (uint32_t)c[1] << 12 |
		    (uint32_t)c[2] << 6 | (uint32_t)c[3];
		out[o++] = (uint8_t)(v >> 16);
		if (last && pad == 2) {
			if (v & 0xffff)
				return -1;	/* non-canonical trailing bits */
			break;
		}
		out[o++] = (uint8_t)(v >> 8);
		if (last && pad == 1) {
			if (v & 0xff)
				return -1;
			break;
		}
		out[o++] = (uint8_t)v;
	}
	return (long)o;
}
