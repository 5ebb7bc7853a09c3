/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * qkd: a per-network-namespace store of QKD key material for IPsec gateways.
 *
 * This header is the only definition of the "qkd" generic netlink family:
 * the kernel module, the strongSwan plugin, qkdctl, qkd-agent and the
 * selftests all include it.  The written specification with every
 * attribute's type and range is Documentation/netlink/specs/qkd.yaml in
 * this repository (docs/netlink/qkd.yaml).
 *
 * Model: a namespace holds links; a link is one QKD key stream shared with
 * one remote site.  A link buffers keys of two roles that never mix:
 *  - QKD_KEY_ROLE_INITIATOR keys were fetched by this side as ETSI GS QKD 014
 *    master (enc_keys).  "Take the oldest" only ever returns these.
 *  - QKD_KEY_ROLE_RESPONDER keys were fetched by ID for the peer (dec_keys).
 *    "Take by ID" only ever returns these.
 * Every key is used once: taking it removes (and wipes) it.
 */
#ifndef _UAPI_LINUX_QKD_H
#define _UAPI_LINUX_QKD_H

#define QKD_FAMILY_NAME		"qkd"
#define QKD_FAMILY_VERSION	2
/*
 * Two multicast groups, so that a flood of monitoring events (a mass
 * expiry) cannot overflow the socket of an agent that must not miss a
 * KEY_WANTED:
 *  "keys"     KEY_WANTED, LOW_WATERMARK, LINK_DEL (what a key agent acts on)
 *  "monitor"  KEY_EXPIRED, LINK_NEW, LINK_SET, LINK_DEL (for admins' tools)
 * KEY_READY is no multicast: it is unicast to the socket of a take that
 * got EINPROGRESS.
 */
#define QKD_MCGRP_KEYS		"keys"
#define QKD_MCGRP_MONITOR	"monitor"

/* Limits shared by the kernel's policies and userspace's validation. */
#define QKD_LINK_NAME_MAX	32	/* bytes including the NUL */
#define QKD_SAE_ID_MAX		64	/* bytes including the NUL */
#define QKD_KEY_ID_LEN		16	/* ETSI GS QKD 014 key_ID (UUID) */
#define QKD_KEY_MIN_LEN		16
#define QKD_KEY_MAX_LEN		64
#define QKD_USAGE_MAX		128	/* audit annotation, including NUL */
#define QKD_AUDIT_SPI_MAX	4	/* SPIs one audit record can name */
#define QKD_INJECT_MAX_KEYS	256	/* keys in one inject message */

#define QKD_LINK_MAX_KEYS_LIMIT		65536
#define QKD_LINK_MAX_BYTES_LIMIT	(4U << 20)
#define QKD_LINK_TTL_MAX		604800	/* seconds (one week) */
#define QKD_LINK_RATE_MAX		1000000	/* keys per second */
#define QKD_LINK_BURST_MAX		1000000
#define QKD_TAKE_WAIT_MAX_MS		10000
#define QKD_LINK_PENDING_MAX		64	/* takes pending on one link */

/*
 * QKD_A_TAKE_FLAGS of KEY_TAKE:
 *  QUIET      never multicast KEY_WANTED (for callers that must not make
 *             the agent query the KME, e.g. for an unauthenticated peer)
 *  INITIATOR  with QKD_A_KEY_ID: take this side's own initiator key of
 *             that ID (one it pre-announced to the peer); never waits
 *  RESERVE    without QKD_A_KEY_ID: reserve the oldest unreserved
 *             initiator key and reply with its ID and no material; take-
 *             oldest skips reserved keys, a take with INITIATOR takes it
 *  WANT       with QKD_A_KEY_ID, alone: get the responder key of that ID
 *             ahead of its take, without taking it.  Held: 0 and its ID
 *             (no material).  Not held: KEY_WANTED (unless one went out
 *             for that ID among the link's last QKD_LINK_WANT_RECENT
 *             wants) and -ENOENT.  Never pending, takes no token, leaves
 *             no audit record
 *  RELEASE    with QKD_A_KEY_ID, alone: this side's initiator key of that
 *             ID is no longer reserved (-ENOENT if not held or not
 *             reserved); replies its ID only
 */
#define QKD_TAKE_F_QUIET	(1U << 0)
#define QKD_TAKE_F_INITIATOR	(1U << 1)
#define QKD_TAKE_F_RESERVE	(1U << 2)
#define QKD_TAKE_F_WANT		(1U << 3)
#define QKD_TAKE_F_RELEASE	(1U << 4)
#define QKD_TAKE_F_ALL		31	/* all five */
#define QKD_LINK_WANT_RECENT	16	/* want IDs remembered per link */

/* Defaults applied by LINK_NEW for limits the caller does not give. */
#define QKD_LINK_DEFAULT_MAX_KEYS	1024
#define QKD_LINK_DEFAULT_MAX_BYTES	(64U << 10)
#define QKD_LINK_DEFAULT_TTL		3600
#define QKD_LINK_DEFAULT_RATE		0	/* 0: no rate limit */
#define QKD_LINK_DEFAULT_BURST		16
#define QKD_LINK_DEFAULT_LOW_WATERMARK	0	/* 0: no notification */

