// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The persistent audit trail: every take record of the module's audit
 * ring (time, link, key ID, role, taker, the SPIs it keyed) written once
 * to the systemd journal with structured fields, so that the trail
 * outlives the ring (net.qkd.audit_records, 1024 by default) and a module
 * reload, and an auditor can ask the journal which QKD key keyed an SA:
 *
 *   journalctl MESSAGE_ID=<QKD_AUDIT_MESSAGE_ID> QKD_SPI=0xc0ffee01
 *
 * The ring is read every audit_interval seconds with one AUDIT_GET dump
 * (the sink's audit op), oldest first.  A record is written when it is
 * settled: charon annotates the SPIs of the CHILD_SA a key keyed after the
 * SA is installed, so a record waits until it names two SPIs (one SA
 * pair) or a usage text, or is audit_settle seconds old by its take time
 * or by how long the agent has held it back (a take by qkdctl or a failed
 * rekey never gets SPIs; a wall clock stepped back must not stall it).  Records are written strictly in
 * sequence order: an unsettled record holds back the newer ones until it
 * settles, so next_seq alone says what was written.
 *
 * What the trail cannot give, and says so: records overwritten in the
 * ring before a read (more takes than the ring holds per interval) are
 * logged as lost, counted and never invented; a module reload restarts
 * the sequence numbers (seen as the newest record older than the last one
 * written); an agent restart writes again the records still in the ring
 * (same QKD_AUDIT_SEQ and QKD_TAKE_REALTIME_USEC: recognisable duplicates,
 * never a gap).  A restart is seen as a record with a sequence number
 * already written but a take time after the last record written, or as
 * a ring whose newest record is older than the last one written.  Without a journal (no journald socket: containers, the
 * test guest) the same fields go to the agent's log as one info line.
 *
 * No key material is read here: an audit record holds only the key's ID.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-journal.h>
#include "agent.h"
#include "clock.h"
#include "log.h"
#include "uuid.h"

/* journalctl MESSAGE_ID= for take records (docs/operations.md) */
#define QKD_AUDIT_MESSAGE_ID "8d3f5a2c6e1b4f0a9c7d2e5b8a1f3c60"

/* The fields of one record: fixed ones and one QKD_SPI= per SPI. */
#define AUDIT_FIELDS_FIXED 13
/* the longest is MESSAGE= with a 127-byte usage text: about 330 */
#define AUDIT_FIELD_MAX 400

struct audit_fields {
	char f[AUDIT_FIELDS_FIXED + QKD_AUDIT_SPI_MAX][AUDIT_FIELD_MAX];
	struct iovec iov[AUDIT_FIELDS_FIXED + QKD_AUDIT_SPI_MAX];
	int n;
};

/* One pass over the ring. */
struct audit_walk {
	struct agent *a;
	uint64_t now_ns;	/* realtime, to age records */
	double mono;		/* mono_now() */
	uint64_t newest;	/* newest sequence number in the ring */
	int held;		/* an unsettled record: stop writing */
	int restarted;		/* a record newer than the last written, with a lower seq */
};

static uint64_t audit_netns_inode(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint64_t)st.st_ino;
}

