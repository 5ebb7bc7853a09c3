// SPDX-License-Identifier: GPL-2.0-only
/*
 * qkdctl key inject | take, and qkdctl flush.
 *
 * Key material passes through this file but never leaves it: it is not
 * printed, and every buffer that held it is wiped before it is released:
 * here the stdio buffer, the parsed keys and a taken key; in libqkd the
 * netlink request and reply.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "args.h"
#include "keyfile.h"
#include "qkdctl.h"
#include "util.h"

static void key_usage(FILE *out)
{
	fputs("Usage: qkdctl [-j] key inject NAME [file PATH|-]\n"
	      "       qkdctl [-j] key take NAME [id UUID [wait MS]]\n"
	      "Input of inject, one key per line (blank lines and # comments ignored):\n"
	      "  ROLE KEY_ID MATERIAL\n"
	      "  ROLE      initiator | responder\n"
	      "  KEY_ID    UUID, e.g. 0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10\n"
	      "  MATERIAL  16..64 bytes as hex digits, or base64:BASE64\n"
	      "The whole input is checked before anything is sent; keys are sent in\n"
	      "batches of up to 256 (each batch all-or-nothing).\n"
	      "take removes one key from the link and prints its ID, role, length and\n"
	      "SHA-256 digest, never the key itself (for tests and audits).\n", out);
}

static void flush_usage(FILE *out)
{
	fputs("Usage: qkdctl flush { all | link NAME } [role initiator|responder]\n"
	      "  Drop buffered keys of one link, or of every link in the namespace.\n", out);
}

static FILE *open_input(const char *file, char *iobuf, size_t iosize)
{
	FILE *f;
	struct stat sb;

	if (!strcmp(file, "-"))
		f = stdin;
	else
		f = fopen(file, "r");
	if (!f)
		return NULL;
	/* Our buffer, so that the bytes stdio read can be wiped. */
	setvbuf(f, iobuf, _IOFBF, iosize);
	if (f != stdin && fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (sb.st_mode & 0077))
		fprintf(stderr, "qkdctl: warning: key file %s is accessible to group/others\n",
			file);
	return f;
}

struct inject {
	const char *name;
	const struct keyfile *kf;
	size_t sent;		/* keys the module accepted */
	size_t batch_end;	/* end of the batch in flight */
	bool failed;		/* a batch failed (not the open) */
	bool unknown;		/* ... with no answer: it may be in */
};

/* Send the keys in batches, each all-or-nothing, as they sit in kf. */
static int inject_run(struct qkd_nl *nl, void *arg)
{
	struct qkd_key_ref refs[QKD_INJECT_MAX_KEYS];
	struct inject *in = arg;
	const struct keyfile *kf = in->kf;
	size_t i;
	int ret;

	while (in->sent < kf->count) {
		in->batch_end = in->sent + QKD_INJECT_MAX_KEYS;
		if (in->batch_end > kf->count)
			in->batch_end = kf->count;
		for (i = in->sent; i < in->batch_end; i++)
			refs[i - in->sent] = (struct qkd_key_ref){
				.id = kf->keys[i].id,
				.material = kf->keys[i].material,
				.len = kf->keys[i].len,
				.role = kf->keys[i].role,
			};
		ret = qkd_key_inject_refs(nl, in->name, refs,
					  (unsigned int)(in->batch_end - in->sent));
		if (ret) {
			in->failed = true;
			in->unknown = qkd_nl_outcome_unknown(nl);
			return ret;
		}
		in->sent = in->batch_end;
	}
	return 0;
}

static int key_inject(int argc, char **argv)
{
	static char iobuf[8192];
	struct inject_args a;
	struct keyfile kf;
	struct inject in = { 0 };
	char err[512], what[64];
	size_t n_init = 0, i;
	FILE *f;
	int ret;

	ret = args_key_inject(argc, argv, &a, err, sizeof(err));
	if (ret != ARGS_OK)
		return args_exit(ret, "key inject", err, key_usage);
	snprintf(what, sizeof(what), "key inject %s", a.name);

	f = open_input(a.file, iobuf, sizeof(iobuf));
	if (!f) {
		fprintf(stderr, "qkdctl: %s: %s: %s\n", what, a.file, strerror(errno));
		return EXIT_BADINPUT;
	}
	ret = keyfile_read(f, a.file, &kf, err, sizeof(err));
	if (f != stdin)
		fclose(f);
	secure_wipe(iobuf, sizeof(iobuf));
	if (ret < 0) {
		fprintf(stderr, "qkdctl: %s: %s\n", what, err);
		return EXIT_BADINPUT;
	}

	in.name = a.name;
	in.kf = &kf;
	ret = qkd_run(what, inject_run, &in);
	if (ret == EXIT_OK) {
		for (i = 0; i < kf.count; i++)
			n_init += kf.keys[i].role == QKD_KEY_ROLE_INITIATOR;
		if (opts.json) {
			json_t *o = json_object();

			json_object_set_new(o, "link", json_string(a.name));
			json_object_set_new(o, "injected", json_integer((json_int_t)kf.count));
			json_object_set_new(o, "initiator", json_integer((json_int_t)n_init));
			json_object_set_new(o, "responder",
					    json_integer((json_int_t)(kf.count - n_init)));
			json_emit(o);
		} else {
			printf("injected %zu key%s into %s (%zu initiator, %zu responder)\n",
			       kf.count, kf.count == 1 ? "" : "s", a.name, n_init,
			       kf.count - n_init);
		}
	} else if (in.failed) {
		/* Batches are all-or-nothing each, the whole input is not. */
		if (in.sent)
			fprintf(stderr, "qkdctl: %s: %zu of %zu keys (input lines %u-%u) were injected before the failure\n",
				what, in.sent, kf.count, kf.keys[0].line,
				kf.keys[in.sent - 1].line);
		else if (!in.unknown)
			fprintf(stderr, "qkdctl: %s: no keys were injected\n", what);
		/* Never send those again: the module may hold them. */
		if (in.unknown)
			fprintf(stderr, "qkdctl: %s: the module did not answer for input lines %u-%u: they may have been injected\n",
				what, kf.keys[in.sent].line, kf.keys[in.batch_end - 1].line);
	}
	keyfile_free(&kf);
	return ret;
}

