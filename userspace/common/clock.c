// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The monotonic clock in seconds (see clock.h). */
#include <time.h>
#include "clock.h"

double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
