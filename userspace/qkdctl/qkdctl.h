/* SPDX-License-Identifier: GPL-2.0-only */
/* qkdctl: shared state of one invocation, exit codes, subcommand entries. */
#ifndef QKDCTL_H
#define QKDCTL_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include <libqkd.h>

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

/*
 * "qkdctl: WHAT: strerror(err)[: msg]" on stderr (err: an errno, either
 * sign; msg: the kernel's extack or libqkd's explanation, may be empty or
 * NULL); returns EXIT_FAIL.
 */
int report_error(const char *what, int err, const char *msg);
/* "qkdctl: WHAT: msg" and the usage text on stderr; returns EXIT_USAGE. */
int report_usage_error(const char *what, const char *msg, void (*usage)(FILE *));
/* The exit of an args_*() result other than ARGS_OK: usage on stdout and
 * EXIT_OK for ARGS_HELP, report_usage_error() for ARGS_ERR. */
int args_exit(int ret, const char *what, const char *err, void (*usage)(FILE *));

/*
 * The shape of every command that talks to the module: open the family
 * (exit EXIT_NOMODULE when it is not registered), run fn, report its
 * failure as "qkdctl: WHAT: strerror: extack", close.  fn returns 0, a
 * negative errno from libqkd (explained by qkd_nl_error(nl)), or a
 * positive exit code when it already reported the failure itself.
 */
typedef int (*qkd_cmd_fn)(struct qkd_nl *nl, void *arg);
int qkd_run(const char *what, qkd_cmd_fn fn, void *arg);

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
