// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of the qkd module's netlink family.  Run as root in the guest
 * with the module loaded.  Every test runs in a fresh network namespace
 * (the harness forks per test, the fixture unshares), so counters start
 * at zero and assertions can be exact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/capability.h>
#include <linux/netlink.h>

#include "libqkd.h"
#include "clock.h"
#include "kselftest_harness.h"

#define LINK "dc-east"

static void make_key(struct qkd_key_buf *k, uint32_t n, uint8_t role,
		     uint8_t len)
{
	unsigned int i;

	memset(k, 0, sizeof(*k));
	/* IDs and material are derived from n so that tests can check them. */
	k->id[0] = 0x51;
	k->id[12] = n >> 24;
	k->id[13] = n >> 16;
	k->id[14] = n >> 8;
	k->id[15] = n;
	k->id[1] = role;
	for (i = 0; i < len; i++)
		k->material[i] = (uint8_t)(n * 31 + i * 7 + role);
	k->len = len;
	k->role = role;
}

static uint32_t key_num(const uint8_t *id)
{
	return (uint32_t)id[12] << 24 | id[13] << 16 | id[14] << 8 | id[15];
}

static int inject_range(struct qkd_nl *nl, const char *link, uint32_t first,
			unsigned int nr, uint8_t role)
{
	struct qkd_key_buf *keys = calloc(nr, sizeof(*keys));
	unsigned int i;
	int ret;

	for (i = 0; i < nr; i++)
		make_key(&keys[i], first + i, role, 32);
	ret = qkd_key_inject(nl, link, keys, nr);
	explicit_bzero(keys, nr * sizeof(*keys));
	free(keys);
	return ret;
}

static uint64_t stat_of(struct qkd_nl *nl, const char *link, int which)
{
	struct qkd_stats_buf s;

	if (qkd_stats_get(nl, link, &s))
		return UINT64_MAX;
	return s.v[which];
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

FIXTURE(store) {
	struct qkd_nl *nl;
};

FIXTURE_SETUP(store)
{
	struct qkd_link_opts o;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, qkd_nl_open(&self->nl, 0, NULL));
	qkd_link_opts_init(&o, "sae-a", "sae-b");
	ASSERT_EQ(0, qkd_link_new(self->nl, LINK, &o));
}

FIXTURE_TEARDOWN(store)
{
	qkd_nl_free(self->nl);
}

TEST_F(store, link_defaults_and_get)
{
	struct qkd_link_info info;

	ASSERT_EQ(0, qkd_link_get(self->nl, LINK, &info));
	EXPECT_STREQ(LINK, info.name);
	EXPECT_STREQ("sae-a", info.local_sae_id);
	EXPECT_STREQ("sae-b", info.remote_sae_id);
	EXPECT_EQ(QKD_LINK_DEFAULT_MAX_KEYS, info.max_keys);
	EXPECT_EQ(QKD_LINK_DEFAULT_MAX_BYTES, info.max_bytes);
	EXPECT_EQ(QKD_LINK_DEFAULT_TTL, info.key_ttl);
	EXPECT_EQ(QKD_LINK_DEFAULT_RATE, info.rate);
	EXPECT_EQ(QKD_LINK_DEFAULT_BURST, info.burst);
	EXPECT_EQ(0, info.stats.v[QKD_STATS_A_KEYS_BUFFERED]);
}

TEST_F(store, link_duplicate_name)
{
	struct qkd_link_opts o;

	qkd_link_opts_init(&o, "x", "y");
	EXPECT_EQ(-EEXIST, qkd_link_new(self->nl, LINK, &o));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "exists"));
}

static void build_link_no_remote(struct nlmsghdr *nlh, void *arg)
{
	(void)arg;
	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, "l2");
	mnl_attr_put_strz(nlh, QKD_A_LOCAL_SAE_ID, "a");
}

TEST_F(store, link_missing_attribute)
{
	EXPECT_EQ(-EINVAL, qkd_nl_request(self->nl, QKD_CMD_LINK_NEW, 0,
					  build_link_no_remote, NULL, NULL,
					  NULL));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "missing required attribute"));
	EXPECT_EQ(QKD_A_REMOTE_SAE_ID, qkd_nl_error_missing_attr(self->nl));
}

TEST_F(store, link_bad_name)
{
	struct qkd_link_opts o;
	char long_name[QKD_LINK_NAME_MAX + 1];

	qkd_link_opts_init(&o, "a", "b");
	EXPECT_EQ(-EINVAL, qkd_link_new(self->nl, "bad name", &o));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "link name"));
	EXPECT_EQ(-EINVAL, qkd_link_new(self->nl, "", &o));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "empty"));
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	EXPECT_EQ(-EINVAL, qkd_link_new(self->nl, long_name, &o));
	EXPECT_NE(0, qkd_nl_error(self->nl)[0]);
	qkd_link_opts_init(&o, "", "b");
	EXPECT_EQ(-EINVAL, qkd_link_new(self->nl, "ok", &o));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "SAE"));
}

TEST_F(store, link_limits_out_of_range)
{
	struct qkd_link_opts o;

	qkd_link_opts_init(&o, "a", "b");
	o.max_keys = QKD_LINK_MAX_KEYS_LIMIT + 1;
	EXPECT_EQ(-ERANGE, qkd_link_new(self->nl, "l1", &o));
	EXPECT_NE(0, qkd_nl_error(self->nl)[0]);
	qkd_link_opts_init(&o, "a", "b");
	o.key_ttl = 0;
	EXPECT_EQ(-ERANGE, qkd_link_new(self->nl, "l1", &o));
	qkd_link_opts_init(&o, "a", "b");
	o.burst = 0;
	EXPECT_EQ(-ERANGE, qkd_link_new(self->nl, "l1", &o));
	qkd_link_opts_init(&o, "a", "b");
	o.max_bytes = QKD_KEY_MAX_LEN - 1;
	EXPECT_EQ(-ERANGE, qkd_link_new(self->nl, "l1", &o));
	qkd_link_opts_init(&o, "a", "b");
	o.max_keys = 4;
	o.low_watermark = 5;
	EXPECT_EQ(-EINVAL, qkd_link_new(self->nl, "l1", &o));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "watermark"));
	/* Nothing was created by any of the refusals. */
	EXPECT_EQ(-ENODEV, qkd_link_del(self->nl, "l1"));
}

TEST_F(store, link_set_and_dump)
{
	struct qkd_link_info infos[8];
	struct qkd_link_opts o;
	int n;

	qkd_link_opts_init(&o, NULL, NULL);
	o.max_keys = 10;
	o.rate = 5;
	o.burst = 2;
	o.key_ttl = 60;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	qkd_link_opts_init(&o, "c", "d");
	ASSERT_EQ(0, qkd_link_new(self->nl, "dc-west", &o));
	n = qkd_link_dump(self->nl, infos, 8);
	ASSERT_EQ(2, n);
	EXPECT_STREQ(LINK, infos[0].name);
	EXPECT_EQ(10, infos[0].max_keys);
	EXPECT_EQ(5, infos[0].rate);
	EXPECT_EQ(2, infos[0].burst);
	EXPECT_EQ(60, infos[0].key_ttl);
	EXPECT_STREQ("sae-a", infos[0].local_sae_id);
	EXPECT_STREQ("dc-west", infos[1].name);
	qkd_link_opts_init(&o, NULL, NULL);
	o.low_watermark = 11;
	EXPECT_EQ(-EINVAL, qkd_link_set(self->nl, LINK, &o));
	EXPECT_EQ(-ENODEV, qkd_link_set(self->nl, "nope", &o));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "no link"));
}

TEST_F_TIMEOUT(store, link_dump_many, 120)
{
	struct qkd_link_info *infos = calloc(300, sizeof(*infos));
	struct qkd_link_opts o;
	char name[32];
	int i;

	/* Enough links that the dump spans several messages. */
	qkd_link_opts_init(&o, "a", "b");
	for (i = 0; i < 199; i++) {
		snprintf(name, sizeof(name), "link-%03d", i);
		ASSERT_EQ(0, qkd_link_new(self->nl, name, &o));
	}
	ASSERT_EQ(200, qkd_link_dump(self->nl, infos, 300));
	EXPECT_STREQ("link-198", infos[199].name);
	free(infos);
}

TEST_F(store, link_del)
{
	struct qkd_link_info info;
	struct qkd_nl *ntf;
	struct qkd_ntf n;

	ASSERT_EQ(0, qkd_nl_open(&ntf, 0, NULL));
	ASSERT_EQ(0, qkd_nl_subscribe(ntf, QKD_NL_GROUP_KEYS));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 5, QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, qkd_link_del(self->nl, LINK));
	EXPECT_EQ(-ENODEV, qkd_link_get(self->nl, LINK, &info));
	EXPECT_EQ(-ENODEV, qkd_link_del(self->nl, LINK));
	ASSERT_EQ(1, qkd_ntf_recv(ntf, &n, 2000));
	EXPECT_EQ(QKD_CMD_LINK_DEL_NTF, n.cmd);
	EXPECT_STREQ(LINK, n.link_name);
	/* The namespace totals keep the deleted link's history. */
	EXPECT_EQ(5, stat_of(self->nl, NULL, QKD_STATS_A_INJECTED));
	EXPECT_EQ(5, stat_of(self->nl, NULL, QKD_STATS_A_FLUSHED));
	EXPECT_EQ(0, stat_of(self->nl, NULL, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(0, stat_of(self->nl, NULL, QKD_STATS_A_BYTES_BUFFERED));
	qkd_nl_free(ntf);
}

TEST_F(store, inject_take_fifo)
{
	struct qkd_key_buf expect, got;
	uint32_t i;

	ASSERT_EQ(0, inject_range(self->nl, LINK, 100, 10,
				  QKD_KEY_ROLE_INITIATOR));
	EXPECT_EQ(10, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(320, stat_of(self->nl, LINK, QKD_STATS_A_BYTES_BUFFERED));
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
		make_key(&expect, 100 + i, QKD_KEY_ROLE_INITIATOR, 32);
		EXPECT_EQ(0, memcmp(expect.id, got.id, QKD_KEY_ID_LEN));
		EXPECT_EQ(32, got.len);
		EXPECT_EQ(0, memcmp(expect.material, got.material, 32));
		EXPECT_EQ(QKD_KEY_ROLE_INITIATOR, got.role);
		EXPECT_EQ(got.injected_ns + QKD_LINK_DEFAULT_TTL * 1000000000ULL,
			  got.expires_ns);
	}
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "no initiator key"));
	EXPECT_EQ(10, stat_of(self->nl, LINK, QKD_STATS_A_TAKEN));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_REJECTED_NOT_FOUND));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_BYTES_BUFFERED));
	EXPECT_EQ(320, stat_of(self->nl, LINK,
			       QKD_STATS_A_BYTES_HIGH_WATER));
	EXPECT_EQ(-ENODEV, qkd_key_take(self->nl, "nope", NULL, -1, &got));
}

