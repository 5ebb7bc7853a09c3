// SPDX-License-Identifier: GPL-2.0
/*
 * Links and their keys: inject, take, flush and expiry.
 *
 * A link keeps its keys in two FIFO lists, one per role, and in one hash
 * table by ID (for duplicate checks and take by ID).  All keys of a link
 * share its TTL, so both lists are also sorted by expiry time and expiry
 * only ever looks at their heads.
 *
 * Locking: qn->lock (a mutex) guards the list of links and name
 * uniqueness; each link's spinlock guards its keys, limits, bucket and
 * counters; qn->stats_lock nests inside a link's lock for the namespace
 * totals.  Links are reference counted so that a taker sleeping for a key
 * by ID, or a netlink reply being built, keeps its link alive across a
 * concurrent delete; a deleted link is marked dead and emptied at once.
 *
 * Zeroization: key material lives only in struct qkd_key, which is wiped
 * whole and freed by qkd_key_free() on every path that drops a key (take,
 * expiry, flush, link deletion, namespace exit and module unload).
 *
 * Memory: keys come from caches of their own (SLAB_ACCOUNT), one per
 * 16-byte class of material length; every allocation is charged to the
 * caller's memory cgroup (QKD_GFP) and bounded by the namespace's caps
 * (caps.c) besides the link's own max_keys and max_bytes.
 */
#include <linux/jhash.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/netlink.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "qkd.h"

/* Material of 16, 32, 48 or 64 bytes: one cache per class. */
#define QKD_KEY_CLASS_LEN	16
#define QKD_KEY_CLASSES		(QKD_KEY_MAX_LEN / QKD_KEY_CLASS_LEN)

static struct kmem_cache *qkd_key_caches[QKD_KEY_CLASSES];
static struct kmem_cache *qkd_spent_cache;

static unsigned int qkd_key_class(unsigned int len)
{
	return (len - 1) / QKD_KEY_CLASS_LEN;
}

static size_t qkd_key_class_size(unsigned int class)
{
	return struct_size((struct qkd_key *)NULL, material,
			   (class + 1) * QKD_KEY_CLASS_LEN);
}

int qkd_store_init(void)
{
	static const char *const names[QKD_KEY_CLASSES] = {
		"qkd_key_16", "qkd_key_32", "qkd_key_48", "qkd_key_64",
	};
	unsigned int i;

	BUILD_BUG_ON(QKD_KEY_MIN_LEN < 1 ||
		     QKD_KEY_MAX_LEN % QKD_KEY_CLASS_LEN);
	for (i = 0; i < QKD_KEY_CLASSES; i++) {
		qkd_key_caches[i] = kmem_cache_create(names[i],
						      qkd_key_class_size(i), 0,
						      SLAB_ACCOUNT, NULL);
		if (!qkd_key_caches[i])
			goto fail;
	}
	qkd_spent_cache = KMEM_CACHE(qkd_spent_id, SLAB_ACCOUNT);
	if (!qkd_spent_cache)
		goto fail;
	return 0;

fail:
	qkd_store_exit();
	return -ENOMEM;
}

/* After every namespace is gone: all keys and spent IDs are freed. */
void qkd_store_exit(void)
{
	unsigned int i;

	kmem_cache_destroy(qkd_spent_cache);
	qkd_spent_cache = NULL;
	for (i = 0; i < QKD_KEY_CLASSES; i++) {
		kmem_cache_destroy(qkd_key_caches[i]);
		qkd_key_caches[i] = NULL;
	}
}

static struct qkd_key *qkd_key_alloc(unsigned int len)
{
	struct qkd_key *key;

	key = kmem_cache_zalloc(qkd_key_caches[qkd_key_class(len)], QKD_GFP);
	if (key)
		key->len = len;	/* qkd_key_free() needs the class */
	return key;
}

static void qkd_key_free(struct qkd_key *key)
{
	unsigned int class = qkd_key_class(key->len);

	/* The whole object, material included, like kfree_sensitive(). */
	memzero_explicit(key, qkd_key_class_size(class));
	kmem_cache_free(qkd_key_caches[class], key);
}

static struct qkd_spent_id *qkd_spent_alloc(void)
{
	return kmem_cache_zalloc(qkd_spent_cache, QKD_GFP);
}

static void qkd_spent_free(struct qkd_spent_id *spent)
{
	if (spent)
		kmem_cache_free(qkd_spent_cache, spent);
}

void qkd_link_config_defaults(struct qkd_link_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_keys = QKD_LINK_DEFAULT_MAX_KEYS;
	cfg->max_bytes = QKD_LINK_DEFAULT_MAX_BYTES;
	cfg->key_ttl = QKD_LINK_DEFAULT_TTL;
	cfg->rate = QKD_LINK_DEFAULT_RATE;
	cfg->burst = QKD_LINK_DEFAULT_BURST;
	cfg->low_watermark = QKD_LINK_DEFAULT_LOW_WATERMARK;
}

static u32 qkd_key_hash(const struct qkd_link *link, const u8 *id)
{
	return jhash(id, QKD_KEY_ID_LEN, link->hash_seed);
}

/*
 * The chains by ID hold about two keys each: the table doubles (in
 * qkd_link_inject(), allocated before the lock) up to this size, enough
 * for QKD_LINK_MAX_KEYS_LIMIT keys.
 */
