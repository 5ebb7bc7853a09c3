/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host unit tests of the qkd KE data encoding (qkd_wire.c), including
 * truncated, malformed and hostile input.  Run under ASan/UBSan.
 */
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include "qkd_wire.h"

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
	{
		p[i] = (uint8_t)(seed + i * 7 + 1);
	}
}

static struct qkd_wire_msg mk_init(uint8_t flags)
{
	struct qkd_wire_msg m = { .type = QKD_WIRE_INIT, .flags = flags };

	if (!(flags & QKD_WIRE_F_NO_KEY))
	{
		fill(m.id, sizeof(m.id), 0x10);
	}
	fill(m.x25519, sizeof(m.x25519), 0x40);
	return m;
}

static struct qkd_wire_msg mk_resp(const struct qkd_wire_msg *init,
								   uint8_t flags)
{
	struct qkd_wire_msg m = { .type = QKD_WIRE_RESP, .flags = flags };

	memcpy(m.id, init->id, sizeof(m.id));
	if (!(flags & (QKD_WIRE_F_NO_KEY | QKD_WIRE_F_UNAVAILABLE)))
	{
		fill(m.tag, sizeof(m.tag), 0x80);
	}
	fill(m.x25519, sizeof(m.x25519), 0x90);
	return m;
}

/* parse a copy in an exactly sized heap buffer, so ASan sees overreads */
static int parse_exact(const uint8_t *buf, size_t len, enum qkd_wire_type type,
					   struct qkd_wire_msg *m)
{
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	memcpy(copy, buf, len);
	ret = qkd_wire_parse(len ? copy : NULL, len, type, m);
	free(copy);
	return ret;
}

static void test_sizes(void)
{
	ok(QKD_WIRE_INIT_LEN == 52, "INIT is 52 bytes");
	ok(QKD_WIRE_RESP_LEN == 68, "RESP is 68 bytes");
	ok(QKD_WIRE_TRANSCRIPT_LEN == QKD_WIRE_TAG_LABEL_LEN + 52 + 68,
	   "transcript length");
}

static void test_roundtrip(void)
{
	struct qkd_wire_msg i = mk_init(QKD_WIRE_F_REQUIRE), r, p;
	uint8_t buf[QKD_WIRE_MAX_LEN + 8];
	size_t n;

	n = qkd_wire_encode(&i, buf, sizeof(buf));
	ok(n == QKD_WIRE_INIT_LEN, "encode INIT returns 52");
	ok(buf[0] == 1 && buf[1] == QKD_WIRE_INIT && buf[2] == QKD_WIRE_F_REQUIRE
	   && buf[3] == 0, "INIT header bytes");
	ok(memcmp(buf + 4, i.id, 16) == 0 && memcmp(buf + 20, i.x25519, 32) == 0,
	   "INIT field offsets");
	ok(parse_exact(buf, n, QKD_WIRE_INIT, &p) == QKD_WIRE_OK &&
	   p.version == 1 && p.flags == QKD_WIRE_F_REQUIRE &&
	   memcmp(p.id, i.id, 16) == 0 && memcmp(p.x25519, i.x25519, 32) == 0,
	   "INIT round trip");

	r = mk_resp(&i, 0);
	n = qkd_wire_encode(&r, buf, sizeof(buf));
	ok(n == QKD_WIRE_RESP_LEN, "encode RESP returns 68");
	ok(memcmp(buf + 4, r.id, 16) == 0 && memcmp(buf + 20, r.tag, 16) == 0 &&
	   memcmp(buf + 36, r.x25519, 32) == 0, "RESP field offsets");
	ok(parse_exact(buf, n, QKD_WIRE_RESP, &p) == QKD_WIRE_OK &&
	   memcmp(&p.tag, r.tag, 16) == 0 && qkd_wire_uses_key(&p),
	   "RESP round trip, uses key");
	ok(qkd_wire_check_resp(&i, &p) == QKD_WIRE_OK, "RESP answers INIT");

	/* fallback variants */
	i = mk_init(QKD_WIRE_F_NO_KEY);
	n = qkd_wire_encode(&i, buf, sizeof(buf));
	ok(n == QKD_WIRE_INIT_LEN && parse_exact(buf, n, QKD_WIRE_INIT, &p) == 0 &&
	   (p.flags & QKD_WIRE_F_NO_KEY), "INIT NO_KEY with zero ID round trip");
	r = mk_resp(&i, QKD_WIRE_F_NO_KEY);
	n = qkd_wire_encode(&r, buf, sizeof(buf));
	ok(n == QKD_WIRE_RESP_LEN && parse_exact(buf, n, QKD_WIRE_RESP, &p) == 0 &&
	   !qkd_wire_uses_key(&p) && qkd_wire_check_resp(&i, &p) == 0,
	   "RESP echoing NO_KEY: X25519 only");

	i = mk_init(0);
	r = mk_resp(&i, QKD_WIRE_F_UNAVAILABLE | QKD_WIRE_F_REQUIRE);
	n = qkd_wire_encode(&r, buf, sizeof(buf));
	ok(n == QKD_WIRE_RESP_LEN && parse_exact(buf, n, QKD_WIRE_RESP, &p) == 0 &&
	   !qkd_wire_uses_key(&p) && qkd_wire_check_resp(&i, &p) == 0,
	   "RESP UNAVAILABLE: X25519 only");
}

