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

#include <netlink/genl/genl.h>

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
	      "  low-watermark, key-wanted, key-expired, link-del.  With -j one JSON\n"
	      "  object per line.\n", out);
}

static const char *event_name(uint8_t cmd)
{
	switch (cmd) {
	case QKD_CMD_LOW_WATERMARK_NTF:
		return "low-watermark";
	case QKD_CMD_KEY_WANTED_NTF:
		return "key-wanted";
	case QKD_CMD_KEY_EXPIRED_NTF:
		return "key-expired";
	case QKD_CMD_LINK_DEL_NTF:
		return "link-del";
	default:
		return NULL;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Print one notification; returns 1 if it was an event, 0 if ignored. */
static int print_event(struct nlmsghdr *nlh, int family)
{
	struct genlmsghdr *gh = nlmsg_data(nlh);
	struct nlattr *tb[QKD_A_MAX + 1];
	const char *ev;
	char t[64], buf[QKD_SAE_ID_MAX + UUID_STR_LEN];
	uint64_t ts = now_ns();
	uint32_t u;
	uint8_t role;
	json_t *o = NULL;

	if (nlh->nlmsg_type != family || nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
		return 0;
	ev = event_name(gh->cmd);
	if (!ev || genlmsg_parse(nlh, 0, tb, QKD_A_MAX, NULL) < 0)
		return 0;

	format_time_ns(ts, t, sizeof(t));
	if (opts.json) {
		o = json_object();
		json_object_set_new(o, "time", json_string(t));
		json_object_set_new(o, "event", json_string(ev));
	} else {
		printf("%s %s", t, ev);
	}
	if (tb[QKD_A_LINK_NAME]) {
		nla_get_str_copy(tb[QKD_A_LINK_NAME], buf, QKD_LINK_NAME_MAX);
		if (o)
			json_object_set_new(o, "link", json_string(buf));
		else
			printf(" link %s", buf);
	}
	if (tb[QKD_A_KEY_ID] && nla_len(tb[QKD_A_KEY_ID]) == QKD_KEY_ID_LEN) {
		uuid_format(nla_data(tb[QKD_A_KEY_ID]), buf);
		if (o)
			json_object_set_new(o, "key_id", json_string(buf));
		else
			printf(" key %s", buf);
	}
	if (nla_get_u8_checked(tb[QKD_A_KEY_ROLE], &role)) {
		if (o)
			json_object_set_new(o, "role", json_string(role_name(role)));
		else
			printf(" role %s", role_name(role));
	}
	if (nla_get_u32_checked(tb[QKD_A_KEY_COUNT], &u)) {
		if (o)
			json_object_set_new(o, "key_count", json_integer(u));
		else
			printf(" keys %" PRIu32, u);
	}
	if (nla_get_u32_checked(tb[QKD_A_LOW_WATERMARK], &u)) {
		if (o)
			json_object_set_new(o, "low_watermark", json_integer(u));
		else
			printf(" low-watermark %" PRIu32, u);
	}
	if (tb[QKD_A_REMOTE_SAE_ID]) {
		nla_get_str_copy(tb[QKD_A_REMOTE_SAE_ID], buf, QKD_SAE_ID_MAX);
		if (o)
			json_object_set_new(o, "remote_sae_id", json_string(buf));
		else
			printf(" remote %s", buf);
	}
	if (o) {
		json_emit(o);	/* flushes */
	} else {
		putchar('\n');
		fflush(stdout);
	}
	return 1;
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

int cmd_monitor(int argc, char **argv)
{
	struct monitor_args a;
	struct nl_status st;
	struct qkd_nl q;
	struct sigaction sa;
	sigset_t block, orig;
	char err[256];
	uint64_t seen = 0;
	int grp, ret = args_monitor(argc, argv, &a, err, sizeof(err));

	if (ret == ARGS_HELP) {
		monitor_usage(stdout);
		return EXIT_OK;
	}
	if (ret != ARGS_OK)
		return report_usage_error("monitor", err, monitor_usage);
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

	ret = qkd_open_or_report(&q, "monitor");
	if (ret)
		goto out_sig;
	grp = qkd_nl_notify_group(&q, &st);
	if (grp < 0) {
		ret = report_nl_error("monitor", &st);
		goto out;
	}
	ret = nl_socket_add_membership(q.sk, grp);
	if (ret < 0) {
		status_from_nle(&st, ret, "join multicast group");
		ret = report_nl_error("monitor", &st);
		goto out;
	}

	ret = EXIT_OK;
	while (!stop_signal && (!a.has_count || seen < a.count)) {
		struct pollfd pfd = { .fd = nl_socket_get_fd(q.sk), .events = POLLIN };
		struct sockaddr_nl peer;
		unsigned char *buf = NULL;
		struct nlmsghdr *nlh;
		sigset_t waitmask = orig;
		int n, len;

		sigdelset(&waitmask, SIGINT);
		sigdelset(&waitmask, SIGTERM);
		n = ppoll(&pfd, 1, NULL, &waitmask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			st.err = errno;
			st.msg[0] = '\0';
			ret = report_nl_error("monitor: poll", &st);
			break;
		}
		n = nl_recv(q.sk, &peer, &buf, NULL);
		if (n == -NLE_NOMEM) {	/* ENOBUFS: the kernel dropped events */
			print_overrun();
			free(buf);
			continue;
		}
		if (n <= 0) {
			status_from_nle(&st, n ? n : -NLE_FAILURE, "receive");
			ret = report_nl_error("monitor", &st);
			free(buf);
			break;
		}
		len = n;
		for (nlh = (struct nlmsghdr *)buf; nlmsg_ok(nlh, len) &&
		     (!a.has_count || seen < a.count); nlh = nlmsg_next(nlh, &len))
			seen += (uint64_t)print_event(nlh, q.family);
		free(buf);
	}
out:
	qkd_nl_close(&q);
out_sig:
	sigprocmask(SIG_SETMASK, &orig, NULL);
	return ret;
}
