// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The agent's event loop.  Each turn: (re)connect the key store if it is
 * down, step every link (create it, retry held keys, slave and master
 * work), run the periodic checks when due, then sleep in one
 * curl_multi_poll() on the key store's notify socket, the metrics socket
 * and every ETSI transfer in flight until one of them or the next
 * deadline wakes us; then finish the transfers and read notifications.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include "agent.h"
#include "clock.h"
#include "log.h"

#define HELD_MAX_S	120.0	/* fetched keys older than this are wiped */
#define EVENTS_BATCH	32	/* notifications read per call */

void sink_lost(struct agent *a, const char *why)
{
	size_t i;

	if (a->sink_ok)
		log_warn("key store (%s) lost: %s; reconnecting", a->sink.ops->name, why);
	a->sink_ok = 0;
	for (i = 0; i < a->nlinks; i++) {
		a->links[i].created = 0;
		/* retry held keys as soon as the link is back */
		a->links[i].held_next[1] = a->links[i].held_next[2] = 0;
	}
}

/* Open the key store when it is down and its backoff has passed. */
static void reconnect_sink(struct agent *a, double now)
{
	uint32_t d;
	int r;

	if (a->sink_ok || now < a->next_sink_open)
		return;
	r = a->sink.ops->open(&a->sink);
	if (r == 0) {
		a->sink_ok = 1;
		backoff_reset(&a->bo_sink);
		log_info("key store (%s) connected", a->sink.ops->name);
		return;
	}
	d = backoff_next(&a->bo_sink);
	if (a->bo_sink.attempt <= 1 || a->bo_sink.attempt % 20 == 0)
		log_warn("key store (%s) unavailable: %s%s%s%s; retrying",
			 a->sink.ops->name, strerror(-r),
			 r == -ENOENT ? " (module qkd not loaded?)" : "",
			 a->sink.last_error[0] ? ": " : "", a->sink.last_error);
	a->next_sink_open = now + ms_to_s(d);
}

/* Create l in the key store when its backoff has passed.  Returns 1 once
 * the link exists. */
static int create_link(struct agent *a, struct link *l, double now)
{
	const struct conf_link *c = l->cfg;
	int r;

	if (l->created)
		return 1;
	if (now < l->next_create)
		return 0;
	r = a->sink.ops->ensure_link(&a->sink, c);
	if (r < 0) {
		uint32_t d = backoff_next(&l->bo_create);

		l->next_create = now + ms_to_s(d);
		log_warn("link %s: cannot create it: %s%s%s", c->name, strerror(-r),
			 a->sink.last_error[0] ? ": " : "", a->sink.last_error);
		if (r == -ENOENT || r == -ETIMEDOUT)
			sink_lost(a, "LINK_NEW failed");
		return 0;
	}
	backoff_reset(&l->bo_create);
	l->created = 1;
	l->level_valid = 0;
	l->refill = c->role != ROLE_SLAVE;	/* start full */
	if (r == 1) {
		l->links_created++;
		log_info("link %s: created (%s -> %s)", c->name, c->local_sae_id, c->remote_sae_id);
	}
	return 1;
}

static void link_step(struct agent *a, struct link *l, double now)
{
	int role;

	if (!a->sink_ok || !create_link(a, l, now))
		return;
	for (role = QKD_KEY_ROLE_INITIATOR; role <= QKD_KEY_ROLE_RESPONDER && a->sink_ok; role++) {
		if (!l->held[role].n)
			continue;
		if (now - l->held_since[role] > HELD_MAX_S)
			drop_held(l, role, LOST_HELD_TOO_LONG, "held too long");
		else if (now >= l->held_next[role])
			inject_held(a, l, role);
	}
	if (!a->sink_ok || !l->created)
		return;
	if (l->cfg->role != ROLE_MASTER)
		slave_step(a, l, now);
	if (!a->sink_ok || !l->created)
		return;
	if (l->cfg->role != ROLE_SLAVE)
		master_step(a, l, now);
}

/* The earliest deadline of any link, the periodic checks or the key
 * store's reconnect. */
static double next_deadline(struct agent *a, double now)
{
	double next = a->next_stats;
	size_t i;

	if (auditlog_active(a) && a->audit.next_run < next)
		next = a->audit.next_run;
	if (a->wd_interval && a->next_wd < next)
		next = a->next_wd;
	if (!a->sink_ok && a->next_sink_open < next)
		next = a->next_sink_open;
	for (i = 0; i < a->nlinks && a->sink_ok; i++) {
		struct link *l = &a->links[i];

		if (!l->created && l->next_create < next)
			next = l->next_create;
		if (holding(l))
			next = now + 0.2 < next ? now + 0.2 : next;
		if (l->nwanted && !etsi_client_busy(&l->kme_s) && l->next_slave < next)
			next = l->next_slave;
		if (l->cfg->role != ROLE_SLAVE && !etsi_client_busy(&l->kme_m)) {
			if (l->refill && l->next_master < next)
				next = l->next_master;
			if (l->next_status < next)
				next = l->next_status;
		}
		if (l->cfg->role != ROLE_SLAVE && l->next_poll < next)
			next = l->next_poll;
	}
	return next;
}

/* How long the poll may sleep, in ms. */
static int poll_timeout(struct agent *a, double now)
{
	double next = next_deadline(a, now);
	long ctimeout = -1;
	int timeout = next <= now ? 0 : (int)((next - now) * 1000) + 1;

	if (a->sink.ops->tick && a->sink.needs_tick && timeout > 50)
		timeout = 50;	/* dry-run takers */
	if (curl_multi_timeout(a->multi, &ctimeout) == CURLM_OK && ctimeout >= 0 &&
	    ctimeout < timeout)
		timeout = (int)ctimeout;
	return timeout;
}

