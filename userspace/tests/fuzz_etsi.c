// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness: the agent's decoding of ETSI GS QKD 014 replies
 * (common/etsi.c, and etsi_reply_decode of common/etsi_client.c, which is
 * what etsi_finish runs on a reply).  Every input is one reply body, fed
 * to every decoder: status, key container (strict and partial, any size
 * and 32-byte keys), the enc_keys and dec_keys reply paths (dec_keys asks
 * for every other key_ID of the reply), key_IDs and error bodies.
 *
 * Beyond the sanitizers it checks what the code promises:
 *  - a kept key has 1..ETSI_KEY_MAX_BYTES bytes, the size asked for if
 *    one was, and a key_ID no other kept key has; every reply entry is
 *    either kept or counted as dropped; re-encoding the keys and decoding
 *    them again gives the same keys;
 *  - slots a decode did not keep hold no key bytes, and every buffer
 *    freed while a key container is decoded or freed (jansson's, through
 *    the wiping allocator, and the container itself) is all zeros;
 *  - error texts and drop reasons of 200 replies, and the description of
 *    an error reply without the ETSI body, hold no 16-character base64
 *    run of the reply (a key's text): positions and sizes only.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/allocator_interface.h>
#include "etsi.h"
#include "etsi_client.h"
#include "secmem.h"

#define RUN 16	/* base64 characters of a reply that must not reach a message */
/* The harness's own checks: not coverage for libFuzzer to chase, and
 * their byte loops under comparison tracing took a quarter of the time. */
#define NO_COV __attribute__((no_sanitize("coverage")))

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* While armed, every block freed must have been wiped first. */
static __thread int armed;

NO_COV static void on_free(const volatile void *p)
{
	const unsigned char *b = (const unsigned char *)p;
	size_t i, n;

	if (!armed || !p)
		return;
	n = __sanitizer_get_allocated_size((const void *)p);
	for (i = 0; i < n; i++)
		if (b[i]) {
			fprintf(stderr, "block of %zu bytes freed unwiped (byte %zu)\n", n, i);
			abort();
		}
}

static void on_malloc(const volatile void *p, size_t n)
{
	(void)p;
	(void)n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* as the agent does: jansson's buffers hold base64 key text */
	sec_json_allocator_init();
	/* both hooks or none (the sanitizer refuses a NULL one) */
	if (!__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free))
		abort();
	return 0;
}

