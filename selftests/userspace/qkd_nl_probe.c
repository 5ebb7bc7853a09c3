// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * qkd_nl_probe: a minimal "taker" for guest tests of qkd-agent.
 *   qkd_nl_probe get LINK            -> "initiator=N buffered=N injected=N wanted=N lowwm=N"
 *   qkd_nl_probe take LINK           -> "ID LEN SHA256[0:8]"  (oldest initiator key)
 *   qkd_nl_probe take-id LINK UUID MS -> "ID LEN SHA256[0:8]" (responder key by ID,
 *                                        waiting up to MS for the agent)
 *   qkd_nl_probe new LINK LOCAL_SAE REMOTE_SAE   (no low watermark)
 *   qkd_nl_probe del LINK
 *   qkd_nl_probe forge PORT LINK UUID  -> "refused" or "delivered": unicast
 *                                        a fake KEY_WANTED_NTF to netlink port
 *                                        PORT (as a rogue local process would)
 * Prints a fingerprint of the key material, never the material.
 * Exit 0 on success, 1 with "error: ... (extack)" on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include "uuid.h"
#include "../../include/uapi/linux/qkd.h"

static struct mnl_socket *nl;
static char buf[65536];
static uint16_t fam;
static char extack[256];

static struct nlmsghdr *hdr(uint16_t type, uint8_t cmd, uint8_t ver, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	h->nlmsg_seq = (uint32_t)time(NULL);
	g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->cmd = cmd;
	g->version = ver;
	return h;
}

