// SPDX-License-Identifier: GPL-2.0-only
#include "util.h"
#include "hex.h"
#include "b64.h"
#include "secmem.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libqkd.h>

static int parse_digits_u64(const char *s, int base, uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* strtoull skips blanks and accepts signs; a number here has neither. */
	if (!s || !*s || !isxdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	return parse_digits_u64(s, 10, out);
}

int parse_u32_range(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int parse_spi(const char *s, uint32_t *out)
{
	uint64_t v;

	if (!s)
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (parse_digits_u64(s + 2, 16, &v) < 0)
			return -1;
	} else if (parse_u64(s, &v) < 0) {
		return -1;
	}
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}


/*
 * The shared strict decoder (common/b64.c: padding required, no trailing
 * bits) with qkdctl's return convention: -2 tells "too long" apart from
 * malformed input, which keyfile.c reports differently.
 */
int base64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
	uint8_t tmp[768];
	size_t pad = 0, outlen;
	long n;

	if (len == 0 || len % 4)
		return -1;
	pad = (s[len - 1] == '=') + (s[len - 2] == '=');
	outlen = len / 4 * 3 - pad;
	if (outlen <= cap) {
		n = b64_decode(s, len, out, cap);
		if (n < 0)
			sec_wipe(out, cap);
		return n < 0 ? -1 : (int)n;
	}
	/* too long for out: still say "malformed" if it is */
	if (outlen > sizeof(tmp))
		return -2;
	n = b64_decode(s, len, tmp, sizeof(tmp));
	sec_wipe(tmp, sizeof(tmp));
	return n < 0 ? -1 : -2;
}

const char *role_label(uint8_t role)
{
	const char *name = qkd_role_name(role);

	return name ? name : "unknown";
}

void format_time_ns(uint64_t ns, char *buf, size_t len)
{
	time_t secs = (time_t)(ns / 1000000000ULL);
	unsigned ms = (unsigned)(ns % 1000000000ULL / 1000000ULL);
	struct tm tm;

	if (!gmtime_r(&secs, &tm)) {
		snprintf(buf, len, "%" PRIu64 "ns", ns);
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

void format_age(uint64_t s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
}

void secure_wipe(void *p, size_t len)
{
	if (p && len)
		sec_wipe(p, len);
}

bool copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap) {
		memcpy(dst, src, cap - 1);
		dst[cap - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}
