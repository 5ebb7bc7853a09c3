// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libqkd: the handle, its socket and buffers, family resolution, and the
 * one request/reply loop every call goes through.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "internal.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

void qkd_nl_set_error(struct qkd_nl *nl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(nl->err, sizeof(nl->err), fmt, ap);
	va_end(ap);
}

void qkd_nl_clear_error(struct qkd_nl *nl)
{
	nl->err[0] = '\0';
	nl->err_off = 0;
	nl->err_miss = 0;
}

/*
 * Both buffers in one anonymous mapping: locked where RLIMIT_MEMLOCK
 * allows (best effort: an unprivileged tool may not lock), and never in a
 * core dump.  They hold key material between a send or receive and the
 * wipe right after it.
 */
static int qkd_nl_map_buffers(struct qkd_nl *nl)
{
	void *p = mmap(NULL, 2 * QKD_NL_BUF_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	(void)mlock(p, 2 * QKD_NL_BUF_SIZE);
	(void)madvise(p, 2 * QKD_NL_BUF_SIZE, MADV_DONTDUMP);
	nl->sbuf = p;
	nl->rbuf = nl->sbuf + QKD_NL_BUF_SIZE;
	return 0;
}

/*
 * Zero the stack below the caller's frame.  Copying key material to and
 * from the buffers leaves copies in registers that a later call can spill
 * there (the dynamic linker's lazy binding saves the vector registers on
 * the stack, seen by selftests/kmod/qkd_zeroize); callers should also link
 * with -z now (LIBQKD_LDFLAGS in lib/Makefile).
 */
__attribute__((noinline)) void qkd_nl_scrub_stack(void)
{
	unsigned char below[16384];

	explicit_bzero(below, sizeof(below));
	__asm__ __volatile__("" : : "r"(below) : "memory");
}

struct qkd_nl *qkd_nl_new(void)
{
	struct qkd_nl *nl = calloc(1, sizeof(*nl));

	if (!nl)
		return NULL;
	if (qkd_nl_map_buffers(nl)) {
		free(nl);
		return NULL;
	}
	nl->seq = (uint32_t)time(NULL);
	nl->timeout_ms = QKD_NL_TIMEOUT_MS;
	return nl;
}

void qkd_nl_disconnect(struct qkd_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
	nl->family = 0;
	nl->family_version = 0;
	nl->mcgrp_keys = nl->mcgrp_monitor = 0;
	nl->portid = 0;
	nl->subscribed = false;
	nl->ntf_off = nl->ntf_len = 0;
}

void qkd_nl_free(struct qkd_nl *nl)
{
	if (!nl)
		return;
	qkd_nl_disconnect(nl);
	explicit_bzero(nl->sbuf, 2 * QKD_NL_BUF_SIZE);
	munmap(nl->sbuf, 2 * QKD_NL_BUF_SIZE);
	explicit_bzero(nl, sizeof(*nl));
	free(nl);
}

int qkd_nl_set_rcvtimeo(struct qkd_nl *nl, unsigned int ms)
{
	struct timeval tv = {
		.tv_sec = ms / 1000,
		.tv_usec = (ms % 1000) * 1000,
	};

	if (!nl->sock)
		return 0;
	if (setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO,
		       &tv, sizeof(tv)) < 0)
		return -errno;
	nl->rcvtimeo_ms = ms;
	return 0;
}

