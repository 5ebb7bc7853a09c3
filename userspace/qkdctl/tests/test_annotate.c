// SPDX-License-Identifier: GPL-2.0-only
/* SPI -> audit record matching, and the JSON/text of audit and xfrm views. */
#include "test_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <linux/xfrm.h>

#include "annotate.h"
#include "util.h"

#define T0 1764316800ULL		/* 2025-11-28T08:00:00Z */
#define NS 1000000000ULL

static struct audit_record rec(uint64_t seq, uint64_t time_s, const char *link,
			       uint8_t id_last, uint32_t spi1, uint32_t spi2)
{
	struct audit_record r;

	memset(&r, 0, sizeof(r));
	r.seq = seq;
	r.time_ns = time_s * NS + 250000000ULL;
	copy_str(r.link, sizeof(r.link), link);
	r.has_key_id = true;
	r.key_id[0] = 0xab;
	r.key_id[15] = id_last;
	r.role = QKD_KEY_ROLE_INITIATOR;
	r.has_pid = true;
	r.pid = 812;
	copy_str(r.comm, sizeof(r.comm), "charon");
	if (spi1)
		r.spi[r.n_spi++] = spi1;
	if (spi2)
		r.spi[r.n_spi++] = spi2;
	return r;
}

static struct sa_info sa_v4(uint32_t spi, uint64_t add_time)
{
	struct sa_info sa;

	memset(&sa, 0, sizeof(sa));
	sa.family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", sa.saddr);
	inet_pton(AF_INET, "10.0.0.2", sa.daddr);
	sa.proto = IPPROTO_ESP;
	sa.spi = spi;
	sa.mode = XFRM_MODE_TUNNEL;
	sa.reqid = 1;
	copy_str(sa.aead.name, sizeof(sa.aead.name), "rfc4106(gcm(aes))");
	sa.aead.key_bits = 288;
	sa.aead.icv_bits = 128;
	sa.bytes = 8400;
	sa.packets = 100;
	sa.add_time = add_time;
	return sa;
}

static void add(struct audit_list *l, struct audit_record r)
{
	assert_int_equal(audit_list_append(l, &r), 0);
}

static void match_by_spi(void **state)
{
	struct audit_list l = { 0 };
	struct sa_info sa = sa_v4(0xc0000002, T0 + 10);
	struct sa_annotation an;

	(void)state;
	add(&l, rec(1, T0, "dc-east", 1, 0xc0000001, 0xc0000002));
	add(&l, rec(2, T0 + 1, "dc-west", 2, 0xc0000003, 0));
	an = annotate_sa(&sa, &l);
	assert_int_equal(an.keying, SA_KEYING_QKD);
	assert_non_null(an.rec);
	assert_int_equal(an.rec->seq, 1);
	assert_string_equal(an.rec->link, "dc-east");

	sa.spi = 0xc0000003;
	an = annotate_sa(&sa, &l);
	assert_int_equal(an.rec->seq, 2);
	audit_list_free(&l);
}

static void no_match_is_classical(void **state)
{
	struct audit_list l = { 0 };
	struct sa_info sa = sa_v4(0xdeadbeef, T0 + 10);
	struct sa_annotation an;

	(void)state;
	an = annotate_sa(&sa, &l);	/* empty audit */
	assert_int_equal(an.keying, SA_KEYING_CLASSICAL);
	assert_null(an.rec);
	add(&l, rec(1, T0, "dc-east", 1, 0xc0000001, 0));
	/* byte-swapped SPI must not match: SPIs are compared in host order */
	sa.spi = 0x010000c0;
	an = annotate_sa(&sa, &l);
	assert_int_equal(an.keying, SA_KEYING_CLASSICAL);
	audit_list_free(&l);
}

static void newest_record_wins(void **state)
{
	struct audit_list l = { 0 };
	struct sa_info sa = sa_v4(0xc0000001, T0 + 100);
	struct sa_annotation an;

	(void)state;
	add(&l, rec(5, T0, "dc-east", 5, 0xc0000001, 0));
	add(&l, rec(9, T0 + 50, "dc-east", 9, 0xc0000001, 0));
	add(&l, rec(7, T0 + 20, "dc-east", 7, 0xc0000001, 0));
	an = annotate_sa(&sa, &l);
	assert_int_equal(an.keying, SA_KEYING_QKD);
	assert_int_equal(an.rec->seq, 9);
	audit_list_free(&l);
}

static void record_after_sa_is_skipped(void **state)
{
	struct audit_list l = { 0 };
	struct sa_info sa = sa_v4(0xc0000001, T0 + 100);
	struct sa_annotation an;

	(void)state;
	/* taken 2 s after add: within the clock slack, still accepted */
	add(&l, rec(1, T0 + 100 + ANNOTATE_CLOCK_SLACK_S - 1, "a", 1, 0xc0000001, 0));
	an = annotate_sa(&sa, &l);
	assert_int_equal(an.keying, SA_KEYING_QKD);
	audit_list_free(&l);

	/* a later SA reused the SPI: its record cannot have keyed this SA */
	add(&l, rec(1, T0 + 50, "a", 1, 0xc0000077, 0));
	add(&l, rec(2, T0 + 100 + ANNOTATE_CLOCK_SLACK_S + 5, "a", 2, 0xc0000001, 0));
	an = annotate_sa(&sa, &l);
	assert_int_equal(an.keying, SA_KEYING_CLASSICAL);
	/* ... but an older one still can */
	add(&l, rec(3, T0 + 90, "a", 3, 0xc0000001, 0));
	an = annotate_sa(&sa, &l);
	assert_int_equal(an.keying, SA_KEYING_QKD);
	assert_int_equal(an.rec->seq, 3);
	audit_list_free(&l);
}

