// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness: the simulator's request parsing (kms-sim/parse.c),
 * what api.c and admin.c run on every request.  An input is
 *
 *   METHOD SP PATH [? QUERY] LF BODY
 *
 * (no LF: no body).  QUERY is split at '&' and '=' as libmicrohttpd
 * does, without its URL decoding (libmicrohttpd's own code, fuzzed
 * upstream); the first argument of a name wins, as with
 * MHD_lookup_connection_value.  Every input goes through the API path
 * parser, both enc_keys and dec_keys parsers, and the admin parser.
 *
 * Beyond the sanitizers it checks what the callers rely on: the SAE ID
 * taken from a path is the path's bytes, a dec_keys request holds
 * 1..ETSI_KEYS_MAX distinct IDs (the GET one is the key_ID given),
 * numbers are in range, every refusal says why.
 */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim.h"
#include "uuid.h"

#define ARGS_MAX 16

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct args {
	int n;
	char *name[ARGS_MAX], *value[ARGS_MAX];
};

static const char *lookup(void *ctx, const char *name)
{
	const struct args *a = ctx;
	int i;

	for (i = 0; i < a->n; i++)
		if (!strcmp(a->name[i], name))
			return a->value[i];
	return NULL;
}

/* Split q in place; "name" without '=' has an empty value, as in MHD. */
static void split_query(char *q, struct args *a)
{
	char *tok, *save = NULL;

	a->n = 0;
	for (tok = strtok_r(q, "&", &save); tok && a->n < ARGS_MAX;
	     tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');

		if (eq)
			*eq++ = '\0';
		a->name[a->n] = tok;
		a->value[a->n++] = eq ? eq : tok + strlen(tok);
	}
}

static void check_path(const char *path)
{
	char target[ETSI_ID_MAX];
	const char *rest = NULL;
	int r = api_parse_path(path, target, &rest);
	size_t tl;

	if (r) {
		assert(r == -1 || r == -2);
		return;
	}
	tl = strlen(target);
	assert(tl >= 1 && tl < ETSI_ID_MAX && !strchr(target, '/'));
	assert(rest && *rest == '/' && !memcmp(rest - tl, target, tl));
	assert(api_op_of(rest) <= API_UNKNOWN);
}

static void check_enc(int is_post, const char *body, size_t len, struct args *a)
{
	struct etsi_key_request kr;
	char why[200];

	why[0] = '\0';
	if (enc_request_parse(is_post, body, len, lookup(a, "number"), lookup(a, "size"), &kr,
			      why, sizeof(why)) == 0) {
		assert(kr.number >= 0 && kr.number <= 1 << 30);
		assert(kr.size >= 0 && kr.size <= 1 << 30);
		assert(kr.additional_slave_count >= 0);
	} else {
		assert(why[0] && memchr(why, '\0', sizeof(why)));
	}
}

static void check_dec(int is_post, const char *body, size_t len, struct args *a)
{
	struct etsi_key_ids ids;
	const char *id = lookup(a, "key_ID");
	char why[200], s[UUID_STR_LEN + 1];
	size_t i, k;
	int r;

	why[0] = '\0';
	r = dec_request_parse(is_post, body, len, id, &ids, why, sizeof(why));
	if (r) {
		assert((r == -1 || r == -2) && why[0] && !ids.ids && !ids.n);
		return;
	}
	assert(ids.n >= 1 && ids.n <= ETSI_KEYS_MAX);
	for (i = 0; i < ids.n; i++)
		for (k = 0; k < i; k++)
			assert(memcmp(ids.ids[i], ids.ids[k], 16));
	if (!is_post) {
		assert(ids.n == 1);
		uuid_format(ids.ids[0], s);
		assert(strlen(id) == UUID_STR_LEN && !strncasecmp(s, id, UUID_STR_LEN));
	}
	etsi_key_ids_free(&ids);
}

static void check_admin(const char *path, struct args *a)
{
	struct admin_cmd cmd;
	const char *bad = admin_parse(path, lookup, a, &cmd);
	char dev[256];

	assert(cmd.op <= ADMIN__N);
	if (bad) {
		assert(*bad && cmd.op < ADMIN__N);
		return;
	}
	switch (cmd.op) {
	case ADMIN_LINK:
	case ADMIN_FAIL:
		assert(cmd.v >= 0 && cmd.v <= 1);
		break;
	case ADMIN_QBER:
		assert(cmd.has_v || cmd.has_v2);
		assert(!cmd.has_v || (cmd.v >= 0 && cmd.v <= 0.5));
		assert(!cmd.has_v2 || (cmd.v2 >= -1 && cmd.v2 <= 1));
		break;
	case ADMIN_REPLICA:
		assert(cmd.name && cmd.v >= 0 && cmd.v <= 1);
		break;
	case ADMIN_DEVIATION:
		/* what was parsed formats back to names that parse the same */
		deviation_format(cmd.dev, dev, sizeof(dev));
		{
			unsigned again = ~0U;

			assert(deviation_parse(dev, &again) == 0 && again == cmd.dev);
		}
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const unsigned char *nl = memchr(data, '\n', size);
	size_t hl = nl ? (size_t)(nl - data) : size;
	char *head = malloc(hl + 1), *sp, *path, *q;
	const char *body = nl ? (const char *)nl + 1 : NULL;
	size_t blen = nl ? size - hl - 1 : 0;
	struct args a;
	int is_post;

	if (!head)
		return 0;
	/* libmicrohttpd hands over NUL-terminated method, URL and values */
	memcpy(head, data, hl);
	head[hl] = '\0';
	sp = strchr(head, ' ');
	path = sp ? sp + 1 : head + hl;
	if (sp)
		*sp = '\0';
	is_post = !strcmp(head, "POST");
	q = strchr(path, '?');
	if (q)
		*q++ = '\0';
	split_query(q ? q : path + strlen(path), &a);
	check_path(path);
	check_enc(is_post, body, blen, &a);
	check_dec(is_post, body, blen, &a);
	check_admin(path, &a);
	free(head);
	return 0;
}
