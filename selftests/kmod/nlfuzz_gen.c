// SPDX-License-Identifier: GPL-2.0
/*
 * One fuzz message from (seed, thread, index): a class (valid, edge,
 * mutated, header, flags, ...), an operation, attributes built from the
 * grammar, and what the spec says of it: fz_msg.why is set when the
 * message must be refused, with the attribute to blame.
 *
 * Each message draws from a PRNG of its own (fz_seed), never from state
 * left by earlier messages, so `qkd_nlfuzz --seed S --replay T:I`
 * rebuilds exactly message I of thread T.  Key material is PRNG bytes:
 * nothing here ever prints it.
 */
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>

#include "nlfuzz.h"

#define HDRS	(NLMSG_HDRLEN + GENL_HDRLEN)

const char *const fz_class_names[FZ_NR_CLASSES] = {
	"valid", "edge-ok", "edge-bad", "forbidden", "unknown-attr",
	"wrong-type", "truncated", "batch", "duplicate", "random", "header",
	"flags", "dump-abort", "unknown-cmd", "fill",
};

struct fz_b {
	struct fz_msg *m;
	struct fz_rng *r;
	struct fz_seen seen;
	uint16_t flags;
	enum fz_mode mode;
};

/* Append an attribute; NULL (and nothing written) if it does not fit. */
static struct nlattr *put(struct fz_b *b, uint16_t type, const void *data,
			  size_t len)
{
	struct fz_msg *m = b->m;
	struct nlattr *a = (struct nlattr *)(m->buf + m->len);
	size_t total = NLA_ALIGN(NLA_HDRLEN + len);

	if (m->len + total > FZ_MSG_MAX || NLA_HDRLEN + len > 0xffff)
		return NULL;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((uint8_t *)a + NLA_HDRLEN, data, len);
	memset((uint8_t *)a + NLA_HDRLEN + len, 0, total - NLA_HDRLEN - len);
	m->len += total;
	return a;
}

static void put_u32(struct fz_b *b, uint16_t type, uint32_t v)
{
	put(b, type, &v, sizeof(v));
}

static void rand_bytes(struct fz_rng *r, uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)fz_next(r);
}

static struct nlattr *nest_start(struct fz_b *b, uint16_t type)
{
	return put(b, type | NLA_F_NESTED, NULL, 0);
}

static void nest_end(struct fz_b *b, struct nlattr *a)
{
	if (a)
		a->nla_len = (uint16_t)(b->m->buf + b->m->len - (uint8_t *)a);
}

/* ---- values ----------------------------------------------------------- */

static void pool_id(uint8_t *id, uint32_t k)
{
	memset(id, 0, QKD_KEY_ID_LEN);
	id[0] = 0x51;
	id[1] = 0x4b;
	id[14] = (uint8_t)(k >> 8);
	id[15] = (uint8_t)k;
}

/* A link name: mostly from the pool, sometimes one no link can have. */
static void pick_name(struct fz_b *b, char *out, bool edge)
{
	struct fz_rng *r = b->r;
	unsigned int p = fz_below(r, 100), n, i;

	if (edge || p < 4) {
		n = edge && fz_chance(r, 50) ? QKD_LINK_NAME_MAX - 1 :
		    1 + fz_below(r, QKD_LINK_NAME_MAX - 1);
		for (i = 0; i < n; i++)
			out[i] = "abz09.-_:@"[fz_below(r, 10)];
		out[n] = '\0';
	} else if (p < 9) {
		snprintf(out, QKD_LINK_NAME_MAX, "%s",
			 (const char *[]){ "a b", "x/y", "f\t1", "\xc3\xa4", "a;b" }
			 [fz_below(r, 5)]);
	} else if (p < 12) {
		out[0] = '\0';
	} else {
		snprintf(out, QKD_LINK_NAME_MAX, "f%u", fz_below(r, FZ_NAMES));
	}
}

static uint32_t pick_u32(struct fz_rng *r, const struct fz_attr_def *d,
			 bool edge)
{
	uint64_t span = (uint64_t)d->max - d->min + 1;

	if (edge) {
		switch (fz_below(r, 4)) {
		case 0: return d->min;
		case 1: return d->max;
		case 2: return d->min + (d->min < d->max);
		default: return d->max - (d->min < d->max);
		}
	}
	/* small values are the interesting ones for most limits */
	if (fz_chance(r, 60) && span > 64)
		return d->min + fz_below(r, 64);
	return (uint32_t)(d->min + fz_next(r) % span);
}