static void test_encode_rejects(void)
{
	struct qkd_wire_msg i = mk_init(0), r;
	uint8_t buf[QKD_WIRE_MAX_LEN];

	ok(qkd_wire_encode(&i, buf, QKD_WIRE_INIT_LEN - 1) == 0,
	   "encode refuses a short buffer");
	ok(qkd_wire_encode(NULL, buf, sizeof(buf)) == 0 &&
	   qkd_wire_encode(&i, NULL, sizeof(buf)) == 0, "encode refuses NULL");
	i.flags = QKD_WIRE_F_NO_KEY;
	ok(qkd_wire_encode(&i, buf, sizeof(buf)) == 0,
	   "encode refuses NO_KEY with a non-zero ID");
	i = mk_init(0);
	memset(i.id, 0, sizeof(i.id));
	ok(qkd_wire_encode(&i, buf, sizeof(buf)) == 0,
	   "encode refuses a zero ID with a key");
	i = mk_init(QKD_WIRE_F_UNAVAILABLE);
	ok(qkd_wire_encode(&i, buf, sizeof(buf)) == 0,
	   "encode refuses UNAVAILABLE in INIT");
	i = mk_init(0);
	r = mk_resp(&i, QKD_WIRE_F_UNAVAILABLE);
	r.tag[3] = 1;
	ok(qkd_wire_encode(&r, buf, sizeof(buf)) == 0,
	   "encode refuses a tag without key use");
	i.type = 9;
	ok(qkd_wire_encode(&i, buf, sizeof(buf)) == 0,
	   "encode refuses an unknown type");
}

static void test_truncated(void)
{
	struct qkd_wire_msg i = mk_init(0), r = mk_resp(&i, 0), p;
	uint8_t buf[QKD_WIRE_MAX_LEN + 1];
	size_t len;
	int bad = 0;

	qkd_wire_encode(&i, buf, sizeof(buf));
	for (len = 0; len < QKD_WIRE_INIT_LEN; len++)
	{
		if (parse_exact(buf, len, QKD_WIRE_INIT, &p) == QKD_WIRE_OK)
		{
			bad++;
		}
	}
	ok(!bad, "every truncation of INIT is rejected");
	buf[QKD_WIRE_INIT_LEN] = 0;
	ok(parse_exact(buf, QKD_WIRE_INIT_LEN + 1, QKD_WIRE_INIT, &p) ==
	   QKD_WIRE_E_LENGTH, "INIT with trailing byte rejected");

	qkd_wire_encode(&r, buf, sizeof(buf));
	for (bad = 0, len = 0; len < QKD_WIRE_RESP_LEN; len++)
	{
		if (parse_exact(buf, len, QKD_WIRE_RESP, &p) == QKD_WIRE_OK)
		{
			bad++;
		}
	}
	ok(!bad, "every truncation of RESP is rejected");
	ok(parse_exact(buf, 2, QKD_WIRE_RESP, &p) == QKD_WIRE_E_LENGTH,
	   "2 byte message: length error");
	ok(qkd_wire_parse(NULL, 0, QKD_WIRE_RESP, &p) == QKD_WIRE_E_LENGTH,
	   "empty message: length error");
	ok(qkd_wire_parse(buf, QKD_WIRE_RESP_LEN, QKD_WIRE_RESP, NULL) ==
	   QKD_WIRE_E_ARG, "NULL output rejected");
	ok(qkd_wire_parse(buf, QKD_WIRE_RESP_LEN, 7, &p) == QKD_WIRE_E_ARG,
	   "unknown expected type rejected");
}