TEST_F(store, key_lengths)
{
	struct qkd_key_buf k[2], got;

	make_key(&k[0], 1, QKD_KEY_ROLE_INITIATOR, QKD_KEY_MIN_LEN);
	make_key(&k[1], 2, QKD_KEY_ROLE_INITIATOR, QKD_KEY_MAX_LEN);
	ASSERT_EQ(0, qkd_key_inject(self->nl, LINK, k, 2));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	EXPECT_EQ(QKD_KEY_MIN_LEN, got.len);
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	EXPECT_EQ(QKD_KEY_MAX_LEN, got.len);
	EXPECT_EQ(0, memcmp(k[1].material, got.material, QKD_KEY_MAX_LEN));

	/* Length ranges are refused by policy, naming the attribute. */
	make_key(&k[0], 3, QKD_KEY_ROLE_INITIATOR, QKD_KEY_MIN_LEN - 1);
	EXPECT_EQ(-ERANGE, qkd_key_inject(self->nl, LINK, k, 1));
	EXPECT_NE(0, qkd_nl_error(self->nl)[0]);
	EXPECT_NE(0, qkd_nl_error_offset(self->nl));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
}

struct raw_key {
	int id_len, mat_len, role;	/* negative: attribute left out */
};

static void build_raw_key(struct nlmsghdr *nlh, void *arg)
{
	const struct raw_key *r = arg;
	uint8_t buf[80] = { 1, 2, 3 };
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, LINK);
	nest = mnl_attr_nest_start(nlh, QKD_A_KEY);
	if (r->id_len >= 0)
		mnl_attr_put(nlh, QKD_KEY_A_ID, r->id_len, buf);
	if (r->mat_len >= 0)
		mnl_attr_put(nlh, QKD_KEY_A_MATERIAL, r->mat_len, buf);
	if (r->role >= 0)
		mnl_attr_put_u8(nlh, QKD_KEY_A_ROLE, r->role);
	mnl_attr_nest_end(nlh, nest);
}

TEST_F(store, inject_malformed)
{
	const struct {
		struct raw_key k;
		const char *msg;
	} cases[] = {
		{ { 15, 32, 1 }, NULL },	/* short ID */
		{ { 16, 15, 1 }, NULL },	/* short material */
		{ { 16, 65, 1 }, NULL },	/* long material */
		{ { 17, 32, 1 }, NULL },	/* long ID */
		{ { 16, 32, 0 }, NULL },	/* role unspec */
		{ { 16, 32, 3 }, NULL },	/* unknown role */
		{ { -1, 32, 1 }, "missing required attribute in key" },
		{ { 16, -1, 1 }, "missing required attribute in key" },
		{ { 16, 32, -1 }, "missing required attribute in key" },
	};
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ret = qkd_nl_request(self->nl, QKD_CMD_KEY_INJECT, 0,
				     build_raw_key, (void *)&cases[i].k, NULL,
				     NULL);
		EXPECT_TRUE(ret == -EINVAL || ret == -ERANGE)
			TH_LOG("case %u gave %d", i, ret);
		EXPECT_NE(0, qkd_nl_error(self->nl)[0]) TH_LOG("case %u", i);
		if (cases[i].msg)
			EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), cases[i].msg));
	}
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_INJECTED));
}

static void build_no_keys(struct nlmsghdr *nlh, void *arg)
{
	(void)arg;
	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, LINK);
}

static void build_unknown_attr(struct nlmsghdr *nlh, void *arg)
{
	(void)arg;
	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, LINK);
	mnl_attr_put_u32(nlh, QKD_A_MAX + 1, 7);
}

TEST_F(store, inject_no_keys_and_unknown_attr)
{
	EXPECT_EQ(-EINVAL, qkd_nl_request(self->nl, QKD_CMD_KEY_INJECT, 0,
					  build_no_keys, NULL, NULL, NULL));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "no key"));
	/* Strict validation: attributes the family does not know. */
	EXPECT_EQ(-EINVAL, qkd_nl_request(self->nl, QKD_CMD_STATS_GET, 0,
					  build_unknown_attr, NULL, NULL,
					  NULL));
	EXPECT_NE(0, qkd_nl_error(self->nl)[0]);
}

TEST_F(store, inject_batch_limit)
{
	struct qkd_link_opts o;

	qkd_link_opts_init(&o, NULL, NULL);
	o.max_keys = 1000;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 0, QKD_INJECT_MAX_KEYS,
				  QKD_KEY_ROLE_INITIATOR));
	EXPECT_EQ(-E2BIG, inject_range(self->nl, LINK, 1000,
				       QKD_INJECT_MAX_KEYS + 1,
				       QKD_KEY_ROLE_INITIATOR));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "too many keys"));
	EXPECT_EQ(QKD_INJECT_MAX_KEYS,
		  stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
}

TEST_F(store, inject_duplicates)
{
	struct qkd_key_buf k[3];

	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 3,
				  QKD_KEY_ROLE_INITIATOR));
	/* Key 2 is held: the whole batch is refused, nothing changes. */
	make_key(&k[0], 10, QKD_KEY_ROLE_INITIATOR, 32);
	make_key(&k[1], 2, QKD_KEY_ROLE_INITIATOR, 32);
	make_key(&k[2], 11, QKD_KEY_ROLE_INITIATOR, 32);
	EXPECT_EQ(-EEXIST, qkd_key_inject(self->nl, LINK, k, 3));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "already held"));
	EXPECT_NE(0, qkd_nl_error_offset(self->nl));
	/* Same ID under the other role is still the same key ID. */
	make_key(&k[0], 3, QKD_KEY_ROLE_INITIATOR, 32);
	k[0].role = QKD_KEY_ROLE_RESPONDER;
	EXPECT_EQ(-EEXIST, qkd_key_inject(self->nl, LINK, k, 1));
	/* Duplicates inside one batch. */
	make_key(&k[0], 20, QKD_KEY_ROLE_INITIATOR, 32);
	make_key(&k[1], 20, QKD_KEY_ROLE_INITIATOR, 32);
	EXPECT_EQ(-EEXIST, qkd_key_inject(self->nl, LINK, k, 2));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "duplicate"));
	EXPECT_EQ(3, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(3, stat_of(self->nl, LINK, QKD_STATS_A_INJECTED));
	EXPECT_EQ(6, stat_of(self->nl, LINK,
			     QKD_STATS_A_REJECTED_DUPLICATE));
}

TEST_F(store, taken_key_cannot_be_injected_again)
{
	struct qkd_key_buf k[2], got;

	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 1,
				  QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 2, 1,
				  QKD_KEY_ROLE_RESPONDER));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	make_key(&k[0], 2, QKD_KEY_ROLE_RESPONDER, 32);
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, k[0].id, 0, &got));
	/* An agent retrying an inject it lost the answer of: refused. */
	make_key(&k[0], 1, QKD_KEY_ROLE_INITIATOR, 32);
	EXPECT_EQ(-EEXIST, qkd_key_inject(self->nl, LINK, k, 1));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "already used"));
	make_key(&k[0], 3, QKD_KEY_ROLE_INITIATOR, 32);
	make_key(&k[1], 2, QKD_KEY_ROLE_RESPONDER, 32);
	EXPECT_EQ(-EEXIST, qkd_key_inject(self->nl, LINK, k, 2));
	EXPECT_EQ(3, stat_of(self->nl, LINK, QKD_STATS_A_REJECTED_REUSED));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	/* A flushed (never used) key may come back. */
	ASSERT_EQ(0, qkd_key_inject(self->nl, LINK, k, 1));
	ASSERT_EQ(0, qkd_flush(self->nl, LINK, 0));
	EXPECT_EQ(0, qkd_key_inject(self->nl, LINK, k, 1));
}

TEST_F(store, inject_over_caps)
{
	struct qkd_link_opts o;
	struct qkd_key_buf k;

	qkd_link_opts_init(&o, NULL, NULL);
	o.max_keys = 4;
	o.max_bytes = 200;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 3,
				  QKD_KEY_ROLE_INITIATOR));
	/* 3 held + 2 > max_keys 4 */
	EXPECT_EQ(-ENOSPC, inject_range(self->nl, LINK, 10, 2,
					QKD_KEY_ROLE_INITIATOR));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "max_keys"));
	/* 96 held + 64 + 64 > max_bytes 200, though keys would fit */
	make_key(&k, 20, QKD_KEY_ROLE_INITIATOR, 64);
	ASSERT_EQ(0, qkd_key_inject(self->nl, LINK, &k, 1));
	make_key(&k, 21, QKD_KEY_ROLE_RESPONDER, 64);
	EXPECT_EQ(-ENOSPC, qkd_key_inject(self->nl, LINK, &k, 1));
	EXPECT_EQ(4, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(160, stat_of(self->nl, LINK, QKD_STATS_A_BYTES_BUFFERED));
	EXPECT_EQ(3, stat_of(self->nl, LINK, QKD_STATS_A_REJECTED_CAP));
}

