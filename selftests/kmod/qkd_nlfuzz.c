// SPDX-License-Identifier: GPL-2.0
/*
 * qkd_nlfuzz: a grammar-aware fuzzer of the "qkd" generic netlink family
 * (see nlfuzz.h for its parts, selftests/kmod/README.md for use).
 *
 *   qkd_nlfuzz [--seed S] [--count N] [-j THREADS] [--sockets M]
 *              [--ko qkd.ko [--reload-ms K]] [--unpriv-count N]
 *              [--userns-count N] [--kmalloc-tolerance KIB]
 *   qkd_nlfuzz --seed S --replay T:I      rebuild and send one message
 *
 * Phases, each with its oracle:
 *  1. admin: N messages from THREADS threads in a network namespace of
 *     its own, the module reloaded every K ms; every message the spec
 *     says must be refused must get an error (or, for the lengths the
 *     core drops, no answer at all);
 *  2. unprivileged: uid 65534 without capabilities in that namespace
 *     (owned by the initial user namespace): every message refused, and
 *     joining the multicast groups too;
 *  3. userns: uid 65534 as admin of a user and network namespace of its
 *     own, pressing against the caps: the namespace totals stay within
 *     net.qkd.max_links/max_keys/max_bytes and EDQUOT is seen;
 *  4. memory (with --ko): after the namespaces are gone no object or
 *     vmalloc area of qkd is left beyond what the freshly loaded module
 *     had, after unload no cache qkd_* and no object allocated by code of
 *     an unloaded module is left, and kmalloc-* are back to the baseline
 *     within the tolerance.
 * Kernel splats are the VM runner's oracle (selftests/vm/run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nlfuzz.h"

#define NOBODY		65534
#define MAX_JOBS	16

struct fz_opts {
	uint64_t seed, count, unpriv_count, userns_count;
	unsigned int jobs, socks, reload_ms;
	long long kmalloc_tol;
	const char *ko;
	int replay_t;
	uint64_t replay_i;
};

static unsigned int tap_n, tap_failed;

static void tap(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	tap_failed += !ok;
	printf("%sok %u - nlfuzz: ", ok ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: qkd_nlfuzz [--seed S] [--count N] [-j THREADS] [--sockets M]\n"
		"       [--ko PATH [--reload-ms K]] [--unpriv-count N] [--userns-count N]\n"
		"       [--kmalloc-tolerance KIB]\n"
		"       qkd_nlfuzz --seed S --replay THREAD:INDEX\n");
	exit(2);
}

static void parse_opts(int argc, char **argv, struct fz_opts *o)
{
	static const struct option longs[] = {
		{ "seed", 1, NULL, 's' }, { "count", 1, NULL, 'n' },
		{ "jobs", 1, NULL, 'j' }, { "sockets", 1, NULL, 'S' },
		{ "ko", 1, NULL, 'k' }, { "reload-ms", 1, NULL, 'r' },
		{ "unpriv-count", 1, NULL, 'u' }, { "userns-count", 1, NULL, 'U' },
		{ "kmalloc-tolerance", 1, NULL, 'K' },
		{ "replay", 1, NULL, 'R' }, { NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct fz_opts){ .count = 100000, .jobs = 2, .socks = 2,
			       .kmalloc_tol = 512, .replay_t = -1,
			       .unpriv_count = UINT64_MAX,
			       .userns_count = UINT64_MAX };
	if (getrandom(&o->seed, sizeof(o->seed), 0) != sizeof(o->seed))
		o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	while ((c = getopt_long(argc, argv, "j:", longs, NULL)) != -1) {
		switch (c) {
		case 's': o->seed = strtoull(optarg, NULL, 0); break;
		case 'n': o->count = strtoull(optarg, NULL, 0); break;
		case 'j': o->jobs = (unsigned int)atoi(optarg); break;
		case 'S': o->socks = (unsigned int)atoi(optarg); break;
		case 'k': o->ko = optarg; break;
		case 'r': o->reload_ms = (unsigned int)atoi(optarg); break;
		case 'u': o->unpriv_count = strtoull(optarg, NULL, 0); break;
		case 'U': o->userns_count = strtoull(optarg, NULL, 0); break;
		case 'K': o->kmalloc_tol = atoll(optarg); break;
		case 'R':
			if (sscanf(optarg, "%d:%llu", &o->replay_t,
				   (unsigned long long *)&o->replay_i) != 2)
				usage();
			break;
		default: usage();
		}
	}
	if (!o->jobs || o->jobs > MAX_JOBS || !o->socks || o->socks > FZ_MAX_SOCKS)
		usage();
	if (o->unpriv_count == UINT64_MAX)
		o->unpriv_count = o->count / 20 < 2000 ? 2000 : o->count / 20;
	if (o->userns_count == UINT64_MAX)
		o->userns_count = o->count / 200 < 2000 ? 2000 : o->count / 200;
}

/* A line every 30 s while the workers run: long runs show they live. */
static void progress(const struct fz_worker *w, unsigned int jobs, double t0)
{
	unsigned int i, done;
	uint64_t sent;

	for (;;) {
		for (i = 0; i < 300; i++) {
			struct timespec ts = { 0, 100000000L };

			nanosleep(&ts, NULL);
			for (done = 0; done < jobs; done++)
				if (!__atomic_load_n(&w[done].finished, __ATOMIC_ACQUIRE))
					break;
			if (done == jobs)
				return;
		}
		for (sent = 0, i = 0; i < jobs; i++)
			sent += __atomic_load_n(&w[i].st.sent, __ATOMIC_RELAXED);
		printf("# admin: %llu messages after %.0f s\n",
		       (unsigned long long)sent, now_s() - t0);
	}
}

