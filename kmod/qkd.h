/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interfaces of the qkd module.  One file per concern:
 *   main.c        module and per-namespace setup
 *   netlink.c     the generic netlink family (commands, replies)
 *   netlink-gen.c its policies, op table and family, written from the spec
 *   notify.c      the notifications: "keys" and "monitor" groups, KEY_READY
 *   store.c       links and their keys: inject, take, flush, expiry
 *   pending.c     takes waiting for a key by ID (no sleep in a handler)
 *   ratelimiter.c the per-link token bucket
 *   audit.c       the per-namespace ring of take records
 *   caps.c        the per-namespace caps (sysctls net.qkd.*)
 */
#ifndef _QKD_H
#define _QKD_H

#include <linux/hashtable.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>
#include <linux/gfp.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <uapi/linux/qkd.h>

struct ctl_table_header;
struct genl_family;
struct genl_info;
struct netlink_ext_ack;

/*
 * Every allocation a caller causes (links, keys, hash tables, spent IDs,
 * audit ring, inject staging) is charged to the caller's memory cgroup.
 * At the cgroup's limit the request fails with ENOMEM: buffering a key is
 * never worth an OOM kill, so no retries past the first reclaim and no
 * allocation-failure splat.
 */
#define QKD_GFP		(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* Token bucket: tokens are kept in units of 1/NSEC_PER_SEC key. */
struct qkd_ratelimiter {
	u64 tokens;
	u64 last_ns;
	u32 rate;	/* keys per second, 0 means unlimited */
	u32 burst;
};

void qkd_ratelimiter_init(struct qkd_ratelimiter *rl, u32 rate, u32 burst);
bool qkd_ratelimiter_has_token(struct qkd_ratelimiter *rl, u64 now_ns);
void qkd_ratelimiter_consume(struct qkd_ratelimiter *rl);

/* Counters of one link, or the sum over a namespace. */
struct qkd_stats {
	u64 injected;
	u64 taken;
	u64 expired;
	u64 flushed;
	u64 rejected_duplicate;
	u64 rejected_cap;
	u64 rejected_not_found;
	u64 rate_limited;
	u64 keys_buffered;
	u64 initiator_keys;
	u64 bytes_buffered;
	u64 bytes_high_water;
	u64 wanted;
	u64 low_watermark;
	u64 rejected_reused;
	u64 pending;
	u64 reserved;
};

struct qkd_link_config {
	char local_sae_id[QKD_SAE_ID_MAX];
	char remote_sae_id[QKD_SAE_ID_MAX];
	u32 max_keys;
	u32 max_bytes;
	u32 key_ttl;		/* seconds */
	u32 rate;
	u32 burst;
	u32 low_watermark;
};

/*
 * A buffered key.  Kept small (it is what a namespace pays per key): the
 * expiry time and the CLOCK_REALTIME stamps a taker sees are derived from
 * @injected and the link's TTL, the hash chain is singly linked, and the
 * material is sized to the key: objects come from one of the caches of
 * qkd_key_cache(), 16 bytes of material per size class.
 */
struct qkd_key {
	struct list_head fifo;		/* link->initiator_keys or responder_keys */
	struct qkd_key *hnext;		/* chain in link->keys_by_id */
	u64 injected;			/* jiffies */
	u8 id[QKD_KEY_ID_LEN];
	u8 role;
	u8 len;
	bool reserved;			/* initiator key kept for a take by ID */
	u8 material[];			/* len bytes, zero-padded to the class */
};

/* A key handed to a taker (a copy: the buffered key is gone by then). */
struct qkd_key_out {
	u8 id[QKD_KEY_ID_LEN];
	u8 role;
	u8 len;
	u64 injected_ns;		/* CLOCK_REALTIME, to the tick */
	u64 expires_ns;			/* CLOCK_REALTIME */
	u8 material[QKD_KEY_MAX_LEN];
};

/* The ID of a key taken from a link: it may never be injected again. */
struct qkd_spent_id {
	struct hlist_node by_id;	/* link->spent_by_id */
	struct list_head fifo;		/* link->spent_ids, oldest first */
	u8 id[QKD_KEY_ID_LEN];
};

struct qkd_net;

struct qkd_link {
	struct list_head node;		/* qkd_net->links, under qn->lock */
	struct kref refcount;
	struct qkd_net *qn;
	char name[QKD_LINK_NAME_MAX];

