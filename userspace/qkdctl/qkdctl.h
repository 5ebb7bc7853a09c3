/* SPDX-License-Identifier: GPL-2.0-only */
/* qkdctl: shared state of one invocation, exit codes, subcommand entries. */
#ifndef QKDCTL_H
#define QKDCTL_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "nl.h"

/*
 * Exit codes scripts can rely on (also in qkdctl(8)):
 *   0  success
 *   1  the operation failed (the kernel refused it, or netlink trouble)
 *   2  usage error: bad command line; nothing was sent
 *   3  bad key input for `key inject`; nothing was sent
 *   4  the qkd module is not loaded (no "qkd" generic netlink family)
 */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_BADINPUT = 3,
	EXIT_NOMODULE = 4,
};

struct qkdctl_opts {
	bool json;		/* -j */
	bool pretty;		/* -p: indent JSON */
};

extern struct qkdctl_opts opts;

/* "qkdctl: WHAT: strerror(err)[: extack]" on stderr; returns the exit code. */
int report_nl_error(const char *what, const struct nl_status *st);
/* "qkdctl: WHAT: msg" and the usage text on stderr; returns EXIT_USAGE. */
int report_usage_error(const char *what, const char *msg, void (*usage)(FILE *));
/* Open the qkd family or report why not; returns EXIT_OK or the exit code. */
int qkd_open_or_report(struct qkd_nl *q, const char *what);
/* Print a JSON value per -p, with a newline, and release it. */
void json_emit(json_t *j);

/* Subcommands: argv starts after the object word ("link", "key", ...). */
int cmd_link(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_flush(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_xfrm(int argc, char **argv);

#endif