static void test_malformed(void)
{
	struct qkd_wire_msg i = mk_init(0), r = mk_resp(&i, 0), p;
	uint8_t good_i[QKD_WIRE_INIT_LEN], good_r[QKD_WIRE_RESP_LEN], b[80];

	qkd_wire_encode(&i, good_i, sizeof(good_i));
	qkd_wire_encode(&r, good_r, sizeof(good_r));

	memcpy(b, good_i, sizeof(good_i));
	b[0] = 3;
	ok(parse_exact(b, sizeof(good_i), QKD_WIRE_INIT, &p) == QKD_WIRE_E_VERSION,
	   "version 3 rejected");
	b[0] = 2;
	ok(parse_exact(b, sizeof(good_i), QKD_WIRE_INIT, &p) == QKD_WIRE_E_LENGTH,
	   "version 2 at the length of version 1 rejected");
	b[0] = 0;
	ok(parse_exact(b, sizeof(good_i), QKD_WIRE_INIT, &p) == QKD_WIRE_E_VERSION,
	   "version 0 rejected");

	ok(parse_exact(good_i, sizeof(good_i), QKD_WIRE_RESP, &p) ==
	   QKD_WIRE_E_TYPE, "INIT where RESP expected rejected");
	ok(parse_exact(good_r, sizeof(good_r), QKD_WIRE_INIT, &p) ==
	   QKD_WIRE_E_TYPE, "RESP where INIT expected (reflection) rejected");

	memcpy(b, good_i, sizeof(good_i));
	b[3] = 0x01;
	ok(parse_exact(b, sizeof(good_i), QKD_WIRE_INIT, &p) ==
	   QKD_WIRE_E_RESERVED, "reserved byte set rejected");

	memcpy(b, good_i, sizeof(good_i));
	b[2] = 0x40;
	ok(parse_exact(b, sizeof(good_i), QKD_WIRE_INIT, &p) == QKD_WIRE_E_FLAGS,
	   "unknown INIT flag rejected");
	b[2] = QKD_WIRE_F_UNAVAILABLE;
	ok(parse_exact(b, sizeof(good_i), QKD_WIRE_INIT, &p) == QKD_WIRE_E_FLAGS,
	   "UNAVAILABLE in INIT rejected");
	b[2] = QKD_WIRE_F_NO_KEY;
	ok(parse_exact(b, sizeof(good_i), QKD_WIRE_INIT, &p) == QKD_WIRE_E_ID,
	   "NO_KEY with non-zero ID rejected");
	memcpy(b, good_i, sizeof(good_i));
	memset(b + 4, 0, 16);
	ok(parse_exact(b, sizeof(good_i), QKD_WIRE_INIT, &p) == QKD_WIRE_E_ID,
	   "zero ID without NO_KEY rejected");
	memcpy(b, good_i, sizeof(good_i));
	memset(b + 20, 0, 32);
	ok(parse_exact(b, sizeof(good_i), QKD_WIRE_INIT, &p) == QKD_WIRE_E_X25519,
	   "all-zero X25519 value rejected");

	memcpy(b, good_r, sizeof(good_r));
	b[2] = QKD_WIRE_F_NO_KEY | QKD_WIRE_F_UNAVAILABLE;
	memset(b + 4, 0, 32);
	ok(parse_exact(b, sizeof(good_r), QKD_WIRE_RESP, &p) == QKD_WIRE_E_FLAGS,
	   "NO_KEY together with UNAVAILABLE rejected");
	memcpy(b, good_r, sizeof(good_r));
	b[2] = QKD_WIRE_F_UNAVAILABLE;
	ok(parse_exact(b, sizeof(good_r), QKD_WIRE_RESP, &p) == QKD_WIRE_E_TAG,
	   "UNAVAILABLE with a tag rejected");
	memset(b + 20, 0, 16);
	ok(parse_exact(b, sizeof(good_r), QKD_WIRE_RESP, &p) == QKD_WIRE_OK,
	   "UNAVAILABLE with zero tag accepted");
	b[2] = 0x20;
	ok(parse_exact(b, sizeof(good_r), QKD_WIRE_RESP, &p) == QKD_WIRE_E_FLAGS,
	   "unknown RESP flag rejected");

	/* a failed parse leaves nothing behind */
	memcpy(b, good_i, sizeof(good_i));
	b[3] = 1;
	memset(&p, 0xaa, sizeof(p));
	parse_exact(b, sizeof(good_i), QKD_WIRE_INIT, &p);
	{
		uint8_t zero[sizeof(p)] = { 0 };

		ok(memcmp(&p, zero, sizeof(p)) == 0, "failed parse zeroes the output");
	}
}