static void add(struct audit_fields *af, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add(struct audit_fields *af, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (af->n >= (int)(sizeof(af->f) / sizeof(af->f[0])))
		return;
	va_start(ap, fmt);
	len = vsnprintf(af->f[af->n], AUDIT_FIELD_MAX, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if (len >= AUDIT_FIELD_MAX)
		len = AUDIT_FIELD_MAX - 1;	/* names and texts are bounded below this */
	af->iov[af->n].iov_base = af->f[af->n];
	af->iov[af->n].iov_len = (size_t)len;
	af->n++;
}

/* The record's SPIs as ip xfrm state prints them: "0x... 0x..." */
static void spi_list(const struct qkd_audit_buf *r, char *out, size_t outsz)
{
	size_t off = 0;
	unsigned int i;

	out[0] = '\0';
	for (i = 0; i < r->nr_spi && i < QKD_AUDIT_SPI_MAX && off < outsz; i++)
		off += (size_t)snprintf(out + off, outsz - off, "%s0x%08x", i ? " " : "", r->spi[i]);
}

static void build_fields(const struct qkd_audit_buf *r, uint64_t netns, struct audit_fields *af)
{
	char id[UUID_STR_LEN + 1], spis[QKD_AUDIT_SPI_MAX * 11 + 1];
	int has_usage = (r->present & (1ULL << QKD_AUDIT_A_USAGE)) && r->usage[0];
	unsigned int i;

	uuid_format(r->key_id, id);
	spi_list(r, spis, sizeof(spis));
	af->n = 0;
	add(af, "MESSAGE=QKD key %s (%s key) taken on link %s by %s[%u]%s%s%s%s", id,
	    qkd_role_name(r->role), r->link_name, r->comm, r->pid, r->nr_spi ? ", SPIs " : "",
	    spis, has_usage ? ", usage " : "", has_usage ? r->usage : "");
	add(af, "MESSAGE_ID=%s", QKD_AUDIT_MESSAGE_ID);
	add(af, "PRIORITY=6");
	add(af, "SYSLOG_IDENTIFIER=qkd-agent");
	add(af, "QKD_AUDIT_SEQ=%llu", (unsigned long long)r->seq);
	add(af, "QKD_TAKE_REALTIME_USEC=%llu", (unsigned long long)(r->time_ns / 1000));
	add(af, "QKD_LINK=%s", r->link_name);
	add(af, "QKD_KEY_ID=%s", id);
	add(af, "QKD_KEY_ROLE=%s", qkd_role_name(r->role));
	add(af, "QKD_TAKER_PID=%u", r->pid);
	add(af, "QKD_TAKER_COMM=%s", r->comm);
	if (has_usage)
		add(af, "QKD_USAGE=%s", r->usage);
	if (netns)
		add(af, "QKD_NETNS=%llu", (unsigned long long)netns);
	for (i = 0; i < r->nr_spi && i < QKD_AUDIT_SPI_MAX; i++)
		add(af, "QKD_SPI=0x%08x", r->spi[i]);
}

/* The journal, or the agent's log when there is none (once said): then
 * one info line with the message and every QKD_ field. */
static void emit(struct agent *a, const struct audit_fields *af)
{
	struct audit_trail *t = &a->audit;
	char line[1000];	/* qkd_log's own limit is 1024 */
	int r = -ENOSYS;
	size_t off;
	int i;

	/* sd_journal_sendv() "succeeds" without a journal (it drops the
	 * entry when the socket is absent): look for the socket first */
	if (t->journal_socket && access(t->journal_socket, W_OK))
		r = -errno;
	else if (t->sendv)
		r = t->sendv(af->iov, af->n);
	if (r >= 0) {
		t->journaled++;
		t->no_journal = 0;
		return;
	}
	if (!t->no_journal)
		log_warn("audit trail: no journal (%s%s%s): writing take records to the agent's "
			 "log instead", t->journal_socket ? t->journal_socket : "",
			 t->journal_socket ? ": " : "", strerror(-r));
	t->no_journal = 1;
	off = (size_t)snprintf(line, sizeof(line), "%s", af->f[0] + strlen("MESSAGE="));
	for (i = 1; i < af->n && off < sizeof(line); i++)
		if (!strncmp(af->f[i], "QKD_", 4))
			off += (size_t)snprintf(line + off, sizeof(line) - off, " %s", af->f[i]);
	log_info("audit: %s", line);
	t->logged++;
}

/* Settled: annotated, or audit_settle old by the take time, or held back
 * that long by the agent's own monotonic clock (a wall clock stepped back
 * must not stall the trail). */
static int settled(const struct qkd_audit_buf *r, struct audit_walk *w)
{
	struct audit_trail *t = &w->a->audit;
	uint32_t settle_s = w->a->conf->audit_settle;

	if (r->nr_spi >= 2 || ((r->present & (1ULL << QKD_AUDIT_A_USAGE)) && r->usage[0]))
		return 1;
	if (w->now_ns >= r->time_ns && w->now_ns - r->time_ns >= (uint64_t)settle_s * 1000000000ULL)
		return 1;
	if (t->head_seq != r->seq) {
		t->head_seq = r->seq;
		t->head_seen = w->mono;
		return 0;
	}
	return w->mono - t->head_seen >= settle_s;
}

static int on_record(const struct qkd_audit_buf *r, void *arg)
{
	struct audit_walk *w = arg;
	struct audit_trail *t = &w->a->audit;
	struct audit_fields af;

	if (r->seq > w->newest)
		w->newest = r->seq;
	if (w->held)
		return 0;
	if (t->next_seq && r->seq < t->next_seq) {
		/* written already, unless it is newer than the last record
		 * written: then the sequence started again (module reload) */
		if (r->time_ns > t->last_time_ns)
			w->restarted = w->held = 1;
		return 0;
	}
	if (t->next_seq && r->seq > t->next_seq) {
		log_warn("audit trail: take records %llu..%llu were overwritten in the module's ring "
			 "before the agent read them (raise net.qkd.audit_records or lower "
			 "audit_interval)", (unsigned long long)t->next_seq,
			 (unsigned long long)r->seq - 1);
		t->lost += r->seq - t->next_seq;
		t->next_seq = r->seq;
	}
	if (!settled(r, w)) {
		w->held = 1;
		return 0;
	}
	build_fields(r, t->netns, &af);
	emit(w->a, &af);
	t->next_seq = r->seq + 1;
	t->last_time_ns = r->time_ns;
	return 0;
}

int auditlog_active(const struct agent *a)
{
	return a->conf->audit_journal && a->sink_ok && a->sink.ops->audit;
}

void auditlog_step(struct agent *a, double now, uint64_t real_ns)
{
	struct audit_trail *t = &a->audit;
	struct audit_walk w = { .a = a, .now_ns = real_ns, .mono = now };
	int r;

	if (!auditlog_active(a) || now < t->next_run)
		return;
	t->next_run = now + a->conf->audit_interval;
	r = a->sink.ops->audit(&a->sink, on_record, &w);
	if (r < 0) {
		t->read_errors++;
		log_debug("audit trail: reading the ring failed: %s", strerror(-r));
		return;
	}
	if (w.restarted || (t->next_seq > 1 && w.newest < t->next_seq - 1)) {
		/* the module's sequence started again (a reload): read its
		 * ring from the start at once */
		log_info("audit trail: the module's take records start again (module reloaded); "
			 "%llu written before", (unsigned long long)(t->journaled + t->logged));
		t->restarts++;
		t->next_seq = 0;
		t->last_time_ns = 0;
		t->next_run = now;
	}
}

uint64_t auditlog_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void auditlog_flush(struct agent *a)
{
	a->audit.next_run = 0;
	auditlog_step(a, mono_now(), auditlog_realtime_ns());
}

void auditlog_init(struct agent *a)
{
	memset(&a->audit, 0, sizeof(a->audit));
	a->audit.sendv = sd_journal_sendv;
	a->audit.journal_socket = "/run/systemd/journal/socket";
	a->audit.netns = audit_netns_inode();
}
