/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Small, pure helpers shared by qkdctl's parsers and printers: number and
 * UUID parsing, hex/base64 decoding, time formatting.  Nothing here talks to
 * the kernel, so everything can be unit tested on the host.
 */
#ifndef QKDCTL_UTIL_H
#define QKDCTL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <linux/qkd.h>

/* UUID_STR_LEN, uuid_parse() and uuid_format() come from the shared
 * userspace/common library (libqkdcommon), as do base64 and wiping. */
#include "hex.h"
#include "uuid.h"

/*
 * Parse a decimal unsigned number in [min, max].  Signs, spaces, empty
 * strings, trailing junk and overflow are rejected: strtoul() alone accepts
 * " -1" and wraps it, which is exactly what a limit must never do.
 * Returns 0 or -1.
 */
int parse_u32_range(const char *s, uint32_t min, uint32_t max, uint32_t *out);
int parse_u64(const char *s, uint64_t *out);

/* SPI as `ip xfrm` prints it: 0x-prefixed hex, or decimal.  Returns 0/-1. */
int parse_spi(const char *s, uint32_t *out);


/*
 * Decode (hex_decode, hex_encode: common/hex.h) standard base64 (with '=' padding
 * to a multiple of 4) into out[0..cap).  Returns the decoded length, -1 on a
 * bad character or shape, -2 if the result would not fit in cap.
 */
int base64_decode(const char *s, size_t len, uint8_t *out, size_t cap); /* common b64_decode */

/* libqkd's qkd_role_name(), or "unknown" for output where it has none. */
const char *role_label(uint8_t role);

/* ns since the epoch (CLOCK_REALTIME) as ISO 8601 UTC with milliseconds. */
void format_time_ns(uint64_t ns, char *buf, size_t len);
/* Seconds as "42s", "3m12s", "2h05m", "3d04h": compact, for ages. */
void format_age(uint64_t seconds, char *buf, size_t len);

/* Wipe memory that held key material; the compiler may not drop it
 * (common sec_wipe(), i.e. OPENSSL_cleanse()). */
void secure_wipe(void *p, size_t len);

/* Bounded copy that always terminates; returns false if it truncated. */
bool copy_str(char *dst, size_t cap, const char *src);

#endif
