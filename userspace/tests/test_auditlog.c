// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The audit trail (agent/auditlog.c): the module's take records, as the
 * sink's audit op hands them over (scripted here), written once each to a
 * captured journal with exact fields; held until settled, in order; a
 * ring that overwrote records before the read; a module reload; a journal
 * that refuses (the log instead); the interval; audit_journal = no.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../agent/agent.h"
#include "tap.h"

/* main.c's globals (not linked: it has main()) */
volatile sig_atomic_t agent_stop_requested, agent_reload_requested;
int agent_wake_fd = -1;

#define SEC 1000000000ULL
#define T0 (1764547200ULL * SEC)	/* 2025-12-01 00:00:00 UTC */

static struct qkd_audit_buf ring[16];
static int nring, dumps;

static int fake_audit(struct sink *s, qkd_audit_fn fn, void *arg)
{
	int i;

	(void)s;
	dumps++;
	for (i = 0; i < nring; i++)
		fn(&ring[i], arg);
	return nring;
}

static const struct sink_ops fake_ops = { .name = "fake", .audit = fake_audit };

/* The journal: every entry's fields joined by '|'. */
static char journal[32][1024];
static int njournal, journal_err;

static int capture(const struct iovec *iov, int n)
{
	size_t off = 0;
	int i;

	if (journal_err)
		return journal_err;
	if (njournal >= 32)
		return -ENOSPC;
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(journal[njournal] + off, sizeof(journal[0]) - off, "%s%.*s",
					i ? "|" : "", (int)iov[i].iov_len, (const char *)iov[i].iov_base);
	njournal++;
	return 0;
}

static void rec(int i, uint64_t seq, uint64_t t, unsigned int nspi, const char *usage)
{
	struct qkd_audit_buf *r = &ring[i];
	unsigned int k;

	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->time_ns = t;
	snprintf(r->link_name, sizeof(r->link_name), "site-b");
	for (k = 0; k < 16; k++)
		r->key_id[k] = (uint8_t)(seq * 16 + k);
	r->role = seq % 2 ? QKD_KEY_ROLE_INITIATOR : QKD_KEY_ROLE_RESPONDER;
	r->pid = 4242;
	snprintf(r->comm, sizeof(r->comm), "charon");
	r->nr_spi = nspi;
	for (k = 0; k < nspi; k++)
		r->spi[k] = 0xc0ffee00u + (uint32_t)(seq * 2 + k);
	if (usage) {
		snprintf(r->usage, sizeof(r->usage), "%s", usage);
		r->present |= 1ULL << QKD_AUDIT_A_USAGE;
	}
}

static int has(int e, const char *field)
{
	char want[200], row[1100];

	snprintf(want, sizeof(want), "|%s|", field);
	snprintf(row, sizeof(row), "|%s|", journal[e]);
	return strstr(row, want) != NULL;
}

static uint64_t seq_of(int e)
{
	const char *p = strstr(journal[e], "QKD_AUDIT_SEQ=");

	return p ? strtoull(p + 14, NULL, 10) : 0;
}

