// SPDX-License-Identifier: GPL-2.0-only
/*
 * Netlink decoding without a kernel: extended ACK parsing (errors, dump
 * errors in NLMSG_DONE, capped echoes) and the decoders of the module's
 * audit and stats replies, fed messages built the way the kernel builds
 * them (u64 counters preceded by PAD attributes, multi-attr SPIs).  Those
 * parsers are libqkd's (qkd_nl_parse_ack, qkd_audit_parse,
 * qkd_stats_parse): these tests keep checking them as qkdctl uses them,
 * through audit_record_from_lib() and stats_to_json().  The XFRM SA
 * decoder is qkdctl's own.
 */
#define _GNU_SOURCE	/* memmem */
#include "test_common.h"

#include <errno.h>
#include <linux/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include <linux/genetlink.h>
#include <libqkd.h>
#include "fake_kernel.h"	/* lib/tests: what the module's replies carry */

#include "sakeying.h"
#include "stats.h"
#include "xfrm_dump.h"

#include <arpa/inet.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

static struct nl_msg *error_msg(int error, uint16_t flags, int orig_payload,
				const char *text, int miss_type)
{
	struct nl_msg *msg = nlmsg_alloc_simple(NLMSG_ERROR, flags);
	struct nlmsgerr *e;
	size_t echo = (flags & NLM_F_CAPPED) ? 0 : (size_t)orig_payload;

	assert_non_null(msg);
	e = nlmsg_reserve(msg, sizeof(*e) + echo, NLMSG_ALIGNTO);
	assert_non_null(e);
	memset(e, 0, sizeof(*e) + echo);
	e->error = error;
	e->msg.nlmsg_len = (uint32_t)(NLMSG_HDRLEN + orig_payload);
	e->msg.nlmsg_type = 0x20;
	if (text)
		assert_int_equal(nla_put_string(msg, NLMSGERR_ATTR_MSG, text), 0);
	if (miss_type)
		assert_int_equal(nla_put_u32(msg, NLMSGERR_ATTR_MISS_TYPE, (uint32_t)miss_type), 0);
	return msg;
}

static void ack_success(void **state)
{
	struct nl_msg *m = error_msg(0, 0, 12, NULL, 0);
	char msg[QKD_NL_ERR_MAX];

	(void)state;
	assert_int_equal(qkd_nl_parse_ack(nlmsg_hdr(m), msg, NULL, NULL), 0);
	assert_string_equal(msg, "");
	nlmsg_free(m);
}

static void ack_error_with_extack(void **state)
{
	char msg[QKD_NL_ERR_MAX];
	uint32_t miss;
	struct nl_msg *m;

	(void)state;
	/* odd-sized echoed request: the TLVs start at the aligned offset */
	m = error_msg(-EEXIST, NLM_F_ACK_TLVS, 10, "link dc-east already exists", 0);
	assert_int_equal(qkd_nl_parse_ack(nlmsg_hdr(m), msg, NULL, NULL), -EEXIST);
	assert_string_equal(msg, "link dc-east already exists");
	nlmsg_free(m);

	m = error_msg(-ERANGE, NLM_F_ACK_TLVS | NLM_F_CAPPED, 100, "max_keys out of range", 0);
	assert_int_equal(qkd_nl_parse_ack(nlmsg_hdr(m), msg, NULL, NULL), -ERANGE);
	assert_string_equal(msg, "max_keys out of range");
	nlmsg_free(m);

	/* the text is made from the type only when the caller asks for it */
	m = error_msg(-EINVAL, NLM_F_ACK_TLVS, 8, NULL, 3);
	assert_int_equal(qkd_nl_parse_ack(nlmsg_hdr(m), msg, NULL, &miss), -EINVAL);
	assert_string_equal(msg, "missing attribute 3");
	nlmsg_free(m);

	/* no TLVs flag: error only */
	m = error_msg(-ENODEV, 0, 8, NULL, 0);
	assert_int_equal(qkd_nl_parse_ack(nlmsg_hdr(m), msg, NULL, NULL), -ENODEV);
	assert_string_equal(msg, "");
	nlmsg_free(m);
}

static void done_with_error(void **state)
{
	struct nl_msg *m = nlmsg_alloc_simple(NLMSG_DONE, NLM_F_MULTI | NLM_F_ACK_TLVS);
	char msg[QKD_NL_ERR_MAX];
	int err = -ENODEV;

	(void)state;
	assert_int_equal(nlmsg_append(m, &err, sizeof(err), NLMSG_ALIGNTO), 0);
	assert_int_equal(nla_put_string(m, NLMSGERR_ATTR_MSG, "no link named x"), 0);
	assert_int_equal(qkd_nl_parse_ack(nlmsg_hdr(m), msg, NULL, NULL), -ENODEV);
	assert_string_equal(msg, "no link named x");
	nlmsg_free(m);

	m = nlmsg_alloc_simple(NLMSG_DONE, NLM_F_MULTI);
	err = 0;
	assert_int_equal(nlmsg_append(m, &err, sizeof(err), NLMSG_ALIGNTO), 0);
	assert_int_equal(qkd_nl_parse_ack(nlmsg_hdr(m), msg, NULL, NULL), 0);
	nlmsg_free(m);
}

