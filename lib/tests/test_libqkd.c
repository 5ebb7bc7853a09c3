// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Host unit tests of libqkd against a fake kernel: the handle's send and
 * receive hooks (internal.h) are pointed at a script that answers each
 * request with hand-built datagrams, from port 0 or from an impostor.
 * What needs the real module is tested by selftests/kmod in the guest;
 * the one real-kernel case here is connecting without the module.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "kselftest_harness.h"
#include "fake_kernel.h"

static const uint8_t id_a[QKD_KEY_ID_LEN] = { 0xaa, 1, 2, 3 };
static const uint8_t id_b[QKD_KEY_ID_LEN] = { 0xbb, 1, 2, 3 };

FIXTURE(lib) {
	struct qkd_nl *nl;
};

FIXTURE_SETUP(lib)
{
	self->nl = fake_kernel_handle();
	ASSERT_NE(NULL, self->nl);
}

FIXTURE_TEARDOWN(lib)
{
	qkd_nl_free(self->nl);
}

TEST(connect_without_module)
{
	struct qkd_nl *nl = NULL;
	char err[QKD_NL_ERR_MAX] = "";

	/* The host kernel has generic netlink but never the qkd family. */
	EXPECT_EQ(-ENOENT, qkd_nl_open(&nl, 0, err));
	EXPECT_EQ(NULL, nl);
	EXPECT_NE(NULL, strstr(err, "module not loaded"));
	nl = qkd_nl_new();
	ASSERT_NE(NULL, nl);
	EXPECT_EQ(-ENOENT, qkd_nl_connect(nl, 100));
	EXPECT_FALSE(qkd_nl_connected(nl));
	EXPECT_EQ(-1, qkd_nl_fd(nl));
	EXPECT_EQ(-ENOTCONN, qkd_link_del(nl, "x"));
	qkd_nl_free(nl);
}

TEST(ack_parsing)
{
	char buf[512], msg[QKD_NL_ERR_MAX];
	struct nlmsghdr req = { .nlmsg_len = 64, .nlmsg_seq = 9 };
	struct fake_dgram d;
	struct nlmsghdr *nlh = (struct nlmsghdr *)d.buf;
	struct nlmsgerr *e;
	uint32_t off, miss;

	memset(&d, 0, sizeof(d));
	fake_ack(&d, &req, -EBUSY, "rate limited");
	EXPECT_EQ(-EBUSY, qkd_nl_parse_ack(nlh, msg, &off, &miss));
	EXPECT_STREQ("rate limited", msg);

	memset(&d, 0, sizeof(d));
	fake_ack(&d, &req, 0, NULL);
	EXPECT_EQ(0, qkd_nl_parse_ack(nlh, msg, NULL, NULL));
	EXPECT_STREQ("", msg);

	/* not capped: the echoed request comes before the TLVs */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_ACK_TLVS;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e) + 16);
	e->error = -EINVAL;
	e->msg.nlmsg_len = sizeof(struct nlmsghdr) + 16;
	mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, 20);
	mnl_attr_put_u32(nlh, NLMSGERR_ATTR_MISS_TYPE, QKD_A_REMOTE_SAE_ID);
	EXPECT_EQ(-EINVAL, qkd_nl_parse_ack(nlh, msg, &off, &miss));
	EXPECT_EQ(20, off);
	EXPECT_EQ(QKD_A_REMOTE_SAE_ID, miss);
	EXPECT_NE(NULL, strstr(msg, "missing attribute"));

	EXPECT_EQ(-EINVAL, qkd_nl_parse_ack(nlh, msg, NULL, NULL));
	EXPECT_NE(NULL, strstr(msg, "missing attribute 4"));

	e->error = 5;		/* positive: impossible */
	EXPECT_EQ(-EBADMSG, qkd_nl_parse_ack(nlh, msg, NULL, NULL));
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
	EXPECT_EQ(-EBADMSG, qkd_nl_parse_ack(nlh, msg, NULL, NULL));

	/* a dump's NLMSG_DONE with an error and its text */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_ACK_TLVS;
	*(int *)mnl_nlmsg_put_extra_header(nlh, sizeof(int)) = -ENODEV;
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "no link of that name");
	EXPECT_EQ(-ENODEV, qkd_nl_parse_ack(nlh, msg, NULL, NULL));
	EXPECT_STREQ("no link of that name", msg);
}

