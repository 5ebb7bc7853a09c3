/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * libqkd internals shared by its files: the handle, the request builder
 * and the one receive loop.  Not installed; not for callers.
 */
#ifndef LIBQKD_INTERNAL_H
#define LIBQKD_INTERNAL_H

#include <sys/types.h>
#include <libmnl/libmnl.h>
#include "libqkd.h"

/*
 * One send and one receive buffer per handle.  A full inject request is
 * about 25 KiB; dumps come in datagrams of up to 32 KiB (the kernel's
 * largest dump skb), so 64 KiB never truncates.
 */
#define QKD_NL_BUF_SIZE	(64 * 1024)

/* How the handle receives one datagram: recvmsg(), or a test's fake. */
typedef ssize_t (*qkd_nl_recv_fn)(struct qkd_nl *nl, void *buf, size_t len,
				  int flags, uint32_t *sender);

struct qkd_nl {
	struct mnl_socket *sock;
	uint16_t family;
	uint32_t family_version;
	uint32_t mcgrp_keys, mcgrp_monitor;	/* group ids, 0: none */
	uint32_t portid;
	uint32_t seq;
	unsigned int timeout_ms;	/* for any one reply */
	unsigned int rcvtimeo_ms;	/* SO_RCVTIMEO now (a take may extend it) */
	bool subscribed;
	bool outcome_unknown;
	bool dump_intr;			/* last dump: a message had NLM_F_DUMP_INTR
					 * (the typed dumps turn it into EINTR;
					 * qkd_nl_request() leaves it to its caller) */
	unsigned long foreign_dropped;
	char err[QKD_NL_ERR_MAX];
	uint32_t err_off, err_miss;
	/* the rest of a notification datagram not yet handed out */
	size_t ntf_off, ntf_len;
	/* test hooks (tests/test_libqkd.c); NULL in real use */
	qkd_nl_recv_fn recv_fn;
	ssize_t (*send_fn)(struct qkd_nl *nl, const void *buf, size_t len);
	char *sbuf, *rbuf;		/* QKD_NL_BUF_SIZE each, one mapping */
};

/* printf into nl->err (never with key material). */
void qkd_nl_set_error(struct qkd_nl *nl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void qkd_nl_clear_error(struct qkd_nl *nl);

/* A request of the family in nl->sbuf: header filled, attributes next.
 * Builders use the mnl_attr_put_*_check() forms with QKD_NL_BUF_SIZE and
 * fail with -EMSGSIZE when the request does not fit. */
struct nlmsghdr *qkd_nl_put_request(struct qkd_nl *nl, uint16_t type,
				    uint8_t cmd, uint8_t version,
				    uint16_t flags);

/*
 * Send nlh (which is in nl->sbuf; wiped once sent) and read replies until
 * the ack, or for a dump its NLMSG_DONE, calling parse on every other
 * reply.  0 or -errno, with nl->err and nl->outcome_unknown set.
 */
int qkd_nl_transact(struct qkd_nl *nl, struct nlmsghdr *nlh,
		    qkd_nl_parse_fn parse, void *arg);

/* One datagram from the kernel into nl->rbuf: bytes or -1 with errno
 * (ENOBUFS: truncated, or the socket overran).  Others are dropped. */
ssize_t qkd_nl_recv_datagram(struct qkd_nl *nl, int flags);

/* Zero 16 KiB of stack below the caller (after moving key material). */
void qkd_nl_scrub_stack(void);

/* Receive timeout for the next transactions (SO_RCVTIMEO). */
int qkd_nl_set_rcvtimeo(struct qkd_nl *nl, unsigned int ms);

/* A required link name is there (-EINVAL if NULL).  Its value is the
 * module's to judge. */
int qkd_nl_check_link(struct qkd_nl *nl, const char *link, bool optional);

/*
 * One message of a datagram fits what is left of it.  libmnl's
 * mnl_nlmsg_ok() compares (int)nlmsg_len, so a length near 4 GiB passes as
 * negative and mnl_nlmsg_next() then jumps out of the buffer (found by
 * tests/fuzz_libqkd.c).
 */
static inline bool qkd_nlmsg_ok(const struct nlmsghdr *m, int left)
{
	return left >= (int)sizeof(*m) && m->nlmsg_len >= sizeof(*m) &&
	       m->nlmsg_len <= (unsigned int)left;
}

/*
 * The attributes of a message from offset on, bounded by nlmsg_len itself:
 * mnl_attr_for_each() bounds by MNL_ALIGN(nlmsg_len), which lets a
 * truncated last attribute be read up to 3 bytes past the message.
 * Nests reached this way lie wholly inside the message, so
 * mnl_attr_for_each_nested() is safe on them.
 */
#define qkd_attr_for_each(attr, nlh, offset)				\
	for ((attr) = mnl_nlmsg_get_payload_offset((nlh), (offset));	\
	     mnl_attr_ok((attr), (int)((const char *)(nlh) +		\
			 (nlh)->nlmsg_len - (const char *)(attr)));	\
	     (attr) = mnl_attr_next(attr))

/* A dump: each message parsed into item (the caller's scratch of the
 * record type), then handed to each(item, arg); n counts them. */
struct qkd_dump_ctx {
	void *item;
	int (*parse_one)(const struct nlmsghdr *nlh, void *item);
	int (*each)(const void *item, void *arg);
	void *arg;
	int n;
};
/* qkd_nl_parse_fn for a dump through a struct qkd_dump_ctx. */
int qkd_nl_dump_item(const struct nlmsghdr *nlh, void *arg);
/* ctx->each for the array forms: copies into a struct qkd_dump_array. */
struct qkd_dump_array {
	void *items;
	size_t item_size;
	int max, n;
};
int qkd_dump_to_array(const void *item, void *arg);

/* Copy a string attribute that need not be NUL-terminated. */
void qkd_nl_copy_str(char *dst, size_t size, const struct nlattr *attr);

/* Read a u8/u32/u64 attribute after checking its length; false if it has
 * the wrong length (the reply is then malformed). */
bool qkd_nl_get_u8(const struct nlattr *a, uint8_t *v);
bool qkd_nl_get_u32(const struct nlattr *a, uint32_t *v);
bool qkd_nl_get_u64(const struct nlattr *a, uint64_t *v);

/* A generic netlink message has its genl header and carries cmd
 * (negative: any): 0, or -EPROTO. */
int qkd_nl_genl_ok(const struct nlmsghdr *nlh, int cmd);

#endif /* LIBQKD_INTERNAL_H */
