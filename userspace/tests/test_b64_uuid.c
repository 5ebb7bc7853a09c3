// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <stdlib.h>
#include <string.h>
#include "b64.h"
#include "uuid.h"
#include "tap.h"

static void rfc4648(void)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	char out[32];
	uint8_t dec[32];
	size_t i;

	for (i = 0; i < 7; i++) {
		long n = b64_encode((const uint8_t *)plain[i], strlen(plain[i]), out, sizeof(out));

		ok(n == (long)strlen(enc[i]) && !strcmp(out, enc[i]), "b64 encode RFC 4648 vector '%s'", plain[i]);
		n = b64_decode(enc[i], strlen(enc[i]), dec, sizeof(dec));
		ok(n == (long)strlen(plain[i]) && !memcmp(dec, plain[i], (size_t)n),
		   "b64 decode RFC 4648 vector '%s'", enc[i]);
	}
}

static void roundtrip(void)
{
	uint8_t in[300], dec[300];
	char enc[B64_ENCODED_LEN(300) + 1];
	int len, bad = 0;

	srand(1);
	for (len = 0; len <= 300; len++) {
		long e, d;
		int i;

		for (i = 0; i < len; i++)
			in[i] = (uint8_t)rand();
		e = b64_encode(in, (size_t)len, enc, sizeof(enc));
		d = b64_decode(enc, (size_t)e, dec, sizeof(dec));
		if (e != (long)B64_ENCODED_LEN(len) || d != len || memcmp(in, dec, (size_t)len))
			bad++;
	}
	ok(bad == 0, "b64 round trip of 0..300 random bytes");
}

static void malformed(void)
{
	static const char *bad[] = {
		"Zg=", "Zg", "Z", "Zg=a", "=Zg=", "Z===", "Zm9v Yg==", "Zm9v\nYg==",
		"Zh==", "Zm9=", "Zm-v", "Zm_v", "Zm9vYg==Zm9v", "Zg==Zg==", "====", "Zm9v!A==",
		"Zm\x80v",
	};
	uint8_t dec[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(b64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec)) < 0,
		   "b64 rejects malformed input #%zu", i);
	ok(b64_decode("Zm9vYmFy", 8, dec, 5) < 0, "b64 decode refuses a too small output buffer");
	{
		char o[5];

		ok(b64_encode((const uint8_t *)"foo", 3, o, 4) < 0, "b64 encode refuses a too small buffer");
		ok(b64_encode((const uint8_t *)"foo", 3, o, 5) == 4, "b64 encode fits exactly");
	}
	/* embedded NUL is a bad character, not a terminator */
	ok(b64_decode("Zm\0v", 4, dec, sizeof(dec)) < 0, "b64 rejects embedded NUL");
}

static void uuid(void)
{
	const char *s = "0d9f4a5b-12c3-4e6f-8a9b-0c1d2e3f4a5b";
	const char *up = "0D9F4A5B-12C3-4E6F-8A9B-0C1D2E3F4A5B";
	uint8_t id[16], id2[16];
	char out[UUID_STR_LEN + 1];
	static const char *bad[] = {
		"", "0d9f4a5b12c34e6f8a9b0c1d2e3f4a5b", "{0d9f4a5b-12c3-4e6f-8a9b-0c1d2e3f4a5}",
		"0d9f4a5b-12c3-4e6f-8a9b-0c1d2e3f4a5", "0d9f4a5b-12c3-4e6f-8a9b-0c1d2e3f4a5b0",
		"0d9f4a5b-12c3-4e6f-8a9b_0c1d2e3f4a5b", "0d9f4a5g-12c3-4e6f-8a9b-0c1d2e3f4a5b",
		"0d9f4a5b-12c3-4e6f-8a9b-0c1d2e3f4a5 ", " d9f4a5b-12c3-4e6f-8a9b-0c1d2e3f4a5b",
		"0d9f4a5b--2c3-4e6f-8a9b-0c1d2e3f4a5b",
	};
	size_t i;
	int j, v4ok = 1;

	ok(uuid_parse(s, strlen(s), id) == 0 && id[0] == 0x0d && id[15] == 0x5b, "uuid parse canonical");
	uuid_format(id, out);
	ok(!strcmp(out, s), "uuid format round trip");
	ok(uuid_parse(up, strlen(up), id2) == 0 && !memcmp(id, id2, 16), "uuid parse upper case");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(uuid_parse(bad[i], strlen(bad[i]), id2) < 0, "uuid rejects malformed #%zu", i);
	ok(uuid_parse("0d9f4a5b-12c3-4e6f-8a9b-0c1d2e3f4a5b", 35, id2) < 0, "uuid rejects short length");
	ok(uuid_parse(NULL, 36, id2) < 0, "uuid rejects NULL");
	for (j = 0; j < 100; j++) {
		if (uuid_generate_v4(id) || (id[6] >> 4) != 4 || (id[8] & 0xc0) != 0x80)
			v4ok = 0;
		uuid_format(id, out);
		if (uuid_parse(out, strlen(out), id2) || memcmp(id, id2, 16))
			v4ok = 0;
	}
	ok(v4ok, "uuid v4 generation: version/variant bits and round trip");
}

int main(void)
{
	rfc4648();
	roundtrip();
	malformed();
	uuid();
	return tap_done();
}