/* Sleep until the key store or the metrics socket is readable, a
 * transfer progresses or timeout ms pass.  Returns -1 if polling failed. */
static int wait_for_work(struct agent *a, int timeout)
{
	struct curl_waitfd wfd[3];
	int nfd = 0;

	/* the signal handler's pipe: a SIGTERM that came after the loop
	 * last looked at agent_stop_requested ends the poll at once */
	if (agent_wake_fd >= 0) {
		wfd[nfd].fd = agent_wake_fd;
		wfd[nfd].events = CURL_WAIT_POLLIN;
		wfd[nfd++].revents = 0;
	}
	if (a->sink_ok && a->sink.ops->fd(&a->sink) >= 0) {
		wfd[nfd].fd = a->sink.ops->fd(&a->sink);
		wfd[nfd].events = CURL_WAIT_POLLIN;
		wfd[nfd++].revents = 0;
	}
	if (metrics_fd(a) >= 0) {
		wfd[nfd].fd = metrics_fd(a);
		wfd[nfd].events = CURL_WAIT_POLLIN;
		wfd[nfd++].revents = 0;
	}
	/* waits on our fds and every ETSI transfer in flight */
	if (curl_multi_poll(a->multi, wfd, (unsigned int)nfd, timeout, NULL) != CURLM_OK) {
		log_err("curl_multi_poll failed");
		return -1;
	}
	if (agent_wake_fd >= 0) {
		char buf[16];

		while (read(agent_wake_fd, buf, sizeof(buf)) > 0)
			;
	}
	return 0;
}

/* Move the transfers along; hand each finished one to its link. */
static void finish_transfers(struct agent *a)
{
	CURLMsg *msg;
	int running, left;
	size_t i;

	curl_multi_perform(a->multi, &running);
	while ((msg = curl_multi_info_read(a->multi, &left))) {
		struct etsi_client *c = NULL;
		CURL *h = msg->easy_handle;
		CURLcode cc = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&c);
		curl_multi_remove_handle(a->multi, h);
		for (i = 0; i < a->nlinks && c; i++)
			if (c == &a->links[i].kme_m || c == &a->links[i].kme_s) {
				log_context(a->links[i].cfg->name, c->base);
				request_done(a, &a->links[i], c, (int)cc);
				log_context(NULL, NULL);
				break;
			}
	}
}

static struct link *find_link(struct agent *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->nlinks; i++)
		if (!strcmp(a->links[i].cfg->name, name))
			return &a->links[i];
	return NULL;
}

static void handle_link_event(struct link *l, const struct sink_event *ev, double now);

static void handle_event(struct agent *a, const struct sink_event *ev, double now)
{
	struct link *l;
	size_t i;

	if (ev->type == SINK_EV_RESYNC) {
		log_warn("notifications lost (socket overrun): re-reading every link");
		for (i = 0; i < a->nlinks; i++)
			a->links[i].level_valid = 0;
		return;
	}
	l = find_link(a, ev->link);
	if (!l)
		return;		/* not ours */
	log_context(l->cfg->name, l->kme_m.base);
	handle_link_event(l, ev, now);
	log_context(NULL, NULL);
}

static void handle_link_event(struct link *l, const struct sink_event *ev, double now)
{
	switch (ev->type) {
	case SINK_EV_LOW_WATERMARK:
		l->lowwm_events++;
		log_debug("link %s: low watermark (%u < %u)", l->cfg->name, ev->key_count, ev->low_watermark);
		if (l->cfg->role != ROLE_SLAVE) {
			master_level_seen(l, ev->key_count, now);
			l->refill = 1;
		}
		break;
	case SINK_EV_KEY_WANTED:
		slave_key_wanted(l, ev, now);
		break;
	case SINK_EV_LINK_DEL:
		log_info("link %s: deleted; recreating", l->cfg->name);
		l->created = 0;
		l->level_valid = 0;
		break;
	default:
		break;
	}
}

/* Handle every pending notification of the key store. */
static void read_events(struct agent *a)
{
	struct sink_event ev[EVENTS_BATCH];
	int n, k;

	while ((n = a->sink.ops->events(&a->sink, ev, EVENTS_BATCH)) > 0) {
		double now = mono_now();

		for (k = 0; k < n; k++)
			handle_event(a, &ev[k], now);
		if (n < EVENTS_BATCH)
			break;
	}
	if (n < 0)
		sink_lost(a, strerror(-n));
}

void agent_run(struct agent *a)
{
	while (!agent_stop_requested) {
		double now = mono_now();
		size_t i;

		if (agent_reload_requested) {
			agent_reload_requested = 0;
			sdnotify_reloading();
			agent_reload(a);
			sdnotify_ready(a);
		}
		reconnect_sink(a, now);
		for (i = 0; i < a->nlinks && !agent_stop_requested; i++) {
			log_context(a->links[i].cfg->name, a->links[i].kme_m.base);
			link_step(a, &a->links[i], mono_now());
		}
		log_context(NULL, NULL);
		now = mono_now();
		auditlog_step(a, now, auditlog_realtime_ns());
		sdnotify_step(a, now);
		if (now >= a->next_stats) {
			agent_stats(a, now);
			sdnotify_status(a);
			a->next_stats = now + a->conf->stats_interval;
		}
		if (wait_for_work(a, poll_timeout(a, now)))
			break;
		finish_transfers(a);
		metrics_run(a);
		if (!a->sink_ok)
			continue;
		if (a->sink.ops->tick)
			a->sink.ops->tick(&a->sink);
		read_events(a);
	}
}
