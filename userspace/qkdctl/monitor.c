// SPDX-License-Identifier: GPL-2.0-only
/*
 * qkdctl monitor [count N]: print the module's notifications, one line per
 * event (one JSON object per line with -j), until SIGINT/SIGTERM or N
 * events.  Output is flushed per event so a pipe sees each as it happens.
 */
#define _GNU_SOURCE	/* ppoll */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "qkdctl.h"
#include "util.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void monitor_usage(FILE *out)
{
	fputs("Usage: qkdctl [-j] monitor [count N]\n"
	      "  Print the qkd module's notifications until interrupted (or N events):\n"
	      "  low-watermark, key-wanted, key-expired, link-new, link-set, link-del.\n"
	      "  With -j one JSON object per line.\n", out);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Print one notification (libqkd hands out only the family's own). */
static void print_event(const struct qkd_ntf *n)
{
	const char *ev = qkd_ntf_name(n->cmd);
	char t[64], id[UUID_STR_LEN + 1];
	json_t *o = NULL;

	format_time_ns(now_ns(), t, sizeof(t));
	if (opts.json) {
		o = json_object();
		json_object_set_new(o, "time", json_string(t));
		json_object_set_new(o, "event", json_string(ev ? ev : "unknown"));
		json_object_set_new(o, "link", json_string(n->link_name));
	} else {
		printf("%s %s link %s", t, ev ? ev : "unknown", n->link_name);
	}
	if (n->has_key_id) {
		uuid_format(n->key_id, id);
		if (o)
			json_object_set_new(o, "key_id", json_string(id));
		else
			printf(" key %s", id);
	}
	if (n->present & (1ULL << QKD_A_KEY_ROLE)) {
		if (o)
			json_object_set_new(o, "role", json_string(role_label(n->role)));
		else
			printf(" role %s", role_label(n->role));
	}
	/* Only a low-watermark notification has these two. */
	if (n->present & (1ULL << QKD_A_LOW_WATERMARK)) {
		if (o) {
			json_object_set_new(o, "key_count", json_integer(n->key_count));
			json_object_set_new(o, "low_watermark", json_integer(n->low_watermark));
		} else {
			printf(" keys %" PRIu32 " low-watermark %" PRIu32,
			       n->key_count, n->low_watermark);
		}
	}
	if (n->remote_sae_id[0]) {
		if (o)
			json_object_set_new(o, "remote_sae_id", json_string(n->remote_sae_id));
		else
			printf(" remote %s", n->remote_sae_id);
	}
	if (o) {
		json_emit(o);	/* flushes */
	} else {
		putchar('\n');
		fflush(stdout);
	}
}

static void print_overrun(void)
{
	if (opts.json) {
		json_t *o = json_object();

		json_object_set_new(o, "event", json_string("overrun"));
		json_emit(o);
	} else {
		puts("overrun: notifications were lost (receive buffer full)");
		fflush(stdout);
	}
}

struct monitor {
	const struct monitor_args *a;
	const sigset_t *waitmask;	/* SIGINT/SIGTERM deliverable */
};

static int monitor_run(struct qkd_nl *nl, void *arg)
{
	const struct monitor *m = arg;
	uint64_t seen = 0;
	int ret = qkd_nl_subscribe(nl, QKD_NL_GROUPS_ALL);

	if (ret)
		return ret;
	while (!stop_signal && (!m->a->has_count || seen < m->a->count)) {
		struct pollfd pfd = { .fd = qkd_nl_fd(nl), .events = POLLIN };
		struct qkd_ntf n;

		/* What has arrived, without waiting (signals stay blocked). */
		ret = qkd_ntf_recv(nl, &n, 0);
		if (ret == 1) {
			print_event(&n);
			seen++;
			continue;
		}
		if (ret == -ENOBUFS) {	/* the kernel dropped events */
			print_overrun();
			continue;
		}
		if (ret < 0)
			return ret;
		if (ppoll(&pfd, 1, NULL, m->waitmask) < 0 && errno != EINTR)
			return report_error("monitor: poll", errno, NULL);
	}
	return 0;
}

int cmd_monitor(int argc, char **argv)
{
	struct monitor_args a;
	struct monitor m = { .a = &a };
	struct sigaction sa;
	sigset_t block, orig, waitmask;
	char err[256];
	int ret = args_monitor(argc, argv, &a, err, sizeof(err));

	if (ret != ARGS_OK)
		return args_exit(ret, "monitor", err, monitor_usage);
	/*
	 * Catch SIGINT/SIGTERM before joining the group, so that a script
	 * that saw us subscribe can stop us cleanly.  They stay blocked
	 * except inside ppoll(): no wakeup is lost between check and wait.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	waitmask = orig;
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	m.waitmask = &waitmask;

	ret = qkd_run("monitor", monitor_run, &m);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	return ret;
}