/* An impostor's datagram comes first; only the kernel's counts. */
static void answer_forged_first(struct nlmsghdr *req, void *arg)
{
	(void)arg;
	fake_ack(fake_dgram(31337), req, 0, NULL);
	fake_ack(fake_dgram(0), req, -ENODEV, "no link");
}

TEST_F(lib, replies_only_from_the_kernel)
{
	fk.respond = answer_forged_first;
	EXPECT_EQ(-ENODEV, qkd_link_del(self->nl, "l1"));
	EXPECT_EQ(1, qkd_nl_foreign_dropped(self->nl));
	EXPECT_STREQ("no link", qkd_nl_error(self->nl));
	EXPECT_FALSE(qkd_nl_outcome_unknown(self->nl));
	EXPECT_TRUE(fake_all_zero(self->nl->rbuf, QKD_NL_BUF_SIZE));
}

static void answer_stale_then_ack(struct nlmsghdr *req, void *arg)
{
	struct nlmsghdr old = *req;

	(void)arg;
	old.nlmsg_seq--;
	fake_ack(fake_dgram(0), &old, -EEXIST, "stale");
	fake_ack(fake_dgram(0), req, 0, NULL);
}

/* A message claiming nearly 4 GiB after a good one (libmnl's own check
 * takes it as negative): the loop must stop, not jump out of its buffer. */
static void answer_huge_length(struct nlmsghdr *req, void *arg)
{
	struct fake_dgram *d = fake_dgram(0);
	struct nlmsghdr *nlh = fake_put_genl(d, req, FAKE_FAMILY,
					     QKD_CMD_KEY_TAKE, 0);

	(void)arg;
	fake_end(d, nlh);
	nlh = (struct nlmsghdr *)(d->buf + d->len);
	nlh->nlmsg_len = 0xfffffffc;
	nlh->nlmsg_seq = req->nlmsg_seq;
	nlh->nlmsg_pid = FAKE_PORT;
	d->len += 32;
}

TEST_F(lib, huge_message_length_stops_the_loop)
{
	struct qkd_key_buf k;

	fk.respond = answer_huge_length;
	EXPECT_GT(0, qkd_key_take(self->nl, "l1", NULL, -1, &k));
	EXPECT_TRUE(fake_all_zero(&k, sizeof(k)));
}

TEST_F(lib, stale_replies_skipped)
{
	struct qkd_link_opts o;

	qkd_link_opts_init(&o, "a", "b");
	o.max_keys = 8;
	fk.respond = answer_stale_then_ack;
	EXPECT_EQ(0, qkd_link_new(self->nl, "l1", &o));
	EXPECT_STREQ("", qkd_nl_error(self->nl));
}

TEST_F(lib, timeout_leaves_outcome_unknown)
{
	struct qkd_key_buf k = { .len = 32, .role = QKD_KEY_ROLE_INITIATOR };

	memset(k.material, 0x5a, sizeof(k.material));
	EXPECT_EQ(-EAGAIN, qkd_key_inject(self->nl, "l1", &k, 1));
	EXPECT_TRUE(qkd_nl_outcome_unknown(self->nl));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "no reply"));
	/* the request held key material: wiped once sent */
	EXPECT_TRUE(fake_all_zero(self->nl->sbuf, QKD_NL_BUF_SIZE));
	/* and a refusal from the kernel settles it */
	fk.respond = fake_answer_error;
	fk.arg = &(int){ -ENOSPC };
	EXPECT_EQ(-ENOSPC, qkd_key_inject(self->nl, "l1", &k, 1));
	EXPECT_FALSE(qkd_nl_outcome_unknown(self->nl));
}

