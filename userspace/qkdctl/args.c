// SPDX-License-Identifier: GPL-2.0-only
#include "args.h"

#include <stdio.h>
#include <string.h>

#include <libqkd.h>

#include "util.h"

const struct link_limit_def link_limit_defs[LIMIT_COUNT] = {
	[LIMIT_MAX_KEYS] = { "max-keys", "max_keys", QKD_A_MAX_KEYS,
			     1, QKD_LINK_MAX_KEYS_LIMIT },
	[LIMIT_MAX_BYTES] = { "max-bytes", "max_bytes", QKD_A_MAX_BYTES,
			      QKD_KEY_MAX_LEN, QKD_LINK_MAX_BYTES_LIMIT },
	[LIMIT_TTL] = { "ttl", "ttl", QKD_A_KEY_TTL, 1, QKD_LINK_TTL_MAX },
	[LIMIT_RATE] = { "rate", "rate", QKD_A_RATE, 0, QKD_LINK_RATE_MAX },
	[LIMIT_BURST] = { "burst", "burst", QKD_A_BURST, 1, QKD_LINK_BURST_MAX },
	/* The kernel also checks low-watermark <= the link's max-keys. */
	[LIMIT_LOW_WATERMARK] = { "low-watermark", "low_watermark", QKD_A_LOW_WATERMARK,
				  0, QKD_LINK_MAX_KEYS_LIMIT },
};

bool args_want_help(int argc, char **argv)
{
	int i;

	if (argc > 0 && !strcmp(argv[0], "help"))
		return true;
	for (i = 0; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return ARGS_ERR; } while (0)

/*
 * Names end up in the kernel's strict policy (NLA_NUL_STRING with a max
 * length); checking here gives a message naming the argument instead of
 * the kernel's generic one.  Control characters would garble every
 * one-line-per-record output, so they are refused too.
 */
static int check_name(const char *what, const char *s, size_t cap,
		      char *err, size_t errlen)
{
	size_t i, n = strlen(s);

	if (n == 0)
		FAIL("%s must not be empty", what);
	if (n >= cap)
		FAIL("%s \"%.40s%s\" is too long (max %zu bytes)", what, s,
		     n > 40 ? "..." : "", cap - 1);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			FAIL("%s contains a control character", what);
	return ARGS_OK;
}

/* The module's rule for link names (kmod/netlink.c), checked early. */
static bool link_name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("._-:@", c);
}

static int take_name(const char *what, const char *s, char *dst, size_t cap,
		     char *err, size_t errlen)
{
	const char *p;

	if (s[0] == '-')
		FAIL("unknown option \"%s\"", s);
	if (check_name(what, s, cap, err, errlen))
		return ARGS_ERR;
	if (cap == QKD_LINK_NAME_MAX)
		for (p = s; *p; p++)
			if (!link_name_char_ok(*p))
				FAIL("bad link name \"%s\": only letters, digits and . _ - : @",
				     s);
	copy_str(dst, cap, s);
	return ARGS_OK;
}

/* Shift the value of keyword argv[*i]; error if it is missing. */
static const char *value_of(int argc, char **argv, int *i, char *err, size_t errlen)
{
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "\"%s\" needs a value", argv[*i]);
		return NULL;
	}
	(*i)++;
	return argv[*i];
}

static int find_limit(const char *kw)
{
	int l;

	for (l = 0; l < LIMIT_COUNT; l++)
		if (!strcmp(kw, link_limit_defs[l].keyword))
			return l;
	return -1;
}

static int parse_limit(int l, const char *v, struct link_args *a, char *err, size_t errlen)
{
	const struct link_limit_def *d = &link_limit_defs[l];

	if (a->limit[l].set)
		FAIL("%s given twice", d->keyword);
	if (parse_u32_range(v, d->min, d->max, &a->limit[l].val) < 0)
		FAIL("bad %s \"%s\" (want an integer %u..%u)", d->keyword, v, d->min, d->max);
	a->limit[l].set = true;
	return ARGS_OK;
}