static int ext_cb(const struct nlattr *a, void *d)
{
	(void)d;
	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG)
		snprintf(extack, sizeof(extack), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int run(struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
	uint32_t seq = h->nlmsg_seq;
	int r;

	if (mnl_socket_sendto(nl, h, h->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		struct nlmsghdr *m;
		int left;

		r = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (r < 0)
			return -errno;
		left = r;
		for (m = (struct nlmsghdr *)buf; mnl_nlmsg_ok(m, left); m = mnl_nlmsg_next(m, &left)) {
			if (m->nlmsg_seq != seq)
				continue;
			if (m->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = mnl_nlmsg_get_payload(m);

				if (m->nlmsg_flags & NLM_F_ACK_TLVS) {
					size_t off = sizeof(*e);

					if (!(m->nlmsg_flags & NLM_F_CAPPED))
						off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
					mnl_attr_parse(m, (unsigned)off, ext_cb, NULL);
				}
				return e->error;
			}
			if (m->nlmsg_type == NLMSG_DONE)
				return 0;
			if (cb)
				cb(m, data);
		}
	}
}

static int fam_attr(const struct nlattr *a, void *d)
{
	if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
		*(uint16_t *)d = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static int fam_cb(const struct nlmsghdr *m, void *d)
{
	return mnl_attr_parse(m, sizeof(struct genlmsghdr), fam_attr, d);
}

struct out {
	uint64_t st[QKD_STATS_A_MAX + 1];
	uint8_t id[16];
	uint8_t mat[QKD_KEY_MAX_LEN];
	size_t len;
	int have_key;
};

static int stats_attr(const struct nlattr *a, void *d)
{
	struct out *o = d;

	if (mnl_attr_get_type(a) <= QKD_STATS_A_MAX && mnl_attr_get_payload_len(a) == 8)
		o->st[mnl_attr_get_type(a)] = mnl_attr_get_u64(a);
	return MNL_CB_OK;
}

static int key_attr(const struct nlattr *a, void *d)
{
	struct out *o = d;

	if (mnl_attr_get_type(a) == QKD_KEY_A_ID && mnl_attr_get_payload_len(a) == 16)
		memcpy(o->id, mnl_attr_get_payload(a), 16);
	if (mnl_attr_get_type(a) == QKD_KEY_A_MATERIAL &&
	    mnl_attr_get_payload_len(a) <= QKD_KEY_MAX_LEN) {
		o->len = mnl_attr_get_payload_len(a);
		memcpy(o->mat, mnl_attr_get_payload(a), o->len);
		o->have_key = 1;
	}
	return MNL_CB_OK;
}

static int top_attr(const struct nlattr *a, void *d)
{
	if (mnl_attr_get_type(a) == QKD_A_STATS)
		mnl_attr_parse_nested(a, stats_attr, d);
	if (mnl_attr_get_type(a) == QKD_A_KEY)
		mnl_attr_parse_nested(a, key_attr, d);
	return MNL_CB_OK;
}

static int top_cb(const struct nlmsghdr *m, void *d)
{
	return mnl_attr_parse(m, sizeof(struct genlmsghdr), top_attr, d);
}

static int fail(const char *what, int r)
{
	fprintf(stderr, "error: %s: %s%s%s\n", what, strerror(-r), extack[0] ? ": " : "", extack);
	return 1;
}

static void print_key(struct out *o)
{
	char u[UUID_STR_LEN + 1];
	unsigned char md[SHA256_DIGEST_LENGTH];

	uuid_format(o->id, u);
	SHA256(o->mat, o->len, md);
	OPENSSL_cleanse(o->mat, sizeof(o->mat));
	printf("%s %zu %02x%02x%02x%02x%02x%02x%02x%02x\n", u, o->len, md[0], md[1], md[2],
	       md[3], md[4], md[5], md[6], md[7]);
}

int main(int argc, char **argv)
{
	struct nlmsghdr *h;
	struct out o;
	int r, one = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: %s get|take|take-id|del LINK [UUID MS]\n", argv[0]);
		return 2;
	}
	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID))
		return fail("socket", -errno);
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	h = hdr(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0);
	mnl_attr_put_strz(h, CTRL_ATTR_FAMILY_NAME, QKD_FAMILY_NAME);
	r = run(h, fam_cb, &fam);
	if (r || !fam)
		return fail("family qkd", r ? r : -ENOENT);
	memset(&o, 0, sizeof(o));
	if (!strcmp(argv[1], "get")) {
		h = hdr(fam, QKD_CMD_LINK_GET, QKD_FAMILY_VERSION, 0);
		mnl_attr_put_strz(h, QKD_A_LINK_NAME, argv[2]);
		r = run(h, top_cb, &o);
		if (r)
			return fail("LINK_GET", r);
		printf("initiator=%llu buffered=%llu injected=%llu wanted=%llu lowwm=%llu\n",
		       (unsigned long long)o.st[QKD_STATS_A_INITIATOR_KEYS],
		       (unsigned long long)o.st[QKD_STATS_A_KEYS_BUFFERED],
		       (unsigned long long)o.st[QKD_STATS_A_INJECTED],
		       (unsigned long long)o.st[QKD_STATS_A_WANTED],
		       (unsigned long long)o.st[QKD_STATS_A_LOW_WATERMARK]);
		return 0;
	}
	if (!strcmp(argv[1], "take") || !strcmp(argv[1], "take-id")) {
		int by_id = argv[1][4] == '-';
		uint8_t id[16];

		h = hdr(fam, QKD_CMD_KEY_TAKE, QKD_FAMILY_VERSION, 0);
		mnl_attr_put_strz(h, QKD_A_LINK_NAME, argv[2]);
		if (by_id) {
			if (argc != 5 || uuid_parse(argv[3], strlen(argv[3]), id)) {
				fprintf(stderr, "take-id LINK UUID MS\n");
				return 2;
			}
			mnl_attr_put(h, QKD_A_KEY_ID, 16, id);
			mnl_attr_put_u8(h, QKD_A_KEY_ROLE, QKD_KEY_ROLE_RESPONDER);
			mnl_attr_put_u32(h, QKD_A_WAIT_MS, (uint32_t)atoi(argv[4]));
		} else {
			mnl_attr_put_u8(h, QKD_A_KEY_ROLE, QKD_KEY_ROLE_INITIATOR);
		}
		r = run(h, top_cb, &o);
		if (r)
			return fail("KEY_TAKE", r);
		if (!o.have_key)
			return fail("KEY_TAKE reply without QKD_A_KEY", -EPROTO);
		print_key(&o);
		return 0;
	}
	if (!strcmp(argv[1], "new")) {	/* new LINK LOCAL REMOTE: no watermark */
		if (argc != 5) {
			fprintf(stderr, "new LINK LOCAL_SAE REMOTE_SAE\n");
			return 2;
		}
		h = hdr(fam, QKD_CMD_LINK_NEW, QKD_FAMILY_VERSION, 0);
		mnl_attr_put_strz(h, QKD_A_LINK_NAME, argv[2]);
		mnl_attr_put_strz(h, QKD_A_LOCAL_SAE_ID, argv[3]);
		mnl_attr_put_strz(h, QKD_A_REMOTE_SAE_ID, argv[4]);
		r = run(h, NULL, NULL);
		return r ? fail("LINK_NEW", r) : 0;
	}
	if (!strcmp(argv[1], "forge")) {
		struct sockaddr_nl to = { .nl_family = AF_NETLINK };
		uint8_t id[16];
		ssize_t n;

		if (argc != 5 || uuid_parse(argv[4], strlen(argv[4]), id)) {
			fprintf(stderr, "forge PORT LINK UUID\n");
			return 2;
		}
		to.nl_pid = (uint32_t)strtoul(argv[2], NULL, 0);
		h = hdr(fam, QKD_CMD_KEY_WANTED_NTF, QKD_FAMILY_VERSION, 0);
		h->nlmsg_flags = 0;
		mnl_attr_put_strz(h, QKD_A_LINK_NAME, argv[3]);
		mnl_attr_put(h, QKD_A_KEY_ID, 16, id);
		n = sendto(mnl_socket_get_fd(nl), h, h->nlmsg_len, 0, (struct sockaddr *)&to,
			   sizeof(to));
		if (n < 0 && errno == ECONNREFUSED) {
			printf("refused\n");
			return 0;
		}
		if (n < 0)
			return fail("sendto", -errno);
		printf("delivered\n");
		return 0;
	}
	if (!strcmp(argv[1], "del")) {
		h = hdr(fam, QKD_CMD_LINK_DEL, QKD_FAMILY_VERSION, 0);
		mnl_attr_put_strz(h, QKD_A_LINK_NAME, argv[2]);
		r = run(h, NULL, NULL);
		return r ? fail("LINK_DEL", r) : 0;
	}
	fprintf(stderr, "unknown command %s\n", argv[1]);
	return 2;
}
