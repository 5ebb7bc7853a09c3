// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Keys fetched from the KME wait here ("held", per role) until the key
 * store takes them.  The policy: a key goes to the store at most once
 * after the store may have taken it; a key whose fate is unknown is wiped,
 * never retried.  A ring of the IDs injected lately refuses a KME that
 * repeats an ID.
 */
#include <errno.h>
#include <string.h>
#include "agent.h"
#include "clock.h"
#include "log.h"
#include <libqkd.h>	/* qkd_role_name() */
#include "secmem.h"
#include "uuid.h"

/* The module's inject is all or nothing per message: one inject call of
 * the agent must fit in one. */
_Static_assert(SINK_INJECT_BATCH <= QKD_INJECT_MAX_KEYS,
	       "an inject batch exceeds the module's keys per message");

int recently_injected(struct link *l, const uint8_t id[16])
{
	unsigned i;

	for (i = 0; i < l->recent_n; i++)
		if (!memcmp(l->recent[i], id, 16))
			return 1;
	return 0;
}

static void remember(struct link *l, const uint8_t id[16])
{
	memcpy(l->recent[l->recent_head], id, 16);
	l->recent_head = (l->recent_head + 1) % RECENT_MAX;
	if (l->recent_n < RECENT_MAX)
		l->recent_n++;
}

void hold(struct link *l, struct etsi_keys *ks, int role)
{
	l->held[role] = *ks;	/* take ownership; the slot is empty here */
	ks->keys = NULL;
	ks->n = 0;
	l->held_off[role] = 0;
	l->held_since[role] = mono_now();
	l->held_next[role] = 0;
	l->held_failures[role] = 0;
}

int holding(const struct link *l)
{
	return l->held[QKD_KEY_ROLE_INITIATOR].n || l->held[QKD_KEY_ROLE_RESPONDER].n;
}

void drop_held(struct link *l, int role, enum lost_reason r, const char *why)
{
	size_t left = l->held[role].n - l->held_off[role];

	if (!l->held[role].n)
		return;
	if (left)
		log_warn("link %s: wiping %zu fetched %s keys: %s", l->cfg->name, left,
			 qkd_role_name(role), why);
	lost_keys(l, r, left);
	etsi_keys_free(&l->held[role]);
	l->held_off[role] = 0;
}

/* The store refused a key as held or already used (EEXIST): never retry
 * it, never accept its ID again. */
static void dup_known(struct agent *a, struct link *l, const uint8_t id[16])
{
	char u[UUID_STR_LEN + 1];

	if (!recently_injected(l, id))
		remember(l, id);
	l->dup_skipped++;
	uuid_format(id, u);
	log_context_key(u);
	log_debug("link %s: key %s skipped: %s", l->cfg->name, u,
		  a->sink.last_error[0] ? a->sink.last_error : "already known to the key store");
	log_context_key(NULL);
}

/*
 * Keys [from, from+n) of l->held[role] went to the key store but no ack
 * settled the request (timeout, EINTR, socket error, unknown reply): the
 * store may hold them, and may even have handed them out already.  The
 * store only refuses IDs it still knows, so injecting them again could
 * give a one-time key out twice.  Wipe them, remember their IDs (never
 * accept them again) and count them as dropped.
 */
static void drop_maybe_delivered(struct agent *a, struct link *l, int role, size_t from,
				 size_t n, int r)
{
	struct etsi_keys *h = &l->held[role];
	size_t i;

	for (i = from; i < from + n; i++) {
		remember(l, h->keys[i].id);
		sec_wipe(h->keys[i].key, sizeof(h->keys[i].key));
	}
	lost_keys(l, LOST_MAYBE_DELIVERED, n);
	l->maybe_delivered += n;
	log_warn("link %s: inject of %zu %s keys: %s%s%s after sending; the key store may "
		 "have them: wiped, never injected again", l->cfg->name, n, qkd_role_name(role),
		 strerror(-r), a->sink.last_error[0] ? ": " : "", a->sink.last_error);
}

/* The store took keys [from, from+n) of l->held[role]. */
static void taken(struct link *l, int role, size_t from, size_t n)
{
	size_t i;

	for (i = from; i < from + n; i++)
		remember(l, l->held[role].keys[i].id);
	l->injected[role] += n;
	if (role == QKD_KEY_ROLE_INITIATOR)
		master_keys_added(l, (uint32_t)n);
}

/*
 * The batch of n keys at *off was refused with EEXIST: isolate the
 * duplicate(s) with one key per message.  Moves *off past the keys
 * settled (taken, known, or dropped as maybe delivered).  Returns -EEXIST
 * if the whole batch is settled, else the error that stopped it.
 */
static int inject_one_by_one(struct agent *a, struct link *l, int role, size_t *off, size_t n)
{
	struct etsi_keys *h = &l->held[role];
	int r = -EEXIST;
	size_t i;

	for (i = *off; i < *off + n; i++) {
		int r1 = a->sink.ops->inject(&a->sink, l->cfg->name, h, i, 1, role);

		if (r1 == 0) {
			taken(l, role, i, 1);
		} else if (a->sink.maybe_delivered) {
			drop_maybe_delivered(a, l, role, i, 1, r1);
			r = r1;
			i++;
			break;
		} else if (r1 == -EEXIST) {
			dup_known(a, l, h->keys[i].id);
		} else {
			r = r1;
			break;
		}
	}
	*off = i;
	return r;
}

