// SPDX-License-Identifier: GPL-2.0-only
/*
 * qkdctl key inject | take, and qkdctl flush.
 *
 * Key material passes through this file but never leaves it: it is not
 * printed, and every buffer that held it (stdio buffer, parsed keys,
 * netlink request and reply) is wiped before it is released.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include <netlink/genl/genl.h>
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

/* Attribute bytes of one key nest, with headroom for alignment. */
#define KEY_NEST_SIZE	(4 + 4 + QKD_KEY_ID_LEN + 4 + QKD_KEY_MAX_LEN + 8 + 16)

static int put_key(struct nl_msg *msg, const struct key_entry *k)
{
	struct nlattr *nest = nla_nest_start(msg, QKD_A_KEY);

	if (!nest ||
	    nla_put(msg, QKD_KEY_A_ID, QKD_KEY_ID_LEN, k->id) < 0 ||
	    nla_put(msg, QKD_KEY_A_MATERIAL, k->len, k->material) < 0 ||
	    nla_put_u8(msg, QKD_KEY_A_ROLE, k->role) < 0)
		return -1;
	nla_nest_end(msg, nest);
	return 0;
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

static int key_inject(int argc, char **argv)
{
	static char iobuf[8192];
	struct inject_args a;
	struct keyfile kf;
	struct nl_status st = { 0 };
	struct qkd_nl q;
	char err[512], what[64];
	size_t sent = 0, n_init = 0, i;
	FILE *in;
	int ret;

	ret = args_key_inject(argc, argv, &a, err, sizeof(err));
	if (ret == ARGS_HELP) {
		key_usage(stdout);
		return EXIT_OK;
	}
	if (ret != ARGS_OK)
		return report_usage_error("key inject", err, key_usage);
	snprintf(what, sizeof(what), "key inject %s", a.name);

	in = open_input(a.file, iobuf, sizeof(iobuf));
	if (!in) {
		fprintf(stderr, "qkdctl: %s: %s: %s\n", what, a.file, strerror(errno));
		return EXIT_BADINPUT;
	}
	ret = keyfile_read(in, a.file, &kf, err, sizeof(err));
	if (in != stdin)
		fclose(in);
	secure_wipe(iobuf, sizeof(iobuf));
	if (ret < 0) {
		fprintf(stderr, "qkdctl: %s: %s\n", what, err);
		return EXIT_BADINPUT;
	}

	ret = qkd_open_or_report(&q, what);
	if (ret)
		goto out_keys;
	while (sent < kf.count) {
		size_t batch = kf.count - sent;
		struct nl_msg *msg;

		if (batch > QKD_INJECT_MAX_KEYS)
			batch = QKD_INJECT_MAX_KEYS;
		msg = qkd_nl_msg_size(&q, QKD_CMD_KEY_INJECT, 0,
				      256 + batch * KEY_NEST_SIZE);
		if (!msg || nla_put_string(msg, QKD_A_LINK_NAME, a.name) < 0) {
			nlmsg_free(msg);
			st.err = ENOMEM;
			goto fail;
		}
		for (i = sent; i < sent + batch; i++) {
			if (put_key(msg, &kf.keys[i]) < 0) {
				st.err = EMSGSIZE;
				nl_msg_free_wiped(msg);
				goto fail;
			}
		}
		ret = nl_transact(q.sk, msg, NULL, NULL, &st);
		nl_msg_free_wiped(msg);
		if (ret < 0)
			goto fail;
		sent += batch;
	}
	for (i = 0; i < kf.count; i++)
		n_init += kf.keys[i].role == QKD_KEY_ROLE_INITIATOR;
	if (opts.json) {
		json_t *o = json_object();

		json_object_set_new(o, "link", json_string(a.name));
		json_object_set_new(o, "injected", json_integer((json_int_t)kf.count));
		json_object_set_new(o, "initiator", json_integer((json_int_t)n_init));
		json_object_set_new(o, "responder", json_integer((json_int_t)(kf.count - n_init)));
		json_emit(o);
	} else {
		printf("injected %zu key%s into %s (%zu initiator, %zu responder)\n",
		       kf.count, kf.count == 1 ? "" : "s", a.name, n_init, kf.count - n_init);
	}
	ret = EXIT_OK;
	goto out;

fail:
	report_nl_error(what, &st);
	/* Batches are all-or-nothing each, the whole input is not. */
	if (sent)
		fprintf(stderr, "qkdctl: %s: %zu of %zu keys (input lines %u-%u) were injected before the failure\n",
			what, sent, kf.count, kf.keys[0].line, kf.keys[sent - 1].line);
	else
		fprintf(stderr, "qkdctl: %s: no keys were injected\n", what);
	ret = EXIT_FAIL;
out:
	qkd_nl_close(&q);
out_keys:
	keyfile_free(&kf);
	return ret;
}

struct take_result {
	bool got;
	uint8_t id[QKD_KEY_ID_LEN];
	uint8_t role;
	unsigned int len;
	uint8_t digest[32];
	bool has_injected, has_expires;
	uint64_t injected_ns, expires_ns;
};

static int take_cb(struct nlmsghdr *nlh, void *arg)
{
	struct take_result *r = arg;
	struct nlattr *tb[QKD_A_MAX + 1], *kb[QKD_KEY_A_MAX + 1];
	struct nlattr *mat;
	unsigned int dlen = 0;

	if (genlmsg_parse(nlh, 0, tb, QKD_A_MAX, NULL) < 0 || !tb[QKD_A_KEY] ||
	    nla_parse_nested(kb, QKD_KEY_A_MAX, tb[QKD_A_KEY], NULL) < 0)
		return -EBADMSG;
	mat = kb[QKD_KEY_A_MATERIAL];
	if (!kb[QKD_KEY_A_ID] || nla_len(kb[QKD_KEY_A_ID]) != QKD_KEY_ID_LEN || !mat)
		return -EBADMSG;
	memcpy(r->id, nla_data(kb[QKD_KEY_A_ID]), QKD_KEY_ID_LEN);
	nla_get_u8_checked(kb[QKD_KEY_A_ROLE], &r->role);
	r->has_injected = nla_get_u64_checked(kb[QKD_KEY_A_INJECTED], &r->injected_ns);
	r->has_expires = nla_get_u64_checked(kb[QKD_KEY_A_EXPIRES], &r->expires_ns);
	r->len = (unsigned int)nla_len(mat);
	/* Hash in place: the material is never copied; the receive buffer
	 * is wiped by nl_transact. */
	if (!EVP_Digest(nla_data(mat), (size_t)nla_len(mat), r->digest, &dlen,
			EVP_sha256(), NULL) || dlen != sizeof(r->digest))
		return -EIO;
	r->got = true;
	return 0;
}

static int key_take(int argc, char **argv)
{
	struct take_args a;
	struct take_result r = { 0 };
	struct nl_status st = { 0 };
	struct qkd_nl q;
	struct nl_msg *msg;
	char err[256], what[64], id[UUID_STR_LEN + 1], dig[65], t[64];
	int ret;

	ret = args_key_take(argc, argv, &a, err, sizeof(err));
	if (ret == ARGS_HELP) {
		key_usage(stdout);
		return EXIT_OK;
	}
	if (ret != ARGS_OK)
		return report_usage_error("key take", err, key_usage);
	snprintf(what, sizeof(what), "key take %s", a.name);
	ret = qkd_open_or_report(&q, what);
	if (ret)
		return ret;
	msg = qkd_nl_msg(&q, QKD_CMD_KEY_TAKE, 0);
	if (!msg || nla_put_string(msg, QKD_A_LINK_NAME, a.name) < 0 ||
	    (a.has_id && nla_put(msg, QKD_A_KEY_ID, QKD_KEY_ID_LEN, a.id) < 0) ||
	    (a.wait_ms.set && nla_put_u32(msg, QKD_A_WAIT_MS, a.wait_ms.val) < 0)) {
		st.err = ENOMEM;
		ret = report_nl_error(what, &st);
		goto out;
	}
	if (nl_transact(q.sk, msg, take_cb, &r, &st) < 0 || !r.got) {
		if (!st.err)
			st.err = EBADMSG;
		ret = report_nl_error(what, &st);
		goto out;
	}
	uuid_format(r.id, id);
	hex_encode(r.digest, sizeof(r.digest), dig);
	if (opts.json) {
		json_t *o = json_object();

		json_object_set_new(o, "link", json_string(a.name));
		json_object_set_new(o, "key_id", json_string(id));
		json_object_set_new(o, "role", json_string(role_name(r.role)));
		json_object_set_new(o, "length", json_integer(r.len));
		json_object_set_new(o, "sha256", json_string(dig));
		if (r.has_injected)
			json_object_set_new(o, "injected_ns", json_integer((json_int_t)r.injected_ns));
		if (r.has_expires)
			json_object_set_new(o, "expires_ns", json_integer((json_int_t)r.expires_ns));
		json_emit(o);
	} else {
		printf("key %s role %s length %u sha256 %s", id, role_name(r.role), r.len, dig);
		if (r.has_expires) {
			format_time_ns(r.expires_ns, t, sizeof(t));
			printf(" expires %s", t);
		}
		putchar('\n');
	}
	ret = EXIT_OK;
out:
	secure_wipe(&r, sizeof(r));
	nl_msg_free_wiped(msg);
	qkd_nl_close(&q);
	return ret;
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

int cmd_flush(int argc, char **argv)
{
	struct flush_args a;
	struct nl_status st = { 0 };
	struct qkd_nl q;
	struct nl_msg *msg;
	char err[256], what[64];
	int ret = args_flush(argc, argv, &a, err, sizeof(err));

	if (ret == ARGS_HELP) {
		flush_usage(stdout);
		return EXIT_OK;
	}
	if (ret != ARGS_OK)
		return report_usage_error("flush", err, flush_usage);
	snprintf(what, sizeof(what), "flush %s", a.all ? "all" : a.name);
	ret = qkd_open_or_report(&q, what);
	if (ret)
		return ret;
	msg = qkd_nl_msg(&q, QKD_CMD_FLUSH, 0);
	if (!msg || (!a.all && nla_put_string(msg, QKD_A_LINK_NAME, a.name) < 0) ||
	    (a.role && nla_put_u8(msg, QKD_A_KEY_ROLE, a.role) < 0)) {
		st.err = ENOMEM;
		ret = report_nl_error(what, &st);
	} else if (nl_transact(q.sk, msg, NULL, NULL, &st) < 0) {
		ret = report_nl_error(what, &st);
	} else {
		ret = EXIT_OK;
	}
	nlmsg_free(msg);
	qkd_nl_close(&q);
	return ret;
}
