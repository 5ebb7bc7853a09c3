// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The strongSwan plugin's counters on the agent's metrics endpoint
 * (qkd_plugin_*): fallbacks, refusals, confirmation failures, keys taken,
 * next key IDs.  They live in charon, which has no metrics endpoint of its
 * own; the plugin writes them as a Prometheus text file
 * (charon.plugins.qkd.metrics_file, by write and rename, so a reader sees
 * one whole version), the convention node_exporter's textfile collector
 * uses, and the agent serves that file next to its own metrics at each
 * scrape.  The agent's user reads it; it cannot write charon's directory.
 *
 * The file comes from another program, so it is checked before a byte of
 * it reaches the scrape, and served all or nothing: only "# HELP" and
 * "# TYPE" lines and samples of qkd_plugin_* metrics, names of [a-z0-9_],
 * label values without quotes, backslashes or control characters, values
 * of digits (the plugin writes integer counters), at most
 * PLUGSTATS_MAX_BYTES.  Anything else and the scrape says
 * qkd_agent_plugin_metrics_up 0 with the reason logged once per change of
 * reason; a missing file (charon not running, plugin not loaded) is
 * up 0 without a log line.  fuzz_plugstats.c fuzzes plugstats_filter().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "expo.h"
#include "log.h"
#include "plugstats.h"

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* "qkd_plugin_[a-z0-9_]+" at s; returns its length or 0 */
static size_t metric_name(const char *s, size_t len)
{
	static const char prefix[] = "qkd_plugin_";
	size_t n = sizeof(prefix) - 1;

	if (len <= n || memcmp(s, prefix, n) || !is_name_char(s[n]))
		return 0;
	while (n < len && is_name_char(s[n]))
		n++;
	return n;
}

/* {name="value",...}: label names [a-z_]+, values of printable ASCII
 * without '"' and '\\'.  Returns the length or 0. */
static size_t labels(const char *s, size_t len)
{
	size_t i = 1;

	if (!len || s[0] != '{')
		return 0;
	for (;;) {
		size_t start = i;

		while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			i++;
		if (i == start || i + 1 >= len || s[i] != '=' || s[i + 1] != '"')
			return 0;
		for (i += 2; i < len && s[i] != '"'; i++)
			if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '\\')
				return 0;
		if (i >= len)
			return 0;
		i++;			/* closing quote */
		if (i < len && s[i] == '}')
			return i + 1;
		if (i >= len || s[i] != ',')
			return 0;
		i++;
	}
}

/* One line (without its newline); returns 1 for a sample, 0 for a
 * comment, -1 with *why set. */
static int check_line(const char *s, size_t len, const char **why)
{
	size_t n, d;

	if (len > PLUGSTATS_MAX_LINE)
		return *why = "line too long", -1;
	if (len >= 7 && (!memcmp(s, "# HELP ", 7) || !memcmp(s, "# TYPE ", 7))) {
		n = metric_name(s + 7, len - 7);
		if (!n || (7 + n < len && s[7 + n] != ' '))
			return *why = "HELP or TYPE of a metric not named qkd_plugin_*", -1;
		for (d = 7 + n; d < len; d++)
			if (s[d] < 0x20 || s[d] > 0x7e || s[d] == '\\')
				return *why = "control, non-ASCII or backslash in a HELP or TYPE line", -1;
		return 0;
	}
	n = metric_name(s, len);
	if (!n)
		return *why = "not a qkd_plugin_* sample, HELP or TYPE line", -1;
	if (n < len && s[n] == '{') {
		d = labels(s + n, len - n);
		if (!d)
			return *why = "malformed labels", -1;
		n += d;
	}
	if (n >= len || s[n] != ' ' || n + 1 == len)
		return *why = "no value after the metric", -1;
	for (d = n + 1; d < len; d++)
		if (s[d] < '0' || s[d] > '9')
			return *why = "value is not a non-negative integer", -1;
	if (len - (n + 1) > 20)
		return *why = "value out of range", -1;
	return 1;
}

int plugstats_filter(const char *in, size_t len, struct sbuf *out, char *why, size_t whysz)
{
	size_t pos = 0, lineno = 0;
	int samples = 0;

	if (len > PLUGSTATS_MAX_BYTES) {
		snprintf(why, whysz, "over %d bytes", PLUGSTATS_MAX_BYTES);
		return -1;
	}
	if (memchr(in, '\0', len)) {
		snprintf(why, whysz, "NUL byte");
		return -1;
	}
	while (pos < len) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (in + pos)) : len - pos;
		const char *reason = NULL;
		int r;

		lineno++;
		if (!nl) {
			snprintf(why, whysz, "line %zu: no newline at the end (file cut short?)", lineno);
			return -1;
		}
		r = l ? check_line(in + pos, l, &reason) : 0;
		if (r < 0) {
			snprintf(why, whysz, "line %zu: %s", lineno, reason);
			return -1;
		}
		samples += r;
		pos += l + 1;
	}
	if (out)
		sb_printf(out, "%.*s", (int)len, in);
	return samples;
}

/* The file, whole, into a buffer the caller frees: -errno on failure. */
static int read_file(const char *path, char **buf, size_t *len, time_t *mtime)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int err;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;		/* a FIFO or device would block or never end */
	}
	/* one byte more than allowed, so an over-long file is seen as such */
	*buf = malloc(PLUGSTATS_MAX_BYTES + 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	*len = 0;
	while (*len < PLUGSTATS_MAX_BYTES + 1 &&
	       (n = read(fd, *buf + *len, PLUGSTATS_MAX_BYTES + 1 - *len)) > 0)
		*len += (size_t)n;
	err = n < 0 ? -errno : 0;
	close(fd);
	*mtime = st.st_mtime;
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	return err;
}

void plugstats_render(struct sbuf *b, const char *path, char *last_why, size_t whysz)
{
	char why[160] = "";
	time_t mtime = 0;
	char *buf = NULL;
	size_t len = 0;
	int up = 0, r;

	if (path[0]) {
		r = read_file(path, &buf, &len, &mtime);
		if (r == -ENOENT)
			snprintf(why, sizeof(why), "missing");
		else if (r == -EINVAL)
			snprintf(why, sizeof(why), "not a regular file");
		else if (r < 0)
			snprintf(why, sizeof(why), "%s", strerror(-r));
		else if (plugstats_filter(buf, len, NULL, why, sizeof(why)) >= 0)
			up = 1;
	}
	help(b, "qkd_agent_plugin_metrics_up", "gauge",
	     "1 if the strongSwan plugin's metrics file (plugin_metrics) was read and served "
	     "below (0: off, missing, unreadable or refused, the reason logged)");
	sb_printf(b, "qkd_agent_plugin_metrics_up %d\n", up);
	help(b, "qkd_agent_plugin_metrics_age_seconds", "gauge",
	     "seconds since the plugin last wrote that file (it writes within 1 s of a change)");
	if (up)
		sb_printf(b, "qkd_agent_plugin_metrics_age_seconds %lld\n",
			  (long long)(time(NULL) - mtime));
	/* one log line per change of reason, not one per scrape */
	if (up)
		last_why[0] = '\0';
	else if (path[0] && strcmp(why, last_why)) {
		if (strcmp(why, "missing"))
			log_warn("plugin metrics %s not served: %s", path, why);
		snprintf(last_why, whysz, "%s", why);
	}
	if (up)
		plugstats_filter(buf, len, b, why, sizeof(why));
	free(buf);
}
