// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of the qkd module's memory bounds: the per-namespace caps
 * (sysctls net.qkd.*), the unprivileged user-namespace case the caps are
 * for, and the charge of the store's memory to the caller's memory
 * cgroup.  Run as root in the guest with the module loaded; each test
 * runs in a network namespace of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libqkd.h"
#include "kselftest_harness.h"

#define SYSCTL		"/proc/sys/net/qkd/"
#define PARAMS		"/sys/module/qkd/parameters/"
#define CGROOT		"/sys/fs/cgroup"
#define NOBODY		65534
#define BATCH		QKD_INJECT_MAX_KEYS

/* Key n: the ID and material derived from n (IDs unique per n). */
static void make_key(struct qkd_key_buf *k, uint32_t n, uint8_t len)
{
	unsigned int i;

	memset(k, 0, sizeof(*k));
	k->id[0] = 0xca;
	memcpy(&k->id[12], &n, sizeof(n));
	for (i = 0; i < len; i++)
		k->material[i] = (uint8_t)(n * 13 + i);
	k->len = len;
	k->role = QKD_KEY_ROLE_INITIATOR;
}

/* Static so that a child in a memory cgroup never faults it in there. */
static struct qkd_key_buf batch[BATCH];

static int inject_n(struct qkd_nl *nl, const char *link, uint32_t first,
		    unsigned int nr, uint8_t len)
{
	unsigned int i;
	int ret;

	for (i = 0; i < nr; i++)
		make_key(&batch[i], first + i, len);
	ret = qkd_key_inject(nl, link, batch, nr);
	explicit_bzero(batch, sizeof(batch));
	return ret;
}

/* Take n initiator keys, oldest first; 0 or the first error. */
static int take_n(struct qkd_nl *nl, const char *link, unsigned int n)
{
	struct qkd_key_buf got;
	int ret = 0;

	while (n-- && !ret)
		ret = qkd_key_take(nl, link, NULL, -1, &got);
	qkd_key_wipe(&got);
	return ret;
}

static int read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static long long read_num(const char *path)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 10);
}

static int write_file(const char *path, const char *s)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	if (n < 0)
		return -errno;
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

static int write_num(const char *path, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return write_file(path, buf);
}

/* A field of a "key value" file such as memory.events or /proc/meminfo. */
static long long read_field(const char *path, const char *key)
{
	char buf[4096], *p;
	size_t len = strlen(key);

	if (read_file(path, buf, sizeof(buf)))
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, len) && (p[len] == ' ' || p[len] == ':'))
			return strtoll(p + len + 1, NULL, 10);
	return -1;
}

static long long slab_bytes(void)
{
	return read_field("/proc/meminfo", "Slab") * 1024;
}

static uint64_t stat_of(struct qkd_nl *nl, const char *link, int which)
{
	struct qkd_stats_buf s;

	if (qkd_stats_get(nl, link, &s))
		return UINT64_MAX;
	return s.v[which];
}

static int new_link(struct qkd_nl *nl, const char *name)
{
	struct qkd_link_opts o;

	qkd_link_opts_init(&o, "sae-a", "sae-b");
	o.max_keys = QKD_LINK_MAX_KEYS_LIMIT;
	o.max_bytes = QKD_LINK_MAX_BYTES_LIMIT;
	return qkd_link_new(nl, name, &o);
}

FIXTURE(caps) {
	struct qkd_nl *nl;
};

FIXTURE_SETUP(caps)
{
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, qkd_nl_open(&self->nl, 0, NULL));
}

FIXTURE_TEARDOWN(caps)
{
	qkd_nl_free(self->nl);
}

TEST_F(caps, host_defaults)
{
	/* A namespace of the initial user namespace: the host defaults. */
	EXPECT_EQ(1024, read_num(SYSCTL "max_links"));
	EXPECT_EQ(262144, read_num(SYSCTL "max_keys"));
	EXPECT_EQ(16 << 20, read_num(SYSCTL "max_bytes"));
	EXPECT_EQ(262144, read_num(SYSCTL "max_spent_ids"));
	EXPECT_EQ(QKD_AUDIT_RING_SIZE, read_num(SYSCTL "audit_records"));
	/* Out of range values are refused by the sysctl. */
	EXPECT_EQ(-EINVAL, write_num(SYSCTL "max_keys", (1LL << 24) + 1));
	EXPECT_EQ(-EINVAL, write_num(SYSCTL "audit_records", 0));
	EXPECT_EQ(-EINVAL, write_num(SYSCTL "max_links", -1));
	EXPECT_EQ(262144, read_num(SYSCTL "max_keys"));
}

