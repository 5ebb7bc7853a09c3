// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "qkdctl.h"

struct qkdctl_opts opts;

int report_error(const char *what, int err, const char *msg)
{
	if (err < 0)
		err = -err;
	if (!err)
		err = EIO;
	if (msg && msg[0])
		fprintf(stderr, "qkdctl: %s: %s: %s\n", what, strerror(err), msg);
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

int args_exit(int ret, const char *what, const char *err, void (*usage)(FILE *))
{
	if (ret == ARGS_HELP) {
		usage(stdout);
		return EXIT_OK;
	}
	return report_usage_error(what, err, usage);
}

int qkd_run(const char *what, qkd_cmd_fn fn, void *arg)
{
	char err[QKD_NL_ERR_MAX];
	struct qkd_nl *nl;
	int ret = qkd_nl_open(&nl, 0, err);

	if (ret == -ENOENT) {
		/* strerror(ENOENT) would say "No such file or directory". */
		fprintf(stderr, "qkdctl: %s: qkd module not loaded (no generic netlink family \"%s\")\n",
			what, QKD_FAMILY_NAME);
		return EXIT_NOMODULE;
	}
	if (ret)
		return report_error(what, ret, err);
	ret = fn(nl, arg);
	if (ret < 0)
		ret = report_error(what, ret, qkd_nl_error(nl));
	qkd_nl_free(nl);
	return ret;
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