#define QKD_KEY_HASH_MIN_BITS	4
#define QKD_KEY_HASH_MAX_BITS	15

static unsigned int qkd_key_hash_bits(u64 keys)
{
	unsigned int bits = QKD_KEY_HASH_MIN_BITS;

	while (bits < QKD_KEY_HASH_MAX_BITS && keys > (2ULL << bits))
		bits++;
	return bits;
}

/* Called with link->lock held: the slot holding the key of @id, or NULL's. */
static struct qkd_key **qkd_link_key_slot(struct qkd_link *link, const u8 *id)
{
	struct qkd_key **p;

	p = &link->keys_by_id[hash_32(qkd_key_hash(link, id),
				      link->keys_hash_bits)];
	while (*p && memcmp((*p)->id, id, QKD_KEY_ID_LEN))
		p = &(*p)->hnext;
	return p;
}

static struct qkd_key *qkd_link_find_key(struct qkd_link *link, const u8 *id)
{
	return *qkd_link_key_slot(link, id);
}

static void qkd_link_hash_key(struct qkd_link *link, struct qkd_key *key)
{
	struct qkd_key **head;

	head = &link->keys_by_id[hash_32(qkd_key_hash(link, key->id),
					 link->keys_hash_bits)];
	key->hnext = *head;
	*head = key;
}

static void qkd_link_unhash_key(struct qkd_link *link, struct qkd_key *key)
{
	struct qkd_key **p = qkd_link_key_slot(link, key->id);

	*p = key->hnext;
	key->hnext = NULL;
}

/*
 * Called with link->lock held: move every key into @table (1 << bits
 * zeroed chains); returns the old table, to be freed after the lock.
 */
static struct qkd_key **qkd_link_rehash(struct qkd_link *link,
					struct qkd_key **table,
					unsigned int bits)
{
	struct qkd_key **old = link->keys_by_id;
	struct qkd_key *key;

	link->keys_by_id = table;
	link->keys_hash_bits = bits;
	list_for_each_entry(key, &link->initiator_keys, fifo)
		qkd_link_hash_key(link, key);
	list_for_each_entry(key, &link->responder_keys, fifo)
		qkd_link_hash_key(link, key);
	return old;
}

static bool qkd_link_id_spent(struct qkd_link *link, const u8 *id)
{
	struct qkd_spent_id *spent;

	hash_for_each_possible(link->spent_by_id, spent, by_id,
			       qkd_key_hash(link, id))
		if (!memcmp(spent->id, id, QKD_KEY_ID_LEN))
			return true;
	return false;
}

/*
 * Called with link->lock held: remember a taken key's ID, forgetting the
 * link's oldest beyond QKD_LINK_SPENT_IDS, or when the namespace holds
 * its net.qkd.max_spent_ids (a link always keeps its newest one).
 * Returns an entry to free, if any.
 */
static struct qkd_spent_id *qkd_link_spend_id(struct qkd_link *link,
					      struct qkd_spent_id *spent,
					      const u8 *id)
{
	struct qkd_net *qn = link->qn;
	struct qkd_spent_id *oldest = NULL;

	if (link->nr_spent &&
	    (link->nr_spent >= QKD_LINK_SPENT_IDS ||
	     atomic_read(&qn->nr_spent) >=
	     READ_ONCE(qn->caps[QKD_CAP_SPENT_IDS]))) {
		oldest = list_first_entry(&link->spent_ids,
					  struct qkd_spent_id, fifo);
		list_del(&oldest->fifo);
		hash_del(&oldest->by_id);
	} else {
		link->nr_spent++;
		atomic_inc(&qn->nr_spent);
	}
	memcpy(spent->id, id, QKD_KEY_ID_LEN);
	list_add_tail(&spent->fifo, &link->spent_ids);
	hash_add(link->spent_by_id, &spent->by_id, qkd_key_hash(link, id));
	return oldest;
}

static void qkd_link_free_spent_ids(struct qkd_link *link)
{
	struct qkd_spent_id *spent, *tmp;

	list_for_each_entry_safe(spent, tmp, &link->spent_ids, fifo) {
		list_del(&spent->fifo);
		qkd_spent_free(spent);
	}
	atomic_sub(link->nr_spent, &link->qn->nr_spent);
	link->nr_spent = 0;
}

/*
 * Called with link->lock held: add to one of the link's counters and to
 * the same counter of the namespace totals.
 */
void qkd_stat_add(struct qkd_link *link, u64 *counter, u64 n)
{
	size_t offset = (u8 *)counter - (u8 *)&link->stats;
	struct qkd_net *qn = link->qn;

	*counter += n;
	spin_lock(&qn->stats_lock);
	*(u64 *)((u8 *)&qn->stats + offset) += n;
	spin_unlock(&qn->stats_lock);
}

/* Called with link->lock held; moves the key to @dropped, or frees it. */
static void qkd_link_unlink_key(struct qkd_link *link, struct qkd_key *key)
{
	struct qkd_net *qn = link->qn;

	list_del(&key->fifo);
	qkd_link_unhash_key(link, key);
	link->stats.keys_buffered--;
	link->stats.bytes_buffered -= key->len;
	if (key->role == QKD_KEY_ROLE_INITIATOR)
		link->stats.initiator_keys--;
	if (key->reserved)
		link->stats.reserved--;

	spin_lock(&qn->stats_lock);
	qn->stats.keys_buffered--;
	qn->stats.bytes_buffered -= key->len;
	if (key->role == QKD_KEY_ROLE_INITIATOR)
		qn->stats.initiator_keys--;
	if (key->reserved)
		qn->stats.reserved--;
	spin_unlock(&qn->stats_lock);
}

