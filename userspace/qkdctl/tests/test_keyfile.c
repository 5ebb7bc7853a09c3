// SPDX-License-Identifier: GPL-2.0-only
/* Key input format: keyfile_parse_line() and keyfile_read(). */
#define _GNU_SOURCE	/* fopencookie */
#include "test_common.h"

#include <stdlib.h>

#include "keyfile.h"
#include "util.h"

#define UUID1 "0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10"
#define UUID2 "0B6F2C3E-3D63-4C3F-9D7E-6A6C1B9E2F11"
#define HEX16 "00112233445566778899aabbccddeeff"
#define HEX32 HEX16 HEX16
#define HEX64 HEX32 HEX32
/* base64 of 32 bytes 0x00..0x1f */
#define B64_32 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static char err[512];

static int parse(const char *line, struct key_entry *e)
{
	err[0] = '\0';
	return keyfile_parse_line(line, e, err, sizeof(err));
}

static void good_hex_initiator(void **state)
{
	struct key_entry e;
	static const uint8_t id[16] = { 0x0b, 0x6f, 0x2c, 0x3e, 0x3d, 0x63, 0x4c, 0x3f,
					0x9d, 0x7e, 0x6a, 0x6c, 0x1b, 0x9e, 0x2f, 0x10 };

	(void)state;
	assert_int_equal(parse("initiator " UUID1 " " HEX32, &e), 1);
	assert_int_equal(e.role, QKD_KEY_ROLE_INITIATOR);
	assert_memory_equal(e.id, id, 16);
	assert_int_equal(e.len, 32);
	assert_int_equal(e.material[0], 0x00);
	assert_int_equal(e.material[1], 0x11);
	assert_int_equal(e.material[31], 0xff);
}

static void good_base64_responder_upper_uuid_tabs(void **state)
{
	struct key_entry e;
	int i;

	(void)state;
	assert_int_equal(parse("\tresponder\t" UUID2 "   base64:" B64_32 " \r", &e), 1);
	assert_int_equal(e.role, QKD_KEY_ROLE_RESPONDER);
	assert_int_equal(e.id[15], 0x11);
	assert_int_equal(e.len, 32);
	for (i = 0; i < 32; i++)
		assert_int_equal(e.material[i], i);
}

static void good_length_limits(void **state)
{
	struct key_entry e;

	(void)state;
	assert_int_equal(parse("initiator " UUID1 " " HEX16, &e), 1);
	assert_int_equal(e.len, QKD_KEY_MIN_LEN);
	assert_int_equal(parse("initiator " UUID1 " " HEX64, &e), 1);
	assert_int_equal(e.len, QKD_KEY_MAX_LEN);
	/* base64 with one and two padding chars: 17 and 16 bytes */
	assert_int_equal(parse("initiator " UUID1 " base64:AAECAwQFBgcICQoLDA0ODxA=", &e), 1);
	assert_int_equal(e.len, 17);
	assert_int_equal(parse("initiator " UUID1 " base64:AAECAwQFBgcICQoLDA0ODw==", &e), 1);
	assert_int_equal(e.len, 16);
}

static void blank_and_comment_lines(void **state)
{
	struct key_entry e;

	(void)state;
	assert_int_equal(parse("", &e), 0);
	assert_int_equal(parse("   \t ", &e), 0);
	assert_int_equal(parse("# initiator " UUID1 " " HEX16, &e), 0);
	assert_int_equal(parse("   #comment", &e), 0);
}

static void bad_role(void **state)
{
	struct key_entry e;

	(void)state;
	assert_int_equal(parse("master " UUID1 " " HEX16, &e), -1);
	assert_contains(err, "bad role \"master\"");
	assert_int_equal(parse("Initiator " UUID1 " " HEX16, &e), -1);
	assert_int_equal(parse("initiatorx " UUID1 " " HEX16, &e), -1);
}

