// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Dry-run sink: TEST MODE ONLY.  Emulates the module's bookkeeping (per
 * link initiator pool of key IDs, responder IDs, max_keys cap, duplicate
 * IDs, low-watermark notifications) without holding any key material, and
 * simulates a taker consuming initiator keys at a fixed rate.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clock.h"
#include "log.h"
#include "sink.h"
#include "uuid.h"
#include "../../include/uapi/linux/qkd.h"

struct dry_link {
	char name[CONF_NAME_MAX];
	int exists;
	uint32_t max_keys, low_wm;
	uint8_t (*init_ids)[16];	/* FIFO ring of initiator IDs */
	uint32_t init_head, init_n;
	uint8_t (*resp_ids)[16];
	uint32_t resp_n;
	int below_notified;	/* since the pool last went below */
	double take_credit;
	/* the module's counters that the emulation can keep (QKD_STATS_A_*) */
	uint64_t injected, taken, rej_dup, rej_cap, lowwm_ntf;
};

struct dry {
	struct dry_opts o;
	struct dry_link *links;
	size_t nlinks;
	int taken_fd, wanted_fd;
	char rbuf[4096];
	size_t rlen;
	struct sink_event q[64];
	int qn;
	double last;
	unsigned long injects;	/* inject calls, for fail_after_send */
};

static struct dry_link *find(struct dry *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nlinks; i++)
		if (!strcmp(d->links[i].name, name))
			return &d->links[i];
	return NULL;
}

static void push(struct dry *d, const struct sink_event *ev)
{
	if (d->qn < (int)(sizeof(d->q) / sizeof(d->q[0])))
		d->q[d->qn++] = *ev;
}

int sink_dry_setup(struct sink *s, const struct dry_opts *o, const struct conf *c)
{
	struct dry *d = calloc(1, sizeof(*d));
	size_t i;

	if (!d)
		return -ENOMEM;
	d->o = *o;
	d->taken_fd = d->wanted_fd = -1;
	d->links = calloc(c->nlinks, sizeof(*d->links));
	if (!d->links) {
		free(d);
		return -ENOMEM;
	}
	d->nlinks = c->nlinks;
	for (i = 0; i < c->nlinks; i++) {
		struct dry_link *l = &d->links[i];

		snprintf(l->name, sizeof(l->name), "%s", c->links[i].name);
		l->max_keys = c->links[i].max_keys ? c->links[i].max_keys : QKD_LINK_DEFAULT_MAX_KEYS;
		l->init_ids = calloc(l->max_keys, 16);
		l->resp_ids = calloc(l->max_keys, 16);
		if (!l->init_ids || !l->resp_ids)
			return -ENOMEM;
	}
	s->ops = &sink_dry_ops;
	/* without simulated takers nothing needs a tick: the loop then sleeps
	 * as long as it would with the module */
	s->needs_tick = o->consume_rate > 0;
	s->priv = d;
	return 0;
}

