// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness for everything in libqkd that reads bytes from the
 * kernel: each parser on the input as one message (in a heap buffer of
 * exactly its size, so ASan sees any read past it), and the request loop
 * with the input as the reply datagram of a take, a dump and a plain
 * request (through the fake kernel).  Every call must return; a key
 * buffer handed back on failure must be wiped.
 *
 *   make -C lib fuzz FUZZ_SECONDS=60
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "fake_kernel.h"

static struct qkd_nl *nl;

/* The input as one message, its header made to agree with its size. */
static struct nlmsghdr *as_message(const uint8_t *data, size_t size,
				   int cmd)
{
	struct nlmsghdr *m;

	if (size < NLMSG_HDRLEN || size > 65536)
		return NULL;
	m = malloc(size);
	memcpy(m, data, size);
	m->nlmsg_len = (uint32_t)size;
	if (cmd >= 0 && size >= NLMSG_HDRLEN + GENL_HDRLEN)
		((struct genlmsghdr *)NLMSG_DATA(m))->cmd = (uint8_t)cmd;
	return m;
}

static void fuzz_parsers(const uint8_t *data, size_t size)
{
	static const uint8_t id[QKD_KEY_ID_LEN] = { 1 };
	char msg[QKD_NL_ERR_MAX];
	struct qkd_link_info li;
	struct qkd_stats_buf st;
	struct qkd_audit_buf au;
	struct qkd_key_buf k;
	struct qkd_ntf n;
	struct nlmsghdr *m;
	uint32_t off, miss;

	if ((m = as_message(data, size, -1))) {
		qkd_nl_parse_ack(m, msg, &off, &miss);
		qkd_ntf_parse(m, m->nlmsg_type, &n);
		free(m);
	}
	if ((m = as_message(data, size, QKD_CMD_KEY_TAKE))) {
		if (qkd_key_parse_take(m, (data[0] & 1) ? id : NULL,
				       QKD_KEY_ROLE_INITIATOR, &k) &&
		    !fake_all_zero(&k, sizeof(k)))
			abort();	/* a refused take left material */
		qkd_key_wipe(&k);
		free(m);
	}
	if ((m = as_message(data, size, QKD_CMD_LINK_GET))) {
		qkd_link_parse(m, &li);
		free(m);
	}
	if ((m = as_message(data, size, QKD_CMD_STATS_GET))) {
		qkd_stats_parse(m, &st);
		free(m);
	}
	if ((m = as_message(data, size, QKD_CMD_AUDIT_GET))) {
		qkd_audit_parse(m, &au);
		free(m);
	}
}

/* The fake kernel answers with the input, its first message made ours. */
static void answer_with_input(struct nlmsghdr *req, void *arg)
{
	const struct { const uint8_t *data; size_t size; } *in = arg;
	struct fake_dgram *d = fake_dgram(0);
	struct nlmsghdr *m = (struct nlmsghdr *)d->buf;

	d->len = in->size < sizeof(d->buf) ? in->size : sizeof(d->buf);
	memcpy(d->buf, in->data, d->len);
	if (d->len >= NLMSG_HDRLEN) {
		m->nlmsg_seq = req->nlmsg_seq;
		m->nlmsg_pid = FAKE_PORT;
	}
}

static int count_link(const struct qkd_link_info *info, void *arg)
{
	(void)info;
	++*(int *)arg;
	return 0;
}

static void fuzz_loop(const uint8_t *data, size_t size)
{
	struct { const uint8_t *data; size_t size; } in = { data, size };
	static const uint8_t id[QKD_KEY_ID_LEN] = { 2 };
	struct qkd_key_buf k;
	int n = 0;

	fake_kernel_attach(nl);
	fk.respond = answer_with_input;
	fk.arg = &in;
	if (qkd_key_take(nl, "l1", (size & 1) ? id : NULL, -1, &k) &&
	    !fake_all_zero(&k, sizeof(k)))
		abort();
	qkd_key_wipe(&k);
	fk.arg = &in;
	qkd_link_dump_each(nl, count_link, &n);
	fk.arg = &in;
	qkd_link_del(nl, "l1");
	if (!fake_all_zero(nl->rbuf, QKD_NL_BUF_SIZE))
		abort();	/* a receive buffer left unwiped */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!nl) {
		nl = fake_kernel_handle();
		if (!nl)
			abort();
	}
	fuzz_parsers(data, size);
	fuzz_loop(data, size);
	return 0;
}
