// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libqkd: injecting and taking keys, the two calls that move key
 * material.  Material is copied only between the caller's buffers and the
 * handle's send/receive buffers, which are wiped right after each use; on
 * any failure the caller's output buffer is wiped too.
 */
#include <errno.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "internal.h"

void qkd_key_wipe(struct qkd_key_buf *key)
{
	if (key)
		explicit_bzero(key, sizeof(*key));
}

static int qkd_put_key(struct nlmsghdr *nlh, const struct qkd_key_ref *k)
{
	struct nlattr *nest;

	nest = mnl_attr_nest_start_check(nlh, QKD_NL_BUF_SIZE, QKD_A_KEY);
	if (!nest)
		return -EMSGSIZE;
	if (!k->id || !k->material || k->len > UINT16_MAX - MNL_ATTR_HDRLEN)
		return -EINVAL;
	if (!mnl_attr_put_check(nlh, QKD_NL_BUF_SIZE, QKD_KEY_A_ID,
				QKD_KEY_ID_LEN, k->id) ||
	    !mnl_attr_put_check(nlh, QKD_NL_BUF_SIZE, QKD_KEY_A_MATERIAL,
				k->len, k->material) ||
	    !mnl_attr_put_u8_check(nlh, QKD_NL_BUF_SIZE, QKD_KEY_A_ROLE,
				   k->role))
		return -EMSGSIZE;
	mnl_attr_nest_end(nlh, nest);
	return 0;
}

/*
 * Build and send an inject request; key i comes from get(keys, i).  The
 * nests are built straight from the caller's keys: no copy of the
 * material outside the send buffer, which the transaction wipes.
 */
typedef void (*qkd_key_get_fn)(const void *keys, unsigned int i,
			       struct qkd_key_ref *ref);

static int qkd_inject(struct qkd_nl *nl, const char *link, const void *keys,
		      unsigned int nr, qkd_key_get_fn get)
{
	struct nlmsghdr *nlh;
	struct qkd_key_ref ref;
	unsigned int i;
	int ret = 0;

	nl->outcome_unknown = false;
	if (qkd_nl_check_link(nl, link, false))
		return -EINVAL;
	nlh = qkd_nl_put_request(nl, nl->family, QKD_CMD_KEY_INJECT,
				 QKD_FAMILY_VERSION, NLM_F_ACK);
	if (!mnl_attr_put_strz_check(nlh, QKD_NL_BUF_SIZE, QKD_A_LINK_NAME, link))
		ret = -EMSGSIZE;
	for (i = 0; !ret && i < nr; i++) {
		get(keys, i, &ref);
		ret = qkd_put_key(nlh, &ref);
	}
	explicit_bzero(&ref, sizeof(ref));
	if (ret) {
		explicit_bzero(nl->sbuf, QKD_NL_BUF_SIZE);
		if (ret == -EINVAL)
			qkd_nl_set_error(nl, "key %u: no ID or material", i - 1);
		else
			qkd_nl_set_error(nl, "key %u: the request does not fit in %d bytes",
					 i ? i - 1 : 0, QKD_NL_BUF_SIZE);
		return ret;
	}
	ret = qkd_nl_transact(nl, nlh, NULL, NULL);
	qkd_nl_scrub_stack();
	return ret;
}

static void qkd_get_ref(const void *keys, unsigned int i, struct qkd_key_ref *ref)
{
	*ref = ((const struct qkd_key_ref *)keys)[i];
}

static void qkd_get_buf(const void *keys, unsigned int i, struct qkd_key_ref *ref)
{
	const struct qkd_key_buf *k = &((const struct qkd_key_buf *)keys)[i];

	ref->id = k->id;
	ref->material = k->material;
	ref->len = k->len;
	ref->role = k->role;
}

int qkd_key_inject_refs(struct qkd_nl *nl, const char *link,
			const struct qkd_key_ref *keys, unsigned int nr)
{
	return qkd_inject(nl, link, keys, nr, qkd_get_ref);
}

int qkd_key_inject(struct qkd_nl *nl, const char *link,
		   const struct qkd_key_buf *keys, unsigned int nr)
{
	return qkd_inject(nl, link, keys, nr, qkd_get_buf);
}

/* The fields of one key nest: 0, -EMSGSIZE for a material length out of
 * range, -EPROTO for anything else malformed. */
static int qkd_parse_key_nest(const struct nlattr *nest,
			      struct qkd_key_buf *out, unsigned int *seen)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		size_t len = mnl_attr_get_payload_len(a);

		if (mnl_attr_get_type(a) <= QKD_KEY_A_MAX)
			out->present |= 1ULL << mnl_attr_get_type(a);
		switch (mnl_attr_get_type(a)) {
		case QKD_KEY_A_ID:
			if (len != QKD_KEY_ID_LEN)
				return -EPROTO;
			memcpy(out->id, mnl_attr_get_payload(a), len);
			*seen |= 1;
			break;
		case QKD_KEY_A_MATERIAL:
			if (len < QKD_KEY_MIN_LEN || len > QKD_KEY_MAX_LEN)
				return -EMSGSIZE;
			memcpy(out->material, mnl_attr_get_payload(a), len);
			out->len = (uint8_t)len;
			*seen |= 2;
			break;
		case QKD_KEY_A_ROLE:
			if (!qkd_nl_get_u8(a, &out->role))
				return -EPROTO;
			*seen |= 4;
			break;
		case QKD_KEY_A_INJECTED:
			if (!qkd_nl_get_u64(a, &out->injected_ns))
				return -EPROTO;
			break;
		case QKD_KEY_A_EXPIRES:
			if (!qkd_nl_get_u64(a, &out->expires_ns))
				return -EPROTO;
			break;
		}
	}
	return 0;
}