TEST_F(lib, inject_request_layout)
{
	struct qkd_key_buf keys[3];
	const struct nlattr *a, *k;
	unsigned int i, nests = 0, bad = 0;

	memset(keys, 0, sizeof(keys));
	for (i = 0; i < 3; i++) {
		keys[i].id[0] = (uint8_t)i;
		keys[i].len = (uint8_t)(16 + 8 * i);
		memset(keys[i].material, 0x10 + (int)i, keys[i].len);
		keys[i].role = QKD_KEY_ROLE_RESPONDER;
	}
	fk.respond = fake_answer_error;
	fk.arg = &(int){ 0 };
	ASSERT_EQ(0, qkd_key_inject(self->nl, "l1", keys, 3));
	mnl_attr_for_each(a, (struct nlmsghdr *)fk.last_req, GENL_HDRLEN) {
		if (mnl_attr_get_type(a) != QKD_A_KEY)
			continue;
		mnl_attr_for_each_nested(k, a) {
			if (mnl_attr_get_type(k) == QKD_KEY_A_MATERIAL &&
			    mnl_attr_get_payload_len(k) != keys[nests].len)
				bad++;
			if (mnl_attr_get_type(k) == QKD_KEY_A_ID &&
			    *(uint8_t *)mnl_attr_get_payload(k) != nests)
				bad++;
		}
		nests++;
	}
	EXPECT_EQ(3, nests);
	EXPECT_EQ(0, bad);
	EXPECT_TRUE(fake_all_zero(self->nl->sbuf, QKD_NL_BUF_SIZE));
}

TEST_F(lib, take_validates_the_reply)
{
	struct fake_take ok = { id_a, 32, QKD_KEY_ROLE_RESPONDER, 1, 1 };
	const struct fake_take bad[] = {
		{ id_a, 32, QKD_KEY_ROLE_INITIATOR, 1, 1 },	/* role */
		{ id_b, 32, QKD_KEY_ROLE_RESPONDER, 1, 1 },	/* ID */
		{ id_a, 8, QKD_KEY_ROLE_RESPONDER, 1, 1 },	/* too short */
		{ id_a, 72, QKD_KEY_ROLE_RESPONDER, 1, 1 },	/* too long */
		{ id_a, 32, QKD_KEY_ROLE_RESPONDER, 2, 1 },	/* two keys */
		{ id_a, 32, QKD_KEY_ROLE_RESPONDER, 1, 2 },	/* two replies */
		{ id_a, 32, QKD_KEY_ROLE_RESPONDER, 0, 1 },	/* no key */
		{ id_a, 32, QKD_KEY_ROLE_RESPONDER, 1, 0 },	/* ack only */
	};
	const int bad_err[] = { -EPROTO, -EPROTO, -EMSGSIZE, -EMSGSIZE,
				-EPROTO, -EPROTO, -EPROTO, -EPROTO };
	struct qkd_key_buf k;
	unsigned int i;

	fk.respond = fake_answer_take;
	fk.arg = &ok;
	ASSERT_EQ(0, qkd_key_take(self->nl, "l1", id_a, 100, &k));
	EXPECT_EQ(32, k.len);
	EXPECT_EQ(0x5a, k.material[31]);
	EXPECT_EQ(1234, k.expires_ns);
	EXPECT_EQ(0, memcmp(k.id, id_a, QKD_KEY_ID_LEN));
	qkd_key_wipe(&k);
	EXPECT_TRUE(fake_all_zero(&k, sizeof(k)));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fk.arg = (void *)&bad[i];
		EXPECT_EQ(bad_err[i], qkd_key_take(self->nl, "l1", id_a, 100, &k))
			TH_LOG("case %u", i);
		EXPECT_TRUE(fake_all_zero(&k, sizeof(k))) TH_LOG("case %u", i);
		EXPECT_NE(0, qkd_nl_error(self->nl)[0]) TH_LOG("case %u", i);
		EXPECT_TRUE(fake_all_zero(self->nl->rbuf, QKD_NL_BUF_SIZE));
	}
	/* an initiator take wants an initiator key, any ID */
	ok.role = QKD_KEY_ROLE_INITIATOR;
	fk.arg = &ok;
	EXPECT_EQ(0, qkd_key_take(self->nl, "l1", NULL, -1, &k));
	qkd_key_wipe(&k);
	/* the module's refusal, with its words */
	fk.respond = fake_answer_error;
	fk.arg = &(int){ -EBUSY };
	EXPECT_EQ(-EBUSY, qkd_key_take(self->nl, "l1", NULL, -1, &k));
	EXPECT_STREQ("no link", qkd_nl_error(self->nl));
}

