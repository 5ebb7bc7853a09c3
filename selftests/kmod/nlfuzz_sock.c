// SPDX-License-Identifier: GPL-2.0
/*
 * Raw generic netlink sockets for qkd_nlfuzz.  Not libqkd: the library is
 * for valid use and refuses to build what does not fit its checks, and a
 * fuzzer must send exactly the bytes it made (bad lengths, truncated
 * attributes, wrong flags) and match replies by sequence number itself,
 * skipping notifications and parts of dumps it left unread.
 *
 * Every request carries a fresh sequence number.  Requests the core may
 * drop without an answer, or that ask no ack, are followed by a NLMSG_NOOP
 * with NLM_F_ACK (acked by af_netlink itself, never delivered to a
 * family): its ack says that everything before it was handled.
 */
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "nlfuzz.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif
#define RXBUF		(64 * 1024)
#define TIMEOUT_S	5

int fz_sock_open(struct fz_sock *s)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = TIMEOUT_S };
	int one = 1, rcv = 1 << 20;

	memset(s, 0, sizeof(*s));
	s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (s->fd < 0)
		return -errno;
	/* CAP_ACK: an error ack must not echo an inject, key material and all */
	if (setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)) ||
	    setsockopt(s->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) ||
	    setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    bind(s->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(s->fd);
		s->fd = -1;
		return err;
	}
	/* room for notifications and dumps; FORCE works for root only */
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)))
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	s->seq = (uint32_t)getpid() << 16;
	return 0;
}

void fz_sock_close(struct fz_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->family = 0;
}

static const struct nlattr *attr_next(const struct nlattr *a, int *rem)
{
	*rem -= NLA_ALIGN(a->nla_len);
	return (const struct nlattr *)((const uint8_t *)a + NLA_ALIGN(a->nla_len));
}

#define for_each_attr(a, start, len, rem) \
	for ((a) = (start), (rem) = (len); (rem) >= NLA_HDRLEN && \
	     (a)->nla_len >= NLA_HDRLEN && (a)->nla_len <= (rem); \
	     (a) = attr_next((a), &(rem)))

static void parse_groups(struct fz_sock *s, const struct nlattr *grps)
{
	const struct nlattr *g, *a;
	int rem, rem2;

	for_each_attr(g, (const struct nlattr *)((const uint8_t *)grps + NLA_HDRLEN),
		      grps->nla_len - NLA_HDRLEN, rem) {
		uint32_t id = 0;
		const char *name = "";

		for_each_attr(a, (const struct nlattr *)((const uint8_t *)g + NLA_HDRLEN),
			      g->nla_len - NLA_HDRLEN, rem2) {
			if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GRP_ID)
				memcpy(&id, (const uint8_t *)a + NLA_HDRLEN, 4);
			if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GRP_NAME)
				name = (const char *)a + NLA_HDRLEN;
		}
		if (!strcmp(name, QKD_MCGRP_KEYS))
			s->grp_keys = id;
		else if (!strcmp(name, QKD_MCGRP_MONITOR))
			s->grp_monitor = id;
	}
}

/* CTRL_CMD_GETFAMILY "qkd": the family id and its groups. */
int fz_resolve(struct fz_sock *s)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		struct nlattr a;
		char name[4];
	} req = {
		.n = { sizeof(req), GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK,
		       ++s->seq, 0 },
		.g = { CTRL_CMD_GETFAMILY, 1, 0 },
		.a = { NLA_HDRLEN + 4, CTRL_ATTR_FAMILY_NAME },
		.name = QKD_FAMILY_NAME,
	};
	static __thread uint8_t buf[8192];
	const struct nlmsghdr *h;
	const struct nlattr *a;
	int rem;
	ssize_t n;

	s->family = 0;
	if (send(s->fd, &req, sizeof(req), 0) < 0)
		return -errno;
	for (;;) {
		n = recv(s->fd, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == ENOBUFS ? -EAGAIN : -errno;
		for (h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != req.n.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;

				return err ? err : (s->family ? 0 : -ENOENT);
			}
			if (h->nlmsg_type != GENL_ID_CTRL)
				continue;
			for_each_attr(a, (const struct nlattr *)((const uint8_t *)NLMSG_DATA(h) +
							      GENL_HDRLEN),
				      (int)h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, rem) {
				if (a->nla_type == CTRL_ATTR_FAMILY_ID)
					memcpy(&s->family, (const uint8_t *)a + NLA_HDRLEN, 2);
				if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GROUPS)
					parse_groups(s, a);
			}
		}
	}
}

int fz_subscribe(struct fz_sock *s)
{
	uint32_t g[2] = { s->grp_keys, s->grp_monitor };
	unsigned int i;

	for (i = 0; i < 2; i++)
		if (setsockopt(s->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
			       &g[i], sizeof(g[i])))
			return -errno;
	return 0;
}

static int send_barrier(struct fz_sock *s, uint32_t *seq)
{
	struct nlmsghdr n = { NLMSG_HDRLEN, NLMSG_NOOP,
			      NLM_F_REQUEST | NLM_F_ACK, ++s->seq, 0 };

	*seq = n.nlmsg_seq;
	return send(s->fd, &n, sizeof(n), 0) < 0 ? -errno : 0;
}

