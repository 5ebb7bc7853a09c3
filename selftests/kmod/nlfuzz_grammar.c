// SPDX-License-Identifier: GPL-2.0
/*
 * The grammar of the "qkd" family for qkd_nlfuzz: every attribute with
 * its type and range, every operation with the attributes it takes, as
 * include/uapi/linux/qkd.h and docs/netlink/qkd.yaml give them, and the
 * refusals the handlers make on their own (missing attributes, values
 * that do not go together).  The limits are the UAPI's macros, so a
 * change of a range in the header moves the fuzzer's edges with it;
 * selftests/spec-check.py keeps header and spec equal.
 */
#include <string.h>

#include "nlfuzz.h"

#define BIT(n)	(1U << (n))

const struct fz_attr_def fz_attrs[QKD_A_MAX + 1] = {
	[QKD_A_PAD]		= { "pad", FZ_K_PAD, 0, 0 },
	[QKD_A_LINK_NAME]	= { "link-name", FZ_K_STR, 0, QKD_LINK_NAME_MAX - 1 },
	[QKD_A_LOCAL_SAE_ID]	= { "local-sae-id", FZ_K_STR, 0, QKD_SAE_ID_MAX - 1 },
	[QKD_A_REMOTE_SAE_ID]	= { "remote-sae-id", FZ_K_STR, 0, QKD_SAE_ID_MAX - 1 },
	[QKD_A_MAX_KEYS]	= { "max-keys", FZ_K_U32, 1, QKD_LINK_MAX_KEYS_LIMIT },
	[QKD_A_MAX_BYTES]	= { "max-bytes", FZ_K_U32, QKD_KEY_MAX_LEN,
				    QKD_LINK_MAX_BYTES_LIMIT },
	[QKD_A_KEY_TTL]		= { "key-ttl", FZ_K_U32, 1, QKD_LINK_TTL_MAX },
	[QKD_A_RATE]		= { "rate", FZ_K_U32, 0, QKD_LINK_RATE_MAX },
	[QKD_A_BURST]		= { "burst", FZ_K_U32, 1, QKD_LINK_BURST_MAX },
	[QKD_A_LOW_WATERMARK]	= { "low-watermark", FZ_K_U32, 0,
				    QKD_LINK_MAX_KEYS_LIMIT },
	[QKD_A_KEY]		= { "key", FZ_K_NEST, 0, 0 },
	[QKD_A_KEY_ID]		= { "key-id", FZ_K_BIN, QKD_KEY_ID_LEN, QKD_KEY_ID_LEN },
	[QKD_A_KEY_ROLE]	= { "key-role", FZ_K_U8, QKD_KEY_ROLE_INITIATOR,
				    QKD_KEY_ROLE_MAX },
	[QKD_A_WAIT_MS]		= { "wait-ms", FZ_K_U32, 0, QKD_TAKE_WAIT_MAX_MS },
	[QKD_A_STATS]		= { "stats", FZ_K_NEST, 0, 0 },
	[QKD_A_AUDIT]		= { "audit", FZ_K_NEST, 0, 0 },
	[QKD_A_SPI]		= { "spi", FZ_K_U32, 0, UINT32_MAX },
	[QKD_A_USAGE]		= { "usage", FZ_K_STR, 0, QKD_USAGE_MAX - 1 },
	[QKD_A_LINK_COUNT]	= { "link-count", FZ_K_U32, 0, UINT32_MAX },
	[QKD_A_KEY_COUNT]	= { "key-count", FZ_K_U32, 0, UINT32_MAX },
	[QKD_A_TAKE_FLAGS]	= { "take-flags", FZ_K_U32, 0, QKD_TAKE_F_ALL },
	[QKD_A_STATUS]		= { "status", FZ_K_U32, 0, UINT32_MAX },
};