static void put_str_valid(struct fz_b *b, uint16_t type, bool edge)
{
	const struct fz_attr_def *d = &fz_attrs[type];
	char s[QKD_USAGE_MAX + 8];
	size_t n, i;

	if (type == QKD_A_LINK_NAME) {
		pick_name(b, s, edge);
		snprintf(b->seen.name, sizeof(b->seen.name), "%s", s);
		put(b, type, s, strlen(s) + 1);
		return;
	}
	n = edge ? (fz_chance(b->r, 80) ? d->max : 0) :
	    (fz_chance(b->r, 3) ? 0 : 1 + fz_below(b->r, d->max));
	for (i = 0; i < n; i++)
		s[i] = (char)(0x21 + fz_below(b->r, 0x5e));
	s[n] = '\0';
	if (type == QKD_A_LOCAL_SAE_ID)
		b->seen.local_empty = !n;
	if (type == QKD_A_REMOTE_SAE_ID)
		b->seen.remote_empty = !n;
	/* a NUL inside with bytes after it is valid: the string ends there */
	if (edge && n && n < d->max && fz_chance(b->r, 30)) {
		s[n + 1] = 'x';
		put(b, type, s, n + 2);
		return;
	}
	put(b, type, s, n + 1);
}

/* One valid key nest; k < FZ_IDS names a pool ID, else a fresh one. */
static void put_key(struct fz_b *b, uint16_t type, uint32_t k, bool edge)
{
	uint8_t id[QKD_KEY_ID_LEN], mat[QKD_KEY_MAX_LEN];
	uint8_t role = 1 + fz_below(b->r, 2);
	size_t len = edge ? (fz_chance(b->r, 50) ? QKD_KEY_MIN_LEN :
			     QKD_KEY_MAX_LEN) :
		     QKD_KEY_MIN_LEN + fz_below(b->r, QKD_KEY_MAX_LEN -
						    QKD_KEY_MIN_LEN + 1);
	struct nlattr *n;

	if (k < FZ_IDS)
		pool_id(id, k);
	else
		rand_bytes(b->r, id, sizeof(id));
	rand_bytes(b->r, mat, len);
	n = nest_start(b, type);
	put(b, QKD_KEY_A_ID, id, sizeof(id));
	put(b, QKD_KEY_A_MATERIAL, mat, len);
	put(b, QKD_KEY_A_ROLE, &role, 1);
	nest_end(b, n);
	memset(mat, 0, sizeof(mat));
	b->seen.nr_keys++;
}

/* A valid value of attribute type, recorded in b->seen. */
static void put_valid(struct fz_b *b, uint16_t type, bool edge)
{
	const struct fz_attr_def *d = &fz_attrs[type];
	uint8_t id[QKD_KEY_ID_LEN], u8v;
	uint32_t v;

	b->seen.mask |= 1U << type;
	switch (d->kind) {
	case FZ_K_STR:
		put_str_valid(b, type, edge);
		break;
	case FZ_K_U8:
		u8v = (uint8_t)pick_u32(b->r, d, edge);
		put(b, type, &u8v, 1);
		break;
	case FZ_K_U32:
		v = pick_u32(b->r, d, edge);
		if (type == QKD_A_MAX_KEYS)
			b->seen.max_keys = v;
		if (type == QKD_A_LOW_WATERMARK)
			b->seen.low_watermark = v;
		if (type == QKD_A_TAKE_FLAGS)
			b->seen.take_flags = v;
		if (type == QKD_A_SPI)
			b->seen.nr_spi++;
		put_u32(b, type, v);
		break;
	case FZ_K_BIN:
		if (fz_chance(b->r, 70))
			pool_id(id, fz_below(b->r, FZ_IDS));
		else
			rand_bytes(b->r, id, sizeof(id));
		put(b, type, id, sizeof(id));
		break;
	case FZ_K_NEST:
		put_key(b, type, fz_chance(b->r, 50) ?
			fz_below(b->r, FZ_IDS) : FZ_IDS, edge);
		break;
	default:
		break;
	}
}

