// SPDX-License-Identifier: GPL-2.0-only
/* Command-line grammar of every subcommand against the UAPI limits. */
#include "test_common.h"

#include "args.h"
#include "util.h"

static char err[512];

/* Split a string into argv in place (no quoting: tests do not need it). */
#define MAXARGS 32
struct argv_buf {
	char text[1024];
	char *argv[MAXARGS];
	int argc;
};

static struct argv_buf b;

static void split(const char *s)
{
	char *tok, *save = NULL;

	memset(&b, 0, sizeof(b));
	err[0] = '\0';
	copy_str(b.text, sizeof(b.text), s);
	for (tok = strtok_r(b.text, " ", &save); tok && b.argc < MAXARGS;
	     tok = strtok_r(NULL, " ", &save))
		b.argv[b.argc++] = tok;
}

#define RUN(fn, s, a) (split(s), fn(b.argc, b.argv, (a), err, sizeof(err)))

static void link_add_good(void **state)
{
	struct link_args a;

	(void)state;
	assert_int_equal(RUN(args_link_add, "dc-east local SAE_A remote SAE_B", &a), ARGS_OK);
	assert_string_equal(a.name, "dc-east");
	assert_string_equal(a.local_sae, "SAE_A");
	assert_string_equal(a.remote_sae, "SAE_B");
	for (int l = 0; l < LIMIT_COUNT; l++)
		assert_false(a.limit[l].set);

	assert_int_equal(RUN(args_link_add, "l remote R local L max-keys 65536 max-bytes 4194304 "
			     "ttl 604800 rate 1000000 burst 1000000 low-watermark 65536", &a), ARGS_OK);
	assert_int_equal(a.limit[LIMIT_MAX_KEYS].val, 65536);
	assert_int_equal(a.limit[LIMIT_MAX_BYTES].val, 4194304);
	assert_int_equal(a.limit[LIMIT_TTL].val, 604800);
	assert_int_equal(a.limit[LIMIT_RATE].val, 1000000);
	assert_int_equal(a.limit[LIMIT_BURST].val, 1000000);
	assert_int_equal(a.limit[LIMIT_LOW_WATERMARK].val, 65536);

	/* lower bounds */
	assert_int_equal(RUN(args_link_add, "l local L remote R max-keys 1 max-bytes 64 ttl 1 "
			     "rate 0 burst 1 low-watermark 0", &a), ARGS_OK);
	assert_true(a.limit[LIMIT_RATE].set);
	assert_int_equal(a.limit[LIMIT_RATE].val, 0);
}

static void link_add_missing(void **state)
{
	struct link_args a;

	(void)state;
	assert_int_equal(RUN(args_link_add, "", &a), ARGS_ERR);
	assert_contains(err, "missing link name");
	assert_int_equal(RUN(args_link_add, "l remote R", &a), ARGS_ERR);
	assert_contains(err, "missing \"local SAE_ID\"");
	assert_int_equal(RUN(args_link_add, "l local L", &a), ARGS_ERR);
	assert_contains(err, "missing \"remote SAE_ID\"");
	assert_int_equal(RUN(args_link_add, "l local L remote", &a), ARGS_ERR);
	assert_contains(err, "\"remote\" needs a value");
	assert_int_equal(RUN(args_link_add, "l local L remote R ttl", &a), ARGS_ERR);
	assert_contains(err, "\"ttl\" needs a value");
}

static void link_bad_numbers(void **state)
{
	static const char *const bad[] = {
		"abc", "-1", "+5", "1x", "0x10", "1.5", "99999999999999999999999",
		"4294967296",
	};
	struct link_args a;
	char cmd[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cmd, sizeof(cmd), "l local L remote R max-keys %s", bad[i]);
		assert_int_equal(RUN(args_link_add, cmd, &a), ARGS_ERR);
	}
	assert_int_equal(RUN(args_link_add, "l local L remote R ttl 12abc", &a), ARGS_ERR);
	assert_contains(err, "bad ttl \"12abc\" (want an integer 1..604800)");
}

static void link_out_of_range(void **state)
{
	static const char *const bad[] = {
		"max-keys 0", "max-keys 65537", "max-bytes 63", "max-bytes 4194305",
		"ttl 0", "ttl 604801", "rate 1000001", "burst 0", "burst 1000001",
		"low-watermark 65537",
	};
	struct link_args a;
	char cmd[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cmd, sizeof(cmd), "l local L remote R %s", bad[i]);
		if (RUN(args_link_add, cmd, &a) != ARGS_ERR)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_contains(err, "bad ");
		snprintf(cmd, sizeof(cmd), "l %s", bad[i]);
		if (RUN(args_link_set, cmd, &a) != ARGS_ERR)
			fail_msg("link set accepted \"%s\"", bad[i]);
	}
	assert_int_equal(RUN(args_link_add, "l local L remote R max-keys 10 low-watermark 11", &a),
			 ARGS_ERR);
	assert_contains(err, "low-watermark 11 is above max-keys 10");
	assert_int_equal(RUN(args_link_set, "l low-watermark 10 max-keys 10", &a), ARGS_OK);
}