static void qkd_free_key_list(struct list_head *keys)
{
	struct qkd_key *key, *tmp;

	list_for_each_entry_safe(key, tmp, keys, fifo) {
		list_del(&key->fifo);
		qkd_key_free(key);
	}
}

/* Called with link->lock held: every key of a link shares its TTL. */
static u64 qkd_key_expires(const struct qkd_link *link,
			   const struct qkd_key *key)
{
	return key->injected + (u64)link->cfg.key_ttl * HZ;
}

static struct qkd_key *qkd_link_oldest(struct qkd_link *link)
{
	struct qkd_key *a, *b;

	a = list_first_entry_or_null(&link->initiator_keys, struct qkd_key,
				     fifo);
	b = list_first_entry_or_null(&link->responder_keys, struct qkd_key,
				     fifo);
	if (!a)
		return b;
	if (!b)
		return a;
	return time_before64(a->injected, b->injected) ? a : b;
}

/* Called with link->lock held: arm the expiry work for the oldest key. */
static void qkd_link_arm_expiry(struct qkd_link *link)
{
	struct qkd_key *oldest = qkd_link_oldest(link);
	u64 now = get_jiffies_64(), expires;

	if (!oldest || link->dead)
		return;
	expires = qkd_key_expires(link, oldest);
	mod_delayed_work(system_wq, &link->expiry_work,
			 time_after64(expires, now) ?
			 (unsigned long)(expires - now) : 0);
}

/*
 * Called with link->lock held: move every expired key to @expired and
 * return how many initiator keys went.
 */
static unsigned int qkd_link_reap_expired(struct qkd_link *link,
					  struct list_head *expired)
{
	u64 now = get_jiffies_64();
	unsigned int initiators = 0;
	struct qkd_key *key;

	while ((key = qkd_link_oldest(link)) &&
	       time_after_eq64(now, qkd_key_expires(link, key))) {
		qkd_link_unlink_key(link, key);
		qkd_stat_add(link, &link->stats.expired, 1);
		if (key->role == QKD_KEY_ROLE_INITIATOR)
			initiators++;
		list_add_tail(&key->fifo, expired);
	}
	return initiators;
}

/* Called with link->lock held. */
static bool qkd_link_below_watermark(struct qkd_link *link, u32 *count,
				     u32 *lowat)
{
	*count = link->stats.initiator_keys;
	*lowat = link->cfg.low_watermark;
	return *lowat && *count < *lowat;
}

/* Counts a fall below the low watermark and notifies it. */
static void qkd_link_low_watermark(struct qkd_link *link, u32 count,
				   u32 lowat)
{
	spin_lock(&link->lock);
	qkd_stat_add(link, &link->stats.low_watermark, 1);
	spin_unlock(&link->lock);
	qkd_notify_low_watermark(link, count, lowat);
}

static void qkd_link_notify_expired(struct qkd_link *link,
				    struct list_head *expired)
{
	struct qkd_key *key;

	list_for_each_entry(key, expired, fifo)
		qkd_notify_key_expired(link, key->id, key->role);
}

static void qkd_link_expiry_work(struct work_struct *work)
{
	struct qkd_link *link = container_of(to_delayed_work(work),
					     struct qkd_link, expiry_work);
	LIST_HEAD(expired);
	bool lowat_hit = false;
	u32 count, lowat;

	spin_lock(&link->lock);
	if (link->dead) {
		spin_unlock(&link->lock);
		return;
	}
	if (qkd_link_reap_expired(link, &expired))
		lowat_hit = qkd_link_below_watermark(link, &count, &lowat);
	qkd_link_arm_expiry(link);
	spin_unlock(&link->lock);

	qkd_link_notify_expired(link, &expired);
	qkd_free_key_list(&expired);
	if (lowat_hit)
		qkd_link_low_watermark(link, count, lowat);
}

static struct qkd_link *qkd_link_find(struct qkd_net *qn, const char *name)
{
	struct qkd_link *link;

	lockdep_assert_held(&qn->lock);
	list_for_each_entry(link, &qn->links, node)
		if (!strcmp(link->name, name))
			return link;
	return NULL;
}

int qkd_link_create(struct qkd_net *qn, const char *name,
		    const struct qkd_link_config *cfg,
		    struct netlink_ext_ack *extack)
{
	struct qkd_link *link;
	int err;

	link = kzalloc(sizeof(*link), QKD_GFP);
	if (!link)
		goto nomem;
	link->keys_hash_bits = QKD_KEY_HASH_MIN_BITS;
	link->keys_by_id = kcalloc(1U << link->keys_hash_bits,
				   sizeof(*link->keys_by_id), QKD_GFP);
	if (!link->keys_by_id) {
		kfree(link);
		goto nomem;
	}
	link->hash_seed = get_random_u32();
	kref_init(&link->refcount);
	link->qn = qn;
	strscpy(link->name, name, sizeof(link->name));
	spin_lock_init(&link->lock);
	link->cfg = *cfg;
	qkd_ratelimiter_init(&link->rl, cfg->rate, cfg->burst);
	INIT_LIST_HEAD(&link->initiator_keys);
	INIT_LIST_HEAD(&link->responder_keys);
	INIT_LIST_HEAD(&link->spent_ids);
	hash_init(link->spent_by_id);
	INIT_LIST_HEAD(&link->pending);
	INIT_DELAYED_WORK(&link->expiry_work, qkd_link_expiry_work);

