// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qkdctl.h"

struct qkdctl_opts opts;

int report_nl_error(const char *what, const struct nl_status *st)
{
	int err = st->err ? st->err : EIO;

	if (st->msg[0])
		fprintf(stderr, "qkdctl: %s: %s: %s\n", what, strerror(err), st->msg);
	else
		fprintf(stderr, "qkdctl: %s: %s\n", what, strerror(err));
	return EXIT_FAIL;
}

int report_usage_error(const char *what, const char *msg, void (*usage)(FILE *))
{
	fprintf(stderr, "qkdctl: %s: %s\n", what, msg);
	if (usage)
		usage(stderr);
	return EXIT_USAGE;
}

int qkd_open_or_report(struct qkd_nl *q, const char *what)
{
	struct nl_status st;

	if (qkd_nl_open(q, &st) == 0)
		return EXIT_OK;
	if (st.err == ENOENT) {
		/* strerror(ENOENT) would say "No such file or directory". */
		fprintf(stderr, "qkdctl: %s: qkd module not loaded (%s)\n", what, st.msg);
		return EXIT_NOMODULE;
	}
	return report_nl_error(what, &st);
}

void json_emit(json_t *j)
{
	size_t flags = opts.pretty ? JSON_INDENT(2) : JSON_COMPACT;

	/* Keys in insertion order: the order the man page documents. */
	flags |= JSON_PRESERVE_ORDER;
	if (!j)
		return;
	json_dumpf(j, stdout, flags | JSON_ENCODE_ANY);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(j);
}
