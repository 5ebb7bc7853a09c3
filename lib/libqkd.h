/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * libqkd: the one userspace client of the "qkd" generic netlink family
 * (include/uapi/linux/qkd.h, written spec docs/netlink/qkd.yaml).
 *
 * The strongSwan plugin, qkd-agent, qkdctl and the selftests all talk to
 * the module through this library, so each rule of the family is written
 * once:
 *  - a socket is connect()ed to the kernel (nl_pid 0), so other processes
 *    cannot unicast to it, and every datagram received is checked to come
 *    from port 0 (others are wiped and dropped);
 *  - NETLINK_CAP_ACK is required (an error ack must not echo an inject
 *    request, key material and all), NETLINK_EXT_ACK is asked for and its
 *    text, offset and missing-attribute type are kept for the caller;
 *  - the send and receive buffers are locked in RAM where the process may
 *    lock memory, kept out of core dumps, and wiped after every use;
 *  - key material lives only in the caller's buffers (struct qkd_key_buf),
 *    which the library wipes on every error path;
 *  - every reply is validated against what was asked (a take returns
 *    exactly one key, of the asked role and ID, of a valid length).
 * Requests are sent as the caller gives them: the module's policies judge
 * every value (its tests send bad ones through this library on purpose),
 * and the library only refuses what does not fit its buffer (-EMSGSIZE).
 *
 * Every call that talks to the kernel returns 0 (or a count) or a
 * negative errno, and leaves an explanation in qkd_nl_error(): the
 * kernel's extack message, or the library's own words for local failures.
 * A handle is not thread-safe: use one per thread (they are cheap).
 *
 * Build: a static library (libqkd.a, -fPIC) on libmnl; link with -lmnl
 * and -Wl,-z,now (lazy binding would spill registers that held key
 * material onto the stack; the library also scrubs the stack below it
 * after each inject and take).
 */
#ifndef LIBQKD_H
#define LIBQKD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/qkd.h>

struct nlmsghdr;

/* A connection to the family in the caller's network namespace. */
struct qkd_nl;

#define QKD_NL_ERR_MAX		256	/* qkd_nl_error() text, with NUL */
#define QKD_NL_TIMEOUT_MS	5000	/* default wait for a reply */
#define QKD_COMM_MAX		16	/* audit record's comm, with NUL */

/* ---- handle ------------------------------------------------------------ */

/* Allocate a handle (not connected).  NULL only when out of memory. */
struct qkd_nl *qkd_nl_new(void);

/*
 * (Re)connect: open the socket, set it up as above, resolve the family and
 * its "notify" group.  timeout_ms bounds the wait for any one reply
 * (0: QKD_NL_TIMEOUT_MS).  Returns 0; -ENOENT when the family is not
 * registered (the module is not loaded in this kernel); another -errno
 * for socket trouble.  A connected handle is closed first, so after a
 * module reload a caller just connects again.
 */
int qkd_nl_connect(struct qkd_nl *nl, unsigned int timeout_ms);

/* Close the socket (the handle can connect again). */
void qkd_nl_disconnect(struct qkd_nl *nl);

/* Disconnect, wipe and free.  NULL is fine. */
void qkd_nl_free(struct qkd_nl *nl);

/* Allocate and connect in one step: 0 and *out, or -errno (and, when err
 * is not NULL, the explanation copied into err[QKD_NL_ERR_MAX]). */
int qkd_nl_open(struct qkd_nl **out, unsigned int timeout_ms, char *err);

/* The socket, for poll() on a subscribed handle; -1 when not connected. */
int qkd_nl_fd(const struct qkd_nl *nl);
bool qkd_nl_connected(const struct qkd_nl *nl);
/* The family's id, its version (CTRL_ATTR_VERSION), our netlink port. */
uint16_t qkd_nl_family(const struct qkd_nl *nl);
uint32_t qkd_nl_family_version(const struct qkd_nl *nl);
uint32_t qkd_nl_portid(const struct qkd_nl *nl);

