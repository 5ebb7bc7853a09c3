/* SPDX-License-Identifier: GPL-2.0 */
/* The monotonic clock in seconds, for the selftests' timings. */
#ifndef QKD_SELFTEST_CLOCK_H
#define QKD_SELFTEST_CLOCK_H

#include <time.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