/* ---- classes ---------------------------------------------------------- */

/* The attributes an op takes, each valid; required ones mostly there. */
static void gen_valid(struct fz_b *b, const struct fz_op_def *op, bool edge)
{
	unsigned int t, n, k0, i;

	for (t = 1; t <= QKD_A_MAX; t++) {
		if (!op || !(op->takes & (1U << t)))
			continue;
		if (t == QKD_A_KEY) {
			n = 1 + fz_below(b->r, 8);
			k0 = fz_below(b->r, FZ_IDS);
			b->seen.mask |= 1U << t;
			for (i = 0; i < n; i++)
				put_key(b, t, fz_chance(b->r, 50) ?
					(k0 + i) % FZ_IDS : FZ_IDS, edge);
			continue;
		}
		if (t == QKD_A_SPI) {
			n = fz_below(b->r, 6);
			while (n--)
				put_valid(b, t, edge);
			continue;
		}
		if (fz_chance(b->r, t <= QKD_A_REMOTE_SAE_ID ? 95 : 40))
			put_valid(b, t, edge);
	}
}

/* Take one of the op's attributes at random (or link-name). */
static uint16_t pick_taken(struct fz_b *b, const struct fz_op_def *op)
{
	uint16_t cand[QKD_A_MAX + 1];
	unsigned int t, n = 0;

	for (t = 1; t <= QKD_A_MAX; t++)
		if (op && (op->takes & (1U << t)))
			cand[n++] = (uint16_t)t;
	return n ? cand[fz_below(b->r, n)] : QKD_A_LINK_NAME;
}

/* One value just outside what the policy allows. */
static void gen_edge_bad(struct fz_b *b, const struct fz_op_def *op)
{
	uint16_t t = pick_taken(b, op);
	const struct fz_attr_def *d = &fz_attrs[t];
	uint8_t buf[QKD_USAGE_MAX + 8];
	uint32_t v;
	size_t n;

	gen_valid(b, op, false);
	b->m->why_attr = t;
	memset(buf, 'e', sizeof(buf));
	switch (d->kind) {
	case FZ_K_STR:
		n = fz_below(b->r, 3);
		if (n == 0) {		/* one byte too long */
			buf[d->max + 1] = '\0';
			put(b, t, buf, d->max + 2);
		} else if (n == 1) {	/* no NUL at all */
			put(b, t, buf, 1 + fz_below(b->r, d->max + 1));
		} else {		/* empty payload */
			put(b, t, NULL, 0);
		}
		b->m->why = "string length out of range";
		return;
	case FZ_K_U8:
		buf[0] = fz_chance(b->r, 50) ? 0 : d->max + 1 +
			 fz_below(b->r, 255 - d->max);
		put(b, t, buf, 1);
		b->m->why = "u8 out of range";
		return;
	case FZ_K_U32:
		if (d->min == 0 && d->max == UINT32_MAX) {
			put(b, t, buf, fz_chance(b->r, 50) ? 2 : 8);
			b->m->why = "u32 of the wrong length";
			return;
		}
		v = (d->min && fz_chance(b->r, 50)) ? d->min - 1 : d->max + 1 +
		    (fz_chance(b->r, 50) ? 0 : fz_below(b->r, 1000));
		if (v <= d->max && v >= d->min)
			v = d->max + 1;
		put_u32(b, t, v);
		b->m->why = "u32 out of range";
		return;
	case FZ_K_BIN:
		put(b, t, buf, fz_chance(b->r, 50) ? d->min - 1 : d->max + 1);
		b->m->why = "binary length not exactly key-id-len";
		return;
	default: {
		struct nlattr *nest = nest_start(b, t);

		rand_bytes(b->r, buf, QKD_KEY_MAX_LEN + 1);
		put(b, QKD_KEY_A_ID, buf, QKD_KEY_ID_LEN);
		put(b, QKD_KEY_A_MATERIAL, buf, fz_chance(b->r, 50) ?
		    QKD_KEY_MIN_LEN - 1 : QKD_KEY_MAX_LEN + 1);
		buf[0] = 1;
		put(b, QKD_KEY_A_ROLE, buf, 1);
		nest_end(b, nest);
		memset(buf, 0, sizeof(buf));
		b->m->why = "key material length out of range";
	}
	}
}