	mutex_lock(&qn->lock);
	if (qkd_link_find(qn, name)) {
		mutex_unlock(&qn->lock);
		NL_SET_ERR_MSG_MOD(extack, "a link of that name exists");
		err = -EEXIST;
		goto out_free;
	}
	if (qn->nr_links >= READ_ONCE(qn->caps[QKD_CAP_LINKS])) {
		qkd_cap_refuse(qn, QKD_CAP_LINKS, extack);
		mutex_unlock(&qn->lock);
		err = -QKD_ERR_NS_CAP;
		goto out_free;
	}
	list_add_tail(&link->node, &qn->links);
	qn->nr_links++;
	qkd_net_links_changed(qn);
	kref_get(&link->refcount);	/* for the notification below */
	mutex_unlock(&qn->lock);

	qkd_notify_link_changed(link, QKD_CMD_LINK_NEW_NTF);
	qkd_link_put(link);
	return 0;

nomem:
	NL_SET_ERR_MSG_MOD(extack, "out of memory for the link (memory cgroup limit?)");
	return -ENOMEM;
out_free:
	kfree(link->keys_by_id);
	kfree(link);
	return err;
}

struct qkd_link *qkd_link_get(struct qkd_net *qn, const char *name)
{
	struct qkd_link *link;

	mutex_lock(&qn->lock);
	link = qkd_link_find(qn, name);
	if (link)
		kref_get(&link->refcount);
	mutex_unlock(&qn->lock);
	return link;
}

static void qkd_link_release(struct kref *ref)
{
	struct qkd_link *link = container_of(ref, struct qkd_link, refcount);

	/* Its keys were wiped when it died; nothing secret is left. */
	qkd_link_free_spent_ids(link);
	kvfree(link->keys_by_id);
	kfree(link);
}

void qkd_link_put(struct qkd_link *link)
{
	kref_put(&link->refcount, qkd_link_release);
}

static unsigned int qkd_link_flush(struct qkd_link *link, u8 role);

/*
 * Mark a link unlinked from its namespace as dead, wipe its keys, tell
 * its pending takes (when anyone is left to tell) and stop its expiry
 * work.  Drops the namespace's reference.
 */
static void qkd_link_kill(struct qkd_link *link, bool notify)
{
	LIST_HEAD(pending);

	/* Dead first: no inject can add keys after the flush below. */
	spin_lock(&link->lock);
	link->dead = true;
	qkd_pending_collect(link, NULL, &pending);
	spin_unlock(&link->lock);

	qkd_link_flush(link, 0);
	if (notify)
		qkd_pending_notify(link, &pending, ENODEV);
	else
		qkd_pending_free_list(&pending);
	cancel_delayed_work_sync(&link->expiry_work);
	if (notify)
		qkd_notify_link_del(link->qn, link->name);
	qkd_link_put(link);
}

int qkd_link_delete(struct qkd_net *qn, const char *name,
		    struct netlink_ext_ack *extack)
{
	struct qkd_link *link;

	mutex_lock(&qn->lock);
	link = qkd_link_find(qn, name);
	if (!link) {
		mutex_unlock(&qn->lock);
		NL_SET_ERR_MSG_MOD(extack, "no link of that name");
		return -ENODEV;
	}
	list_del(&link->node);
	qn->nr_links--;
	qkd_net_links_changed(qn);
	mutex_unlock(&qn->lock);

	qkd_link_kill(link, true);
	return 0;
}

void qkd_net_destroy_links(struct qkd_net *qn)
{
	struct qkd_link *link, *tmp;
	LIST_HEAD(links);

	mutex_lock(&qn->lock);
	list_splice_init(&qn->links, &links);
	qn->nr_links = 0;
	mutex_unlock(&qn->lock);

	/* The namespace is going away: nobody is left to notify. */
	list_for_each_entry_safe(link, tmp, &links, node) {
		list_del(&link->node);
		qkd_link_kill(link, false);
	}
}

void qkd_net_wake_all(struct qkd_net *qn)
{
	struct qkd_link *link;
	LIST_HEAD(pending);

	mutex_lock(&qn->lock);
	list_for_each_entry(link, &qn->links, node) {
		spin_lock(&link->lock);
		qkd_pending_collect(link, NULL, &pending);
		spin_unlock(&link->lock);
		qkd_pending_notify(link, &pending, ESHUTDOWN);
	}
	mutex_unlock(&qn->lock);
}