/* A key nest of KEY_INJECT takes id, material and role only. */
const struct fz_attr_def fz_key_attrs[QKD_KEY_A_MAX + 1] = {
	[QKD_KEY_A_PAD]		= { "key.pad", FZ_K_PAD, 0, 0 },
	[QKD_KEY_A_ID]		= { "key.id", FZ_K_BIN, QKD_KEY_ID_LEN, QKD_KEY_ID_LEN },
	[QKD_KEY_A_MATERIAL]	= { "key.material", FZ_K_BIN, QKD_KEY_MIN_LEN,
				    QKD_KEY_MAX_LEN },
	[QKD_KEY_A_ROLE]	= { "key.role", FZ_K_U8, QKD_KEY_ROLE_INITIATOR,
				    QKD_KEY_ROLE_MAX },
	[QKD_KEY_A_INJECTED]	= { "key.injected", FZ_K_U64, 0, 0 },
	[QKD_KEY_A_EXPIRES]	= { "key.expires", FZ_K_U64, 0, 0 },
};

#define LINK_CFG (BIT(QKD_A_LINK_NAME) | BIT(QKD_A_LOCAL_SAE_ID) | \
		  BIT(QKD_A_REMOTE_SAE_ID) | BIT(QKD_A_MAX_KEYS) | \
		  BIT(QKD_A_MAX_BYTES) | BIT(QKD_A_KEY_TTL) | BIT(QKD_A_RATE) | \
		  BIT(QKD_A_BURST) | BIT(QKD_A_LOW_WATERMARK))

const struct fz_op_def fz_ops[] = {
	{ QKD_CMD_LINK_NEW, "link-new", LINK_CFG, true, false },
	{ QKD_CMD_LINK_SET, "link-set", LINK_CFG, true, false },
	{ QKD_CMD_LINK_DEL, "link-del", BIT(QKD_A_LINK_NAME), true, false },
	{ QKD_CMD_LINK_GET, "link-get", BIT(QKD_A_LINK_NAME), true, true },
	{ QKD_CMD_KEY_INJECT, "key-inject",
	  BIT(QKD_A_LINK_NAME) | BIT(QKD_A_KEY), true, false },
	{ QKD_CMD_KEY_TAKE, "key-take",
	  BIT(QKD_A_LINK_NAME) | BIT(QKD_A_KEY_ID) | BIT(QKD_A_WAIT_MS) |
	  BIT(QKD_A_TAKE_FLAGS), true, false },
	{ QKD_CMD_FLUSH, "flush", BIT(QKD_A_LINK_NAME) | BIT(QKD_A_KEY_ROLE),
	  true, false },
	{ QKD_CMD_STATS_GET, "stats-get", BIT(QKD_A_LINK_NAME), true, false },
	{ QKD_CMD_AUDIT_GET, "audit-get", BIT(QKD_A_LINK_NAME), false, true },
	{ QKD_CMD_AUDIT_ANNOTATE, "audit-annotate",
	  BIT(QKD_A_LINK_NAME) | BIT(QKD_A_KEY_ID) | BIT(QKD_A_SPI) |
	  BIT(QKD_A_USAGE), true, false },
};

const unsigned int fz_nr_ops = sizeof(fz_ops) / sizeof(fz_ops[0]);

const struct fz_op_def *fz_op(unsigned int cmd)
{
	unsigned int i;

	for (i = 0; i < fz_nr_ops; i++)
		if (fz_ops[i].cmd == cmd)
			return &fz_ops[i];
	return NULL;
}

const char *fz_op_name(unsigned int cmd)
{
	const struct fz_op_def *op = fz_op(cmd);

	return op ? op->name : "unknown-cmd";
}

const char *fz_attr_name(unsigned int type)
{
	if (type <= QKD_A_MAX && fz_attrs[type].name)
		return fz_attrs[type].name;
	return "unknown-attr";
}

/* The module's rule for link names (kmod/netlink.c). */
bool fz_link_name_ok(const char *name)
{
	const char *p;

	if (!*name)
		return false;
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-:@", *p)))
			return false;
	return true;
}

#define HAS(a) (s->mask & BIT(a))

