// SPDX-License-Identifier: GPL-2.0-only
/* qkdctl audit [show] [link NAME], qkdctl audit annotate */
#include "audit.h"

#include <errno.h>
#include <string.h>

#include <netlink/genl/genl.h>

#include "annotate.h"
#include "args.h"
#include "qkdctl.h"
#include "util.h"

static void audit_usage(FILE *out)
{
	fputs("Usage: qkdctl [-j [-p]] audit [show] [link NAME]\n"
	      "       qkdctl audit annotate NAME id UUID [spi SPI]... [usage TEXT]\n"
	      "  show: the module's record of every key taken (oldest first): sequence,\n"
	      "  time, link, key ID, role, taker (comm[pid]), SPIs keyed from it, usage.\n"
	      "  annotate: attach up to 4 SPIs and/or a usage note to the record of a\n"
	      "  taken key (what the strongSwan plugin does after installing SAs).\n", out);
}

int audit_record_parse(struct nlattr *nest, struct audit_record *r)
{
	struct nlattr *a;
	int rem;

	memset(r, 0, sizeof(*r));
	nla_for_each_nested(a, nest, rem) {
		switch (nla_type(a)) {
		case QKD_AUDIT_A_SEQ:
			if (!nla_get_u64_checked(a, &r->seq))
				return -EBADMSG;
			break;
		case QKD_AUDIT_A_TIME:
			if (!nla_get_u64_checked(a, &r->time_ns))
				return -EBADMSG;
			break;
		case QKD_AUDIT_A_LINK_NAME:
			nla_get_str_copy(a, r->link, sizeof(r->link));
			break;
		case QKD_AUDIT_A_KEY_ID:
			if (nla_len(a) != QKD_KEY_ID_LEN)
				return -EBADMSG;
			memcpy(r->key_id, nla_data(a), QKD_KEY_ID_LEN);
			r->has_key_id = true;
			break;
		case QKD_AUDIT_A_ROLE:
			nla_get_u8_checked(a, &r->role);
			break;
		case QKD_AUDIT_A_PID:
			r->has_pid = nla_get_u32_checked(a, &r->pid);
			break;
		case QKD_AUDIT_A_COMM:
			nla_get_str_copy(a, r->comm, sizeof(r->comm));
			break;
		case QKD_AUDIT_A_SPI:
			/* Multi-attr; more than the UAPI allows is malformed. */
			if (r->n_spi == QKD_AUDIT_SPI_MAX ||
			    !nla_get_u32_checked(a, &r->spi[r->n_spi]))
				return -EBADMSG;
			r->n_spi++;
			break;
		case QKD_AUDIT_A_USAGE:
			nla_get_str_copy(a, r->usage, sizeof(r->usage));
			break;
		default:
			break;	/* PAD, or newer than us */
		}
	}
	return 0;
}

static int audit_cb(struct nlmsghdr *nlh, void *arg)
{
	struct audit_list *l = arg;
	struct nlattr *tb[QKD_A_MAX + 1];
	struct audit_record r;

	if (genlmsg_parse(nlh, 0, tb, QKD_A_MAX, NULL) < 0 || !tb[QKD_A_AUDIT] ||
	    audit_record_parse(tb[QKD_A_AUDIT], &r) < 0)
		return -EBADMSG;
	if (audit_list_append(l, &r) < 0)
		return -ENOMEM;
	return 0;
}

int audit_fetch(struct qkd_nl *q, const char *name, struct audit_list *out,
		struct nl_status *st)
{
	struct nl_msg *msg = qkd_nl_msg(q, QKD_CMD_AUDIT_GET, NLM_F_DUMP);
	int ret;

	memset(out, 0, sizeof(*out));
	if (!msg || (name && nla_put_string(msg, QKD_A_LINK_NAME, name) < 0)) {
		nlmsg_free(msg);
		*st = (struct nl_status){ .err = ENOMEM };
		return -1;
	}
	ret = nl_transact(q->sk, msg, audit_cb, out, st);
	nlmsg_free(msg);
	if (ret < 0)
		audit_list_free(out);
	return ret;
}

static int audit_show(int argc, char **argv)
{
	struct audit_args a;
	struct audit_list l;
	struct nl_status st;
	struct qkd_nl q;
	char err[256], what[64];
	size_t i;
	int ret = args_audit_show(argc, argv, &a, err, sizeof(err));

	if (ret == ARGS_HELP) {
		audit_usage(stdout);
		return EXIT_OK;
	}
	if (ret != ARGS_OK)
		return report_usage_error("audit", err, audit_usage);
	snprintf(what, sizeof(what), "audit%s%s", a.has_name ? " link " : "", a.name);
	ret = qkd_open_or_report(&q, what);
	if (ret)
		return ret;
	if (audit_fetch(&q, a.has_name ? a.name : NULL, &l, &st) < 0) {
		ret = report_nl_error(what, &st);
		goto out;
	}
	if (opts.json) {
		json_t *arr = json_array();

		for (i = 0; i < l.count; i++)
			json_array_append_new(arr, audit_record_to_json(&l.rec[i]));
		json_emit(arr);
	} else {
		for (i = 0; i < l.count; i++)
			audit_record_print(stdout, &l.rec[i]);
	}
	audit_list_free(&l);
	ret = EXIT_OK;
out:
	qkd_nl_close(&q);
	return ret;
}

static int audit_annotate(int argc, char **argv)
{
	struct annotate_args a;
	struct nl_status st = { 0 };
	struct qkd_nl q;
	struct nl_msg *msg;
	char err[256], what[64];
	unsigned int i;
	int ret = args_audit_annotate(argc, argv, &a, err, sizeof(err));

	if (ret == ARGS_HELP) {
		audit_usage(stdout);
		return EXIT_OK;
	}
	if (ret != ARGS_OK)
		return report_usage_error("audit annotate", err, audit_usage);
	snprintf(what, sizeof(what), "audit annotate %s", a.name);
	ret = qkd_open_or_report(&q, what);
	if (ret)
		return ret;
	msg = qkd_nl_msg(&q, QKD_CMD_AUDIT_ANNOTATE, 0);
	ret = !msg || nla_put_string(msg, QKD_A_LINK_NAME, a.name) < 0 ||
	      nla_put(msg, QKD_A_KEY_ID, QKD_KEY_ID_LEN, a.id) < 0 ||
	      (a.has_usage && nla_put_string(msg, QKD_A_USAGE, a.usage) < 0);
	for (i = 0; !ret && i < a.n_spi; i++)
		ret = nla_put_u32(msg, QKD_A_SPI, a.spi[i]) < 0;
	if (ret) {
		st.err = ENOMEM;
		ret = report_nl_error(what, &st);
	} else if (nl_transact(q.sk, msg, NULL, NULL, &st) < 0) {
		ret = report_nl_error(what, &st);
	} else {
		ret = EXIT_OK;
	}
	nlmsg_free(msg);
	qkd_nl_close(&q);
	return ret;
}

int cmd_audit(int argc, char **argv)
{
	if (argc > 0 && !strcmp(argv[0], "annotate"))
		return audit_annotate(argc - 1, argv + 1);
	if (argc > 0 && (!strcmp(argv[0], "show") || !strcmp(argv[0], "list")))
		return audit_show(argc - 1, argv + 1);
	return audit_show(argc, argv);
}