static int dry_open(struct sink *s)
{
	struct dry *d = s->priv;

	if (d->o.wanted_in && d->wanted_fd < 0) {
		/* O_RDWR on a FIFO: we are a writer too, so never see EOF. */
		d->wanted_fd = open(d->o.wanted_in, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (d->wanted_fd < 0)
			return -errno;
	}
	d->last = mono_now();
	return 0;
}

static void dry_close(struct sink *s)
{
	struct dry *d = s->priv;
	size_t i;

	if (!d)
		return;
	if (d->wanted_fd >= 0)
		close(d->wanted_fd);
	if (d->taken_fd >= 0)
		close(d->taken_fd);
	for (i = 0; i < d->nlinks; i++) {
		free(d->links[i].init_ids);
		free(d->links[i].resp_ids);
	}
	free(d->links);
	free(d);
	s->priv = NULL;
}

static int dry_fd(struct sink *s)
{
	return ((struct dry *)s->priv)->wanted_fd;
}

static int dry_ensure(struct sink *s, const struct conf_link *cl)
{
	struct dry_link *l = find(s->priv, cl->name);

	if (!l)
		return -EINVAL;
	if (l->exists)
		return 0;
	l->exists = 1;
	l->low_wm = cl->role == ROLE_SLAVE ? 0 : cl->low_watermark;
	l->init_n = l->init_head = l->resp_n = 0;
	l->below_notified = 0;
	return 1;
}

static int dry_level(struct sink *s, const char *link, uint32_t *init)
{
	struct dry_link *l = find(s->priv, link);

	if (!l || !l->exists)
		return -ENODEV;
	*init = l->init_n;
	return 0;
}

static int held(struct dry_link *l, const uint8_t id[16])
{
	uint32_t i;

	for (i = 0; i < l->init_n; i++)
		if (!memcmp(l->init_ids[(l->init_head + i) % l->max_keys], id, 16))
			return 1;
	for (i = 0; i < l->resp_n; i++)
		if (!memcmp(l->resp_ids[i], id, 16))
			return 1;
	return 0;
}

static void write_taken(struct dry *d, const char *link, const uint8_t id[16]);

static int dry_inject(struct sink *s, const char *link, const struct etsi_keys *ks,
		      size_t off, size_t n, int role)
{
	struct dry *d = s->priv;
	struct dry_link *l = find(d, link);
	size_t i, j;

	s->maybe_delivered = 0;
	if (!l || !l->exists)
		return snprintf(s->last_error, sizeof(s->last_error), "no such link"), -ENODEV;
	if (n == 0 || n > QKD_INJECT_MAX_KEYS)
		return -EINVAL;
	if (role == QKD_KEY_ROLE_INITIATOR && l->init_n + n > l->max_keys) {
		l->rej_cap++;
		return snprintf(s->last_error, sizeof(s->last_error), "over max_keys"), -ENOSPC;
	}
	for (i = off; i < off + n; i++) {
		if (ks->keys[i].len < QKD_KEY_MIN_LEN || ks->keys[i].len > QKD_KEY_MAX_LEN)
			return snprintf(s->last_error, sizeof(s->last_error), "bad key length"), -EINVAL;
		if (held(l, ks->keys[i].id)) {
			l->rej_dup++;
			return snprintf(s->last_error, sizeof(s->last_error), "duplicate key ID"), -EEXIST;
		}
		for (j = off; j < i; j++)
			if (!memcmp(ks->keys[j].id, ks->keys[i].id, 16))
				return -EEXIST;
	}
	for (i = off; i < off + n; i++) {
		if (role == QKD_KEY_ROLE_INITIATOR) {
			memcpy(l->init_ids[(l->init_head + l->init_n) % l->max_keys], ks->keys[i].id, 16);
			l->init_n++;
		} else if (l->resp_n < l->max_keys) {
			/* A responder key is wanted by a waiting taker: remember
			 * the ID (for duplicate detection) as if it was taken. */
			memcpy(l->resp_ids[l->resp_n++], ks->keys[i].id, 16);
		}
	}
	l->injected += n;
	if (l->init_n >= l->low_wm)
		l->below_notified = 0;
	if (d->o.fail_after_send && ++d->injects % d->o.fail_after_send == 0) {
		/* Fault injection, the worst case of a lost reply: the keys
		 * went in and takers got them at once (as they may during a
		 * reply timeout).  An agent that injected them again would
		 * make them taken twice. */
		if (role == QKD_KEY_ROLE_INITIATOR) {
			for (i = 0; i < n; i++) {
				uint32_t last = (l->init_head + l->init_n - 1) % l->max_keys;

				write_taken(d, l->name, l->init_ids[last]);
				l->init_n--;
				l->taken++;
			}
		}
		snprintf(s->last_error, sizeof(s->last_error), "dry-run: simulated lost reply");
		s->maybe_delivered = 1;
		return -ETIMEDOUT;
	}
	return 0;
}

static void write_taken(struct dry *d, const char *link, const uint8_t id[16])
{
	char line[CONF_NAME_MAX + UUID_STR_LEN + 4], u[UUID_STR_LEN + 1];
	int n;

	if (!d->o.taken_out)
		return;
	if (d->taken_fd < 0) {
		d->taken_fd = open(d->o.taken_out, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_APPEND);
		if (d->taken_fd < 0)
			return;	/* no reader yet: lose it, like a taker that gave up */
	}
	uuid_format(id, u);
	n = snprintf(line, sizeof(line), "%s %s\n", link, u);
	if (write(d->taken_fd, line, (size_t)n) != n) {
		close(d->taken_fd);
		d->taken_fd = -1;
	}
}

static void dry_tick(struct sink *s)
{
	struct dry *d = s->priv;
	double now = mono_now(), dt = now - d->last;
	size_t i;

	d->last = now;
	if (d->o.consume_rate <= 0)
		return;
	for (i = 0; i < d->nlinks; i++) {
		struct dry_link *l = &d->links[i];
		int took = 0;

		if (!l->exists)
			continue;
		l->take_credit += d->o.consume_rate * dt;
		while (l->take_credit >= 1) {
			l->take_credit -= 1;
			if (l->init_n == 0) {
				l->take_credit = 0;
				break;
			}
			write_taken(d, l->name, l->init_ids[l->init_head]);
			l->init_head = (l->init_head + 1) % l->max_keys;
			l->init_n--;
			l->taken++;
			took = 1;
		}
		/* like the module: every take that leaves the pool below the
		 * low watermark notifies (here one event per tick) */
		if (l->low_wm && l->init_n < l->low_wm && (took || !l->below_notified)) {
			struct sink_event ev = { .type = SINK_EV_LOW_WATERMARK };

			snprintf(ev.link, sizeof(ev.link), "%s", l->name);
			ev.key_count = l->init_n;
			ev.low_watermark = l->low_wm;
			push(d, &ev);
			l->lowwm_ntf++;
			l->below_notified = 1;
		}
	}
}

static void parse_wanted(struct dry *d, char *line)
{
	struct sink_event ev = { .type = SINK_EV_KEY_WANTED };
	char *sp = strchr(line, ' ');
	const char *id = line;

	if (sp) {
		*sp = '\0';
		id = sp + 1;
		if (!find(d, line))	/* other side's link name: map to ours */
			snprintf(ev.link, sizeof(ev.link), "%s", d->nlinks ? d->links[0].name : "");
		else
			memcpy(ev.link, line, strlen(line) + 1);	/* found: fits */
	} else if (d->nlinks) {
		snprintf(ev.link, sizeof(ev.link), "%s", d->links[0].name);
	}
	if (uuid_parse(id, strlen(id), ev.key_id)) {
		log_warn("dry-run: ignoring malformed wanted line");
		return;
	}
	push(d, &ev);
}

static int dry_events(struct sink *s, struct sink_event *ev, int max)
{
	struct dry *d = s->priv;
	int n = 0;

	if (d->wanted_fd >= 0) {
		ssize_t r;

		while ((r = read(d->wanted_fd, d->rbuf + d->rlen, sizeof(d->rbuf) - 1 - d->rlen)) > 0) {
			char *nl;

			d->rlen += (size_t)r;
			d->rbuf[d->rlen] = '\0';
			while ((nl = memchr(d->rbuf, '\n', d->rlen))) {
				*nl = '\0';
				parse_wanted(d, d->rbuf);
				d->rlen -= (size_t)(nl + 1 - d->rbuf);
				memmove(d->rbuf, nl + 1, d->rlen);
			}
			if (d->rlen == sizeof(d->rbuf) - 1)
				d->rlen = 0;
		}
	}
	while (n < max && d->qn > 0) {
		ev[n++] = d->q[0];
		memmove(d->q, d->q + 1, sizeof(d->q[0]) * (size_t)(--d->qn));
	}
	return n;
}

/* The emulated links as the module's dump would show them; counters the
 * emulation does not keep (expiry, flushes, rate limits, byte counts)
 * read 0, so that dry-run scrapes carry every qkd_module_* family. */
static int dry_link_stats(struct sink *s, qkd_link_fn fn, void *arg)
{
	struct dry *d = s->priv;
	struct qkd_link_info info;
	size_t i;
	int r, n = 0;

	for (i = 0; i < d->nlinks; i++) {
		const struct dry_link *l = &d->links[i];
		uint64_t *v = info.stats.v;

		if (!l->exists)
			continue;
		memset(&info, 0, sizeof(info));
		snprintf(info.name, sizeof(info.name), "%s", l->name);
		info.max_keys = l->max_keys;
		info.low_watermark = l->low_wm;
		info.present = 1ULL << QKD_A_STATS;
		v[QKD_STATS_A_INJECTED] = l->injected;
		v[QKD_STATS_A_TAKEN] = l->taken;
		v[QKD_STATS_A_REJECTED_DUPLICATE] = l->rej_dup;
		v[QKD_STATS_A_REJECTED_CAP] = l->rej_cap;
		v[QKD_STATS_A_LOW_WATERMARK] = l->lowwm_ntf;
		v[QKD_STATS_A_INITIATOR_KEYS] = l->init_n;
		v[QKD_STATS_A_KEYS_BUFFERED] = l->init_n;	/* responder keys: taken at once */
		info.stats.present = ((1ULL << (QKD_STATS_A_MAX + 1)) - 1) & ~3ULL;
		r = fn(&info, arg);
		if (r < 0)
			return r;
		n++;
	}
	return n;
}

const struct sink_ops sink_dry_ops = {
	.name = "dry-run",
	.open = dry_open,
	.close = dry_close,
	.fd = dry_fd,
	.ensure_link = dry_ensure,
	.pool_level = dry_level,
	.inject = dry_inject,
	.events = dry_events,
	.tick = dry_tick,
	.link_stats = dry_link_stats,
	.audit = NULL,		/* no takers with SPIs to record */
};
