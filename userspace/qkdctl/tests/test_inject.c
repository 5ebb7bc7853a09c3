// SPDX-License-Identifier: GPL-2.0-only
/*
 * `qkdctl key inject NAME -` end to end without a kernel: the command
 * (cmd_key) reads its keys from standard input and talks to libqkd's fake
 * kernel (lib/tests/fake_kernel.h).  The test binary is linked with
 * -Wl,--wrap=qkd_nl_open, so the qkd_run() of output.c gets a fake handle
 * instead of a socket; everything else is the program's own code.
 * Checked: what reaches the "kernel" (link, IDs, material, roles, batches
 * of 256), what is printed, and that no message ever shows key material.
 */
#define _GNU_SOURCE
#include "test_common.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/genetlink.h>

#include <libqkd.h>
#include "fake_kernel.h"

#include "qkdctl.h"

/* The material of key i: 16 bytes, i in the first two, 0xa5 after. */
#define SECRET_TAIL "a5a5a5a5a5a5a5a5a5a5a5a5a5a5"

struct seen {
	unsigned int requests, keys, bad;
	char link[QKD_LINK_NAME_MAX];
	int fail_request;	/* 1-based request to refuse with ENOSPC; 0: none */
};
static struct seen seen;

static void answer_inject(struct nlmsghdr *req, void *arg);

/* qkd_run()'s open: a fake handle (fk is reset by it, so the responder
 * is set after). */
int __wrap_qkd_nl_open(struct qkd_nl **out, unsigned int timeout_ms, char *err);
int __wrap_qkd_nl_open(struct qkd_nl **out, unsigned int timeout_ms, char *err)
{
	(void)timeout_ms;
	(void)err;
	*out = fake_kernel_handle();
	if (!*out)
		return -ENOMEM;
	fk.respond = answer_inject;
	return 0;
}

/* One key nest of an inject request: ID i, material as above, a role. */
static void check_key(const struct nlattr *nest)
{
	const struct nlattr *a;
	unsigned int i = seen.keys, got = 0;
	uint8_t want[16];

	memset(want, 0xa5, sizeof(want));
	want[0] = (uint8_t)(i >> 8);
	want[1] = (uint8_t)i;
	mnl_attr_for_each_nested(a, nest) {
		const uint8_t *p = mnl_attr_get_payload(a);

		if (mnl_attr_get_type(a) == QKD_KEY_A_ID)
			got |= (mnl_attr_get_payload_len(a) == 16 && p[14] == (uint8_t)(i >> 8) &&
				p[15] == (uint8_t)i) << 0;
		else if (mnl_attr_get_type(a) == QKD_KEY_A_MATERIAL)
			got |= (mnl_attr_get_payload_len(a) == 16 && !memcmp(p, want, 16)) << 1;
		else if (mnl_attr_get_type(a) == QKD_KEY_A_ROLE)
			got |= (*p == (i % 2 ? QKD_KEY_ROLE_RESPONDER : QKD_KEY_ROLE_INITIATOR)) << 2;
	}
	if (got != 7)
		seen.bad++;
	seen.keys++;
}

/* The fake kernel: check each inject request, then ACK (or refuse). */
static void answer_inject(struct nlmsghdr *req, void *arg)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(req);
	const struct nlattr *a;

	(void)arg;
	seen.requests++;
	if (g->cmd != QKD_CMD_KEY_INJECT)
		seen.bad++;
	mnl_attr_for_each(a, req, sizeof(*g)) {
		if (mnl_attr_get_type(a) == QKD_A_LINK_NAME)
			snprintf(seen.link, sizeof(seen.link), "%s", mnl_attr_get_str(a));
		else if (mnl_attr_get_type(a) == QKD_A_KEY)
			check_key(a);
	}
	fake_ack(fake_dgram(0), req, seen.fail_request == (int)seen.requests ? -ENOSPC : 0,
		 seen.fail_request == (int)seen.requests ? "link is full" : NULL);
}