/* A reply of the qkd family as the kernel frames it: genl header, then attributes. */
static struct nl_msg *genl_reply(uint8_t cmd)
{
	struct nl_msg *m = nlmsg_alloc_simple(0x20, 0);
	struct genlmsghdr gh = { .cmd = cmd, .version = QKD_FAMILY_VERSION };

	assert_non_null(m);
	assert_int_equal(nlmsg_append(m, &gh, sizeof(gh), NLMSG_ALIGNTO), 0);
	return m;
}

/* qkd_audit_parse into qkdctl's record: what `audit` and `xfrm` read. */
static int audit_parse(struct nl_msg *m, struct audit_record *r)
{
	struct qkd_audit_buf b;
	int ret = qkd_audit_parse(nlmsg_hdr(m), &b);

	memset(r, 0, sizeof(*r));
	if (!ret)
		audit_record_from_lib(&b, r);
	return ret;
}

static void put_u64_padded(struct nl_msg *m, int pad, int type, uint64_t v)
{
	/* what nla_put_u64_64bit does when the payload would be misaligned */
	assert_int_equal(nla_put(m, pad, 0, NULL), 0);
	assert_int_equal(nla_put_u64(m, type, v), 0);
}

static void build_audit(struct nl_msg *m, int n_spi)
{
	static const uint8_t id[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct nlattr *nest = nla_nest_start(m, QKD_A_AUDIT);
	int i;

	put_u64_padded(m, QKD_AUDIT_A_PAD, QKD_AUDIT_A_SEQ, 42);
	put_u64_padded(m, QKD_AUDIT_A_PAD, QKD_AUDIT_A_TIME, 1764316800123456789ULL);
	nla_put_string(m, QKD_AUDIT_A_LINK_NAME, "dc-east");
	nla_put(m, QKD_AUDIT_A_KEY_ID, 16, id);
	nla_put_u8(m, QKD_AUDIT_A_ROLE, QKD_KEY_ROLE_RESPONDER);
	nla_put_u32(m, QKD_AUDIT_A_PID, 4242);
	nla_put_string(m, QKD_AUDIT_A_COMM, "charon");
	for (i = 0; i < n_spi; i++)
		nla_put_u32(m, QKD_AUDIT_A_SPI, 0xc0000000u + (uint32_t)i);
	nla_put_string(m, QKD_AUDIT_A_USAGE, "net-a");
	nla_put_u32(m, 200, 7);		/* from a newer module: ignored */
	nla_nest_end(m, nest);
}

static void audit_decode(void **state)
{
	struct nl_msg *m = genl_reply(fake_reply_cmd(FAKE_REPLY_AUDIT));
	struct audit_record r;
	struct nlattr *nest;

	(void)state;
	build_audit(m, 2);
	assert_int_equal(audit_parse(m, &r), 0);
	assert_int_equal(r.seq, 42);
	assert_int_equal(r.time_ns, 1764316800123456789ULL);
	assert_string_equal(r.link, "dc-east");
	assert_true(r.has_key_id);
	assert_int_equal(r.key_id[15], 16);
	assert_int_equal(r.role, QKD_KEY_ROLE_RESPONDER);
	assert_true(r.has_pid);
	assert_int_equal(r.pid, 4242);
	assert_string_equal(r.comm, "charon");
	assert_int_equal(r.n_spi, 2);
	assert_int_equal(r.spi[1], 0xc0000001u);
	assert_string_equal(r.usage, "net-a");
	nlmsg_free(m);

	/* more SPIs than the UAPI allows is malformed, not truncated */
	m = genl_reply(fake_reply_cmd(FAKE_REPLY_AUDIT));
	build_audit(m, QKD_AUDIT_SPI_MAX + 1);
	assert_int_equal(audit_parse(m, &r), -EPROTO);
	nlmsg_free(m);

	/* a u64 sent as u32 is malformed */
	m = genl_reply(fake_reply_cmd(FAKE_REPLY_AUDIT));
	nest = nla_nest_start(m, QKD_A_AUDIT);
	nla_put_u32(m, QKD_AUDIT_A_SEQ, 1);
	nla_nest_end(m, nest);
	assert_int_equal(audit_parse(m, &r), -EPROTO);
	nlmsg_free(m);
}

static void stats_decode(void **state)
{
	struct nl_msg *m = genl_reply(fake_reply_cmd(FAKE_REPLY_STATS));
	struct nlattr *nest;
	struct qkd_stats_buf s;
	json_t *o;
	char *txt;

	(void)state;
	assert_int_equal(nla_put_u32(m, QKD_A_LINK_COUNT, 2), 0);
	nest = nla_nest_start(m, QKD_A_STATS);
	put_u64_padded(m, QKD_STATS_A_PAD, QKD_STATS_A_INJECTED, 10);
	put_u64_padded(m, QKD_STATS_A_PAD, QKD_STATS_A_TAKEN, 3);
	put_u64_padded(m, QKD_STATS_A_PAD, QKD_STATS_A_KEYS_BUFFERED, 7);
	put_u64_padded(m, QKD_STATS_A_PAD, 99, 1);	/* unknown: ignored */
	nla_nest_end(m, nest);
	assert_int_equal(qkd_stats_parse(nlmsg_hdr(m), &s), 0);
	assert_int_equal(s.link_count, 2);
	assert_int_equal(s.v[QKD_STATS_A_INJECTED], 10);
	assert_int_equal(s.v[QKD_STATS_A_TAKEN], 3);
	assert_int_equal(s.v[QKD_STATS_A_EXPIRED], 0);

	assert_true(s.present & (1ULL << QKD_STATS_A_INJECTED));
	assert_false(s.present & (1ULL << QKD_STATS_A_EXPIRED));

	o = json_object();
	stats_to_json(&s, o);
	txt = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(txt, "{\"injected\":10,\"keys_buffered\":7,\"taken\":3}");
	free(txt);
	json_decref(o);
	nlmsg_free(m);
}


/*
 * An SA as the kernel dumps it, placed at an offset that is 4 but not 8
 * byte aligned (as the second message of a dump can be): xfrm_usersa_info
 * holds u64s, so reading it in place would be undefined behaviour.
 */
static void xfrm_sa_decode(void **state)
{
	static const char key[36] = "0123456789abcdef0123456789abcdef0123";
	struct nl_msg *m = nlmsg_alloc_simple(XFRM_MSG_NEWSA, NLM_F_MULTI);
	struct xfrm_usersa_info info;
	struct xfrm_algo_aead *aead;
	struct xfrm_algo_auth *auth;
	struct nlattr *a;
	struct sa_info sa;
	uint64_t *buf;
	struct nlmsghdr *at;

	(void)state;
	memset(&info, 0, sizeof(info));
	info.family = AF_INET6;
	inet_pton(AF_INET6, "fd00::1", &info.saddr);
	inet_pton(AF_INET6, "fd00::2", &info.id.daddr);
	info.id.spi = htonl(0xc0ffee01);
	info.id.proto = IPPROTO_ESP;
	info.mode = XFRM_MODE_TUNNEL;
	info.reqid = 42;
	info.curlft.bytes = 1500;
	info.curlft.packets = 3;
	info.curlft.add_time = 1764316800;
	assert_int_equal(nlmsg_append(m, &info, sizeof(info), NLMSG_ALIGNTO), 0);
	a = nla_reserve(m, XFRMA_ALG_AEAD, sizeof(*aead) + sizeof(key));
	aead = nla_data(a);
	memset(aead, 0, sizeof(*aead));
	strcpy(aead->alg_name, "rfc4106(gcm(aes))");
	aead->alg_key_len = 288;
	aead->alg_icv_len = 128;
	memcpy(aead->alg_key, key, sizeof(key));
	a = nla_reserve(m, XFRMA_ALG_AUTH_TRUNC, sizeof(*auth) + 32);
	auth = nla_data(a);
	memset(auth, 0, sizeof(*auth) + 32);
	memset(auth->alg_name, 'x', sizeof(auth->alg_name));	/* not terminated */
	auth->alg_key_len = 256;
	auth->alg_trunc_len = 96;

	buf = calloc(1, nlmsg_hdr(m)->nlmsg_len + 16);
	at = (struct nlmsghdr *)((char *)buf + 4);
	memcpy(at, nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len);
	assert_int_equal(xfrm_sa_parse(at, &sa), 0);
	assert_int_equal(sa.family, AF_INET6);
	assert_int_equal(sa.spi, 0xc0ffee01u);
	assert_int_equal(sa.proto, IPPROTO_ESP);
	assert_int_equal(sa.mode, XFRM_MODE_TUNNEL);
	assert_int_equal(sa.reqid, 42);
	assert_int_equal(sa.bytes, 1500);
	assert_int_equal(sa.packets, 3);
	assert_int_equal(sa.add_time, 1764316800);
	assert_string_equal(sa.aead.name, "rfc4106(gcm(aes))");
	assert_int_equal(sa.aead.key_bits, 288);
	assert_int_equal(sa.aead.icv_bits, 128);
	assert_int_equal(strlen(sa.auth.name), XFRM_ALG_NAME_MAX - 1);
	assert_int_equal(sa.auth.icv_bits, 96);
	assert_int_equal(sa.enc.name[0], '\0');
	/* nothing of the key landed in the result */
	assert_null(memmem(&sa, sizeof(sa), key, 8));

	/* not an SA */
	at->nlmsg_type = XFRM_MSG_NEWPOLICY;
	assert_int_equal(xfrm_sa_parse(at, &sa), -EBADMSG);
	free(buf);
	nlmsg_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ack_success),
		cmocka_unit_test(ack_error_with_extack),
		cmocka_unit_test(done_with_error),
		cmocka_unit_test(audit_decode),
		cmocka_unit_test(stats_decode),
		cmocka_unit_test(xfrm_sa_decode),
	};

	return cmocka_run_group_tests_name("nl", tests, NULL, NULL);
}
