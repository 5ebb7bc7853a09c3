/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The plugin's key source on the kernel module: qkd_keysrc.h on libqkd
 * (lib/libqkd.h), which owns the netlink rules (socket connected to the
 * kernel, replies only from port 0, CAP_ACK, wiped buffers, validated take
 * replies).  This file only maps between the plugin's types and the
 * library's, and keeps the plugin's own error conventions.
 *
 * Handles are kept open between calls in a small pool (any charon thread
 * takes one, a call has it to itself): a take is then one round trip, not
 * a socket, a family lookup and the take.  A handle whose last call ended
 * without the kernel's answer is closed, never reused; one that gets
 * -ENOENT is checked against a fresh family lookup, because after a
 * module reload the old family ID answers -ENOENT too (the call is then
 * made again on the reconnected handle).  No strongSwan dependency:
 * unit-tested on the host.
 */
#include "qkd_kmod.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libqkd.h>

/* the plugin's and the UAPI's sizes must agree */
_Static_assert(QKD_KEYSRC_ID_LEN == QKD_KEY_ID_LEN, "key ID length");
_Static_assert(QKD_KEYSRC_MAX_KEY_LEN == QKD_KEY_MAX_LEN, "key length");
_Static_assert(QKD_KEYSRC_ERR_LEN == QKD_NL_ERR_MAX, "error text length");

#define QKD_KMOD_TIMEOUT_MS	5000	/* on top of any WAIT_MS */

void qkd_keysrc_wipe(struct qkd_key *key)
{
	if (key)
	{
		explicit_bzero(key, sizeof(*key));
	}
}

const char *qkd_keysrc_name(void)
{
	return "kernel module (generic netlink family " QKD_FAMILY_NAME ")";
}

static void set_err(char *err, const char *fmt, const char *arg)
{
	if (err)
	{
		snprintf(err, QKD_KEYSRC_ERR_LEN, fmt, arg ? arg : "");
	}
}

/** move a library key into the plugin's type; the source is wiped */
static void key_from_buf(struct qkd_key *key, struct qkd_key_buf *kb)
{
	memcpy(key->id, kb->id, QKD_KEY_ID_LEN);
	memcpy(key->material, kb->material, kb->len);
	key->len = kb->len;
	key->role = kb->role;
	qkd_key_wipe(kb);
}

int qkd_kmod_parse_error(const struct nlmsghdr *nlh,
						 char err[QKD_KEYSRC_ERR_LEN])
{
	char msg[QKD_NL_ERR_MAX];
	int ret = qkd_nl_parse_ack(nlh, msg, NULL, NULL);

	set_err(err, "%s", msg);
	return ret;
}

int qkd_kmod_parse_take(const struct nlmsghdr *nlh, const uint8_t *want_id,
						uint8_t want_role, struct qkd_key *key)
{
	struct qkd_key_buf kb;
	int ret;

	memset(key, 0, sizeof(*key));
	ret = qkd_key_parse_take(nlh, want_id, want_role, &kb);
	if (ret == 0)
	{
		key_from_buf(key, &kb);
	}
	return ret;
}

/** idle handles; at most QKD_KMOD_POOL_MAX stay open */
#define QKD_KMOD_POOL_MAX	4

static struct {
	pthread_mutex_t lock;
	struct qkd_nl *idle[QKD_KMOD_POOL_MAX];
	int nidle;
	/** handles opened and calls served by a reused one (tests, debug) */
	unsigned long opened, reused;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int check_link(const char *link, char *err)
{
	if (!link || !link[0] || strlen(link) >= QKD_LINK_NAME_MAX)
	{
		set_err(err, "invalid link name '%s'", link);
		return -EINVAL;
	}
	return 0;
}

/**
 * Open a handle; the library's -ENOENT (no family) becomes -ENOPROTOOPT,
 * because -ENOENT means "no such key" to the plugin's callers.
 */
static struct qkd_nl *open_module(uint32_t timeout_ms, int *ret, char *err)
{
	char msg[QKD_NL_ERR_MAX];
	struct qkd_nl *nl;

