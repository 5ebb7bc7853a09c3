// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The fake kernel of fake_kernel.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "fake_kernel.h"

struct fake fk;

static ssize_t fake_send(struct qkd_nl *nl, const void *buf, size_t len)
{
	(void)nl;
	memcpy(fk.last_req, buf, len);
	fk.last_req_len = len;
	fk.sends++;
	if (fk.respond)
		fk.respond((struct nlmsghdr *)fk.last_req, fk.arg);
	return (ssize_t)len;
}

static ssize_t fake_recv(struct qkd_nl *nl, void *buf, size_t len, int flags,
			 uint32_t *sender)
{
	struct fake_dgram *d;

	(void)nl;
	(void)flags;
	if (fk.head == fk.tail) {
		errno = EAGAIN;		/* as SO_RCVTIMEO expiring */
		return -1;
	}
	d = &fk.q[fk.head++ % FAKE_MAX_DGRAMS];
	if (d->err) {
		errno = d->err;
		return -1;
	}
	if (d->len > len) {
		errno = ENOBUFS;
		return -1;
	}
	memcpy(buf, d->buf, d->len);
	*sender = d->sender;
	return (ssize_t)d->len;
}

/* A new datagram in the queue, from `sender`. */
struct fake_dgram *fake_dgram(uint32_t sender)
{
	struct fake_dgram *d = &fk.q[fk.tail++ % FAKE_MAX_DGRAMS];

	memset(d, 0, sizeof(*d));
	d->sender = sender;
	return d;
}

void fake_fail_recv(int err)
{
	fake_dgram(0)->err = err;
}

/* Append a genl message of cmd to datagram d, answering req. */
struct nlmsghdr *fake_put_genl(struct fake_dgram *d,
				      const struct nlmsghdr *req, uint16_t type,
				      uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf + d->len);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = req ? req->nlmsg_seq : 0;
	nlh->nlmsg_pid = req ? FAKE_PORT : 0;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = QKD_FAMILY_VERSION;
	return nlh;
}

void fake_end(struct fake_dgram *d, struct nlmsghdr *nlh)
{
	d->len += MNL_ALIGN(nlh->nlmsg_len);
}

/* An NLMSG_ERROR (error 0: an ACK) with the request capped, and an
 * extack text when msg is not NULL. */
void fake_ack(struct fake_dgram *d, const struct nlmsghdr *req,
		     int error, const char *msg)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf + d->len);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED | (msg ? NLM_F_ACK_TLVS : 0);
	nlh->nlmsg_seq = req->nlmsg_seq;
	nlh->nlmsg_pid = FAKE_PORT;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = error;
	e->msg = *req;
	if (msg)
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, msg);
	fake_end(d, nlh);
}

void fake_put_key_fields(struct nlmsghdr *nlh, const uint8_t *id, size_t idlen,
			 size_t matlen, int role)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, QKD_A_KEY);
	uint8_t mat[100];

	memset(mat, 0x5a, sizeof(mat));
	if (id)
		mnl_attr_put(nlh, QKD_KEY_A_ID, idlen, id);
	if (matlen)
		mnl_attr_put(nlh, QKD_KEY_A_MATERIAL, matlen, mat);
	if (role >= 0)
		mnl_attr_put_u8(nlh, QKD_KEY_A_ROLE, (uint8_t)role);
	mnl_attr_put_u64(nlh, QKD_KEY_A_INJECTED, 1);
	mnl_attr_put_u64(nlh, QKD_KEY_A_EXPIRES, 1234);
	mnl_attr_nest_end(nlh, nest);
}

void fake_put_take_key(struct nlmsghdr *nlh, const uint8_t *id, size_t len,
		       uint8_t role)
{
	fake_put_key_fields(nlh, id, QKD_KEY_ID_LEN, len, role);
}

uint8_t fake_reply_cmd(enum fake_reply kind)
{
	switch (kind) {
	case FAKE_REPLY_TAKE:
		return QKD_CMD_KEY_TAKE;
	case FAKE_REPLY_LINK:
		return QKD_CMD_LINK_GET;
	case FAKE_REPLY_STATS:
		return QKD_CMD_STATS_GET;
	default:
		return QKD_CMD_AUDIT_GET;
	}
}

struct nlmsghdr *fake_reply_start(char *buf, bool take)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = FAKE_FAMILY;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = fake_reply_cmd(take ? FAKE_REPLY_TAKE : FAKE_REPLY_LINK);
	g->version = QKD_FAMILY_VERSION;
	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, "l1");
	return nlh;
}

void fake_answer_take(struct nlmsghdr *req, void *arg)
{
	struct fake_take *t = arg;
	struct fake_dgram *d = fake_dgram(0);
	unsigned int r, i;

	for (r = 0; r < t->nreplies; r++) {
		struct nlmsghdr *nlh = fake_put_genl(d, req, FAKE_FAMILY,
						     QKD_CMD_KEY_TAKE, 0);

		mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, "l1");
		for (i = 0; i < t->nkeys; i++)
			fake_put_take_key(nlh, t->id, t->len, t->role);
		fake_end(d, nlh);
	}
	fake_ack(d, req, 0, NULL);
}

void fake_answer_error(struct nlmsghdr *req, void *arg)
{
	fake_ack(fake_dgram(0), req, *(int *)arg, "no link");
}

bool fake_all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		if (*b++)
			return false;
	return true;
}

void fake_kernel_attach(struct qkd_nl *nl)
{
	memset(&fk, 0, sizeof(fk));
	if (!nl->sock)	/* never used for I/O, but setsockopt() works on it */
		nl->sock = mnl_socket_open(NETLINK_GENERIC);
	nl->family = FAKE_FAMILY;
	nl->portid = FAKE_PORT;
	nl->mcgrp = 7;
	nl->send_fn = fake_send;
	nl->recv_fn = fake_recv;
}

struct qkd_nl *fake_kernel_handle(void)
{
	struct qkd_nl *nl = qkd_nl_new();

	if (!nl)
		return NULL;
	fake_kernel_attach(nl);
	if (!nl->sock) {
		qkd_nl_free(nl);
		return NULL;
	}
	return nl;
}