static void link_unknown_and_duplicates(void **state)
{
	struct link_args a;

	(void)state;
	assert_int_equal(RUN(args_link_add, "l local L remote R --foo", &a), ARGS_ERR);
	assert_contains(err, "unknown option \"--foo\"");
	assert_int_equal(RUN(args_link_add, "l local L remote R colour blue", &a), ARGS_ERR);
	assert_contains(err, "unknown argument \"colour\"");
	assert_int_equal(RUN(args_link_add, "-x local L remote R", &a), ARGS_ERR);
	assert_contains(err, "unknown option \"-x\"");
	assert_int_equal(RUN(args_link_add, "l local L local M remote R", &a), ARGS_ERR);
	assert_contains(err, "local given twice");
	assert_int_equal(RUN(args_link_add, "l local L remote R ttl 5 ttl 6", &a), ARGS_ERR);
	assert_contains(err, "ttl given twice");
	/* set does not take SAE IDs: they identify the link's peer for good */
	assert_int_equal(RUN(args_link_set, "l local L", &a), ARGS_ERR);
	assert_contains(err, "unknown argument \"local\"");
}

static void link_name_lengths(void **state)
{
	struct link_args a;
	char cmd[256], name[64], sae[80];

	(void)state;
	memset(name, 'n', QKD_LINK_NAME_MAX - 1);
	name[QKD_LINK_NAME_MAX - 1] = '\0';	/* 31 bytes: fits */
	snprintf(cmd, sizeof(cmd), "%s local L remote R", name);
	assert_int_equal(RUN(args_link_add, cmd, &a), ARGS_OK);
	strcat(name, "n");			/* 32 bytes: too long */
	snprintf(cmd, sizeof(cmd), "%s local L remote R", name);
	assert_int_equal(RUN(args_link_add, cmd, &a), ARGS_ERR);
	assert_contains(err, "is too long (max 31 bytes)");

	memset(sae, 's', QKD_SAE_ID_MAX - 1);
	sae[QKD_SAE_ID_MAX - 1] = '\0';		/* 63 bytes */
	snprintf(cmd, sizeof(cmd), "l local %s remote R", sae);
	assert_int_equal(RUN(args_link_add, cmd, &a), ARGS_OK);
	strcat(sae, "s");
	snprintf(cmd, sizeof(cmd), "l local L remote %s", sae);
	assert_int_equal(RUN(args_link_add, cmd, &a), ARGS_ERR);
	assert_contains(err, "remote SAE ID");
}

static void link_name_control_chars(void **state)
{
	struct link_args a;
	struct flush_args f;
	char *argv[] = { "bad\tname", "local", "L", "remote", "R" };

	(void)state;
	assert_int_equal(args_link_add(5, argv, &a, err, sizeof(err)), ARGS_ERR);
	assert_contains(err, "control character");
	/* the module's character set for link names */
	assert_int_equal(RUN(args_link_add, "dc/east local L remote R", &a), ARGS_ERR);
	assert_contains(err, "only letters, digits and . _ - : @");
	assert_int_equal(RUN(args_link_del, "a.b_c-d:e@f9", &a), ARGS_OK);
	assert_int_equal(RUN(args_flush, "link a*b", &f), ARGS_ERR);
	/* SAE IDs are free text */
	assert_int_equal(RUN(args_link_add, "l local sae/1 remote sae*2", &a), ARGS_OK);
}

static void link_set_del_show(void **state)
{
	struct link_args a;

	(void)state;
	assert_int_equal(RUN(args_link_set, "l", &a), ARGS_ERR);
	assert_contains(err, "nothing to set");
	assert_int_equal(RUN(args_link_set, "l rate 5", &a), ARGS_OK);
	assert_true(a.limit[LIMIT_RATE].set);
	assert_false(a.limit[LIMIT_TTL].set);

	assert_int_equal(RUN(args_link_del, "", &a), ARGS_ERR);
	assert_contains(err, "missing link name");
	assert_int_equal(RUN(args_link_del, "a b", &a), ARGS_ERR);
	assert_contains(err, "unexpected argument \"b\"");
	assert_int_equal(RUN(args_link_del, "a", &a), ARGS_OK);

	assert_int_equal(RUN(args_link_show, "", &a), ARGS_OK);
	assert_false(a.has_name);
	assert_int_equal(RUN(args_link_show, "x", &a), ARGS_OK);
	assert_true(a.has_name);
	assert_int_equal(RUN(args_stats, "x y", &a), ARGS_ERR);
	assert_int_equal(RUN(args_stats, "--all", &a), ARGS_ERR);
	assert_contains(err, "unknown option");
}

