// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libqkd: the "notify" multicast group (low watermark, key wanted, key
 * expired, link deleted) and the names of roles, notifications and
 * counters.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "internal.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

const char *qkd_role_name(uint8_t role)
{
	switch (role) {
	case QKD_KEY_ROLE_INITIATOR:
		return "initiator";
	case QKD_KEY_ROLE_RESPONDER:
		return "responder";
	default:
		return NULL;
	}
}

uint8_t qkd_role_from_name(const char *name)
{
	uint8_t r;

	for (r = 1; r <= QKD_KEY_ROLE_MAX; r++)
		if (name && !strcmp(name, qkd_role_name(r)))
			return r;
	return QKD_KEY_ROLE_UNSPEC;
}

const char *qkd_ntf_name(uint8_t cmd)
{
	switch (cmd) {
	case QKD_CMD_LOW_WATERMARK_NTF:
		return "low-watermark";
	case QKD_CMD_KEY_WANTED_NTF:
		return "key-wanted";
	case QKD_CMD_KEY_EXPIRED_NTF:
		return "key-expired";
	case QKD_CMD_LINK_DEL_NTF:
		return "link-del";
	case QKD_CMD_KEY_READY_NTF:
		return "key-ready";
	case QKD_CMD_LINK_NEW_NTF:
		return "link-new";
	case QKD_CMD_LINK_SET_NTF:
		return "link-set";
	default:
		return NULL;
	}
}

const char *qkd_stat_name(unsigned int type)
{
	static const char *const names[QKD_STATS_A_MAX + 1] = {
		[QKD_STATS_A_INJECTED] = "injected",
		[QKD_STATS_A_TAKEN] = "taken",
		[QKD_STATS_A_EXPIRED] = "expired",
		[QKD_STATS_A_FLUSHED] = "flushed",
		[QKD_STATS_A_REJECTED_DUPLICATE] = "rejected_duplicate",
		[QKD_STATS_A_REJECTED_CAP] = "rejected_cap",
		[QKD_STATS_A_REJECTED_NOT_FOUND] = "rejected_not_found",
		[QKD_STATS_A_RATE_LIMITED] = "rate_limited",
		[QKD_STATS_A_KEYS_BUFFERED] = "keys_buffered",
		[QKD_STATS_A_INITIATOR_KEYS] = "initiator_keys",
		[QKD_STATS_A_BYTES_BUFFERED] = "bytes_buffered",
		[QKD_STATS_A_BYTES_HIGH_WATER] = "bytes_high_water",
		[QKD_STATS_A_WANTED] = "wanted",
		[QKD_STATS_A_LOW_WATERMARK] = "low_watermark",
		[QKD_STATS_A_REJECTED_REUSED] = "rejected_reused",
		[QKD_STATS_A_PENDING] = "pending",
		[QKD_STATS_A_RESERVED] = "reserved",
	};

	return type <= QKD_STATS_A_MAX ? names[type] : NULL;
}

static int qkd_nl_join(struct qkd_nl *nl, uint32_t grp, const char *name)
{
	int id = (int)grp, ret;

	if (setsockopt(mnl_socket_get_fd(nl->sock), SOL_NETLINK,
		       NETLINK_ADD_MEMBERSHIP, &id, sizeof(id)) < 0) {
		ret = -errno;
		qkd_nl_set_error(nl, "join group '%s': %s", name, strerror(errno));
		return ret;
	}
	return 0;
}

int qkd_nl_subscribe(struct qkd_nl *nl, unsigned int groups)
{
	int ret = 0;

	if (!nl->sock || !nl->mcgrp_keys) {
		qkd_nl_set_error(nl, "not connected to the qkd module");
		return -ENOTCONN;
	}
	if (!(groups & QKD_NL_GROUPS_ALL) || (groups & ~QKD_NL_GROUPS_ALL)) {
		qkd_nl_set_error(nl, "groups 0x%x: want QKD_NL_GROUP_KEYS and/or QKD_NL_GROUP_MONITOR",
				 groups);
		return -EINVAL;
	}
	if (groups & QKD_NL_GROUP_KEYS)
		ret = qkd_nl_join(nl, nl->mcgrp_keys, QKD_MCGRP_KEYS);
	if (!ret && (groups & QKD_NL_GROUP_MONITOR))
		ret = qkd_nl_join(nl, nl->mcgrp_monitor, QKD_MCGRP_MONITOR);
	if (!ret)
		nl->subscribed = true;
	return ret;
}