/* An attribute the op does not take, key material included. */
static void gen_forbidden(struct fz_b *b, const struct fz_op_def *op)
{
	uint16_t cand[QKD_A_MAX + 1], t;
	unsigned int n = 0, i;
	uint8_t zero[QKD_KEY_ID_LEN] = { 0 };

	gen_valid(b, op, false);
	for (i = 1; i <= QKD_A_MAX; i++)
		if (!(op->takes & (1U << i)))
			cand[n++] = (uint16_t)i;
	t = cand[fz_below(b->r, n)];
	b->m->why = "attribute the op does not take";
	b->m->why_attr = t;
	switch (fz_attrs[t].kind) {
	case FZ_K_STR:
		put(b, t, "x", 2);
		break;
	case FZ_K_U8:
		put(b, t, zero, 1);
		break;
	case FZ_K_BIN:
		put(b, t, zero, QKD_KEY_ID_LEN);
		break;
	case FZ_K_NEST:
		if (t == QKD_A_KEY) {
			put_key(b, t, FZ_IDS, false);	/* material to a non-inject */
			break;
		}
		nest_end(b, nest_start(b, t));
		break;
	case FZ_K_PAD:
		put(b, t, zero, fz_below(b->r, 2) * 4);
		break;
	default:
		put(b, t, zero, 4);
	}
}

static void gen_unknown_attr(struct fz_b *b, const struct fz_op_def *op)
{
	uint16_t t = fz_chance(b->r, 30) ? 0 :
		     QKD_A_MAX + 1 + fz_below(b->r, NLA_TYPE_MASK - QKD_A_MAX);
	uint8_t v[8] = { 1 };

	gen_valid(b, op, false);
	put(b, t, v, fz_below(b->r, 9));
	b->m->why = "attribute type unknown to the family";
	b->m->why_attr = t;
}

/* The right attribute in the wrong shape. */
static void gen_wrong_type(struct fz_b *b, const struct fz_op_def *op)
{
	static const uint8_t u32_lens[] = { 0, 1, 2, 3, 5, 8 };
	uint16_t t = pick_taken(b, op);
	const struct fz_attr_def *d = &fz_attrs[t];
	uint8_t buf[QKD_USAGE_MAX + 8];
	size_t n, i;

	gen_valid(b, op, false);
	b->m->why_attr = t;
	rand_bytes(b->r, buf, sizeof(buf));
	switch (d->kind) {
	case FZ_K_U32:
		put(b, t, buf, u32_lens[fz_below(b->r, sizeof(u32_lens))]);
		b->m->why = "u32 of the wrong length";
		break;
	case FZ_K_U8:
		put(b, t, buf, fz_chance(b->r, 50) ? 4 : 0);
		b->m->why = "u8 of the wrong length";
		break;
	case FZ_K_STR:
		n = 1 + fz_below(b->r, d->max + 1);
		for (i = 0; i < n; i++)
			buf[i] |= 1;	/* no NUL anywhere */
		put(b, t, buf, n);
		b->m->why = "string without NUL";
		break;
	case FZ_K_NEST: {
		/* a key nest without NLA_F_NESTED */
		struct nlattr *a = nest_start(b, t);

		nest_end(b, a);
		if (a)
			a->nla_type = t;
		b->m->why = "nest without NLA_F_NESTED";
		break;
	}
	default:
		put(b, t | NLA_F_NESTED, buf, QKD_KEY_ID_LEN);
		b->m->why = "NLA_F_NESTED on a binary attribute";
	}
}

static void gen_truncated(struct fz_b *b, const struct fz_op_def *op)
{
	struct nlattr *a;
	size_t room;

	gen_valid(b, op, false);
	a = put(b, QKD_A_LINK_NAME, "f0", 3);
	if (!a)
		return;
	room = b->m->buf + b->m->len - (uint8_t *)a;
	a->nla_len = fz_chance(b->r, 70) ?
		     (uint16_t)(room + 1 + fz_below(b->r, 600)) :
		     (uint16_t)fz_below(b->r, NLA_HDRLEN);
	b->m->why = "attribute overruns the message";
	b->m->why_attr = QKD_A_LINK_NAME;
}