static void help_everywhere(void **state)
{
	struct link_args a;
	struct flush_args f;
	struct take_args t;
	struct monitor_args m;

	(void)state;
	assert_int_equal(RUN(args_link_add, "help", &a), ARGS_HELP);
	assert_int_equal(RUN(args_link_add, "l local --help", &a), ARGS_HELP);
	assert_int_equal(RUN(args_link_del, "-h", &a), ARGS_HELP);
	assert_int_equal(RUN(args_flush, "--help", &f), ARGS_HELP);
	assert_int_equal(RUN(args_key_take, "--help", &t), ARGS_HELP);
	assert_int_equal(RUN(args_monitor, "help", &m), ARGS_HELP);
	assert_int_equal(args_xfrm(1, (char *[]){ "--help" }, err, sizeof(err)), ARGS_HELP);
}

static void flush(void **state)
{
	struct flush_args f;

	(void)state;
	assert_int_equal(RUN(args_flush, "", &f), ARGS_ERR);
	assert_contains(err, "\"all\" or \"link NAME\"");
	assert_int_equal(RUN(args_flush, "all", &f), ARGS_OK);
	assert_true(f.all);
	assert_int_equal(f.role, 0);
	assert_int_equal(RUN(args_flush, "link dc-east role responder", &f), ARGS_OK);
	assert_string_equal(f.name, "dc-east");
	assert_int_equal(f.role, QKD_KEY_ROLE_RESPONDER);
	assert_int_equal(RUN(args_flush, "all role master", &f), ARGS_ERR);
	assert_contains(err, "bad role \"master\"");
	assert_int_equal(RUN(args_flush, "all link x", &f), ARGS_ERR);
	assert_int_equal(RUN(args_flush, "dc-east", &f), ARGS_ERR);
	assert_contains(err, "unknown argument \"dc-east\"");
	assert_int_equal(RUN(args_flush, "link", &f), ARGS_ERR);
	assert_int_equal(RUN(args_flush, "all role initiator role responder", &f), ARGS_ERR);
}

static void key_inject(void **state)
{
	struct inject_args i;

	(void)state;
	assert_int_equal(RUN(args_key_inject, "l", &i), ARGS_OK);
	assert_string_equal(i.file, "-");
	assert_int_equal(RUN(args_key_inject, "l file /tmp/k", &i), ARGS_OK);
	assert_string_equal(i.file, "/tmp/k");
	assert_int_equal(RUN(args_key_inject, "l file - ", &i), ARGS_OK);
	assert_int_equal(RUN(args_key_inject, "", &i), ARGS_ERR);
	assert_int_equal(RUN(args_key_inject, "l file", &i), ARGS_ERR);
	assert_int_equal(RUN(args_key_inject, "l /tmp/k", &i), ARGS_ERR);
	assert_contains(err, "unknown argument \"/tmp/k\"");
	assert_int_equal(RUN(args_key_inject, "l --hex", &i), ARGS_ERR);
	assert_contains(err, "unknown option");
	/* qkdctl(8): a bare "-" is standard input */
	assert_int_equal(RUN(args_key_inject, "l -", &i), ARGS_OK);
	assert_string_equal(i.file, "-");
	assert_int_equal(RUN(args_key_inject, "l - file /tmp/k", &i), ARGS_ERR);
	assert_contains(err, "file given twice");
	assert_int_equal(RUN(args_key_inject, "l file /tmp/k -", &i), ARGS_ERR);
	assert_contains(err, "input given twice");
	assert_int_equal(RUN(args_key_inject, "l - -", &i), ARGS_ERR);
}

static void key_take(void **state)
{
	struct take_args t;

	(void)state;
	assert_int_equal(RUN(args_key_take, "l", &t), ARGS_OK);
	assert_false(t.has_id);
	assert_int_equal(RUN(args_key_take, "l id 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10 wait 10000", &t),
			 ARGS_OK);
	assert_true(t.has_id);
	assert_int_equal(t.id[0], 0x0b);
	assert_int_equal(t.wait_ms.val, 10000);
	assert_int_equal(RUN(args_key_take, "l id 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10 wait 10001", &t),
			 ARGS_ERR);
	assert_contains(err, "bad wait \"10001\"");
	assert_int_equal(RUN(args_key_take, "l wait 5", &t), ARGS_ERR);
	assert_contains(err, "wait needs id");
	assert_int_equal(RUN(args_key_take, "l id nope", &t), ARGS_ERR);
	assert_contains(err, "bad key ID \"nope\"");
	assert_int_equal(RUN(args_key_take, "l material", &t), ARGS_ERR);
}

