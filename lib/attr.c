// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libqkd: reading attributes and acks.  Every length is checked before a
 * value is read: replies are parsed as untrusted input (the fuzzers feed
 * these functions directly).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "internal.h"

void qkd_nl_copy_str(char *dst, size_t size, const struct nlattr *attr)
{
	size_t n = mnl_attr_get_payload_len(attr);
	const char *s = mnl_attr_get_payload(attr);
	const char *nul = memchr(s, '\0', n);

	if (nul)
		n = (size_t)(nul - s);
	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

bool qkd_nl_get_u8(const struct nlattr *a, uint8_t *v)
{
	if (mnl_attr_get_payload_len(a) != sizeof(*v))
		return false;
	*v = mnl_attr_get_u8(a);
	return true;
}

bool qkd_nl_get_u32(const struct nlattr *a, uint32_t *v)
{
	if (mnl_attr_get_payload_len(a) != sizeof(*v))
		return false;
	memcpy(v, mnl_attr_get_payload(a), sizeof(*v));
	return true;
}

bool qkd_nl_get_u64(const struct nlattr *a, uint64_t *v)
{
	if (mnl_attr_get_payload_len(a) != sizeof(*v))
		return false;
	/* nla_put_u64_64bit pads for alignment, but do not rely on it */
	memcpy(v, mnl_attr_get_payload(a), sizeof(*v));
	return true;
}

int qkd_nl_genl_ok(const struct nlmsghdr *nlh, int cmd)
{
	const struct genlmsghdr *genl;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + GENL_HDRLEN)
		return -EPROTO;
	genl = mnl_nlmsg_get_payload(nlh);
	if (cmd >= 0 && genl->cmd != cmd)
		return -EPROTO;
	/* mnl_attr_for_each stops at the first attribute that does not fit,
	 * so a truncated tail is ignored rather than read. */
	return 0;
}

/* The TLVs after an ack: text, offset, missing attribute type. */
static void qkd_nl_parse_ack_tlvs(const struct nlmsghdr *nlh, size_t off,
				  char *msg, uint32_t *eoff, uint32_t *miss_out)
{
	const struct nlattr *a;
	uint32_t mtype = 0, *miss = &mtype;

	if (MNL_ALIGN(MNL_NLMSG_HDRLEN + off) > nlh->nlmsg_len)
		return;
	qkd_attr_for_each(a, nlh, off) {
		switch (mnl_attr_get_type(a)) {
		case NLMSGERR_ATTR_MSG:
			if (msg && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
				snprintf(msg, QKD_NL_ERR_MAX, "%s", mnl_attr_get_str(a));
			break;
		case NLMSGERR_ATTR_OFFS:
			if (eoff)
				qkd_nl_get_u32(a, eoff);
			break;
		case NLMSGERR_ATTR_MISS_TYPE:
			qkd_nl_get_u32(a, miss);
			break;
		}
	}
	if (miss_out)
		*miss_out = mtype;
	/* the text does not depend on what the caller asked for */
	if (msg && !msg[0] && mtype)
		snprintf(msg, QKD_NL_ERR_MAX, "missing attribute %u", mtype);
}

/* NLMSG_DONE of a dump: an int error, then (on error) the TLVs. */
static int qkd_nl_parse_done(const struct nlmsghdr *nlh, char *msg,
			     uint32_t *off, uint32_t *miss)
{
	int e = 0;

	if (nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(e))
		memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
	if (e > 0 || e < -4095)
		return -EBADMSG;
	if (e && (nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		qkd_nl_parse_ack_tlvs(nlh, sizeof(e), msg, off, miss);
	return e;
}

int qkd_nl_parse_ack(const struct nlmsghdr *nlh, char *msg, uint32_t *off,
		     uint32_t *miss)
{
	const struct nlmsgerr *e;
	size_t tlv_off;

	if (msg)
		msg[0] = '\0';
	if (off)
		*off = 0;
	if (miss)
		*miss = 0;
	if (nlh->nlmsg_type == NLMSG_DONE)
		return qkd_nl_parse_done(nlh, msg, off, miss);
	if (nlh->nlmsg_type != NLMSG_ERROR ||
	    nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*e))
		return -EBADMSG;
	e = mnl_nlmsg_get_payload(nlh);
	if (e->error > 0 || e->error < -4095)
		return -EBADMSG;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return e->error;
	tlv_off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		/* the request is echoed after the error, its header counted */
		if (e->msg.nlmsg_len < sizeof(struct nlmsghdr))
			return e->error;
		tlv_off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	}
	qkd_nl_parse_ack_tlvs(nlh, tlv_off, msg, off, miss);
	return e->error;
}

int qkd_nl_check_link(struct qkd_nl *nl, const char *link, bool optional)
{
	/* Only presence: every value is the module's to judge (its policy
	 * tests send bad names through this library on purpose). */
	if (!link && !optional) {
		qkd_nl_set_error(nl, "link name: missing");
		return -EINVAL;
	}
	return 0;
}
