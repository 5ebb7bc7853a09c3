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

int qkd_key_inject_refs(struct qkd_nl *nl, const char *link,
			const struct qkd_key_ref *keys, unsigned int nr)
{
	struct nlmsghdr *nlh;
	unsigned int i;
	int ret = 0;

	nl->outcome_unknown = false;
	if (qkd_nl_check_link(nl, link, false))
		return -EINVAL;
	nlh = qkd_nl_put_request(nl, nl->family, QKD_CMD_KEY_INJECT,
				 QKD_FAMILY_VERSION, NLM_F_ACK);
	if (!mnl_attr_put_strz_check(nlh, QKD_NL_BUF_SIZE, QKD_A_LINK_NAME, link))
		ret = -EMSGSIZE;
	for (i = 0; !ret && i < nr; i++)
		ret = qkd_put_key(nlh, &keys[i]);
	if (ret) {
		explicit_bzero(nl->sbuf, QKD_NL_BUF_SIZE);
		qkd_nl_set_error(nl, ret == -EINVAL ? "key %u: no ID or material" :
				 "key %u: the request does not fit in the send buffer",
				 i);
		return ret;
	}
	return qkd_nl_transact(nl, nlh, NULL, NULL);
}

int qkd_key_inject(struct qkd_nl *nl, const char *link,
		   const struct qkd_key_buf *keys, unsigned int nr)
{
	/* at most what fits in the send buffer; the rest is -EMSGSIZE */
	struct qkd_key_ref refs[QKD_NL_BUF_SIZE / 64];
	unsigned int i, n = nr;

	if (n > sizeof(refs) / sizeof(refs[0])) {
		nl->outcome_unknown = false;
		qkd_nl_set_error(nl, "%u keys do not fit in one request", nr);
		return -EMSGSIZE;
	}
	for (i = 0; i < n; i++) {
		refs[i].id = keys[i].id;
		refs[i].material = keys[i].material;
		refs[i].len = keys[i].len;
		refs[i].role = keys[i].role;
	}
	return qkd_key_inject_refs(nl, link, refs, n);
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
	if (!mnl_attr_put_strz_check(nlh, QKD_NL_BUF_SIZE, QKD_A_LINK_NAME, link))
		return -EMSGSIZE;
	if (id)
		mnl_attr_put(nlh, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id);
	if (wait_ms >= 0)
		mnl_attr_put_u32(nlh, QKD_A_WAIT_MS,
				 wait_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)wait_ms);
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
	if (!ret && !t.replies) {
		ret = -EPROTO;
		qkd_nl_set_error(nl, "the module acked KEY_TAKE without a key");
	}
	if (ret)
		qkd_key_wipe(out);
	return ret;
}
