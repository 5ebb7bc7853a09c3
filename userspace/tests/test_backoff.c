// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <string.h>
#include "backoff.h"
#include "tap.h"

int main(void)
{
	struct backoff b, b2;
	uint32_t caps[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000 };
	uint32_t d, prev_seen[64];
	int i, inrange = 1, capok = 1, distinct = 0, same = 1;

	backoff_init(&b, 100, 5000, 42);
	for (i = 0; i < 9; i++) {
		uint32_t cap = backoff_cap(&b);

		if (cap != caps[i])
			capok = 0;
		d = backoff_next(&b);
		if (d < cap / 2 || d > cap)
			inrange = 0;
	}
	ok(capok, "backoff cap doubles from base and stops at max");
	ok(inrange, "backoff delay within [cap/2, cap] (equal jitter)");
	for (i = 0; i < 1000; i++)
		backoff_next(&b);
	ok(backoff_cap(&b) == 5000, "backoff cap stays at max after many failures (no overflow)");
	backoff_reset(&b);
	ok(backoff_cap(&b) == 100 && b.attempt == 0, "backoff reset returns to base");
	backoff_next(&b);
	backoff_next(&b);
	backoff_set_bounds(&b, 50, 150);
	ok(b.attempt == 2 && backoff_cap(&b) == 150 && backoff_next(&b) <= 150,
	   "new bounds (a reload) keep the attempt count: cap 50 * 2^2 capped at 150");

	backoff_init(&b, 1000, 1000, 7);
	for (i = 0; i < 64; i++) {
		int k;

		prev_seen[i] = backoff_next(&b);
		for (k = 0; k < i; k++)
			if (prev_seen[k] == prev_seen[i])
				break;
		if (k == i)
			distinct++;
	}
	ok(distinct > 32, "backoff jitter spreads delays (%d distinct of 64)", distinct);

	backoff_init(&b, 100, 60000, 99);
	backoff_init(&b2, 100, 60000, 99);
	for (i = 0; i < 20; i++)
		if (backoff_next(&b) != backoff_next(&b2))
			same = 0;
	ok(same, "backoff deterministic for a given seed");

	backoff_init(&b, 0, 0, 0);
	d = backoff_next(&b);
	ok(b.base_ms == 1 && d <= 1, "backoff tolerates zero parameters");
	backoff_init(&b, 500, 100, 1);
	ok(backoff_cap(&b) == 500, "backoff max below base is raised to base");
	return tap_done();
}
