// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * What a client sends, parsed: API paths, enc_keys / dec_keys arguments
 * and bodies, admin paths and arguments, deviation names, numbers.  Pure
 * functions (no libmicrohttpd, no S) so that tests/fuzz_kms_req.c feeds
 * them method, path, query and body without a socket; api.c and admin.c
 * act on what they return.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim.h"
#include "uuid.h"

#define API_PREFIX	"/api/v1/keys/"

int parse_double_in(const char *s, double min, double max, double *out)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(s, &end);
	if (!*s || *end || errno || !(x >= min && x <= max))
		return -1;
	*out = x;
	return 0;
}

int api_parse_path(const char *url, char target[ETSI_ID_MAX], const char **rest)
{
	const char *r, *slash;
	size_t tl;

	if (strncmp(url, API_PREFIX, strlen(API_PREFIX)))
		return -1;
	r = url + strlen(API_PREFIX);
	slash = strchr(r, '/');
	if (!slash || (tl = (size_t)(slash - r)) == 0 || tl >= ETSI_ID_MAX)
		return -2;
	memcpy(target, r, tl);
	target[tl] = '\0';
	*rest = slash;
	return 0;
}

enum api_op api_op_of(const char *rest)
{
	if (!strcmp(rest, "/status"))
		return API_STATUS;
	if (!strcmp(rest, "/enc_keys"))
		return API_ENC;
	if (!strcmp(rest, "/dec_keys"))
		return API_DEC;
	return API_UNKNOWN;
}

/* A query number: 1..2^30, digits only (no sign, no space). */
static int parse_pos_int(const char *s, int *out)
{
	char *end;
	long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 1 << 30)
		return -1;
	*out = (int)v;
	return 0;
}

int enc_request_parse(int is_post, const char *body, size_t len, const char *number,
		      const char *size, struct etsi_key_request *kr, char *why, size_t whysz)
{
	memset(kr, 0, sizeof(*kr));
	if (is_post)
		return etsi_key_request_decode(body, len, kr, why, whysz);
	if (number && parse_pos_int(number, &kr->number))
		return snprintf(why, whysz, "bad number"), -1;
	if (size && parse_pos_int(size, &kr->size))
		return snprintf(why, whysz, "bad size"), -1;
	return 0;
}

int dec_request_parse(int is_post, const char *body, size_t len, const char *key_id,
		      struct etsi_key_ids *ids, char *why, size_t whysz)
{
	ids->n = 0;
	ids->ids = NULL;
	if (is_post)
		return etsi_key_ids_decode(body, len, ids, why, whysz);
	if (!key_id)
		return snprintf(why, whysz, "key_ID missing"), -1;
	ids->ids = calloc(1, 16);
	if (!ids->ids)
		return snprintf(why, whysz, "out of memory"), -2;
	ids->n = 1;
	if (uuid_parse(key_id, strlen(key_id), ids->ids[0])) {
		etsi_key_ids_free(ids);
		return snprintf(why, whysz, "key_ID is not a UUID"), -1;
	}
	return 0;
}

/* ---- admin ------------------------------------------------------------ */

static const char *const admin_paths[ADMIN__N] = {
	[ADMIN_LINK] = "/admin/link", [ADMIN_QBER] = "/admin/qber",
	[ADMIN_RATE] = "/admin/rate", [ADMIN_FAIL] = "/admin/fail",
	[ADMIN_FILL] = "/admin/fill", [ADMIN_FLUSH] = "/admin/flush",
	[ADMIN_DEVIATION] = "/admin/deviation", [ADMIN_REPLICA] = "/admin/replica",
	[ADMIN_STATUS] = "/admin/status",
};

/* Query argument name as a number in min..max: 0, 1 if absent, -1 if bad. */
static int arg_double(arg_fn arg, void *ctx, const char *name, double min, double max,
		      double *out)
{
	const char *v = arg(ctx, name);

	if (!v)
		return 1;	/* absent */
	return parse_double_in(v, min, max, out);
}