NO_COV static int b64c(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

/* Does msg hold RUN base64 characters in a row that occur in the reply?
 * digits_ok: runs of digits only are allowed (status fields out of range
 * are quoted as numbers; no key is a decimal number). */
NO_COV static int leaks(const char *msg, const unsigned char *data, size_t size, int digits_ok)
{
	size_t i, l = strlen(msg);

	for (i = 0; i + RUN <= l; i++) {
		size_t k, digits = 0;
		const unsigned char *m = (const unsigned char *)msg + i;

		for (k = 0; k < RUN && b64c(m[k]); k++)
			digits += m[k] >= '0' && m[k] <= '9';
		if (k < RUN || (digits_ok && digits == RUN))
			continue;
		if (memmem(data, size, m, RUN))
			return 1;
	}
	return 0;
}

NO_COV static void check_str(const char *s, size_t sz)
{
	assert(memchr(s, '\0', sz));
}

static void check_status(const unsigned char *data, size_t size)
{
	struct etsi_status st;
	char err[ETSI_MSG_MAX];

	err[0] = '\0';
	armed = 1;
	if (etsi_status_decode((const char *)data, size, &st, err, sizeof(err)) == 0) {
		armed = 0;
		check_str(st.source_KME_ID, ETSI_ID_MAX);
		check_str(st.slave_SAE_ID, ETSI_ID_MAX);
		assert(st.key_size >= 1 && st.max_key_per_request >= 1);
		assert(st.stored_key_count >= 0 && st.max_key_count >= 0);
		assert(st.qber == -1 || (st.qber >= 0 && st.qber <= 1));
		assert(st.link_up >= -1 && st.link_up <= 1);
	} else {
		armed = 0;
		check_str(err, sizeof(err));
		assert(!leaks(err, data, size, 1));
	}
}

/* The invariants of a decoded container; capacity: slots allocated. */
NO_COV static void check_keys(const struct etsi_keys *ks, size_t capacity, size_t expect)
{
	static const uint8_t zero[sizeof(ks->keys[0].key)];
	size_t i, k;

	assert(ks->n <= capacity && capacity <= ETSI_KEYS_MAX);
	for (i = 0; i < ks->n; i++) {
		assert(ks->keys[i].len >= 1 && ks->keys[i].len <= ETSI_KEY_MAX_BYTES);
		assert(!expect || ks->keys[i].len == expect);
		for (k = 0; k < i; k++)
			assert(memcmp(ks->keys[i].id, ks->keys[k].id, 16));
	}
	/* what was not kept was wiped */
	for (; i < capacity; i++)
		assert(ks->keys[i].len == 0 && !memcmp(ks->keys[i].key, zero, sizeof(zero)));
}

static void free_keys(struct etsi_keys *ks)
{
	armed = 1;
	etsi_keys_free(ks);
	armed = 0;
}

/* Encode the kept keys and decode them strictly: the same keys. */
static void round_trip(const struct etsi_keys *ks)
{
	struct etsi_keys again;
	char err[ETSI_MSG_MAX];
	char *s = etsi_keys_encode(ks);
	size_t i;

	assert(s);
	assert(etsi_keys_decode(s, strlen(s), 0, &again, err, sizeof(err)) == 0);
	assert(again.n == ks->n);
	for (i = 0; i < ks->n; i++)
		assert(again.keys[i].len == ks->keys[i].len &&
		       !memcmp(again.keys[i].id, ks->keys[i].id, 16) &&
		       !memcmp(again.keys[i].key, ks->keys[i].key, ks->keys[i].len));
	sec_free(s);
	free_keys(&again);
}

static void check_container(const unsigned char *data, size_t size, size_t expect)
{
	struct etsi_keys ks, strict;
	struct etsi_keys_report rep;
	char err[ETSI_MSG_MAX], err2[ETSI_MSG_MAX];
	size_t i, sum = 0;
	int r, r2;

	err[0] = err2[0] = '\0';
	armed = 1;
	r = etsi_keys_decode_partial((const char *)data, size, expect, &ks, &rep, err, sizeof(err));
	r2 = etsi_keys_decode((const char *)data, size, expect, &strict, err2, sizeof(err2));
	armed = 0;
	check_str(err, sizeof(err));
	check_str(err2, sizeof(err2));
	check_str(rep.first, sizeof(rep.first));
	assert(!leaks(err, data, size, 0) && !leaks(err2, data, size, 0));
	if (r) {
		assert(r2 && !ks.keys && !ks.n && !strict.keys);
		return;
	}
	assert(!leaks(rep.first, data, size, 0));
	for (i = 0; i < ETSI_DROP__N; i++)
		sum += rep.dropped[i];
	assert(sum == rep.ndropped && rep.entries == ks.n + rep.ndropped);
	assert(!rep.ndropped || rep.first[0]);
	check_keys(&ks, rep.entries, expect);
	/* strict: the same keys, or refused because some entry was dropped */
	assert((r2 == 0) == (rep.ndropped == 0));
	if (r2 == 0) {
		assert(strict.n == ks.n);
		for (i = 0; i < ks.n; i++)
			assert(!memcmp(&strict.keys[i], &ks.keys[i], sizeof(ks.keys[i])));
		free_keys(&strict);
	}
	round_trip(&ks);
	free_keys(&ks);
}

NO_COV static int was_asked(const struct etsi_reply *r, const uint8_t id[16])
{
	size_t i;

	for (i = 0; i < r->nids; i++)
		if (!memcmp(r->ids[i], id, 16))
			return 1;
	return 0;
}

/* The reply paths of etsi_finish: status, enc_keys, dec_keys, errors. */
static void check_reply(const unsigned char *data, size_t size, enum etsi_kind kind, long code)
{
	uint8_t ids[ETSI_KEYS_MAX / 2][16];
	struct etsi_reply r = { .kind = kind, .http_code = code, .body = (const char *)data,
				.len = size, .content_type = "text/html; charset=utf-8",
				.expect_bytes = 32 };
	struct etsi_keys out, all;
	struct etsi_keys_report rep;
	struct etsi_status st;
	struct etsi_result res;
	size_t i;
	int rc;

	/* dec_keys asks for every other ID the reply holds */
	if (kind == ETSI_REQ_DEC &&
	    etsi_keys_decode_partial((const char *)data, size, 0, &all, &rep, NULL, 0) == 0) {
		for (i = 0; i < all.n; i += 2)
			memcpy(ids[r.nids++], all.keys[i].id, 16);
		free_keys(&all);
	}
	r.ids = (const uint8_t (*)[16])ids;
	memset(&res, 0, sizeof(res));
	armed = 1;
	rc = etsi_reply_decode(&r, &st, &out, &res);
	armed = 0;
	check_str(res.msg, sizeof(res.msg));
	if (code != 200) {
		/* an ETSI error body's message is shown, by design; any other
		 * body is described by its length and type, never quoted */
		assert(rc == ETSI_E_HTTP && !out.keys);
		assert(res.error_body || !leaks(res.msg, data, size, 0));
		check_str(res.error.message, sizeof(res.error.message));
		check_str(res.error.details, sizeof(res.error.details));
		return;
	}
	assert(!leaks(res.msg, data, size, kind == ETSI_REQ_STATUS));
	if (kind == ETSI_REQ_STATUS || rc != ETSI_OK) {
		assert(rc == ETSI_OK || rc == ETSI_E_PROTO);
		assert(!out.keys);
		return;
	}
	assert(!leaks(res.rep.first, data, size, 0));
	assert(res.rep.entries == out.n + res.rep.ndropped);
	check_keys(&out, res.rep.entries, kind == ETSI_REQ_ENC ? 32 : 0);
	for (i = 0; kind == ETSI_REQ_DEC && i < out.n; i++)
		assert(was_asked(&r, out.keys[i].id));
	free_keys(&out);
}

static void check_others(const unsigned char *data, size_t size)
{
	struct etsi_key_ids ids;
	struct etsi_key_request rq;
	struct etsi_error e;
	char err[ETSI_MSG_MAX];
	size_t i, k;

	if (etsi_key_ids_decode((const char *)data, size, &ids, err, sizeof(err)) == 0) {
		assert(ids.n >= 1 && ids.n <= ETSI_KEYS_MAX);
		for (i = 0; i < ids.n; i++)
			for (k = 0; k < i; k++)
				assert(memcmp(ids.ids[i], ids.ids[k], 16));
		etsi_key_ids_free(&ids);
	} else {
		check_str(err, sizeof(err));
		assert(!ids.ids && !ids.n);
	}
	if (etsi_key_request_decode((const char *)data, size, &rq, err, sizeof(err)) == 0)
		assert(rq.number >= 0 && rq.size >= 0 && rq.additional_slave_count >= 0);
	if (etsi_error_decode((const char *)data, size, &e) == 0) {
		check_str(e.message, sizeof(e.message));
		check_str(e.details, sizeof(e.details));
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	check_status(data, size);
	check_container(data, size, 0);
	check_container(data, size, 32);
	check_reply(data, size, ETSI_REQ_STATUS, 200);
	check_reply(data, size, ETSI_REQ_ENC, 200);
	check_reply(data, size, ETSI_REQ_DEC, 200);
	check_reply(data, size, ETSI_REQ_DEC, 400);
	check_others(data, size);
	return 0;
}
