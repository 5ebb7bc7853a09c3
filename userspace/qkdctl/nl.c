// SPDX-License-Identifier: GPL-2.0-only
#include "nl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include <linux/qkd.h>

#include "util.h"

void status_from_nle(struct nl_status *st, int nle, const char *what)
{
	st->err = EIO;
	switch (-nle) {
	case NLE_NOMEM:
		st->err = ENOMEM;
		break;
	case NLE_PERM:
		st->err = EPERM;
		break;
	case NLE_OBJ_NOTFOUND:
		st->err = ENOENT;
		break;
	case NLE_NOACCESS:
		st->err = EACCES;
		break;
	}
	/* strerror(err) is printed too: add libnl's words only if it says more. */
	if (st->err == EIO)
		snprintf(st->msg, sizeof(st->msg), "%s: %s", what, nl_geterror(nle));
	else
		snprintf(st->msg, sizeof(st->msg), "%s", what);
}

static void parse_ext_ack(const struct nlmsghdr *nlh, size_t payload,
			  struct nl_status *st)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off = NLMSG_ALIGN(NLMSG_HDRLEN + payload);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || nlh->nlmsg_len <= off)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)nlh + off),
		      (int)(nlh->nlmsg_len - off), NULL) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		nla_get_str_copy(tb[NLMSGERR_ATTR_MSG], st->msg, sizeof(st->msg));
	else if (tb[NLMSGERR_ATTR_MISS_TYPE] && nla_len(tb[NLMSGERR_ATTR_MISS_TYPE]) >= 4)
		snprintf(st->msg, sizeof(st->msg), "missing attribute %u",
			 nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]));
}

void nl_parse_ack(const struct nlmsghdr *nlh, struct nl_status *st)
{
	st->msg[0] = '\0';
	if (nlh->nlmsg_type == NLMSG_DONE) {
		int e = 0;

		/* A dump that fails after it started reports it here. */
		if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int))
			memcpy(&e, NLMSG_DATA(nlh), sizeof(e));
		st->err = e < 0 ? -e : 0;
		if (st->err)
			parse_ext_ack(nlh, sizeof(int), st);
		return;
	}

	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t payload = sizeof(*e);

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e)) {
		st->err = EBADMSG;
		snprintf(st->msg, sizeof(st->msg), "truncated netlink error message");
		return;
	}
	st->err = e->error < 0 ? -e->error : e->error;
	if (!st->err)
		return;
	/* Unless capped, the kernel echoes our whole request before the TLVs. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
	    e->msg.nlmsg_len >= sizeof(struct nlmsghdr))
		payload += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	parse_ext_ack(nlh, payload, st);
}

int nl_transact(struct nl_sock *sk, struct nl_msg *msg, nl_reply_fn fn,
		void *arg, struct nl_status *st)
{
	struct nlmsghdr *req = nlmsg_hdr(msg);
	int fn_err = 0, ret;
	bool done = false;
	uint32_t seq;

	memset(st, 0, sizeof(*st));
	nl_complete_msg(sk, msg);	/* pid, seq, NLM_F_REQUEST | NLM_F_ACK */
	seq = req->nlmsg_seq;
	ret = nl_send(sk, msg);
	if (ret < 0) {
		status_from_nle(st, ret, "send");
		return -1;
	}

	while (!done) {
		struct sockaddr_nl peer;
		unsigned char *buf = NULL;
		struct nlmsghdr *nlh;
		int n, len;

		n = nl_recv(sk, &peer, &buf, NULL);
		if (n <= 0) {
			status_from_nle(st, n < 0 ? n : -NLE_FAILURE, "receive");
			free(buf);
			return -1;
		}
		len = n;
		for (nlh = (struct nlmsghdr *)buf; nlmsg_ok(nlh, len);
		     nlh = nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != seq)
				continue;	/* stale answer to an earlier request */
			if (nlh->nlmsg_type == NLMSG_NOOP)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
				nl_parse_ack(nlh, st);
				done = true;
				break;
			}
			if (fn && !fn_err)
				fn_err = fn(nlh, arg);
		}
		/* Replies may carry key material (take, xfrm dump). */
		secure_wipe(buf, (size_t)n);
		free(buf);
	}
	if (st->err)
		return -1;
	if (fn_err) {
		st->err = -fn_err;
		if (!st->msg[0])
			snprintf(st->msg, sizeof(st->msg), "unexpected reply from the kernel");
		return -1;
	}
	return 0;
}

