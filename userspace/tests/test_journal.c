// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The agent's log lines as journal entries (agent/journal.c): the fields
 * of an entry with and without a link context, the escaped text, the
 * level filter, the fall-back to stderr when the journal refuses, and the
 * JOURNAL_STREAM check that decides whether stderr is the journal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../agent/agent.h"
#include "log.h"
#include "tap.h"

/* main.c's globals (not linked: it has main()) */
volatile sig_atomic_t agent_stop_requested, agent_reload_requested;
int agent_wake_fd = -1;

static char entry[8][1400];
static int nentry, fail;

static int capture(const struct iovec *iov, int n)
{
	size_t off = 0;
	int i;

	if (fail)
		return -ECONNREFUSED;
	for (i = 0; i < n && nentry < 8; i++)
		off += (size_t)snprintf(entry[nentry] + off, sizeof(entry[0]) - off, "|%.*s",
					(int)iov[i].iov_len, (const char *)iov[i].iov_base);
	nentry++;
	return 0;
}

int main(void)
{
	struct stat st;
	char js[64];

	qkd_log_ident = "qkd-agent";
	qkd_log_level = LOG_LVL_INFO;
	ok(journal_log_init(capture) == 1 && qkd_log_hook, "installed with a capture");
	log_info("started: %d link(s)", 2);
	ok(nentry == 1 && !strcmp(entry[0], "|MESSAGE=started: 2 link(s)|PRIORITY=6|SYSLOG_IDENTIFIER=qkd-agent"),
	   "no link context: MESSAGE, PRIORITY 6, SYSLOG_IDENTIFIER only (%s)", entry[0]);
	log_context("site-b", "https://kme-a2:8443");
	log_warn("link %s: KME said \"%s\"", "site-b", "bad\nline");
	ok(nentry == 2 && !strcmp(entry[1], "|MESSAGE=link site-b: KME said \"bad\\x0aline\"|PRIORITY=4|"
				     "SYSLOG_IDENTIFIER=qkd-agent|QKD_LINK=site-b|QKD_KME=https://kme-a2:8443"),
	   "link context: QKD_LINK and QKD_KME; a newline from the network escaped (%s)", entry[1]);
	log_context_key("4a577dea-f7e2-46ca-ba05-f8bbab0bedc1");
	log_warn("link site-b: key 4a577dea-f7e2-46ca-ba05-f8bbab0bedc1 wanted for 60 s; giving up");
	log_context_key(NULL);
	ok(nentry == 3 && strstr(entry[2], "|QKD_LINK=site-b|QKD_KME=https://kme-a2:8443|"
				   "QKD_KEY_ID=4a577dea-f7e2-46ca-ba05-f8bbab0bedc1"),
	   "a line about one key: QKD_KEY_ID too");
	nentry = 2;
	log_debug("not at info level");
	ok(nentry == 2, "below log_level: no entry");
	log_context(NULL, NULL);
	log_err("a stop");
	ok(nentry == 3 && strstr(entry[2], "PRIORITY=3") && !strstr(entry[2], "QKD_LINK"),
	   "context cleared: no QKD_LINK; error is PRIORITY 3");
	fail = 1;
	ok(qkd_log_hook(LOG_LVL_INFO, "x") == 0 && nentry == 3,
	   "the journal refuses: the line is left to stderr");
	fail = 0;

	qkd_log_hook = NULL;
	unsetenv("JOURNAL_STREAM");
	ok(journal_log_init(NULL) == 0 && !qkd_log_hook, "no JOURNAL_STREAM: stderr stays");
	setenv("JOURNAL_STREAM", "1:2", 1);
	ok(journal_log_init(NULL) == 0 && !qkd_log_hook, "JOURNAL_STREAM of another file: stderr stays");
	fstat(2, &st);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	ok(journal_log_init(NULL) == 1 && qkd_log_hook, "JOURNAL_STREAM names stderr: entries to the journal");
	qkd_log_hook = NULL;
	return tap_done();
}
