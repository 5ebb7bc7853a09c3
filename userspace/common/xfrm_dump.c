// SPDX-License-Identifier: GPL-2.0-only
#include "xfrm_dump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <sys/socket.h>

#include "secmem.h"

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
		sec_wipe(buf, (size_t)n);
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

static void alg_name_copy(char *dst, const char *src)
{
	/* alg_name is a fixed char[64], not guaranteed NUL-terminated. */
	size_t n = strnlen(src, XFRM_ALG_NAME_MAX - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

int xfrm_sa_parse(struct nlmsghdr *nlh, struct sa_info *sa)
{
	struct nlattr *tb[XFRMA_MAX + 1];
	struct xfrm_usersa_info info;
	const struct xfrm_usersa_info *p = &info;

	if (nlh->nlmsg_type != XFRM_MSG_NEWSA ||
	    nlmsg_parse(nlh, sizeof(info), tb, XFRMA_MAX, NULL) < 0)
		return -EBADMSG;
	/* Copy: the header holds u64s, netlink only aligns to 4 bytes. */
	memcpy(&info, nlmsg_data(nlh), sizeof(info));
	memset(sa, 0, sizeof(*sa));
	sa->family = p->family;
	memcpy(sa->saddr, &p->saddr, sizeof(sa->saddr));
	memcpy(sa->daddr, &p->id.daddr, sizeof(sa->daddr));
	sa->proto = p->id.proto;
	sa->spi = ntohl(p->id.spi);
	sa->mode = p->mode;
	sa->reqid = p->reqid;
	sa->bytes = p->curlft.bytes;
	sa->packets = p->curlft.packets;
	sa->add_time = p->curlft.add_time;
	sa->use_time = p->curlft.use_time;

	if (tb[XFRMA_ALG_AEAD] &&
	    nla_len(tb[XFRMA_ALG_AEAD]) >= (int)sizeof(struct xfrm_algo_aead)) {
		const struct xfrm_algo_aead *a = nla_data(tb[XFRMA_ALG_AEAD]);

		alg_name_copy(sa->aead.name, a->alg_name);
		sa->aead.key_bits = a->alg_key_len;
		sa->aead.icv_bits = a->alg_icv_len;
	}
	if (tb[XFRMA_ALG_CRYPT] &&
	    nla_len(tb[XFRMA_ALG_CRYPT]) >= (int)sizeof(struct xfrm_algo)) {
		const struct xfrm_algo *a = nla_data(tb[XFRMA_ALG_CRYPT]);

		alg_name_copy(sa->enc.name, a->alg_name);
		sa->enc.key_bits = a->alg_key_len;
	}
	/* The kernel sends ALG_AUTH_TRUNC when it has a truncation length. */
	if (tb[XFRMA_ALG_AUTH_TRUNC] &&
	    nla_len(tb[XFRMA_ALG_AUTH_TRUNC]) >= (int)sizeof(struct xfrm_algo_auth)) {
		const struct xfrm_algo_auth *a = nla_data(tb[XFRMA_ALG_AUTH_TRUNC]);

		alg_name_copy(sa->auth.name, a->alg_name);
		sa->auth.key_bits = a->alg_key_len;
		sa->auth.icv_bits = a->alg_trunc_len;
	} else if (tb[XFRMA_ALG_AUTH] &&
		   nla_len(tb[XFRMA_ALG_AUTH]) >= (int)sizeof(struct xfrm_algo)) {
		const struct xfrm_algo *a = nla_data(tb[XFRMA_ALG_AUTH]);

		alg_name_copy(sa->auth.name, a->alg_name);
		sa->auth.key_bits = a->alg_key_len;
	}
	if (tb[XFRMA_ALG_COMP] &&
	    nla_len(tb[XFRMA_ALG_COMP]) >= (int)sizeof(struct xfrm_algo)) {
		const struct xfrm_algo *a = nla_data(tb[XFRMA_ALG_COMP]);

		alg_name_copy(sa->comp.name, a->alg_name);
	}
	return 0;
}

static int sa_cb(struct nlmsghdr *nlh, void *arg)
{
	struct sa_list *l = arg;
	struct sa_info sa;

	if (xfrm_sa_parse(nlh, &sa) < 0)
		return -EBADMSG;
	return sa_list_append(l, &sa) < 0 ? -ENOMEM : 0;
}

int xfrm_sa_dump(struct sa_list *out, struct nl_status *st)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = NULL;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	memset(st, 0, sizeof(*st));
	if (!sk) {
		st->err = ENOMEM;
		return -1;
	}
	if (nl_connect(sk, NETLINK_XFRM) < 0) {
		st->err = errno ? errno : EIO;
		snprintf(st->msg, sizeof(st->msg), "cannot open an XFRM netlink socket");
		goto out;
	}
	nl_socket_enable_msg_peek(sk);
	nl_socket_set_msg_buf_size(sk, 65536);
	msg = nlmsg_alloc_simple(XFRM_MSG_GETSA, NLM_F_DUMP);
	if (!msg) {
		st->err = ENOMEM;
		goto out;
	}
	/* The dump request carries an (ignored) xfrm_usersa_id header. */
	{
		struct xfrm_usersa_id id = { 0 };

		if (nlmsg_append(msg, &id, sizeof(id), NLMSG_ALIGNTO) < 0) {
			st->err = ENOMEM;
			goto out;
		}
	}
	ret = nl_transact(sk, msg, sa_cb, out, st);
	if (ret < 0)
		sa_list_free(out);
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}
