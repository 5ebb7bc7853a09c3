// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libqkd: injecting and taking keys, the two calls that move key
 * material.  Material is copied only between the caller's buffers and the
 * handle's send/receive buffers, which are wiped right after each use; on
 * any failure the caller's output buffer is wiped too.  A take by ID that
 * must wait gets EINPROGRESS from the module and waits here, in userspace,
 * for the KEY_READY the module unicasts to this socket.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
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

/* A KEY_TAKE reply: one key nest with ID and role, and material unless
 * it answers a RESERVE. */
static int qkd_parse_take_reply(const struct nlmsghdr *nlh,
				const uint8_t *want_id, uint8_t want_role,
				bool material, struct qkd_key_buf *out)
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
	if (seen == (material ? 7u : 5u) && out->role == want_role &&
	    (!want_id || !memcmp(want_id, out->id, QKD_KEY_ID_LEN)))
		return 0;
fail:
	qkd_key_wipe(out);
	return ret;
}

int qkd_key_parse_take(const struct nlmsghdr *nlh, const uint8_t *want_id,
		       uint8_t want_role, struct qkd_key_buf *out)
{
	return qkd_parse_take_reply(nlh, want_id, want_role, true, out);
}

struct qkd_take_ctx {
	struct qkd_nl *nl;
	const uint8_t *want_id;
	uint8_t want_role;
	bool material;		/* false: a RESERVE's answer */
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
	ret = qkd_parse_take_reply(nlh, t->want_id, t->want_role, t->material,
				   t->out);
	if (ret)
		qkd_nl_set_error(t->nl, "malformed KEY_TAKE reply (not one key of the %s role%s)",
				 qkd_role_name(t->want_role),
				 t->want_id ? " and the asked ID" : "");
	return ret;
}

static int qkd_build_take(struct qkd_nl *nl, const char *link,
			  const uint8_t *id, int64_t wait_ms, uint32_t flags,
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
							  : (uint32_t)wait_ms)) ||
	    (flags && !mnl_attr_put_u32_check(nlh, QKD_NL_BUF_SIZE,
					      QKD_A_TAKE_FLAGS, flags)))
		return -EMSGSIZE;
	*out = nlh;
	return 0;
}

/* One KEY_TAKE request and its reply. */
static int qkd_take_once(struct qkd_nl *nl, const char *link,
			 const uint8_t *id, int64_t wait_ms, uint32_t flags,
			 struct qkd_key_buf *out)
{
	struct qkd_take_ctx t = {
		.nl = nl,
		.want_id = id,
		.want_role = id && !(flags & (QKD_TAKE_F_INITIATOR |
					      QKD_TAKE_F_RELEASE)) ?
			     QKD_KEY_ROLE_RESPONDER : QKD_KEY_ROLE_INITIATOR,
		.material = !(flags & (QKD_TAKE_F_RESERVE | QKD_TAKE_F_WANT |
				       QKD_TAKE_F_RELEASE)),
		.out = out,
	};
	struct nlmsghdr *nlh;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = qkd_build_take(nl, link, id, wait_ms, flags, &nlh);
	if (ret) {
		qkd_nl_set_error(nl, "link name does not fit in a request");
		return ret;
	}
	ret = qkd_nl_transact(nl, nlh, qkd_take_cb, &t);
	qkd_nl_scrub_stack();
	if (!ret && !t.replies) {
		ret = -EPROTO;
		qkd_nl_set_error(nl, "the module acked KEY_TAKE without a key");
	}
	if (ret)
		qkd_key_wipe(out);
	return ret;
}

static int64_t qkd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is this datagram's message the KEY_READY of (link, id)?  Its status. */
static bool qkd_ready_for(struct qkd_nl *nl, size_t len, const char *link,
			  const uint8_t *id, uint32_t *status)
{
	const struct nlmsghdr *m = (const struct nlmsghdr *)nl->rbuf;
	int left = (int)len;
	struct qkd_ntf n;

	for (; qkd_nlmsg_ok(m, left); m = mnl_nlmsg_next(m, &left)) {
		if (qkd_ntf_parse(m, nl->family, &n) || n.cmd != QKD_NTF_KEY_READY ||
		    !n.has_key_id || strcmp(n.link_name, link) ||
		    memcmp(n.key_id, id, QKD_KEY_ID_LEN))
			continue;	/* stale: an earlier take's */
		*status = n.status;
		return true;
	}
	return false;
}

/*
 * Wait until the KEY_READY of (link, id) arrives on this handle's socket
 * or the deadline passes: 1 with its status, 0 at the deadline, -errno.
 */