TEST_F(store, roles_never_mix)
{
	struct qkd_key_buf k, got;

	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 2,
				  QKD_KEY_ROLE_RESPONDER));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 5, 1,
				  QKD_KEY_ROLE_INITIATOR));
	/* Oldest-first only ever gives initiator keys. */
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	EXPECT_EQ(5, key_num(got.id));
	EXPECT_EQ(QKD_KEY_ROLE_INITIATOR, got.role);
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	/* By ID only ever gives responder keys. */
	ASSERT_EQ(0, inject_range(self->nl, LINK, 6, 1,
				  QKD_KEY_ROLE_INITIATOR));
	make_key(&k, 6, QKD_KEY_ROLE_INITIATOR, 32);
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, k.id, 0, &got));
	make_key(&k, 2, QKD_KEY_ROLE_RESPONDER, 32);
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, k.id, 0, &got));
	EXPECT_EQ(0, memcmp(k.material, got.material, 32));
	EXPECT_EQ(QKD_KEY_ROLE_RESPONDER, got.role);
	/* Used once: the same ID is gone now. */
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, k.id, 0, &got));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_INITIATOR_KEYS));
	EXPECT_EQ(2, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
}

TEST_F(store, wait_ms_needs_id)
{
	struct qkd_key_buf got;

	EXPECT_EQ(-EINVAL, qkd_key_take(self->nl, LINK, NULL, 10, &got));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "key ID"));
}

TEST_F(store, token_bucket)
{
	struct qkd_link_opts o;
	struct qkd_key_buf got;
	int i, ok = 0, busy = 0, ret;
	double t0, elapsed;

	qkd_link_opts_init(&o, NULL, NULL);
	o.rate = 1;
	o.burst = 3;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 20,
				  QKD_KEY_ROLE_INITIATOR));
	/*
	 * Exact whatever the guest's speed: a full bucket of 3 plus one key
	 * per whole second elapsed may pass, the rest must be refused.
	 */
	t0 = now_s();
	for (i = 0; i < 10; i++) {
		ret = qkd_key_take(self->nl, LINK, NULL, -1, &got);
		if (!ret)
			ok++;
		else if (ret == -EBUSY)
			busy++;
	}
	elapsed = now_s() - t0;
	TH_LOG("10 takes in %.3f s: %d passed, %d rate limited", elapsed, ok,
	       busy);
	EXPECT_EQ(10, ok + busy);
	EXPECT_GE(ok, 3);
	EXPECT_LE(ok, 3 + (int)elapsed + 1);
	EXPECT_GE(busy, 1);
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "rate limit"));
	/* A refused take does not consume a key. */
	EXPECT_EQ(20 - ok, stat_of(self->nl, LINK,
				   QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(busy, stat_of(self->nl, LINK, QKD_STATS_A_RATE_LIMITED));
	/* One key per second comes back. */
	sleep_ms(1100);
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	EXPECT_EQ(ok + 1, key_num(got.id));
	/* Unlimited again: all the rest at once. */
	o.rate = 0;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	for (i = 0; i < 20 - ok - 1; i++)
		ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, NULL, -1, &got));
}

TEST_F(store, expiry)
{
	struct qkd_link_opts o;
	struct qkd_key_buf got;
	struct qkd_nl *ntf;
	struct qkd_ntf n;
	int expired = 0;

	ASSERT_EQ(0, qkd_nl_open(&ntf, 0, NULL));
	ASSERT_EQ(0, qkd_nl_subscribe(ntf, QKD_NL_GROUP_MONITOR));
	qkd_link_opts_init(&o, NULL, NULL);
	o.key_ttl = 1;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 2,
				  QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 3, 1,
				  QKD_KEY_ROLE_RESPONDER));
	/* Expiry runs without any taker. */
	while (expired < 3 && qkd_ntf_recv(ntf, &n, 5000) == 1) {
		if (n.cmd != QKD_CMD_KEY_EXPIRED_NTF)
			continue;
		EXPECT_STREQ(LINK, n.link_name);
		EXPECT_TRUE(n.has_key_id);
		expired++;
	}
	EXPECT_EQ(3, expired);
	EXPECT_EQ(3, stat_of(self->nl, LINK, QKD_STATS_A_EXPIRED));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_BYTES_BUFFERED));
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	qkd_nl_free(ntf);
}

TEST_F(store, ttl_change_applies_to_buffered_keys)
{
	struct qkd_link_opts o;

	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 2,
				  QKD_KEY_ROLE_INITIATOR));
	qkd_link_opts_init(&o, NULL, NULL);
	o.key_ttl = 1;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	sleep_ms(2500);
	EXPECT_EQ(2, stat_of(self->nl, LINK, QKD_STATS_A_EXPIRED));
}

TEST_F(store, flush)
{
	struct qkd_link_opts o;

	qkd_link_opts_init(&o, "a", "b");
	ASSERT_EQ(0, qkd_link_new(self->nl, "other", &o));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 4,
				  QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 10, 3,
				  QKD_KEY_ROLE_RESPONDER));
	ASSERT_EQ(0, inject_range(self->nl, "other", 1, 5,
				  QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, qkd_flush(self->nl, LINK, QKD_KEY_ROLE_RESPONDER));
	EXPECT_EQ(4, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(3, stat_of(self->nl, LINK, QKD_STATS_A_FLUSHED));
	ASSERT_EQ(0, qkd_flush(self->nl, LINK, 0));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(5, stat_of(self->nl, "other", QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(-ENODEV, qkd_flush(self->nl, "nope", 0));
	ASSERT_EQ(0, qkd_flush(self->nl, NULL, 0));
	EXPECT_EQ(0, stat_of(self->nl, NULL, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(12, stat_of(self->nl, NULL, QKD_STATS_A_FLUSHED));
	EXPECT_EQ(12, stat_of(self->nl, NULL, QKD_STATS_A_INJECTED));
}

TEST_F(store, namespace_stats)
{
	struct qkd_link_opts o;
	struct qkd_stats_buf s;
	struct qkd_key_buf got;

	qkd_link_opts_init(&o, "a", "b");
	ASSERT_EQ(0, qkd_link_new(self->nl, "l2", &o));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 3,
				  QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, inject_range(self->nl, "l2", 1, 2,
				  QKD_KEY_ROLE_RESPONDER));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	ASSERT_EQ(0, qkd_stats_get(self->nl, NULL, &s));
	EXPECT_EQ(2, s.link_count);
	EXPECT_EQ(5, s.v[QKD_STATS_A_INJECTED]);
	EXPECT_EQ(1, s.v[QKD_STATS_A_TAKEN]);
	EXPECT_EQ(4, s.v[QKD_STATS_A_KEYS_BUFFERED]);
	EXPECT_EQ(2, s.v[QKD_STATS_A_INITIATOR_KEYS]);
	EXPECT_EQ(128, s.v[QKD_STATS_A_BYTES_BUFFERED]);
	EXPECT_EQ(160, s.v[QKD_STATS_A_BYTES_HIGH_WATER]);
}

TEST_F(store, audit_records_and_annotations)
{
	struct qkd_audit_buf recs[4];
	struct qkd_key_buf got[2];
	uint32_t spi[5] = { 0xc1000001, 0xc2000002, 3, 4, 5 };
	uint8_t unknown[QKD_KEY_ID_LEN] = { 0xee };

	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 3,
				  QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got[0]));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got[1]));
	ASSERT_EQ(0, qkd_audit_annotate(self->nl, LINK, got[0].id, spi, 2,
					"child rekey"));
	ASSERT_EQ(2, qkd_audit_dump(self->nl, NULL, recs, 4));
	EXPECT_EQ(1, recs[0].seq);
	EXPECT_EQ(2, recs[1].seq);
	EXPECT_EQ(0, memcmp(got[0].id, recs[0].key_id, QKD_KEY_ID_LEN));
	EXPECT_EQ(0, memcmp(got[1].id, recs[1].key_id, QKD_KEY_ID_LEN));
	EXPECT_STREQ(LINK, recs[0].link_name);
	EXPECT_EQ((uint32_t)getpid(), recs[0].pid);
	EXPECT_EQ(QKD_KEY_ROLE_INITIATOR, recs[0].role);
	EXPECT_NE(0, recs[0].time_ns);
	EXPECT_EQ(2, recs[0].nr_spi);
	EXPECT_EQ(0xc1000001, recs[0].spi[0]);
	EXPECT_EQ(0xc2000002, recs[0].spi[1]);
	EXPECT_STREQ("child rekey", recs[0].usage);
	EXPECT_EQ(0, recs[1].nr_spi);
	/* Filter by link. */
	EXPECT_EQ(0, qkd_audit_dump(self->nl, "nope", recs, 4));
	EXPECT_EQ(-ENOENT, qkd_audit_annotate(self->nl, LINK, unknown, spi,
					      1, NULL));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "no take record"));
	EXPECT_EQ(-E2BIG, qkd_audit_annotate(self->nl, LINK, got[1].id, spi,
					     5, NULL));
	EXPECT_EQ(-ENOSPC, qkd_audit_annotate(self->nl, LINK, got[0].id,
					      spi + 2, 3, NULL));
	EXPECT_EQ(-EINVAL, qkd_audit_annotate(self->nl, LINK, got[1].id,
					      NULL, 0, NULL));
}

/* Over a thousand takes: slow under TCG. */
TEST_F_TIMEOUT(store, audit_ring_is_bounded, 300)
{
	struct qkd_audit_buf *recs = calloc(QKD_AUDIT_RING_SIZE + 10,
					    sizeof(*recs));
	struct qkd_link_opts o;
	struct qkd_key_buf got;
	unsigned int i, total = QKD_AUDIT_RING_SIZE + 5;

	qkd_link_opts_init(&o, NULL, NULL);
	o.max_keys = 2000;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	for (i = 0; i < total; i += 200)
		ASSERT_EQ(0, inject_range(self->nl, LINK, i,
					  total - i < 200 ? total - i : 200,
					  QKD_KEY_ROLE_INITIATOR));
	for (i = 0; i < total; i++)
		ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	ASSERT_EQ(QKD_AUDIT_RING_SIZE,
		  qkd_audit_dump(self->nl, NULL, recs,
				 QKD_AUDIT_RING_SIZE + 10));
	EXPECT_EQ(6, recs[0].seq);
	EXPECT_EQ(total, recs[QKD_AUDIT_RING_SIZE - 1].seq);
	EXPECT_EQ(total - 1, key_num(recs[QKD_AUDIT_RING_SIZE - 1].key_id));
	free(recs);
}

