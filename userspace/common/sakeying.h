/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which QKD key (if any) keyed each of the kernel's IPsec SAs: the model
 * (the module's audit (take) records, the kernel's SAs) and the matching
 * rule, shared by `qkdctl xfrm` and the agent's qkd_xfrm_* metrics so the
 * two never disagree.  audit_fetch() fills the first from libqkd,
 * xfrm_sa_dump() (xfrm_dump.h) the second; annotate_sa() only reads them,
 * which is what makes the rule testable on the host.
 *
 * The strongSwan plugin annotates each audit (take) record with the SPIs of
 * the child SAs it keyed (QKD_CMD_AUDIT_ANNOTATE).  So an SA is QKD-keyed
 * when an audit record lists its SPI.  Rules, in order:
 *
 *  1. Candidates are the records whose SPI list contains the SA's SPI.
 *  2. A record taken clearly after the SA was added cannot have keyed it
 *     (the SPI was reused by a later SA): skip records whose take time is
 *     more than ANNOTATE_CLOCK_SLACK_S after the SA's add_time (add_time has
 *     one-second resolution).
 *  3. Of the rest the newest (highest seq) wins: SPIs are random, so an
 *     older record naming the same SPI belongs to an earlier, gone SA.
 *  4. No candidate: "classical", unless the record may be gone: the
 *     module's audit ring overwrote records (its oldest record's seq is
 *     above 1, seqs start at 1) and the oldest kept is newer than the SA;
 *     or the audit could not be read at all.  Then "unknown".  Neither
 *     qkdctl nor the agent claims a keying it cannot show, either way.
 *
 * SPIs are compared as host-order numbers, as `ip xfrm state` prints them
 * and as the strongSwan plugin records them (ntohl of strongSwan's SPI).
 */
#ifndef QKD_SAKEYING_H
#define QKD_SAKEYING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/qkd.h>

#include <libqkd.h>

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

#define ANNOTATE_CLOCK_SLACK_S	2

enum sa_keying {
	SA_KEYING_CLASSICAL,
	SA_KEYING_QKD,
	SA_KEYING_UNKNOWN,
};

struct sa_annotation {
	enum sa_keying keying;
	const struct audit_record *rec;	/* when keying == SA_KEYING_QKD */
};

/* audit may be NULL: the module's audit was not available. */
struct sa_annotation annotate_sa(const struct sa_info *sa,
				 const struct audit_list *audit);

/* "qkd", "classical", "unknown" */
const char *sa_keying_name(enum sa_keying k);

/* One record as libqkd decoded it, in this model. */
void audit_record_from_lib(const struct qkd_audit_buf *b, struct audit_record *r);

/* A qkd_audit_fn that appends each record to the struct audit_list arg
 * (for other dumps of the ring, e.g. the agent's sink). */
int audit_list_add_lib(const struct qkd_audit_buf *b, void *arg);

/* Dump the records (of one link if name is non-NULL), oldest first.
 * Returns 0, or a negative errno (explained by qkd_nl_error(nl)). */
int audit_fetch(struct qkd_nl *nl, const char *name, struct audit_list *out);

#endif