/* ---- what went wrong ----------------------------------------------------- */

/* Explanation of the last failure ("" after a success).  Never holds key
 * material: the kernel's extack texts name attributes, not values. */
const char *qkd_nl_error(const struct qkd_nl *nl);
/* NLMSGERR_ATTR_OFFS and NLMSGERR_ATTR_MISS_TYPE of the last error, 0 if
 * the kernel sent none. */
uint32_t qkd_nl_error_offset(const struct qkd_nl *nl);
uint32_t qkd_nl_error_missing_attr(const struct qkd_nl *nl);
/*
 * True after a failed request that left the socket but was not answered
 * by an ack (receive timeout, a reply that is no ack): the kernel may or
 * may not have carried it out.  An injector must then never send the same
 * keys again, and a taker must count the key as possibly spent.
 */
bool qkd_nl_outcome_unknown(const struct qkd_nl *nl);
/* Datagrams dropped because they did not come from the kernel. */
unsigned long qkd_nl_foreign_dropped(const struct qkd_nl *nl);

/* ---- links --------------------------------------------------------------- */

struct qkd_link_opts {
	const char *local_sae_id;	/* NULL: not sent */
	const char *remote_sae_id;	/* NULL: not sent */
	/* Negative: not sent (LINK_NEW applies the module's default,
	 * LINK_SET leaves the value as it is). */
	int64_t max_keys, max_bytes, key_ttl, rate, burst, low_watermark;
};

/* Nothing set: SAE IDs as given (may be NULL), every limit -1. */
void qkd_link_opts_init(struct qkd_link_opts *o, const char *local_sae_id,
			const char *remote_sae_id);

/* Counters (QKD_STATS_A_*) of one link or of the namespace. */
struct qkd_stats_buf {
	uint64_t v[QKD_STATS_A_MAX + 1];	/* indexed by QKD_STATS_A_* */
	uint32_t link_count;			/* namespace totals only */
	uint64_t present;	/* bit (1 << QKD_STATS_A_*) for each counter seen */
};

struct qkd_link_info {
	char name[QKD_LINK_NAME_MAX];
	char local_sae_id[QKD_SAE_ID_MAX];
	char remote_sae_id[QKD_SAE_ID_MAX];
	uint32_t max_keys, max_bytes, key_ttl, rate, burst, low_watermark;
	uint64_t present;	/* bit (1 << QKD_A_*) for each attribute seen */
	struct qkd_stats_buf stats;
};

int qkd_link_new(struct qkd_nl *nl, const char *name,
		 const struct qkd_link_opts *o);
int qkd_link_set(struct qkd_nl *nl, const char *name,
		 const struct qkd_link_opts *o);
int qkd_link_del(struct qkd_nl *nl, const char *name);
/* -ENODEV: no such link. */
int qkd_link_get(struct qkd_nl *nl, const char *name,
		 struct qkd_link_info *info);
/* Calls fn for each link, in one dump; returns the count, or -errno (a
 * negative return of fn stops the calls and is returned once the dump is
 * drained).  -EINTR: links were added or deleted while the dump ran (the
 * module flagged NLM_F_DUMP_INTR): what fn saw may be inconsistent, dump
 * again. */
typedef int (*qkd_link_fn)(const struct qkd_link_info *info, void *arg);
int qkd_link_dump_each(struct qkd_nl *nl, qkd_link_fn fn, void *arg);
/* The same into an array: fills up to max entries; returns how many links
 * there are (more than max: those are counted, not stored) or -errno.
 * It dumps again (up to 4 times) when the dump was interrupted. */
int qkd_link_dump(struct qkd_nl *nl, struct qkd_link_info *infos, int max);

/* link NULL: the whole namespace; role 0: both roles. */
int qkd_flush(struct qkd_nl *nl, const char *link, uint8_t role);
/* link NULL: namespace totals (with link_count). */
int qkd_stats_get(struct qkd_nl *nl, const char *link,
		  struct qkd_stats_buf *stats);

/* ---- keys ---------------------------------------------------------------- */