TEST_F(store, low_watermark_notification)
{
	struct qkd_link_opts o;
	struct qkd_key_buf got;
	struct qkd_nl *ntf;
	struct qkd_ntf n;

	ASSERT_EQ(0, qkd_nl_open(&ntf, 0, NULL));
	ASSERT_EQ(0, qkd_nl_subscribe(ntf, QKD_NL_GROUP_KEYS));
	qkd_link_opts_init(&o, NULL, NULL);
	o.low_watermark = 2;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 3,
				  QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	/* 2 left: not below the watermark yet. */
	EXPECT_EQ(0, qkd_ntf_recv(ntf, &n, 300));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	ASSERT_EQ(1, qkd_ntf_recv(ntf, &n, 2000));
	EXPECT_EQ(QKD_CMD_LOW_WATERMARK_NTF, n.cmd);
	EXPECT_STREQ(LINK, n.link_name);
	EXPECT_STREQ("sae-b", n.remote_sae_id);
	EXPECT_EQ(1, n.key_count);
	EXPECT_EQ(2, n.low_watermark);
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_LOW_WATERMARK));
	qkd_nl_free(ntf);
}

TEST_F(store, key_wanted_notification)
{
	struct qkd_key_buf k, got;
	struct qkd_nl *ntf;
	struct qkd_ntf n;

	ASSERT_EQ(0, qkd_nl_open(&ntf, 0, NULL));
	ASSERT_EQ(0, qkd_nl_subscribe(ntf, QKD_NL_GROUP_KEYS));
	make_key(&k, 77, QKD_KEY_ROLE_RESPONDER, 32);
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, k.id, 0, &got));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "not held"));
	ASSERT_EQ(1, qkd_ntf_recv(ntf, &n, 2000));
	EXPECT_EQ(QKD_CMD_KEY_WANTED_NTF, n.cmd);
	EXPECT_TRUE(n.has_key_id);
	EXPECT_EQ(0, memcmp(k.id, n.key_id, QKD_KEY_ID_LEN));
	EXPECT_STREQ("sae-b", n.remote_sae_id);
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	qkd_nl_free(ntf);
}

struct waiter {
	struct qkd_key_buf want, got;
	int64_t wait_ms;
	int ret;
};

static void *take_waiting(void *arg)
{
	struct waiter *w = arg;
	struct qkd_nl *nl;

	w->ret = qkd_nl_open(&nl, 0, NULL);
	if (w->ret)
		return NULL;
	w->ret = qkd_key_take(nl, LINK, w->want.id, w->wait_ms, &w->got);
	qkd_nl_free(nl);
	return NULL;
}

TEST_F(store, take_by_id_waits_for_agent)
{
	struct waiter w = { .wait_ms = 5000 };
	struct qkd_nl *ntf;
	struct qkd_ntf n;
	pthread_t t;

	ASSERT_EQ(0, qkd_nl_open(&ntf, 0, NULL));
	ASSERT_EQ(0, qkd_nl_subscribe(ntf, QKD_NL_GROUP_KEYS));
	make_key(&w.want, 42, QKD_KEY_ROLE_RESPONDER, 32);
	ASSERT_EQ(0, pthread_create(&t, NULL, take_waiting, &w));
	/* Play the agent: hear the request, fetch, inject. */
	ASSERT_EQ(1, qkd_ntf_recv(ntf, &n, 3000));
	ASSERT_EQ(QKD_CMD_KEY_WANTED_NTF, n.cmd);
	ASSERT_EQ(0, memcmp(w.want.id, n.key_id, QKD_KEY_ID_LEN));
	ASSERT_EQ(0, qkd_key_inject(self->nl, LINK, &w.want, 1));
	pthread_join(t, NULL);
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(0, memcmp(w.want.material, w.got.material, 32));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	qkd_nl_free(ntf);
}

TEST_F(store, take_by_id_times_out)
{
	struct waiter w = { .wait_ms = 300 };
	struct timespec a, b;
	long ms;

	make_key(&w.want, 43, QKD_KEY_ROLE_RESPONDER, 32);
	clock_gettime(CLOCK_MONOTONIC, &a);
	take_waiting(&w);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	EXPECT_EQ(-ETIMEDOUT, w.ret);
	EXPECT_GE(ms, 290);
	EXPECT_EQ(1, stat_of(self->nl, LINK,
			     QKD_STATS_A_REJECTED_NOT_FOUND));
}

TEST_F(store, link_del_wakes_waiter)
{
	struct waiter w = { .wait_ms = 8000 };
	struct qkd_nl *ntf;
	struct qkd_ntf n;
	pthread_t t;

	ASSERT_EQ(0, qkd_nl_open(&ntf, 0, NULL));
	ASSERT_EQ(0, qkd_nl_subscribe(ntf, QKD_NL_GROUP_KEYS));
	make_key(&w.want, 44, QKD_KEY_ROLE_RESPONDER, 32);
	ASSERT_EQ(0, pthread_create(&t, NULL, take_waiting, &w));
	ASSERT_EQ(1, qkd_ntf_recv(ntf, &n, 3000));
	ASSERT_EQ(0, qkd_link_del(self->nl, LINK));
	pthread_join(t, NULL);
	EXPECT_EQ(-ENODEV, w.ret);
	qkd_nl_free(ntf);
}

/* A take by ID with a wait, sent raw: the module's answer itself. */
struct raw_take {
	const uint8_t *id;
	uint32_t wait_ms, flags;
};

static void build_raw_take(struct nlmsghdr *nlh, void *arg)
{
	const struct raw_take *t = arg;

	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, LINK);
	mnl_attr_put(nlh, QKD_A_KEY_ID, QKD_KEY_ID_LEN, t->id);
	if (t->wait_ms)
		mnl_attr_put_u32(nlh, QKD_A_WAIT_MS, t->wait_ms);
	if (t->flags)
		mnl_attr_put_u32(nlh, QKD_A_TAKE_FLAGS, t->flags);
}

TEST_F(store, take_by_id_never_sleeps_in_the_handler)
{
	struct qkd_key_buf k;
	struct raw_take t = { k.id, 8000, 0 };
	struct qkd_nl *taker;
	double t0, t1;

	make_key(&k, 60, QKD_KEY_ROLE_RESPONDER, 32);
	ASSERT_EQ(0, qkd_nl_open(&taker, 0, NULL));
	t0 = now_s();
	/* The handler answers at once: not held yet, a KEY_READY follows. */
	EXPECT_EQ(-EINPROGRESS, qkd_nl_request(taker, QKD_CMD_KEY_TAKE, 0,
					       build_raw_take, &t, NULL, NULL));
	t1 = now_s();
	EXPECT_LT(t1 - t0, 4.0);	/* far below the 8 s wait */
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_PENDING));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_REJECTED_NOT_FOUND));
	/* Its socket closes: the kernel forgets the pending take. */
	qkd_nl_free(taker);
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_PENDING));
	/* An arriving key then wakes nobody and stays. */
	ASSERT_EQ(0, qkd_key_inject(self->nl, LINK, &k, 1));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
}

TEST_F(store, pending_takes_are_capped_per_link)
{
	struct qkd_key_buf k;
	struct raw_take t = { k.id, 8000, QKD_TAKE_F_QUIET };
	unsigned int i;

	for (i = 0; i < QKD_LINK_PENDING_MAX; i++) {
		make_key(&k, 1000 + i, QKD_KEY_ROLE_RESPONDER, 32);
		ASSERT_EQ(-EINPROGRESS,
			  qkd_nl_request(self->nl, QKD_CMD_KEY_TAKE, 0,
					 build_raw_take, &t, NULL, NULL));
	}
	make_key(&k, 2000, QKD_KEY_ROLE_RESPONDER, 32);
	EXPECT_EQ(-ENOBUFS, qkd_nl_request(self->nl, QKD_CMD_KEY_TAKE, 0,
					   build_raw_take, &t, NULL, NULL));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "pending"));
	EXPECT_EQ(QKD_LINK_PENDING_MAX,
		  stat_of(self->nl, LINK, QKD_STATS_A_PENDING));
	/* quiet: none of them asked the agent */
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	/* a take again by the same socket ends its own pending take */
	make_key(&k, 1000, QKD_KEY_ROLE_RESPONDER, 32);
	t.wait_ms = 0;
	EXPECT_EQ(-ENOENT, qkd_nl_request(self->nl, QKD_CMD_KEY_TAKE, 0,
					  build_raw_take, &t, NULL, NULL));
	EXPECT_EQ(QKD_LINK_PENDING_MAX - 1,
		  stat_of(self->nl, LINK, QKD_STATS_A_PENDING));
	/* and the link's deletion ends them all */
	ASSERT_EQ(0, qkd_link_del(self->nl, LINK));
	EXPECT_EQ(0, stat_of(self->nl, NULL, QKD_STATS_A_PENDING));
}

TEST_F(store, quiet_take_asks_no_agent)
{
	struct qkd_key_buf k, got;
	struct qkd_nl *ntf;
	struct qkd_ntf n;

	ASSERT_EQ(0, qkd_nl_open(&ntf, 0, NULL));
	ASSERT_EQ(0, qkd_nl_subscribe(ntf, QKD_NL_GROUP_KEYS));
	make_key(&k, 61, QKD_KEY_ROLE_RESPONDER, 32);
	EXPECT_EQ(-ENOENT, qkd_key_take_flags(self->nl, LINK, k.id, 0,
					      QKD_TAKE_F_QUIET, &got));
	EXPECT_EQ(0, qkd_ntf_recv(ntf, &n, 300));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_REJECTED_NOT_FOUND));
	qkd_nl_free(ntf);
}

