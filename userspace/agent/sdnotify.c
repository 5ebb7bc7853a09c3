// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * systemd service notifications (sd_notify(3)): READY=1 once the
 * configuration is loaded and the loop is about to run, STATUS= with what
 * the agent does (every stats_interval), WATCHDOG=1 from the loop itself
 * at half of WatchdogSec (a loop stuck for longer gets the agent
 * restarted), STOPPING=1 at a stop.  Without a NOTIFY_SOCKET (not started
 * by systemd, Type=simple) every call is a no-op.
 *
 * Ready means running, not "keys flowing": a gateway must boot without
 * the module or a KME (the agent retries, its status line says what it
 * waits for), and ordering charon after a readiness that may never come
 * would take the tunnels down with the QKD side.
 */
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include "agent.h"
#include "clock.h"
#include "log.h"

void sdnotify_init(struct agent *a)
{
	uint64_t usec = 0;

	a->wd_interval = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec) {
		a->wd_interval = (double)usec / 2e6;
		a->next_wd = mono_now();
		log_info("systemd watchdog: %.1f s, pinged every %.1f s", (double)usec / 1e6,
			 a->wd_interval);
	}
}

/* One line for `systemctl status`: the key store, and per link its pool. */
static void status_line(const struct agent *a, char *out, size_t outsz)
{
	size_t i, off, up = 0;

	for (i = 0; i < a->nlinks; i++)
		up += a->links[i].created;
	if (!a->sink_ok) {
		snprintf(out, outsz, "waiting for the key store (%s): %zu link(s) configured",
			 a->sink.ops ? a->sink.ops->name : "none", a->nlinks);
		return;
	}
	off = (size_t)snprintf(out, outsz, "%zu of %zu link(s) in the key store", up, a->nlinks);
	for (i = 0; i < a->nlinks && off < outsz; i++) {
		const struct link *l = &a->links[i];

		off += (size_t)snprintf(out + off, outsz - off, "; %s: pool %u, %llu keys obtained",
					l->cfg->name, l->level,
					(unsigned long long)(l->obtained[QKD_KEY_ROLE_INITIATOR] +
							     l->obtained[QKD_KEY_ROLE_RESPONDER]));
	}
}

void sdnotify_ready(struct agent *a)
{
	char st[256];

	status_line(a, st, sizeof(st));
	sd_notifyf(0, "READY=1\nSTATUS=%s", st);
}

void sdnotify_status(struct agent *a)
{
	char st[256];

	status_line(a, st, sizeof(st));
	sd_notifyf(0, "STATUS=%s", st);
}

void sdnotify_step(struct agent *a, double now)
{
	if (!a->wd_interval || now < a->next_wd)
		return;
	sd_notify(0, "WATCHDOG=1");
	a->next_wd = now + a->wd_interval;
}

void sdnotify_reloading(void)
{
	sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
}

void sdnotify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
