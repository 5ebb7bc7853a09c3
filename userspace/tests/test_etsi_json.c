// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <stdlib.h>
#include <string.h>
#include "etsi.h"
#include "etsi_client.h"
#include "secmem.h"
#include "uuid.h"
#include "tap.h"

#define S(x) x, strlen(x)

static void status(void)
{
	struct etsi_status st, st2;
	char err[128];
	char *s;
	static const char *bad[] = {
		"", "{", "[]", "\"x\"", "null",
		"{\"key_size\":256,\"stored_key_count\":1,\"max_key_count\":1}",
		"{\"key_size\":\"256\",\"stored_key_count\":1,\"max_key_count\":1,\"max_key_per_request\":1}",
		"{\"key_size\":-1,\"stored_key_count\":1,\"max_key_count\":1,\"max_key_per_request\":1}",
		"{\"key_size\":256,\"stored_key_count\":1e3,\"max_key_count\":1,\"max_key_per_request\":1}",
		"{\"key_size\":256,\"stored_key_count\":99999999999999999999,\"max_key_count\":1,\"max_key_per_request\":1}",
		"{\"key_size\":256,\"stored_key_count\":1,\"max_key_count\":1,\"max_key_per_request\":0}",
		"{\"key_size\":256,\"key_size\":256,\"stored_key_count\":1,\"max_key_count\":1,\"max_key_per_request\":1}",
		"{\"key_size\":256,\"stored_key_count\":1,\"max_key_count\":1,\"max_key_per_request\":1,\"source_KME_ID\":5}",
		"{\"key_size\":256,\"stored_key_count\":1,\"max_key_count\":1,\"max_key_per_request\":1,\"qber\":2}",
		"{\"key_size\":256,\"stored_key_count\":1,\"max_key_count\":1,\"max_key_per_request\":1,\"qber\":\"x\"}",
		"{\"key_size\":256,\"stored_key_count\":1,\"max_key_count\":1,\"max_key_per_request\":1,\"link_up\":1}",
		"{\"key_size\":256,\"stored_key_count\":1,\"max_key_count\":1,\"max_key_per_request\":1,\"slave_SAE_ID\":\"a\\u0000b\"}",
	};
	size_t i;

	memset(&st, 0, sizeof(st));
	strcpy(st.source_KME_ID, "KME_A");
	strcpy(st.target_KME_ID, "KME_B");
	strcpy(st.master_SAE_ID, "SAE_A");
	strcpy(st.slave_SAE_ID, "SAE_B");
	st.key_size = 256;
	st.stored_key_count = 25;
	st.max_key_count = 1000;
	st.max_key_per_request = 128;
	st.max_key_size = 1024;
	st.min_key_size = 64;
	st.max_SAE_ID_count = 0;
	st.qber = 0.03;
	st.link_up = 1;
	s = etsi_status_encode(&st);
	ok(s != NULL, "status encode");
	ok(s && etsi_status_decode(s, strlen(s), &st2, err, sizeof(err)) == 0 &&
	   !strcmp(st2.source_KME_ID, "KME_A") && !strcmp(st2.target_KME_ID, "KME_B") &&
	   !strcmp(st2.master_SAE_ID, "SAE_A") && !strcmp(st2.slave_SAE_ID, "SAE_B") &&
	   st2.key_size == 256 && st2.stored_key_count == 25 && st2.max_key_count == 1000 &&
	   st2.max_key_per_request == 128 && st2.max_key_size == 1024 &&
	   st2.min_key_size == 64 && st2.max_SAE_ID_count == 0 && st2.qber > 0.029 &&
	   st2.qber < 0.031 && st2.link_up == 1, "status decode round trip, all fields");
	sec_free(s);
	/* spec example body (v1.1.1 clause 6.1), no extensions */
	ok(etsi_status_decode(S("{\"source_KME_ID\": \"AAAABBBBCCCCDDDD\",\"target_KME_ID\": \"EEEEFFFFGGGGHHHH\","
				"\"master_SAE_ID\": \"IIIIJJJJKKKKLLLL\",\"slave_SAE_ID\": \"MMMMNNNNOOOOPPPP\","
				"\"key_size\": 352,\"stored_key_count\": 25000,\"max_key_count\": 100000,"
				"\"max_key_per_request\": 128,\"max_key_size\": 1024,\"min_key_size\": 64,"
				"\"max_SAE_ID_count\": 0}"), &st2, err, sizeof(err)) == 0 &&
	   st2.key_size == 352 && st2.qber < 0 && st2.link_up == -1,
	   "status decode of the spec's example; extensions absent");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = etsi_status_decode(S(bad[i]), &st2, err, sizeof(err));

		ok(r < 0 && err[0], "status rejects malformed #%zu (%s)", i, err);
	}
}