/* The batch sizes that matter: none, one, the limit and just over it. */
static unsigned int batch_size(struct fz_rng *r)
{
	static const unsigned int sizes[] = {
		0, 1, 2, QKD_INJECT_MAX_KEYS - 1, QKD_INJECT_MAX_KEYS,
		QKD_INJECT_MAX_KEYS + 1, QKD_INJECT_MAX_KEYS + 44,
	};

	if (fz_chance(r, 40))
		return 1 + fz_below(r, 64);
	return sizes[fz_below(r, sizeof(sizes) / sizeof(sizes[0]))];
}

/* One bad key in a batch: each of these is refused by the policy. */
static void put_bad_key(struct fz_b *b)
{
	static const char *const whys[] = {
		"key.pad in a key", "key.injected in a key",
		"key.expires in a key", "unknown attribute in a key",
		"key.role out of range", "key.id of the wrong length",
	};
	uint8_t id[QKD_KEY_ID_LEN + 1], mat[QKD_KEY_MIN_LEN], role = 1;
	unsigned int which = fz_below(b->r, 6);
	uint64_t ts = 1;
	struct nlattr *n;

	rand_bytes(b->r, id, sizeof(id));
	rand_bytes(b->r, mat, sizeof(mat));
	n = nest_start(b, QKD_A_KEY);
	put(b, QKD_KEY_A_ID, id, which == 5 ? QKD_KEY_ID_LEN + 1 :
	    QKD_KEY_ID_LEN);
	put(b, QKD_KEY_A_MATERIAL, mat, sizeof(mat));
	if (which == 4)
		role = fz_chance(b->r, 50) ? 0 : 3;
	put(b, QKD_KEY_A_ROLE, &role, 1);
	if (which == 0)
		put(b, QKD_KEY_A_PAD, NULL, 0);
	else if (which == 1)
		put(b, QKD_KEY_A_INJECTED, &ts, sizeof(ts));
	else if (which == 2)
		put(b, QKD_KEY_A_EXPIRES, &ts, sizeof(ts));
	else if (which == 3)
		put(b, fz_chance(b->r, 30) ? 0 : QKD_KEY_A_MAX + 1, &ts, 4);
	nest_end(b, n);
	memset(mat, 0, sizeof(mat));
	b->m->why = whys[which];
	b->m->why_attr = QKD_A_KEY;
}

/* A key nest missing one of id, material, role (the handler refuses). */
static void put_incomplete_key(struct fz_b *b)
{
	uint8_t id[QKD_KEY_ID_LEN], mat[QKD_KEY_MAX_LEN], role = 2;
	unsigned int skip = fz_below(b->r, 3);
	struct nlattr *n;

	rand_bytes(b->r, id, sizeof(id));
	rand_bytes(b->r, mat, sizeof(mat));
	n = nest_start(b, QKD_A_KEY);
	if (skip != 0)
		put(b, QKD_KEY_A_ID, id, sizeof(id));
	if (skip != 1)
		put(b, QKD_KEY_A_MATERIAL, mat, sizeof(mat));
	if (skip != 2)
		put(b, QKD_KEY_A_ROLE, &role, 1);
	nest_end(b, n);
	memset(mat, 0, sizeof(mat));
	b->seen.nr_keys++;
	b->seen.key_incomplete = true;
}

static void gen_batch(struct fz_b *b)
{
	unsigned int n = batch_size(b->r), i, bad = 0, k0;
	unsigned int mutate = n ? fz_below(b->r, 8) : 0;
	uint32_t dup = FZ_IDS;

	b->m->cmd = QKD_CMD_KEY_INJECT;
	put_valid(b, QKD_A_LINK_NAME, false);
	b->seen.mask |= 1U << QKD_A_KEY;
	k0 = fz_below(b->r, FZ_IDS);
	if (mutate >= 1 && mutate <= 3)
		bad = fz_below(b->r, n);
	for (i = 0; i < n; i++) {
		if (mutate == 1 && i == bad) {
			put_bad_key(b);
		} else if (mutate == 2 && i == bad) {
			put_incomplete_key(b);
		} else if (mutate == 3 && i == bad && i > 0) {
			/* the ID of the key before: a duplicate in the batch */
			put_key(b, QKD_A_KEY, dup, false);
			b->seen.key_dup = true;
		} else {
			dup = fz_chance(b->r, 30) ? (k0 + i) % FZ_IDS : FZ_IDS;
			if (dup == FZ_IDS && mutate == 3 && i + 1 == bad)
				dup = (k0 + i) % FZ_IDS;
			put_key(b, QKD_A_KEY, dup, false);
		}
	}
}