TEST_F(caps, link_cap)
{
	struct qkd_stats_buf s;

	ASSERT_EQ(0, write_num(SYSCTL "max_links", 3));
	ASSERT_EQ(0, new_link(self->nl, "l1"));
	ASSERT_EQ(0, new_link(self->nl, "l2"));
	ASSERT_EQ(0, new_link(self->nl, "l3"));
	EXPECT_EQ(-EDQUOT, new_link(self->nl, "l4"));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl),
			       "namespace link cap (3 links) reached"));
	/* A name already taken is still EEXIST. */
	EXPECT_EQ(-EEXIST, new_link(self->nl, "l1"));
	ASSERT_EQ(0, qkd_link_del(self->nl, "l2"));
	EXPECT_EQ(0, new_link(self->nl, "l4"));
	/* Lowering keeps what exists and refuses more. */
	ASSERT_EQ(0, write_num(SYSCTL "max_links", 1));
	EXPECT_EQ(-EDQUOT, new_link(self->nl, "l5"));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "(1 links)"));
	ASSERT_EQ(0, qkd_stats_get(self->nl, NULL, &s));
	EXPECT_EQ(3, s.link_count);
}

TEST_F(caps, key_cap_over_all_links)
{
	struct qkd_link_opts o;

	ASSERT_EQ(0, write_num(SYSCTL "max_keys", 100));
	ASSERT_EQ(0, new_link(self->nl, "l1"));
	ASSERT_EQ(0, new_link(self->nl, "l2"));
	ASSERT_EQ(0, inject_n(self->nl, "l1", 0, 90, 32));
	ASSERT_EQ(0, inject_n(self->nl, "l2", 1000, 6, 32));
	/* 96 + 8 > 100: the whole batch is refused, on either link. */
	EXPECT_EQ(-EDQUOT, inject_n(self->nl, "l1", 100, 8, 32));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl),
			       "namespace key cap (100 keys) reached"));
	EXPECT_EQ(-EDQUOT, inject_n(self->nl, "l2", 100, 5, 32));
	EXPECT_EQ(96, stat_of(self->nl, NULL, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(13, stat_of(self->nl, NULL, QKD_STATS_A_REJECTED_CAP));
	EXPECT_EQ(8, stat_of(self->nl, "l1", QKD_STATS_A_REJECTED_CAP));
	EXPECT_EQ(96, stat_of(self->nl, NULL, QKD_STATS_A_INJECTED));
	/* Exactly up to the cap, and room again after a take. */
	ASSERT_EQ(0, inject_n(self->nl, "l2", 200, 4, 32));
	EXPECT_EQ(-EDQUOT, inject_n(self->nl, "l1", 300, 1, 32));
	ASSERT_EQ(0, take_n(self->nl, "l1", 1));
	EXPECT_EQ(0, inject_n(self->nl, "l1", 300, 1, 32));
	/* The link's own cap is still ENOSPC. */
	ASSERT_EQ(0, write_num(SYSCTL "max_keys", 1000));
	qkd_link_opts_init(&o, NULL, NULL);
	o.max_keys = 91;
	ASSERT_EQ(0, qkd_link_set(self->nl, "l1", &o));
	EXPECT_EQ(-ENOSPC, inject_n(self->nl, "l1", 400, 2, 32));
	EXPECT_EQ(0, inject_n(self->nl, "l1", 400, 1, 32));
}

TEST_F(caps, byte_cap)
{
	const uint8_t lens[] = { 16, 17, 48, 49, 64 };
	struct qkd_key_buf got, want;
	unsigned int i;

	ASSERT_EQ(0, write_num(SYSCTL "max_bytes", 1000));
	ASSERT_EQ(0, new_link(self->nl, "l1"));
	ASSERT_EQ(0, inject_n(self->nl, "l1", 0, 31, 32));
	EXPECT_EQ(-EDQUOT, inject_n(self->nl, "l1", 100, 1, 16));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl),
			       "namespace byte cap (1000 bytes) reached"));
	EXPECT_EQ(992, stat_of(self->nl, NULL, QKD_STATS_A_BYTES_BUFFERED));
	/* Keys of every length class still come back intact. */
	ASSERT_EQ(0, qkd_flush(self->nl, NULL, 0));
	for (i = 0; i < sizeof(lens); i++)
		ASSERT_EQ(0, inject_n(self->nl, "l1", 200 + i, 1, lens[i]));
	for (i = 0; i < sizeof(lens); i++) {
		ASSERT_EQ(0, qkd_key_take(self->nl, "l1", NULL, -1, &got));
		make_key(&want, 200 + i, lens[i]);
		EXPECT_EQ(lens[i], got.len);
		EXPECT_EQ(0, memcmp(want.id, got.id, QKD_KEY_ID_LEN));
		EXPECT_EQ(0, memcmp(want.material, got.material, lens[i]));
		qkd_key_wipe(&got);
	}
}