int qkd_key_parse_take(const struct nlmsghdr *nlh, const uint8_t *want_id,
		       uint8_t want_role, struct qkd_key_buf *out)
{
	const struct nlattr *a;
	unsigned int nkeys = 0, seen = 0;
	int ret = -EPROTO;

	memset(out, 0, sizeof(*out));
	if (qkd_nl_genl_ok(nlh, QKD_CMD_KEY_TAKE))
		return -EPROTO;
	qkd_attr_for_each(a, nlh, GENL_HDRLEN) {
		if (mnl_attr_get_type(a) != QKD_A_KEY)
			continue;
		if (++nkeys > 1)
			goto fail;
		ret = qkd_parse_key_nest(a, out, &seen);
		if (ret)
			goto fail;
		ret = -EPROTO;
	}
	if (seen == 7 && out->role == want_role &&
	    (!want_id || !memcmp(want_id, out->id, QKD_KEY_ID_LEN)))
		return 0;
fail:
	qkd_key_wipe(out);
	return ret;
}

struct qkd_take_ctx {
	struct qkd_nl *nl;
	const uint8_t *want_id;
	uint8_t want_role;
	struct qkd_key_buf *out;
	unsigned int replies;
};

static int qkd_take_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct qkd_take_ctx *t = arg;

	int ret;

	if (t->replies++) {	/* one reply only: a second voids the take */
		qkd_key_wipe(t->out);
		qkd_nl_set_error(t->nl, "more than one KEY_TAKE reply");
		return -EPROTO;
	}
	ret = qkd_key_parse_take(nlh, t->want_id, t->want_role, t->out);
	if (ret)
		qkd_nl_set_error(t->nl, "malformed KEY_TAKE reply (not one key of the %s role%s)",
				 qkd_role_name(t->want_role),
				 t->want_id ? " and the asked ID" : "");
	return ret;
}

static int qkd_build_take(struct qkd_nl *nl, const char *link,
			  const uint8_t *id, int64_t wait_ms,
			  struct nlmsghdr **out)
{
	struct nlmsghdr *nlh;

	nlh = qkd_nl_put_request(nl, nl->family, QKD_CMD_KEY_TAKE,
				 QKD_FAMILY_VERSION, NLM_F_ACK);
	if (!mnl_attr_put_strz_check(nlh, QKD_NL_BUF_SIZE, QKD_A_LINK_NAME, link) ||
	    (id && !mnl_attr_put_check(nlh, QKD_NL_BUF_SIZE, QKD_A_KEY_ID,
				       QKD_KEY_ID_LEN, id)) ||
	    (wait_ms >= 0 &&
	     !mnl_attr_put_u32_check(nlh, QKD_NL_BUF_SIZE, QKD_A_WAIT_MS,
				     wait_ms > UINT32_MAX ? UINT32_MAX
							  : (uint32_t)wait_ms)))
		return -EMSGSIZE;
	*out = nlh;
	return 0;
}

int qkd_key_take(struct qkd_nl *nl, const char *link, const uint8_t *id,
		 int64_t wait_ms, struct qkd_key_buf *out)
{
	struct qkd_take_ctx t = {
		.nl = nl,
		.want_id = id,
		.want_role = id ? QKD_KEY_ROLE_RESPONDER : QKD_KEY_ROLE_INITIATOR,
		.out = out,
	};
	struct nlmsghdr *nlh;
	unsigned int extra = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	nl->outcome_unknown = false;
	if (qkd_nl_check_link(nl, link, false))
		return -EINVAL;
	ret = qkd_build_take(nl, link, id, wait_ms, &nlh);
	if (ret) {
		qkd_nl_set_error(nl, "link name does not fit in a request");
		return ret;
	}
	/* The module may sleep up to the wait: the reply comes after it. */
	if (id && wait_ms > 0)
		extra = wait_ms > QKD_TAKE_WAIT_MAX_MS ? QKD_TAKE_WAIT_MAX_MS
						       : (unsigned int)wait_ms;
	if (extra)
		qkd_nl_set_rcvtimeo(nl, nl->timeout_ms + extra);
	ret = qkd_nl_transact(nl, nlh, qkd_take_cb, &t);
	if (extra)
		qkd_nl_set_rcvtimeo(nl, nl->timeout_ms);
	qkd_nl_scrub_stack();
	if (!ret && !t.replies) {
		ret = -EPROTO;
		qkd_nl_set_error(nl, "the module acked KEY_TAKE without a key");
	}
	if (ret)
		qkd_key_wipe(out);
	return ret;
}