TEST_F(store, spent_or_initiator_id_fails_at_once)
{
	struct qkd_key_buf r, i, got;
	double t0;

	make_key(&r, 62, QKD_KEY_ROLE_RESPONDER, 32);
	make_key(&i, 63, QKD_KEY_ROLE_INITIATOR, 32);
	ASSERT_EQ(0, qkd_key_inject(self->nl, LINK, &r, 1));
	ASSERT_EQ(0, qkd_key_inject(self->nl, LINK, &i, 1));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, r.id, 0, &got));
	t0 = now_s();
	/* taken before: no wait, no KEY_WANTED, however long the wait */
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, r.id, 5000, &got));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "already taken"));
	/* one of this side's initiator keys: never to a peer, no wait */
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, i.id, 5000, &got));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "initiator"));
	EXPECT_LT(now_s() - t0, 3.0);
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_INITIATOR_KEYS));
}

TEST_F(store, reserve_then_take_initiator_by_id)
{
	struct qkd_key_buf got;
	uint8_t id[QKD_KEY_ID_LEN];
	uint64_t expires = 0;

	ASSERT_EQ(0, inject_range(self->nl, LINK, 70, 3, QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, qkd_key_reserve(self->nl, LINK, id, &expires));
	EXPECT_EQ(70, key_num(id));
	EXPECT_NE(0, expires);
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_RESERVED));
	/* take-oldest skips the reserved key */
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	EXPECT_EQ(71, key_num(got.id));
	/* a peer's take by ID cannot have it */
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, id, 0, &got));
	/* this side takes it by ID */
	ASSERT_EQ(0, qkd_key_take_flags(self->nl, LINK, id, -1,
					QKD_TAKE_F_INITIATOR, &got));
	EXPECT_EQ(70, key_num(got.id));
	EXPECT_EQ(QKD_KEY_ROLE_INITIATOR, got.role);
	EXPECT_EQ(32, got.len);
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_RESERVED));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_INITIATOR_KEYS));
	/* the next reservation is the last key; then none is left */
	ASSERT_EQ(0, qkd_key_reserve(self->nl, LINK, id, NULL));
	EXPECT_EQ(72, key_num(id));
	EXPECT_EQ(-ENOENT, qkd_key_reserve(self->nl, LINK, id, NULL));
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	qkd_key_wipe(&got);
}

TEST_F(store, want_asks_the_agent_once_and_takes_nothing)
{
	struct qkd_key_buf k, got;
	struct qkd_nl *ntf;
	struct qkd_ntf n;

	ASSERT_EQ(0, qkd_nl_open(&ntf, 0, NULL));
	ASSERT_EQ(0, qkd_nl_subscribe(ntf, QKD_NL_GROUP_KEYS));
	make_key(&k, 90, QKD_KEY_ROLE_RESPONDER, 32);
	/* not held: KEY_WANTED, ENOENT, nothing pending */
	EXPECT_EQ(-ENOENT, qkd_key_want(self->nl, LINK, k.id));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "KEY_WANTED sent"));
	ASSERT_EQ(1, qkd_ntf_recv(ntf, &n, 2000));
	EXPECT_EQ(QKD_CMD_KEY_WANTED_NTF, n.cmd);
	EXPECT_EQ(0, memcmp(k.id, n.key_id, QKD_KEY_ID_LEN));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_PENDING));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_REJECTED_NOT_FOUND));
	/* the same ID again: deduplicated, no second notification */
	EXPECT_EQ(-ENOENT, qkd_key_want(self->nl, LINK, k.id));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "already asked"));
	EXPECT_EQ(0, qkd_ntf_recv(ntf, &n, 300));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	/* the agent injects it: a want finds it and leaves it there */
	ASSERT_EQ(0, qkd_key_inject(self->nl, LINK, &k, 1));
	EXPECT_EQ(0, qkd_key_want(self->nl, LINK, k.id));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_TAKEN));
	/* the take by ID finds it at once and asks nobody */
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, k.id, 0, &got));
	EXPECT_EQ(90, key_num(got.id));
	EXPECT_EQ(32, got.len);
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_TAKEN));
	/* spent: refused, no notification */
	EXPECT_EQ(-ENOENT, qkd_key_want(self->nl, LINK, k.id));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "already taken"));
	EXPECT_EQ(0, qkd_ntf_recv(ntf, &n, 300));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	qkd_key_wipe(&got);
	qkd_nl_free(ntf);
}

TEST_F(store, want_dedup_remembers_the_last_ids_only)
{
	struct qkd_key_buf k, got;
	unsigned int i;

	for (i = 0; i < QKD_LINK_WANT_RECENT; i++) {
		make_key(&k, 100 + i, QKD_KEY_ROLE_RESPONDER, 32);
		EXPECT_EQ(-ENOENT, qkd_key_want(self->nl, LINK, k.id));
	}
	EXPECT_EQ(QKD_LINK_WANT_RECENT,
		  stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	/* all remembered: none asked again */
	for (i = 0; i < QKD_LINK_WANT_RECENT; i++) {
		make_key(&k, 100 + i, QKD_KEY_ROLE_RESPONDER, 32);
		EXPECT_EQ(-ENOENT, qkd_key_want(self->nl, LINK, k.id));
	}
	EXPECT_EQ(QKD_LINK_WANT_RECENT,
		  stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	/* one more pushes the oldest out; that one is asked again */
	make_key(&k, 200, QKD_KEY_ROLE_RESPONDER, 32);
	EXPECT_EQ(-ENOENT, qkd_key_want(self->nl, LINK, k.id));
	make_key(&k, 100, QKD_KEY_ROLE_RESPONDER, 32);
	EXPECT_EQ(-ENOENT, qkd_key_want(self->nl, LINK, k.id));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "KEY_WANTED sent"));
	EXPECT_EQ(QKD_LINK_WANT_RECENT + 2,
		  stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	/* a take by ID is never deduplicated: its waiter needs the agent */
	make_key(&k, 110, QKD_KEY_ROLE_RESPONDER, 32);
	EXPECT_EQ(-ENOENT, qkd_key_take(self->nl, LINK, k.id, 0, &got));
	EXPECT_EQ(QKD_LINK_WANT_RECENT + 3,
		  stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
}

static void build_raw_no_id(struct nlmsghdr *nlh, void *arg)
{
	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, LINK);
	mnl_attr_put_u32(nlh, QKD_A_TAKE_FLAGS, *(const uint32_t *)arg);
}

TEST_F(store, want_and_release_refuse_what_they_cannot_mean)
{
	struct qkd_key_buf r, i, got;
	struct raw_take t = { i.id, 0, 0 };
	uint32_t flags;

	make_key(&r, 95, QKD_KEY_ROLE_RESPONDER, 32);
	make_key(&i, 96, QKD_KEY_ROLE_INITIATOR, 32);
	ASSERT_EQ(0, qkd_key_inject(self->nl, LINK, &i, 1));
	/* a want never reaches this side's initiator keys */
	EXPECT_EQ(-ENOENT, qkd_key_want(self->nl, LINK, i.id));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "initiator"));
	/* release: the key is not reserved / not held / a responder ID */
	EXPECT_EQ(-ENOENT, qkd_key_release(self->nl, LINK, i.id));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "no reserved"));
	EXPECT_EQ(-ENOENT, qkd_key_release(self->nl, LINK, r.id));
	/* alone, by ID, without a wait */
	flags = QKD_TAKE_F_WANT;
	EXPECT_EQ(-EINVAL, qkd_nl_request(self->nl, QKD_CMD_KEY_TAKE, 0,
					  build_raw_no_id, &flags, NULL, NULL));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "by ID"));
	flags = QKD_TAKE_F_RELEASE;
	EXPECT_EQ(-EINVAL, qkd_nl_request(self->nl, QKD_CMD_KEY_TAKE, 0,
					  build_raw_no_id, &flags, NULL, NULL));
	t.id = r.id;
	t.flags = QKD_TAKE_F_WANT | QKD_TAKE_F_QUIET;
	EXPECT_EQ(-EINVAL, qkd_nl_request(self->nl, QKD_CMD_KEY_TAKE, 0,
					  build_raw_take, &t, NULL, NULL));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "alone"));
	t.flags = QKD_TAKE_F_WANT;
	t.wait_ms = 1000;
	EXPECT_EQ(-EINVAL, qkd_nl_request(self->nl, QKD_CMD_KEY_TAKE, 0,
					  build_raw_take, &t, NULL, NULL));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "never wait"));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_WANTED));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_PENDING));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_INITIATOR_KEYS));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	EXPECT_EQ(96, key_num(got.id));
	qkd_key_wipe(&got);
}

TEST_F(store, release_makes_a_reserved_key_ordinary)
{
	struct qkd_key_buf got;
	uint8_t id[QKD_KEY_ID_LEN];

	ASSERT_EQ(0, inject_range(self->nl, LINK, 80, 2, QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, qkd_key_reserve(self->nl, LINK, id, NULL));
	EXPECT_EQ(80, key_num(id));
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_RESERVED));
	ASSERT_EQ(0, qkd_key_release(self->nl, LINK, id));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_RESERVED));
	EXPECT_EQ(2, stat_of(self->nl, LINK, QKD_STATS_A_INITIATOR_KEYS));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_TAKEN));
	/* released twice: not reserved any more */
	EXPECT_EQ(-ENOENT, qkd_key_release(self->nl, LINK, id));
	/* the oldest again, for a take of the oldest */
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	EXPECT_EQ(80, key_num(got.id));
	/* gone (taken): release is ENOENT */
	EXPECT_EQ(-ENOENT, qkd_key_release(self->nl, LINK, id));
	/* a reserved key flushed: release is ENOENT, the stat follows */
	ASSERT_EQ(0, qkd_key_reserve(self->nl, LINK, id, NULL));
	EXPECT_EQ(81, key_num(id));
	ASSERT_EQ(0, qkd_flush(self->nl, LINK, 0));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_RESERVED));
	EXPECT_EQ(-ENOENT, qkd_key_release(self->nl, LINK, id));
	EXPECT_EQ(-ENOENT, qkd_key_take_flags(self->nl, LINK, id, -1,
					      QKD_TAKE_F_INITIATOR, &got));
	qkd_key_wipe(&got);
}

