// SPDX-License-Identifier: GPL-2.0
/*
 * A fuzzing thread of qkd_nlfuzz: generates its share of the messages,
 * sends each on one of its sockets, and judges the answer against what
 * the spec says (fz_msg.why): a message that must be refused and was
 * accepted is a failure, printed with its seed index and without any
 * key byte.  Also follows module reloads (fz_load_gen).
 */
#include <errno.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nlfuzz.h"

#define MAX_REPORTS	20

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int reports;

/* The structure of a message, never its payload bytes. */
void fz_describe(const struct fz_msg *m, char *out, size_t size)
{
	const struct nlattr *a;
	size_t off = NLMSG_HDRLEN + 4;
	int n;

	n = snprintf(out, size, "%s%s %s, %zu bytes, attrs:",
		     fz_op_name(m->cmd), m->dump ? " (dump)" : "",
		     fz_class_names[m->cls], m->len);
	while (off + NLA_HDRLEN <= m->len && n > 0 && (size_t)n < size) {
		a = (const struct nlattr *)(m->buf + off);
		n += snprintf(out + n, size - n, " %s%s/%u",
			      fz_attr_name(a->nla_type & NLA_TYPE_MASK),
			      a->nla_type & NLA_F_NESTED ? "(N)" : "",
			      a->nla_len);
		if (a->nla_len < NLA_HDRLEN)
			break;
		off += NLA_ALIGN(a->nla_len);
	}
}

static void report(const struct fz_worker *w, uint64_t i,
		   const struct fz_result *r, const char *what)
{
	char desc[512];

	pthread_mutex_lock(&report_lock);
	if (reports++ < MAX_REPORTS) {
		fz_describe(&w->msg, desc, sizeof(desc));
		printf("# FAIL %s: thread %u index %llu: %s; must be refused: %s"
		       " (attr %s); answer %s%s%s\n"
		       "#   replay: qkd_nlfuzz --seed %llu --replay %u:%llu\n",
		       what, w->id, (unsigned long long)i, desc, w->msg.why,
		       w->msg.why_attr >= 0 ? fz_attr_name(w->msg.why_attr) : "-",
		       r->answered ? (r->err ? strerror(r->err) : "0 (accepted)") :
		       "none", r->extack[0] ? ": " : "", r->extack,
		       (unsigned long long)w->seed, w->id, (unsigned long long)i);
	}
	pthread_mutex_unlock(&report_lock);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* Open and resolve, retrying while the family is away (up to 20 s). */
static int open_resolved(struct fz_worker *w, struct fz_sock *s)
{
	unsigned int tries;
	int err;

	for (tries = 0; tries < 20000; tries++) {
		err = fz_sock_open(s);
		if (err)
			return err;
		err = fz_resolve(s);
		if (!err)
			return 0;
		fz_sock_close(s);
		if (err != -ENOENT && err != -EAGAIN)
			return err;
		w->st.resolve_enoent++;
		sleep_ms(1);
	}
	return -ENOENT;
}

/* Follow a module reload: new sockets, the family resolved again. */
static int sync_module(struct fz_worker *w)
{
	unsigned int g = __atomic_load_n(&fz_load_gen, __ATOMIC_SEQ_CST), i;
	struct fz_sock probe;
	int err;

	if (!(g & 1) && g == w->gen)
		return 0;
	for (i = 0; i < w->nsocks; i++)
		fz_sock_close(&w->socks[i]);
	/* while it is away, resolving answers ENOENT */
	while ((g = __atomic_load_n(&fz_load_gen, __ATOMIC_SEQ_CST)) & 1) {
		if (!fz_sock_open(&probe)) {
			if (fz_resolve(&probe) == -ENOENT)
				w->st.resolve_enoent++;
			fz_sock_close(&probe);
		}
		sleep_ms(1);
	}
	for (i = 0; i < w->nsocks; i++) {
		err = open_resolved(w, &w->socks[i]);
		if (err)
			return err;
		/* one socket per thread also gets the notifications */
		if (i == 0) {
			w->st.subscribe_tries++;
			if (fz_subscribe(&w->socks[i]))
				w->st.subscribe_refused++;
		}
	}
	w->st.reopens++;
	w->gen = g;
	return 0;
}

/* Judge one answer; false when the message must be refused and was not. */
static bool judge(struct fz_worker *w, uint64_t i, const struct fz_result *r,
		  bool raced)
{
	const struct fz_msg *m = &w->msg;
	unsigned int row = fz_op(m->cmd) ? m->cmd : FZ_ROWS - 1;
	unsigned int col = r->timeout ? FZ_E_TIMEOUT : !r->answered ?
			   FZ_E_SILENT : r->err < FZ_E_SILENT ? r->err : 0;
	bool refused;

	w->st.strays += r->strays;
	w->st.dump_intr += r->intr;
	w->st.overruns += r->overrun;
	if (m->abandon || m->close_after) {
		w->st.abandoned++;
		return true;
	}
	w->st.by_op_err[row][col]++;
	if (raced) {
		w->st.raced++;
		return true;
	}
	if (r->timeout) {
		w->st.timeouts++;
		report(w, i, r, "no answer");
		return false;
	}
	/* lost to a socket overrun: no verdict either way */
	if (!m->why || (r->overrun && !r->answered))
		return true;
	w->st.judged++;
	refused = r->answered ? r->err != 0 : (m->maybe_silent && !r->parts);
	if (refused) {
		w->st.refused++;
		return true;
	}
	w->st.accepted_bad++;
	report(w, i, r, "accepted");
	return false;
}

static int exchange_one(struct fz_worker *w, uint64_t i)
{
	struct fz_sock *s = &w->socks[i % w->nsocks];
	struct fz_result r;
	unsigned int g0;
	int err;

	fz_gen(&w->msg, w->seed, w->id, i, s->family, w->mode);
	w->st.sent++;
	w->st.by_class[w->msg.cls]++;
	g0 = __atomic_load_n(&fz_load_gen, __ATOMIC_SEQ_CST);
	err = fz_exchange(s, &w->msg, &r);
	if (err) {
		/* e.g. ECONNREFUSED after an overrun: start the socket over */
		w->st.send_err++;
		fz_sock_close(s);
		return open_resolved(w, s);
	}
	judge(w, i, &r, g0 != __atomic_load_n(&fz_load_gen, __ATOMIC_SEQ_CST));
	if (w->msg.close_after) {
		fz_sock_close(s);
		return open_resolved(w, s);
	}
	return 0;
}

void *fz_worker_run(void *arg)
{
	struct fz_worker *w = arg;
	uint64_t i;
	unsigned int k;

	w->gen = 1;	/* odd: never resolved */
	for (k = 0; k < w->nsocks; k++)
		w->socks[k].fd = -1;
	for (i = w->first; i < w->first + w->count && !*w->stop; i++) {
		if (sync_module(w) || exchange_one(w, i)) {
			fprintf(stderr, "nlfuzz: thread %u: lost the family\n",
				w->id);
			w->st.timeouts++;
			break;
		}
	}
	for (k = 0; k < w->nsocks; k++)
		fz_sock_close(&w->socks[k]);
	__atomic_store_n(&w->finished, true, __ATOMIC_RELEASE);
	return NULL;
}
