// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "backoff.h"

void backoff_init(struct backoff *b, uint32_t base_ms, uint32_t max_ms, uint64_t seed)
{
	b->base_ms = base_ms ? base_ms : 1;
	b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
	b->attempt = 0;
	b->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

void backoff_set_bounds(struct backoff *b, uint32_t base_ms, uint32_t max_ms)
{
	b->base_ms = base_ms ? base_ms : 1;
	b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
}

uint32_t backoff_cap(const struct backoff *b)
{
	uint64_t cap = b->base_ms;
	uint32_t i;

	for (i = 0; i < b->attempt && cap < b->max_ms; i++)
		cap <<= 1;
	return cap > b->max_ms ? b->max_ms : (uint32_t)cap;
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

uint32_t backoff_next(struct backoff *b)
{
	uint32_t cap = backoff_cap(b);
	uint32_t half = cap / 2;
	uint32_t span = cap - half;

	if (b->attempt < 64)
		b->attempt++;
	return half + (uint32_t)(xorshift64(&b->rng) % ((uint64_t)span + 1));
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