/* A pending take: EINPROGRESS, then (ready_status >= 0) a KEY_READY
 * unicast, then the quiet second take answered by fake_answer_take. */
struct pending_script {
	int ready_status;		/* -1: no KEY_READY ever */
	bool second_key;		/* the second take finds the key */
	uint32_t second_flags;		/* what the second take asked */
	unsigned int takes;
};

static uint32_t req_take_flags(const struct nlmsghdr *req)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, req, GENL_HDRLEN)
		if (mnl_attr_get_type(a) == QKD_A_TAKE_FLAGS)
			return mnl_attr_get_u32(a);
	return 0;
}

static void answer_pending(struct nlmsghdr *req, void *arg)
{
	struct pending_script *p = arg;
	struct fake_take key = { id_a, 32, QKD_KEY_ROLE_RESPONDER, 1, 1 };

	if (p->takes++ == 0) {
		fake_ack(fake_dgram(0), req, -EINPROGRESS, "key not held yet");
		if (p->ready_status >= 0) {
			struct fake_dgram *d = fake_dgram(0);
			struct nlmsghdr *n;

			/* a stale KEY_READY of another ID first */
			n = fake_put_genl(d, NULL, FAKE_FAMILY, QKD_CMD_KEY_READY_NTF, 0);
			mnl_attr_put_strz(n, QKD_A_LINK_NAME, "l1");
			mnl_attr_put(n, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id_b);
			mnl_attr_put_u32(n, QKD_A_STATUS, 0);
			fake_end(d, n);
			n = fake_put_genl(d, NULL, FAKE_FAMILY, QKD_CMD_KEY_READY_NTF, 0);
			mnl_attr_put_strz(n, QKD_A_LINK_NAME, "l1");
			mnl_attr_put(n, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id_a);
			mnl_attr_put_u32(n, QKD_A_STATUS, (uint32_t)p->ready_status);
			fake_end(d, n);
		}
		return;
	}
	p->second_flags = req_take_flags(req);
	if (p->second_key)
		fake_answer_take(req, &key);
	else
		fake_ack(fake_dgram(0), req, -ENOENT, "key ID not held");
}

TEST_F(lib, take_waits_in_userspace_for_key_ready)
{
	struct pending_script ok = { 0, true, 0, 0 };
	struct pending_script gone = { ENODEV, false, 0, 0 };
	struct pending_script late = { -1, false, 0, 0 };
	struct pending_script unload = { ESHUTDOWN, false, 0, 0 };
	struct qkd_key_buf k;

	fk.respond = answer_pending;
	fk.arg = &ok;
	ASSERT_EQ(0, qkd_key_take(self->nl, "l1", id_a, 2000, &k));
	EXPECT_EQ(2, ok.takes);
	EXPECT_EQ(QKD_TAKE_F_QUIET, ok.second_flags);	/* no second KEY_WANTED */
	EXPECT_EQ(32, k.len);
	qkd_key_wipe(&k);

	fk.arg = &gone;
	EXPECT_EQ(-ENODEV, qkd_key_take(self->nl, "l1", id_a, 2000, &k));
	EXPECT_EQ(1, gone.takes);
	EXPECT_TRUE(fake_all_zero(&k, sizeof(k)));

	fk.arg = &unload;
	EXPECT_EQ(-ESHUTDOWN, qkd_key_take(self->nl, "l1", id_a, 2000, &k));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "unloading"));

	/* no KEY_READY: a last quiet take, then ETIMEDOUT */
	fk.arg = &late;
	EXPECT_EQ(-ETIMEDOUT, qkd_key_take(self->nl, "l1", id_a, 50, &k));
	EXPECT_EQ(2, late.takes);
	EXPECT_EQ(QKD_TAKE_F_QUIET, late.second_flags);
}