/* Phase 1: THREADS workers sharing the message indices. */
static void run_admin(const struct fz_opts *o, struct fz_stats *st,
		      struct fz_reload *rl, double *secs)
{
	static struct fz_worker w[MAX_JOBS];
	pthread_t th[MAX_JOBS], rth;
	volatile bool stop = false;
	uint64_t per = o->count / o->jobs;
	double t0 = now_s();
	unsigned int i;

	if (rl->period_ms && pthread_create(&rth, NULL, fz_reload_thread, rl))
		rl->period_ms = 0;
	for (i = 0; i < o->jobs; i++) {
		w[i] = (struct fz_worker){ .id = i, .nsocks = o->socks,
			.mode = FZ_MODE_ADMIN, .seed = o->seed, .first = 0,
			.count = i + 1 == o->jobs ? o->count - per * i : per,
			.stop = &stop };
		pthread_create(&th[i], NULL, fz_worker_run, &w[i]);
	}
	progress(w, o->jobs, t0);
	for (i = 0; i < o->jobs; i++) {
		pthread_join(th[i], NULL);
		fz_stats_add(st, &w[i].st);
	}
	*secs = now_s() - t0;
	if (rl->period_ms) {
		rl->stop = true;
		pthread_join(rth, NULL);
	}
}

struct fz_child {
	struct fz_stats st;
	int setup_err, stats_err;
	uint64_t links, keys, bytes, high;
	long long cap_links, cap_keys, cap_bytes;
};

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

static long long read_ll(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoll(buf) : -1;
}

static int drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -errno;
	return 0;
}

/* uid 65534, then admin of its own user and network namespace. */
static int become_userns_admin(void)
{
	char map[32];

	if (drop_to_nobody())
		return -errno;
	/* the uid change made us undumpable: /proc/self would be root's */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) ||
	    unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return -errno;
	snprintf(map, sizeof(map), "0 %d 1", NOBODY);
	if (write_str("/proc/self/setgroups", "deny") ||
	    write_str("/proc/self/uid_map", map) ||
	    write_str("/proc/self/gid_map", map))
		return -EPERM;
	return 0;
}

static void userns_totals(struct fz_child *c)
{
	struct fz_sock s;

	c->cap_links = read_ll("/proc/sys/net/qkd/max_links");
	c->cap_keys = read_ll("/proc/sys/net/qkd/max_keys");
	c->cap_bytes = read_ll("/proc/sys/net/qkd/max_bytes");
	c->stats_err = fz_sock_open(&s);
	if (c->stats_err)
		return;
	c->stats_err = fz_resolve(&s);
	if (!c->stats_err)
		c->stats_err = fz_ns_stats(&s, &c->links, &c->keys, &c->bytes,
					   &c->high);
	fz_sock_close(&s);
}

/* Phases 2 and 3 run in a child that gives up its privileges. */
static void run_child(const struct fz_opts *o, enum fz_mode mode,
		      struct fz_child *c)
{
	static struct fz_worker w;
	volatile bool stop = false;
	int p[2];
	pid_t pid;

	memset(c, 0, sizeof(*c));
	if (pipe(p) || (pid = fork()) < 0) {
		c->setup_err = -errno;
		return;
	}
	if (!pid) {
		close(p[0]);
		c->setup_err = mode == FZ_MODE_UNPRIV ? drop_to_nobody() :
			       become_userns_admin();
		if (!c->setup_err) {
			w = (struct fz_worker){ .id = mode == FZ_MODE_UNPRIV ? 100 : 200,
				.nsocks = 1, .mode = mode, .seed = o->seed,
				.count = mode == FZ_MODE_UNPRIV ? o->unpriv_count :
					 o->userns_count, .stop = &stop };
			fz_worker_run(&w);
			c->st = w.st;
			if (mode == FZ_MODE_FILL)
				userns_totals(c);
		}
		if (write(p[1], c, sizeof(*c)) != sizeof(*c))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], c, sizeof(*c)) != sizeof(*c))
		c->setup_err = -EPIPE;
	close(p[0]);
	waitpid(pid, NULL, 0);
}