/* One key in a caller's buffer.  Wipe it with qkd_key_wipe(). */
struct qkd_key_buf {
	uint8_t id[QKD_KEY_ID_LEN];
	uint8_t material[QKD_KEY_MAX_LEN];
	uint8_t len;
	uint8_t role;			/* enum qkd_key_role */
	uint64_t injected_ns, expires_ns;	/* take replies only */
	uint64_t present;	/* take replies: bit (1 << QKD_KEY_A_*) seen */
};

/* A key to inject that stays where the caller keeps it (no copy). */
struct qkd_key_ref {
	const uint8_t *id;		/* QKD_KEY_ID_LEN bytes */
	const uint8_t *material;
	size_t len;			/* QKD_KEY_MIN_LEN..QKD_KEY_MAX_LEN */
	uint8_t role;
};

void qkd_key_wipe(struct qkd_key_buf *key);

/*
 * Inject nr keys (1..QKD_INJECT_MAX_KEYS) into a link, all or nothing.
 * -EEXIST: an ID already held or already taken from the link; -ENOSPC:
 * over the link's caps; -EDQUOT: over a cap of the namespace (net.qkd.*);
 * -ENOMEM: also the caller's memory cgroup at its limit.  On failure see
 * qkd_nl_outcome_unknown().
 * The send buffer is wiped as soon as the request has left.
 */
int qkd_key_inject(struct qkd_nl *nl, const char *link,
		   const struct qkd_key_buf *keys, unsigned int nr);
int qkd_key_inject_refs(struct qkd_nl *nl, const char *link,
			const struct qkd_key_ref *keys, unsigned int nr);

/*
 * Take a key.  id NULL: the oldest initiator key; else the responder key
 * of that ID, waiting up to wait_ms for it (negative: not sent).  The
 * module never sleeps for it: it answers EINPROGRESS and later sends a
 * KEY_READY to this handle's socket, which this call waits for (poll, no
 * busy loop) before it takes the key again; the wait is bounded by
 * wait_ms whatever the kernel does.  -ETIMEDOUT: the key did not come in
 * time; -ENODEV: the link went; -ESHUTDOWN: the module unloaded.  The
 * reply must hold exactly one key of the expected role (and ID): anything
 * else is -EPROTO.  On any failure *out is wiped.  -EAGAIN: no reply in
 * time (the kernel may still hand the key out: count it as spent).
 */
int qkd_key_take(struct qkd_nl *nl, const char *link, const uint8_t *id,
		 int64_t wait_ms, struct qkd_key_buf *out);
/*
 * The same with QKD_TAKE_F_* flags: QUIET (the module tells no agent to
 * fetch the key: for peers not yet authenticated), INITIATOR (id names
 * one of this side's own initiator keys, e.g. one it reserved and
 * announced; never waits).
 */
int qkd_key_take_flags(struct qkd_nl *nl, const char *link, const uint8_t *id,
		       int64_t wait_ms, uint32_t flags, struct qkd_key_buf *out);
/*
 * Reserve the oldest unreserved initiator key: the module keeps it for a
 * take by ID (QKD_TAKE_F_INITIATOR) and never hands it to a take of the
 * oldest.  Fills id[QKD_KEY_ID_LEN] (and *expires_ns when not NULL).
 */
int qkd_key_reserve(struct qkd_nl *nl, const char *link, uint8_t *id,
		    uint64_t *expires_ns);
/*
 * Ask for the responder key of id ahead of its take, without taking it
 * (QKD_TAKE_F_WANT): 0 if the module holds it; -ENOENT if not (the module
 * told the agent with KEY_WANTED, unless it did so for this ID recently,
 * or the ID was spent or names one of this side's initiator keys: see
 * qkd_nl_error()).  Never waits.
 */
int qkd_key_want(struct qkd_nl *nl, const char *link, const uint8_t *id);
/*
 * End the reservation of this side's initiator key id (QKD_TAKE_F_RELEASE):
 * a take of the oldest may have it again.  -ENOENT if the key is not held
 * (taken, expired, flushed) or not reserved.
 */
