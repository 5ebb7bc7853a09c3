/* SPDX-License-Identifier: GPL-2.0-only */
/* cmocka boilerplate shared by the unit tests. */
#ifndef QKDCTL_TEST_COMMON_H
#define QKDCTL_TEST_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

/* assert err contains needle, showing err when it does not */
#define assert_contains(hay, needle) do { \
	if (!strstr((hay), (needle))) \
		fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle)); \
} while (0)

#endif
