// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The real sink: the "qkd" generic netlink family (include/uapi/linux/qkd.h)
 * through libmnl.  One socket for commands (with extended acks, whose
 * messages are kept in sink->last_error), one joined to the "notify"
 * multicast group.  Both are connect()ed to the kernel (nl_pid 0), so the
 * kernel refuses unicasts to them from other processes, and every message
 * received is checked to come from nl_pid 0 as well (forged notifications
 * or replies are dropped).  Receive buffers are wiped after use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/uio.h>
#include "log.h"
#include "secmem.h"
#include "sink.h"
#include "../../include/uapi/linux/qkd.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#define NL_SNDBUF (64 * 1024)	/* holds key material: sec_malloc'd, wiped */
#define NL_RCVBUF (64 * 1024)

struct nl {
	struct mnl_socket *cmd, *ntf;
	uint16_t family;
	uint32_t mcgrp;
	uint32_t seq;
	char *sbuf;
	char rbuf[NL_RCVBUF];
};

int sink_netlink_setup(struct sink *s)
{
	struct nl *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->sbuf = sec_malloc(NL_SNDBUF);
	if (!n->sbuf) {
		free(n);
		return -ENOMEM;
	}
	n->seq = (uint32_t)time(NULL);
	s->ops = &sink_netlink_ops;
	s->priv = n;
	return 0;
}

static void nl_close_socks(struct nl *n)
{
	if (n->cmd)
		mnl_socket_close(n->cmd);
	if (n->ntf)
		mnl_socket_close(n->ntf);
	n->cmd = n->ntf = NULL;
	n->family = 0;
}

static struct nlmsghdr *put_hdr(struct nl *n, uint16_t type, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *h;
	struct genlmsghdr *g;

	memset(n->sbuf, 0, MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr)));
	h = mnl_nlmsg_put_header(n->sbuf);
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = ++n->seq;
	g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return h;
}

struct ext_ctx {
	const char *msg;
};