TEST_F(store, link_changes_notify_the_monitor_group)
{
	struct qkd_link_opts o;
	struct qkd_nl *mon, *keys;
	struct qkd_ntf n;

	ASSERT_EQ(0, qkd_nl_open(&mon, 0, NULL));
	ASSERT_EQ(0, qkd_nl_subscribe(mon, QKD_NL_GROUP_MONITOR));
	ASSERT_EQ(0, qkd_nl_open(&keys, 0, NULL));
	ASSERT_EQ(0, qkd_nl_subscribe(keys, QKD_NL_GROUP_KEYS));
	qkd_link_opts_init(&o, "x", "peer-sae");
	ASSERT_EQ(0, qkd_link_new(self->nl, "l2", &o));
	qkd_link_opts_init(&o, NULL, NULL);
	o.max_keys = 9;
	ASSERT_EQ(0, qkd_link_set(self->nl, "l2", &o));
	ASSERT_EQ(0, qkd_link_del(self->nl, "l2"));
	ASSERT_EQ(1, qkd_ntf_recv(mon, &n, 2000));
	EXPECT_EQ(QKD_NTF_LINK_NEW, n.cmd);
	EXPECT_STREQ("peer-sae", n.remote_sae_id);
	ASSERT_EQ(1, qkd_ntf_recv(mon, &n, 2000));
	EXPECT_EQ(QKD_NTF_LINK_SET, n.cmd);
	ASSERT_EQ(1, qkd_ntf_recv(mon, &n, 2000));
	EXPECT_EQ(QKD_NTF_LINK_DEL, n.cmd);
	/* the keys group hears only the deletion */
	ASSERT_EQ(1, qkd_ntf_recv(keys, &n, 2000));
	EXPECT_EQ(QKD_NTF_LINK_DEL, n.cmd);
	EXPECT_STREQ("l2", n.link_name);
	EXPECT_EQ(0, qkd_ntf_recv(keys, &n, 300));
	qkd_nl_free(mon);
	qkd_nl_free(keys);
}

static int drop_net_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_NET_ADMIN / 32].effective &= ~(1U << (CAP_NET_ADMIN % 32));
	data[CAP_NET_ADMIN / 32].permitted &= ~(1U << (CAP_NET_ADMIN % 32));
	return syscall(SYS_capset, &hdr, data);
}

TEST_F(store, unprivileged_caller)
{
	struct qkd_link_info info;
	struct qkd_stats_buf s;
	struct qkd_key_buf got;
	struct qkd_audit_buf rec;
	struct qkd_link_opts o;
	struct qkd_nl *nl;

	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 1,
				  QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, drop_net_admin());
	ASSERT_EQ(0, qkd_nl_open(&nl, 0, NULL));
	qkd_link_opts_init(&o, "a", "b");
	EXPECT_EQ(-EPERM, qkd_link_new(nl, "x", &o));
	EXPECT_EQ(-EPERM, qkd_link_get(nl, LINK, &info));
	EXPECT_EQ(-EPERM, qkd_link_dump(nl, &info, 1));
	EXPECT_EQ(-EPERM, qkd_key_take(nl, LINK, NULL, -1, &got));
	EXPECT_EQ(-EPERM, inject_range(nl, LINK, 5, 1,
				       QKD_KEY_ROLE_INITIATOR));
	EXPECT_EQ(-EPERM, qkd_flush(nl, NULL, 0));
	EXPECT_EQ(-EPERM, qkd_stats_get(nl, NULL, &s));
	EXPECT_EQ(-EPERM, qkd_audit_dump(nl, NULL, &rec, 1));
	EXPECT_EQ(-EPERM, qkd_link_del(nl, LINK));
	EXPECT_EQ(-EPERM, qkd_nl_subscribe(nl, QKD_NL_GROUP_KEYS));
	qkd_nl_free(nl);
	/*
	 * A socket opened while privileged does not help: the family checks
	 * the sender's capabilities on every message.
	 */
	EXPECT_EQ(-EPERM, qkd_key_take(self->nl, LINK, NULL, -1, &got));
}

TEST_F(store, other_namespace_is_isolated)
{
	struct qkd_link_info info;
	struct qkd_key_buf got;
	struct qkd_nl *other;
	int orig_ns, ret;

	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 2,
				  QKD_KEY_ROLE_INITIATOR));
	orig_ns = open("/proc/self/ns/net", O_RDONLY);
	ASSERT_GE(orig_ns, 0);
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, qkd_nl_open(&other, 0, NULL));
	EXPECT_EQ(-ENODEV, qkd_link_get(other, LINK, &info));
	EXPECT_EQ(-ENODEV, qkd_key_take(other, LINK, NULL, -1, &got));
	EXPECT_EQ(0, qkd_link_dump(other, &info, 1));
	EXPECT_EQ(0, stat_of(other, NULL, QKD_STATS_A_KEYS_BUFFERED));
	qkd_nl_free(other);
	/* The first namespace still holds both keys. */
	ASSERT_EQ(0, setns(orig_ns, CLONE_NEWNET));
	close(orig_ns);
	ret = qkd_link_get(self->nl, LINK, &info);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(2, info.stats.v[QKD_STATS_A_KEYS_BUFFERED]);
}