static void test_check_resp(void)
{
	struct qkd_wire_msg i = mk_init(0), r = mk_resp(&i, 0), n;

	r.id[15] ^= 1;
	ok(qkd_wire_check_resp(&i, &r) == QKD_WIRE_E_MISMATCH,
	   "RESP with another ID is a mismatch");
	n = mk_init(QKD_WIRE_F_NO_KEY);
	r = mk_resp(&i, 0);
	memset(r.id, 0, 16);
	ok(qkd_wire_check_resp(&n, &r) == QKD_WIRE_E_MISMATCH,
	   "RESP claiming key use after INIT NO_KEY is a mismatch");
	r = mk_resp(&i, 0);
	ok(qkd_wire_check_resp(&r, &i) == QKD_WIRE_E_ARG,
	   "swapped arguments rejected");
}

static void test_transcript(void)
{
	struct qkd_wire_msg i = mk_init(0), r = mk_resp(&i, 0), r2;
	uint8_t t1[QKD_WIRE_TRANSCRIPT_LEN], t2[QKD_WIRE_TRANSCRIPT_LEN];
	size_t l = QKD_WIRE_TAG_LABEL_LEN;

	ok(qkd_wire_transcript(&i, &r, t1, sizeof(t1)) == sizeof(t1),
	   "transcript built");
	ok(memcmp(t1, QKD_WIRE_TAG_LABEL, l) == 0, "transcript starts with label");
	ok(memcmp(t1 + l + 20, i.x25519, 32) == 0 &&
	   memcmp(t1 + l + 52 + 36, r.x25519, 32) == 0,
	   "transcript covers both X25519 values");
	{
		uint8_t zero[16] = { 0 };

		ok(memcmp(t1 + l + 52 + 20, zero, 16) == 0,
		   "tag field is zero in the transcript");
	}
	r2 = r;
	memset(r2.tag, 0x55, sizeof(r2.tag));
	qkd_wire_transcript(&i, &r2, t2, sizeof(t2));
	ok(memcmp(t1, t2, sizeof(t1)) == 0, "transcript independent of the tag");
	r2 = r;
	r2.flags |= QKD_WIRE_F_REQUIRE;
	qkd_wire_transcript(&i, &r2, t2, sizeof(t2));
	ok(memcmp(t1, t2, sizeof(t1)) != 0, "transcript covers the flags");
	r2 = r;
	r2.x25519[0] ^= 1;
	qkd_wire_transcript(&i, &r2, t2, sizeof(t2));
	ok(memcmp(t1, t2, sizeof(t1)) != 0, "transcript covers responder X25519");
	ok(qkd_wire_transcript(&i, &r, t2, sizeof(t2) - 1) == 0,
	   "transcript refuses a short buffer");
}