	spinlock_t lock;		/* guards everything below */
	bool dead;			/* deleted: no more injects or takes */
	struct qkd_link_config cfg;
	struct qkd_ratelimiter rl;
	struct list_head initiator_keys;	/* oldest first */
	struct list_head responder_keys;	/* oldest first */
	/* Chains by ID; grows with the keys buffered (store.c). */
	struct qkd_key **keys_by_id;
	unsigned int keys_hash_bits;
	u32 hash_seed;				/* IDs are chosen by callers */
	struct list_head spent_ids;		/* oldest first */
	unsigned int nr_spent;			/* <= QKD_LINK_SPENT_IDS */
	DECLARE_HASHTABLE(spent_by_id, 8);
	struct qkd_stats stats;

	/* The last IDs a WANT multicast KEY_WANTED for (deduplication). */
	u8 want_recent[QKD_LINK_WANT_RECENT][QKD_KEY_ID_LEN];
	unsigned int want_next;			/* slot the next one goes to */
	unsigned int nr_want_recent;		/* <= QKD_LINK_WANT_RECENT */

	/* Takes by ID waiting for their key (pending.c). */
	struct list_head pending;
	unsigned int nr_pending;		/* <= QKD_LINK_PENDING_MAX */
	/* Runs at the earliest expiry; idle links schedule nothing. */
	struct delayed_work expiry_work;
};

struct qkd_audit_record {
	u64 seq;
	u64 time_ns;
	char link_name[QKD_LINK_NAME_MAX];
	u8 key_id[QKD_KEY_ID_LEN];
	u8 role;
	u8 nr_spi;
	u32 pid;
	char comm[TASK_COMM_LEN];
	u32 spi[QKD_AUDIT_SPI_MAX];
	char usage[QKD_USAGE_MAX];
};

struct qkd_audit {
	struct mutex alloc_lock;	/* allocation and resizing of the ring */
	spinlock_t lock;		/* guards the ring, size and next_seq */
	u64 next_seq;			/* seq of the next record, from 1 */
	struct qkd_audit_record *ring;	/* @size entries, NULL until a take */
	u32 size;			/* 0 while @ring is NULL */
	u32 want;			/* net.qkd.audit_records */
};

/* The per-namespace caps (caps.c): net.qkd.<name> sysctls. */
enum qkd_cap {
	QKD_CAP_LINKS,			/* max_links */
	QKD_CAP_KEYS,			/* max_keys: buffered, all links */
	QKD_CAP_BYTES,			/* max_bytes: material buffered */
	QKD_CAP_SPENT_IDS,		/* max_spent_ids: remembered, all links */
	QKD_CAP_AUDIT_RECORDS,		/* audit_records: ring size */
	QKD_NR_CAPS
};

#define QKD_CAP_MSG_MAX	80

struct qkd_net {
	struct net *net;
	struct list_head all_nets;	/* qkd_all_nets, for module unload */
	/*
	 * Guards the links list and name uniqueness, and serializes
	 * LINK_SET's read-modify-write of a link's cfg (netlink.c).
	 */
	struct mutex lock;
	struct list_head links;
	u32 nr_links;
	atomic_t nr_pending;		/* over all links, for URELEASE */
	u32 links_gen;			/* changes on link add/del, never 0 */
	spinlock_t stats_lock;		/* nested inside link->lock */
	struct qkd_stats stats;		/* totals, kept across link deletion */
	struct qkd_audit audit;
	/* Caps, read with READ_ONCE; written by caps.c under @lock. */
	u32 caps[QKD_NR_CAPS];
	/*
	 * The extack text of each refusing cap, naming its value: rewritten
	 * only by a sysctl write (under @lock) and always NUL-terminated at
	 * its last byte, so a refusal racing a write reads a valid string.
	 */
	char cap_msg[QKD_NR_CAPS][QKD_CAP_MSG_MAX];
	atomic_t nr_spent;		/* spent IDs remembered, all links */
	struct ctl_table_header *sysctl;
};

/* Under qn->lock: a link was added or deleted (link dumps check it). */
static inline void qkd_net_links_changed(struct qkd_net *qn)
{
	qn->links_gen = qn->links_gen + 1 ?: 1;
}

/* main.c */
struct qkd_net *qkd_pernet(struct net *net);
extern bool qkd_unloading;

/* caps.c */
int qkd_caps_net_init(struct qkd_net *qn);
void qkd_caps_net_exit(struct qkd_net *qn);
/* Points the extack's message at the cap's text (see cap_msg). */
void qkd_cap_refuse(struct qkd_net *qn, enum qkd_cap cap,
		    struct netlink_ext_ack *extack);

/* store.c */
struct qkd_key_in {
	const struct nlattr *attr;	/* for extack: which key was refused */
	u8 id[QKD_KEY_ID_LEN];
	u8 role;
	u8 len;
	u8 material[QKD_KEY_MAX_LEN];
};