TEST(namespace_exit_wipes_keys)
{
	struct qkd_link_opts o;
	struct qkd_nl *nl;
	pid_t pid;
	int status;

	/* A child namespace with keys that dies: nothing may leak or warn. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (unshare(CLONE_NEWNET) || qkd_nl_open(&nl, 0, NULL))
			_exit(1);
		qkd_link_opts_init(&o, "a", "b");
		if (qkd_link_new(nl, "gone", &o) ||
		    inject_range(nl, "gone", 1, 100, QKD_KEY_ROLE_INITIATOR))
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

#define CONC_THREADS	4
#define CONC_KEYS	1500	/* per injecting thread */
#define CONC_BATCH	50

struct conc {
	atomic_int injected_done;
	atomic_uint taken;
	uint8_t seen[CONC_THREADS * CONC_KEYS];
	atomic_int errors;
};

static void *conc_injector(void *arg)
{
	struct conc *c = ((void **)arg)[0];
	int idx = (int)(long)((void **)arg)[1];
	struct qkd_nl *nl;
	int i;

	if (qkd_nl_open(&nl, 0, NULL)) {
		c->errors++;
		return NULL;
	}
	for (i = 0; i < CONC_KEYS; i += CONC_BATCH)
		if (inject_range(nl, LINK, idx * CONC_KEYS + i, CONC_BATCH,
				 QKD_KEY_ROLE_INITIATOR))
			c->errors++;
	c->injected_done++;
	qkd_nl_free(nl);
	return NULL;
}

static void *conc_taker(void *arg)
{
	struct conc *c = arg;
	struct qkd_key_buf got, expect;
	struct qkd_nl *nl;
	uint32_t n;
	int ret;

	if (qkd_nl_open(&nl, 0, NULL)) {
		c->errors++;
		return NULL;
	}
	for (;;) {
		ret = qkd_key_take(nl, LINK, NULL, -1, &got);
		if (ret == -ENOENT) {
			if (c->injected_done == CONC_THREADS)
				break;
			continue;
		}
		if (ret) {
			c->errors++;
			break;
		}
		n = key_num(got.id);
		make_key(&expect, n, QKD_KEY_ROLE_INITIATOR, 32);
		if (n >= CONC_THREADS * CONC_KEYS ||
		    memcmp(expect.material, got.material, 32) ||
		    __atomic_fetch_add(&c->seen[n], 1, __ATOMIC_SEQ_CST))
			c->errors++;
		c->taken++;
	}
	qkd_nl_free(nl);
	return NULL;
}

TEST_F_TIMEOUT(store, concurrent_inject_take, 300)
{
	pthread_t inj[CONC_THREADS], tak[CONC_THREADS];
	void *args[CONC_THREADS][2];
	struct qkd_link_opts o;
	struct conc *c = calloc(1, sizeof(*c));
	struct qkd_stats_buf s;
	int i;

	qkd_link_opts_init(&o, NULL, NULL);
	o.max_keys = QKD_LINK_MAX_KEYS_LIMIT;
	o.max_bytes = QKD_LINK_MAX_BYTES_LIMIT;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	for (i = 0; i < CONC_THREADS; i++) {
		args[i][0] = c;
		args[i][1] = (void *)(long)i;
		ASSERT_EQ(0, pthread_create(&inj[i], NULL, conc_injector,
					    args[i]));
		ASSERT_EQ(0, pthread_create(&tak[i], NULL, conc_taker, c));
	}
	for (i = 0; i < CONC_THREADS; i++) {
		pthread_join(inj[i], NULL);
		pthread_join(tak[i], NULL);
	}
	EXPECT_EQ(0, c->errors);
	EXPECT_EQ(CONC_THREADS * CONC_KEYS, c->taken);
	for (i = 0; i < CONC_THREADS * CONC_KEYS; i++)
		ASSERT_EQ(1, c->seen[i]) TH_LOG("key %d", i);
	ASSERT_EQ(0, qkd_stats_get(self->nl, LINK, &s));
	EXPECT_EQ(CONC_THREADS * CONC_KEYS, s.v[QKD_STATS_A_INJECTED]);
	EXPECT_EQ(CONC_THREADS * CONC_KEYS, s.v[QKD_STATS_A_TAKEN]);
	EXPECT_EQ(0, s.v[QKD_STATS_A_KEYS_BUFFERED]);
	EXPECT_EQ(0, s.v[QKD_STATS_A_BYTES_BUFFERED]);
	free(c);
}

struct flusher {
	atomic_int stop;
	int flushes;
};

static void *conc_flusher(void *arg)
{
	struct flusher *f = arg;
	struct qkd_nl *nl;

	if (qkd_nl_open(&nl, 0, NULL))
		return NULL;
	while (!f->stop) {
		if (!qkd_flush(nl, f->flushes % 2 ? LINK : NULL, 0))
			f->flushes++;
		usleep(2000);
	}
	qkd_nl_free(nl);
	return NULL;
}

TEST_F_TIMEOUT(store, concurrent_flush_accounting, 300)
{
	pthread_t inj[CONC_THREADS], tak[CONC_THREADS], fl;
	void *args[CONC_THREADS][2];
	struct flusher f = { 0 };
	struct qkd_link_opts o;
	struct conc *c = calloc(1, sizeof(*c));
	struct qkd_stats_buf s, ns;
	int i;

	qkd_link_opts_init(&o, NULL, NULL);
	o.max_keys = QKD_LINK_MAX_KEYS_LIMIT;
	o.max_bytes = QKD_LINK_MAX_BYTES_LIMIT;
	ASSERT_EQ(0, qkd_link_set(self->nl, LINK, &o));
	ASSERT_EQ(0, pthread_create(&fl, NULL, conc_flusher, &f));
	for (i = 0; i < CONC_THREADS; i++) {
		args[i][0] = c;
		args[i][1] = (void *)(long)i;
		ASSERT_EQ(0, pthread_create(&inj[i], NULL, conc_injector,
					    args[i]));
		ASSERT_EQ(0, pthread_create(&tak[i], NULL, conc_taker, c));
	}
	for (i = 0; i < CONC_THREADS; i++) {
		pthread_join(inj[i], NULL);
		pthread_join(tak[i], NULL);
	}
	f.stop = 1;
	pthread_join(fl, NULL);
	EXPECT_EQ(0, c->errors);
	EXPECT_GT(f.flushes, 0);
	ASSERT_EQ(0, qkd_stats_get(self->nl, LINK, &s));
	ASSERT_EQ(0, qkd_stats_get(self->nl, NULL, &ns));
	/* Every key is accounted for exactly once. */
	EXPECT_EQ(CONC_THREADS * CONC_KEYS, s.v[QKD_STATS_A_INJECTED]);
	EXPECT_EQ(c->taken, s.v[QKD_STATS_A_TAKEN]);
	EXPECT_EQ(s.v[QKD_STATS_A_INJECTED],
		  s.v[QKD_STATS_A_TAKEN] + s.v[QKD_STATS_A_FLUSHED] +
		  s.v[QKD_STATS_A_KEYS_BUFFERED]);
	EXPECT_EQ(s.v[QKD_STATS_A_TAKEN], ns.v[QKD_STATS_A_TAKEN]);
	EXPECT_EQ(s.v[QKD_STATS_A_FLUSHED], ns.v[QKD_STATS_A_FLUSHED]);
	EXPECT_EQ(s.v[QKD_STATS_A_BYTES_BUFFERED],
		  32 * s.v[QKD_STATS_A_KEYS_BUFFERED]);
	TH_LOG("taken %llu flushed %llu in %d flushes",
	       (unsigned long long)s.v[QKD_STATS_A_TAKEN],
	       (unsigned long long)s.v[QKD_STATS_A_FLUSHED], f.flushes);
	free(c);
}

/* ---- per-command policies ----------------------------------------------- */

enum attr_kind { K_U8, K_U32, K_STR, K_BIN16, K_NEST };

/* Every attribute of the family, by type (checked against QKD_A_MAX). */
static const struct {
	int type;
	const char *name;	/* as in docs/netlink/qkd.yaml */
	enum attr_kind kind;
} family_attrs[] = {
	{ QKD_A_PAD, "pad", K_U32 },
	{ QKD_A_LINK_NAME, "link-name", K_STR },
	{ QKD_A_LOCAL_SAE_ID, "local-sae-id", K_STR },
	{ QKD_A_REMOTE_SAE_ID, "remote-sae-id", K_STR },
	{ QKD_A_MAX_KEYS, "max-keys", K_U32 },
	{ QKD_A_MAX_BYTES, "max-bytes", K_U32 },
	{ QKD_A_KEY_TTL, "key-ttl", K_U32 },
	{ QKD_A_RATE, "rate", K_U32 },
	{ QKD_A_BURST, "burst", K_U32 },
	{ QKD_A_LOW_WATERMARK, "low-watermark", K_U32 },
	{ QKD_A_KEY, "key", K_NEST },
	{ QKD_A_KEY_ID, "key-id", K_BIN16 },
	{ QKD_A_KEY_ROLE, "key-role", K_U8 },
	{ QKD_A_WAIT_MS, "wait-ms", K_U32 },
	{ QKD_A_STATS, "stats", K_NEST },
	{ QKD_A_AUDIT, "audit", K_NEST },
	{ QKD_A_SPI, "spi", K_U32 },
	{ QKD_A_USAGE, "usage", K_STR },
	{ QKD_A_LINK_COUNT, "link-count", K_U32 },
	{ QKD_A_KEY_COUNT, "key-count", K_U32 },
	{ QKD_A_TAKE_FLAGS, "take-flags", K_U32 },
	{ QKD_A_STATUS, "status", K_U32 },
};

#define A(x)	(1ULL << QKD_A_##x)
#define LINK_CFG_ATTRS	(A(LINK_NAME) | A(LOCAL_SAE_ID) | A(REMOTE_SAE_ID) | \
			 A(MAX_KEYS) | A(MAX_BYTES) | A(KEY_TTL) | A(RATE) | \
			 A(BURST) | A(LOW_WATERMARK))

/* What each command takes, written independently of the generator. */
static const struct {
	uint8_t cmd;
	const char *name;
	uint16_t flags;
	uint64_t takes;
} family_ops[] = {
	{ QKD_CMD_LINK_NEW, "link-new", 0, LINK_CFG_ATTRS },
	{ QKD_CMD_LINK_SET, "link-set", 0, LINK_CFG_ATTRS },
	{ QKD_CMD_LINK_DEL, "link-del", 0, A(LINK_NAME) },
	{ QKD_CMD_LINK_GET, "link-get", 0, A(LINK_NAME) },
	{ QKD_CMD_LINK_GET, "link-get dump", NLM_F_DUMP, A(LINK_NAME) },
	{ QKD_CMD_KEY_INJECT, "key-inject", 0, A(LINK_NAME) | A(KEY) },
	{ QKD_CMD_KEY_TAKE, "key-take", 0,
	  A(LINK_NAME) | A(KEY_ID) | A(WAIT_MS) | A(TAKE_FLAGS) },
	{ QKD_CMD_FLUSH, "flush", 0, A(LINK_NAME) | A(KEY_ROLE) },
	{ QKD_CMD_STATS_GET, "stats-get", 0, A(LINK_NAME) },
	{ QKD_CMD_AUDIT_GET, "audit-get dump", NLM_F_DUMP, A(LINK_NAME) },
	{ QKD_CMD_AUDIT_ANNOTATE, "audit-annotate", 0,
	  A(LINK_NAME) | A(KEY_ID) | A(SPI) | A(USAGE) },
};

struct extra_attr {
	int type;
	enum attr_kind kind;
	bool nested_flag;	/* K_NEST: open it with NLA_F_NESTED */
	uint32_t offset;	/* filled by the builder */
};

/* A well-formed link name, then one attribute well formed for its type. */
static void build_extra_attr(struct nlmsghdr *nlh, void *arg)
{
	struct extra_attr *x = arg;
	static const uint8_t bytes[QKD_KEY_ID_LEN] = { 0x51, 7 };
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, LINK);
	x->offset = (uint32_t)((char *)mnl_nlmsg_get_payload_tail(nlh) -
			       (char *)nlh);
	switch (x->kind) {
	case K_U8:
		mnl_attr_put_u8(nlh, x->type, QKD_KEY_ROLE_INITIATOR);
		break;
	case K_U32:
		mnl_attr_put_u32(nlh, x->type, 5);
		break;
	case K_STR:
		mnl_attr_put_strz(nlh, x->type, "x");
		break;
	case K_BIN16:
		mnl_attr_put(nlh, x->type, sizeof(bytes), bytes);
		break;
	case K_NEST:
		if (x->nested_flag) {
			nest = mnl_attr_nest_start(nlh, x->type);
			mnl_attr_put_u32(nlh, 3, 1);
			mnl_attr_nest_end(nlh, nest);
		} else {
			uint8_t inner[8];	/* one u32 attribute, no flag */
			struct nlattr *in = (struct nlattr *)inner;

			in->nla_len = 8;
			in->nla_type = 3;
			memset(inner + 4, 1, 4);
			mnl_attr_put(nlh, x->type, sizeof(inner), inner);
		}
		break;
	}
}

TEST_F(store, every_command_refuses_attributes_it_does_not_take)
{
	unsigned int i, j, refused = 0;
	char want[96];
	int ret;

	ASSERT_EQ(QKD_A_MAX, sizeof(family_attrs) / sizeof(family_attrs[0]));
	for (j = 0; j < QKD_A_MAX; j++)
		ASSERT_EQ(j + 1, family_attrs[j].type);
	for (i = 0; i < sizeof(family_ops) / sizeof(family_ops[0]); i++) {
		for (j = 0; j < QKD_A_MAX; j++) {
			struct extra_attr x = {
				.type = family_attrs[j].type,
				.kind = family_attrs[j].kind,
			};
			int pass;

			if (family_ops[i].takes & (1ULL << x.type))
				continue;
			/* Nests twice: with NLA_F_NESTED, as libmnl opens them,
			 * the core's nesting check refuses them first. */
			for (pass = 0; pass < (x.kind == K_NEST ? 2 : 1); pass++) {
				x.nested_flag = pass;
				ret = qkd_nl_request(self->nl, family_ops[i].cmd,
						     family_ops[i].flags,
						     build_extra_attr, &x, NULL,
						     NULL);
				EXPECT_EQ(-EINVAL, ret)
					TH_LOG("%s took %s", family_ops[i].name,
					       family_attrs[j].name);
				EXPECT_EQ(x.offset, qkd_nl_error_offset(self->nl))
					TH_LOG("%s, %s: extack names another attribute",
					       family_ops[i].name, family_attrs[j].name);
				EXPECT_NE(0, qkd_nl_error(self->nl)[0]);
				if (!x.nested_flag) {
					snprintf(want, sizeof(want),
						 "attribute %s is not taken",
						 family_attrs[j].name);
					EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), want))
						TH_LOG("%s, %s: \"%s\"",
						       family_ops[i].name,
						       family_attrs[j].name,
						       qkd_nl_error(self->nl));
				}
				refused++;
			}
		}
	}
	TH_LOG("%u requests refused", refused);
	/* Nothing any of them asked for happened. */
	ASSERT_EQ(1, qkd_link_dump(self->nl, NULL, 0));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_INJECTED));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_REJECTED_NOT_FOUND));
}

