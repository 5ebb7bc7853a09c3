/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The plugin's key source on the kernel module: qkd_keysrc.h on libqkd
 * (lib/libqkd.h), which owns the netlink rules (socket connected to the
 * kernel, replies only from port 0, CAP_ACK, wiped buffers, validated take
 * replies).  This file only maps between the plugin's types and the
 * library's, and keeps the plugin's own error conventions.
 *
 * Every call opens its own handle and resolves the family (so a reloaded
 * module is picked up, and any charon thread may call).  No strongSwan
 * dependency: unit-tested on the host.
 */
#include "qkd_kmod.h"

#include <errno.h>
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
	nl = open_module(QKD_KMOD_TIMEOUT_MS, &ret, err);
	if (!nl)
	{
		return ret;
	}
	ret = kmod_take(nl, link, id, wait_ms, flags, key, err);
	qkd_nl_free(nl);
	return ret;
}

int qkd_keysrc_annotate(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
						const uint32_t *spis, int nspis, const char *usage,
						char err[QKD_KEYSRC_ERR_LEN])
{
	char ubuf[QKD_USAGE_MAX];
	struct qkd_nl *nl;
	int ret;

	set_err(err, "%s", "");
	ret = check_link(link, err);
	if (ret)
	{
		return ret;
	}
	nl = open_module(QKD_KMOD_TIMEOUT_MS, &ret, err);
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
	if (ret)
	{
		set_err(err, "%s", qkd_nl_error(nl));
	}
	qkd_nl_free(nl);
	return ret;
}

/** what the by-ID operations without material do on an open handle */
enum id_op {
	OP_RESERVE,
	OP_RELEASE,
	OP_WANT,
};

static int kmod_id_op(const char *link, enum id_op op, uint8_t *id,
					  char *err)
{
	struct qkd_nl *nl;
	int ret;

	set_err(err, "%s", "");
	ret = check_link(link, err);
	if (ret)
	{
		return ret;
	}
	nl = open_module(QKD_KMOD_TIMEOUT_MS, &ret, err);
	if (!nl)
	{
		return ret;
	}
	switch (op)
	{
		case OP_RESERVE:
			ret = qkd_key_reserve(nl, link, id, NULL);
			break;
		case OP_RELEASE:
			ret = qkd_key_release(nl, link, id);
			break;
		case OP_WANT:
		default:
			ret = qkd_key_want(nl, link, id);
			break;
	}
	set_err(err, "%s", ret ? qkd_nl_error(nl) : "");
	qkd_nl_free(nl);
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
