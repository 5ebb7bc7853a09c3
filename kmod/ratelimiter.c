// SPDX-License-Identifier: GPL-2.0
/*
 * A token bucket per link that limits how fast keys are taken.
 *
 * QKD links deliver a few hundred to a few thousand keys per second at
 * best, so a runaway consumer (a rekey storm, a misconfigured peer) could
 * drain the pool that every other tunnel on the link depends on.  The
 * bucket holds up to @burst keys and refills at @rate keys per second.
 * Tokens are kept scaled by NSEC_PER_SEC so that refill is exact integer
 * arithmetic on nanoseconds.  Callers hold the link's lock.
 */
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/time64.h>

#include "qkd.h"

void qkd_ratelimiter_init(struct qkd_ratelimiter *rl, u32 rate, u32 burst)
{
	rl->rate = rate;
	rl->burst = burst;
	/* A new or reconfigured link starts with a full bucket. */
	rl->tokens = (u64)burst * NSEC_PER_SEC;
	rl->last_ns = 0;
}

static void qkd_ratelimiter_refill(struct qkd_ratelimiter *rl, u64 now_ns)
{
	u64 cap = (u64)rl->burst * NSEC_PER_SEC;
	u64 elapsed;

	if (!rl->last_ns || now_ns < rl->last_ns) {
		rl->last_ns = now_ns;
		return;
	}
	elapsed = now_ns - rl->last_ns;
	rl->last_ns = now_ns;
	/*
	 * elapsed * rate would overflow u64 after ~18 s at the highest rate;
	 * a bucket idle for longer than one full refill is simply full.
	 */
	if (elapsed >= div_u64(cap, rl->rate) + 1) {
		rl->tokens = cap;
		return;
	}
	rl->tokens = min(cap, rl->tokens + elapsed * rl->rate);
}

bool qkd_ratelimiter_has_token(struct qkd_ratelimiter *rl, u64 now_ns)
{
	if (!rl->rate)
		return true;
	qkd_ratelimiter_refill(rl, now_ns);
	return rl->tokens >= NSEC_PER_SEC;
}

void qkd_ratelimiter_consume(struct qkd_ratelimiter *rl)
{
	if (rl->rate && rl->tokens >= NSEC_PER_SEC)
		rl->tokens -= NSEC_PER_SEC;
}