static void audit(void **state)
{
	struct audit_args a;
	struct annotate_args n;

	(void)state;
	assert_int_equal(RUN(args_audit_show, "", &a), ARGS_OK);
	assert_false(a.has_name);
	assert_int_equal(RUN(args_audit_show, "link x", &a), ARGS_OK);
	assert_string_equal(a.name, "x");
	assert_int_equal(RUN(args_audit_show, "x", &a), ARGS_ERR);

	assert_int_equal(RUN(args_audit_annotate,
			     "l id 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10 spi 0xc0000001 spi 3221225474 usage child-1",
			     &n), ARGS_OK);
	assert_int_equal(n.n_spi, 2);
	assert_int_equal(n.spi[0], 0xc0000001u);
	assert_int_equal(n.spi[1], 0xc0000002u);
	assert_string_equal(n.usage, "child-1");
	assert_int_equal(RUN(args_audit_annotate,
			     "l id 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10 spi 1 spi 2 spi 3 spi 4 spi 5", &n),
			 ARGS_ERR);
	assert_contains(err, "at most 4 SPIs");
	assert_int_equal(RUN(args_audit_annotate,
			     "l id 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10 spi 0x100000000", &n), ARGS_ERR);
	assert_contains(err, "bad spi");
	assert_int_equal(RUN(args_audit_annotate,
			     "l id 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10 spi 0", &n), ARGS_ERR);
	assert_int_equal(RUN(args_audit_annotate,
			     "l id 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10 spi 0xzz", &n), ARGS_ERR);
	assert_int_equal(RUN(args_audit_annotate, "l spi 1", &n), ARGS_ERR);
	assert_contains(err, "missing \"id UUID\"");
	assert_int_equal(RUN(args_audit_annotate, "l id 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10", &n),
			 ARGS_ERR);
	assert_contains(err, "nothing to annotate");
}

static void monitor_and_xfrm(void **state)
{
	struct monitor_args m;

	(void)state;
	assert_int_equal(RUN(args_monitor, "", &m), ARGS_OK);
	assert_false(m.has_count);
	assert_int_equal(RUN(args_monitor, "count 3", &m), ARGS_OK);
	assert_int_equal(m.count, 3);
	assert_int_equal(RUN(args_monitor, "count 0", &m), ARGS_ERR);
	assert_int_equal(RUN(args_monitor, "count -1", &m), ARGS_ERR);
	assert_int_equal(RUN(args_monitor, "count 4294967296", &m), ARGS_ERR);
	assert_int_equal(RUN(args_monitor, "--follow", &m), ARGS_ERR);

	assert_int_equal(args_xfrm(0, NULL, err, sizeof(err)), ARGS_OK);
	assert_int_equal(args_xfrm(1, (char *[]){ "show" }, err, sizeof(err)), ARGS_OK);
	assert_int_equal(args_xfrm(2, (char *[]){ "show", "all" }, err, sizeof(err)), ARGS_ERR);
	assert_int_equal(args_xfrm(1, (char *[]){ "-s" }, err, sizeof(err)), ARGS_ERR);
	assert_contains(err, "unknown option \"-s\"");
}

static void number_helpers(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(parse_u32_range("0", 0, 5, &v), 0);
	assert_int_equal(parse_u32_range("5", 0, 5, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(parse_u32_range("6", 0, 5, &v), -1);
	assert_int_equal(parse_u32_range("", 0, 5, &v), -1);
	assert_int_equal(parse_u32_range(NULL, 0, 5, &v), -1);
	assert_int_equal(parse_u32_range("4294967295", 0, UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(parse_spi("0xFFFFFFFF", &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(parse_spi("0x", &v), -1);
	assert_int_equal(parse_spi("0x-1", &v), -1);
	assert_int_equal(parse_spi("0x1 ", &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(link_add_good),
		cmocka_unit_test(link_add_missing),
		cmocka_unit_test(link_bad_numbers),
		cmocka_unit_test(link_out_of_range),
		cmocka_unit_test(link_unknown_and_duplicates),
		cmocka_unit_test(link_name_lengths),
		cmocka_unit_test(link_name_control_chars),
		cmocka_unit_test(link_set_del_show),
		cmocka_unit_test(help_everywhere),
		cmocka_unit_test(flush),
		cmocka_unit_test(key_inject),
		cmocka_unit_test(key_take),
		cmocka_unit_test(audit),
		cmocka_unit_test(monitor_and_xfrm),
		cmocka_unit_test(number_helpers),
	};

	return cmocka_run_group_tests_name("args", tests, NULL, NULL);
}