int main(void)
{
	struct conf c;
	struct agent a;
	double now = 100;

	memset(&c, 0, sizeof(c));
	c.audit_journal = 1;
	c.audit_interval = 5;
	c.audit_settle = 30;
	memset(&a, 0, sizeof(a));
	a.conf = &c;
	auditlog_init(&a);
	a.audit.sendv = capture;
	a.audit.journal_socket = NULL;
	a.audit.netns = 4026531840ULL;
	a.sink.ops = &fake_ops;
	a.sink_ok = 1;

	/* 1 has its SA's two SPIs, 2 none yet (young), 3 both */
	rec(0, 1, T0, 2, NULL);
	rec(1, 2, T0 + 1 * SEC, 0, NULL);
	rec(2, 3, T0 + 2 * SEC, 2, NULL);
	nring = 3;
	auditlog_step(&a, now, T0 + 3 * SEC);
	ok(njournal == 1 && seq_of(0) == 1, "settled record 1 written; 2 (no SPIs, 2 s old) holds back 3");
	ok(has(0, "MESSAGE=QKD key 10111213-1415-1617-1819-1a1b1c1d1e1f (initiator key) taken on "
		  "link site-b by charon[4242], SPIs 0xc0ffee02 0xc0ffee03") &&
	   has(0, "MESSAGE_ID=8d3f5a2c6e1b4f0a9c7d2e5b8a1f3c60") && has(0, "PRIORITY=6") &&
	   has(0, "QKD_AUDIT_SEQ=1") && has(0, "QKD_TAKE_REALTIME_USEC=1764547200000000") &&
	   has(0, "QKD_LINK=site-b") && has(0, "QKD_KEY_ID=10111213-1415-1617-1819-1a1b1c1d1e1f") &&
	   has(0, "QKD_KEY_ROLE=initiator") && has(0, "QKD_TAKER_PID=4242") &&
	   has(0, "QKD_TAKER_COMM=charon") && has(0, "QKD_SPI=0xc0ffee02") &&
	   has(0, "QKD_SPI=0xc0ffee03") && has(0, "QKD_NETNS=4026531840") &&
	   has(0, "SYSLOG_IDENTIFIER=qkd-agent"),
	   "record 1's fields: message, ID, seq, take time, link, key ID, role, taker, both SPIs, netns");

	auditlog_step(&a, now + 1, T0 + 40 * SEC);
	ok(dumps == 1 && njournal == 1, "within audit_interval: the ring is not read again");

	now += 5;
	rec(1, 2, T0 + 1 * SEC, 2, NULL);	/* charon annotated it */
	auditlog_step(&a, now, T0 + 4 * SEC);
	ok(njournal == 3 && seq_of(1) == 2 && seq_of(2) == 3 && has(1, "QKD_KEY_ROLE=responder"),
	   "2 annotated: 2 and 3 written, in order");

	now += 5;
	rec(3, 4, T0 + 5 * SEC, 0, NULL);
	nring = 4;
	auditlog_step(&a, now, T0 + 20 * SEC);
	ok(njournal == 3, "4 without SPIs, 15 s old: held (audit_settle 30)");
	now += 5;
	auditlog_step(&a, now, T0 + 36 * SEC);
	ok(njournal == 4 && seq_of(3) == 4 && !strstr(journal[3], "QKD_SPI=") &&
	   has(3, "MESSAGE=QKD key 40414243-4445-4647-4849-4a4b4c4d4e4f (responder key) taken on "
		  "link site-b by charon[4242]"),
	   "4 is 31 s old: written without SPIs");

	/* the ring overwrote 5..9 before this read */
	now += 5;
	rec(0, 10, T0 + 40 * SEC, 2, NULL);
	rec(1, 11, T0 + 41 * SEC, 0, "qkdctl key take");
	nring = 2;
	auditlog_step(&a, now, T0 + 42 * SEC);
	ok(njournal == 6 && seq_of(4) == 10 && seq_of(5) == 11 && a.audit.lost == 5,
	   "records 5..9 overwritten: 5 counted lost, 10 and 11 written");
	ok(has(5, "QKD_USAGE=qkdctl key take") && has(5, "QKD_NETNS=4026531840") &&
	   strstr(journal[5], ", usage qkdctl key take"),
	   "a record with a usage text is settled at once, usage in the message and a field");

	/* module reloaded: sequence numbers start again, later take times */
	now += 5;
	rec(0, 1, T0 + 50 * SEC, 2, NULL);
	rec(1, 2, T0 + 51 * SEC, 2, NULL);
	nring = 2;
	auditlog_step(&a, now, T0 + 52 * SEC);
	ok(a.audit.restarts == 1 && njournal == 6, "reload seen (seq 1 with a take time after the last written)");
	auditlog_step(&a, now, T0 + 52 * SEC);
	ok(njournal == 8 && seq_of(6) == 1 && seq_of(7) == 2 && a.audit.lost == 5,
	   "read again at once from the new ring's start: 1 and 2 written, nothing counted lost");

	/* reload into an empty ring, then one record */
	now += 5;
	nring = 0;
	auditlog_step(&a, now, T0 + 60 * SEC);
	ok(a.audit.restarts == 2, "reload into an empty ring seen (newest 0 < last written 2)");
	rec(0, 1, T0 + 61 * SEC, 2, NULL);
	nring = 1;
	auditlog_step(&a, now, T0 + 62 * SEC);
	ok(njournal == 9 && seq_of(8) == 1, "its first record written");

	/* no journal: the agent's log instead, counted */
	now += 5;
	journal_err = -ENOENT;
	rec(1, 2, T0 + 63 * SEC, 2, NULL);
	nring = 2;
	auditlog_step(&a, now, T0 + 64 * SEC);
	ok(a.audit.no_journal && a.audit.logged == 1 && a.audit.journaled == 9,
	   "journal refused: the record goes to the log (1), 9 journaled before");

	/* no journald socket: sd_journal_sendv() would drop the entry
	 * silently, so it is not called; the log instead */
	now += 5;
	journal_err = 0;
	a.audit.journal_socket = "/nonexistent/journal/socket";
	rec(2, 3, T0 + 65 * SEC, 2, NULL);
	nring = 3;
	auditlog_step(&a, now, T0 + 66 * SEC);
	ok(a.audit.logged == 2 && a.audit.journaled == 9 && njournal == 9,
	   "journal socket absent: the record goes to the log (2), the journal is not called");
	now += 5;
	a.audit.journal_socket = "/";
	rec(3, 4, T0 + 67 * SEC, 2, NULL);
	nring = 4;
	auditlog_step(&a, now, T0 + 68 * SEC);
	ok(!a.audit.no_journal && a.audit.journaled == 10 && njournal == 10 && seq_of(9) == 4,
	   "journal back: the next record is journaled");

	/* the wall clock stepped back an hour: a record without SPIs still
	 * settles after audit_settle of the agent's own (monotonic) time */
	now += 5;
	rec(4, 5, T0 + 69 * SEC, 0, NULL);
	nring = 5;
	auditlog_step(&a, now, T0 + 69 * SEC - 3600 * SEC);
	ok(njournal == 10, "clock stepped back: record 5 held (take time in the future)");
	now += 31;
	auditlog_step(&a, now, T0 + 69 * SEC - 3600 * SEC + 31 * SEC);
	ok(njournal == 11 && seq_of(10) == 5, "written after audit_settle (30 s) of monotonic time");

	/* audit_journal = no: the ring is not read */
	c.audit_journal = 0;
	dumps = 0;
	now += 5;
	auditlog_step(&a, now, T0 + 70 * SEC);
	ok(dumps == 0, "audit_journal = no: the ring is never read");
	return tap_done();
}