	*ret = qkd_nl_open(&nl, timeout_ms, msg);
	if (*ret)
	{
		set_err(err, "%s", msg);
		if (*ret == -ENOENT)
		{
			*ret = -ENOPROTOOPT;
		}
		return NULL;
	}
	return nl;
}

/**
 * A handle for one call: an idle one (*reused set) or a new one.
 */
static struct qkd_nl *get_handle(bool *reused, int *ret, char *err)
{
	struct qkd_nl *nl = NULL;

	pthread_mutex_lock(&pool.lock);
	if (pool.nidle > 0)
	{
		nl = pool.idle[--pool.nidle];
		pool.idle[pool.nidle] = NULL;
		pool.reused++;
	}
	pthread_mutex_unlock(&pool.lock);
	*reused = nl != NULL;
	if (nl)
	{
		*ret = 0;
		return nl;
	}
	nl = open_module(QKD_KMOD_TIMEOUT_MS, ret, err);
	if (nl)
	{
		pthread_mutex_lock(&pool.lock);
		pool.opened++;
		pthread_mutex_unlock(&pool.lock);
	}
	return nl;
}

/**
 * After a call: back to the pool if the kernel answered it (nothing of
 * it can still arrive), otherwise closed.
 */
static void put_handle(struct qkd_nl *nl)
{
	if (!nl)
	{
		return;
	}
	if (!qkd_nl_outcome_unknown(nl) && qkd_nl_connected(nl))
	{
		pthread_mutex_lock(&pool.lock);
		if (pool.nidle < QKD_KMOD_POOL_MAX)
		{
			pool.idle[pool.nidle++] = nl;
			nl = NULL;
		}
		pthread_mutex_unlock(&pool.lock);
	}
	qkd_nl_free(nl);
}

/**
 * -ENOENT on a reused handle: is its family ID stale (the module was
 * reloaded, or unloaded)?  Reconnects it.  Returns 1 if the family ID
 * changed (the call is worth making again), 0 if not (the -ENOENT was the
 * module's), or what opening a handle returns now (-ENOPROTOOPT: no
 * module; err says so; the handle is closed and put_handle() frees it).
 */
static int family_changed(struct qkd_nl *nl, char *err)
{
	uint16_t before = qkd_nl_family(nl);
	int ret = qkd_nl_connect(nl, QKD_KMOD_TIMEOUT_MS);

	if (ret)
	{
		set_err(err, "%s", qkd_nl_error(nl));
		return ret == -ENOENT ? -ENOPROTOOPT : ret;
	}
	return qkd_nl_family(nl) != before;
}

/** after -ENOENT on a reused handle: 1 to make the call again, else ret */
static int stale(struct qkd_nl *nl, bool reused, int *ret, char *err)
{
	int changed;

	if (*ret != -ENOENT || !reused)
	{
		return 0;
	}
	changed = family_changed(nl, err);
	if (changed < 0)
	{
		*ret = changed;
	}
	return changed > 0;
}

/** close the idle handles (at unload) */
static void __attribute__((destructor)) pool_close(void)
{
	pthread_mutex_lock(&pool.lock);
	while (pool.nidle > 0)
	{
		qkd_nl_free(pool.idle[--pool.nidle]);
		pool.idle[pool.nidle] = NULL;
	}
	pthread_mutex_unlock(&pool.lock);
}

/** a take on an open handle (the unit tests give it a fake kernel) */
static int kmod_take(struct qkd_nl *nl, const char *link, const uint8_t *id,
					 uint32_t wait_ms, unsigned int flags,
					 struct qkd_key *key, char *err)
{
	struct qkd_key_buf kb;
	uint32_t tf = 0;
	int ret;

