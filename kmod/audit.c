// SPDX-License-Identifier: GPL-2.0
/*
 * A bounded ring of take records per namespace.
 *
 * Every key handed out leaves a record of which key (its ID, never its
 * material), from which link, when, and to whom.  A consumer may later
 * annotate the record with what it keyed (the SPIs of the SAs), which is
 * how an admin traces an SA in `ip xfrm state` back to its QKD key.  The
 * ring overwrites its oldest record when full; records carry a sequence
 * number so a reader can tell how many it missed.
 */
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "qkd.h"

/*
 * The ring (about 240 KiB) is allocated at the first take, so that the
 * many namespaces of a container host that never use QKD cost nothing.
 */
void qkd_audit_init(struct qkd_audit *audit)
{
	spin_lock_init(&audit->lock);
	audit->next_seq = 1;
	audit->ring = NULL;
}

void qkd_audit_destroy(struct qkd_audit *audit)
{
	vfree(audit->ring);
	audit->ring = NULL;
}

static struct qkd_audit_record *qkd_audit_slot(struct qkd_audit *audit,
					       u64 seq)
{
	return &audit->ring[seq % QKD_AUDIT_RING_SIZE];
}

void qkd_audit_record_take(struct qkd_audit *audit, const char *link_name,
			   const struct qkd_key *key)
{
	struct qkd_audit_record *rec;
	u64 now = ktime_get_real_ns();
	char comm[TASK_COMM_LEN];
	u32 pid = task_tgid_vnr(current);

	struct qkd_audit_record *ring = NULL;

	get_task_comm(comm, current);
	if (!READ_ONCE(audit->ring))
		ring = vcalloc(QKD_AUDIT_RING_SIZE, sizeof(*ring));

	spin_lock_bh(&audit->lock);
	if (!audit->ring) {
		audit->ring = ring;
		ring = NULL;
	}
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
	vfree(ring);
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
	oldest = audit->next_seq > QKD_AUDIT_RING_SIZE ?
		 audit->next_seq - QKD_AUDIT_RING_SIZE : 1;
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
	oldest = audit->next_seq > QKD_AUDIT_RING_SIZE ?
		 audit->next_seq - QKD_AUDIT_RING_SIZE : 1;
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