int qkd_key_release(struct qkd_nl *nl, const char *link, const uint8_t *id);

/* ---- audit --------------------------------------------------------------- */

struct qkd_audit_buf {
	uint64_t seq, time_ns;
	char link_name[QKD_LINK_NAME_MAX];
	uint8_t key_id[QKD_KEY_ID_LEN];
	uint8_t role;
	uint32_t pid;
	char comm[QKD_COMM_MAX];
	uint32_t spi[QKD_AUDIT_SPI_MAX];
	unsigned int nr_spi;
	char usage[QKD_USAGE_MAX];
	uint64_t present;	/* bit (1 << QKD_AUDIT_A_*) for each field seen */
};

/* Take records, oldest first, of one link (or all with link NULL), one
 * call of fn each, as qkd_link_dump_each(). */
typedef int (*qkd_audit_fn)(const struct qkd_audit_buf *rec, void *arg);
int qkd_audit_dump_each(struct qkd_nl *nl, const char *link, qkd_audit_fn fn,
			void *arg);
/* The same into an array: fills up to max; returns how many there are. */
int qkd_audit_dump(struct qkd_nl *nl, const char *link,
		   struct qkd_audit_buf *recs, int max);
/* Attach SPIs (the module keeps QKD_AUDIT_SPI_MAX) and/or a usage text
 * (NULL: none; the module refuses one of QKD_USAGE_MAX bytes or more) to
 * the take record of key_id. */
int qkd_audit_annotate(struct qkd_nl *nl, const char *link,
		       const uint8_t *key_id, const uint32_t *spi,
		       unsigned int nr_spi, const char *usage);

/* ---- notifications ------------------------------------------------------- */

/* The notifications the module multicasts (their genl command values). */
enum qkd_ntf_kind {
	QKD_NTF_LOW_WATERMARK = QKD_CMD_LOW_WATERMARK_NTF,	/* keys */
	QKD_NTF_KEY_WANTED = QKD_CMD_KEY_WANTED_NTF,		/* keys */
	QKD_NTF_KEY_EXPIRED = QKD_CMD_KEY_EXPIRED_NTF,		/* monitor */
	QKD_NTF_LINK_DEL = QKD_CMD_LINK_DEL_NTF,		/* both */
	QKD_NTF_KEY_READY = QKD_CMD_KEY_READY_NTF,	/* unicast, see take */
	QKD_NTF_LINK_NEW = QKD_CMD_LINK_NEW_NTF,		/* monitor */
	QKD_NTF_LINK_SET = QKD_CMD_LINK_SET_NTF,		/* monitor */
};

/* The multicast groups (include/uapi/linux/qkd.h says which carries what). */
#define QKD_NL_GROUP_KEYS	(1U << 0)	/* what a key agent acts on */
#define QKD_NL_GROUP_MONITOR	(1U << 1)	/* expiry, link changes */
#define QKD_NL_GROUPS_ALL	(QKD_NL_GROUP_KEYS | QKD_NL_GROUP_MONITOR)

struct qkd_ntf {
	uint8_t cmd;			/* enum qkd_ntf_kind */
	char link_name[QKD_LINK_NAME_MAX];
	char remote_sae_id[QKD_SAE_ID_MAX];
	uint8_t key_id[QKD_KEY_ID_LEN];
	bool has_key_id;
	uint8_t role;
	uint32_t key_count, low_watermark;
	uint32_t status;	/* KEY_READY: 0, ENODEV or ESHUTDOWN */
	uint64_t present;	/* bit (1 << QKD_A_*) for each attribute seen */
};

/*
 * Join groups (QKD_NL_GROUP_*).  Use a handle of its own for
 * notifications: a request on a subscribed handle would skip (and so
 * lose) any notification that arrives while it waits for its reply.  An
 * agent joins KEYS only, so that a mass expiry on MONITOR cannot overflow
 * its socket.
 */
int qkd_nl_subscribe(struct qkd_nl *nl, unsigned int groups);