static void answer_reserve(struct nlmsghdr *req, void *arg)
{
	struct fake_dgram *d = fake_dgram(0);
	struct nlmsghdr *n = fake_put_genl(d, req, FAKE_FAMILY, QKD_CMD_KEY_TAKE, 0);

	*(uint32_t *)arg = req_take_flags(req);
	mnl_attr_put_strz(n, QKD_A_LINK_NAME, "l1");
	fake_put_key_fields(n, id_b, QKD_KEY_ID_LEN, 0, QKD_KEY_ROLE_INITIATOR);
	fake_end(d, n);
	fake_ack(d, req, 0, NULL);
}

TEST_F(lib, reserve_gets_an_id_without_material)
{
	uint8_t id[QKD_KEY_ID_LEN];
	uint64_t exp = 0;
	uint32_t flags = 0;

	fk.respond = answer_reserve;
	fk.arg = &flags;
	ASSERT_EQ(0, qkd_key_reserve(self->nl, "l1", id, &exp));
	EXPECT_EQ(QKD_TAKE_F_RESERVE, flags);
	EXPECT_EQ(0, memcmp(id, id_b, QKD_KEY_ID_LEN));
	EXPECT_EQ(1234, exp);
}

static void put_link(struct fake_dgram *d, const struct nlmsghdr *req,
		     const char *name, uint16_t flags)
{
	struct nlmsghdr *nlh = fake_put_genl(d, req, FAKE_FAMILY,
					     QKD_CMD_LINK_GET, flags);
	struct nlattr *st;

	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, name);
	mnl_attr_put_strz(nlh, QKD_A_LOCAL_SAE_ID, "sae-a");
	mnl_attr_put_u32(nlh, QKD_A_MAX_KEYS, 99);
	st = mnl_attr_nest_start(nlh, QKD_A_STATS);
	mnl_attr_put(nlh, QKD_STATS_A_PAD, 0, NULL);
	mnl_attr_put_u64(nlh, QKD_STATS_A_INITIATOR_KEYS, 5);
	mnl_attr_put_u64(nlh, QKD_STATS_A_MAX + 3, 77);	/* newer counter */
	mnl_attr_nest_end(nlh, st);
	fake_end(d, nlh);
}

static void answer_dump(struct nlmsghdr *req, void *arg)
{
	int *n = arg, i;
	struct fake_dgram *d = fake_dgram(0);
	struct nlmsghdr *done;

	for (i = 0; i < *n; i++) {
		char name[16];

		if (i == 2)
			d = fake_dgram(0);	/* the dump goes on */
		snprintf(name, sizeof(name), "l%d", i);
		put_link(d, req, name, NLM_F_MULTI);
	}
	done = mnl_nlmsg_put_header(d->buf + d->len);
	done->nlmsg_type = NLMSG_DONE;
	done->nlmsg_flags = NLM_F_MULTI;
	done->nlmsg_seq = req->nlmsg_seq;
	done->nlmsg_pid = FAKE_PORT;
	*(int *)mnl_nlmsg_put_extra_header(done, sizeof(int)) = 0;
	fake_end(d, done);
}

