/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Exponential backoff with "equal jitter": attempt n waits a uniformly
 * random time in [cap/2, cap], cap = min(max_ms, base_ms * 2^n). */
#ifndef QKD_BACKOFF_H
#define QKD_BACKOFF_H
#include <stdint.h>

struct backoff {
	uint32_t base_ms;
	uint32_t max_ms;
	uint32_t attempt;	/* failures since the last success */
	uint64_t rng;		/* xorshift64 state, never 0 */
};

void backoff_init(struct backoff *b, uint32_t base_ms, uint32_t max_ms, uint64_t seed);
/* Delay before the next try after one more failure. */
uint32_t backoff_next(struct backoff *b);
/* The cap (upper bound) the next call to backoff_next() will use. */
uint32_t backoff_cap(const struct backoff *b);
void backoff_reset(struct backoff *b);
/* New bounds (a configuration reload); the attempt count and the random
 * state are kept. */
void backoff_set_bounds(struct backoff *b, uint32_t base_ms, uint32_t max_ms);

#endif