static int ext_cb(const struct nlattr *a, void *data)
{
	struct ext_ctx *x = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		x->msg = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

/*
 * Receive one datagram from the kernel into buf.  Datagrams from any other
 * sender (nl_pid != 0) are wiped and dropped.  Bytes or -1 with errno;
 * a truncated datagram fails with ENOBUFS.
 */
static ssize_t nl_recv(int fd, char *buf, size_t len, int flags)
{
	for (;;) {
		struct sockaddr_nl sa;
		struct iovec iov = { buf, len };
		struct msghdr msg = { .msg_name = &sa, .msg_namelen = sizeof(sa),
				      .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r;

		memset(&sa, 0, sizeof(sa));
		r = recvmsg(fd, &msg, flags);
		if (r < 0)
			return r;
		if (msg.msg_namelen != sizeof(sa) || sa.nl_family != AF_NETLINK || sa.nl_pid != 0) {
			sec_wipe(buf, (size_t)r < len ? (size_t)r : len);
			log_warn("netlink: dropped a message from port %u (not the kernel)",
				 (unsigned)sa.nl_pid);
			continue;
		}
		if (msg.msg_flags & MSG_TRUNC) {
			sec_wipe(buf, len);
			errno = ENOBUFS;
			return -1;
		}
		return r;
	}
}

/* Send h; run cb on each reply until the ack.  0 or -errno.  When the
 * request left but no ack (NLMSG_ERROR) settles it, s->maybe_delivered is
 * set: the kernel may or may not have carried it out. */
static int transact(struct sink *s, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
	struct nl *n = s->priv;
	uint32_t seq = h->nlmsg_seq, portid = mnl_socket_get_portid(n->cmd);
	ssize_t r;
	size_t len = h->nlmsg_len;

	s->last_error[0] = '\0';
	s->maybe_delivered = 0;
	r = mnl_socket_sendto(n->cmd, h, len);
	sec_wipe(n->sbuf, len);		/* injected key material */
	if (r < 0)
		return -errno;		/* a failed send sends nothing */
	s->maybe_delivered = 1;		/* until an ack says otherwise */
	for (;;) {
		struct nlmsghdr *m;
		int left, ret = 1;	/* 1: keep reading */

		r = nl_recv(mnl_socket_get_fd(n->cmd), n->rbuf, sizeof(n->rbuf), 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;	/* a signal: the reply still comes */
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -errno;
		}
		left = (int)r;
		for (m = (struct nlmsghdr *)n->rbuf; ret == 1 && mnl_nlmsg_ok(m, left);
		     m = mnl_nlmsg_next(m, &left)) {
			if (m->nlmsg_seq != seq || m->nlmsg_pid != portid)
				continue;
			if (m->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = mnl_nlmsg_get_payload(m);

				if (m->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*e)) {
					snprintf(s->last_error, sizeof(s->last_error), "short ack");
					ret = -EPROTO;
					break;
				}

				if (m->nlmsg_flags & NLM_F_ACK_TLVS) {
					struct ext_ctx x = { NULL };
					size_t off = sizeof(*e);

					if (!(m->nlmsg_flags & NLM_F_CAPPED))
						off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
					if (MNL_NLMSG_HDRLEN + off <= m->nlmsg_len)
						mnl_attr_parse(m, (unsigned int)off, ext_cb, &x);
					if (x.msg)
						snprintf(s->last_error, sizeof(s->last_error), "%s", x.msg);
				}
				s->maybe_delivered = 0;	/* the kernel said how it went */
				ret = e->error;		/* 0 or -errno */
				break;
			}
			if (m->nlmsg_type == NLMSG_DONE) {
				/* end of a dump; for a plain request no ack */
				if (cb)
					s->maybe_delivered = 0;
				ret = cb ? 0 : -EPROTO;
				break;
			}
			if (cb && cb(m, data) < 0) {
				ret = -EPROTO;
				break;
			}
		}
		sec_wipe(n->rbuf, (size_t)r);	/* an ack may echo the request */
		if (ret != 1)
			return ret;
	}
}

struct fam_ctx {
	uint16_t id;
	uint32_t grp;
};

static int grp_cb(const struct nlattr *a, void *data)
{
	struct fam_ctx *f = data;
	const struct nlattr *g;
	const char *name = NULL;
	uint32_t id = 0;

	mnl_attr_for_each_nested(g, a) {
		if (mnl_attr_get_type(g) == CTRL_ATTR_MCAST_GRP_NAME &&
		    !mnl_attr_validate(g, MNL_TYPE_NUL_STRING))
			name = mnl_attr_get_str(g);
		else if (mnl_attr_get_type(g) == CTRL_ATTR_MCAST_GRP_ID &&
			 !mnl_attr_validate(g, MNL_TYPE_U32))
			id = mnl_attr_get_u32(g);
	}
	if (name && !strcmp(name, QKD_MCGRP_NOTIFY))
		f->grp = id;
	return MNL_CB_OK;
}

static int fam_attr_cb(const struct nlattr *a, void *data)
{
	struct fam_ctx *f = data;

	if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && !mnl_attr_validate(a, MNL_TYPE_U16))
		f->id = mnl_attr_get_u16(a);
	else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GROUPS)
		mnl_attr_parse_nested(a, grp_cb, f);
	return MNL_CB_OK;
}

static int fam_cb(const struct nlmsghdr *m, void *data)
{
	return mnl_attr_parse(m, sizeof(struct genlmsghdr), fam_attr_cb, data);
}

