// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * agent/plugstats.c: what of the strongSwan plugin's metrics file reaches
 * the scrape (all or nothing), and what the scrape says when it does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "plugstats.h"
#include "tap.h"

static int filt(const char *in, char *why)
{
	return plugstats_filter(in, strlen(in), NULL, why, 160);
}

static const char good[] =
	"# HELP qkd_plugin_keys_taken_total QKD keys taken\n"
	"# TYPE qkd_plugin_keys_taken_total counter\n"
	"qkd_plugin_keys_taken_total{role=\"initiator\"} 3\n"
	"qkd_plugin_keys_taken_total{role=\"responder\"} 0\n"
	"\n"
	"qkd_plugin_info{version=\"5.9.8\",protocol=\"3\"} 1\n"
	"qkd_plugin_fallbacks_total 18446744073709551615\n";

static void test_filter(void)
{
	static const struct { const char *in, *why; } bad[] = {
		{ "qkd_agent_keys 1\n", "line 1: not a qkd_plugin_* sample" },
		{ "qkd_plugin_x 1", "line 1: no newline at the end" },
		{ "qkd_plugin_x -1\n", "line 1: value is not a non-negative integer" },
		{ "qkd_plugin_x 1.5\n", "line 1: value is not" },
		{ "qkd_plugin_x\n", "line 1: no value" },
		{ "qkd_plugin_x \n", "line 1: no value" },
		{ "qkd_plugin_x{a=\"b\\\"c\"} 1\n", "line 1: malformed labels" },
		{ "qkd_plugin_x{a=\"b\"\n", "line 1: malformed labels" },
		{ "qkd_plugin_x{A=\"b\"} 1\n", "line 1: malformed labels" },
		{ "qkd_plugin_x{a=\"b\"}} 1\n", "line 1: no value" },
		{ "qkd_plugin_x 1\n# HELP up_metric text\n", "line 2: HELP or TYPE of a metric not named" },
		{ "# HELP qkd_plugin_x te\x01xt\n", "line 1: control, non-ASCII" },
		{ "qkd_plugin_ 1\n", "line 1: not a qkd_plugin_*" },
		{ "qkd_plugin_x 123456789012345678901\n", "line 1: value out of range" },
		{ "qkd_plugin_x 1\r\n", "line 1: value is not" },
		{ "#comment\n", "line 1: not a qkd_plugin_*" },
	};
	char why[160];
	size_t i;

	ok(filt(good, why) == 4, "a file the plugin writes passes, 4 samples");
	ok(filt("", why) == 0, "an empty file passes with no sample");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ok(filt(bad[i].in, why) == -1 && !strncmp(why, bad[i].why, strlen(bad[i].why)),
		   "refused: %s (%s)", bad[i].why, why);
	}
	{
		char nul[] = "qkd_plugin_x 1\n\0qkd_plugin_y 2\n";

		ok(plugstats_filter(nul, sizeof(nul) - 1, NULL, why, sizeof(why)) == -1 &&
		   !strcmp(why, "NUL byte"), "a NUL byte is refused (%s)", why);
	}
	{
		size_t n = PLUGSTATS_MAX_BYTES + 1;
		char *big = malloc(n);

		memset(big, '\n', n);
		ok(big && plugstats_filter(big, n, NULL, why, sizeof(why)) == -1 &&
		   strstr(why, "over 65536 bytes"), "a file over 64 KiB is refused (%s)", why);
		free(big);
	}
	{
		char line[PLUGSTATS_MAX_LINE + 32];

		snprintf(line, sizeof(line), "qkd_plugin_x{a=\"%0*d\"} 1\n", PLUGSTATS_MAX_LINE, 0);
		ok(filt(line, why) == -1 && strstr(why, "line too long"), "a line over 512 bytes is refused");
	}
}

static void test_render(void)
{
	char path[] = "/tmp/test_plugstats.XXXXXX", last[160] = "";
	struct sbuf b = { NULL, 0, 0 };
	int fd = mkstemp(path);

	ok(fd >= 0 && write(fd, good, sizeof(good) - 1) == (ssize_t)(sizeof(good) - 1),
	   "metrics file written");
	close(fd);
	plugstats_render(&b, path, last, sizeof(last));
	ok(b.p && strstr(b.p, "qkd_agent_plugin_metrics_up 1\n") &&
	   strstr(b.p, "qkd_plugin_keys_taken_total{role=\"initiator\"} 3\n") &&
	   strstr(b.p, "qkd_agent_plugin_metrics_age_seconds "),
	   "a good file is served whole, up 1, with its age");
	free(b.p);

	fd = open(path, O_WRONLY | O_TRUNC);
	ok(fd >= 0 && write(fd, "qkd_plugin_x 1\nbad 2\n", 21) == 21, "file replaced by a bad one");
	close(fd);
	memset(&b, 0, sizeof(b));
	plugstats_render(&b, path, last, sizeof(last));
	ok(b.p && strstr(b.p, "qkd_agent_plugin_metrics_up 0\n") && !strstr(b.p, "qkd_plugin_x") &&
	   !strstr(b.p, "bad 2"), "a bad file: up 0, not one of its lines served");
	ok(!strncmp(last, "line 2: ", 8), "the reason kept for one log line (%s)", last);
	free(b.p);

	unlink(path);
	memset(&b, 0, sizeof(b));
	plugstats_render(&b, path, last, sizeof(last));
	ok(b.p && strstr(b.p, "qkd_agent_plugin_metrics_up 0\n") && !strcmp(last, "missing"),
	   "a missing file: up 0");
	free(b.p);

	memset(&b, 0, sizeof(b));
	plugstats_render(&b, "/dev/zero", last, sizeof(last));
	ok(b.p && strstr(b.p, "qkd_agent_plugin_metrics_up 0\n") && !strcmp(last, "not a regular file"),
	   "a device is not read (%s)", last);
	free(b.p);

	memset(&b, 0, sizeof(b));
	plugstats_render(&b, "", last, sizeof(last));
	ok(b.p && strstr(b.p, "qkd_agent_plugin_metrics_up 0\n"), "plugin_metrics = off: up 0");
	free(b.p);
}

int main(void)
{
	test_filter();
	test_render();
	return tap_done();
}