struct key_nest {
	bool extra;		/* add a reply-only attribute to the nest */
	uint32_t offset;	/* of the nest, or of the extra attribute */
};

/* A link name and one complete key nest, as an injector would send it. */
static void build_key_nest(struct nlmsghdr *nlh, void *arg)
{
	struct key_nest *k = arg;
	struct qkd_key_buf key;
	struct nlattr *nest;

	make_key(&key, 900, QKD_KEY_ROLE_INITIATOR, 32);
	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, LINK);
	k->offset = (uint32_t)((char *)mnl_nlmsg_get_payload_tail(nlh) -
			       (char *)nlh);
	nest = mnl_attr_nest_start(nlh, QKD_A_KEY);
	mnl_attr_put(nlh, QKD_KEY_A_ID, QKD_KEY_ID_LEN, key.id);
	mnl_attr_put(nlh, QKD_KEY_A_MATERIAL, key.len, key.material);
	mnl_attr_put_u8(nlh, QKD_KEY_A_ROLE, key.role);
	if (k->extra) {
		k->offset = (uint32_t)((char *)mnl_nlmsg_get_payload_tail(nlh) -
				       (char *)nlh);
		mnl_attr_put_u64(nlh, QKD_KEY_A_INJECTED, 1);
	}
	mnl_attr_nest_end(nlh, nest);
	explicit_bzero(&key, sizeof(key));
}

TEST_F(store, key_material_reaches_only_inject)
{
	struct key_nest k = { 0 };
	struct qkd_key_buf got;
	unsigned int i;

	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 1,
				  QKD_KEY_ROLE_INITIATOR));
	for (i = 0; i < sizeof(family_ops) / sizeof(family_ops[0]); i++) {
		if (family_ops[i].cmd == QKD_CMD_KEY_INJECT)
			continue;
		EXPECT_EQ(-EINVAL, qkd_nl_request(self->nl, family_ops[i].cmd,
						  family_ops[i].flags,
						  build_key_nest, &k, NULL,
						  NULL))
			TH_LOG("%s took key material", family_ops[i].name);
		EXPECT_EQ(k.offset, qkd_nl_error_offset(self->nl))
			TH_LOG("%s", family_ops[i].name);
	}
	/* The take above was refused whole: the key is still there. */
	EXPECT_EQ(1, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	EXPECT_EQ(0, stat_of(self->nl, LINK, QKD_STATS_A_TAKEN));
	/* Inject takes the nest, but not its reply-only attributes. */
	k.extra = true;
	EXPECT_EQ(-EINVAL, qkd_nl_request(self->nl, QKD_CMD_KEY_INJECT, 0,
					  build_key_nest, &k, NULL, NULL));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl),
			       "attribute key.injected is not taken"));
	EXPECT_EQ(k.offset, qkd_nl_error_offset(self->nl));
	k.extra = false;
	EXPECT_EQ(0, qkd_nl_request(self->nl, QKD_CMD_KEY_INJECT, 0,
				    build_key_nest, &k, NULL, NULL));
	EXPECT_EQ(2, stat_of(self->nl, LINK, QKD_STATS_A_KEYS_BUFFERED));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	EXPECT_EQ(1, key_num(got.id));
}

struct dump_watch {
	struct qkd_nl *other;	/* deletes a link during the dump */
	const char *del;	/* NULL: change nothing */
	int msgs, intr, del_ret;
};

static int watch_dump(const struct nlmsghdr *nlh, void *arg)
{
	struct dump_watch *w = arg;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		w->intr++;
	if (!w->msgs++ && w->del)
		w->del_ret = qkd_link_del(w->other, w->del);
	return 0;
}

/* Enough links for several rounds of a dump (up to 32 KiB each). */
TEST_F_TIMEOUT(store, link_dump_flags_interrupted_dumps, 180)
{
	struct dump_watch w = { 0 };
	struct qkd_link_opts o;
	char name[32];
	int i;

	qkd_link_opts_init(&o, "a", "b");
	for (i = 1; i < 400; i++) {
		snprintf(name, sizeof(name), "link-%03d", i);
		ASSERT_EQ(0, qkd_link_new(self->nl, name, &o));
	}
	ASSERT_EQ(0, qkd_nl_open(&w.other, 0, NULL));
	/* Nothing changes: a consistent dump, nothing flagged. */
	ASSERT_EQ(0, qkd_nl_request(self->nl, QKD_CMD_LINK_GET, NLM_F_DUMP,
				    NULL, NULL, watch_dump, &w));
	EXPECT_EQ(400, w.msgs);
	EXPECT_EQ(0, w.intr);
	/*
	 * A link deleted once the first round is read: the first message
	 * built after it is flagged, so the reader knows that the dump may
	 * have skipped a link (the index it resumes from has moved).
	 */
	memset(&w.msgs, 0, sizeof(w) - offsetof(struct dump_watch, msgs));
	w.del = "link-001";
	ASSERT_EQ(0, qkd_nl_request(self->nl, QKD_CMD_LINK_GET, NLM_F_DUMP,
				    NULL, NULL, watch_dump, &w));
	EXPECT_EQ(0, w.del_ret);
	EXPECT_GT(w.intr, 0) TH_LOG("%d messages, none flagged", w.msgs);
	TH_LOG("%d messages, %d flagged NLM_F_DUMP_INTR", w.msgs, w.intr);
	qkd_nl_free(w.other);
}

TEST_F(store, audit_annotate_is_all_or_nothing)
{
	uint32_t spi[4] = { 0x100, 0x200, 0x300, 0x400 };
	struct qkd_audit_buf rec;
	struct qkd_key_buf got;

	ASSERT_EQ(0, inject_range(self->nl, LINK, 1, 1,
				  QKD_KEY_ROLE_INITIATOR));
	ASSERT_EQ(0, qkd_key_take(self->nl, LINK, NULL, -1, &got));
	ASSERT_EQ(0, qkd_audit_annotate(self->nl, LINK, got.id, spi, 3,
					"first"));
	/* 3 + 2 > QKD_AUDIT_SPI_MAX: refused, and nothing of it kept. */
	EXPECT_EQ(-ENOSPC, qkd_audit_annotate(self->nl, LINK, got.id, spi, 2,
					      "second"));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "maximum of SPIs"));
	ASSERT_EQ(1, qkd_audit_dump(self->nl, LINK, &rec, 1));
	EXPECT_EQ(3, rec.nr_spi);
	EXPECT_EQ(0x300, rec.spi[2]);
	EXPECT_STREQ("first", rec.usage);
	/* What fits is still taken, SPIs and usage alike. */
	EXPECT_EQ(0, qkd_audit_annotate(self->nl, LINK, got.id, spi + 3, 1,
					"third"));
	ASSERT_EQ(1, qkd_audit_dump(self->nl, LINK, &rec, 1));
	EXPECT_EQ(4, rec.nr_spi);
	EXPECT_EQ(0x400, rec.spi[3]);
	EXPECT_STREQ("third", rec.usage);
	EXPECT_EQ(-ENOSPC, qkd_audit_annotate(self->nl, LINK, got.id, spi, 1,
					      NULL));
	EXPECT_EQ(0, qkd_audit_annotate(self->nl, LINK, got.id, NULL, 0,
					"fourth"));
	ASSERT_EQ(1, qkd_audit_dump(self->nl, LINK, &rec, 1));
	EXPECT_EQ(4, rec.nr_spi);
	EXPECT_STREQ("fourth", rec.usage);
}

struct setter {
	int field;		/* 0: rate, 1: burst */
	int rounds, errors;
	int lost;		/* reads that did not show our last set */
	uint32_t last;
};

static void *set_one_field(void *arg)
{
	struct setter *s = arg;
	struct qkd_link_info info;
	struct qkd_link_opts o;
	struct qkd_nl *nl;
	int i;

	if (qkd_nl_open(&nl, 0, NULL)) {
		s->errors++;
		return NULL;
	}
	for (i = 1; i <= s->rounds; i++) {
		qkd_link_opts_init(&o, NULL, NULL);
		s->last = 100 * (s->field + 1) + i;
		if (s->field)
			o.burst = s->last;
		else
			o.rate = s->last;
		if (qkd_link_set(nl, LINK, &o) || qkd_link_get(nl, LINK, &info)) {
			s->errors++;
			continue;
		}
		/* Only this thread sets this field: a set of the other field
		 * must never bring an older value of it back. */
		if ((s->field ? info.burst : info.rate) != s->last)
			s->lost++;
	}
	qkd_nl_free(nl);
	return NULL;
}

TEST_F(store, concurrent_link_sets_of_different_fields_both_apply)
{
	struct setter s[2] = { { .field = 0, .rounds = 300 },
			       { .field = 1, .rounds = 300 } };
	struct qkd_link_info info;
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, set_one_field, &s[i]));
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, s[0].errors + s[1].errors);
	EXPECT_EQ(0, s[0].lost) TH_LOG("rate sets lost");
	EXPECT_EQ(0, s[1].lost) TH_LOG("burst sets lost");
	ASSERT_EQ(0, qkd_link_get(self->nl, LINK, &info));
	/* Each field holds its setter's last value: no update was lost. */
	EXPECT_EQ(s[0].last, info.rate);
	EXPECT_EQ(s[1].last, info.burst);
	EXPECT_EQ(QKD_LINK_DEFAULT_MAX_KEYS, info.max_keys);
}

TEST_HARNESS_MAIN
