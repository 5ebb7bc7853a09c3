/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Where the agent puts keys.  The real sink is the kernel module "qkd"
 * over generic netlink (sink_netlink.c).  The dry-run sink (sink_dry.c) is
 * a TEST MODE for hosts without the module: it counts keys, never stores
 * material, and simulates takers.
 */
#ifndef QKD_AGENT_SINK_H
#define QKD_AGENT_SINK_H
#include <stddef.h>
#include <stdint.h>
#include "conf.h"
#include "etsi.h"
#include <libqkd.h>	/* struct qkd_link_info, qkd_audit_buf: the store's own view */

enum sink_ev_type {
	SINK_EV_LOW_WATERMARK = 1,	/* link's initiator pool below low watermark */
	SINK_EV_KEY_WANTED,		/* a taker waits for a responder key ID */
	SINK_EV_LINK_DEL,		/* link deleted */
	SINK_EV_RESYNC,			/* events were lost: re-read every link */
};

struct sink_event {
	enum sink_ev_type type;
	char link[CONF_NAME_MAX];
	uint8_t key_id[16];
	char remote_sae[CONF_SAE_MAX];
	uint32_t key_count, low_watermark;
};

struct sink;

struct sink_ops {
	const char *name;
	/* (Re)connect: resolve the family, join the notify group. 0 or -errno. */
	int (*open)(struct sink *s);
	void (*close)(struct sink *s);
	/* fd to poll for events, or -1. */
	int (*fd)(struct sink *s);
	/* Create the link if absent: 1 created, 0 existed, -errno. */
	int (*ensure_link)(struct sink *s, const struct conf_link *l);
	/* Initiator keys buffered; -ENODEV if the link is gone. */
	int (*pool_level)(struct sink *s, const char *link, uint32_t *initiator);
	/* Inject ks->keys[off .. off+n) with role (QKD_KEY_ROLE_*), all or
	 * nothing.  0 or -errno (EEXIST: a key ID already held or already
	 * used).  On failure sink->maybe_delivered says whether the request
	 * left and its outcome is unknown (timeout, EINTR, socket error, a
	 * reply that is no ack): the keys may be in the store, so the caller
	 * must never inject them again.  0 means the store itself answered
	 * -errno (nothing taken) or nothing was sent. */
	int (*inject)(struct sink *s, const char *link, const struct etsi_keys *ks,
		      size_t off, size_t n, int role);
	/* Read pending events (non-blocking).  Returns count or -errno. */
	int (*events)(struct sink *s, struct sink_event *ev, int max);
	/* Called once per loop iteration (dry-run takers); may be NULL. */
	void (*tick)(struct sink *s);
	/* Every link of the store with its counters (info->stats), one call
	 * of fn each, from one dump: the metrics endpoint's view of the
	 * store.  Link count or -errno; -EINTR: links came or went during
	 * the dump (fn saw a mix: start again).  May be NULL. */
	int (*link_stats)(struct sink *s, qkd_link_fn fn, void *arg);
	/* The take records of the store's audit ring, oldest first, one call
	 * of fn each.  Record count or -errno.  May be NULL (no ring). */
	int (*audit)(struct sink *s, qkd_audit_fn fn, void *arg);
};

struct sink {
	const struct sink_ops *ops;
	char last_error[512];	/* extack message of the last failure */
	int maybe_delivered;	/* last inject: sent, outcome unknown */
	int needs_tick;		/* ops->tick wants a call every 50 ms */
	void *priv;
};

/* Largest number of keys one inject call may carry. */
#define SINK_INJECT_BATCH 128

extern const struct sink_ops sink_netlink_ops;
extern const struct sink_ops sink_dry_ops;

struct dry_opts {
	double consume_rate;		/* initiator keys taken per second, per link */
	const char *taken_out;		/* append IDs of taken keys here (a FIFO) */
	const char *wanted_in;		/* read wanted key IDs from here (a FIFO) */
	/* Fault injection (test mode): every fail_after_send-th inject call
	 * stores its keys and then reports a lost reply (maybe_delivered). */
	unsigned fail_after_send;
};
int sink_dry_setup(struct sink *s, const struct dry_opts *o, const struct conf *c);
int sink_netlink_setup(struct sink *s);

#endif
