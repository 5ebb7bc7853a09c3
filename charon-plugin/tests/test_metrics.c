/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The plugin's metrics file (qkd_metrics.c): its exact text for known
 * counter values against the sample in the tree (metrics-sample.prom,
 * which the agent's dashboard test serves through a dry-run agent, so the
 * dashboard and the agent's filter are checked against what the plugin
 * really writes), its mode, a write within a second of a count through
 * charon's scheduler, a move on reload, and its removal.  TAP.
 */
#include "tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <library.h>
#include <daemon.h>

#include "qkd_keysrc.h"
#include "qkd_metrics.h"
#include "qkd_peer.h"

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libcrypto.so\n";
}

/* the production key source's name, as the sample has it */
#define SAMPLE_KEYS "kernel module (generic netlink family qkd)"

const char *qkd_keysrc_name(void)
{
	return "test stub";
}

/* qkd_peer.c releases reservations of IKE_SAs; none here */
int qkd_keysrc_release(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN])
{
	return -ENOENT;
}

/* the file's text; one buffer per slot, so two files can be compared */
static char *slurp(const char *path, int slot)
{
	static char buf[2][8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
	{
		return NULL;
	}
	n = fread(buf[slot], 1, sizeof(buf[slot]) - 1, f);
	fclose(f);
	buf[slot][n] = '\0';
	return buf[slot];
}

/* the sample with its two run-dependent values filled in */
static char *expected(const char *sample, long long started)
{
	static char out[8192];
	char *text = slurp(sample, 1), *at;
	char tmp[8192];

	if (!text)
	{
		return NULL;
	}
	snprintf(tmp, sizeof(tmp), "%s", text);
	at = strstr(tmp, "keys=\"" SAMPLE_KEYS "\"");
	if (!at)
	{
		return NULL;
	}
	*at = '\0';
	snprintf(out, sizeof(out), "%skeys=\"test stub\"%s", tmp,
			 at + strlen("keys=\"" SAMPLE_KEYS "\""));
	snprintf(tmp, sizeof(tmp), "%s", out);
	at = strstr(tmp, "qkd_plugin_start_time_seconds 1700000000\n");
	if (!at)
	{
		return NULL;
	}
	*at = '\0';
	snprintf(out, sizeof(out), "%sqkd_plugin_start_time_seconds %lld\n%s", tmp,
			 started, at + strlen("qkd_plugin_start_time_seconds 1700000000\n"));
	return out;
}

static void set_path(const char *path)
{
	char conf[512];

	snprintf(conf, sizeof(conf), "test { plugins { qkd { metrics_file = \"%s\" } } }\n",
			 path);
	lib->settings->load_string(lib->settings, conf, FALSE);
}

int main(int argc, char *argv[])
{
	char dir[] = "/tmp/qkd-metrics.XXXXXX", path[256], moved[256];
	const char *sample = argc > 1 ? argv[1] : "tests/metrics-sample.prom";
	qkd_metrics_t *m;
	struct stat st;
	long long started;
	char *text, *want;
	int c, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!library_init(NULL, "test") || !libcharon_init() || !mkdtemp(dir))
	{
		printf("Bail out! init\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/qkd/charon-plugin.prom", dir);
	snprintf(moved, sizeof(moved), "%s/moved.prom", dir);
	set_path(path);

	started = time(NULL);
	m = qkd_metrics_create();
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644,
	   "written at load, missing directory created, mode 0644");
	text = slurp(path, 0);
	ok(text && strstr(text, "qkd_plugin_keys_taken_total{role=\"initiator\"} 0\n") &&
	   strstr(text, "qkd_plugin_fallbacks_total 0\n"), "all counters 0 at load");

	/* counter i counted i + 1 times: every family and label distinct */
	for (c = 0; c < QKD_CNT_MAX; c++)
	{
		for (i = 0; i <= c; i++)
		{
			qkd_count(c);
		}
	}
	m->write(m);
	text = slurp(path, 0);
	want = expected(sample, started);
	/* the load may have crossed a second */
	if (want && text && !streq(text, want))
	{
		want = expected(sample, started + 1);
	}
	ok(want && text && streq(text, want),
	   "the file is the sample (%s) with each counter in its family and label", sample);
	if (text && (!want || !streq(text, want)))
	{	/* the lines as comments: TAP readers skip them */
		char *line, *save = NULL;

		printf("# got:\n");
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		{
			printf("#| %s\n", line);
		}
	}

	/* the scheduled write: 1 s after a count, by a worker thread */
	lib->processor->set_threads(lib->processor, 2);
	qkd_count(QKD_CNT_FALLBACK);
	qkd_count(QKD_CNT_FALLBACK);
	for (i = 0; i < 100; i++)
	{
		text = slurp(path, 0);
		if (text && strstr(text, "qkd_plugin_fallbacks_total 5\n"))
		{
			break;
		}
		usleep(100 * 1000);
	}
	ok(i < 100 && i >= 5, "two counts, one write %d.%d s later by charon's scheduler",
	   i / 10, i % 10);

	set_path(moved);
	m->write(m);
	ok(stat(moved, &st) == 0 && stat(path, &st) < 0,
	   "reload with another metrics_file: written there, the old file removed");
	{	/* a directory two levels deep is not created: nothing written,
		 * no temporary file left, and the next good path works again */
		char deep[300];

		snprintf(deep, sizeof(deep), "%s/no/such/charon-plugin.prom", dir);
		set_path(deep);
		m->write(m);
		m->write(m);
		snprintf(deep, sizeof(deep), "%s/no", dir);
		ok(stat(deep, &st) < 0 && stat(moved, &st) < 0,
		   "an uncreatable metrics_file: not written, the old file removed");
		set_path(moved);
		m->write(m);
		ok(stat(moved, &st) == 0, "then a good metrics_file is written again");
	}
	set_path("");
	m->write(m);
	ok(stat(moved, &st) < 0, "metrics_file = \"\": off, the file removed");
	set_path(moved);
	m->write(m);
	m->destroy(m);
	ok(stat(moved, &st) < 0, "removed when the plugin unloads");
	qkd_count(QKD_CNT_FALLBACK);	/* no writer: nothing scheduled */
	ok(stat(moved, &st) < 0, "a count without a writer writes nothing");

	lib->processor->cancel(lib->processor);
	rmdir(strcat(strcpy(path, dir), "/qkd"));
	ok(rmdir(dir) == 0, "no temporary file left behind (%s empty)", dir);
	libcharon_deinit();
	library_deinit();
	return tap_done();
}
