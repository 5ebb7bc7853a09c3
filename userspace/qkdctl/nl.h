/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Netlink plumbing: one request, its replies, and the kernel's answer with
 * the extended-ACK message, for the "qkd" generic netlink family and for
 * NETLINK_XFRM alike.
 *
 * We run our own receive loop over nl_recv() instead of libnl's callback
 * machinery because (1) we want the extack text of errors, including errors
 * reported in NLMSG_DONE of a dump, which libnl 3.7 drops, and (2) replies
 * can carry key material (KEY_TAKE, XFRM dumps): every receive buffer is
 * wiped before it is freed.
 */
#ifndef QKDCTL_NL_H
#define QKDCTL_NL_H

#include <stdbool.h>
#include <stdint.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

/* What went wrong: a positive errno plus the kernel's extack text. */
struct nl_status {
	int err;		/* 0: success */
	char msg[256];		/* extack message or local explanation, may be empty */
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

/* Parse an NLMSG_ERROR or NLMSG_DONE message into st.  Exposed for tests. */
void nl_parse_ack(const struct nlmsghdr *nlh, struct nl_status *st);

/* The qkd generic netlink family in the caller's network namespace. */
struct qkd_nl {
	struct nl_sock *sk;
	int family;
};

/*
 * Connect and resolve the family.  Returns 0; or -1 with st->err = ENOENT
 * when the family is not registered (the module is not loaded), or another
 * errno for socket trouble.
 */
int qkd_nl_open(struct qkd_nl *q, struct nl_status *st);
void qkd_nl_close(struct qkd_nl *q);
/* A request of this family: genl header filled, attributes to follow. */
struct nl_msg *qkd_nl_msg(struct qkd_nl *q, uint8_t cmd, int flags);
/* The same with room for size bytes (0: libnl's default, one page). */
struct nl_msg *qkd_nl_msg_size(struct qkd_nl *q, uint8_t cmd, int flags, size_t size);
/* Resolve the id of the family's "notify" multicast group. */
int qkd_nl_notify_group(struct qkd_nl *q, struct nl_status *st);

/* Free a request that may hold key material: wipe it first. */
void nl_msg_free_wiped(struct nl_msg *msg);

/* Attribute helpers that check the payload size the UAPI promises. */
bool nla_get_u32_checked(const struct nlattr *a, uint32_t *v);
bool nla_get_u64_checked(const struct nlattr *a, uint64_t *v);
bool nla_get_u8_checked(const struct nlattr *a, uint8_t *v);
/* Copy a string attribute; it need not be NUL-terminated in the message. */
void nla_get_str_copy(const struct nlattr *a, char *dst, size_t cap);

#endif