static void key_request(void)
{
	struct etsi_key_request rq = { .number = 3, .size = 256 }, rq2;
	char err[128];
	char *s = etsi_key_request_encode(&rq);
	static const char *bad[] = {
		"{\"number\":0}", "{\"number\":-1}", "{\"number\":\"1\"}", "{\"size\":1.5}",
		"{\"number\":1,\"number\":2}", "{\"additional_slave_SAE_IDs\":\"x\"}",
		"{\"additional_slave_SAE_IDs\":[1]}", "{\"extension_mandatory\":{}}",
		"{\"extension_optional\":1}", "[1]", "{\"number\":1", "{\"number\":1}x",
		"{\"number\":4294967297}",
	};
	size_t i;

	ok(s && !strcmp(s, "{\"number\":3,\"size\":256}"), "key request encode: %s", s ? s : "(null)");
	ok(s && etsi_key_request_decode(s, strlen(s), &rq2, err, sizeof(err)) == 0 &&
	   rq2.number == 3 && rq2.size == 256, "key request decode round trip");
	sec_free(s);
	ok(etsi_key_request_decode(S("{}"), &rq2, err, sizeof(err)) == 0 && rq2.number == 0 &&
	   rq2.size == 0, "key request: empty object means defaults");
	ok(etsi_key_request_decode(S("{\"number\":2,\"size\":128,\"additional_slave_SAE_IDs\":[\"A\",\"B\"],"
				     "\"extension_mandatory\":[{\"abc_route_type\":\"direct\"}],"
				     "\"extension_optional\":[{\"x\":1}]}"), &rq2, err, sizeof(err)) == 0 &&
	   rq2.additional_slave_count == 2 && rq2.extension_mandatory == 1,
	   "key request: spec's optional members parsed");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(etsi_key_request_decode(S(bad[i]), &rq2, err, sizeof(err)) < 0,
		   "key request rejects malformed #%zu (%s)", i, err);
}