/* An inject failed with r and the rest of l->held[role] is not settled:
 * reconnect, keep the keys for a retry, or drop them, by what r says. */
static void inject_failed(struct agent *a, struct link *l, int role, int r)
{
	struct etsi_keys *h = &l->held[role];

	l->inject_errors++;
	l->held_next[role] = mono_now() + 1.0;
	if (a->sink.maybe_delivered) {
		/* the kernel side may be stuck: reconnect, keep the rest */
		sink_lost(a, "inject outcome unknown");
		return;
	}
	/* retry in a second; say so once per batch (and every 30 tries) */
	if (l->held_failures[role]++ % 30 == 0)
		log_warn("link %s: inject of %s keys failed: %s%s%s; %zu held for a retry",
			 l->cfg->name, qkd_role_name(role), strerror(-r),
			 a->sink.last_error[0] ? ": " : "", a->sink.last_error,
			 h->n - l->held_off[role]);
	if (r == -ENODEV) {
		/* Link gone, perhaps the module was reloaded: reconnect
		 * (rejoins the notify group), recreate, then retry. */
		sink_lost(a, "link vanished");
	} else if (r == -ENOENT || r == -ECONNREFUSED || r == -EPROTO || r == -ETIMEDOUT) {
		/* nothing was sent (socket gone): reconnect, retry */
		sink_lost(a, "inject failed");
	} else if (r == -ENOSPC || r == -EDQUOT || r == -EBUSY || r == -ENOMEM || r == -ENOBUFS ||
		   r == -EINTR || r == -EAGAIN) {
		/* the store said so, or the send failed (nothing sent):
		 * keep them; retry after the next poll */
		l->level_valid = 0;
	} else {
		drop_held(l, role, LOST_REFUSED, "refused by the key store");
	}
}

/*
 * Inject l->held[role] from held_off on.  Keys accepted or already known
 * to the store (EEXIST: held, or already used) are done; on a failure the
 * store itself reported and that may heal (link or module gone, store
 * full) the rest stays held for a retry.
 *
 * The guarantee: a key is handed to the store at most once after the
 * store may have taken it.  The module's inject is all or nothing, so a
 * definite error (an ack with -errno) means none of the batch was taken
 * and the batch may be retried; EEXIST makes us retry key by key and drop
 * the known ones.  A failure after sending without such an ack ("maybe
 * delivered": timeout, EINTR, socket error, unknown reply) drops the
 * batch for good (drop_maybe_delivered), so such keys can be lost but are
 * never injected twice.
 */
void inject_held(struct agent *a, struct link *l, int role)
{
	struct etsi_keys *h = &l->held[role];
	size_t *off = &l->held_off[role];

	while (*off < h->n) {
		size_t n = h->n - *off;
		int r;

		if (n > SINK_INJECT_BATCH)
			n = SINK_INJECT_BATCH;
		r = a->sink.ops->inject(&a->sink, l->cfg->name, h, *off, n, role);
		if (r == 0) {
			taken(l, role, *off, n);
			*off += n;
			continue;
		}
		if (a->sink.maybe_delivered) {
			drop_maybe_delivered(a, l, role, *off, n, r);
			*off += n;
		} else if (r == -EEXIST && n > 1) {
			r = inject_one_by_one(a, l, role, off, n);
			if (r == -EEXIST)
				continue;
		} else if (r == -EEXIST) {
			dup_known(a, l, h->keys[*off].id);
			*off += 1;
			continue;
		}
		inject_failed(a, l, role, r);
		return;
	}
	etsi_keys_free(h);
	*off = 0;
}

/* drop_keys_if()'s predicate, and the log line for each key it drops. */
struct drop_if {
	struct link *l;
	int (*pred)(struct link *, const struct etsi_key *, const void *);
	const void *arg;
	const char *why;
};

static int drop_if(const struct etsi_key *k, size_t i, void *arg)
{
	struct drop_if *d = arg;
	char u[UUID_STR_LEN + 1];

	(void)i;
	if (!d->pred(d->l, k, d->arg))
		return 0;
	uuid_format(k->id, u);
	log_context_key(u);
	log_warn("link %s: key %s (%zu bytes) %s: dropped", d->l->cfg->name, u, k->len, d->why);
	log_context_key(NULL);
	return 1;
}

size_t drop_keys_if(struct link *l, struct etsi_keys *ks,
		    int (*pred)(struct link *, const struct etsi_key *, const void *),
		    const void *arg, enum lost_reason r, const char *why)
{
	struct drop_if d = { l, pred, arg, why };
	size_t bad = etsi_keys_remove_if(ks, drop_if, &d);

	lost_keys(l, r, bad);
	return bad;
}

static int is_recent(struct link *l, const struct etsi_key *k, const void *arg)
{
	(void)arg;
	return recently_injected(l, k->id);
}

/* A KME that hands out an ID we injected lately is broken or replaying:
 * never take such a key (the module forgets IDs it no longer holds). */
void drop_recent(struct link *l, struct etsi_keys *ks, const char *what)
{
	size_t bad = drop_keys_if(l, ks, is_recent, NULL, LOST_REPEATED_ID,
				  "was injected lately; the KME repeats a key ID");

	if (bad)
		log_err("link %s: %s reply repeated %zu key ID(s) injected lately", l->cfg->name,
			what, bad);
	l->dup_skipped += bad;
}