/* random and bit-flipped input must never crash and only be accepted if it
 * re-encodes to the same bytes */
static void test_fuzz(void)
{
	uint8_t buf[QKD_WIRE_MAX_LEN + 4], out[QKD_WIRE_MAX_LEN];
	struct qkd_wire_msg i = mk_init(0), r = mk_resp(&i, 0), p;
	unsigned int seed = 12345, iter, bad = 0, accepted = 0;
	size_t len, n;
	int type;

	for (iter = 0; iter < 200000; iter++)
	{
		type = (iter & 1) ? QKD_WIRE_RESP : QKD_WIRE_INIT;
		if (iter % 4 < 2)
		{	/* valid message with a few bits flipped */
			len = qkd_wire_encode(type == QKD_WIRE_INIT ? &i : &r, buf,
								  sizeof(buf));
			buf[rand_r(&seed) % len] ^= 1 << (rand_r(&seed) % 8);
			if (rand_r(&seed) % 4 == 0)
			{
				buf[rand_r(&seed) % len] = rand_r(&seed);
			}
		}
		else
		{
			len = rand_r(&seed) % sizeof(buf);
			for (n = 0; n < len; n++)
			{
				buf[n] = rand_r(&seed);
			}
			if (len > 2)
			{
				buf[0] = 1;
				buf[1] = type;
			}
		}
		if (parse_exact(buf, len, type, &p) == QKD_WIRE_OK)
		{
			accepted++;
			n = qkd_wire_encode(&p, out, sizeof(out));
			if (n != len || memcmp(out, buf, len) != 0)
			{
				bad++;
			}
		}
	}
	ok(!bad, "fuzz: 200000 inputs, every accepted one (%u) re-encodes "
	   "identically", accepted);
}

