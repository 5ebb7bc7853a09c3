// SPDX-License-Identifier: GPL-2.0-only
/*
 * qkdctl: the administrator's view of the qkd kernel module (QKD keys for
 * IPsec) and of the IPsec SAs keyed from it.  Modelled on ip(8) and wg(8):
 *
 *   qkdctl [OPTIONS] OBJECT [COMMAND [ARGS]]
 *
 * This file holds only global options and dispatch; each object lives in
 * its own file (link.c, key.c, stats.c, audit.c, monitor.c, xfrm.c).
 */
#define _GNU_SOURCE	/* setns */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/qkd.h>

#include "qkdctl.h"

#ifndef QKDCTL_VERSION
#define QKDCTL_VERSION "0.1"
#endif

static void usage(FILE *out)
{
	fputs("Usage: qkdctl [OPTIONS] OBJECT [COMMAND [ARGS]]\n"
	      "OPTIONS := -j (JSON output) | -p (pretty JSON) | -n NETNS | -V | -h\n"
	      "OBJECT  := link | key | flush | stats | audit | monitor | xfrm\n"
	      "  link add|set|del|show   QKD links (one key stream to one remote site)\n"
	      "  key inject|take         load keys from a file/stdin; take one (tests)\n"
	      "  flush                   drop buffered keys\n"
	      "  stats                   counters of a link or the namespace\n"
	      "  audit [show|annotate]   the module's record of taken keys\n"
	      "  monitor                 stream the module's notifications\n"
	      "  xfrm                    IPsec SAs and whether they are QKD-keyed\n"
	      "`qkdctl OBJECT help` describes an object.\n"
	      "Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 bad key input,\n"
	      "4 qkd module not loaded.\n", out);
}

/* Like `ip -n NAME`: run in the named network namespace (/run/netns). */
static int enter_netns(const char *name)
{
	char path[256];
	int fd;

	if (!name[0] || strchr(name, '/') ||
	    snprintf(path, sizeof(path), "/run/netns/%s", name) >= (int)sizeof(path)) {
		fprintf(stderr, "qkdctl: -n: bad namespace name \"%s\"\n", name);
		return EXIT_USAGE;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "qkdctl: -n %s: %s: %s\n", name, path, strerror(errno));
		return EXIT_FAIL;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "qkdctl: -n %s: setns: %s\n", name, strerror(errno));
		close(fd);
		return EXIT_FAIL;
	}
	close(fd);
	return EXIT_OK;
}

struct object {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct object objects[] = {
	{ "link", cmd_link },
	{ "key", cmd_key },
	{ "flush", cmd_flush },
	{ "stats", cmd_stats },
	{ "audit", cmd_audit },
	{ "monitor", cmd_monitor },
	{ "xfrm", cmd_xfrm },
};

int main(int argc, char **argv)
{
	const char *netns = NULL;
	size_t i;
	int ret;

	/* Global options come before OBJECT; later dashes belong to it. */
	argc--;
	argv++;
	while (argc > 0 && argv[0][0] == '-' && argv[0][1]) {
		const char *o = argv[0];

		if (!strcmp(o, "-j") || !strcmp(o, "-json") || !strcmp(o, "--json")) {
			opts.json = true;
		} else if (!strcmp(o, "-p") || !strcmp(o, "-pretty") || !strcmp(o, "--pretty")) {
			opts.pretty = true;
		} else if (!strcmp(o, "-jp") || !strcmp(o, "-pj")) {
			opts.json = opts.pretty = true;
		} else if (!strcmp(o, "-n") || !strcmp(o, "-netns") || !strcmp(o, "--netns")) {
			if (argc < 2) {
				fprintf(stderr, "qkdctl: %s needs a namespace name\n", o);
				return EXIT_USAGE;
			}
			netns = argv[1];
			argc--;
			argv++;
		} else if (!strcmp(o, "-V") || !strcmp(o, "--version")) {
			printf("qkdctl %s (qkd netlink family version %d)\n",
			       QKDCTL_VERSION, QKD_FAMILY_VERSION);
			return EXIT_OK;
		} else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "qkdctl: unknown option \"%s\"\n", o);
			usage(stderr);
			return EXIT_USAGE;
		}
		argc--;
		argv++;
	}
	if (argc == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[0], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		if (strcmp(argv[0], objects[i].name))
			continue;
		if (netns) {
			ret = enter_netns(netns);
			if (ret)
				return ret;
		}
		ret = objects[i].fn(argc - 1, argv + 1);
		if (fflush(stdout) != 0 && ret == EXIT_OK)
			ret = EXIT_FAIL;	/* e.g. stdout is a full disk */
		return ret;
	}
	fprintf(stderr, "qkdctl: unknown object \"%s\"\n", argv[0]);
	usage(stderr);
	return EXIT_USAGE;
}
