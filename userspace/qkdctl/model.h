/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What qkdctl knows about the kernel's state, decoupled from netlink: the
 * module's audit (take) records and the kernel's IPsec SAs.  audit.c fills
 * the first from libqkd, xfrm.c the second; annotate.c and output code only
 * read them, which is what makes the annotation logic testable on the host.
 */
#ifndef QKDCTL_MODEL_H
#define QKDCTL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/qkd.h>

#define COMM_MAX	64	/* task comm is 16 in Linux; be generous */
#define XFRM_ALG_NAME_MAX 64	/* sizeof(struct xfrm_algo.alg_name) */

struct audit_record {
	uint64_t seq;
	uint64_t time_ns;		/* CLOCK_REALTIME of the take */
	char link[QKD_LINK_NAME_MAX];
	bool has_key_id;
	uint8_t key_id[QKD_KEY_ID_LEN];
	uint8_t role;
	bool has_pid;
	uint32_t pid;
	char comm[COMM_MAX];
	unsigned int n_spi;
	uint32_t spi[QKD_AUDIT_SPI_MAX];
	char usage[QKD_USAGE_MAX];
};

struct audit_list {
	struct audit_record *rec;	/* oldest first, as the kernel dumps */
	size_t count, cap;
};

int audit_list_append(struct audit_list *l, const struct audit_record *r);
void audit_list_free(struct audit_list *l);

/* One algorithm of an SA; name empty when the SA has none of this kind. */
struct sa_alg {
	char name[XFRM_ALG_NAME_MAX];
	uint32_t key_bits;
	uint32_t icv_bits;		/* aead: ICV; auth: truncation */
};

struct sa_info {
	int family;			/* AF_INET / AF_INET6 */
	uint8_t saddr[16], daddr[16];
	uint8_t proto;			/* IPPROTO_ESP, IPPROTO_AH, IPPROTO_COMP */
	uint32_t spi;			/* host byte order, as `ip xfrm` prints */
	uint8_t mode;			/* XFRM_MODE_* */
	uint32_t reqid;
	struct sa_alg aead, enc, auth, comp;
	uint64_t bytes, packets;	/* curlft */
	uint64_t add_time;		/* s since the epoch, curlft.add_time */
	uint64_t use_time;		/* s since the epoch, 0 if never used */
};

struct sa_list {
	struct sa_info *sa;
	size_t count, cap;
};

int sa_list_append(struct sa_list *l, const struct sa_info *sa);
void sa_list_free(struct sa_list *l);

#endif