static void gen_duplicate(struct fz_b *b, const struct fz_op_def *op)
{
	uint16_t t = pick_taken(b, op);

	gen_valid(b, op, false);
	/* nla_parse() keeps the last: the handler rules see that one */
	put_valid(b, t, fz_chance(b->r, 30));
}

static void gen_random(struct fz_b *b)
{
	size_t n = fz_below(b->r, 512), i;
	uint16_t len;

	if (fz_chance(b->r, 50)) {
		rand_bytes(b->r, b->m->buf + b->m->len, n);
		b->m->len += n;
		return;
	}
	/* well-formed attribute headers around random payloads */
	for (i = fz_below(b->r, 8); i > 0; i--) {
		uint8_t pl[64];

		len = (uint16_t)fz_below(b->r, sizeof(pl));
		rand_bytes(b->r, pl, len);
		put(b, (uint16_t)fz_below(b->r, QKD_A_MAX + 4) |
		    (fz_chance(b->r, 10) ? NLA_F_NESTED : 0), pl, len);
	}
}

/*
 * Lengths the core must handle: under a header (dropped without an ack),
 * a genl header cut short (EINVAL), beyond the datagram (dropped), cut
 * inside the attributes (the rest is parsed as messages of its own);
 * and genl versions and reserved bytes, which genetlink ignores.
 */
static void gen_header(struct fz_b *b, const struct fz_op_def *op,
		       int64_t *nlmsg_len, uint8_t *version, uint16_t *resv)
{
	size_t len;

	gen_valid(b, op, false);
	b->m->why = fz_must_refuse(b->m->cmd, false, &b->seen);
	len = b->m->len;
	switch (fz_below(b->r, 7)) {
	case 0:
		*nlmsg_len = fz_below(b->r, NLMSG_HDRLEN);
		b->m->why = "nlmsg_len below the netlink header";
		b->m->maybe_silent = true;
		break;
	case 1:
		*nlmsg_len = NLMSG_HDRLEN + fz_below(b->r, GENL_HDRLEN);
		b->m->why = "genl header cut short";
		b->m->maybe_silent = true;
		break;
	case 2:
		*nlmsg_len = (uint32_t)len + 1 + fz_below(b->r, 4096);
		b->m->why = "nlmsg_len beyond the datagram";
		b->m->maybe_silent = true;
		break;
	case 3:
		if (len > HDRS + 1)
			*nlmsg_len = HDRS + 1 + fz_below(b->r, len - HDRS - 1);
		b->m->why = NULL;	/* a shorter message may be valid */
		b->m->maybe_silent = true;
		break;
	case 4:
		b->m->len = fz_below(b->r, NLMSG_HDRLEN);
		rand_bytes(b->r, b->m->buf, b->m->len);
		b->m->why = "datagram shorter than a netlink header";
		b->m->maybe_silent = true;
		break;
	case 5:
		*version = (uint8_t)fz_next(b->r);
		break;
	default:
		*resv = (uint16_t)fz_next(b->r);
	}
}

/* NLM_F_DUMP on every op, and the other flag bits. */
static void gen_flags(struct fz_b *b, const struct fz_op_def *op)
{
	static const uint16_t extra[] = {
		/* one bit each: REPLACE|EXCL is ROOT|MATCH, i.e. NLM_F_DUMP */
		NLM_F_ROOT, NLM_F_MATCH, NLM_F_ATOMIC, NLM_F_ECHO,
		NLM_F_CREATE | NLM_F_APPEND, NLM_F_MULTI, NLM_F_DUMP_INTR,
	};

	gen_valid(b, op, false);
	if (fz_chance(b->r, 60)) {
		b->flags |= NLM_F_DUMP;
		b->m->dump = true;
		b->m->why = fz_must_refuse(b->m->cmd, true, &b->seen);
		return;
	}
	b->m->why = fz_must_refuse(b->m->cmd, false, &b->seen);
	if (fz_chance(b->r, 40)) {
		/* an error is acked anyway; a success then is silent */
		b->flags &= ~NLM_F_ACK;
		b->m->maybe_silent = !b->m->why;
		return;
	}
	b->flags |= extra[fz_below(b->r, sizeof(extra) / sizeof(extra[0]))];
}

