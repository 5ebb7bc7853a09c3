// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The simulated QKD link between KME A and KME B: it produces secret bits
 * at key_rate * max(0, 1 - 2 h(QBER)) (h: binary entropy) while it is up,
 * with the QBER drifting at qber_drift per second, and stores up to
 * max_key_count keys' worth of bits for the KMEs to hand out.
 */
#include <math.h>
#include "clock.h"
#include "sim.h"

/* Binary entropy. */
static double h2(double p)
{
	if (p <= 0 || p >= 1)
		return 0;
	return -p * log2(p) - (1 - p) * log2(1 - p);
}

double eff_rate_locked(void)
{
	double f = 1 - 2 * h2(S.qber);

	if (!S.link_up || f <= 0)
		return 0;
	return S.key_rate * f;
}

/* Bits produced over dt seconds of a drifting QBER: integrate the rate
 * with a midpoint step. */
static double drifted_bits_locked(double dt)
{
	double q0 = S.qber, qm, f;

	S.qber += S.qber_drift * dt;
	if (S.qber < 0)
		S.qber = 0;
	if (S.qber > 0.5)
		S.qber = 0.5;
	qm = (q0 + S.qber) / 2;
	f = 1 - 2 * h2(qm);
	return S.link_up && f > 0 ? S.key_rate * f * dt : 0;
}

static void cap_stored_locked(void)
{
	double cap = (double)S.max_key_count * S.key_size;

	if (S.avail_bits > cap)
		S.avail_bits = cap;
}

void update_locked(void)
{
	double now = mono_now(), dt = now - S.last;

	if (dt > 0) {
		if (S.qber_drift != 0)
			S.avail_bits += drifted_bits_locked(dt);
		else
			S.avail_bits += eff_rate_locked() * dt;
		S.last = now;
	}
	cap_stored_locked();
	store_expire_locked(now);
}

int stored_keys_locked(void)
{
	return (int)(S.avail_bits / S.key_size);
}

void link_init(double initial_keys)
{
	S.avail_bits = initial_keys * S.key_size;
	S.last = mono_now();
	cap_stored_locked();
}