static void evicted_records_give_unknown(void **state)
{
	struct audit_list l = { 0 };
	struct sa_info old = sa_v4(0xc0000001, T0);
	struct sa_info fresh = sa_v4(0xc0000002, T0 + 5000);
	size_t i;

	(void)state;
	/* a wrapped ring (first seq 100 > 1) whose oldest record is newer
	 * than the old SA: the old SA's record may have been overwritten */
	for (i = 0; i < QKD_AUDIT_RING_SIZE; i++)
		add(&l, rec(100 + i, T0 + 1000 + i, "a", 1, 0xd0000000 + (uint32_t)i, 0));
	assert_int_equal(annotate_sa(&old, &l).keying, SA_KEYING_UNKNOWN);
	/* an SA newer than the oldest record would have its record kept */
	assert_int_equal(annotate_sa(&fresh, &l).keying, SA_KEYING_CLASSICAL);
	/* still matched by SPI when its record is there */
	fresh.spi = 0xd0000005;
	assert_int_equal(annotate_sa(&fresh, &l).keying, SA_KEYING_QKD);
	/* nothing overwritten (first seq is 1): classical */
	l.rec[0].seq = 1;
	assert_int_equal(annotate_sa(&old, &l).keying, SA_KEYING_CLASSICAL);
	audit_list_free(&l);
}

static void no_audit_gives_unknown(void **state)
{
	struct sa_info sa = sa_v4(0xc0000001, T0);

	(void)state;
	assert_int_equal(annotate_sa(&sa, NULL).keying, SA_KEYING_UNKNOWN);
}

static void assert_json_equal(json_t *got, const char *expected)
{
	json_error_t e;
	json_t *want = json_loads(expected, 0, &e);
	char *g;

	if (!want)
		fail_msg("bad expected JSON: %s", e.text);
	g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
	if (!json_equal(got, want)) {
		char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);

		print_error("got:  %s\nwant: %s\n", g, w);
		free(w);
		free(g);
		json_decref(want);
		fail();
	}
	free(g);
	json_decref(want);
	json_decref(got);
}

static void audit_json(void **state)
{
	struct audit_record r = rec(7, T0, "dc-east", 0x10, 0xc0000001, 0xc0000002);

	(void)state;
	copy_str(r.usage, sizeof(r.usage), "child net-a rekey");
	assert_json_equal(audit_record_to_json(&r),
		"{\"seq\":7,\"time_ns\":1764316800250000000,\"time\":\"2025-11-28T08:00:00.250Z\","
		"\"link\":\"dc-east\",\"key_id\":\"ab000000-0000-0000-0000-000000000010\","
		"\"role\":\"initiator\",\"pid\":812,\"comm\":\"charon\","
		"\"spis\":[\"0xc0000001\",\"0xc0000002\"],\"usage\":\"child net-a rekey\"}");

	/* a record without key ID, pid or SPIs */
	memset(&r, 0, sizeof(r));
	r.seq = 1;
	r.role = QKD_KEY_ROLE_RESPONDER;
	assert_json_equal(audit_record_to_json(&r),
		"{\"seq\":1,\"time_ns\":0,\"time\":\"1970-01-01T00:00:00.000Z\",\"link\":\"\","
		"\"key_id\":null,\"role\":\"responder\",\"pid\":null,\"comm\":\"\",\"spis\":[],"
		"\"usage\":\"\"}");
}