static void bad_uuid(void **state)
{
	struct key_entry e;

	(void)state;
	/* too short, too long, bad char, dash misplaced, no dashes */
	assert_int_equal(parse("initiator 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f1 " HEX16, &e), -1);
	assert_contains(err, "bad key ID");
	assert_int_equal(parse("initiator 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f100 " HEX16, &e), -1);
	assert_int_equal(parse("initiator 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2fg0 " HEX16, &e), -1);
	assert_int_equal(parse("initiator 0b6f2c3e3-d63-4c3f-9d7e-6a6c1b9e2f10 " HEX16, &e), -1);
	assert_int_equal(parse("initiator 0b6f2c3e3d634c3f9d7e6a6c1b9e2f10 " HEX16, &e), -1);
}

static void bad_hex(void **state)
{
	struct key_entry e;

	(void)state;
	assert_int_equal(parse("initiator " UUID1 " 0011223344556677889900aabbccddeef", &e), -1);
	assert_contains(err, "bad hex");
	assert_int_equal(parse("initiator " UUID1 " 0011223344556677889900aabbccddxx", &e), -1);
	assert_contains(err, "bad hex");
	assert_int_equal(parse("initiator " UUID1 " 0x0011223344556677889900aabbccddee", &e), -1);
}

static void bad_base64(void **state)
{
	struct key_entry e;

	(void)state;
	/* bad char, bad length, '=' inside, empty */
	assert_int_equal(parse("initiator " UUID1 " base64:AAECAwQFBgcICQoLDA0OD!==", &e), -1);
	assert_contains(err, "bad base64");
	assert_int_equal(parse("initiator " UUID1 " base64:AAECAwQFBgcICQoLDA0ODw=", &e), -1);
	assert_contains(err, "bad base64");
	assert_int_equal(parse("initiator " UUID1 " base64:AAEC=wQFBgcICQoLDA0ODw==", &e), -1);
	assert_contains(err, "bad base64");
	assert_int_equal(parse("initiator " UUID1 " base64:", &e), -1);
}

static void wrong_lengths(void **state)
{
	struct key_entry e;

	(void)state;
	/* 15 bytes */
	assert_int_equal(parse("initiator " UUID1 " 00112233445566778899aabbccddee", &e), -1);
	assert_contains(err, "too short: 15 bytes");
	/* 65 bytes */
	assert_int_equal(parse("initiator " UUID1 " " HEX64 "00", &e), -1);
	assert_contains(err, "too long");
	/* 66 bytes of base64 */
	assert_int_equal(parse("initiator " UUID1 " base64:"
			       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &e), -1);
	assert_contains(err, "too long");
	/* 8 bytes of base64 */
	assert_int_equal(parse("initiator " UUID1 " base64:AAAAAAAAAAA=", &e), -1);
	assert_contains(err, "too short");
}

static void wrong_field_count(void **state)
{
	struct key_entry e;

	(void)state;
	assert_int_equal(parse("initiator " UUID1, &e), -1);
	assert_contains(err, "expected 3 fields");
	assert_int_equal(parse("initiator", &e), -1);
	assert_int_equal(parse("initiator " UUID1 " " HEX16 " extra", &e), -1);
	assert_contains(err, "more");
}

static void errors_never_echo_material(void **state)
{
	struct key_entry e;

	(void)state;
	assert_int_equal(parse("initiator " UUID1 " 1122334455667788990011223344556Z", &e), -1);
	assert_null(strstr(err, "1122334455"));
	assert_int_equal(parse("initiator " UUID1 " base64:SECRETSECRETSECRETSECRET!", &e), -1);
	assert_null(strstr(err, "SECRET"));
	assert_int_equal(parse("initiator " UUID1 " " HEX64 "ab", &e), -1);
	assert_null(strstr(err, "00112233"));
	/* fields out of order: the material lands in the role or ID column */
	assert_int_equal(parse(HEX16 " initiator " UUID1, &e), -1);
	assert_contains(err, "bad role (32 characters without a '-', not shown");
	assert_null(strstr(err, "00112233"));
	assert_int_equal(parse("initiator " HEX16 " " UUID1, &e), -1);
	assert_contains(err, "bad key ID (32 characters without a '-', not shown");
	assert_null(strstr(err, "00112233"));
	assert_int_equal(parse("initiator " B64_32 " " HEX16, &e), -1);
	assert_null(strstr(err, "AAECAwQF"));
	/* what cannot be material is still quoted, to help find the line */
	assert_int_equal(parse("master " UUID1 " " HEX16, &e), -1);
	assert_contains(err, "bad role \"master\"");
	assert_int_equal(parse("initiator 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f1 " HEX16, &e), -1);
	assert_contains(err, "bad key ID \"0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f1\"");
}