/* Local cross-check the kernel would do anyway, with a clearer message. */
static int check_watermark(const struct link_args *a, char *err, size_t errlen)
{
	if (a->limit[LIMIT_LOW_WATERMARK].set && a->limit[LIMIT_MAX_KEYS].set &&
	    a->limit[LIMIT_LOW_WATERMARK].val > a->limit[LIMIT_MAX_KEYS].val)
		FAIL("low-watermark %u is above max-keys %u",
		     a->limit[LIMIT_LOW_WATERMARK].val, a->limit[LIMIT_MAX_KEYS].val);
	return ARGS_OK;
}

static int parse_link_common(int argc, char **argv, struct link_args *a,
			     bool allow_sae, char *err, size_t errlen)
{
	int i;

	memset(a, 0, sizeof(*a));
	if (args_want_help(argc, argv))
		return ARGS_HELP;
	if (argc < 1)
		FAIL("missing link name");
	if (take_name("link name", argv[0], a->name, sizeof(a->name), err, errlen))
		return ARGS_ERR;
	a->has_name = true;

	for (i = 1; i < argc; i++) {
		const char *kw = argv[i], *v;
		int l;

		if (allow_sae && (!strcmp(kw, "local") || !strcmp(kw, "remote"))) {
			char *dst = kw[0] == 'l' ? a->local_sae : a->remote_sae;

			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (dst[0])
				FAIL("%s given twice", kw);
			if (take_name(kw[0] == 'l' ? "local SAE ID" : "remote SAE ID",
				      v, dst, QKD_SAE_ID_MAX, err, errlen))
				return ARGS_ERR;
			continue;
		}
		l = find_limit(kw);
		if (l < 0) {
			if (kw[0] == '-')
				FAIL("unknown option \"%s\"", kw);
			FAIL("unknown argument \"%s\"", kw);
		}
		if (!(v = value_of(argc, argv, &i, err, errlen)))
			return ARGS_ERR;
		if (parse_limit(l, v, a, err, errlen))
			return ARGS_ERR;
	}
	return check_watermark(a, err, errlen);
}

int args_link_add(int argc, char **argv, struct link_args *a, char *err, size_t errlen)
{
	int r = parse_link_common(argc, argv, a, true, err, errlen);

	if (r != ARGS_OK)
		return r;
	if (!a->local_sae[0])
		FAIL("missing \"local SAE_ID\"");
	if (!a->remote_sae[0])
		FAIL("missing \"remote SAE_ID\"");
	return ARGS_OK;
}

int args_link_set(int argc, char **argv, struct link_args *a, char *err, size_t errlen)
{
	int r = parse_link_common(argc, argv, a, false, err, errlen);
	int l;

	if (r != ARGS_OK)
		return r;
	for (l = 0; l < LIMIT_COUNT; l++)
		if (a->limit[l].set)
			return ARGS_OK;
	FAIL("nothing to set (give at least one of max-keys, max-bytes, ttl, rate, burst, low-watermark)");
}

/* NAME exactly once (required) or at most once (optional). */
static int parse_only_name(int argc, char **argv, struct link_args *a,
			   bool required, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (args_want_help(argc, argv))
		return ARGS_HELP;
	if (argc == 0) {
		if (required)
			FAIL("missing link name");
		return ARGS_OK;
	}
	if (argc > 1)
		FAIL("unexpected argument \"%s\"", argv[1]);
	if (take_name("link name", argv[0], a->name, sizeof(a->name), err, errlen))
		return ARGS_ERR;
	a->has_name = true;
	return ARGS_OK;
}

int args_link_del(int argc, char **argv, struct link_args *a, char *err, size_t errlen)
{
	return parse_only_name(argc, argv, a, true, err, errlen);
}

int args_link_show(int argc, char **argv, struct link_args *a, char *err, size_t errlen)
{
	return parse_only_name(argc, argv, a, false, err, errlen);
}

int args_stats(int argc, char **argv, struct link_args *a, char *err, size_t errlen)
{
	return parse_only_name(argc, argv, a, false, err, errlen);
}

static int parse_role(const char *v, uint8_t *role, char *err, size_t errlen)
{
	*role = qkd_role_from_name(v);
	if (!*role)
		FAIL("bad role \"%s\" (want initiator or responder)", v);
	return ARGS_OK;
}

