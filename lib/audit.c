// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libqkd: the audit trail of takes (dump) and its annotations (the SPIs
 * and usage a taker records for the key it took).
 */
#include <errno.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "internal.h"

static bool qkd_audit_parse_attr(const struct nlattr *a,
				 struct qkd_audit_buf *rec)
{
	switch (mnl_attr_get_type(a)) {
	case QKD_AUDIT_A_SEQ:
		return qkd_nl_get_u64(a, &rec->seq);
	case QKD_AUDIT_A_TIME:
		return qkd_nl_get_u64(a, &rec->time_ns);
	case QKD_AUDIT_A_LINK_NAME:
		qkd_nl_copy_str(rec->link_name, sizeof(rec->link_name), a);
		return true;
	case QKD_AUDIT_A_KEY_ID:
		if (mnl_attr_get_payload_len(a) != QKD_KEY_ID_LEN)
			return false;
		memcpy(rec->key_id, mnl_attr_get_payload(a), QKD_KEY_ID_LEN);
		return true;
	case QKD_AUDIT_A_ROLE:
		return qkd_nl_get_u8(a, &rec->role);
	case QKD_AUDIT_A_PID:
		return qkd_nl_get_u32(a, &rec->pid);
	case QKD_AUDIT_A_COMM:
		qkd_nl_copy_str(rec->comm, sizeof(rec->comm), a);
		return true;
	case QKD_AUDIT_A_SPI:
		if (rec->nr_spi >= QKD_AUDIT_SPI_MAX)
			return false;
		return qkd_nl_get_u32(a, &rec->spi[rec->nr_spi++]);
	case QKD_AUDIT_A_USAGE:
		qkd_nl_copy_str(rec->usage, sizeof(rec->usage), a);
		return true;
	default:
		return true;	/* PAD, newer attributes */
	}
}

int qkd_audit_parse(const struct nlmsghdr *nlh, struct qkd_audit_buf *rec)
{
	const struct nlattr *attr, *a;
	unsigned int nrec = 0;

	memset(rec, 0, sizeof(*rec));
	if (qkd_nl_genl_ok(nlh, QKD_CMD_AUDIT_GET))
		return -EPROTO;
	qkd_attr_for_each(attr, nlh, GENL_HDRLEN) {
		if (mnl_attr_get_type(attr) != QKD_A_AUDIT)
			continue;
		if (nrec++)
			return -EPROTO;
		mnl_attr_for_each_nested(a, attr) {
			if (!qkd_audit_parse_attr(a, rec))
				return -EPROTO;
			if (mnl_attr_get_type(a) <= QKD_AUDIT_A_MAX)
				rec->present |= 1ULL << mnl_attr_get_type(a);
		}
	}
	return nrec ? 0 : -EPROTO;
}

static int qkd_dump_audit_one(const struct nlmsghdr *nlh, void *item)
{
	return qkd_audit_parse(nlh, item);
}

struct qkd_audit_each {
	qkd_audit_fn fn;
	void *arg;
};

static int qkd_audit_each_cb(const void *item, void *arg)
{
	const struct qkd_audit_each *e = arg;

	return e->fn(item, e->arg);
}

int qkd_audit_dump_each(struct qkd_nl *nl, const char *link, qkd_audit_fn fn,
			void *arg)
{
	struct qkd_audit_buf rec;
	struct qkd_audit_each e = { fn, arg };
	struct qkd_dump_ctx ctx = { &rec, qkd_dump_audit_one, qkd_audit_each_cb,
				    &e, 0 };
	struct nlmsghdr *nlh;
	int ret;

	nlh = qkd_nl_put_request(nl, nl->family, QKD_CMD_AUDIT_GET,
				 QKD_FAMILY_VERSION, NLM_F_DUMP);
	if (link && !mnl_attr_put_strz_check(nlh, QKD_NL_BUF_SIZE,
					     QKD_A_LINK_NAME, link)) {
		qkd_nl_set_error(nl, "link name does not fit in a request");
		return -EMSGSIZE;
	}
	ret = qkd_nl_transact(nl, nlh, qkd_nl_dump_item, &ctx);
	return ret ? ret : ctx.n;
}

static int qkd_audit_to_array(const struct qkd_audit_buf *rec, void *arg)
{
	return qkd_dump_to_array(rec, arg);
}

int qkd_audit_dump(struct qkd_nl *nl, const char *link,
		   struct qkd_audit_buf *recs, int max)
{
	struct qkd_dump_array arr = { recs, sizeof(*recs), max, 0 };

	return qkd_audit_dump_each(nl, link, qkd_audit_to_array, &arr);
}

int qkd_audit_annotate(struct qkd_nl *nl, const char *link,
		       const uint8_t *key_id, const uint32_t *spi,
		       unsigned int nr_spi, const char *usage)
{
	struct nlmsghdr *nlh;
	unsigned int i;
	bool ok;

	if (qkd_nl_check_link(nl, link, false))
		return -EINVAL;
	nlh = qkd_nl_put_request(nl, nl->family, QKD_CMD_AUDIT_ANNOTATE,
				 QKD_FAMILY_VERSION, NLM_F_ACK);
	ok = mnl_attr_put_strz_check(nlh, QKD_NL_BUF_SIZE, QKD_A_LINK_NAME, link);
	if (ok && key_id)
		ok = mnl_attr_put_check(nlh, QKD_NL_BUF_SIZE, QKD_A_KEY_ID,
					QKD_KEY_ID_LEN, key_id);
	for (i = 0; ok && i < nr_spi; i++)
		ok = mnl_attr_put_u32_check(nlh, QKD_NL_BUF_SIZE, QKD_A_SPI, spi[i]);
	if (ok && usage)
		ok = mnl_attr_put_strz_check(nlh, QKD_NL_BUF_SIZE, QKD_A_USAGE, usage);
	if (!ok) {
		qkd_nl_set_error(nl, "annotation does not fit in a request");
		return -EMSGSIZE;
	}
	return qkd_nl_transact(nl, nlh, NULL, NULL);
}
