// SPDX-License-Identifier: GPL-2.0
/*
 * A bounded ring of take records per namespace.
 *
 * Every key handed out leaves a record of which key (its ID, never its
 * material), from which link, when, and to whom.  A consumer may later
 * annotate the record with what it keyed (the SPIs of the SAs), which is
 * how an admin traces an SA in `ip xfrm state` back to its QKD key.  The
 * ring overwrites its oldest record when full; records carry a sequence
 * number so a reader can tell how many it missed.  The ring's size is the
 * namespace's net.qkd.audit_records (caps.c); a resize keeps the newest.
 */
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/mm.h>

#include "qkd.h"

/*
 * The ring (net.qkd.audit_records records of about 240 bytes) is allocated
 * at the first take, so that the many namespaces of a container host that
 * never use QKD cost nothing; it is charged to the taker's memory cgroup.
 */
void qkd_audit_init(struct qkd_audit *audit, u32 size)
{
	mutex_init(&audit->alloc_lock);
	spin_lock_init(&audit->lock);
	audit->next_seq = 1;
	audit->ring = NULL;
	audit->size = 0;
	audit->want = size;
}

void qkd_audit_destroy(struct qkd_audit *audit)
{
	kvfree(audit->ring);
	audit->ring = NULL;
	audit->size = 0;
}

static struct qkd_audit_record *qkd_audit_slot(struct qkd_audit *audit,
					       u64 seq)
{
	return &audit->ring[seq % audit->size];
}

/* Called with audit->lock held: the oldest sequence number kept. */
static u64 qkd_audit_oldest(const struct qkd_audit *audit)
{
	return audit->next_seq > audit->size ?
	       audit->next_seq - audit->size : 1;
}

int qkd_audit_resize(struct qkd_audit *audit, u32 size)
{
	struct qkd_audit_record *ring, *old;
	u64 seq;

	mutex_lock(&audit->alloc_lock);
	if (!audit->ring || audit->size == size) {
		/* Applies when the ring is allocated. */
		audit->want = size;
		mutex_unlock(&audit->alloc_lock);
		return 0;
	}
	ring = kvcalloc(size, sizeof(*ring), QKD_GFP);
	if (!ring) {
		mutex_unlock(&audit->alloc_lock);
		return -ENOMEM;
	}

	spin_lock_bh(&audit->lock);
	/* The newest records that fit, each in its slot of the new ring. */
	seq = qkd_audit_oldest(audit);
	if (audit->next_seq - seq > size)
		seq = audit->next_seq - size;
	for (; seq < audit->next_seq; seq++)
		if (qkd_audit_slot(audit, seq)->seq == seq)
			ring[seq % size] = *qkd_audit_slot(audit, seq);
	old = audit->ring;
	audit->ring = ring;
	audit->size = size;
	audit->want = size;
	spin_unlock_bh(&audit->lock);
	mutex_unlock(&audit->alloc_lock);
	kvfree(old);
	return 0;
}

/* The first take of a namespace allocates its ring; false if it cannot. */
static bool qkd_audit_alloc(struct qkd_audit *audit)
{
	struct qkd_audit_record *ring;

	if (READ_ONCE(audit->ring))
		return true;
	mutex_lock(&audit->alloc_lock);
	if (!audit->ring) {
		ring = kvcalloc(audit->want, sizeof(*ring), QKD_GFP);
		if (ring) {
			spin_lock_bh(&audit->lock);
			audit->ring = ring;
			audit->size = audit->want;
			spin_unlock_bh(&audit->lock);
		}
	}
	mutex_unlock(&audit->alloc_lock);
	return READ_ONCE(audit->ring);
}

void qkd_audit_record_take(struct qkd_audit *audit, const char *link_name,
			   const struct qkd_key_out *key)
{
	struct qkd_audit_record *rec;
	u64 now = ktime_get_real_ns();
	char comm[TASK_COMM_LEN];
	u32 pid = task_tgid_vnr(current);

	get_task_comm(comm, current);
	qkd_audit_alloc(audit);

	spin_lock_bh(&audit->lock);
	if (!audit->ring) {
		/* Out of memory: the take still succeeds, count the gap. */
		audit->next_seq++;
		spin_unlock_bh(&audit->lock);
		return;
	}
	rec = qkd_audit_slot(audit, audit->next_seq);
	memset(rec, 0, sizeof(*rec));
	rec->seq = audit->next_seq++;
	rec->time_ns = now;
	strscpy(rec->link_name, link_name, sizeof(rec->link_name));
	memcpy(rec->key_id, key->id, sizeof(rec->key_id));
	rec->role = key->role;
	rec->pid = pid;
	memcpy(rec->comm, comm, sizeof(rec->comm));
	spin_unlock_bh(&audit->lock);
}

int qkd_audit_annotate(struct qkd_audit *audit, const char *link_name,
		       const u8 *key_id, const u32 *spi, unsigned int nr_spi,
		       const char *usage)
{
	struct qkd_audit_record *rec;
	u64 seq, oldest;
	unsigned int i;
	int err = -ENOENT;

	spin_lock_bh(&audit->lock);
	if (!audit->ring)
		goto out;
	oldest = qkd_audit_oldest(audit);
	/* Newest first: a key ID is taken once, but be exact anyway. */
	for (seq = audit->next_seq - 1; seq >= oldest && seq > 0; seq--) {
		rec = qkd_audit_slot(audit, seq);
		if (memcmp(rec->key_id, key_id, QKD_KEY_ID_LEN) ||
		    strcmp(rec->link_name, link_name))
			continue;
		/* All or nothing: a refused annotation leaves the record. */
		if (nr_spi > QKD_AUDIT_SPI_MAX - rec->nr_spi) {
			err = -ENOSPC;
			break;
		}
		for (i = 0; i < nr_spi; i++)
			rec->spi[rec->nr_spi++] = spi[i];
		if (usage)
			strscpy(rec->usage, usage, sizeof(rec->usage));
		err = 0;
		break;
	}
out:
	spin_unlock_bh(&audit->lock);
	return err;
}

bool qkd_audit_read(struct qkd_audit *audit, u64 *cursor,
		    struct qkd_audit_record *rec)
{
	bool found = false;
	u64 oldest;

	spin_lock_bh(&audit->lock);
	oldest = qkd_audit_oldest(audit);
	if (*cursor < oldest)
		*cursor = oldest;
	/* Sequence numbers lost to an allocation failure have no record. */
	while (audit->ring && !found && *cursor < audit->next_seq) {
		if (qkd_audit_slot(audit, *cursor)->seq == *cursor) {
			*rec = *qkd_audit_slot(audit, *cursor);
			found = true;
		}
		(*cursor)++;
	}
	spin_unlock_bh(&audit->lock);
	return found;
}