static void gen_dump_abort(struct fz_b *b)
{
	b->m->cmd = fz_chance(b->r, 50) ? QKD_CMD_LINK_GET : QKD_CMD_AUDIT_GET;
	if (fz_chance(b->r, 30))
		put_valid(b, QKD_A_LINK_NAME, false);
	b->flags |= NLM_F_DUMP;
	b->m->dump = true;
	if (fz_chance(b->r, 50))
		b->m->abandon = true;	/* left for later exchanges to skip */
	else
		b->m->close_after = true;
}

/* A link with the largest limits, or a full batch: to reach the caps. */
static void gen_fill(struct fz_b *b)
{
	unsigned int i;

	if (fz_chance(b->r, 25)) {
		b->m->cmd = QKD_CMD_LINK_NEW;
		put_valid(b, QKD_A_LINK_NAME, false);
		put(b, QKD_A_LOCAL_SAE_ID, "sae-a", 6);
		put(b, QKD_A_REMOTE_SAE_ID, "sae-b", 6);
		put_u32(b, QKD_A_MAX_KEYS, QKD_LINK_MAX_KEYS_LIMIT);
		put_u32(b, QKD_A_MAX_BYTES, QKD_LINK_MAX_BYTES_LIMIT);
		b->seen.mask |= (1U << QKD_A_LOCAL_SAE_ID) |
				(1U << QKD_A_REMOTE_SAE_ID);
		return;
	}
	b->m->cmd = QKD_CMD_KEY_INJECT;
	put_valid(b, QKD_A_LINK_NAME, false);
	b->seen.mask |= 1U << QKD_A_KEY;
	for (i = 0; i < QKD_INJECT_MAX_KEYS; i++)
		put_key(b, QKD_A_KEY, FZ_IDS, false);
}

static const struct fz_op_def *pick_op(struct fz_rng *r)
{
	/* inject and take do the most: weigh them up */
	static const uint8_t weights[] = { 10, 8, 4, 8, 20, 20, 4, 8, 6, 12 };
	unsigned int w = fz_below(r, 100), i;

	for (i = 0; i < fz_nr_ops; i++) {
		if (w < weights[i])
			return &fz_ops[i];
		w -= weights[i];
	}
	return &fz_ops[0];
}

static enum fz_class pick_class(struct fz_rng *r, enum fz_mode mode)
{
	static const uint8_t weights[FZ_NR_CLASSES] = {
		[FZ_C_VALID] = 30, [FZ_C_EDGE_OK] = 8, [FZ_C_EDGE_BAD] = 10,
		[FZ_C_FORBIDDEN] = 8, [FZ_C_UNKNOWN_ATTR] = 4,
		[FZ_C_WRONG_TYPE] = 8, [FZ_C_TRUNCATED] = 4, [FZ_C_BATCH] = 8,
		[FZ_C_DUPLICATE] = 4, [FZ_C_RANDOM] = 4, [FZ_C_HEADER] = 5,
		[FZ_C_FLAGS] = 4, [FZ_C_DUMP_ABORT] = 1, [FZ_C_UNKNOWN_CMD] = 2,
	};
	unsigned int w, c;

	if (mode == FZ_MODE_FILL && fz_chance(r, 40))
		return FZ_C_FILL;
	w = fz_below(r, 100);
	for (c = 0; c < FZ_NR_CLASSES; c++) {
		if (w < weights[c])
			break;
		w -= weights[c];
	}
	if (c == FZ_NR_CLASSES)
		c = FZ_C_VALID;
	/* unprivileged: a dump left unread could not be judged */
	if (mode == FZ_MODE_UNPRIV && c == FZ_C_DUMP_ABORT)
		c = FZ_C_FLAGS;
	return (enum fz_class)c;
}

