/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A fake kernel for the unit tests of libqkd and of its callers (the
 * plugin, the agent): a handle whose send and receive hooks (internal.h)
 * go to a script instead of the socket.  Each request sent is copied to
 * fk.last_req and handed to fk.respond, which queues the datagrams the
 * next receives return (from port 0, or from an impostor's port); an
 * empty queue behaves like SO_RCVTIMEO expiring (EAGAIN).
 */
#ifndef LIBQKD_FAKE_KERNEL_H
#define LIBQKD_FAKE_KERNEL_H

#include "internal.h"

#define FAKE_FAMILY	0x42
#define FAKE_PORT	4242
#define FAKE_MAX_DGRAMS	8

struct fake_dgram {
	char buf[8192];
	size_t len;
	uint32_t sender;
	int err;		/* nonzero: recv fails with this errno */
};

/* What the fake kernel does with a request it sees. */
typedef void (*fake_respond_fn)(struct nlmsghdr *req, void *arg);

struct fake {
	struct fake_dgram q[FAKE_MAX_DGRAMS];
	unsigned int head, tail;
	char last_req[QKD_NL_BUF_SIZE];
	size_t last_req_len;
	unsigned int sends;
	fake_respond_fn respond;
	void *arg;
};
extern struct fake fk;

/* A connected-looking handle talking to the fake (fk is reset). */
struct qkd_nl *fake_kernel_handle(void);
/* Point an existing handle at the fake (for callers that open their own). */
void fake_kernel_attach(struct qkd_nl *nl);

/* A new datagram in the queue, from `sender` (0: the kernel). */
struct fake_dgram *fake_dgram(uint32_t sender);
/* The next receive fails with err. */
void fake_fail_recv(int err);
/* Append a genl message of cmd to d, answering req (NULL: a multicast). */
struct nlmsghdr *fake_put_genl(struct fake_dgram *d, const struct nlmsghdr *req,
			       uint16_t type, uint8_t cmd, uint16_t flags);
/* Close a message appended to d. */
void fake_end(struct fake_dgram *d, struct nlmsghdr *nlh);
/* An NLMSG_ERROR (0: an ACK), request capped, extack text if msg. */
void fake_ack(struct fake_dgram *d, const struct nlmsghdr *req, int error,
	      const char *msg);

/* A scripted KEY_TAKE answer: nreplies replies of nkeys keys each, then
 * an ACK.  Keys as fake_put_key_fields() makes them. */
struct fake_take {
	const uint8_t *id;
	size_t len;
	uint8_t role;
	unsigned int nkeys, nreplies;
};
void fake_put_take_key(struct nlmsghdr *nlh, const uint8_t *id, size_t len,
		       uint8_t role);
/* A key nest with every field optional, for hostile replies: id NULL,
 * matlen 0 or role < 0 leave that field out.  Material is 0x5a bytes;
 * INJECTED 1 and EXPIRES 1234 come last (12 bytes each). */
void fake_put_key_fields(struct nlmsghdr *nlh, const uint8_t *id, size_t idlen,
			 size_t matlen, int role);
/* The command the module's replies of each kind carry in their genl
 * header (the one place tests say it). */
enum fake_reply { FAKE_REPLY_TAKE, FAKE_REPLY_LINK, FAKE_REPLY_STATS,
		  FAKE_REPLY_AUDIT };
uint8_t fake_reply_cmd(enum fake_reply kind);
/* A reply of the family in buf, link name "l1": to KEY_TAKE, or (take
 * false) to another command, for the parsers' refusals. */
struct nlmsghdr *fake_reply_start(char *buf, bool take);
void fake_answer_take(struct nlmsghdr *req, void *arg);	/* arg: fake_take */
/* Answer every request with fake_ack(*(int *)arg, "no link"). */
void fake_answer_error(struct nlmsghdr *req, void *arg);

/* True if n bytes at p are all zero (wiped). */
bool fake_all_zero(const void *p, size_t n);

#endif