static bool qkd_ntf_parse_attr(const struct nlattr *a, struct qkd_ntf *ntf)
{
	switch (mnl_attr_get_type(a)) {
	case QKD_A_LINK_NAME:
		qkd_nl_copy_str(ntf->link_name, sizeof(ntf->link_name), a);
		return true;
	case QKD_A_REMOTE_SAE_ID:
		qkd_nl_copy_str(ntf->remote_sae_id, sizeof(ntf->remote_sae_id), a);
		return true;
	case QKD_A_KEY_ID:
		if (mnl_attr_get_payload_len(a) != QKD_KEY_ID_LEN)
			return false;
		memcpy(ntf->key_id, mnl_attr_get_payload(a), QKD_KEY_ID_LEN);
		ntf->has_key_id = true;
		return true;
	case QKD_A_KEY_ROLE:
		return qkd_nl_get_u8(a, &ntf->role);
	case QKD_A_KEY_COUNT:
		return qkd_nl_get_u32(a, &ntf->key_count);
	case QKD_A_LOW_WATERMARK:
		return qkd_nl_get_u32(a, &ntf->low_watermark);
	case QKD_A_STATUS:
		return qkd_nl_get_u32(a, &ntf->status);
	default:
		return true;
	}
}

int qkd_ntf_parse(const struct nlmsghdr *nlh, uint16_t family,
		  struct qkd_ntf *ntf)
{
	const struct genlmsghdr *genl;
	const struct nlattr *a;

	memset(ntf, 0, sizeof(*ntf));
	if (!family || nlh->nlmsg_type != family || qkd_nl_genl_ok(nlh, -1))
		return -ENOMSG;
	genl = mnl_nlmsg_get_payload(nlh);
	if (!qkd_ntf_name(genl->cmd))
		return -ENOMSG;
	ntf->cmd = genl->cmd;
	qkd_attr_for_each(a, nlh, GENL_HDRLEN) {
		if (!qkd_ntf_parse_attr(a, ntf))
			return -EPROTO;
		if (mnl_attr_get_type(a) <= QKD_A_MAX)
			ntf->present |= 1ULL << mnl_attr_get_type(a);
	}
	return ntf->link_name[0] ? 0 : -EPROTO;
}

/* The next notification in what is left of the datagram in nl->rbuf. */
static int qkd_ntf_next(struct qkd_nl *nl, struct qkd_ntf *ntf)
{
	while (nl->ntf_off < nl->ntf_len) {
		const struct nlmsghdr *m =
			(const struct nlmsghdr *)(nl->rbuf + nl->ntf_off);
		int left = (int)(nl->ntf_len - nl->ntf_off);

		if (!qkd_nlmsg_ok(m, left))
			break;
		nl->ntf_off += MNL_ALIGN(m->nlmsg_len);
		if (!qkd_ntf_parse(m, nl->family, ntf))
			return 1;
	}
	explicit_bzero(nl->rbuf, nl->ntf_len);
	nl->ntf_off = nl->ntf_len = 0;
	return 0;
}

static int qkd_ntf_wait(struct qkd_nl *nl, int timeout_ms)
{
	struct pollfd pfd = { .fd = qkd_nl_fd(nl), .events = POLLIN };
	int r;

	if (nl->recv_fn)
		return 1;	/* a test's fake socket is always ready */
	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR && timeout_ms < 0);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r;
}

int qkd_ntf_recv(struct qkd_nl *nl, struct qkd_ntf *ntf, int timeout_ms)
{
	memset(ntf, 0, sizeof(*ntf));
	if (!nl->subscribed) {
		qkd_nl_set_error(nl, "not subscribed to a notification group");
		return -ENOTCONN;
	}
	for (;;) {
		ssize_t r;
		int ready;

		if (qkd_ntf_next(nl, ntf))
			return 1;
		ready = qkd_ntf_wait(nl, timeout_ms);
		if (ready <= 0)
			return ready;
		r = qkd_nl_recv_datagram(nl, MSG_DONTWAIT);
		if (r < 0) {
			int ret = -errno;

			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (timeout_ms == 0 || nl->recv_fn)
					return 0;
				continue;	/* woken, nothing for us */
			}
			if (errno == EINTR)
				return 0;
			if (errno == ENOBUFS)
				qkd_nl_set_error(nl, "notifications were lost (socket overrun)");
			else
				qkd_nl_set_error(nl, "netlink receive: %s", strerror(errno));
			return ret;
		}
		nl->ntf_off = 0;
		nl->ntf_len = (size_t)r;
	}
}