TEST_F(caps, spent_id_cap)
{
	ASSERT_EQ(0, write_num(SYSCTL "max_spent_ids", 8));
	ASSERT_EQ(0, new_link(self->nl, "l1"));
	ASSERT_EQ(0, inject_n(self->nl, "l1", 0, 20, 32));
	ASSERT_EQ(0, take_n(self->nl, "l1", 20));
	/* The namespace remembers its last 8 spent IDs, not more. */
	EXPECT_EQ(-EEXIST, inject_n(self->nl, "l1", 19, 1, 32));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "already used"));
	EXPECT_EQ(-EEXIST, inject_n(self->nl, "l1", 12, 1, 32));
	EXPECT_EQ(0, inject_n(self->nl, "l1", 11, 1, 32));
	/* Another link keeps at least its newest spent ID. */
	ASSERT_EQ(0, new_link(self->nl, "l2"));
	ASSERT_EQ(0, inject_n(self->nl, "l2", 50, 1, 32));
	ASSERT_EQ(0, take_n(self->nl, "l2", 1));
	EXPECT_EQ(-EEXIST, inject_n(self->nl, "l2", 50, 1, 32));
}

static int audit_seqs(struct qkd_nl *nl, uint64_t *first, uint64_t *last)
{
	static struct qkd_audit_buf recs[64];
	int n = qkd_audit_dump(nl, NULL, recs, 64);

	if (n > 0) {
		*first = recs[0].seq;
		*last = recs[n - 1].seq;
	}
	return n;
}

TEST_F(caps, audit_records)
{
	uint64_t first = 0, last = 0;

	ASSERT_EQ(0, write_num(SYSCTL "audit_records", 8));
	ASSERT_EQ(0, new_link(self->nl, "l1"));
	ASSERT_EQ(0, inject_n(self->nl, "l1", 0, 30, 32));
	ASSERT_EQ(0, take_n(self->nl, "l1", 20));
	EXPECT_EQ(8, audit_seqs(self->nl, &first, &last));
	EXPECT_EQ(13, first);
	EXPECT_EQ(20, last);
	/* Shrinking keeps the newest records. */
	ASSERT_EQ(0, write_num(SYSCTL "audit_records", 4));
	EXPECT_EQ(4, audit_seqs(self->nl, &first, &last));
	EXPECT_EQ(17, first);
	EXPECT_EQ(20, last);
	/* Growing keeps them too, and makes room for more. */
	ASSERT_EQ(0, write_num(SYSCTL "audit_records", 16));
	EXPECT_EQ(4, audit_seqs(self->nl, &first, &last));
	ASSERT_EQ(0, take_n(self->nl, "l1", 3));
	EXPECT_EQ(7, audit_seqs(self->nl, &first, &last));
	EXPECT_EQ(17, first);
	EXPECT_EQ(23, last);
	EXPECT_EQ(16, read_num(SYSCTL "audit_records"));
}

/*
 * Become uid/gid 65534 and then admin of a new user and network
 * namespace, like `setpriv --reuid 65534 ... unshare -Urn`.
 */