/* An endless stream of newlines (a pipe that never ends). */
static ssize_t endless_read(void *cookie, char *buf, size_t size)
{
	(void)cookie;
	memset(buf, '\n', size);
	return (ssize_t)size;
}

static void read_input_bounded(void **state)
{
	cookie_io_functions_t io = { .read = endless_read };
	FILE *f = fopencookie(NULL, "r", io);
	struct keyfile kf;

	(void)state;
	assert_non_null(f);
	assert_int_equal(keyfile_read(f, "-", &kf, err, sizeof(err)), -1);
	assert_contains(err, "stdin:");
	assert_contains(err, "input larger than 33554432 bytes");
	assert_int_equal(kf.count, 0);
	fclose(f);
}

/* keyfile_read over an in-memory file */
static int read_str(const char *text, size_t len, struct keyfile *kf)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int r;

	assert_non_null(f);
	err[0] = '\0';
	r = keyfile_read(f, "keys.txt", kf, err, sizeof(err));
	fclose(f);
	return r;
}

static void read_good_file(void **state)
{
	static const char text[] =
		"# keys for dc-east\n"
		"\n"
		"initiator " UUID1 " " HEX16 "\n"
		"responder " UUID2 " base64:" B64_32 "\r\n"
		"initiator 00000000-0000-0000-0000-000000000003 " HEX64; /* no final newline */
	struct keyfile kf;

	(void)state;
	assert_int_equal(read_str(text, sizeof(text) - 1, &kf), 0);
	assert_int_equal(kf.count, 3);
	assert_int_equal(kf.keys[0].line, 3);
	assert_int_equal(kf.keys[1].line, 4);
	assert_int_equal(kf.keys[1].role, QKD_KEY_ROLE_RESPONDER);
	assert_int_equal(kf.keys[2].line, 5);
	assert_int_equal(kf.keys[2].len, 64);
	keyfile_free(&kf);
	assert_null(kf.keys);
	assert_int_equal(kf.count, 0);
}

static void read_names_bad_line(void **state)
{
	static const char text[] =
		"initiator " UUID1 " " HEX16 "\n"
		"\n"
		"initiator " UUID2 " " HEX16 "\n"
		"initator 00000000-0000-0000-0000-000000000003 " HEX16 "\n";
	struct keyfile kf;

	(void)state;
	assert_int_equal(read_str(text, sizeof(text) - 1, &kf), -1);
	assert_contains(err, "keys.txt:4: bad role \"initator\"");
	assert_null(kf.keys);	/* freed on error */
}

static void read_empty_input(void **state)
{
	static const char comments[] = "# nothing\n\n   \n";
	struct keyfile kf;

	(void)state;
	assert_int_equal(read_str("", 0, &kf), -1);
	assert_contains(err, "keys.txt: no keys in input");
	assert_int_equal(read_str(comments, sizeof(comments) - 1, &kf), -1);
	assert_contains(err, "no keys in input");
}

