/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel's IPsec SAs (NETLINK_XFRM, libnl-3 core) as struct sa_info
 * (sakeying.h), for `qkdctl xfrm` and the agent's qkd_xfrm_* metrics: one
 * request, its replies, and the kernel's answer with the extended-ACK
 * message.  The "qkd" family is libqkd's.
 *
 * The SA dump is read with libnl-3's core socket and parsed here rather
 * than with libnl-xfrm: libnl-xfrm's getters copy every SA's key into
 * caller buffers and keep it in cache objects that are freed unwiped; here
 * only algorithm names and sizes are read, and nl_transact() wipes the
 * receive buffers.
 *
 * We run our own receive loop over nl_recv() instead of libnl's callback
 * machinery because (1) we want the extack text of errors, including errors
 * reported in NLMSG_DONE of a dump, which libnl 3.7 drops (libqkd's
 * qkd_nl_parse_ack() reads both), and (2) SA dumps carry the SAs' keys:
 * every receive buffer is wiped before it is freed.
 */
#ifndef QKD_XFRM_DUMP_H
#define QKD_XFRM_DUMP_H

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include <libqkd.h>

#include "sakeying.h"

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

/*
 * Decode one XFRM_MSG_NEWSA message of an SA dump: addresses, SPI (host
 * order), mode, reqid, counters, add time, algorithm names and sizes.
 * Key bytes are never copied.  Returns 0 or -EBADMSG.
 */
int xfrm_sa_parse(struct nlmsghdr *nlh, struct sa_info *sa);

/* Every SA of the caller's network namespace (needs CAP_NET_ADMIN).
 * Returns 0, or -1 with st filled. */
int xfrm_sa_dump(struct sa_list *out, struct nl_status *st);

#endif