static void test_misc(void)
{
	uint8_t id[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
					   0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	char s[37];

	qkd_wire_id_str(id, s);
	ok(strcmp(s, "12345678-9abc-def0-0123-456789abcdef") == 0,
	   "key ID formatted as UUID");
	ok(strcmp(qkd_wire_strerror(QKD_WIRE_E_LENGTH), "wrong length") == 0 &&
	   strcmp(qkd_wire_strerror(-1), "unknown error") == 0 &&
	   strcmp(qkd_wire_strerror(999), "unknown error") == 0,
	   "error strings, out of range handled");
}

static void test_announce(void)
{
	uint8_t buf[32], big[64];
	struct qkd_announce a;
	size_t n, i;
	int bad;

	n = qkd_announce_encode(QKD_ANNOUNCE_F_LINK | QKD_ANNOUNCE_F_REQUIRE,
							64242, buf, sizeof(buf));
	ok(n == 8 && memcmp(buf, "QKDA\x03\x03\xfa\xf2", 8) == 0,
	   "announcement: 8 bytes, magic, version 3, flags, method 64242");
	ok(qkd_announce_parse(buf, n, 64242, &a) == QKD_WIRE_OK && a.version == 3 &&
	   a.flags == 3 && a.method == 64242, "announcement round trip");
	ok(qkd_announce_encode(0x04, 64242, buf, sizeof(buf)) == 0 &&
	   qkd_announce_encode(0, 64242, buf, 7) == 0 &&
	   qkd_announce_encode(0, 64242, NULL, 8) == 0,
	   "announcement encoder refuses unknown flags and short buffers");
	n = qkd_announce_encode(QKD_ANNOUNCE_F_LINK, 64242, buf, sizeof(buf));
	bad = 0;
	for (i = 0; i < n; i++)
	{
		bad |= qkd_announce_parse(buf, i, 64242, &a) != QKD_WIRE_E_LENGTH;
	}
	ok(!bad && a.version == 0, "announcement: every truncation refused "
	   "(output zeroed)");
	memcpy(big, buf, n);
	big[n] = 0;
	ok(qkd_announce_parse(big, n + 1, 64242, &a) == QKD_WIRE_E_LENGTH,
	   "announcement v2 with trailing data refused");
	buf[0] = 'X';
	ok(qkd_announce_parse(buf, n, 64242, &a) == QKD_WIRE_E_MAGIC,
	   "announcement with another magic (a foreign notify of that number) "
	   "refused");
	buf[0] = 'Q';
	buf[4] = 1;
	ok(qkd_announce_parse(buf, n, 64242, &a) == QKD_WIRE_E_VERSION,
	   "announcement version 1 refused (v1 never announced)");
	buf[4] = 0;
	ok(qkd_announce_parse(buf, n, 64242, &a) == QKD_WIRE_E_VERSION,
	   "announcement version 0 refused");
	buf[4] = 2;
	buf[5] = 0x81;
	ok(qkd_announce_parse(buf, n, 64242, &a) == QKD_WIRE_E_FLAGS,
	   "announcement v2 with unknown flags refused");
	buf[5] = 0x01;
	ok(qkd_announce_parse(buf, n, 65516, &a) == QKD_WIRE_E_METHOD,
	   "announcement with another method number refused");
	buf[4] = 3;
	buf[5] = 0x81;
	ok(qkd_announce_parse(buf, n, 64242, &a) == QKD_WIRE_E_FLAGS,
	   "announcement v3 with unknown flags refused");
	buf[5] = 0x01;
	ok(qkd_announce_parse(buf, n, 64242, &a) == QKD_WIRE_OK &&
	   a.version == 3 && a.flags == 1, "announcement v3 (ours) parsed");
	buf[4] = 2;
	ok(qkd_announce_parse(buf, n, 64242, &a) == QKD_WIRE_OK &&
	   a.version == 2 && a.flags == 1,
	   "announcement v2 (an older build) parsed: both then speak v2");
	memcpy(big, buf, n);
	big[4] = 4;
	big[5] = 0xf3;
	memset(big + n, 0xee, 8);
	ok(qkd_announce_parse(big, n + 8, 64242, &a) == QKD_WIRE_OK &&
	   a.version == 4 && a.flags == 3,
	   "announcement v4: longer data and unknown flags ignored (speak v3)");
	ok(strcmp(qkd_wire_strerror(QKD_WIRE_E_MAGIC),
			  "not a qkd-ipsec announcement (magic)") == 0 &&
	   strcmp(qkd_wire_strerror(QKD_WIRE_E_METHOD),
			  "peer uses another key exchange method number") == 0,
	   "announcement error strings");
}

/* KE data version 2 (protocol v3): the next key ID */
static int all_zero_buf(const uint8_t *p, size_t len)
{
	while (len--)
	{
		if (*p++)
		{
			return 0;
		}
	}
	return 1;
}

static struct qkd_wire_msg with_next(struct qkd_wire_msg m, uint8_t seed)
{
	m.version = QKD_WIRE_VERSION_NEXT;
	if (seed)
	{
		fill(m.next_id, sizeof(m.next_id), seed);
	}
	return m;
}

static void test_next_id(void)
{
	struct qkd_wire_msg i = with_next(mk_init(0), 0xa0), r, p, q;
	uint8_t bi[QKD_WIRE_MAX_LEN + 4], br[QKD_WIRE_MAX_LEN + 4];
	uint8_t t[QKD_WIRE_TRANSCRIPT_MAX + 4];
	size_t ni, nr, len;
	int bad;

	r = with_next(mk_resp(&i, 0), 0xb0);
	ok(QKD_WIRE_INIT_LEN_NEXT == 84 && QKD_WIRE_RESP_LEN_NEXT == 84 &&
	   QKD_WIRE_MAX_LEN == 84, "version 2: INIT 84 bytes, RESP 84");
	ni = qkd_wire_encode(&i, bi, sizeof(bi));
	nr = qkd_wire_encode(&r, br, sizeof(br));
	ok(ni == 84 && bi[0] == 2 && !memcmp(bi + 20, i.next_id, 16) &&
	   !memcmp(bi + 36, i.tag, 16) && !memcmp(bi + 52, i.x25519, 32),
	   "v2 INIT: version 2, next ID after the key ID, then the initiator's "
	   "tag, X25519 last");
	ok(nr == 84 && br[0] == 2 && !memcmp(br + 20, r.next_id, 16) &&
	   !memcmp(br + 36, r.tag, 16) && !memcmp(br + 52, r.x25519, 32),
	   "v2 RESP: next ID, then tag, then X25519");
	ok(parse_exact(bi, ni, QKD_WIRE_INIT, &p) == QKD_WIRE_OK &&
	   p.version == 2 && !memcmp(p.next_id, i.next_id, 16) &&
	   !memcmp(p.id, i.id, 16) && !memcmp(p.tag, i.tag, 16),
	   "v2 INIT round trip (tag included)");
	ok(parse_exact(br, nr, QKD_WIRE_RESP, &q) == QKD_WIRE_OK &&
	   q.version == 2 && !memcmp(q.next_id, r.next_id, 16) &&
	   qkd_wire_check_resp(&p, &q) == QKD_WIRE_OK, "v2 RESP round trip, "
	   "answers the INIT");
	for (bad = 0, len = 0; len < ni; len++)
	{
		bad |= parse_exact(bi, len, QKD_WIRE_INIT, &p) == QKD_WIRE_OK;
	}
	ok(!bad && parse_exact(bi, ni + 1, QKD_WIRE_INIT, &p) ==
	   QKD_WIRE_E_LENGTH, "v2 INIT: every truncation and trailing data "
	   "refused");
	bi[0] = 1;
	ok(parse_exact(bi, ni, QKD_WIRE_INIT, &p) == QKD_WIRE_E_LENGTH,
	   "version 1 at the length of version 2 refused");
	bi[0] = 2;
	i.version = QKD_WIRE_VERSION;
	ok(qkd_wire_encode(&i, bi, sizeof(bi)) == 0, "version 1 with a next ID "
	   "not encoded");
	i = with_next(mk_init(0), 0);
	ok(qkd_wire_encode(&i, bi, sizeof(bi)) == 84 &&
	   parse_exact(bi, 84, QKD_WIRE_INIT, &p) == QKD_WIRE_OK,
	   "v2 without a next ID (zero: none) is valid");
	memcpy(i.next_id, i.id, 16);
	ok(qkd_wire_encode(&i, bi, sizeof(bi)) == 0, "next ID = the message's "
	   "own key ID not encoded");
	i = with_next(mk_init(0), 0xa0);
	ni = qkd_wire_encode(&i, bi, sizeof(bi));
	memcpy(bi + 20, bi + 4, 16);
	ok(parse_exact(bi, ni, QKD_WIRE_INIT, &p) == QKD_WIRE_E_ID,
	   "... nor parsed");
	i = with_next(mk_init(QKD_WIRE_F_NO_KEY), 0xa0);
	memset(i.tag, 0, 16);
	ok(qkd_wire_encode(&i, bi, sizeof(bi)) == 84, "a NO_KEY INIT may "
	   "announce a next ID");
	/* the initiator's tag (version 2) */
	i.tag[3] = 1;
	ok(qkd_wire_encode(&i, bi, sizeof(bi)) == 0, "v2 NO_KEY INIT with a "
	   "non-zero tag not encoded");
	i.tag[3] = 0;
	ni = qkd_wire_encode(&i, bi, sizeof(bi));
	bi[40] = 1;
	ok(ni == 84 && parse_exact(bi, ni, QKD_WIRE_INIT, &p) == QKD_WIRE_E_TAG,
	   "... nor parsed (E_TAG)");
	ok(qkd_wire_init_transcript(&i, t, sizeof(t)) == 0,
	   "no initiator transcript without a key (NO_KEY)");
	i = with_next(mk_init(0), 0xa0);
	i.version = QKD_WIRE_VERSION;
	memset(i.next_id, 0, 16);
	ok(qkd_wire_init_transcript(&i, t, sizeof(t)) == 0 &&
	   qkd_wire_encode(&i, bi, sizeof(bi)) == 52,
	   "version 1 INIT: no initiator tag, no transcript, 52 bytes as before");
	i = with_next(mk_init(0), 0xa0);
	memset(i.tag, 0x5a, 16);
	len = qkd_wire_init_transcript(&i, t, sizeof(t));
	ni = qkd_wire_encode(&i, bi, sizeof(bi));
	ok(len == QKD_WIRE_TRANSCRIPT_INIT_LEN &&
	   len == strlen("qkd-ipsec initiator key confirmation v1") + 84 &&
	   !memcmp(t, "qkd-ipsec initiator key confirmation v1",
			   QKD_WIRE_TAG_LABEL_INIT_LEN) &&
	   !memcmp(t + QKD_WIRE_TAG_LABEL_INIT_LEN, bi, 36) &&
	   all_zero_buf(t + QKD_WIRE_TAG_LABEL_INIT_LEN + 36, 16) &&
	   !memcmp(t + QKD_WIRE_TAG_LABEL_INIT_LEN + 52, bi + 52, 32),
	   "initiator transcript: label-init || INIT with a zero tag");
	ok(qkd_wire_init_transcript(&i, t, len - 1) == 0,
	   "initiator transcript needs QKD_WIRE_TRANSCRIPT_INIT_LEN bytes");
	{
		uint8_t t1[QKD_WIRE_TRANSCRIPT_INIT_LEN], t2[QKD_WIRE_TRANSCRIPT_INIT_LEN];

		qkd_wire_init_transcript(&i, t1, sizeof(t1));
		q = i;
		q.next_id[0] ^= 1;
		qkd_wire_init_transcript(&q, t2, sizeof(t2));
		ok(memcmp(t1, t2, sizeof(t1)) != 0, "a changed next ID changes the "
		   "initiator transcript");
		q = i;
		q.x25519[5] ^= 1;
		qkd_wire_init_transcript(&q, t2, sizeof(t2));
		ok(memcmp(t1, t2, sizeof(t1)) != 0, "a changed X25519 value changes "
		   "the initiator transcript");
	}
	/* versions do not mix */
	i = with_next(mk_init(0), 0xa0);
	r = mk_resp(&i, 0);
	ok(qkd_wire_check_resp(&i, &r) == QKD_WIRE_E_MISMATCH &&
	   qkd_wire_transcript(&i, &r, t, sizeof(t)) == 0,
	   "a v1 RESP does not answer a v2 INIT (no transcript either)");
	r = with_next(mk_resp(&i, 0), 0xb0);
	len = qkd_wire_transcript(&i, &r, t, sizeof(t));
	memset(i.tag, 0x5a, 16);
	len = qkd_wire_transcript(&i, &r, t, sizeof(t));
	ok(len == QKD_WIRE_TRANSCRIPT_MAX && len == QKD_WIRE_TAG_LABEL_LEN +
	   84 + 84 && !memcmp(t + QKD_WIRE_TAG_LABEL_LEN + 20, i.next_id, 16) &&
	   !memcmp(t + QKD_WIRE_TAG_LABEL_LEN + 36, i.tag, 16) &&
	   !memcmp(t + QKD_WIRE_TAG_LABEL_LEN + 84 + 20, r.next_id, 16),
	   "v2 transcript covers both next IDs and the initiator's tag");
	ok(qkd_wire_transcript(&i, &r, t, len - 1) == 0,
	   "v2 transcript needs QKD_WIRE_TRANSCRIPT_MAX bytes");
	memcpy(&q, &r, sizeof(q));
	q.next_id[0] ^= 1;
	ok(qkd_wire_transcript(&i, &q, t + 2, sizeof(t) - 2) == len &&
	   memcmp(t + 2 + QKD_WIRE_TAG_LABEL_LEN + 84 + 20, r.next_id, 16),
	   "a changed next ID changes the transcript (the tag covers it)");
}

int main(void)
{
	test_sizes();
	test_roundtrip();
	test_encode_rejects();
	test_truncated();
	test_malformed();
	test_check_resp();
	test_transcript();
	test_fuzz();
	test_misc();
	test_announce();
	test_next_id();
	return tap_done();
}