struct take {
	const char *what;
	const struct take_args *a;
};

static int take_run(struct qkd_nl *nl, void *arg)
{
	const struct take *t = arg;
	const struct take_args *a = t->a;
	struct qkd_key_buf key;
	char id[UUID_STR_LEN + 1], dig[65], tm[64];
	uint8_t digest[32];
	unsigned int dlen = 0;
	const char *role;
	bool hashed;
	int ret;

	ret = qkd_key_take(nl, a->name, a->has_id ? a->id : NULL,
			   a->wait_ms.set ? (int64_t)a->wait_ms.val : -1, &key);
	if (ret)
		return ret;
	/* The digest, never the key; libqkd wiped its receive buffer. */
	hashed = EVP_Digest(key.material, key.len, digest, &dlen, EVP_sha256(), NULL) &&
		 dlen == sizeof(digest);
	if (!hashed) {
		qkd_key_wipe(&key);
		return report_error(t->what, EIO, "SHA-256 of the key failed");
	}
	uuid_format(key.id, id);
	role = role_label(key.role);
	hex_encode(digest, sizeof(digest), dig);
	if (opts.json) {
		json_t *o = json_object();

		json_object_set_new(o, "link", json_string(a->name));
		json_object_set_new(o, "key_id", json_string(id));
		json_object_set_new(o, "role", json_string(role));
		json_object_set_new(o, "length", json_integer(key.len));
		json_object_set_new(o, "sha256", json_string(dig));
		if (key.present & (1ULL << QKD_KEY_A_INJECTED))
			json_object_set_new(o, "injected_ns", json_integer((json_int_t)key.injected_ns));
		if (key.present & (1ULL << QKD_KEY_A_EXPIRES))
			json_object_set_new(o, "expires_ns", json_integer((json_int_t)key.expires_ns));
		json_emit(o);
	} else {
		printf("key %s role %s length %u sha256 %s", id, role, key.len, dig);
		if (key.present & (1ULL << QKD_KEY_A_EXPIRES)) {
			format_time_ns(key.expires_ns, tm, sizeof(tm));
			printf(" expires %s", tm);
		}
		putchar('\n');
	}
	qkd_key_wipe(&key);
	return 0;
}

static int key_take(int argc, char **argv)
{
	struct take_args a;
	struct take t = { .a = &a };
	char err[256], what[64];
	int ret;

	ret = args_key_take(argc, argv, &a, err, sizeof(err));
	if (ret != ARGS_OK)
		return args_exit(ret, "key take", err, key_usage);
	snprintf(what, sizeof(what), "key take %s", a.name);
	t.what = what;
	return qkd_run(what, take_run, &t);
}

int cmd_key(int argc, char **argv)
{
	const char *sub;
	char err[128];

	if (argc == 0)
		return report_usage_error("key", "missing command (inject or take)", key_usage);
	sub = argv[0];
	argc--;
	argv++;
	if (!strcmp(sub, "help") || !strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		key_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(sub, "inject"))
		return key_inject(argc, argv);
	if (!strcmp(sub, "take"))
		return key_take(argc, argv);
	snprintf(err, sizeof(err), "unknown command \"%s\"", sub);
	return report_usage_error("key", err, key_usage);
}

static int flush_run(struct qkd_nl *nl, void *arg)
{
	const struct flush_args *a = arg;

	return qkd_flush(nl, a->all ? NULL : a->name, a->role);
}

int cmd_flush(int argc, char **argv)
{
	struct flush_args a;
	char err[256], what[64];
	int ret = args_flush(argc, argv, &a, err, sizeof(err));

	if (ret != ARGS_OK)
		return args_exit(ret, "flush", err, flush_usage);
	snprintf(what, sizeof(what), "flush %s", a.all ? "all" : a.name);
	return qkd_run(what, flush_run, &a);
}
