/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Minimal TAP output for the host unit tests. */
#ifndef QKD_TAP_H_
#define QKD_TAP_H_

#include <stdio.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do { \
	int _c = !!(cond); \
	tap_n++; \
	if (!_c) tap_failed++; \
	printf("%sok %d - ", _c ? "" : "not ", tap_n); \
	printf(__VA_ARGS__); \
	printf("\n"); \
	if (!_c) printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
	{
		printf("# %d of %d tests failed\n", tap_failed, tap_n);
	}
	return tap_failed ? 1 : 0;
}

#endif
