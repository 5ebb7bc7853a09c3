// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The daemons' signal set-up (see signals.h). */
#include <signal.h>
#include <string.h>
#include "signals.h"

void install_signals(void (*handler)(int), const int *sigs)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	for (; *sigs; sigs++)
		sigaction(*sigs, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