/* The socket options the family's rules need, then connect() to port 0. */
static int qkd_nl_setup_socket(struct qkd_nl *nl)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd = mnl_socket_get_fd(nl->sock), one = 1, ret;

	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		qkd_nl_set_error(nl, "netlink bind: %s", strerror(errno));
		return -errno;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	if (setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one))) {
		ret = -errno;
		qkd_nl_set_error(nl, "NETLINK_CAP_ACK: %s (error acks would echo key material)",
				 strerror(errno));
		return ret;
	}
	/* Only the explanations: a kernel without it just sends less. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	ret = qkd_nl_set_rcvtimeo(nl, nl->timeout_ms);
	if (ret) {
		qkd_nl_set_error(nl, "SO_RCVTIMEO: %s", strerror(-ret));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&kernel, sizeof(kernel))) {
		qkd_nl_set_error(nl, "netlink connect: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int qkd_nl_grp_cb(const struct nlattr *grp, struct qkd_nl *nl)
{
	const struct nlattr *a;
	const char *name = NULL;
	uint32_t id = 0;

	mnl_attr_for_each_nested(a, grp) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME &&
		    !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			name = mnl_attr_get_str(a);
		else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID)
			qkd_nl_get_u32(a, &id);
	}
	if (name && !strcmp(name, QKD_MCGRP_KEYS))
		nl->mcgrp_keys = id;
	else if (name && !strcmp(name, QKD_MCGRP_MONITOR))
		nl->mcgrp_monitor = id;
	return 0;
}

static int qkd_nl_family_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct qkd_nl *nl = arg;
	const struct nlattr *a, *grp;
	uint16_t id = 0;

	if (qkd_nl_genl_ok(nlh, -1))
		return -EPROTO;
	qkd_attr_for_each(a, nlh, GENL_HDRLEN) {
		switch (mnl_attr_get_type(a)) {
		case CTRL_ATTR_FAMILY_ID:
			if (!mnl_attr_validate(a, MNL_TYPE_U16))
				id = mnl_attr_get_u16(a);
			break;
		case CTRL_ATTR_VERSION:
			qkd_nl_get_u32(a, &nl->family_version);
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			mnl_attr_for_each_nested(grp, a)
				qkd_nl_grp_cb(grp, nl);
			break;
		}
	}
	nl->family = id;
	return 0;
}

static int qkd_nl_resolve(struct qkd_nl *nl)
{
	struct nlmsghdr *nlh;
	int ret;

	nlh = qkd_nl_put_request(nl, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1,
				 NLM_F_ACK);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, QKD_FAMILY_NAME);
	ret = qkd_nl_transact(nl, nlh, qkd_nl_family_cb, nl);
	if (ret == -ENOENT || (!ret && !nl->family)) {
		qkd_nl_set_error(nl, "generic netlink family '%s' not found (module not loaded?)",
				 QKD_FAMILY_NAME);
		return -ENOENT;
	}
	if (!ret && nl->family_version < QKD_FAMILY_VERSION) {
		qkd_nl_set_error(nl, "the qkd module speaks family version %u, this program version %u: load the module built with it",
				 nl->family_version, QKD_FAMILY_VERSION);
		return -EPROTO;
	}
	if (!ret && (!nl->mcgrp_keys || !nl->mcgrp_monitor)) {
		qkd_nl_set_error(nl, "family '%s' lacks the '%s' or '%s' multicast group",
				 QKD_FAMILY_NAME, QKD_MCGRP_KEYS, QKD_MCGRP_MONITOR);
		return -EPROTO;
	}
	return ret;
}

int qkd_nl_connect(struct qkd_nl *nl, unsigned int timeout_ms)
{
	int ret;

	qkd_nl_disconnect(nl);
	qkd_nl_clear_error(nl);
	nl->timeout_ms = timeout_ms ? timeout_ms : QKD_NL_TIMEOUT_MS;
	nl->sock = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!nl->sock) {
		ret = -errno;
		qkd_nl_set_error(nl, "generic netlink socket: %s", strerror(errno));
		return ret;
	}
	ret = qkd_nl_setup_socket(nl);
	if (!ret)
		ret = qkd_nl_resolve(nl);
	if (ret) {
		char keep[QKD_NL_ERR_MAX];

		memcpy(keep, nl->err, sizeof(keep));
		qkd_nl_disconnect(nl);
		memcpy(nl->err, keep, sizeof(keep));
	}
	return ret;
}

int qkd_nl_open(struct qkd_nl **out, unsigned int timeout_ms, char *err)
{
	struct qkd_nl *nl = qkd_nl_new();
	int ret;

	*out = NULL;
	if (!nl) {
		if (err)
			snprintf(err, QKD_NL_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	ret = qkd_nl_connect(nl, timeout_ms);
	if (ret) {
		if (err)
			snprintf(err, QKD_NL_ERR_MAX, "%s", nl->err);
		qkd_nl_free(nl);
		return ret;
	}
	*out = nl;
	return 0;
}

int qkd_nl_fd(const struct qkd_nl *nl)
{
	return nl->sock ? mnl_socket_get_fd(nl->sock) : -1;
}

bool qkd_nl_connected(const struct qkd_nl *nl)
{
	return nl->sock && nl->family;
}

uint16_t qkd_nl_family(const struct qkd_nl *nl)
{
	return nl->family;
}

uint32_t qkd_nl_family_version(const struct qkd_nl *nl)
{
	return nl->family_version;
}

uint32_t qkd_nl_portid(const struct qkd_nl *nl)
{
	return nl->portid;
}

const char *qkd_nl_error(const struct qkd_nl *nl)
{
	return nl->err;
}

uint32_t qkd_nl_error_offset(const struct qkd_nl *nl)
{
	return nl->err_off;
}

uint32_t qkd_nl_error_missing_attr(const struct qkd_nl *nl)
{
	return nl->err_miss;
}

bool qkd_nl_outcome_unknown(const struct qkd_nl *nl)
{
	return nl->outcome_unknown;
}

unsigned long qkd_nl_foreign_dropped(const struct qkd_nl *nl)
{
	return nl->foreign_dropped;
}

struct nlmsghdr *qkd_nl_put_request(struct qkd_nl *nl, uint16_t type,
				    uint8_t cmd, uint8_t version,
				    uint16_t flags)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;

	memset(nl->sbuf, 0, MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*genl)));
	nlh = mnl_nlmsg_put_header(nl->sbuf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

/* One datagram from the socket, with the sender's port. */
static ssize_t qkd_nl_sys_recv(struct qkd_nl *nl, void *buf, size_t len,
			       int flags, uint32_t *sender)
{
	struct sockaddr_nl sa;
	struct iovec iov = { buf, len };
	struct msghdr msg = {
		.msg_name = &sa, .msg_namelen = sizeof(sa),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	ssize_t r;

	memset(&sa, 0, sizeof(sa));
	r = recvmsg(mnl_socket_get_fd(nl->sock), &msg, flags);
	if (r < 0)
		return r;
	*sender = (msg.msg_namelen == sizeof(sa) && sa.nl_family == AF_NETLINK)
		  ? sa.nl_pid : UINT32_MAX;
	if (msg.msg_flags & MSG_TRUNC) {
		explicit_bzero(buf, len);
		errno = ENOBUFS;
		return -1;
	}
	return r;
}

/*
 * Receive one datagram from the kernel into nl->rbuf: bytes, or -1 with
 * errno.  Datagrams from any other port are wiped, counted and dropped.
 */
ssize_t qkd_nl_recv_datagram(struct qkd_nl *nl, int flags)
{
	for (;;) {
		uint32_t sender = UINT32_MAX;
		ssize_t r;

		r = nl->recv_fn ? nl->recv_fn(nl, nl->rbuf, QKD_NL_BUF_SIZE,
					      flags, &sender)
				: qkd_nl_sys_recv(nl, nl->rbuf, QKD_NL_BUF_SIZE,
						  flags, &sender);
		if (r < 0)
			return r;
		if (sender == 0)
			return r;
		explicit_bzero(nl->rbuf, (size_t)r);
		nl->foreign_dropped++;
	}
}

/* What one reply message did to the request. */
enum qkd_nl_step { QKD_NL_MORE, QKD_NL_DONE };

static enum qkd_nl_step qkd_nl_reply(struct qkd_nl *nl,
				     const struct nlmsghdr *m, bool dump,
				     qkd_nl_parse_fn parse, void *arg,
				     int *result, int *parse_err)
{
	if (m->nlmsg_type == NLMSG_NOOP || m->nlmsg_type == NLMSG_OVERRUN)
		return QKD_NL_MORE;
	if (m->nlmsg_type == NLMSG_ERROR ||
	    (dump && m->nlmsg_type == NLMSG_DONE)) {
		char scratch[QKD_NL_ERR_MAX];

		/* a reply the caller refused keeps its explanation */
		*result = qkd_nl_parse_ack(m, *parse_err ? scratch : nl->err,
					   &nl->err_off, &nl->err_miss);
		if (*result != -EBADMSG)
			nl->outcome_unknown = false;	/* the kernel said */
		else
			qkd_nl_set_error(nl, "malformed netlink ack");
		return QKD_NL_DONE;
	}
	if (m->nlmsg_type == NLMSG_DONE) {
		*result = -EPROTO;
		qkd_nl_set_error(nl, "NLMSG_DONE in reply to a request that is no dump");
		return QKD_NL_DONE;
	}
	if (m->nlmsg_flags & NLM_F_DUMP_INTR)
		nl->dump_intr = true;	/* the kernel's state changed meanwhile */
	if (parse && !*parse_err)
		*parse_err = parse(m, arg);
	return QKD_NL_MORE;
}

static int qkd_nl_send(struct qkd_nl *nl, const struct nlmsghdr *nlh)
{
	ssize_t r;

	if (nl->send_fn)
		r = nl->send_fn(nl, nlh, nlh->nlmsg_len);
	else
		r = send(mnl_socket_get_fd(nl->sock), nlh, nlh->nlmsg_len, 0);
	return r < 0 ? -errno : 0;
}

int qkd_nl_transact(struct qkd_nl *nl, struct nlmsghdr *nlh,
		    qkd_nl_parse_fn parse, void *arg)
{
	uint32_t seq = nlh->nlmsg_seq;
	bool dump = nlh->nlmsg_flags & NLM_F_DUMP;
	int result = 1, parse_err = 0, ret;
	size_t sent = nlh->nlmsg_len;

	qkd_nl_clear_error(nl);
	nl->outcome_unknown = false;
	nl->dump_intr = false;
	if (!nl->sock) {
		explicit_bzero(nl->sbuf, sent);
		qkd_nl_set_error(nl, "not connected to the qkd module");
		return -ENOTCONN;
	}
	ret = qkd_nl_send(nl, nlh);
	explicit_bzero(nl->sbuf, sent);		/* injected key material */
	if (ret) {
		qkd_nl_set_error(nl, "netlink send: %s", strerror(-ret));
		return ret;			/* a failed send sends nothing */
	}
	nl->outcome_unknown = true;		/* until an ack says otherwise */
	while (result == 1) {
		const struct nlmsghdr *m;
		ssize_t r = qkd_nl_recv_datagram(nl, 0);
		int left;

		if (r < 0) {
			if (errno == EINTR)
				continue;	/* the reply still comes */
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				qkd_nl_set_error(nl, "no reply from the qkd module within %u ms",
						 nl->rcvtimeo_ms);
				return -EAGAIN;
			}
			ret = -errno;
			qkd_nl_set_error(nl, "netlink receive: %s", strerror(errno));
			return ret;
		}
		left = (int)r;
		for (m = (const struct nlmsghdr *)nl->rbuf;
		     result == 1 && qkd_nlmsg_ok(m, left);
		     m = mnl_nlmsg_next(m, &left)) {
			if (m->nlmsg_seq != seq || m->nlmsg_pid != nl->portid)
				continue;	/* stale, or not ours */
			if (qkd_nl_reply(nl, m, dump, parse, arg, &result,
					 &parse_err) == QKD_NL_DONE)
				break;
		}
		explicit_bzero(nl->rbuf, (size_t)r);	/* take replies, echoes */
	}
	if (result)
		return result;
	if (parse_err) {
		if (!nl->err[0])
			qkd_nl_set_error(nl, "malformed reply from the qkd module");
		return parse_err;
	}
	return 0;
}

int qkd_nl_request_version(struct qkd_nl *nl, uint8_t cmd, uint8_t version,
			   uint16_t flags, qkd_nl_build_fn build,
			   void *build_arg, qkd_nl_parse_fn parse,
			   void *parse_arg)
{
	struct nlmsghdr *nlh;

	/* A dump ends with NLMSG_DONE; an extra ACK would linger. */
	if (!(flags & NLM_F_DUMP))
		flags |= NLM_F_ACK;
	nlh = qkd_nl_put_request(nl, nl->family, cmd, version, flags);
	if (build)
		build(nlh, build_arg);
	return qkd_nl_transact(nl, nlh, parse, parse_arg);
}

int qkd_nl_request(struct qkd_nl *nl, uint8_t cmd, uint16_t flags,
		   qkd_nl_build_fn build, void *build_arg,
		   qkd_nl_parse_fn parse, void *parse_arg)
{
	return qkd_nl_request_version(nl, cmd, QKD_FAMILY_VERSION, flags,
				      build, build_arg, parse, parse_arg);
}