int qkd_store_init(void);
void qkd_store_exit(void);
void qkd_link_config_defaults(struct qkd_link_config *cfg);
/* Add n (may be (u64)-1) to a link's counter and the namespace's. */
void qkd_stat_add(struct qkd_link *link, u64 *counter, u64 n);
int qkd_link_create(struct qkd_net *qn, const char *name,
		    const struct qkd_link_config *cfg,
		    struct netlink_ext_ack *extack);
struct qkd_link *qkd_link_get(struct qkd_net *qn, const char *name);
void qkd_link_put(struct qkd_link *link);
int qkd_link_delete(struct qkd_net *qn, const char *name,
		    struct netlink_ext_ack *extack);
void qkd_link_set_config(struct qkd_link *link,
			 const struct qkd_link_config *cfg);
void qkd_link_snapshot(struct qkd_link *link, struct qkd_link_config *cfg,
		       struct qkd_stats *stats);
int qkd_link_inject(struct qkd_link *link, struct qkd_key_in *keys,
		    unsigned int nr, struct netlink_ext_ack *extack);
/* What a KEY_TAKE asks for. */
struct qkd_take_req {
	const u8 *id;		/* NULL: the oldest initiator key */
	u32 wait_ms;		/* by ID: leave a pending take for this long */
	u32 flags;		/* QKD_TAKE_F_* */
	u32 portid;		/* the taker's socket, for KEY_READY */
};

/*
 * 0 and the key in *out (RESERVE, WANT, RELEASE: its ID only, len 0),
 * -EINPROGRESS (a pending take was left), or another -errno with extack.
 */
int qkd_link_take(struct qkd_link *link, const struct qkd_take_req *req,
		  struct qkd_key_out *out, struct netlink_ext_ack *extack);
int qkd_flush(struct qkd_net *qn, const char *name, u8 role,
	      struct netlink_ext_ack *extack);
void qkd_net_snapshot(struct qkd_net *qn, struct qkd_stats *stats,
		      u32 *nr_links);
void qkd_net_destroy_links(struct qkd_net *qn);
/* Module unload: tell every pending take (KEY_READY, ESHUTDOWN). */
void qkd_net_wake_all(struct qkd_net *qn);

/* pending.c: records are allocated before, and freed after, link->lock */
struct qkd_pending;
struct qkd_pending *qkd_pending_alloc(void);
void qkd_pending_free(struct qkd_pending *p);
int qkd_pending_add(struct qkd_link *link, struct qkd_pending **prealloc,
		    const u8 *id, u32 portid, u32 wait_ms,
		    struct list_head *reaped, struct netlink_ext_ack *extack);
/*
 * Move a port's records for id (cancel), or all records for id (NULL: all
 * of the link's), onto out; under link->lock.
 */
void qkd_pending_cancel(struct qkd_link *link, const u8 *id, u32 portid,
			struct list_head *out);
void qkd_pending_collect(struct qkd_link *link, const u8 *id,
			 struct list_head *out);
/* After the lock: KEY_READY with status to each record of list, freed. */
void qkd_pending_notify(struct qkd_link *link, struct list_head *list,
			u32 status);
void qkd_pending_free_list(struct list_head *list);
int qkd_pending_init(void);
void qkd_pending_exit(void);

/* audit.c */
void qkd_audit_init(struct qkd_audit *audit, u32 size);
void qkd_audit_destroy(struct qkd_audit *audit);
/* Sets the ring size, keeping the newest records; 0 or -ENOMEM. */
int qkd_audit_resize(struct qkd_audit *audit, u32 size);
void qkd_audit_record_take(struct qkd_audit *audit, const char *link_name,
			   const struct qkd_key_out *key);
int qkd_audit_annotate(struct qkd_audit *audit, const char *link_name,
		       const u8 *key_id, const u32 *spi, unsigned int nr_spi,
		       const char *usage);
/* Copies the record at *pos (counting from the oldest kept) into rec. */
bool qkd_audit_read(struct qkd_audit *audit, u64 *cursor,
		    struct qkd_audit_record *rec);

/* netlink.c; the family and its groups are in netlink-gen.h */
int qkd_genl_register(void);
void qkd_genl_unregister(void);

/* notify.c */
void qkd_notify_low_watermark(struct qkd_link *link, u32 count, u32 lowat);
void qkd_notify_key_wanted(struct qkd_link *link, const u8 *id);
void qkd_notify_key_expired(struct qkd_link *link, const u8 *id, u8 role);
void qkd_notify_link_del(struct qkd_net *qn, const char *name);
void qkd_notify_link_changed(struct qkd_link *link, int cmd);
void qkd_notify_key_ready(struct net *net, u32 portid, const char *link_name,
			  const u8 *id, u32 status);

#endif /* _QKD_H */