/* The extack message of an error ack, for the failure report. */
static void copy_extack(const struct nlmsghdr *h, struct fz_result *r)
{
	const struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off = NLMSG_HDRLEN + sizeof(*e);
	const struct nlattr *a;
	int rem;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS) || h->nlmsg_len < off)
		return;
	/* NETLINK_CAP_ACK: the request's header only, no payload */
	for_each_attr(a, (const struct nlattr *)((const uint8_t *)h + off),
		      (int)(h->nlmsg_len - off), rem)
		if (a->nla_type == NLMSGERR_ATTR_MSG)
			snprintf(r->extack, sizeof(r->extack), "%.*s",
				 (int)(a->nla_len - NLA_HDRLEN),
				 (const char *)a + NLA_HDRLEN);
}

struct fz_wait {
	uint32_t seq, bseq;
	bool dump, seq_done, bdone, barrier;
};

/* The messages of one datagram: ours by seq, the barrier's ack, strays. */
static void take_msgs(const uint8_t *buf, ssize_t n, struct fz_wait *w,
		      struct fz_result *r)
{
	const struct nlmsghdr *h;

	for (h = (const void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		if (w->barrier && h->nlmsg_seq == w->bseq &&
		    h->nlmsg_type == NLMSG_ERROR) {
			w->bdone = true;
		} else if (h->nlmsg_seq != w->seq || w->seq_done) {
			r->strays++;
		} else if (h->nlmsg_type == NLMSG_ERROR) {
			r->answered = true;
			r->err = -((const struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (r->err)
				copy_extack(h, r);
			w->seq_done = true;
		} else if (h->nlmsg_type == NLMSG_DONE) {
			r->answered = true;
			if (h->nlmsg_len >= NLMSG_HDRLEN + sizeof(int))
				r->err = -*(const int *)NLMSG_DATA(h);
			w->seq_done = true;
		} else {
			r->parts++;
			/* a link added or deleted between two rounds of a dump */
			r->intr += !!(h->nlmsg_flags & NLM_F_DUMP_INTR);
		}
	}
}

/*
 * Send m and wait for its answer (or the barrier's).  0, or -errno of
 * send/recv; a lost answer is r->timeout after TIMEOUT_S.
 */
int fz_exchange(struct fz_sock *s, struct fz_msg *m, struct fz_result *r)
{
	static __thread uint8_t buf[RXBUF];
	struct fz_wait w = { .dump = m->dump, .barrier = m->barrier };
	ssize_t n;
	int err;

	memset(r, 0, sizeof(*r));
	w.seq = ++s->seq;
	if (m->len >= 12)
		memcpy(m->buf + 8, &w.seq, sizeof(w.seq));
	if (send(s->fd, m->buf, m->len, 0) < 0)
		return -errno;
	if (w.barrier && (err = send_barrier(s, &w.bseq)))
		return err;
	if (m->abandon)
		return 0;
	while (!(w.barrier ? w.bdone : w.seq_done)) {
		n = recv(s->fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			r->timeout = true;
			break;
		}
		if (n < 0 && errno == ENOBUFS) {
			/* lost messages: our answer may be among them */
			r->overrun = true;
			if (!w.barrier) {
				w.barrier = true;
				if ((err = send_barrier(s, &w.bseq)))
					return err;
			}
			continue;
		}
		if (n < 0)
			return -errno;
		take_msgs(buf, n, &w, r);
		if (m->close_after)
			break;
	}
	return 0;
}

static void stats_attrs(const struct nlmsghdr *h, uint64_t v[QKD_STATS_A_MAX + 1],
			uint64_t *links)
{
	const struct nlattr *a, *b;
	int rem, rem2;

	for_each_attr(a, (const struct nlattr *)((const uint8_t *)NLMSG_DATA(h) +
						 GENL_HDRLEN),
		      (int)h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, rem) {
		if (a->nla_type == QKD_A_LINK_COUNT)
			*links = *(const uint32_t *)((const uint8_t *)a + NLA_HDRLEN);
		if ((a->nla_type & NLA_TYPE_MASK) != QKD_A_STATS)
			continue;
		for_each_attr(b, (const struct nlattr *)((const uint8_t *)a + NLA_HDRLEN),
			      a->nla_len - NLA_HDRLEN, rem2)
			if (b->nla_type <= QKD_STATS_A_MAX &&
			    b->nla_len == NLA_HDRLEN + 8)
				memcpy(&v[b->nla_type], (const uint8_t *)b + NLA_HDRLEN, 8);
	}
}

int fz_ns_stats(struct fz_sock *s, uint64_t *links, uint64_t *keys,
		uint64_t *bytes, uint64_t *bytes_high)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
	} req = {
		.n = { sizeof(req), s->family, NLM_F_REQUEST | NLM_F_ACK,
		       ++s->seq, 0 },
		.g = { QKD_CMD_STATS_GET, QKD_FAMILY_VERSION, 0 },
	};
	uint64_t v[QKD_STATS_A_MAX + 1] = { 0 };
	static __thread uint8_t buf[8192];
	const struct nlmsghdr *h;
	ssize_t n;

	*links = UINT64_MAX;
	if (send(s->fd, &req, sizeof(req), 0) < 0)
		return -errno;
	for (;;) {
		n = recv(s->fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		for (h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != req.n.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				*keys = v[QKD_STATS_A_KEYS_BUFFERED];
				*bytes = v[QKD_STATS_A_BYTES_BUFFERED];
				*bytes_high = v[QKD_STATS_A_BYTES_HIGH_WATER];
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			}
			if (h->nlmsg_type == s->family)
				stats_attrs(h, v, links);
		}
	}
}