TEST_F(lib, link_dump_counts_beyond_max)
{
	struct qkd_link_info infos[2];
	int n = 3;

	fk.respond = answer_dump;
	fk.arg = &n;
	EXPECT_EQ(3, qkd_link_dump(self->nl, infos, 2));
	EXPECT_STREQ("l0", infos[0].name);
	EXPECT_STREQ("l1", infos[1].name);
	EXPECT_STREQ("sae-a", infos[1].local_sae_id);
	EXPECT_EQ(99, infos[1].max_keys);
	EXPECT_EQ(5, infos[1].stats.v[QKD_STATS_A_INITIATOR_KEYS]);
	EXPECT_TRUE(infos[0].present & (1ULL << QKD_A_MAX_KEYS));
	EXPECT_FALSE(infos[0].present & (1ULL << QKD_A_RATE));
	/* the dump asked for no ACK */
	EXPECT_FALSE(((struct nlmsghdr *)fk.last_req)->nlmsg_flags & NLM_F_ACK);
	EXPECT_TRUE(infos[1].stats.present & (1ULL << QKD_STATS_A_INITIATOR_KEYS));
	EXPECT_FALSE(infos[1].stats.present & (1ULL << QKD_STATS_A_TAKEN));
}

static int stop_at_second(const struct qkd_link_info *info, void *arg);

/* A dump whose first message is flagged interrupted, intr_left times. */
static void answer_intr_dump(struct nlmsghdr *req, void *arg)
{
	int *intr_left = arg, one = 1;
	struct nlmsghdr *first;

	answer_dump(req, &one);
	first = (struct nlmsghdr *)fk.q[(fk.tail - 1) % FAKE_MAX_DGRAMS].buf;
	if ((*intr_left)-- > 0)
		first->nlmsg_flags |= NLM_F_DUMP_INTR;
}

TEST_F(lib, interrupted_dump)
{
	struct qkd_link_info infos[2];
	int intr = 1, calls = -100;

	fk.respond = answer_intr_dump;
	fk.arg = &intr;
	EXPECT_EQ(-EINTR, qkd_link_dump_each(self->nl, stop_at_second, &calls));
	EXPECT_NE(NULL, strstr(qkd_nl_error(self->nl), "dump again"));
	/* a raw request leaves the flag to its parser */
	intr = 1;
	EXPECT_EQ(0, qkd_nl_request(self->nl, QKD_CMD_LINK_GET, NLM_F_DUMP,
				    NULL, NULL, NULL, NULL));
	/* the array form dumps again by itself */
	intr = 2;
	EXPECT_EQ(1, qkd_link_dump(self->nl, infos, 2));
	EXPECT_EQ(5, fk.sends);	/* 1, 1 raw, then 2 interrupted and 1 whole */
	EXPECT_STREQ("l0", infos[0].name);
}

static int stop_at_second(const struct qkd_link_info *info, void *arg)
{
	int *calls = arg;

	(void)info;
	return ++*calls == 2 ? -ECANCELED : 0;
}

TEST_F(lib, link_dump_each_stops_on_refusal)
{
	int n = 3, calls = 0;

	fk.respond = answer_dump;
	fk.arg = &n;
	EXPECT_EQ(-ECANCELED, qkd_link_dump_each(self->nl, stop_at_second, &calls));
	EXPECT_EQ(2, calls);
	/* the rest of the dump was drained: the next request works */
	fk.arg = &n;
	calls = -10;
	EXPECT_EQ(3, qkd_link_dump_each(self->nl, stop_at_second, &calls));
	EXPECT_EQ(-7, calls);
}

TEST(parsers_refuse_wrong_lengths)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	struct qkd_link_info info;
	struct qkd_audit_buf rec;
	struct qkd_ntf ntf;
	struct nlattr *nest;

	g->cmd = QKD_CMD_LINK_GET;
	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, "l1");
	mnl_attr_put_u16(nlh, QKD_A_MAX_KEYS, 3);	/* u32 expected */
	EXPECT_EQ(-EPROTO, qkd_link_parse(nlh, &info));

	nlh = mnl_nlmsg_put_header(buf);
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = QKD_CMD_AUDIT_GET;
	nest = mnl_attr_nest_start(nlh, QKD_A_AUDIT);
	mnl_attr_put_u64(nlh, QKD_AUDIT_A_SEQ, 4);
	mnl_attr_put(nlh, QKD_AUDIT_A_KEY_ID, 15, id_a);
	mnl_attr_nest_end(nlh, nest);
	EXPECT_EQ(-EPROTO, qkd_audit_parse(nlh, &rec));

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = FAKE_FAMILY;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = QKD_CMD_KEY_WANTED_NTF;
	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, "l1");
	mnl_attr_put(nlh, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id_b);
	EXPECT_EQ(0, qkd_ntf_parse(nlh, FAKE_FAMILY, &ntf));
	EXPECT_TRUE(ntf.has_key_id);
	EXPECT_EQ(-ENOMSG, qkd_ntf_parse(nlh, FAKE_FAMILY + 1, &ntf));
	g->cmd = QKD_CMD_KEY_TAKE;	/* no notification */
	EXPECT_EQ(-ENOMSG, qkd_ntf_parse(nlh, FAKE_FAMILY, &ntf));
}