/*
 * Wait up to timeout_ms (0: do not wait, negative: forever) for one
 * notification.  Returns 1 with *ntf filled, 0 when none came in time
 * (or a signal interrupted the wait: callers check their own flags),
 * -ENOBUFS when the socket overran and notifications were lost (the
 * caller must re-read the state it tracks), or another -errno.
 * Messages of other families or with no link name are skipped.
 */
int qkd_ntf_recv(struct qkd_nl *nl, struct qkd_ntf *ntf, int timeout_ms);

/* ---- names ---------------------------------------------------------------- */

/* "initiator", "responder", or NULL. */
const char *qkd_role_name(uint8_t role);
/* QKD_KEY_ROLE_* for a name above, or QKD_KEY_ROLE_UNSPEC. */
uint8_t qkd_role_from_name(const char *name);
/* "low-watermark", "key-wanted", "key-expired", "link-del", "key-ready",
 * "link-new", "link-set", or NULL. */
const char *qkd_ntf_name(uint8_t cmd);
/* A counter's name, the QKD_STATS_A_* suffix in lower case ("injected",
 * "rejected_reused", ...), or NULL for UNSPEC, PAD and unknown types. */
const char *qkd_stat_name(unsigned int type);

/* ---- parsers (exposed for unit tests and fuzzers) ------------------------ */

/*
 * An NLMSG_ERROR (or the NLMSG_DONE of a dump): 0 for an ACK, else the
 * negative errno; its extack text (or "") in msg[QKD_NL_ERR_MAX] when msg
 * is not NULL, offset and missing type in *off / *miss when not NULL.
 * -EBADMSG for a message too short or with an impossible error.
 */
int qkd_nl_parse_ack(const struct nlmsghdr *nlh, char *msg, uint32_t *off,
		     uint32_t *miss);
/* A KEY_TAKE reply; want_id NULL for an initiator take. 0 or -EPROTO /
 * -EMSGSIZE; *out wiped on failure. */
int qkd_key_parse_take(const struct nlmsghdr *nlh, const uint8_t *want_id,
		       uint8_t want_role, struct qkd_key_buf *out);
/* A LINK_GET reply; 0 or -EPROTO. */
int qkd_link_parse(const struct nlmsghdr *nlh, struct qkd_link_info *info);
/* A STATS_GET reply; 0 or -EPROTO. */
int qkd_stats_parse(const struct nlmsghdr *nlh, struct qkd_stats_buf *stats);
/* An AUDIT_GET dump message; 0 or -EPROTO. */
int qkd_audit_parse(const struct nlmsghdr *nlh, struct qkd_audit_buf *rec);
/* A notification of family `family`; 0, or -EPROTO / -ENOMSG (not one). */
int qkd_ntf_parse(const struct nlmsghdr *nlh, uint16_t family,
		  struct qkd_ntf *ntf);

/* ---- the general request (tests that send unusual messages) -------------- */

/*
 * build() adds attributes to the request (it may add malformed ones: the
 * tests of the module's policies do); parse() sees each reply message and
 * returns a negative errno to fail the request (the replies are still
 * drained).  flags: NLM_F_DUMP for a dump (then no NLM_F_ACK is asked).
 */
typedef void (*qkd_nl_build_fn)(struct nlmsghdr *nlh, void *arg);
typedef int (*qkd_nl_parse_fn)(const struct nlmsghdr *nlh, void *arg);
int qkd_nl_request(struct qkd_nl *nl, uint8_t cmd, uint16_t flags,
		   qkd_nl_build_fn build, void *build_arg,
		   qkd_nl_parse_fn parse, void *parse_arg);
/* The same with another genl version in the header (version tests). */
int qkd_nl_request_version(struct qkd_nl *nl, uint8_t cmd, uint8_t version,
			   uint16_t flags, qkd_nl_build_fn build,
			   void *build_arg, qkd_nl_parse_fn parse,
			   void *parse_arg);

#endif /* LIBQKD_H */