/* The arguments of the setters: NULL, or what the request lacks. */
static const char *admin_args(struct admin_cmd *cmd, arg_fn arg, void *ctx)
{
	const char *v;

	switch (cmd->op) {
	case ADMIN_LINK:
		return arg_double(arg, ctx, "up", 0, 1, &cmd->v) ? "up=0|1 required" : NULL;
	case ADMIN_QBER: {
		int rq = arg_double(arg, ctx, "value", 0, 0.5, &cmd->v);
		int rd = arg_double(arg, ctx, "drift", -1, 1, &cmd->v2);

		/* one of them at least, each well-formed if given */
		if (rq < 0 || rd < 0 || (rq && rd))
			return "value=0..0.5 and/or drift=-1..1 (per second)";
		cmd->has_v = !rq;
		cmd->has_v2 = !rd;
		return NULL;
	}
	case ADMIN_RATE:
		return arg_double(arg, ctx, "bits", 0, 1e9, &cmd->v) ? "bits=0..1e9 required" : NULL;
	case ADMIN_FAIL:
		return arg_double(arg, ctx, "fraction", 0, 1, &cmd->v) ?
		       "fraction=0..1 required" : NULL;
	case ADMIN_FILL:
		return arg_double(arg, ctx, "keys", 0, 1e7, &cmd->v) ? "keys=N required" : NULL;
	case ADMIN_DEVIATION:
		v = arg(ctx, "set");
		if (!v || (*v && deviation_parse(v, &cmd->dev)))
			return "set=NAME[,NAME...] (empty: none) required; see qkd-kms-sim(8)";
		return NULL;
	case ADMIN_REPLICA:
		cmd->name = arg(ctx, "name");
		if (!cmd->name || arg_double(arg, ctx, "up", 0, 1, &cmd->v))
			return "name=a|b|a2|b2 and up=0|1 required";
		return NULL;
	default:
		return NULL;
	}
}

const char *admin_parse(const char *url, arg_fn arg, void *ctx, struct admin_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	for (cmd->op = 0; cmd->op < ADMIN__N; cmd->op++)
		if (!strcmp(url, admin_paths[cmd->op]))
			return admin_args(cmd, arg, ctx);
	return NULL;
}

/* ---- deviation names -------------------------------------------------- */

static const struct {
	unsigned bit;
	const char *name;
} names[] = {
	{ DEV_STATUS_PENDING, "status-pending" },
	{ DEV_STATUS_ZERO, "status-zero" },
	{ DEV_DISCARD_UNFETCHED, "discard-unfetched" },
	{ DEV_IGNORE_NUMBER, "ignore-number" },
	{ DEV_IGNORE_SIZE, "ignore-size" },
	{ DEV_ODD_SIZE, "odd-size" },
	{ DEV_401_UNKNOWN_ID, "401-unknown-id" },
	{ DEV_HTML_ERRORS, "html-errors" },
	{ DEV_EMPTY_ERRORS, "empty-errors" },
	{ DEV_HANG, "hang" },
	{ DEV_MALFORMED_JSON, "malformed-json" },
	{ DEV_BAD_ENTRIES, "bad-entries" },
};

int deviation_parse(const char *list, unsigned *out)
{
	char buf[512], *tok, *save = NULL;
	unsigned v = 0;
	size_t i;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return -1;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(tok, names[i].name))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -1;
		v |= names[i].bit;
	}
	*out = v;
	return 0;
}

void deviation_format(unsigned v, char *out, size_t outsz)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (v & names[i].bit)
			o += (size_t)snprintf(out + o, o < outsz ? outsz - o : 0, "%s%s",
					      o ? "," : "", names[i].name);
}

const char *deviation_names(void)
{
	static char all[512];

	deviation_format(~0U, all, sizeof(all));
	return all;
}