/*
 * Take records kept per namespace: the default of net.qkd.audit_records in
 * namespaces of the initial user namespace (others keep fewer).
 */
#define QKD_AUDIT_RING_SIZE	1024
/*
 * IDs of the last keys taken from a link are remembered so that the same
 * key can never be injected and used a second time (e.g. by an agent
 * retrying an inject whose answer it missed).
 */
#define QKD_LINK_SPENT_IDS	4096

enum qkd_key_role {
	QKD_KEY_ROLE_UNSPEC,
	QKD_KEY_ROLE_INITIATOR,	/* ETSI master key: this side chooses it */
	QKD_KEY_ROLE_RESPONDER,	/* ETSI slave key: held for the peer's ID */

	__QKD_KEY_ROLE_MAX,
	QKD_KEY_ROLE_MAX = __QKD_KEY_ROLE_MAX - 1
};

/*
 * Errors a caller can act on (besides policy errors, which are EINVAL or
 * ERANGE with an extack message naming the attribute):
 *  ENODEV     no link of that name in this namespace
 *  EEXIST     link name or key ID already present, or key ID already
 *             taken from this link (one of its last QKD_LINK_SPENT_IDS)
 *  ENOSPC     inject would exceed the link's max_keys or max_bytes
 *  EDQUOT     a cap of the namespace (sysctls net.qkd.max_links, max_keys,
 *             max_bytes) would be exceeded: LINK_NEW beyond max_links,
 *             inject beyond the namespace's keys or bytes buffered over all
 *             links.  Only the initial user namespace's admin can raise
 *             them; the extack message names the cap and its value.
 *  ENOMEM     out of memory, or the caller's memory cgroup is at its limit
 *             (everything the store holds is charged to the cgroup of the
 *             caller that made it allocate)
 *  ENOENT     no initiator key buffered / no key of that ID held (and
 *             not waited for), or the ID was already taken from the link,
 *             or it names one of this side's initiator keys
 *  EINPROGRESS take by ID with QKD_A_WAIT_MS: the key is not held yet; a
 *             KEY_READY_NTF follows on the same socket if it arrives (or
 *             the link goes) within WAIT_MS, then take it again.  The
 *             handler never sleeps; the pending take is forgotten when
 *             the socket closes
 *  ENOBUFS    QKD_LINK_PENDING_MAX takes already pending on the link
 *  EBUSY      the link's token bucket is empty: retry later or fall back
 *  EPERM      caller lacks CAP_NET_ADMIN in the namespace's user namespace
 */
#define QKD_ERR_RATE_LIMITED	EBUSY
#define QKD_ERR_NS_CAP		EDQUOT

enum qkd_cmd {
	QKD_CMD_UNSPEC,
	QKD_CMD_LINK_NEW,
	QKD_CMD_LINK_SET,
	QKD_CMD_LINK_DEL,
	QKD_CMD_LINK_GET,	/* doit with QKD_A_LINK_NAME, or dump */
	QKD_CMD_KEY_INJECT,
	QKD_CMD_KEY_TAKE,
	QKD_CMD_FLUSH,		/* one link, or the namespace without a name */
	QKD_CMD_STATS_GET,	/* one link, or namespace totals */
	QKD_CMD_AUDIT_GET,	/* dump of the take records, oldest first */
	QKD_CMD_AUDIT_ANNOTATE,	/* attach SPIs / usage to a take record */

	/* Notifications on the QKD_MCGRP_NOTIFY group. */
	QKD_CMD_LOW_WATERMARK_NTF,
	QKD_CMD_KEY_WANTED_NTF,
	QKD_CMD_KEY_EXPIRED_NTF,
	QKD_CMD_LINK_DEL_NTF,
	QKD_CMD_KEY_READY_NTF,	/* unicast: a pending take's key arrived */
	QKD_CMD_LINK_NEW_NTF,
	QKD_CMD_LINK_SET_NTF,

	__QKD_CMD_MAX,
	QKD_CMD_MAX = __QKD_CMD_MAX - 1
};