/* --replay T:I: message I of thread T, sent alone, judged. */
static int replay(const struct fz_opts *o)
{
	enum fz_mode mode = o->replay_t >= 200 ? FZ_MODE_FILL :
			    o->replay_t >= 100 ? FZ_MODE_UNPRIV : FZ_MODE_ADMIN;
	static struct fz_msg m;
	struct fz_result r;
	struct fz_sock s;
	char desc[1024];
	int err;

	if (mode == FZ_MODE_UNPRIV && drop_to_nobody())
		return 1;
	if ((err = fz_sock_open(&s)) || (err = fz_resolve(&s))) {
		printf("# replay: family: %s\n", strerror(-err));
		return 1;
	}
	fz_gen(&m, o->seed, (unsigned int)o->replay_t, o->replay_i, s.family, mode);
	fz_describe(&m, desc, sizeof(desc));
	printf("# replay %d:%llu: %s\n# spec: %s\n", o->replay_t,
	       (unsigned long long)o->replay_i, desc,
	       m.why ? m.why : "may be accepted");
	err = fz_exchange(&s, &m, &r);
	printf("# answer: %s%s%s (%u data messages)\n",
	       err ? strerror(-err) : !r.answered ? "none" :
	       r.err ? strerror(r.err) : "0 (accepted)",
	       r.extack[0] ? ": " : "", r.extack, r.parts);
	fz_sock_close(&s);
	return m.why && r.answered && !r.err ? 1 : 0;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

/*
 * Phase 4.  Namespaces are torn down from a workqueue and some frees wait
 * for RCU: poll for a while before calling anything left a leak.
 */
static void check_memory(const struct fz_opts *o, const struct fz_mem *m0,
			 const struct fz_mem *m1)
{
	long long tol = o->kmalloc_tol * 1024, delta;
	double t0 = now_s();
	struct fz_mem m;

	do {
		sleep_s(1);
		fz_mem_read(&m, m1->traces);
		if (m.qkd_objects <= m1->qkd_objects &&
		    m.qkd_vmaps <= m1->qkd_vmaps)
			break;
	} while (now_s() - t0 < 60);
	if (m1->traces)
		tap(m.qkd_objects == m1->qkd_objects &&
		    m.qkd_vmaps == m1->qkd_vmaps,
		    "once its namespaces are gone qkd holds %ld objects and %ld vmalloc areas, as when freshly loaded (%ld, %ld; %.1f s)",
		    m.qkd_objects, m.qkd_vmaps, m1->qkd_objects,
		    m1->qkd_vmaps, now_s() - t0);
	else
		printf("ok %u - nlfuzz: objects held by qkd # SKIP no %s (slub_debug=U)\n",
		       ++tap_n, "/sys/kernel/debug/slab/*/alloc_traces");
	tap(fz_mod_unload(10000) == 0, "the module unloads after the run");
	t0 = now_s();
	do {
		sleep_s(1);
		fz_mem_read(&m, m0->traces);
		delta = m.kmalloc_bytes - m0->kmalloc_bytes;
		if (delta <= tol && m.stale_objects <= m0->stale_objects)
			break;
	} while (now_s() - t0 < 30);
	tap(!m.qkd_caches && m.stale_objects <= m0->stale_objects &&
	    delta <= tol,
	    "after unload: %ld qkd_* caches, %ld objects allocated by unloaded module code (%ld before the run), kmalloc-* %+lld KiB from before the run (tolerance %lld KiB)",
	    m.qkd_caches, m.stale_objects, m0->stale_objects, delta / 1024,
	    o->kmalloc_tol);
}

static void check_admin(const struct fz_opts *o, const struct fz_stats *st,
			const struct fz_reload *rl, double secs)
{
	fz_stats_print(st, "admin");
	printf("# admin: %llu messages in %.1f s: %.0f messages/s (%u threads, %u sockets each)\n",
	       (unsigned long long)st->sent, secs, st->sent / secs, o->jobs,
	       o->socks);
	tap(st->sent == o->count && !st->accepted_bad && !st->timeouts &&
	    st->judged > 0,
	    "%llu messages (seed %llu, -j %u), %.0f/s: %llu that must be refused were, none accepted, no answer lost",
	    (unsigned long long)st->sent, (unsigned long long)o->seed,
	    o->jobs, st->sent / secs, (unsigned long long)st->refused);
	tap(st->subscribe_tries && !st->subscribe_refused,
	    "an admin joins the notification groups (%llu times)",
	    (unsigned long long)st->subscribe_tries);
	if (rl->period_ms)
		tap(rl->reloads > 0 && !rl->failed,
		    "module reloaded %lu times under load every %u ms (away %lu ms each; %lu unloads put off: in use), %llu lookups answered ENOENT meanwhile",
		    rl->reloads, rl->period_ms,
		    rl->reloads ? rl->away_ms / rl->reloads : 0, rl->busy,
		    (unsigned long long)st->resolve_enoent);
}

static void check_unpriv(const struct fz_child *c, double secs)
{
	const struct fz_stats *st = &c->st;

	fz_stats_print(st, "unprivileged");
	printf("# unprivileged: %llu messages in %.1f s\n",
	       (unsigned long long)st->sent, secs);
	tap(!c->setup_err && st->judged && st->refused == st->judged &&
	    !st->accepted_bad && !st->timeouts,
	    "uid %d without capabilities refused %llu of %llu times",
	    NOBODY, (unsigned long long)st->refused,
	    (unsigned long long)st->judged);
	tap(!c->setup_err && st->subscribe_tries &&
	    st->subscribe_refused == st->subscribe_tries,
	    "uid %d may not join the groups (%llu of %llu refused)", NOBODY,
	    (unsigned long long)st->subscribe_refused,
	    (unsigned long long)st->subscribe_tries);
}

static void check_userns(const struct fz_child *c, double secs)
{
	const struct fz_stats *st = &c->st;
	uint64_t edquot = fz_stats_errs(st, EDQUOT);

	fz_stats_print(st, "userns");
	printf("# userns: %llu messages in %.1f s\n",
	       (unsigned long long)st->sent, secs);
	tap(!c->setup_err && !c->stats_err && c->cap_links > 0 &&
	    c->links <= (uint64_t)c->cap_links &&
	    c->keys <= (uint64_t)c->cap_keys &&
	    c->high <= (uint64_t)c->cap_bytes && edquot > 0 &&
	    !st->accepted_bad && !st->timeouts,
	    "userns admin bounded by net.qkd caps: links %llu/%lld, keys %llu/%lld, bytes %llu (high water %llu)/%lld, EDQUOT %llu times",
	    (unsigned long long)c->links, c->cap_links,
	    (unsigned long long)c->keys, c->cap_keys,
	    (unsigned long long)c->bytes, (unsigned long long)c->high,
	    c->cap_bytes, (unsigned long long)edquot);
}

static int setup_module(const struct fz_opts *o, struct fz_mem *m0,
			struct fz_mem *m1)
{
	int err;

	memset(m0, 0, sizeof(*m0));
	memset(m1, 0, sizeof(*m1));
	if (!o->ko)
		return fz_mod_loaded() ? 0 : -ENOENT;
	if (fz_mod_loaded() && (err = fz_mod_unload(10000)))
		return err;
	fz_mem_read(m0, true);
	if ((err = fz_mod_load(o->ko)))
		return err;
	fz_mem_read(m1, true);
	return 0;
}

int main(int argc, char **argv)
{
	struct fz_stats st = { 0 };
	struct fz_child c;
	struct fz_mem m0, m1;
	struct fz_opts o;
	struct fz_reload rl = { 0 };
	double secs;
	int orig, err;

	parse_opts(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.replay_t >= 0)
		return replay(&o);
	printf("# nlfuzz: seed %llu (the same run: --seed %llu -j %u; one message: --replay T:I)\n",
	       (unsigned long long)o.seed, (unsigned long long)o.seed, o.jobs);
	err = setup_module(&o, &m0, &m1);
	if (err) {
		printf("not ok 1 - nlfuzz: module: %s%s\n", strerror(-err),
		       o.ko ? "" : " (not loaded; give --ko)");
		return 1;
	}
	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig < 0 || unshare(CLONE_NEWNET)) {
		perror("nlfuzz: netns");
		return 1;
	}
	rl.ko = o.ko;
	rl.period_ms = o.ko ? o.reload_ms : 0;
	run_admin(&o, &st, &rl, &secs);
	check_admin(&o, &st, &rl, secs);
	if (o.unpriv_count) {
		secs = now_s();
		run_child(&o, FZ_MODE_UNPRIV, &c);
		check_unpriv(&c, now_s() - secs);
	}
	if (o.userns_count) {
		secs = now_s();
		run_child(&o, FZ_MODE_FILL, &c);
		check_userns(&c, now_s() - secs);
	}
	if (setns(orig, CLONE_NEWNET))
		perror("nlfuzz: setns");
	close(orig);
	if (o.ko)
		check_memory(&o, &m0, &m1);
	printf("1..%u\n", tap_n);
	return tap_failed ? 1 : 0;
}