void qkd_link_set_config(struct qkd_link *link,
			 const struct qkd_link_config *cfg)
{
	spin_lock(&link->lock);
	if (cfg->rate != link->cfg.rate || cfg->burst != link->cfg.burst)
		qkd_ratelimiter_init(&link->rl, cfg->rate, cfg->burst);
	/*
	 * A new TTL applies to every buffered key, counted from its
	 * injection (expiry is derived from it), so both lists stay sorted
	 * by expiry; the expiry work is re-armed below.
	 */
	/*
	 * Lower caps apply to later injections: keys already buffered stay,
	 * since dropping QKD material that both sites hold helps nobody.
	 */
	link->cfg = *cfg;
	qkd_link_arm_expiry(link);
	spin_unlock(&link->lock);
	qkd_notify_link_changed(link, QKD_CMD_LINK_SET_NTF);
}

void qkd_link_snapshot(struct qkd_link *link, struct qkd_link_config *cfg,
		       struct qkd_stats *stats)
{
	spin_lock(&link->lock);
	if (cfg)
		*cfg = link->cfg;
	if (stats)
		*stats = link->stats;
	spin_unlock(&link->lock);
}

void qkd_net_snapshot(struct qkd_net *qn, struct qkd_stats *stats,
		      u32 *nr_links)
{
	mutex_lock(&qn->lock);
	*nr_links = qn->nr_links;
	spin_lock(&qn->stats_lock);
	*stats = qn->stats;
	spin_unlock(&qn->stats_lock);
	mutex_unlock(&qn->lock);
}

/* Counts @nr keys of @bytes injected into a link's or namespace's stats. */
static void qkd_stats_add_injected(struct qkd_stats *s, unsigned int nr,
				   unsigned int responders, unsigned int bytes)
{
	s->injected += nr;
	s->keys_buffered += nr;
	s->initiator_keys += nr - responders;
	s->bytes_buffered += bytes;
	s->bytes_high_water = max(s->bytes_high_water, s->bytes_buffered);
}

/*
 * Called with link->lock held: check the namespace's key and byte caps
 * and, if they allow @nr keys of @bytes, count them in its totals.
 */
static int qkd_net_charge_keys(struct qkd_link *link, unsigned int nr,
			       unsigned int responders, unsigned int bytes,
			       struct netlink_ext_ack *extack)
{
	struct qkd_net *qn = link->qn;
	enum qkd_cap over;

	spin_lock(&qn->stats_lock);
	if (qn->stats.keys_buffered + nr > READ_ONCE(qn->caps[QKD_CAP_KEYS]))
		over = QKD_CAP_KEYS;
	else if (qn->stats.bytes_buffered + bytes >
		 READ_ONCE(qn->caps[QKD_CAP_BYTES]))
		over = QKD_CAP_BYTES;
	else
		over = QKD_NR_CAPS;
	if (over != QKD_NR_CAPS) {
		qn->stats.rejected_cap += nr;
		spin_unlock(&qn->stats_lock);
		link->stats.rejected_cap += nr;
		qkd_cap_refuse(qn, over, extack);
		return -QKD_ERR_NS_CAP;
	}
	qkd_stats_add_injected(&qn->stats, nr, responders, bytes);
	spin_unlock(&qn->stats_lock);
	return 0;
}

/* Pending takes for responder keys just injected; under link->lock. */
static void qkd_link_collect_ready(struct qkd_link *link,
				   const struct qkd_key_in *in, unsigned int nr,
				   struct list_head *ready)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (in[i].role == QKD_KEY_ROLE_RESPONDER)
			qkd_pending_collect(link, in[i].id, ready);
}