static void queue_ntf(struct fake_dgram *d, uint16_t family, uint8_t cmd,
		      const char *link);
#define queue_ntf_into queue_ntf

/* Every parser on every prefix of a message, in a heap copy of exactly
 * that size: ASan fails the test on any read past the end. */
static int parse_prefixes(const struct nlmsghdr *full, int which)
{
	uint32_t len;
	int accepted = 0;

	for (len = sizeof(struct nlmsghdr); len <= full->nlmsg_len; len++) {
		struct nlmsghdr *m = malloc(len);
		union {
			struct qkd_key_buf k;
			struct qkd_link_info l;
			struct qkd_audit_buf a;
			struct qkd_ntf n;
		} u;
		char msg[QKD_NL_ERR_MAX];

		memcpy(m, full, len);
		m->nlmsg_len = len;
		switch (which) {
		case 0:
			accepted += !qkd_key_parse_take(m, NULL, QKD_KEY_ROLE_INITIATOR, &u.k);
			break;
		case 1:
			accepted += !qkd_link_parse(m, &u.l);
			break;
		case 2:
			accepted += !qkd_audit_parse(m, &u.a);
			break;
		case 3:
			accepted += !qkd_ntf_parse(m, FAKE_FAMILY, &u.n);
			break;
		default:
			accepted += qkd_nl_parse_ack(m, msg, NULL, NULL) == -EINVAL;
			break;
		}
		free(m);
	}
	return accepted;
}