static void read_too_long_line(void **state)
{
	char *text = malloc(2048);
	size_t n;
	struct keyfile kf;

	(void)state;
	n = (size_t)sprintf(text, "initiator " UUID1 " " HEX16 "\n#");
	memset(text + n, 'x', KEYFILE_LINE_MAX);	/* '#' + 512 = 513 bytes */
	n += KEYFILE_LINE_MAX;
	n += (size_t)sprintf(text + n, "\ninitiator " UUID2 " " HEX16 "\n");
	assert_int_equal(read_str(text, n, &kf), -1);
	assert_contains(err, "keys.txt:2: line too long (max 512 bytes)");

	/* exactly KEYFILE_LINE_MAX bytes is fine (a comment here) */
	n = (size_t)sprintf(text, "initiator " UUID1 " " HEX16 "\n#");
	memset(text + n, 'x', KEYFILE_LINE_MAX - 1);
	n += KEYFILE_LINE_MAX - 1;
	text[n++] = '\n';
	assert_int_equal(read_str(text, n, &kf), 0);
	assert_int_equal(kf.count, 1);
	keyfile_free(&kf);
	free(text);
}

static void read_nul_byte(void **state)
{
	static const char text[] = "initiator " UUID1 " " HEX16 "\nini\0tiator\n";
	struct keyfile kf;

	(void)state;
	assert_int_equal(read_str(text, sizeof(text) - 1, &kf), -1);
	assert_contains(err, "keys.txt:2: NUL byte");
}

static void read_duplicate_ids(void **state)
{
	static const char text[] =
		"initiator " UUID1 " " HEX16 "\n"
		"initiator 00000000-0000-0000-0000-000000000003 " HEX16 "\n"
		"responder 0B6F2C3E-3D63-4C3F-9D7E-6A6C1B9E2F10 " HEX32 "\n";
	struct keyfile kf;

	(void)state;
	assert_int_equal(read_str(text, sizeof(text) - 1, &kf), -1);
	assert_contains(err, "keys.txt:3: duplicate key ID (first on line 1)");
}

static void read_many_keys_and_limit(void **state)
{
	size_t count = KEYFILE_MAX_KEYS + 1, i, n = 0;
	size_t linelen = strlen("initiator 00000000-0000-0000-0000-000000000000 " HEX16 "\n");
	char *text = malloc(count * linelen + 1);
	struct keyfile kf;

	(void)state;
	for (i = 0; i < count; i++)
		n += (size_t)sprintf(text + n, "initiator 00000000-0000-0000-0000-%012zx " HEX16 "\n", i);
	/* one more than a link can hold */
	assert_int_equal(read_str(text, n, &kf), -1);
	assert_contains(err, "keys.txt:65537: more than 65536 keys");
	/* exactly the limit (also exercises growing and duplicate search) */
	assert_int_equal(read_str(text, n - linelen, &kf), 0);
	assert_int_equal(kf.count, KEYFILE_MAX_KEYS);
	assert_int_equal(kf.keys[KEYFILE_MAX_KEYS - 1].id[15], 0xff);
	keyfile_free(&kf);
	free(text);
}

static void stdin_name(void **state)
{
	FILE *f = fmemopen((void *)"bad\n", 4, "r");
	struct keyfile kf;

	(void)state;
	assert_int_equal(keyfile_read(f, "-", &kf, err, sizeof(err)), -1);
	assert_contains(err, "stdin:1: expected 3 fields");
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_hex_initiator),
		cmocka_unit_test(good_base64_responder_upper_uuid_tabs),
		cmocka_unit_test(good_length_limits),
		cmocka_unit_test(blank_and_comment_lines),
		cmocka_unit_test(bad_role),
		cmocka_unit_test(bad_uuid),
		cmocka_unit_test(bad_hex),
		cmocka_unit_test(bad_base64),
		cmocka_unit_test(wrong_lengths),
		cmocka_unit_test(wrong_field_count),
		cmocka_unit_test(errors_never_echo_material),
		cmocka_unit_test(read_input_bounded),
		cmocka_unit_test(read_good_file),
		cmocka_unit_test(read_names_bad_line),
		cmocka_unit_test(read_empty_input),
		cmocka_unit_test(read_too_long_line),
		cmocka_unit_test(read_nul_byte),
		cmocka_unit_test(read_duplicate_ids),
		cmocka_unit_test(read_many_keys_and_limit),
		cmocka_unit_test(stdin_name),
	};

	return cmocka_run_group_tests_name("keyfile", tests, NULL, NULL);
}
