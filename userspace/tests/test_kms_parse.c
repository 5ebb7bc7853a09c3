// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The simulator's request parsing (kms-sim/parse.c), without a socket. */
#include <stdlib.h>
#include <string.h>
#include "sim.h"
#include "secmem.h"
#include "tap.h"

#define S(x) x, strlen(x)

/* Query arguments as name, value pairs ending with NULL. */
static const char *arg(void *ctx, const char *name)
{
	const char *const *a = ctx;

	for (; a[0]; a += 2)
		if (!strcmp(a[0], name))
			return a[1];
	return NULL;
}

static void paths(void)
{
	char target[ETSI_ID_MAX], longp[300];
	const char *rest = NULL;

	ok(api_parse_path("/api/v1/keys/SAE_B/enc_keys", target, &rest) == 0 &&
	   !strcmp(target, "SAE_B") && api_op_of(rest) == API_ENC, "path: SAE ID and operation");
	ok(api_parse_path("/api/v1/keys/SAE_B/status/x", target, &rest) == 0 &&
	   api_op_of(rest) == API_UNKNOWN, "path: a longer operation is unknown");
	ok(api_parse_path("/api/v2/keys/SAE_B/status", target, &rest) == -1,
	   "path: outside the API is -1 (unknown path)");
	ok(api_parse_path("/api/v1/keys//status", target, &rest) == -2 &&
	   api_parse_path("/api/v1/keys/SAE_B", target, &rest) == -2,
	   "path: an empty or unterminated SAE ID is -2 (malformed path)");
	memset(longp, 'A', sizeof(longp));
	memcpy(longp, "/api/v1/keys/", 13);
	snprintf(longp + 13 + ETSI_ID_MAX, sizeof(longp) - 13 - ETSI_ID_MAX, "/status");
	ok(api_parse_path(longp, target, &rest) == -2, "path: an SAE ID over %d bytes is -2",
	   ETSI_ID_MAX - 1);
}

static void enc_dec(void)
{
	struct etsi_key_request kr;
	struct etsi_key_ids ids;
	char why[200];

	ok(enc_request_parse(0, NULL, 0, "3", "256", &kr, why, sizeof(why)) == 0 &&
	   kr.number == 3 && kr.size == 256, "enc GET: number and size");
	ok(enc_request_parse(0, NULL, 0, "+3", NULL, &kr, why, sizeof(why)) < 0 &&
	   !strcmp(why, "bad number") &&
	   enc_request_parse(0, NULL, 0, NULL, "1073741825", &kr, why, sizeof(why)) < 0 &&
	   !strcmp(why, "bad size"), "enc GET: a signed number, a size over 2^30 refused");
	ok(enc_request_parse(1, S("{\"number\":2}"), "9", NULL, &kr, why, sizeof(why)) == 0 &&
	   kr.number == 2, "enc POST: the body, not the query");
	ok(enc_request_parse(1, NULL, 0, NULL, NULL, &kr, why, sizeof(why)) < 0 && why[0],
	   "enc POST without a body refused (%s)", why);
	ok(dec_request_parse(0, NULL, 0, "BC490419-7D60-487F-ADC1-4DDCC177C139", &ids, why,
			     sizeof(why)) == 0 && ids.n == 1 && ids.ids[0][0] == 0xbc,
	   "dec GET: one key_ID");
	etsi_key_ids_free(&ids);
	ok(dec_request_parse(0, NULL, 0, NULL, &ids, why, sizeof(why)) == -1 &&
	   !strcmp(why, "key_ID missing") && !ids.ids, "dec GET without key_ID: 400");
	ok(dec_request_parse(0, NULL, 0, "bc490419", &ids, why, sizeof(why)) == -1 &&
	   !strcmp(why, "key_ID is not a UUID") && !ids.ids, "dec GET: not a UUID: 400");
}

static void admin_cmds(void)
{
	const char *up[] = { "up", "1", NULL }, *none[] = { NULL };
	const char *q1[] = { "drift", "-0.5", NULL }, *q2[] = { "value", "x", "drift", "0", NULL };
	const char *dev[] = { "set", "hang,odd-size", NULL }, *bad[] = { "set", "hang,nope", NULL };
	const char *rep[] = { "name", "a2", "up", "0", NULL };
	struct admin_cmd c;

	ok(!admin_parse("/admin/link", arg, up, &c) && c.op == ADMIN_LINK && c.v == 1,
	   "admin link up=1");
	ok(admin_parse("/admin/link", arg, none, &c) != NULL, "admin link without up: 400");
	ok(!admin_parse("/admin/qber", arg, q1, &c) && !c.has_v && c.has_v2 && c.v2 == -0.5,
	   "admin qber: drift alone");
	ok(admin_parse("/admin/qber", arg, q2, &c) && admin_parse("/admin/qber", arg, none, &c),
	   "admin qber: a bad value, or neither, is 400");
	ok(!admin_parse("/admin/deviation", arg, dev, &c) &&
	   c.dev == (DEV_HANG | DEV_ODD_SIZE) && admin_parse("/admin/deviation", arg, bad, &c),
	   "admin deviation: names parsed, an unknown one refused");
	ok(!admin_parse("/admin/replica", arg, rep, &c) && !strcmp(c.name, "a2") && c.v == 0,
	   "admin replica name and up");
	ok(!admin_parse("/admin/nope", arg, none, &c) && c.op == ADMIN__N &&
	   !admin_parse("/admin/status", arg, none, &c) && c.op == ADMIN_STATUS,
	   "admin: unknown path (404) and status");
}

int main(void)
{
	sec_json_allocator_init();
	paths();
	enc_dec();
	admin_cmds();
	return tap_done();
}