/* Keys 0..n-1 as qkdctl's input lines, into a file that becomes stdin. */
static char *write_input(unsigned int n, const char *extra)
{
	static char path[] = "/tmp/qkdctl-inject-XXXXXX";
	FILE *f;
	unsigned int i;
	int fd;

	strcpy(path, "/tmp/qkdctl-inject-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("# written by test_inject\n", f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s 00000000-0000-4000-8000-00000000%04x %02x%02x%s\n",
			i % 2 ? "responder" : "initiator", i, i >> 8, i & 0xff, SECRET_TAIL);
	if (extra)
		fputs(extra, f);
	fclose(f);
	return path;
}

/* Run `qkdctl key inject l1 -` with stdin from path; stdout and stderr
 * are captured into out/err. */
static int run_inject(const char *path, char *out, char *err, size_t size)
{
	char *argv[] = { "inject", "l1", "-", NULL };
	FILE *o = tmpfile(), *e = tmpfile();
	int save[2], ret, i;
	size_t n;

	assert_true(o && e);
	/* a fresh stdin stream: qkdctl sets its own (wiped) buffer on it */
	assert_non_null(freopen(path, "r", stdin));
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 2; i++)
		save[i] = dup(i + 1);
	dup2(fileno(o), 1);
	dup2(fileno(e), 2);
	ret = cmd_key(3, argv);
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 2; i++) {
		dup2(save[i], i + 1);
		close(save[i]);
	}
	assert_non_null(freopen("/dev/null", "r", stdin));
	rewind(o);
	rewind(e);
	n = fread(out, 1, size - 1, o);
	out[n] = '\0';
	n = fread(err, 1, size - 1, e);
	err[n] = '\0';
	fclose(o);
	fclose(e);
	unlink(path);
	return ret;
}

static int setup(void **state)
{
	(void)state;
	memset(&seen, 0, sizeof(seen));
	return 0;
}

static void three_keys_from_stdin(void **state)
{
	char out[4096], err[4096];

	(void)state;
	assert_int_equal(run_inject(write_input(3, NULL), out, err, sizeof(out)), EXIT_OK);
	assert_int_equal(seen.requests, 1);
	assert_int_equal(seen.keys, 3);
	assert_int_equal(seen.bad, 0);
	assert_string_equal(seen.link, "l1");
	assert_string_equal(out, "injected 3 keys into l1 (2 initiator, 1 responder)\n");
	assert_string_equal(err, "");
}

static void batches_and_partial_failure(void **state)
{
	char out[4096], err[4096];

	(void)state;
	/* 300 keys: a batch of 256 and one of 44; the module refuses the second */
	seen.fail_request = 2;
	assert_int_equal(run_inject(write_input(300, NULL), out, err, sizeof(out)), EXIT_FAIL);
	assert_int_equal(seen.requests, 2);
	assert_int_equal(seen.keys, 300);
	assert_int_equal(seen.bad, 0);
	/* input lines are 2..301 (line 1 is a comment) */
	assert_contains(err, "256 of 300 keys (input lines 2-257) were injected before the failure");
	assert_contains(err, "link is full");
	assert_null(strstr(err, SECRET_TAIL));
	assert_null(strstr(out, SECRET_TAIL));
}

static void bad_stdin_sends_nothing(void **state)
{
	char out[4096], err[4096];

	(void)state;
	/* material in the key ID column (fields out of order) on line 3 */
	assert_int_equal(run_inject(write_input(1, "responder 0000" SECRET_TAIL " "
						"00000000-0000-4000-8000-000000000009\n"),
				    out, err, sizeof(out)), EXIT_BADINPUT);
	assert_int_equal(seen.requests, 0);
	assert_contains(err, "stdin:3: bad key ID");
	assert_null(strstr(err, SECRET_TAIL));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(three_keys_from_stdin, setup),
		cmocka_unit_test_setup(batches_and_partial_failure, setup),
		cmocka_unit_test_setup(bad_stdin_sends_nothing, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
