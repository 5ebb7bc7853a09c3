// SPDX-License-Identifier: GPL-2.0-only
/*
 * qkdctl xfrm [show]: the kernel's IPsec SAs, each marked with the QKD key
 * it was keyed from (or "classical").  See annotate.h for the matching rule.
 *
 * The SA dump is read with libnl-3's core socket and parsed here rather
 * than with libnl-xfrm: libnl-xfrm's getters copy every SA's key into
 * caller buffers and keep it in cache objects that are freed unwiped; here
 * only algorithm names and sizes are read, and nl_transact (xfrm_nl.c)
 * wipes the receive buffers.  The audit records come through libqkd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <linux/xfrm.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include "annotate.h"
#include "args.h"
#include "audit.h"
#include "qkdctl.h"
#include "util.h"
#include "xfrm.h"
#include "xfrm_nl.h"

static void xfrm_usage(FILE *out)
{
	fputs("Usage: qkdctl [-j [-p]] xfrm [show]\n"
	      "  The kernel's IPsec SAs as `ip xfrm state` lists them (without keys),\n"
	      "  each marked \"keying qkd link NAME key UUID\" when an audit record of\n"
	      "  the qkd module names its SPI, \"classical\" otherwise, and \"unknown\"\n"
	      "  when the module's audit cannot tell.  Ends with a summary line.\n", out);
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

static int sa_fetch(struct sa_list *out, struct nl_status *st)
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

int cmd_xfrm(int argc, char **argv)
{
	struct audit_list audit = { 0 };
	struct sa_list sas;
	struct nl_status st;
	struct qkd_nl *nl;
	bool have_audit = false;
	char err[QKD_NL_ERR_MAX];
	uint64_t now;
	int ret = args_xfrm(argc, argv, err, sizeof(err));

	if (ret != ARGS_OK)
		return args_exit(ret, "xfrm", err, xfrm_usage);

	if (sa_fetch(&sas, &st) < 0)
		return report_error("xfrm: list SAs", st.err, st.msg);

	/* SAs are shown even without the module: their keying is "unknown". */
	ret = qkd_nl_open(&nl, 0, err);
	if (!ret) {
		ret = audit_fetch(nl, NULL, &audit);
		if (!ret)
			have_audit = true;
		else
			report_error("xfrm: read qkd audit", ret, qkd_nl_error(nl));
		qkd_nl_free(nl);
	} else if (ret == -ENOENT) {
		fprintf(stderr, "qkdctl: xfrm: warning: qkd module not loaded: keying of SAs is unknown\n");
	} else {
		report_error("xfrm: qkd module", ret, err);
	}

	now = (uint64_t)time(NULL);
	if (opts.json)
		json_emit(sa_list_to_json(&sas, have_audit ? &audit : NULL, now));
	else
		sa_list_print(stdout, &sas, have_audit ? &audit : NULL, now);
	audit_list_free(&audit);
	sa_list_free(&sas);
	/* Missing audit is a warning on stderr: the SA list itself is right. */
	return EXIT_OK;
}
