// SPDX-License-Identifier: GPL-2.0-only
#include "xfrm_nl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "util.h"

void status_from_nle(struct nl_status *st, int nle, const char *what)
{
	static const struct { int nle, err; } map[] = {
		{ NLE_NOMEM, ENOMEM }, { NLE_PERM, EPERM },
		{ NLE_OBJ_NOTFOUND, ENOENT }, { NLE_NOACCESS, EACCES },
	};
	size_t i;

	st->err = EIO;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (-nle == map[i].nle)
			st->err = map[i].err;
	/* strerror(err) is printed too: add libnl's words only if it says more. */
	if (st->err == EIO)
		snprintf(st->msg, sizeof(st->msg), "%s: %s", what, nl_geterror(nle));
	else
		snprintf(st->msg, sizeof(st->msg), "%s", what);
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
		len = peer.nl_pid == 0 ? n : 0;	/* only the kernel answers */
		for (nlh = (struct nlmsghdr *)buf; nlmsg_ok(nlh, len);
		     nlh = nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != seq)
				continue;	/* stale answer to an earlier request */
			if (nlh->nlmsg_type == NLMSG_NOOP)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
				st->err = -qkd_nl_parse_ack(nlh, st->msg, NULL, NULL);
				if (st->err == EBADMSG && !st->msg[0])
					snprintf(st->msg, sizeof(st->msg), "malformed netlink ack");
				done = true;
				break;
			}
			if (fn && !fn_err)
				fn_err = fn(nlh, arg);
		}
		/* SA dumps carry the SAs' keys. */
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