int qkd_link_inject(struct qkd_link *link, struct qkd_key_in *in,
		    unsigned int nr, struct netlink_ext_ack *extack)
{
	unsigned int i, j, bytes = 0, responders = 0, bits;
	struct qkd_key **keys, **table = NULL;
	LIST_HEAD(ready);
	int err = 0;
	u64 now;

	/* Duplicates within the batch are refused like duplicates held. */
	for (i = 0; i < nr; i++) {
		bytes += in[i].len;
		responders += in[i].role == QKD_KEY_ROLE_RESPONDER;
		for (j = 0; j < i; j++) {
			if (!memcmp(in[i].id, in[j].id, QKD_KEY_ID_LEN)) {
				NL_SET_ERR_MSG_ATTR(extack, in[i].attr,
						    "duplicate key ID in this batch");
				spin_lock(&link->lock);
				qkd_stat_add(link, &link->stats.rejected_duplicate, nr);
				spin_unlock(&link->lock);
				return -EEXIST;
			}
		}
	}

	keys = kcalloc(nr, sizeof(*keys), QKD_GFP);
	if (!keys)
		goto nomem;
	for (i = 0; i < nr; i++) {
		keys[i] = qkd_key_alloc(in[i].len);
		if (!keys[i])
			goto nomem_free;
	}
	/* A bigger table if needed; without one the chains grow longer. */
	bits = qkd_key_hash_bits(READ_ONCE(link->stats.keys_buffered) + nr);
	if (bits > READ_ONCE(link->keys_hash_bits))
		table = kvcalloc(1U << bits, sizeof(*table), QKD_GFP);

	spin_lock(&link->lock);
	if (link->dead) {
		spin_unlock(&link->lock);
		NL_SET_ERR_MSG_MOD(extack, "link was deleted");
		err = -ENODEV;
		goto out_free;
	}
	for (i = 0; i < nr; i++) {
		if (qkd_link_id_spent(link, in[i].id)) {
			qkd_stat_add(link, &link->stats.rejected_reused, nr);
			spin_unlock(&link->lock);
			NL_SET_ERR_MSG_ATTR(extack, in[i].attr,
					    "key ID was already used");
			err = -EEXIST;
			goto out_free;
		}
		if (qkd_link_find_key(link, in[i].id)) {
			qkd_stat_add(link, &link->stats.rejected_duplicate, nr);
			spin_unlock(&link->lock);
			NL_SET_ERR_MSG_ATTR(extack, in[i].attr,
					    "key ID already held");
			err = -EEXIST;
			goto out_free;
		}
	}
	if (link->stats.keys_buffered + nr > link->cfg.max_keys ||
	    link->stats.bytes_buffered + bytes > link->cfg.max_bytes) {
		qkd_stat_add(link, &link->stats.rejected_cap, nr);
		spin_unlock(&link->lock);
		NL_SET_ERR_MSG_MOD(extack,
				   "keys would exceed the link's max_keys or max_bytes");
		err = -ENOSPC;
		goto out_free;
	}
	err = qkd_net_charge_keys(link, nr, responders, bytes, extack);
	if (err) {
		spin_unlock(&link->lock);
		goto out_free;
	}

	if (table && bits > link->keys_hash_bits)
		table = qkd_link_rehash(link, table, bits);
	/* Read under the lock: the lists stay in injection order. */
	now = get_jiffies_64();
	for (i = 0; i < nr; i++) {
		struct qkd_key *key = keys[i];

		memcpy(key->id, in[i].id, QKD_KEY_ID_LEN);
		memcpy(key->material, in[i].material, in[i].len);
		key->role = in[i].role;
		key->injected = now;
		list_add_tail(&key->fifo,
			      key->role == QKD_KEY_ROLE_INITIATOR ?
			      &link->initiator_keys : &link->responder_keys);
		qkd_link_hash_key(link, key);
		keys[i] = NULL;
	}

	qkd_stats_add_injected(&link->stats, nr, responders, bytes);

	if (responders && link->nr_pending)
		qkd_link_collect_ready(link, in, nr, &ready);
	qkd_link_arm_expiry(link);
	spin_unlock(&link->lock);

	qkd_pending_notify(link, &ready, 0);

out_free:
	for (i = 0; i < nr; i++)
		if (keys[i])
			qkd_key_free(keys[i]);	/* never held material */
	kfree(keys);
	kvfree(table);		/* unused, or the table replaced */
	return err;

nomem_free:
	while (i--)
		qkd_key_free(keys[i]);
	kfree(keys);
nomem:
	NL_SET_ERR_MSG_MOD(extack, "out of memory for the keys (memory cgroup limit?)");
	return -ENOMEM;
}

/*
 * Copies a key out for its taker.  The TTL is read unlocked: a concurrent
 * LINK_SET may give the taker either TTL.
 */
static void qkd_key_export_id(struct qkd_link *link, const struct qkd_key *key,
			      struct qkd_key_out *out)
{
	u64 age_ns = jiffies64_to_nsecs(get_jiffies_64() - key->injected);

	memcpy(out->id, key->id, QKD_KEY_ID_LEN);
	out->role = key->role;
	out->len = 0;
	out->injected_ns = ktime_get_real_ns() - age_ns;
	out->expires_ns = out->injected_ns +
			  (u64)READ_ONCE(link->cfg.key_ttl) * NSEC_PER_SEC;
}

static void qkd_key_export(struct qkd_link *link, const struct qkd_key *key,
			   struct qkd_key_out *out)
{
	qkd_key_export_id(link, key, out);
	out->len = key->len;
	memcpy(out->material, key->material, key->len);
}

/* What one take did, for the steps after the lock. */
struct qkd_take_ctx {
	const struct qkd_take_req *req;
	struct qkd_spent_id *spent;	/* preallocated */
	struct qkd_pending *pend;	/* preallocated for a take by ID */
	struct list_head expired;	/* keys reaped on the way */
	struct list_head cancelled;	/* pending records dropped */
	struct qkd_key *key;		/* the key handed out */
	bool wanted, lowat_hit;
	u32 count, lowat;
};

/* The oldest initiator key nobody reserved. */
static struct qkd_key *qkd_link_oldest_free(struct qkd_link *link)
{
	struct qkd_key *key;

	list_for_each_entry(key, &link->initiator_keys, fifo)
		if (!key->reserved)
			return key;
	return NULL;
}

/* RESERVE: mark the oldest free initiator key; its ID goes back. */
static int qkd_link_reserve(struct qkd_link *link, struct qkd_key_out *out,
			    struct netlink_ext_ack *extack)
{
	struct qkd_key *key = qkd_link_oldest_free(link);

	if (!key) {
		qkd_stat_add(link, &link->stats.rejected_not_found, 1);
		NL_SET_ERR_MSG_MOD(extack, "no unreserved initiator key buffered");
		return -ENOENT;
	}
	key->reserved = true;
	qkd_stat_add(link, &link->stats.reserved, 1);
	qkd_key_export_id(link, key, out);	/* the ID only */
	return 0;
}

/* RELEASE: this side's reserved initiator key of that ID is free again. */
static int qkd_link_release_reserved(struct qkd_link *link,
				     const struct qkd_take_req *req,
				     struct qkd_key_out *out,
				     struct netlink_ext_ack *extack)
{
	struct qkd_key *key = qkd_link_find_key(link, req->id);