static void gen_class(struct fz_b *b, const struct fz_op_def *op,
		      int64_t *nlmsg_len, uint8_t *version, uint16_t *resv)
{
	struct fz_msg *m = b->m;

	switch (m->cls) {
	case FZ_C_VALID:
	case FZ_C_EDGE_OK:
		gen_valid(b, op, m->cls == FZ_C_EDGE_OK);
		m->why = fz_must_refuse(m->cmd, false, &b->seen);
		break;
	case FZ_C_DUPLICATE:
		gen_duplicate(b, op);
		m->why = fz_must_refuse(m->cmd, false, &b->seen);
		break;
	case FZ_C_EDGE_BAD:
		gen_edge_bad(b, op);
		break;
	case FZ_C_FORBIDDEN:
		gen_forbidden(b, op);
		break;
	case FZ_C_UNKNOWN_ATTR:
		gen_unknown_attr(b, op);
		break;
	case FZ_C_WRONG_TYPE:
		gen_wrong_type(b, op);
		break;
	case FZ_C_TRUNCATED:
		gen_truncated(b, op);
		break;
	case FZ_C_BATCH:
		gen_batch(b);
		if (!m->why)
			m->why = fz_must_refuse(m->cmd, false, &b->seen);
		break;
	case FZ_C_RANDOM:
		gen_random(b);
		break;
	case FZ_C_HEADER:
		gen_header(b, op, nlmsg_len, version, resv);
		break;
	case FZ_C_FLAGS:
		gen_flags(b, op);
		break;
	case FZ_C_DUMP_ABORT:
		gen_dump_abort(b);
		break;
	case FZ_C_UNKNOWN_CMD:
		/* 0, the notification commands, and the rest up to 255 */
		m->cmd = fz_chance(b->r, 20) ? 0 :
			 QKD_CMD_AUDIT_ANNOTATE + 1 +
			 fz_below(b->r, 255 - QKD_CMD_AUDIT_ANNOTATE);
		gen_valid(b, op, false);
		if (fz_chance(b->r, 20)) {
			b->flags |= NLM_F_DUMP;
			m->dump = true;
		}
		m->why = "unknown command";
		break;
	case FZ_C_FILL:
		gen_fill(b);
		m->why = fz_must_refuse(m->cmd, false, &b->seen);
		break;
	default:
		break;
	}
}

void fz_gen(struct fz_msg *m, uint64_t seed, unsigned int t, uint64_t i,
	    uint16_t family, enum fz_mode mode)
{
	const struct fz_op_def *op;
	struct nlmsghdr *nlh = (struct nlmsghdr *)m->buf;
	struct genlmsghdr *g = (struct genlmsghdr *)(m->buf + NLMSG_HDRLEN);
	struct fz_rng r;
	struct fz_b b = { .m = m, .r = &r, .mode = mode,
			  .flags = NLM_F_REQUEST | NLM_F_ACK };
	int64_t nlmsg_len = -1;	/* -1: the real length */
	uint8_t version = QKD_FAMILY_VERSION;
	uint16_t resv = 0;

	fz_seed(&r, seed, t, i);
	memset(m->buf, 0, HDRS);	/* put() writes every byte after it */
	m->len = HDRS;
	m->why = NULL;
	m->why_attr = -1;
	m->dump = m->maybe_silent = m->abandon = m->close_after = false;
	m->cls = pick_class(&r, mode);
	op = pick_op(&r);
	m->cmd = op->cmd;
	gen_class(&b, op, &nlmsg_len, &version, &resv);

	if (m->len >= NLMSG_HDRLEN) {
		nlh->nlmsg_len = nlmsg_len >= 0 ? (uint32_t)nlmsg_len :
				 (uint32_t)m->len;
		nlh->nlmsg_type = family;
		nlh->nlmsg_flags = b.flags;
	}
	if (m->len >= HDRS) {
		g->cmd = m->cmd;
		g->version = version;
		g->reserved = resv;
	}
	/* Nobody without CAP_NET_ADMIN over the namespace gets anything. */
	if (mode == FZ_MODE_UNPRIV && !m->why)
		m->why = "unprivileged caller";
	m->barrier = m->maybe_silent || !(b.flags & NLM_F_ACK);
}
