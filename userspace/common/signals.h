/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Signal set-up shared by the daemons (qkd-agent, qkd-kms-sim). */
#ifndef QKD_SIGNALS_H
#define QKD_SIGNALS_H

/* Run handler for each signal in sigs (a list ended by 0), without
 * SA_RESTART: a signal interrupts a sleep rather than waiting for its
 * end.  SIGPIPE is ignored: a peer that closes its socket early must not
 * kill the daemon. */
void install_signals(void (*handler)(int), const int *sigs);

#endif