static const char *refuse_link_cfg(unsigned int cmd, const struct fz_seen *s)
{
	uint32_t max_keys = HAS(QKD_A_MAX_KEYS) ? s->max_keys :
			    QKD_LINK_DEFAULT_MAX_KEYS;

	if ((HAS(QKD_A_LOCAL_SAE_ID) && s->local_empty) ||
	    (HAS(QKD_A_REMOTE_SAE_ID) && s->remote_empty))
		return "empty SAE ID";
	if (cmd == QKD_CMD_LINK_NEW) {
		if (!HAS(QKD_A_LOCAL_SAE_ID) || !HAS(QKD_A_REMOTE_SAE_ID))
			return "missing SAE ID";
		if (HAS(QKD_A_LOW_WATERMARK) && s->low_watermark > max_keys)
			return "low watermark over max-keys";
	} else if (HAS(QKD_A_LOW_WATERMARK) && HAS(QKD_A_MAX_KEYS) &&
		   s->low_watermark > s->max_keys) {
		return "low watermark over max-keys";
	}
	return NULL;
}

static const char *refuse_take(const struct fz_seen *s)
{
	bool id = HAS(QKD_A_KEY_ID);
	uint32_t f = HAS(QKD_A_TAKE_FLAGS) ? s->take_flags : 0;

	if (HAS(QKD_A_WAIT_MS) && (!id || (f & QKD_TAKE_F_INITIATOR)))
		return "wait-ms without a responder key ID";
	if ((f & QKD_TAKE_F_INITIATOR) && !id)
		return "INITIATOR without key ID";
	if ((f & QKD_TAKE_F_RESERVE) && id)
		return "RESERVE with key ID";
	if ((f & (QKD_TAKE_F_WANT | QKD_TAKE_F_RELEASE)) &&
	    f != QKD_TAKE_F_WANT && f != QKD_TAKE_F_RELEASE)
		return "WANT or RELEASE with another flag";
	if ((f & (QKD_TAKE_F_WANT | QKD_TAKE_F_RELEASE)) &&
	    (!id || HAS(QKD_A_WAIT_MS)))
		return "WANT or RELEASE without key ID or with wait-ms";
	return NULL;
}

static const char *refuse_inject(const struct fz_seen *s)
{
	if (!s->nr_keys)
		return "no key";
	if (s->nr_keys > QKD_INJECT_MAX_KEYS)
		return "more keys than inject-max-keys";
	if (s->key_incomplete)
		return "key without id, material or role";
	if (s->key_dup)
		return "duplicate key ID in the batch";
	return NULL;
}

static const char *refuse_annotate(const struct fz_seen *s)
{
	if (!HAS(QKD_A_KEY_ID))
		return "missing key-id";
	if (s->nr_spi > QKD_AUDIT_SPI_MAX)
		return "more SPIs than audit-spi-max";
	if (!s->nr_spi && !HAS(QKD_A_USAGE))
		return "nothing to annotate";
	return NULL;
}

/*
 * Refusals that hold whatever the state: every name-taking do of an
 * existing link needs a valid name (no link can have another), and the
 * per-op rules of kmod/netlink.c.
 */
const char *fz_must_refuse(unsigned int cmd, bool dump,
			   const struct fz_seen *s)
{
	const struct fz_op_def *op = fz_op(cmd);
	bool named = HAS(QKD_A_LINK_NAME);

	if (!op)
		return "unknown command";
	if (dump)
		return op->dumpit ? NULL : "dump of an op without dumpit";
	if (!op->doit)
		return "do of a dump-only op";
	if (cmd == QKD_CMD_FLUSH || cmd == QKD_CMD_STATS_GET) {
		if (named && !fz_link_name_ok(s->name))
			return "no link can have that name";
		return NULL;
	}
	if (!named)
		return "missing link-name";
	if (!fz_link_name_ok(s->name))
		return "no link can have that name";
	switch (cmd) {
	case QKD_CMD_LINK_NEW:
	case QKD_CMD_LINK_SET:
		return refuse_link_cfg(cmd, s);
	case QKD_CMD_KEY_INJECT:
		return refuse_inject(s);
	case QKD_CMD_KEY_TAKE:
		return refuse_take(s);
	case QKD_CMD_AUDIT_ANNOTATE:
		return refuse_annotate(s);
	}
	return NULL;
}
