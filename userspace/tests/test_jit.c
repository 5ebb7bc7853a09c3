// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Just in time (prefetch = no/auto at a KME that discards unfetched keys):
 * the next enc_keys must wait jit_grace after any take, also when a whole
 * batch was injected and taken between two looks at the pool level (CI saw
 * that race: the peer's last key discarded by the KME).
 */
#include <string.h>
#include "../agent/agent.h"
#include "tap.h"

/* main.c's globals (not linked: it has main()) */
volatile sig_atomic_t agent_stop_requested, agent_reload_requested;
int agent_wake_fd = -1;

int main(void)
{
	struct conf_link c;
	struct link l;

	memset(&c, 0, sizeof(c));
	memset(&l, 0, sizeof(l));
	c.jit_grace = 2;
	l.cfg = &c;

	master_level_seen(&l, 0, 10.0);
	ok(l.jit_after == 0 && l.level == 0 && l.level_valid, "an empty pool seen first: no take yet");
	master_keys_added(&l, 5);
	ok(l.level == 5, "5 keys injected: level 5");
	master_level_seen(&l, 0, 11.0);
	ok(l.jit_after == 13.0, "batch taken whole between two looks: next enc_keys at 13.0 (now + jit_grace)");
	master_keys_added(&l, 5);
	master_level_seen(&l, 5, 12.0);
	ok(l.jit_after == 13.0, "no key taken since: jit_after stays");
	master_level_seen(&l, 3, 14.0);
	ok(l.jit_after == 16.0 && l.level == 3, "2 of 5 taken: next enc_keys at 16.0");
	master_level_seen(&l, 3, 15.0);
	ok(l.jit_after == 16.0, "the same level again: no take, jit_after stays");
	return tap_done();
}
