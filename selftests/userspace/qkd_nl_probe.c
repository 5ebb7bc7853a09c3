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
 * Everything but forge goes through libqkd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <openssl/sha.h>
#include "libqkd.h"
#include "uuid.h"

static int fail(struct qkd_nl *nl, const char *what, int r)
{
	const char *msg = nl ? qkd_nl_error(nl) : "";

	fprintf(stderr, "error: %s: %s%s%s\n", what, strerror(-r), msg[0] ? ": " : "", msg);
	return 1;
}

static void print_key(struct qkd_key_buf *k)
{
	char u[UUID_STR_LEN + 1];
	unsigned char md[SHA256_DIGEST_LENGTH];

	uuid_format(k->id, u);
	SHA256(k->material, k->len, md);
	printf("%s %u %02x%02x%02x%02x%02x%02x%02x%02x\n", u, k->len, md[0], md[1], md[2],
	       md[3], md[4], md[5], md[6], md[7]);
	qkd_key_wipe(k);
}

/*
 * forge stays raw on purpose: it plays a rogue local process that unicasts
 * a fake KEY_WANTED_NTF from its own unconnected socket to another
 * process's netlink port.  libqkd has (and should have) no call for that:
 * its sockets are connect()ed to the kernel and only ever talk to port 0.
 * The library only resolves the family id.
 */
static int forge(uint16_t fam, uint32_t port, const char *link, const uint8_t *id)
{
	char buf[512];	/* a link name and an ID */
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = port };
	struct mnl_socket *sock;
	struct nlmsghdr *h;
	struct genlmsghdr *g;
	ssize_t n;
	int err;

	sock = mnl_socket_open(NETLINK_GENERIC);
	if (!sock || mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID))
		return fail(NULL, "socket", -errno);
	h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = fam;
	h->nlmsg_flags = 0;	/* a notification: no request, no ack */
	g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->cmd = QKD_CMD_KEY_WANTED_NTF;
	g->version = QKD_FAMILY_VERSION;
	if (!mnl_attr_put_strz_check(h, sizeof(buf), QKD_A_LINK_NAME, link) ||
	    !mnl_attr_put_check(h, sizeof(buf), QKD_A_KEY_ID, QKD_KEY_ID_LEN, id)) {
		mnl_socket_close(sock);
		return fail(NULL, "forge", -EMSGSIZE);
	}
	n = sendto(mnl_socket_get_fd(sock), h, h->nlmsg_len, 0, (struct sockaddr *)&to,
		   sizeof(to));
	err = errno;
	mnl_socket_close(sock);
	if (n < 0 && err == ECONNREFUSED) {
		printf("refused\n");
		return 0;
	}
	if (n < 0)
		return fail(NULL, "sendto", -err);
	printf("delivered\n");
	return 0;
}

static int run(struct qkd_nl *nl, int argc, char **argv)
{
	const char *link = argv[2];
	struct qkd_link_info info;
	struct qkd_link_opts o;
	struct qkd_key_buf k;
	uint8_t id[QKD_KEY_ID_LEN];
	int r;

	if (!strcmp(argv[1], "get")) {
		r = qkd_link_get(nl, link, &info);
		if (r)
			return fail(nl, "LINK_GET", r);
		printf("initiator=%llu buffered=%llu injected=%llu wanted=%llu lowwm=%llu\n",
		       (unsigned long long)info.stats.v[QKD_STATS_A_INITIATOR_KEYS],
		       (unsigned long long)info.stats.v[QKD_STATS_A_KEYS_BUFFERED],
		       (unsigned long long)info.stats.v[QKD_STATS_A_INJECTED],
		       (unsigned long long)info.stats.v[QKD_STATS_A_WANTED],
		       (unsigned long long)info.stats.v[QKD_STATS_A_LOW_WATERMARK]);
		return 0;
	}
	if (!strcmp(argv[1], "take") || !strcmp(argv[1], "take-id")) {
		int by_id = argv[1][4] == '-';

		if (by_id && (argc != 5 || uuid_parse(argv[3], strlen(argv[3]), id))) {
			fprintf(stderr, "take-id LINK UUID MS\n");
			return 2;
		}
		r = qkd_key_take(nl, link, by_id ? id : NULL, by_id ? atoi(argv[4]) : -1, &k);
		if (r)
			return fail(nl, "KEY_TAKE", r);
		print_key(&k);
		return 0;
	}
	if (!strcmp(argv[1], "new")) {	/* new LINK LOCAL REMOTE: no watermark */
		if (argc != 5) {
			fprintf(stderr, "new LINK LOCAL_SAE REMOTE_SAE\n");
			return 2;
		}
		qkd_link_opts_init(&o, argv[3], argv[4]);
		r = qkd_link_new(nl, link, &o);
		return r ? fail(nl, "LINK_NEW", r) : 0;
	}
	if (!strcmp(argv[1], "forge")) {
		if (argc != 5 || uuid_parse(argv[4], strlen(argv[4]), id)) {
			fprintf(stderr, "forge PORT LINK UUID\n");
			return 2;
		}
		return forge(qkd_nl_family(nl), (uint32_t)strtoul(argv[2], NULL, 0), argv[3], id);
	}
	if (!strcmp(argv[1], "del")) {
		r = qkd_link_del(nl, link);
		return r ? fail(nl, "LINK_DEL", r) : 0;
	}
	fprintf(stderr, "unknown command %s\n", argv[1]);
	return 2;
}

int main(int argc, char **argv)
{
	char err[QKD_NL_ERR_MAX];
	struct qkd_nl *nl;
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: %s get|take|take-id|new|del|forge ...\n", argv[0]);
		return 2;
	}
	r = qkd_nl_open(&nl, 0, err);
	if (r) {
		fprintf(stderr, "error: family qkd: %s: %s\n", strerror(-r), err);
		return 1;
	}
	r = run(nl, argc, argv);
	qkd_nl_free(nl);
	return r;
}