static int become_userns_admin(void)
{
	char map[32];

	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -1;
	/* Changing uid made the process undumpable: /proc/self is root's. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		return -1;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return -1;
	snprintf(map, sizeof(map), "0 %d 1", NOBODY);
	if (write_file("/proc/self/setgroups", "deny") ||
	    write_file("/proc/self/uid_map", map) ||
	    write_file("/proc/self/gid_map", map))
		return -1;
	return 0;
}

TEST(userns_refused_at_caps)
{
	long long max_links = read_num(PARAMS "userns_max_links");
	long long max_keys = read_num(PARAMS "userns_max_keys");
	long long max_bytes = read_num(PARAMS "userns_max_bytes");
	long long slab0, slab1, accepted = 0, attempted = 0, bound;
	char name[16], msg[80];
	struct qkd_nl *nl;
	int i, ret, refusals = 0;

	ASSERT_GT(max_links, 0);
	ASSERT_GT(max_keys, 0);
	ASSERT_EQ(0, become_userns_admin()) TH_LOG("%s", strerror(errno));
	/* Small defaults, readable, not raisable from inside. */
	EXPECT_EQ(max_links, read_num(SYSCTL "max_links"));
	EXPECT_EQ(max_keys, read_num(SYSCTL "max_keys"));
	EXPECT_EQ(max_bytes, read_num(SYSCTL "max_bytes"));
	EXPECT_LE(max_keys, 65536);
	ret = write_num(SYSCTL "max_keys", 1000000);
	EXPECT_TRUE(ret == -EPERM || ret == -EACCES) TH_LOG("write: %d", ret);
	EXPECT_EQ(max_keys, read_num(SYSCTL "max_keys"));

	ASSERT_EQ(0, qkd_nl_open(&nl, 0, NULL));
	slab0 = slab_bytes();
	/* The attack of the report: links of 65536 keys, filled up. */
	for (i = 0; i < max_links; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		ASSERT_EQ(0, new_link(nl, name)) TH_LOG("%s", qkd_nl_error(nl));
	}
	EXPECT_EQ(-EDQUOT, new_link(nl, "one-more"));
	snprintf(msg, sizeof(msg), "namespace link cap (%lld links) reached",
		 max_links);
	EXPECT_NE(NULL, strstr(qkd_nl_error(nl), msg))
		TH_LOG("%s", qkd_nl_error(nl));
	for (i = 0; i < max_links; i++) {
		unsigned int b;

		snprintf(name, sizeof(name), "l%d", i);
		/* Until refused; a link itself takes 65536 keys. */
		for (b = 0; b < QKD_LINK_MAX_KEYS_LIMIT / BATCH; b++) {
			ret = inject_n(nl, name, attempted, BATCH, 32);
			attempted += BATCH;
			if (!ret) {
				accepted += BATCH;
				continue;
			}
			ASSERT_EQ(-EDQUOT, ret) TH_LOG("%s", qkd_nl_error(nl));
			if (!refusals++) {
				snprintf(msg, sizeof(msg),
					 "namespace key cap (%lld keys) reached",
					 max_keys);
				EXPECT_NE(NULL, strstr(qkd_nl_error(nl), msg))
					TH_LOG("%s", qkd_nl_error(nl));
			}
			break;
		}
	}
	slab1 = slab_bytes();
	EXPECT_EQ(max_keys / BATCH * BATCH, accepted);
	EXPECT_LE(max_keys * 32, max_bytes);	/* so the key cap refused */
	EXPECT_EQ(accepted, stat_of(nl, NULL, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(max_links, refusals);
	/*
	 * Bounded by the cap: 512 bytes a key (room for slub_debug) and
	 * 32 KiB a link, plus 2 MiB for whatever else the guest does.
	 */
	bound = max_keys * 512 + max_links * 32768 + (2 << 20);
	EXPECT_LT(slab1 - slab0, bound);
	TH_LOG("%lld keys accepted of %lld tried; slab grew %lld KiB (bound %lld KiB)",
	       accepted, attempted, (slab1 - slab0) >> 10, bound >> 10);
	qkd_nl_free(nl);
}

/* A pipe in each direction between a test and its child. */
struct chan {
	int up[2], down[2];
};

static int chan_send(int fd, long long v)
{
	return write(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
}

static long long chan_recv(int fd)
{
	long long v;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : LLONG_MIN;
}

TEST(userns_caps_raised_by_init_admin)
{
	struct chan c;
	char path[64];
	pid_t pid;
	int status, fd;

	ASSERT_EQ(0, pipe(c.up));
	ASSERT_EQ(0, pipe(c.down));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct qkd_nl *nl;
		long long n = 0;
		int ret = 0;

		if (become_userns_admin() || qkd_nl_open(&nl, 0, NULL) ||
		    new_link(nl, "l1"))
			_exit(10);
		chan_send(c.up[1], 1);		/* ready */
		if (chan_recv(c.down[0]) != 1)	/* caps raised */
			_exit(11);
		if (read_num(SYSCTL "max_keys") != 5000)
			_exit(12);
		while (n < 5000 && !(ret = inject_n(nl, "l1", n, 250, 32)))
			n += 250;
		if (n != 5000)
			_exit(13);
		ret = inject_n(nl, "l1", n, 1, 32);
		if (ret != -EDQUOT ||
		    !strstr(qkd_nl_error(nl), "namespace key cap (5000 keys)"))
			_exit(14);
		_exit(0);
	}
	ASSERT_EQ(1, chan_recv(c.up[0]));
	/* Root of the initial user namespace enters the child's netns. */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	fd = open(path, O_RDONLY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, setns(fd, CLONE_NEWNET));
	close(fd);
	EXPECT_EQ(0, write_num(SYSCTL "max_keys", 5000));
	EXPECT_EQ(0, write_num(SYSCTL "max_bytes", 5000 * 32));
	ASSERT_EQ(0, chan_send(c.down[1], 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

static void touch_stack(void)
{
	volatile char buf[128 << 10];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 4096)
		buf[i] = 1;
}

/* Child in the cgroup: injects on command, reports, never allocates. */
static void memcg_child(struct chan *c)
{
	struct qkd_nl *nl;
	long long cmd, n = 0;
	int ret;

	if (qkd_nl_open(&nl, 0, NULL))
		_exit(10);
	/* Fault in (copy on write) all it touches while not yet moved. */
	memset(batch, 0, sizeof(batch));
	touch_stack();
	chan_send(c->up[1], 1);
	while ((cmd = chan_recv(c->down[0])) > 0) {
		/* cmd: batches to inject, stopping at the first error */
		long long done = 0;

		ret = 0;
		while (done < cmd && !(ret = inject_n(nl, "l1", n, BATCH, 32))) {
			n += BATCH;
			done++;
		}
		chan_send(c->up[1], done);
		chan_send(c->up[1], ret);
		chan_send(c->up[1], ret ? !!strstr(qkd_nl_error(nl),
						   "out of memory") : 1);
	}
	_exit(0);
}

TEST(memcg_charged_and_bounded)
{
	char cg[64], path[128], pidbuf[16];
	long long c0, c1, c2, c3, done, ret, msg_ok, held;
	const int n = 8;	/* batches: 2048 keys */
	struct qkd_nl *nl;
	struct chan c;
	pid_t pid;
	int status;

	if (read_file(CGROOT "/cgroup.controllers", path, sizeof(path)) ||
	    !strstr(path, "memory"))
		SKIP(return, "no cgroup2 memory controller at " CGROOT);
	/* The child cgroup needs the controller enabled in its parent. */
	write_file(CGROOT "/cgroup.subtree_control", "+memory");
	snprintf(cg, sizeof(cg), CGROOT "/qkd-test-%d", getpid());
	ASSERT_EQ(0, mkdir(cg, 0755));

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, qkd_nl_open(&nl, 0, NULL));
	ASSERT_EQ(0, new_link(nl, "l1"));
	ASSERT_EQ(0, pipe(c.up));
	ASSERT_EQ(0, pipe(c.down));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		memcg_child(&c);
	ASSERT_EQ(1, chan_recv(c.up[0]));
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	ASSERT_EQ(0, write_file(path, pidbuf));

	/* The charge shows in memory.current. */
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	c0 = read_num(path);
	ASSERT_EQ(0, chan_send(c.down[1], n));
	done = chan_recv(c.up[0]);
	ret = chan_recv(c.up[0]);
	chan_recv(c.up[0]);
	ASSERT_EQ(n, done);
	ASSERT_EQ(0, ret);
	c1 = read_num(path);
	TH_LOG("%d keys: memory.current %lld -> %lld (%lld bytes a key)",
	       n * BATCH, c0, c1, (c1 - c0) / (n * BATCH));
	EXPECT_GE(c1 - c0, (long long)n * BATCH * (QKD_KEY_ID_LEN + 32));

	/* At memory.max the inject fails with ENOMEM: no OOM kill. */
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	ASSERT_EQ(0, write_num(path, c1 + (512 << 10)));
	ASSERT_EQ(0, chan_send(c.down[1], 400));
	done = chan_recv(c.up[0]);
	ret = chan_recv(c.up[0]);
	msg_ok = chan_recv(c.up[0]);
	EXPECT_EQ(-ENOMEM, ret) TH_LOG("after %lld more batches", done);
	EXPECT_TRUE(msg_ok);
	EXPECT_LT(done, 400);
	held = stat_of(nl, "l1", QKD_STATS_A_KEYS_BUFFERED);
	EXPECT_EQ((n + done) * BATCH, held);	/* all or nothing */
	ASSERT_EQ(0, write_file(path, "max"));
	snprintf(path, sizeof(path), "%s/memory.events", cg);
	EXPECT_EQ(0, read_field(path, "oom_kill"));
	EXPECT_EQ(0, read_field(path, "oom"));
	TH_LOG("refused after %lld keys, %lld batches past the first",
	       held, done);

	/* Freeing the keys uncharges them, whoever frees them. */
	ASSERT_EQ(0, chan_send(c.down[1], 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	c2 = read_num(path);
	ASSERT_EQ(0, qkd_flush(nl, NULL, 0));
	c3 = read_num(path);
	TH_LOG("flush of %lld keys: memory.current %lld -> %lld", held, c2,
	       c3);
	EXPECT_LE(c3, c2 - held * 32);
	qkd_nl_free(nl);
	EXPECT_EQ(0, rmdir(cg));
}

TEST_HARNESS_MAIN