static void sa_json_qkd_and_classical(void **state)
{
	struct audit_list l = { 0 };
	struct sa_list sas = { 0 };
	struct sa_info a = sa_v4(0xc0000001, T0 + 10), b = sa_v4(0x0000abcd, T0 + 20);

	(void)state;
	add(&l, rec(3, T0 + 9, "dc-east", 0x22, 0xc0000001, 0));
	/* b: IPv6, classical, enc + auth instead of aead */
	b.family = AF_INET6;
	memset(b.saddr, 0, 16);
	memset(b.daddr, 0, 16);
	inet_pton(AF_INET6, "fd00::1", b.saddr);
	inet_pton(AF_INET6, "fd00::2", b.daddr);
	b.mode = XFRM_MODE_TRANSPORT;
	b.reqid = 2;
	memset(&b.aead, 0, sizeof(b.aead));
	copy_str(b.enc.name, sizeof(b.enc.name), "cbc(aes)");
	b.enc.key_bits = 256;
	copy_str(b.auth.name, sizeof(b.auth.name), "hmac(sha256)");
	b.auth.key_bits = 256;
	b.auth.icv_bits = 128;
	b.bytes = 0;
	b.packets = 0;
	assert_int_equal(sa_list_append(&sas, &a), 0);
	assert_int_equal(sa_list_append(&sas, &b), 0);

	assert_json_equal(sa_list_to_json(&sas, &l, T0 + 70),
		"[{\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"proto\":\"esp\",\"spi\":\"0xc0000001\","
		"\"reqid\":1,\"mode\":\"tunnel\","
		"\"aead\":{\"name\":\"rfc4106(gcm(aes))\",\"key_bits\":288,\"icv_bits\":128},"
		"\"bytes\":8400,\"packets\":100,\"add_time\":1764316810,\"age_s\":60,"
		"\"keying\":\"qkd\",\"qkd\":{\"link\":\"dc-east\","
		"\"key_id\":\"ab000000-0000-0000-0000-000000000022\",\"role\":\"initiator\","
		"\"audit_seq\":3,\"taken_ns\":1764316809250000000,\"comm\":\"charon\",\"pid\":812}},"
		"{\"src\":\"fd00::1\",\"dst\":\"fd00::2\",\"proto\":\"esp\",\"spi\":\"0x0000abcd\","
		"\"reqid\":2,\"mode\":\"transport\","
		"\"enc\":{\"name\":\"cbc(aes)\",\"key_bits\":256},"
		"\"auth\":{\"name\":\"hmac(sha256)\",\"key_bits\":256,\"trunc_bits\":128},"
		"\"bytes\":0,\"packets\":0,\"add_time\":1764316820,\"age_s\":50,"
		"\"keying\":\"classical\",\"qkd\":null}]");

	/* without the module's audit both are unknown */
	{
		json_t *j = sa_list_to_json(&sas, NULL, T0 + 70);

		assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "keying")),
				    "unknown");
		assert_true(json_is_null(json_object_get(json_array_get(j, 1), "qkd")));
		json_decref(j);
	}
	sa_list_free(&sas);
	audit_list_free(&l);
}

static void sa_text_summary(void **state)
{
	struct audit_list l = { 0 };
	struct sa_list sas = { 0 };
	struct sa_info a = sa_v4(0xc0000001, T0 + 10), b = sa_v4(0xc0000009, T0 + 10);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	add(&l, rec(3, T0 + 9, "dc-east", 0x22, 0xc0000001, 0));
	assert_int_equal(sa_list_append(&sas, &a), 0);
	assert_int_equal(sa_list_append(&sas, &b), 0);
	sa_list_print(f, &sas, &l, T0 + 130);
	fclose(f);
	assert_contains(buf, "src 10.0.0.1 dst 10.0.0.2\n"
			"\tproto esp spi 0xc0000001 reqid 1 mode tunnel\n"
			"\taead rfc4106(gcm(aes)) 288 icv 128\n"
			"\tlifetime current: 8400(bytes), 100(packets) age 2m00s\n"
			"\tkeying qkd link dc-east key ab000000-0000-0000-0000-000000000022 role initiator"
			" (audit 3, taken 2025-11-28T08:00:09.250Z)\n");
	assert_contains(buf, "spi 0xc0000009");
	assert_contains(buf, "\tkeying classical (not QKD-keyed)\n");
	assert_contains(buf, "2 SAs: 1 qkd, 1 classical, 0 unknown\n");
	free(buf);
	sa_list_free(&sas);
	audit_list_free(&l);
}

static void audit_text(void **state)
{
	struct audit_record r = rec(7, T0, "dc-east", 0x10, 0xc0000001, 0xc0000002);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	audit_record_print(f, &r);
	fclose(f);
	assert_string_equal(buf, "7 2025-11-28T08:00:00.250Z link dc-east key "
			    "ab000000-0000-0000-0000-000000000010 role initiator by charon[812] "
			    "spi 0xc0000001,0xc0000002\n");
	free(buf);
}

static void age_format(void **state)
{
	char b[32];

	(void)state;
	format_age(0, b, sizeof(b));
	assert_string_equal(b, "0s");
	format_age(59, b, sizeof(b));
	assert_string_equal(b, "59s");
	format_age(3599, b, sizeof(b));
	assert_string_equal(b, "59m59s");
	format_age(3600 * 5 + 60 * 7, b, sizeof(b));
	assert_string_equal(b, "5h07m");
	format_age(86400 * 3 + 3600 * 4, b, sizeof(b));
	assert_string_equal(b, "3d04h");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(match_by_spi),
		cmocka_unit_test(no_match_is_classical),
		cmocka_unit_test(newest_record_wins),
		cmocka_unit_test(record_after_sa_is_skipped),
		cmocka_unit_test(evicted_records_give_unknown),
		cmocka_unit_test(no_audit_gives_unknown),
		cmocka_unit_test(audit_json),
		cmocka_unit_test(sa_json_qkd_and_classical),
		cmocka_unit_test(sa_text_summary),
		cmocka_unit_test(audit_text),
		cmocka_unit_test(age_format),
	};

	return cmocka_run_group_tests_name("annotate", tests, NULL, NULL);
}