int args_flush(int argc, char **argv, struct flush_args *a, char *err, size_t errlen)
{
	int i;

	memset(a, 0, sizeof(*a));
	if (args_want_help(argc, argv))
		return ARGS_HELP;
	for (i = 0; i < argc; i++) {
		const char *kw = argv[i], *v;

		if (!strcmp(kw, "all")) {
			if (a->all || a->name[0])
				FAIL("give either \"all\" or \"link NAME\", once");
			a->all = true;
		} else if (!strcmp(kw, "link")) {
			if (a->all || a->name[0])
				FAIL("give either \"all\" or \"link NAME\", once");
			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (take_name("link name", v, a->name, sizeof(a->name), err, errlen))
				return ARGS_ERR;
		} else if (!strcmp(kw, "role")) {
			if (a->role)
				FAIL("role given twice");
			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (parse_role(v, &a->role, err, errlen))
				return ARGS_ERR;
		} else if (kw[0] == '-') {
			FAIL("unknown option \"%s\"", kw);
		} else {
			FAIL("unknown argument \"%s\"", kw);
		}
	}
	/* Flushing a whole namespace by forgetting a word would hurt:
	 * require "all" to say so. */
	if (!a->all && !a->name[0])
		FAIL("say what to flush: \"all\" or \"link NAME\"");
	return ARGS_OK;
}

int args_key_inject(int argc, char **argv, struct inject_args *a, char *err, size_t errlen)
{
	int i;

	memset(a, 0, sizeof(*a));
	if (args_want_help(argc, argv))
		return ARGS_HELP;
	if (argc < 1)
		FAIL("missing link name");
	if (take_name("link name", argv[0], a->name, sizeof(a->name), err, errlen))
		return ARGS_ERR;
	a->file = "-";
	for (i = 1; i < argc; i++) {
		const char *v;

		if (!strcmp(argv[i], "file")) {
			if (i != 1)
				FAIL("file given twice");
			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (!v[0])
				FAIL("file name must not be empty");
			a->file = v;
		} else if (!strcmp(argv[i], "-")) {
			/* qkdctl(8): "key inject NAME [file PATH|-]": a bare
			 * dash names standard input, as it does for most tools */
			if (i != 1)
				FAIL("input given twice");
			a->file = "-";
		} else if (argv[i][0] == '-' && argv[i][1]) {
			FAIL("unknown option \"%s\"", argv[i]);
		} else {
			FAIL("unknown argument \"%s\"", argv[i]);
		}
	}
	return ARGS_OK;
}

static int parse_uuid_arg(const char *v, uint8_t id[QKD_KEY_ID_LEN], char *err, size_t errlen)
{
	if (uuid_parse(v, strlen(v), id) < 0)
		FAIL("bad key ID \"%s\" (want a UUID like 01234567-89ab-cdef-0123-456789abcdef)", v);
	return ARGS_OK;
}

int args_key_take(int argc, char **argv, struct take_args *a, char *err, size_t errlen)
{
	int i;

	memset(a, 0, sizeof(*a));
	if (args_want_help(argc, argv))
		return ARGS_HELP;
	if (argc < 1)
		FAIL("missing link name");
	if (take_name("link name", argv[0], a->name, sizeof(a->name), err, errlen))
		return ARGS_ERR;
	for (i = 1; i < argc; i++) {
		const char *kw = argv[i], *v;

		if (!strcmp(kw, "id")) {
			if (a->has_id)
				FAIL("id given twice");
			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (parse_uuid_arg(v, a->id, err, errlen))
				return ARGS_ERR;
			a->has_id = true;
		} else if (!strcmp(kw, "wait")) {
			if (a->wait_ms.set)
				FAIL("wait given twice");
			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (parse_u32_range(v, 0, QKD_TAKE_WAIT_MAX_MS, &a->wait_ms.val) < 0)
				FAIL("bad wait \"%s\" (want milliseconds 0..%u)", v, QKD_TAKE_WAIT_MAX_MS);
			a->wait_ms.set = true;
		} else if (kw[0] == '-') {
			FAIL("unknown option \"%s\"", kw);
		} else {
			FAIL("unknown argument \"%s\"", kw);
		}
	}
	/* The UAPI only waits for a key named by ID (a responder key). */
	if (a->wait_ms.set && !a->has_id)
		FAIL("wait needs id: only a take by key ID can wait");
	return ARGS_OK;
}

