// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The agent's log lines as journal entries with fields, when systemd
 * connected its stderr to the journal (JOURNAL_STREAM names stderr's
 * device and inode, systemd.exec(5)): MESSAGE, PRIORITY,
 * SYSLOG_IDENTIFIER, and QKD_LINK / QKD_KME for the lines written while
 * the loop works on one link (log_context), QKD_KEY_ID for a line about
 * one key (log_context_key), so that
 *
 *   journalctl -u qkd-agent QKD_LINK=site-b
 *   journalctl -u qkd-agent QKD_KME=https://kme-a2:8443 -p warning
 *
 * select one link's or one KME replica's lines.  Elsewhere (a terminal, a
 * test, a container without journald) lines go to stderr as before, with
 * the sd-daemon priority prefix.  The text is qkd_log's escaped one:
 * strings from the network cannot forge entries or terminal sequences.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include "agent.h"
#include "log.h"

static struct {
	const char *link, *kme;		/* the loop's current link, or NULL */
	const char *key;		/* the key ID a line is about, or NULL */
	int (*sendv)(const struct iovec *iov, int n);
} J;

void log_context(const char *link, const char *kme)
{
	J.link = link;
	J.kme = kme;
}

void log_context_key(const char *key_id)
{
	J.key = key_id;
}

static int to_journal(int level, const char *text)
{
	static const int prio[] = { 3, 4, 6, 7 };
	char f[6][1200];
	struct iovec iov[6];
	int n = 0, i;

	snprintf(f[n++], sizeof(f[0]), "MESSAGE=%s", text);
	snprintf(f[n++], sizeof(f[0]), "PRIORITY=%d", prio[level]);
	snprintf(f[n++], sizeof(f[0]), "SYSLOG_IDENTIFIER=%s", qkd_log_ident);
	if (J.link)
		snprintf(f[n++], sizeof(f[0]), "QKD_LINK=%s", J.link);
	if (J.kme)
		snprintf(f[n++], sizeof(f[0]), "QKD_KME=%s", J.kme);
	if (J.key)
		snprintf(f[n++], sizeof(f[0]), "QKD_KEY_ID=%s", J.key);
	for (i = 0; i < n; i++) {
		iov[i].iov_base = f[i];
		iov[i].iov_len = strlen(f[i]);
	}
	return J.sendv(iov, n) >= 0;	/* else: stderr still has it */
}

/* "DEV:INO" of JOURNAL_STREAM against stderr's. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && !fstat(2, &st) &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int journal_log_init(int (*sendv)(const struct iovec *iov, int n))
{
	J.sendv = sendv ? sendv : sd_journal_sendv;
	if (!sendv && !stderr_is_journal())
		return 0;
	qkd_log_hook = to_journal;
	return 1;
}
