/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The one monotonic clock of the userspace programs: deadlines, backoff,
 * latencies and rates are all seconds on it, so they compare directly. */
#ifndef QKD_CLOCK_H
#define QKD_CLOCK_H

/* Seconds since an arbitrary start (CLOCK_MONOTONIC): never jumps with
 * the wall clock. */
double mono_now(void);

#endif
