/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * NETLINK_XFRM plumbing (libnl-3 core): one request, its replies, and the
 * kernel's answer with the extended-ACK message.  The "qkd" family is
 * libqkd's; this serves only `qkdctl xfrm`'s SA dump.
 *
 * We run our own receive loop over nl_recv() instead of libnl's callback
 * machinery because (1) we want the extack text of errors, including errors
 * reported in NLMSG_DONE of a dump, which libnl 3.7 drops (libqkd's
 * qkd_nl_parse_ack() reads both), and (2) SA dumps carry the SAs' keys:
 * every receive buffer is wiped before it is freed.
 */
#ifndef QKDCTL_XFRM_NL_H
#define QKDCTL_XFRM_NL_H

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include <libqkd.h>

/* What went wrong: a positive errno plus the kernel's extack text. */
struct nl_status {
	int err;			/* 0: success */
	char msg[QKD_NL_ERR_MAX];	/* extack or local explanation, may be empty */
};

/*
 * Called for every reply message of the request (not for ACK/DONE).
 * Return 0 to go on, or a negative errno to fail the request (the loop
 * still drains the replies so the socket stays usable).
 */
typedef int (*nl_reply_fn)(struct nlmsghdr *nlh, void *arg);

/* Send msg (completing pid/seq/flags) and consume replies until ACK/DONE. */
int nl_transact(struct nl_sock *sk, struct nl_msg *msg, nl_reply_fn fn,
		void *arg, struct nl_status *st);

/* libnl reports NLE_* codes; callers want an errno to print and map. */
void status_from_nle(struct nl_status *st, int nle, const char *what);

#endif