static int qkd_wait_ready(struct qkd_nl *nl, const char *link,
			  const uint8_t *id, int64_t deadline, uint32_t *status)
{
	for (;;) {
		struct pollfd pfd = { .fd = qkd_nl_fd(nl), .events = POLLIN };
		int64_t left = deadline - qkd_now_ms();
		ssize_t r;
		bool ready;

		if (left <= 0)
			return 0;
		if (!nl->recv_fn && poll(&pfd, 1, (int)left) <= 0)
			continue;	/* timeout (checked above) or EINTR */
		r = qkd_nl_recv_datagram(nl, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
				if (nl->recv_fn)
					return 0;	/* a test's fake: nothing more */
				continue;
			}
			if (errno == ENOBUFS)
				continue;	/* overrun: the final take tells */
			qkd_nl_set_error(nl, "netlink receive: %s", strerror(errno));
			return -errno;
		}
		ready = qkd_ready_for(nl, (size_t)r, link, id, status);
		explicit_bzero(nl->rbuf, (size_t)r);
		if (ready)
			return 1;
	}
}

int qkd_key_take_flags(struct qkd_nl *nl, const char *link, const uint8_t *id,
		       int64_t wait_ms, uint32_t flags, struct qkd_key_buf *out)
{
	int64_t deadline = qkd_now_ms() + (wait_ms > 0 ? wait_ms : 0);
	uint32_t status = 0;
	int ret, ready;

	memset(out, 0, sizeof(*out));
	nl->outcome_unknown = false;
	if (qkd_nl_check_link(nl, link, false))
		return -EINVAL;
	ret = qkd_take_once(nl, link, id, wait_ms, flags, out);
	if (ret != -EINPROGRESS)
		return ret;
	/* Like net/handshake: the module does not sleep, we do. */
	ready = qkd_wait_ready(nl, link, id, deadline, &status);
	if (ready < 0)
		return ready;
	if (ready && status == ESHUTDOWN) {
		qkd_nl_set_error(nl, "the module is unloading");
		return -ESHUTDOWN;
	}
	if (ready && status) {
		qkd_nl_set_error(nl, "link was deleted");
		return -(int)status;
	}
	/* Taken again quietly, without a wait: also ends the pending take. */
	ret = qkd_take_once(nl, link, id, -1, flags | QKD_TAKE_F_QUIET, out);
	if (ret == -ENOENT && !ready) {
		qkd_nl_set_error(nl, "key ID did not arrive in time (waited %lld ms)",
				 (long long)wait_ms);
		ret = -ETIMEDOUT;
	}
	return ret;
}

int qkd_key_take(struct qkd_nl *nl, const char *link, const uint8_t *id,
		 int64_t wait_ms, struct qkd_key_buf *out)
{
	return qkd_key_take_flags(nl, link, id, wait_ms, 0, out);
}

int qkd_key_reserve(struct qkd_nl *nl, const char *link, uint8_t *id,
		    uint64_t *expires_ns)
{
	struct qkd_key_buf kb;
	int ret;

	nl->outcome_unknown = false;
	if (qkd_nl_check_link(nl, link, false))
		return -EINVAL;
	ret = qkd_take_once(nl, link, NULL, -1, QKD_TAKE_F_RESERVE, &kb);
	if (!ret) {
		memcpy(id, kb.id, QKD_KEY_ID_LEN);
		if (expires_ns)
			*expires_ns = kb.expires_ns;
	}
	qkd_key_wipe(&kb);
	return ret;
}

/* A WANT or RELEASE of one key by ID: its answer holds the ID only. */
static int qkd_key_by_id_only(struct qkd_nl *nl, const char *link,
			      const uint8_t *id, uint32_t flag)
{
	struct qkd_key_buf kb;
	int ret;

	nl->outcome_unknown = false;
	if (qkd_nl_check_link(nl, link, false))
		return -EINVAL;
	if (!id) {
		qkd_nl_set_error(nl, "no key ID");
		return -EINVAL;
	}
	ret = qkd_take_once(nl, link, id, -1, flag, &kb);
	qkd_key_wipe(&kb);
	return ret;
}

int qkd_key_want(struct qkd_nl *nl, const char *link, const uint8_t *id)
{
	return qkd_key_by_id_only(nl, link, id, QKD_TAKE_F_WANT);
}

int qkd_key_release(struct qkd_nl *nl, const char *link, const uint8_t *id)
{
	return qkd_key_by_id_only(nl, link, id, QKD_TAKE_F_RELEASE);
}