static void keys(void)
{
	struct etsi_keys ks, ks2;
	char err[160];
	char *s;
	size_t i;
	int same = 1;
	static const char *bad[] = {
		"{}", "{\"keys\":{}}", "{\"keys\":[1]}",
		"{\"keys\":[{\"key\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}]}",
		"{\"keys\":[{\"key_ID\":\"bbdb27f0-9f54-4e33-8e4c-1a2b3c4d5e6f\"}]}",
		"{\"keys\":[{\"key_ID\":\"not-a-uuid\",\"key\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}]}",
		"{\"keys\":[{\"key_ID\":\"bbdb27f0-9f54-4e33-8e4c-1a2b3c4d5e6f\",\"key\":\"!!!!\"}]}",
		"{\"keys\":[{\"key_ID\":\"bbdb27f0-9f54-4e33-8e4c-1a2b3c4d5e6f\",\"key\":\"\"}]}",
		"{\"keys\":[{\"key_ID\":\"bbdb27f0-9f54-4e33-8e4c-1a2b3c4d5e6f\",\"key\":7}]}",
		"{\"keys\":[{\"key_ID\":\"bbdb27f0-9f54-4e33-8e4c-1a2b3c4d5e6f\",\"key\":\"AAAAAAAAAAAAAAAAAAAAAA==\"},"
		"{\"key_ID\":\"bbdb27f0-9f54-4e33-8e4c-1a2b3c4d5e6f\",\"key\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}]}",
		"{\"keys\":[{\"key_ID\":\"bbdb27f0-9f54-4e33-8e4c-1a2b3c4d5e6f\",\"key\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"key\":\"AA==\"}]}",
	};

	etsi_keys_alloc(&ks, 3);
	for (i = 0; i < 3; i++) {
		uuid_generate_v4(ks.keys[i].id);
		ks.keys[i].len = 32;
		memset(ks.keys[i].key, (int)(0xa0 + i), 32);
	}
	s = etsi_keys_encode(&ks);
	ok(s != NULL, "key container encode");
	ok(s && etsi_keys_decode(s, strlen(s), 32, &ks2, err, sizeof(err)) == 0 && ks2.n == 3,
	   "key container decode round trip");
	for (i = 0; i < 3 && ks2.keys; i++)
		if (memcmp(ks.keys[i].id, ks2.keys[i].id, 16) || ks2.keys[i].len != 32 ||
		    memcmp(ks.keys[i].key, ks2.keys[i].key, 32))
			same = 0;
	ok(same, "key container: IDs and material identical after round trip");
	etsi_keys_free(&ks2);
	ok(s && etsi_keys_decode(s, strlen(s), 16, &ks2, err, sizeof(err)) < 0,
	   "key container: wrong key length refused when a size was asked (%s)", err);
	sec_free(s);
	etsi_keys_free(&ks);
	etsi_keys_free(&ks2);
	/* spec example (clause 6.3) with extensions */
	ok(etsi_keys_decode(S("{\"keys\":[{\"key_ID\":\"bc490419-7d60-487f-adc1-4ddcc177c139\","
			      "\"key\":\"wHHVxRwDJs3/bXd38GHP3oe4svTuRpZS0yCC7x4Ly+s=\"},"
			      "{\"key_ID\":\"0a782fb5-3434-48fe-aa4d-14f41d46cf92\",\"key_ID_extension\":{},"
			      "\"key\":\"OeGMPxh1+2RpJpNCYixWHFLYRubpOKCw94FcCI7VdJA=\",\"key_extension\":{}}],"
			      "\"key_container_extension\":{}}"), 0, &ks2, err, sizeof(err)) == 0 &&
	   ks2.n == 2 && ks2.keys[0].len == 32 && ks2.keys[1].id[0] == 0x0a,
	   "key container decode of the spec's example");
	etsi_keys_free(&ks2);
	ok(etsi_keys_decode(S("{\"keys\":[]}"), 0, &ks2, err, sizeof(err)) == 0 && ks2.n == 0,
	   "key container: empty list accepted");
	etsi_keys_free(&ks2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(etsi_keys_decode(S(bad[i]), 0, &ks2, err, sizeof(err)) < 0 && ks2.keys == NULL,
		   "key container rejects malformed #%zu (%s)", i, err);
	{
		/* a key longer than ETSI_KEY_MAX_BYTES */
		char body[1024];
		char b64[400];

		memset(b64, 'A', 344);
		b64[344] = '\0';	/* 258 bytes */
		snprintf(body, sizeof(body),
			 "{\"keys\":[{\"key_ID\":\"bbdb27f0-9f54-4e33-8e4c-1a2b3c4d5e6f\",\"key\":\"%s\"}]}", b64);
		ok(etsi_keys_decode(S(body), 0, &ks2, err, sizeof(err)) < 0,
		   "key container rejects an oversized key (%s)", err);
	}
	{
		/* too many keys */
		size_t n = ETSI_KEYS_MAX + 1, cap = n * 90 + 32, o;
		char *body = malloc(cap);

		o = (size_t)snprintf(body, cap, "{\"keys\":[");
		for (i = 0; i < n; i++)
			o += (size_t)snprintf(body + o, cap - o,
				"%s{\"key_ID\":\"bbdb27f0-9f54-4e33-8e4c-%012zx\",\"key\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}",
				i ? "," : "", i);
		o += (size_t)snprintf(body + o, cap - o, "]}");
		ok(etsi_keys_decode(body, o, 0, &ks2, err, sizeof(err)) < 0,
		   "key container rejects more than %d keys (%s)", ETSI_KEYS_MAX, err);
		free(body);
	}
}

static void key_ids(void)
{
	struct etsi_key_ids ids, ids2;
	char err[160];
	char *s;
	static const char *bad[] = {
		"{}", "{\"key_IDs\":[]}", "{\"key_IDs\":\"x\"}", "{\"key_IDs\":[\"bbdb27f0-9f54-4e33-8e4c-1a2b3c4d5e6f\"]}",
		"{\"key_IDs\":[{\"key_ID\":\"bbdb27f0\"}]}", "{\"key_IDs\":[{\"key_ID\":null}]}",
		"{\"key_IDs\":[{\"key_ID\":\"bbdb27f0-9f54-4e33-8e4c-1a2b3c4d5e6f\"},{\"key_ID\":\"BBDB27F0-9F54-4E33-8E4C-1A2B3C4D5E6F\"}]}",
	};
	size_t i;

	ids.n = 2;
	ids.ids = calloc(2, 16);
	uuid_generate_v4(ids.ids[0]);
	uuid_generate_v4(ids.ids[1]);
	s = etsi_key_ids_encode(&ids);
	ok(s && etsi_key_ids_decode(s, strlen(s), &ids2, err, sizeof(err)) == 0 && ids2.n == 2 &&
	   !memcmp(ids.ids, ids2.ids, 32), "key IDs encode/decode round trip");
	sec_free(s);
	etsi_key_ids_free(&ids);
	etsi_key_ids_free(&ids2);
	ok(etsi_key_ids_decode(S("{\"key_IDs\":[{\"key_ID\":\"bc490419-7d60-487f-adc1-4ddcc177c139\","
				 "\"key_ID_extension\":{}}],\"key_IDs_extension\":{}}"),
			       &ids2, err, sizeof(err)) == 0 && ids2.n == 1,
	   "key IDs decode of the spec's example");
	etsi_key_ids_free(&ids2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(etsi_key_ids_decode(S(bad[i]), &ids2, err, sizeof(err)) < 0 && !ids2.ids,
		   "key IDs rejects malformed #%zu (%s)", i, err);
}

static void errors(void)
{
	struct etsi_error e;
	char *s = etsi_error_encode("Bad request format", "size must be a multiple of 8");

	ok(s && etsi_error_decode(s, strlen(s), &e) == 0 && !strcmp(e.message, "Bad request format") &&
	   strstr(e.details, "multiple of 8"), "error encode/decode round trip (%s)", e.details);
	sec_free(s);
	ok(etsi_error_decode(S("{\"message\":\"Bad request format\",\"details\":[{\"parameter\":\"size\","
			       "\"error\":\"not a multiple of 8\"}]}"), &e) == 0 &&
	   strstr(e.details, "parameter"), "error decode of the spec's example");
	ok(etsi_error_decode(S("{\"details\":[]}"), &e) < 0, "error without message refused");
	ok(etsi_error_decode(S("<html>503</html>"), &e) < 0, "error body that is not JSON refused");
	{
		char body[2048];

		memset(body, 0, sizeof(body));
		strcpy(body, "{\"message\":\"");
		memset(body + 12, 'm', 1000);
		strcat(body, "\",\"details\":[\"");
		memset(body + strlen(body), 'd', 800);
		strcat(body, "\"]}");
		ok(etsi_error_decode(S(body), &e) == 0 && strlen(e.message) == ETSI_MSG_MAX - 1 &&
		   strlen(e.details) < ETSI_MSG_MAX, "error with over-long fields truncated safely");
	}
}

static void hostile(void)
{
	struct etsi_status st;
	struct etsi_keys ks;
	struct etsi_key_ids ids;
	char err[160];
	char *deep;
	size_t i, n = 100000;
	int survived = 1;

	deep = malloc(2 * n + 1);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	ok(etsi_keys_decode(deep, 2 * n, 0, &ks, err, sizeof(err)) < 0, "deeply nested arrays refused (%s)", err);
	free(deep);
	{
		size_t big = ETSI_BODY_MAX + 10;
		char *b = malloc(big);

		memset(b, ' ', big);
		ok(etsi_status_decode(b, big, &st, err, sizeof(err)) < 0 && strstr(err, "too large"),
		   "body over %u bytes refused before parsing", ETSI_BODY_MAX);
		free(b);
	}
	ok(etsi_status_decode(NULL, 0, &st, err, sizeof(err)) < 0, "NULL body refused");
	ok(etsi_keys_decode("{\"keys\":[]}\0garbage", 19, 0, &ks, err, sizeof(err)) < 0,
	   "embedded NUL in body refused");
	/* mutation fuzz: flip bytes of valid bodies; must never crash or leak */
	{
		const char *seed = "{\"keys\":[{\"key_ID\":\"bc490419-7d60-487f-adc1-4ddcc177c139\","
				   "\"key\":\"wHHVxRwDJs3/bXd38GHP3oe4svTuRpZS0yCC7x4Ly+s=\"}],"
				   "\"key_IDs\":[{\"key_ID\":\"bc490419-7d60-487f-adc1-4ddcc177c139\"}],"
				   "\"key_size\":256,\"stored_key_count\":1,\"max_key_count\":1,"
				   "\"max_key_per_request\":1,\"number\":1,\"size\":8}";
		size_t L = strlen(seed);
		char *m = malloc(L);
		static const char alphabet[] = "{}[]\":,0123456789-eE.\\ azAZ=+/\x01\xff";

		srand(12345);
		for (i = 0; i < 20000; i++) {
			int k, flips = 1 + rand() % 4;
			struct etsi_key_request rq;
			struct etsi_error e;

			memcpy(m, seed, L);
			for (k = 0; k < flips; k++)
				m[rand() % L] = alphabet[rand() % (sizeof(alphabet) - 1)];
			if (etsi_keys_decode(m, L, 0, &ks, err, sizeof(err)) == 0)
				etsi_keys_free(&ks);
			if (etsi_key_ids_decode(m, L, &ids, err, sizeof(err)) == 0)
				etsi_key_ids_free(&ids);
			etsi_status_decode(m, L, &st, err, sizeof(err));
			etsi_key_request_decode(m, L, &rq, err, sizeof(err));
			etsi_error_decode(m, rand() % (L + 1), &e);
		}
		free(m);
	}
	ok(survived, "20000 mutated bodies through every decoder without a crash");
}

/* Partial replies: the good keys of a reply are kept, each bad entry is
 * dropped and counted by reason; only a broken container fails. */
static void partial(void)
{
	static const char *const id[] = {
		"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002",
		"00000000-0000-4000-8000-000000000003", "00000000-0000-4000-8000-000000000004",
	};
	const char *k32 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";	/* 32 bytes */
	const char *k16 = "AAECAwQFBgcICQoLDA0ODw==";			/* 16 bytes */
	struct etsi_keys_report rep;
	struct etsi_keys ks;
	char body[2048], err[160];
	int r;

	snprintf(body, sizeof(body),
		 "{\"keys\":[{\"key_ID\":\"%s\",\"key\":\"%s\"},"	/* good */
		 "{\"key_ID\":\"not-a-uuid\",\"key\":\"%s\"},"		/* bad ID */
		 "{\"key_ID\":\"%s\",\"key\":\"!!!!\"},"			/* bad base64 */
		 "{\"key_ID\":\"%s\",\"key\":\"%s\"},"			/* 16 bytes */
		 "7,"								/* not an object */
		 "{\"key_ID\":\"%s\",\"key\":\"%s\"},"			/* dup ... */
		 "{\"key_ID\":\"%s\",\"key\":\"%s\"},"			/* ... of this */
		 "{\"key_ID\":\"%s\",\"key\":\"%s\"}]}",			/* good */
		 id[0], k32, k32, id[1], id[2], k16, id[3], k32, id[3], k32,
		 "00000000-0000-4000-8000-000000000005", k32);
	r = etsi_keys_decode_partial(S(body), 32, &ks, &rep, err, sizeof(err));
	ok(r == 0 && ks.n == 2 && rep.entries == 8 && rep.ndropped == 6 &&
	   rep.dropped[ETSI_DROP_ID] == 1 && rep.dropped[ETSI_DROP_KEY] == 1 &&
	   rep.dropped[ETSI_DROP_SIZE] == 1 && rep.dropped[ETSI_DROP_ENTRY] == 1 &&
	   rep.dropped[ETSI_DROP_DUP] == 2 && ks.keys[0].len == 32 && ks.keys[1].len == 32 &&
	   ks.keys[0].id[15] == 1 && ks.keys[1].id[15] == 5,
	   "partial key container: 2 good keys kept, 6 bad entries dropped by reason (%zu kept, "
	   "%zu dropped, first: %s)", ks.n, rep.ndropped, rep.first);
	etsi_keys_free(&ks);
	ok(etsi_keys_decode(S(body), 32, &ks, err, sizeof(err)) < 0 && !ks.keys,
	   "strict decoder refuses the same container (%s)", err);
	etsi_keys_free(&ks);
	ok(!strcmp(etsi_drop_name(ETSI_DROP_SIZE), "wrong_size") &&
	   !strcmp(etsi_drop_name(ETSI_DROP_DUP), "duplicate_id") &&
	   !strcmp(etsi_drop_name(ETSI_DROP_ID), "malformed"), "drop reasons have metric names");
	r = etsi_keys_decode_partial(S("{\"keys\":[7,8]}"), 0, &ks, &rep, err, sizeof(err));
	ok(r == 0 && ks.n == 0 && rep.ndropped == 2, "partial: a reply of bad entries only is 0 keys, "
	   "2 dropped");
	etsi_keys_free(&ks);
	r = etsi_keys_decode_partial(S("{\"keys\":{}}"), 0, &ks, &rep, err, sizeof(err));
	ok(r < 0 && !ks.keys, "partial: a container without a keys array is refused (%s)", err);
	/* a parse error names the position, never the token (it may be key bytes) */
	snprintf(body, sizeof(body), "{\"keys\":[{\"key_ID\":\"%s\",\"key\":%s}]}", id[0],
		 "Q0FOQVJZLUtFWS1NQVRFUklBTC0wMTIzNDU2Nzg5YWI");
	r = etsi_keys_decode_partial(S(body), 0, &ks, &rep, err, sizeof(err));
	ok(r < 0 && strstr(err, "malformed JSON at line 1, column") && !strstr(err, "Q0FO") &&
	   !strstr(err, "near"), "malformed JSON: position only, not the token (%s)", err);
	ok(etsi_status_decode(S("{\"key_size\": wHHVxRwDJs3}"), &(struct etsi_status){ 0 }, err,
			      sizeof(err)) < 0 && !strstr(err, "wHHV"),
	   "status parse error without reply bytes (%s)", err);
}

/* etsi_reply_decode: what etsi_finish does with a reply, without libcurl. */
static void reply(void)
{
	static const char two[] = "{\"keys\":[{\"key_ID\":\"bc490419-7d60-487f-adc1-4ddcc177c139\","
		"\"key\":\"QUFBQUFBQUFBQUFBQUFBQQ==\"},{\"key_ID\":"
		"\"0a782fb5-3434-48fe-aa4d-14f41d46cf92\",\"key\":\"QkJCQkJCQkJCQkJCQkJCQg==\"}]}";
	uint8_t asked[1][16];
	struct etsi_reply r = { .kind = ETSI_REQ_DEC, .http_code = 200, .body = two,
				.len = strlen(two), .ids = (const uint8_t (*)[16])asked, .nids = 1 };
	struct etsi_result res;
	struct etsi_keys out;
	struct etsi_status st;
	int rc;

	uuid_parse(S("0a782fb5-3434-48fe-aa4d-14f41d46cf92"), asked[0]);
	memset(&res, 0, sizeof(res));
	rc = etsi_reply_decode(&r, NULL, &out, &res);
	ok(rc == ETSI_OK && out.n == 1 && !memcmp(out.keys[0].id, asked[0], 16) &&
	   res.rep.dropped[ETSI_DROP_NOT_ASKED] == 1 && res.rep.ndropped == 1,
	   "reply: dec_keys keeps the key asked for, drops the other as not asked");
	etsi_keys_free(&out);
	r.kind = ETSI_REQ_ENC;
	r.expect_bytes = 32;
	memset(&res, 0, sizeof(res));
	rc = etsi_reply_decode(&r, NULL, &out, &res);
	ok(rc == ETSI_OK && out.n == 0 && res.rep.dropped[ETSI_DROP_SIZE] == 2,
	   "reply: enc_keys drops keys of the wrong size (%s)", res.rep.first);
	etsi_keys_free(&out);
	r.kind = ETSI_REQ_STATUS;
	memset(&res, 0, sizeof(res));
	ok(etsi_reply_decode(&r, &st, NULL, &res) == ETSI_E_PROTO && res.msg[0],
	   "reply: a key container is no status (%s)", res.msg);
	r.http_code = 400;
	r.body = "{\"message\":\"Bad request format\",\"details\":[{\"d\":\"size\"}]}";
	r.len = strlen(r.body);
	memset(&res, 0, sizeof(res));
	ok(etsi_reply_decode(&r, &st, NULL, &res) == ETSI_E_HTTP && res.error_body &&
	   !strcmp(res.msg, "HTTP 400: Bad request format {\"d\":\"size\"}"),
	   "reply: an ETSI error body is shown (%s)", res.msg);
	r.body = "<html>\x01</html>";
	r.len = strlen(r.body);
	r.content_type = "text/html;\ncharset=x";
	memset(&res, 0, sizeof(res));
	ok(etsi_reply_decode(&r, &st, NULL, &res) == ETSI_E_HTTP && !res.error_body &&
	   !strcmp(res.msg, "HTTP 400 (no ETSI error body: 14 bytes, text/html;?charset=x)"),
	   "reply: another body is described, never quoted (%s)", res.msg);
}

int main(void)
{
	sec_json_allocator_init();
	status();
	key_request();
	keys();
	key_ids();
	errors();
	hostile();
	partial();
	reply();
	return tap_done();
}