	if (!key || key->role != QKD_KEY_ROLE_INITIATOR || !key->reserved) {
		NL_SET_ERR_MSG_MOD(extack, "no reserved initiator key of that ID");
		return -ENOENT;
	}
	key->reserved = false;
	qkd_stat_add(link, &link->stats.reserved, (u64)-1);
	qkd_key_export_id(link, key, out);
	return 0;
}

/* Whether a WANT for id already went out recently; else remember it. */
static bool qkd_link_want_seen(struct qkd_link *link, const u8 *id)
{
	unsigned int i;

	for (i = 0; i < link->nr_want_recent; i++)
		if (!memcmp(link->want_recent[i], id, QKD_KEY_ID_LEN))
			return true;
	memcpy(link->want_recent[link->want_next], id, QKD_KEY_ID_LEN);
	link->want_next = (link->want_next + 1) % QKD_LINK_WANT_RECENT;
	if (link->nr_want_recent < QKD_LINK_WANT_RECENT)
		link->nr_want_recent++;
	return false;
}

/*
 * WANT: a responder key of that ID is asked for ahead of its take.  Held:
 * its ID goes back.  Not held: KEY_WANTED (once per recent ID), ENOENT.
 * Nothing is taken, nothing waits; a pending take for the ID already
 * asked the agent.
 */
static int qkd_link_want(struct qkd_link *link, struct qkd_take_ctx *t,
			 struct qkd_key_out *out,
			 struct netlink_ext_ack *extack)
{
	const u8 *id = t->req->id;
	struct qkd_key *key = qkd_link_find_key(link, id);

	if (key && key->role == QKD_KEY_ROLE_RESPONDER) {
		qkd_key_export_id(link, key, out);
		return 0;
	}
	if (key) {
		NL_SET_ERR_MSG_MOD(extack,
				   "key ID names one of this side's initiator keys");
		return -ENOENT;
	}
	if (qkd_link_id_spent(link, id)) {
		NL_SET_ERR_MSG_MOD(extack, "key ID was already taken from this link");
		return -ENOENT;
	}
	if (qkd_link_want_seen(link, id)) {
		NL_SET_ERR_MSG_MOD(extack, "key ID not held: already asked for");
		return -ENOENT;
	}
	qkd_stat_add(link, &link->stats.wanted, 1);
	t->wanted = true;
	NL_SET_ERR_MSG_MOD(extack, "key ID not held: KEY_WANTED sent");
	return -ENOENT;
}

/* The key a take asks for, or NULL; a refusal in *err (else 0). */
static struct qkd_key *qkd_link_find_take(struct qkd_link *link,
					  const struct qkd_take_req *req,
					  int *err,
					  struct netlink_ext_ack *extack)
{
	struct qkd_key *key;

	*err = 0;
	if (!req->id)
		return qkd_link_oldest_free(link);
	key = qkd_link_find_key(link, req->id);
	if (req->flags & QKD_TAKE_F_INITIATOR)
		return key && key->role == QKD_KEY_ROLE_INITIATOR ? key : NULL;
	/* Never let a peer spend this side's initiator keys. */
	if (key && key->role != QKD_KEY_ROLE_RESPONDER) {
		NL_SET_ERR_MSG_MOD(extack,
				   "key ID names one of this side's initiator keys");
		*err = -ENOENT;
		return NULL;
	}
	if (!key && qkd_link_id_spent(link, req->id)) {
		NL_SET_ERR_MSG_MOD(extack, "key ID was already taken from this link");
		*err = -ENOENT;
	}
	return key;
}

/* Hand the key out: spend its ID, unlink it.  Under link->lock. */
static void qkd_link_hand_out(struct qkd_link *link, struct qkd_key *key,
			      struct qkd_take_ctx *t)
{
	qkd_ratelimiter_consume(&link->rl);
	t->spent = qkd_link_spend_id(link, t->spent, key->id);
	qkd_link_unlink_key(link, key);
	qkd_stat_add(link, &link->stats.taken, 1);
	if (key->role == QKD_KEY_ROLE_INITIATOR)
		t->lowat_hit = qkd_link_below_watermark(link, &t->count,
							&t->lowat);
	t->key = key;
}

/* A responder key by ID that is not here: want it, maybe wait for it. */
static int qkd_link_miss_by_id(struct qkd_link *link, struct qkd_take_ctx *t,
			       struct netlink_ext_ack *extack)
{
	const struct qkd_take_req *req = t->req;
	int err;

	if (!(req->flags & QKD_TAKE_F_QUIET)) {
		qkd_stat_add(link, &link->stats.wanted, 1);
		t->wanted = true;	/* like net/handshake: ask the agent */
	}
	if (req->wait_ms && t->pend && !READ_ONCE(qkd_unloading)) {
		err = qkd_pending_add(link, &t->pend, req->id, req->portid,
				      req->wait_ms, &t->cancelled, extack);
		if (!err)
			NL_SET_ERR_MSG_MOD(extack,
					   "key not held yet: KEY_READY follows on this socket");
		return err ? err : -EINPROGRESS;
	}
	qkd_stat_add(link, &link->stats.rejected_not_found, 1);
	NL_SET_ERR_MSG_MOD(extack, "key ID not held");
	return -ENOENT;
}