int args_audit_show(int argc, char **argv, struct audit_args *a, char *err, size_t errlen)
{
	int i;

	memset(a, 0, sizeof(*a));
	if (args_want_help(argc, argv))
		return ARGS_HELP;
	for (i = 0; i < argc; i++) {
		const char *v;

		if (!strcmp(argv[i], "link")) {
			if (a->has_name)
				FAIL("link given twice");
			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (take_name("link name", v, a->name, sizeof(a->name), err, errlen))
				return ARGS_ERR;
			a->has_name = true;
		} else if (argv[i][0] == '-') {
			FAIL("unknown option \"%s\"", argv[i]);
		} else {
			FAIL("unknown argument \"%s\"", argv[i]);
		}
	}
	return ARGS_OK;
}

int args_audit_annotate(int argc, char **argv, struct annotate_args *a, char *err, size_t errlen)
{
	bool has_id = false;
	int i;

	memset(a, 0, sizeof(*a));
	if (args_want_help(argc, argv))
		return ARGS_HELP;
	if (argc < 1)
		FAIL("missing link name");
	if (take_name("link name", argv[0], a->name, sizeof(a->name), err, errlen))
		return ARGS_ERR;
	for (i = 1; i < argc; i++) {
		const char *kw = argv[i], *v;

		if (!strcmp(kw, "id")) {
			if (has_id)
				FAIL("id given twice");
			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (parse_uuid_arg(v, a->id, err, errlen))
				return ARGS_ERR;
			has_id = true;
		} else if (!strcmp(kw, "spi")) {
			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (a->n_spi == QKD_AUDIT_SPI_MAX)
				FAIL("at most %d SPIs per record", QKD_AUDIT_SPI_MAX);
			if (parse_spi(v, &a->spi[a->n_spi]) < 0 || a->spi[a->n_spi] == 0)
				FAIL("bad spi \"%s\" (want 0x1..0xffffffff)", v);
			a->n_spi++;
		} else if (!strcmp(kw, "usage")) {
			if (a->has_usage)
				FAIL("usage given twice");
			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (check_name("usage", v, sizeof(a->usage), err, errlen))
				return ARGS_ERR;
			copy_str(a->usage, sizeof(a->usage), v);
			a->has_usage = true;
		} else if (kw[0] == '-') {
			FAIL("unknown option \"%s\"", kw);
		} else {
			FAIL("unknown argument \"%s\"", kw);
		}
	}
	if (!has_id)
		FAIL("missing \"id UUID\"");
	if (!a->n_spi && !a->has_usage)
		FAIL("nothing to annotate (give spi and/or usage)");
	return ARGS_OK;
}

int args_monitor(int argc, char **argv, struct monitor_args *a, char *err, size_t errlen)
{
	int i;

	memset(a, 0, sizeof(*a));
	if (args_want_help(argc, argv))
		return ARGS_HELP;
	for (i = 0; i < argc; i++) {
		const char *v;

		if (!strcmp(argv[i], "count")) {
			if (a->has_count)
				FAIL("count given twice");
			if (!(v = value_of(argc, argv, &i, err, errlen)))
				return ARGS_ERR;
			if (parse_u32_range(v, 1, UINT32_MAX, &a->count) < 0)
				FAIL("bad count \"%s\" (want an integer 1..%u)", v, UINT32_MAX);
			a->has_count = true;
		} else if (argv[i][0] == '-') {
			FAIL("unknown option \"%s\"", argv[i]);
		} else {
			FAIL("unknown argument \"%s\"", argv[i]);
		}
	}
	return ARGS_OK;
}

int args_xfrm(int argc, char **argv, char *err, size_t errlen)
{
	if (args_want_help(argc, argv))
		return ARGS_HELP;
	if (argc > 0 && !strcmp(argv[0], "show")) {
		argc--;
		argv++;
	}
	if (argc > 0) {
		if (argv[0][0] == '-')
			FAIL("unknown option \"%s\"", argv[0]);
		FAIL("unknown argument \"%s\"", argv[0]);
	}
	return ARGS_OK;
}