	if (flags & QKD_KEYSRC_QUIET)
	{
		tf |= QKD_TAKE_F_QUIET;
	}
	if (id && (flags & QKD_KEYSRC_INITIATOR))
	{	/* our own reserved key: never waits */
		tf |= QKD_TAKE_F_INITIATOR;
		wait_ms = 0;
	}
	ret = qkd_key_take_flags(nl, link, id,
							 id && !(tf & QKD_TAKE_F_INITIATOR) ?
							 (int64_t)wait_ms : -1, tf, &kb);
	if (ret)
	{	/* -EAGAIN: no reply in time; a key handed out later is lost */
		set_err(err, "%s", qkd_nl_error(nl));
		qkd_keysrc_wipe(key);
		return ret;
	}
	key_from_buf(key, &kb);
	return 0;
}

int qkd_keysrc_take(const char *link, const uint8_t *id, uint32_t wait_ms,
					unsigned int flags, struct qkd_key *key,
					char err[QKD_KEYSRC_ERR_LEN])
{
	struct qkd_nl *nl;
	bool reused;
	int ret;

	set_err(err, "%s", "");
	memset(key, 0, sizeof(*key));
	ret = check_link(link, err);
	if (ret)
	{
		return ret;
	}
	if (wait_ms > QKD_TAKE_WAIT_MAX_MS)
	{
		wait_ms = QKD_TAKE_WAIT_MAX_MS;
	}
	nl = get_handle(&reused, &ret, err);
	if (!nl)
	{
		return ret;
	}
	ret = kmod_take(nl, link, id, wait_ms, flags, key, err);
	if (stale(nl, reused, &ret, err))
	{	/* nothing was taken: the old family is gone */
		ret = kmod_take(nl, link, id, wait_ms, flags, key, err);
	}
	put_handle(nl);
	return ret;
}

int qkd_keysrc_annotate(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
						const uint32_t *spis, int nspis, const char *usage,
						char err[QKD_KEYSRC_ERR_LEN])
{
	char ubuf[QKD_USAGE_MAX];
	struct qkd_nl *nl;
	bool reused;
	int ret;

	set_err(err, "%s", "");
	ret = check_link(link, err);
	if (ret)
	{
		return ret;
	}
	nl = get_handle(&reused, &ret, err);
	if (!nl)
	{
		return ret;
	}
	if (nspis > QKD_AUDIT_SPI_MAX)
	{
		nspis = QKD_AUDIT_SPI_MAX;
	}
	if (usage && usage[0])
	{	/* the audit record keeps what fits */
		snprintf(ubuf, sizeof(ubuf), "%s", usage);
	}
	ret = qkd_audit_annotate(nl, link, id, spis, nspis < 0 ? 0 : nspis,
							 usage && usage[0] ? ubuf : NULL);
	if (stale(nl, reused, &ret, err))
	{
		ret = qkd_audit_annotate(nl, link, id, spis, nspis < 0 ? 0 : nspis,
								 usage && usage[0] ? ubuf : NULL);
	}
	if (ret)
	{
		set_err(err, "%s", qkd_nl_error(nl));
	}
	put_handle(nl);
	return ret;
}

/** what the by-ID operations without material do on an open handle */
enum id_op {
	OP_RESERVE,
	OP_RELEASE,
	OP_WANT,
};

static int id_op_on(struct qkd_nl *nl, const char *link, enum id_op op,
					uint8_t *id)
{
	switch (op)
	{
		case OP_RESERVE:
			return qkd_key_reserve(nl, link, id, NULL);
		case OP_RELEASE:
			return qkd_key_release(nl, link, id);
		case OP_WANT:
		default:
			return qkd_key_want(nl, link, id);
	}
}

static int kmod_id_op(const char *link, enum id_op op, uint8_t *id,
					  char *err)
{
	struct qkd_nl *nl;
	bool reused;
	int ret;

	set_err(err, "%s", "");
	ret = check_link(link, err);
	if (ret)
	{
		return ret;
	}
	nl = get_handle(&reused, &ret, err);
	if (!nl)
	{
		return ret;
	}
	ret = id_op_on(nl, link, op, id);
	if (stale(nl, reused, &ret, err))
	{
		ret = id_op_on(nl, link, op, id);
	}
	set_err(err, "%s", ret ? qkd_nl_error(nl) : "");
	put_handle(nl);
	return ret;
}

int qkd_keysrc_reserve(const char *link, uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN])
{
	return kmod_id_op(link, OP_RESERVE, id, err);
}

int qkd_keysrc_release(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN])
{
	uint8_t copy[QKD_KEYSRC_ID_LEN];

	memcpy(copy, id, sizeof(copy));
	return kmod_id_op(link, OP_RELEASE, copy, err);
}

int qkd_keysrc_want(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					char err[QKD_KEYSRC_ERR_LEN])
{
	uint8_t copy[QKD_KEYSRC_ID_LEN];

	memcpy(copy, id, sizeof(copy));
	return kmod_id_op(link, OP_WANT, copy, err);
}