static int nl_open(struct sink *s)
{
	struct nl *n = s->priv;
	struct fam_ctx f = { 0, 0 };
	struct nlmsghdr *h;
	int one = 1, r;

	nl_close_socks(n);
	n->cmd = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	n->ntf = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!n->cmd || !n->ntf || mnl_socket_bind(n->cmd, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_bind(n->ntf, 0, MNL_SOCKET_AUTOPID)) {
		r = -errno;
		nl_close_socks(n);
		return r;
	}
	/* Never block forever on a reply: a daemon must notice a stuck
	 * kernel side and reconnect.  CAP_ACK is required: without it an
	 * error ack would echo the whole inject request, key material and
	 * all, into our receive buffer. */
	{
		struct timeval tv = { .tv_sec = 5, .tv_usec = 0 };
		struct sockaddr_nl k = { .nl_family = AF_NETLINK };	/* nl_pid 0: kernel */

		if (setsockopt(mnl_socket_get_fd(n->cmd), SOL_SOCKET, SO_RCVTIMEO, &tv,
			       sizeof(tv)) ||
		    mnl_socket_setsockopt(n->cmd, NETLINK_CAP_ACK, &one, sizeof(one)) ||
		    connect(mnl_socket_get_fd(n->cmd), (struct sockaddr *)&k, sizeof(k)) ||
		    connect(mnl_socket_get_fd(n->ntf), (struct sockaddr *)&k, sizeof(k))) {
			r = -errno;
			snprintf(s->last_error, sizeof(s->last_error),
				 "netlink socket setup (SO_RCVTIMEO, NETLINK_CAP_ACK, connect) failed");
			nl_close_socks(n);
			return r;
		}
	}
	/* extended acks are only for the messages in the log: optional */
	mnl_socket_setsockopt(n->cmd, NETLINK_EXT_ACK, &one, sizeof(one));
	h = put_hdr(n, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(h, CTRL_ATTR_FAMILY_NAME, QKD_FAMILY_NAME);
	r = transact(s, h, fam_cb, &f);
	if (r == 0 && !f.id)
		r = -ENOENT;
	if (r == 0 && !f.grp) {
		snprintf(s->last_error, sizeof(s->last_error), "family has no '%s' group",
			 QKD_MCGRP_NOTIFY);
		r = -EPROTO;
	}
	if (r == 0) {
		n->family = f.id;
		n->mcgrp = f.grp;
		if (mnl_socket_setsockopt(n->ntf, NETLINK_ADD_MEMBERSHIP, &n->mcgrp,
					  sizeof(n->mcgrp)))
			r = -errno;
	}
	if (r)
		nl_close_socks(n);
	return r;
}

static void nl_close(struct sink *s)
{
	struct nl *n = s->priv;

	if (!n)
		return;
	nl_close_socks(n);
	sec_free(n->sbuf);
	free(n);
	s->priv = NULL;
}

static int nl_fd(struct sink *s)
{
	struct nl *n = s->priv;

	return n->ntf ? mnl_socket_get_fd(n->ntf) : -1;
}

/* Family gone (module unloaded): genl answers ENOENT/EOPNOTSUPP. */
static int fam_err(struct sink *s, int r)
{
	struct nl *n = s->priv;

	if (!n->cmd)
		return -ENOENT;
	return r;
}

struct get_ctx {
	int found;
	uint64_t initiator;
	char local[QKD_SAE_ID_MAX], remote[QKD_SAE_ID_MAX];
	/* limits, by attribute type; have[] says which the reply carried */
	uint32_t lim[QKD_A_MAX + 1];
	uint8_t have[QKD_A_MAX + 1];
};

static int stats_cb(const struct nlattr *a, void *data)
{
	struct get_ctx *g = data;

	if (mnl_attr_get_type(a) == QKD_STATS_A_INITIATOR_KEYS &&
	    !mnl_attr_validate(a, MNL_TYPE_U64))
		g->initiator = mnl_attr_get_u64(a);
	return MNL_CB_OK;
}

static int get_attr_cb(const struct nlattr *a, void *data)
{
	struct get_ctx *g = data;

	switch (mnl_attr_get_type(a)) {
	case QKD_A_STATS:
		g->found = 1;
		mnl_attr_parse_nested(a, stats_cb, g);
		break;
	case QKD_A_LOCAL_SAE_ID:
		if (!mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(g->local, sizeof(g->local), "%s", mnl_attr_get_str(a));
		break;
	case QKD_A_REMOTE_SAE_ID:
		if (!mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(g->remote, sizeof(g->remote), "%s", mnl_attr_get_str(a));
		break;
	case QKD_A_MAX_KEYS:
	case QKD_A_MAX_BYTES:
	case QKD_A_KEY_TTL:
	case QKD_A_RATE:
	case QKD_A_BURST:
	case QKD_A_LOW_WATERMARK:
		if (!mnl_attr_validate(a, MNL_TYPE_U32)) {
			g->lim[mnl_attr_get_type(a)] = mnl_attr_get_u32(a);
			g->have[mnl_attr_get_type(a)] = 1;
		}
		break;
	}
	return MNL_CB_OK;
}

static int get_cb(const struct nlmsghdr *m, void *data)
{
	return mnl_attr_parse(m, sizeof(struct genlmsghdr), get_attr_cb, data);
}

static int link_get(struct sink *s, const char *link, struct get_ctx *g)
{
	struct nl *n = s->priv;
	struct nlmsghdr *h;

	if (!n->cmd)
		return -ENOENT;
	memset(g, 0, sizeof(*g));
	h = put_hdr(n, n->family, QKD_CMD_LINK_GET, QKD_FAMILY_VERSION);
	mnl_attr_put_strz(h, QKD_A_LINK_NAME, link);
	return fam_err(s, transact(s, h, get_cb, g));
}

static int nl_ensure(struct sink *s, const struct conf_link *l)
{
	struct nl *n = s->priv;
	struct get_ctx g;
	struct nlmsghdr *h;
	int r, tries = 0;

again:
	r = link_get(s, l->name, &g);
	if (r == 0) {
		/* The link exists (made by an admin, or kept over our restart):
		 * bring the limits this configuration names into line, above
		 * all the low watermark that wakes the refills. */
		const struct { int attr; uint32_t want; const char *name; } lims[] = {
			{ QKD_A_MAX_KEYS, l->max_keys, "max_keys" },
			{ QKD_A_MAX_BYTES, l->max_bytes, "max_bytes" },
			{ QKD_A_KEY_TTL, l->key_ttl, "key_ttl" },
			{ QKD_A_RATE, l->rate, "rate" },
			{ QKD_A_BURST, l->burst, "burst" },
			{ QKD_A_LOW_WATERMARK, l->role != ROLE_SLAVE ? l->low_watermark : 0,
			  "low_watermark" },
		};
		size_t i;
		int nset = 0;

		/* Keys for one SAE pair must never go into a link of
		 * another pair: refuse the link (no inject) until an admin
		 * deletes it or fixes the configuration. */
		if (strcmp(g.local, l->local_sae_id) || strcmp(g.remote, l->remote_sae_id)) {
			snprintf(s->last_error, sizeof(s->last_error),
				 "the module's link has SAE IDs '%s' -> '%s', the configuration "
				 "'%s' -> '%s'; not using it", g.local, g.remote, l->local_sae_id,
				 l->remote_sae_id);
			return -EEXIST;
		}
		h = put_hdr(n, n->family, QKD_CMD_LINK_SET, QKD_FAMILY_VERSION);
		mnl_attr_put_strz(h, QKD_A_LINK_NAME, l->name);
		for (i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
			if (!lims[i].want || !g.have[lims[i].attr] ||
			    g.lim[lims[i].attr] == lims[i].want)
				continue;
			log_info("link %s: existing link: setting %s to %u (was %u)", l->name,
				 lims[i].name, lims[i].want, g.lim[lims[i].attr]);
			mnl_attr_put_u32(h, (uint16_t)lims[i].attr, lims[i].want);
			nset++;
		}
		if (nset) {
			r = fam_err(s, transact(s, h, NULL, NULL));
			if (r)
				log_warn("link %s: LINK_SET failed: %s%s%s", l->name, strerror(-r),
					 s->last_error[0] ? ": " : "", s->last_error);
			if (r == -ENOENT || r == -ETIMEDOUT || r == -ENODEV)
				return r;
		}
		return 0;
	}
	if (r != -ENODEV)
		return r;
	h = put_hdr(n, n->family, QKD_CMD_LINK_NEW, QKD_FAMILY_VERSION);
	mnl_attr_put_strz(h, QKD_A_LINK_NAME, l->name);
	mnl_attr_put_strz(h, QKD_A_LOCAL_SAE_ID, l->local_sae_id);
	mnl_attr_put_strz(h, QKD_A_REMOTE_SAE_ID, l->remote_sae_id);
	if (l->max_keys)
		mnl_attr_put_u32(h, QKD_A_MAX_KEYS, l->max_keys);
	if (l->max_bytes)
		mnl_attr_put_u32(h, QKD_A_MAX_BYTES, l->max_bytes);
	if (l->key_ttl)
		mnl_attr_put_u32(h, QKD_A_KEY_TTL, l->key_ttl);
	if (l->rate)
		mnl_attr_put_u32(h, QKD_A_RATE, l->rate);
	if (l->burst)
		mnl_attr_put_u32(h, QKD_A_BURST, l->burst);
	if (l->role != ROLE_SLAVE && l->low_watermark)
		mnl_attr_put_u32(h, QKD_A_LOW_WATERMARK, l->low_watermark);
	r = fam_err(s, transact(s, h, NULL, NULL));
	if (r == -EEXIST && !tries++)
		goto again;	/* created meanwhile by someone else: check it */
	return r ? r : 1;
}

static int nl_level(struct sink *s, const char *link, uint32_t *init)
{
	struct get_ctx g;
	int r = link_get(s, link, &g);

	if (r)
		return r;
	if (!g.found) {
		snprintf(s->last_error, sizeof(s->last_error), "LINK_GET reply without QKD_A_STATS");
		return -EPROTO;
	}
	*init = g.initiator > UINT32_MAX ? UINT32_MAX : (uint32_t)g.initiator;
	return 0;
}

static int nl_inject(struct sink *s, const char *link, const struct etsi_keys *ks,
		     size_t off, size_t cnt, int role)
{
	struct nl *n = s->priv;
	struct nlmsghdr *h;
	size_t i;

	s->maybe_delivered = 0;
	if (!n->cmd)
		return -ENOENT;
	if (cnt == 0 || cnt > QKD_INJECT_MAX_KEYS || cnt > SINK_INJECT_BATCH)
		return -EINVAL;
	h = put_hdr(n, n->family, QKD_CMD_KEY_INJECT, QKD_FAMILY_VERSION);
	mnl_attr_put_strz(h, QKD_A_LINK_NAME, link);
	for (i = off; i < off + cnt; i++) {
		struct nlattr *nest = mnl_attr_nest_start_check(h, NL_SNDBUF, QKD_A_KEY);

		if (!nest ||
		    !mnl_attr_put_check(h, NL_SNDBUF, QKD_KEY_A_ID, 16, ks->keys[i].id) ||
		    !mnl_attr_put_check(h, NL_SNDBUF, QKD_KEY_A_MATERIAL, ks->keys[i].len,
					ks->keys[i].key) ||
		    !mnl_attr_put_u8_check(h, NL_SNDBUF, QKD_KEY_A_ROLE, (uint8_t)role)) {
			sec_wipe(n->sbuf, NL_SNDBUF);
			return -EMSGSIZE;
		}
		mnl_attr_nest_end(h, nest);
	}
	return fam_err(s, transact(s, h, NULL, NULL));
}

struct ev_ctx {
	struct sink_event *ev;
};

static int ev_attr_cb(const struct nlattr *a, void *data)
{
	struct sink_event *ev = ((struct ev_ctx *)data)->ev;

	switch (mnl_attr_get_type(a)) {
	case QKD_A_LINK_NAME:
		if (!mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(ev->link, sizeof(ev->link), "%s", mnl_attr_get_str(a));
		break;
	case QKD_A_REMOTE_SAE_ID:
		if (!mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(ev->remote_sae, sizeof(ev->remote_sae), "%s", mnl_attr_get_str(a));
		break;
	case QKD_A_KEY_ID:
		if (mnl_attr_get_payload_len(a) == QKD_KEY_ID_LEN)
			memcpy(ev->key_id, mnl_attr_get_payload(a), QKD_KEY_ID_LEN);
		break;
	case QKD_A_KEY_COUNT:
		if (!mnl_attr_validate(a, MNL_TYPE_U32))
			ev->key_count = mnl_attr_get_u32(a);
		break;
	case QKD_A_LOW_WATERMARK:
		if (!mnl_attr_validate(a, MNL_TYPE_U32))
			ev->low_watermark = mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int nl_events(struct sink *s, struct sink_event *ev, int max)
{
	struct nl *n = s->priv;
	int cnt = 0;

	if (!n->ntf)
		return 0;
	while (cnt < max) {
		ssize_t r = nl_recv(mnl_socket_get_fd(n->ntf), n->rbuf, sizeof(n->rbuf), MSG_DONTWAIT);
		struct nlmsghdr *m;
		int left;

		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == ENOBUFS) {	/* overrun: notifications lost */
				memset(&ev[cnt], 0, sizeof(ev[cnt]));
				ev[cnt++].type = SINK_EV_RESYNC;
				continue;
			}
			return -errno;
		}
		left = (int)r;
		for (m = (struct nlmsghdr *)n->rbuf; mnl_nlmsg_ok(m, left) && cnt < max;
		     m = mnl_nlmsg_next(m, &left)) {
			struct genlmsghdr *g;
			struct ev_ctx x = { &ev[cnt] };

			if (m->nlmsg_type != n->family ||
			    m->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*g))
				continue;
			g = mnl_nlmsg_get_payload(m);
			memset(&ev[cnt], 0, sizeof(ev[cnt]));
			switch (g->cmd) {
			case QKD_CMD_LOW_WATERMARK_NTF:
				ev[cnt].type = SINK_EV_LOW_WATERMARK;
				break;
			case QKD_CMD_KEY_WANTED_NTF:
				ev[cnt].type = SINK_EV_KEY_WANTED;
				break;
			case QKD_CMD_LINK_DEL_NTF:
				ev[cnt].type = SINK_EV_LINK_DEL;
				break;
			default:
				continue;	/* KEY_EXPIRED_NTF etc.: poll covers it */
			}
			mnl_attr_parse(m, sizeof(*g), ev_attr_cb, &x);
			if (ev[cnt].link[0])
				cnt++;
		}
		sec_wipe(n->rbuf, (size_t)r);
	}
	return cnt;
}

const struct sink_ops sink_netlink_ops = {
	.name = "netlink",
	.open = nl_open,
	.close = nl_close,
	.fd = nl_fd,
	.ensure_link = nl_ensure,
	.pool_level = nl_level,
	.inject = nl_inject,
	.events = nl_events,
	.tick = NULL,
};