int qkd_nl_open(struct qkd_nl *q, struct nl_status *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	q->family = -1;
	q->sk = nl_socket_alloc();
	if (!q->sk) {
		st->err = ENOMEM;
		return -1;
	}
	ret = genl_connect(q->sk);
	if (ret < 0) {
		status_from_nle(st, ret, "generic netlink socket");
		goto fail;
	}
	/* Dumps of links and audit records can exceed a page per recv. */
	nl_socket_enable_msg_peek(q->sk);
	/* Start large so peeked messages rarely need a realloc(), which
	 * would leave an unwiped copy of a reply behind. */
	nl_socket_set_msg_buf_size(q->sk, 65536);
	/* Errors with the kernel's explanation; old kernels just omit it. */
	setsockopt(nl_socket_get_fd(q->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &(int){ 1 }, sizeof(int));
	/* Errors need not echo our request: an inject request is 25 KiB of
	 * keys (which the module wipes before the echo, but why carry it). */
	setsockopt(nl_socket_get_fd(q->sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &(int){ 1 }, sizeof(int));
	ret = genl_ctrl_resolve(q->sk, QKD_FAMILY_NAME);
	if (ret < 0) {
		status_from_nle(st, ret, "resolve family");
		if (ret == -NLE_OBJ_NOTFOUND) {
			st->err = ENOENT;
			snprintf(st->msg, sizeof(st->msg),
				 "no generic netlink family \"%s\"",
				 QKD_FAMILY_NAME);
		}
		goto fail;
	}
	q->family = ret;
	return 0;
fail:
	nl_socket_free(q->sk);
	q->sk = NULL;
	return -1;
}

void qkd_nl_close(struct qkd_nl *q)
{
	if (q->sk)
		nl_socket_free(q->sk);
	q->sk = NULL;
}

struct nl_msg *qkd_nl_msg(struct qkd_nl *q, uint8_t cmd, int flags)
{
	return qkd_nl_msg_size(q, cmd, flags, 0);
}

struct nl_msg *qkd_nl_msg_size(struct qkd_nl *q, uint8_t cmd, int flags, size_t size)
{
	struct nl_msg *msg = size ? nlmsg_alloc_size(size) : nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, q->family, 0, flags,
			 cmd, QKD_FAMILY_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int qkd_nl_notify_group(struct qkd_nl *q, struct nl_status *st)
{
	int ret = genl_ctrl_resolve_grp(q->sk, QKD_FAMILY_NAME, QKD_MCGRP_NOTIFY);

	memset(st, 0, sizeof(*st));
	if (ret < 0)
		status_from_nle(st, ret, "resolve multicast group \"" QKD_MCGRP_NOTIFY "\"");
	return ret;
}

void nl_msg_free_wiped(struct nl_msg *msg)
{
	if (!msg)
		return;
	secure_wipe(nlmsg_hdr(msg), nlmsg_hdr(msg)->nlmsg_len);
	nlmsg_free(msg);
}

bool nla_get_u32_checked(const struct nlattr *a, uint32_t *v)
{
	if (!a || nla_len(a) < (int)sizeof(uint32_t))
		return false;
	memcpy(v, nla_data(a), sizeof(*v));
	return true;
}

bool nla_get_u64_checked(const struct nlattr *a, uint64_t *v)
{
	if (!a || nla_len(a) < (int)sizeof(uint64_t))
		return false;
	/* nla_put_u64_64bit aligns, but do not rely on it for reading. */
	memcpy(v, nla_data(a), sizeof(*v));
	return true;
}

bool nla_get_u8_checked(const struct nlattr *a, uint8_t *v)
{
	if (!a || nla_len(a) < 1)
		return false;
	*v = *(const uint8_t *)nla_data(a);
	return true;
}

void nla_get_str_copy(const struct nlattr *a, char *dst, size_t cap)
{
	size_t n = (size_t)nla_len(a);
	const char *s = nla_data(a);

	if (memchr(s, '\0', n))
		n = strlen(s);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}