enum qkd_attr {
	QKD_A_UNSPEC,
	QKD_A_PAD,
	QKD_A_LINK_NAME,	/* string, < QKD_LINK_NAME_MAX */
	QKD_A_LOCAL_SAE_ID,	/* string, < QKD_SAE_ID_MAX */
	QKD_A_REMOTE_SAE_ID,	/* string, < QKD_SAE_ID_MAX */
	QKD_A_MAX_KEYS,		/* u32, 1..QKD_LINK_MAX_KEYS_LIMIT */
	QKD_A_MAX_BYTES,	/* u32, QKD_KEY_MAX_LEN..QKD_LINK_MAX_BYTES_LIMIT */
	QKD_A_KEY_TTL,		/* u32 seconds, 1..QKD_LINK_TTL_MAX */
	QKD_A_RATE,		/* u32 keys/s, 0 (unlimited)..QKD_LINK_RATE_MAX */
	QKD_A_BURST,		/* u32 keys, 1..QKD_LINK_BURST_MAX */
	QKD_A_LOW_WATERMARK,	/* u32 initiator keys, 0 (off)..max_keys */
	QKD_A_KEY,		/* nest of qkd_key_attr; multi-attr in inject */
	QKD_A_KEY_ID,		/* binary, exactly QKD_KEY_ID_LEN */
	QKD_A_KEY_ROLE,		/* u8 enum qkd_key_role */
	QKD_A_WAIT_MS,		/* u32, 0..QKD_TAKE_WAIT_MAX_MS (take by ID) */
	QKD_A_STATS,		/* nest of qkd_stats_attr */
	QKD_A_AUDIT,		/* nest of qkd_audit_attr */
	QKD_A_SPI,		/* u32, multi-attr: SPIs keyed from a key */
	QKD_A_USAGE,		/* string, < QKD_USAGE_MAX */
	QKD_A_LINK_COUNT,	/* u32, links in the namespace */
	QKD_A_KEY_COUNT,	/* u32, initiator keys buffered (watermark ntf) */
	QKD_A_TAKE_FLAGS,	/* u32, QKD_TAKE_F_* */
	QKD_A_STATUS,		/* u32, KEY_READY: 0, ENODEV, ESHUTDOWN */

	__QKD_A_MAX,
	QKD_A_MAX = __QKD_A_MAX - 1
};

enum qkd_key_attr {
	QKD_KEY_A_UNSPEC,
	QKD_KEY_A_PAD,
	QKD_KEY_A_ID,		/* binary, exactly QKD_KEY_ID_LEN */
	QKD_KEY_A_MATERIAL,	/* binary, QKD_KEY_MIN_LEN..QKD_KEY_MAX_LEN */
	QKD_KEY_A_ROLE,		/* u8 enum qkd_key_role */
	QKD_KEY_A_INJECTED,	/* u64 ns, CLOCK_REALTIME (reply only) */
	QKD_KEY_A_EXPIRES,	/* u64 ns, CLOCK_REALTIME (reply only) */

	__QKD_KEY_A_MAX,
	QKD_KEY_A_MAX = __QKD_KEY_A_MAX - 1
};

/* All counters are u64. */
enum qkd_stats_attr {
	QKD_STATS_A_UNSPEC,
	QKD_STATS_A_PAD,
	QKD_STATS_A_INJECTED,		/* keys accepted */
	QKD_STATS_A_TAKEN,		/* keys handed to a taker */
	QKD_STATS_A_EXPIRED,		/* keys dropped at their TTL */
	QKD_STATS_A_FLUSHED,		/* keys dropped by flush or link del */
	QKD_STATS_A_REJECTED_DUPLICATE,	/* inject: key ID already held */
	QKD_STATS_A_REJECTED_CAP,	/* inject: over max_keys/max_bytes */
	QKD_STATS_A_REJECTED_NOT_FOUND,	/* take: no such key / pool empty */
	QKD_STATS_A_RATE_LIMITED,	/* take: token bucket empty */
	QKD_STATS_A_KEYS_BUFFERED,	/* now, both roles */
	QKD_STATS_A_INITIATOR_KEYS,	/* now, initiator role */
	QKD_STATS_A_BYTES_BUFFERED,	/* now */
	QKD_STATS_A_BYTES_HIGH_WATER,	/* most bytes ever buffered at once */
	QKD_STATS_A_WANTED,		/* key-wanted notifications sent */
	QKD_STATS_A_LOW_WATERMARK,	/* low-watermark notifications sent */
	QKD_STATS_A_REJECTED_REUSED,	/* inject: key ID was already taken */
	QKD_STATS_A_PENDING,		/* now, takes waiting for a key */
	QKD_STATS_A_RESERVED,		/* now, initiator keys reserved */

	__QKD_STATS_A_MAX,
	QKD_STATS_A_MAX = __QKD_STATS_A_MAX - 1
};

enum qkd_audit_attr {
	QKD_AUDIT_A_UNSPEC,
	QKD_AUDIT_A_PAD,
	QKD_AUDIT_A_SEQ,	/* u64, increasing per namespace */
	QKD_AUDIT_A_TIME,	/* u64 ns, CLOCK_REALTIME of the take */
	QKD_AUDIT_A_LINK_NAME,	/* string */
	QKD_AUDIT_A_KEY_ID,	/* binary, QKD_KEY_ID_LEN */
	QKD_AUDIT_A_ROLE,	/* u8 enum qkd_key_role */
	QKD_AUDIT_A_PID,	/* u32, taker's tgid as seen in its pid ns */
	QKD_AUDIT_A_COMM,	/* string, taker's comm */
	QKD_AUDIT_A_SPI,	/* u32, multi-attr, from AUDIT_ANNOTATE */
	QKD_AUDIT_A_USAGE,	/* string, from AUDIT_ANNOTATE */

	__QKD_AUDIT_A_MAX,
	QKD_AUDIT_A_MAX = __QKD_AUDIT_A_MAX - 1
};

#endif /* _UAPI_LINUX_QKD_H */