TEST(parsers_stay_inside_truncated_messages)
{
	char buf[1024];
	struct nlmsghdr *nlh;
	struct fake_dgram d;
	struct nlattr *nest;
	struct nlmsghdr req = { .nlmsg_len = 64, .nlmsg_seq = 9 };

	memset(&d, 0, sizeof(d));
	nlh = fake_put_genl(&d, NULL, FAKE_FAMILY, QKD_CMD_KEY_TAKE, 0);
	fake_put_take_key(nlh, id_a, 32, QKD_KEY_ROLE_INITIATOR);
	/* accepted only whole, or missing just the trailing EXPIRES */
	EXPECT_GE(2, parse_prefixes(nlh, 0));
	EXPECT_LE(1, parse_prefixes(nlh, 0));

	memset(&d, 0, sizeof(d));
	put_link(&d, &req, "l1", 0);
	EXPECT_LE(1, parse_prefixes((struct nlmsghdr *)d.buf, 1));

	nlh = mnl_nlmsg_put_header(buf);
	mnl_nlmsg_put_extra_header(nlh, GENL_HDRLEN);
	((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->cmd = QKD_CMD_AUDIT_GET;
	nest = mnl_attr_nest_start(nlh, QKD_A_AUDIT);
	mnl_attr_put_u64(nlh, QKD_AUDIT_A_SEQ, 4);
	mnl_attr_put_strz(nlh, QKD_AUDIT_A_COMM, "charon");
	mnl_attr_put_u32(nlh, QKD_AUDIT_A_SPI, 0xc0ffee);
	mnl_attr_nest_end(nlh, nest);
	EXPECT_LE(1, parse_prefixes(nlh, 2));

	memset(&d, 0, sizeof(d));
	queue_ntf_into(&d, FAKE_FAMILY, QKD_CMD_KEY_WANTED_NTF, "l1");
	EXPECT_LE(1, parse_prefixes((struct nlmsghdr *)d.buf, 3));

	memset(&d, 0, sizeof(d));
	fake_ack(&d, &req, -EINVAL, "bad attribute");
	EXPECT_LE(1, parse_prefixes((struct nlmsghdr *)d.buf, 4));
}

static void queue_ntf(struct fake_dgram *d, uint16_t family, uint8_t cmd,
		      const char *link)
{
	struct nlmsghdr *nlh = fake_put_genl(d, NULL, family, cmd, 0);

	if (link)
		mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, link);
	mnl_attr_put_u32(nlh, QKD_A_KEY_COUNT, 3);
	fake_end(d, nlh);
}

TEST_F(lib, notifications)
{
	struct fake_dgram *d;
	struct qkd_ntf n;

	EXPECT_EQ(-ENOTCONN, qkd_ntf_recv(self->nl, &n, 0));
	self->nl->subscribed = true;
	d = fake_dgram(0);
	queue_ntf(d, FAKE_FAMILY, QKD_CMD_LOW_WATERMARK_NTF, "l1");
	queue_ntf(d, FAKE_FAMILY + 1, QKD_CMD_LOW_WATERMARK_NTF, "other");
	queue_ntf(d, FAKE_FAMILY, QKD_CMD_LINK_DEL_NTF, "l2");
	queue_ntf(fake_dgram(555), FAKE_FAMILY, QKD_CMD_KEY_WANTED_NTF, "fake");
	queue_ntf(fake_dgram(0), FAKE_FAMILY, QKD_CMD_KEY_EXPIRED_NTF, NULL);
	fake_fail_recv(ENOBUFS);

	EXPECT_EQ(1, qkd_ntf_recv(self->nl, &n, 0));
	EXPECT_EQ(QKD_CMD_LOW_WATERMARK_NTF, n.cmd);
	EXPECT_STREQ("l1", n.link_name);
	EXPECT_EQ(3, n.key_count);
	EXPECT_EQ(1, qkd_ntf_recv(self->nl, &n, 0));
	EXPECT_EQ(QKD_CMD_LINK_DEL_NTF, n.cmd);
	EXPECT_STREQ("l2", n.link_name);
	/* the forged one is dropped, the one without a link skipped */
	EXPECT_EQ(-ENOBUFS, qkd_ntf_recv(self->nl, &n, 0));
	EXPECT_EQ(1, qkd_nl_foreign_dropped(self->nl));
	EXPECT_EQ(0, qkd_ntf_recv(self->nl, &n, 0));
	EXPECT_TRUE(fake_all_zero(self->nl->rbuf, QKD_NL_BUF_SIZE));
}

TEST(names)
{
	EXPECT_STREQ("initiator", qkd_role_name(QKD_KEY_ROLE_INITIATOR));
	EXPECT_STREQ("responder", qkd_role_name(QKD_KEY_ROLE_RESPONDER));
	EXPECT_EQ(NULL, qkd_role_name(QKD_KEY_ROLE_UNSPEC));
	EXPECT_EQ(QKD_KEY_ROLE_RESPONDER, qkd_role_from_name("responder"));
	EXPECT_EQ(QKD_KEY_ROLE_UNSPEC, qkd_role_from_name("master"));
	EXPECT_EQ(QKD_KEY_ROLE_UNSPEC, qkd_role_from_name(NULL));
	EXPECT_STREQ("key-wanted", qkd_ntf_name(QKD_CMD_KEY_WANTED_NTF));
	EXPECT_STREQ("rejected_reused", qkd_stat_name(QKD_STATS_A_REJECTED_REUSED));
	EXPECT_EQ(NULL, qkd_stat_name(QKD_STATS_A_PAD));
	EXPECT_EQ(NULL, qkd_stat_name(QKD_STATS_A_MAX + 1));
	EXPECT_EQ(NULL, qkd_ntf_name(QKD_CMD_KEY_TAKE));
}

TEST_HARNESS_MAIN