/* The take under link->lock. */
static int qkd_link_take_locked(struct qkd_link *link, struct qkd_take_ctx *t,
				struct qkd_key_out *out,
				struct netlink_ext_ack *extack)
{
	const struct qkd_take_req *req = t->req;
	struct qkd_key *key;
	int err;

	if (link->dead) {
		NL_SET_ERR_MSG_MOD(extack, "link was deleted");
		return -ENODEV;
	}
	/* An expired key is never handed out, even before the work runs. */
	if (qkd_link_reap_expired(link, &t->expired))
		t->lowat_hit = qkd_link_below_watermark(link, &t->count,
							&t->lowat);
	if (req->flags & QKD_TAKE_F_RESERVE)
		return qkd_link_reserve(link, out, extack);
	if (req->flags & QKD_TAKE_F_RELEASE)
		return qkd_link_release_reserved(link, req, out, extack);
	if (req->flags & QKD_TAKE_F_WANT)
		return qkd_link_want(link, t, out, extack);
	if (!qkd_ratelimiter_has_token(&link->rl, ktime_get_ns())) {
		qkd_stat_add(link, &link->stats.rate_limited, 1);
		NL_SET_ERR_MSG_MOD(extack,
				   "rate limit: the link's token bucket is empty");
		return -QKD_ERR_RATE_LIMITED;
	}
	/* a take again by the same socket ends its pending take */
	if (req->id)
		qkd_pending_cancel(link, req->id, req->portid, &t->cancelled);
	key = qkd_link_find_take(link, req, &err, extack);
	if (key) {
		qkd_link_hand_out(link, key, t);
		return 0;
	}
	if (err || !req->id || (req->flags & QKD_TAKE_F_INITIATOR)) {
		qkd_stat_add(link, &link->stats.rejected_not_found, 1);
		if (err)
			return err;
		if (req->id)
			NL_SET_ERR_MSG_MOD(extack, "no initiator key of that ID");
		else
			NL_SET_ERR_MSG_MOD(extack, "no initiator key buffered");
		return -ENOENT;
	}
	return qkd_link_miss_by_id(link, t, extack);
}

int qkd_link_take(struct qkd_link *link, const struct qkd_take_req *req,
		  struct qkd_key_out *out, struct netlink_ext_ack *extack)
{
	struct qkd_take_ctx t = { .req = req };
	int err;

	INIT_LIST_HEAD(&t.expired);
	INIT_LIST_HEAD(&t.cancelled);
	/* Allocated before the lock; a key is never handed out unrecorded. */
	t.spent = qkd_spent_alloc();
	if (req->id && req->wait_ms && !(req->flags & QKD_TAKE_F_INITIATOR))
		t.pend = qkd_pending_alloc();
	if (!t.spent || (req->id && req->wait_ms && !t.pend &&
			 !(req->flags & QKD_TAKE_F_INITIATOR))) {
		qkd_spent_free(t.spent);
		qkd_pending_free(t.pend);
		return -ENOMEM;
	}

	spin_lock(&link->lock);
	err = qkd_link_take_locked(link, &t, out, extack);
	spin_unlock(&link->lock);

	if (t.key) {
		qkd_key_export(link, t.key, out);
		qkd_key_free(t.key);
		qkd_audit_record_take(&link->qn->audit, link->name, out);
	}
	if (t.wanted)
		qkd_notify_key_wanted(link, req->id);
	qkd_spent_free(t.spent);	/* unused, or the oldest spent ID forgotten */
	qkd_pending_free(t.pend);
	qkd_pending_free_list(&t.cancelled);
	qkd_link_notify_expired(link, &t.expired);
	qkd_free_key_list(&t.expired);
	if (t.lowat_hit)
		qkd_link_low_watermark(link, t.count, t.lowat);
	return err;
}

static unsigned int qkd_link_flush(struct qkd_link *link, u8 role)
{
	struct qkd_key *key, *tmp;
	unsigned int n = 0, i;
	LIST_HEAD(dropped);
	struct list_head *lists[] = {
		&link->initiator_keys, &link->responder_keys,
	};
	u8 roles[] = { QKD_KEY_ROLE_INITIATOR, QKD_KEY_ROLE_RESPONDER };

	spin_lock(&link->lock);
	for (i = 0; i < ARRAY_SIZE(lists); i++) {
		if (role && role != roles[i])
			continue;
		list_for_each_entry_safe(key, tmp, lists[i], fifo) {
			qkd_link_unlink_key(link, key);
			list_add_tail(&key->fifo, &dropped);
			n++;
		}
	}
	qkd_stat_add(link, &link->stats.flushed, n);
	spin_unlock(&link->lock);

	qkd_free_key_list(&dropped);
	return n;
}

int qkd_flush(struct qkd_net *qn, const char *name, u8 role,
	      struct netlink_ext_ack *extack)
{
	struct qkd_link *link;

	mutex_lock(&qn->lock);
	if (name) {
		link = qkd_link_find(qn, name);
		if (!link) {
			mutex_unlock(&qn->lock);
			NL_SET_ERR_MSG_MOD(extack, "no link of that name");
			return -ENODEV;
		}
		qkd_link_flush(link, role);
	} else {
		list_for_each_entry(link, &qn->links, node)
			qkd_link_flush(link, role);
	}
	mutex_unlock(&qn->lock);
	return 0;
}
