// SPDX-License-Identifier: GPL-2.0-only
/*
 * qkdctl xfrm [show]: the kernel's IPsec SAs, each marked with the QKD key
 * it was keyed from (or "classical").  See annotate.h for the matching rule.
 * The SAs come from xfrm_sa_dump() (common/xfrm_dump.c), the audit
 * records through libqkd.
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
#include "sakeying.h"
#include "qkdctl.h"
#include "util.h"
#include "xfrm_dump.h"

static void xfrm_usage(FILE *out)
{
	fputs("Usage: qkdctl [-j [-p]] xfrm [show]\n"
	      "  The kernel's IPsec SAs as `ip xfrm state` lists them (without keys),\n"
	      "  each marked \"keying qkd link NAME key UUID\" when an audit record of\n"
	      "  the qkd module names its SPI, \"classical\" otherwise, and \"unknown\"\n"
	      "  when the module's audit cannot tell.  Ends with a summary line.\n", out);
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

	if (xfrm_sa_dump(&sas, &st) < 0)
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
