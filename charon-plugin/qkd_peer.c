/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qkd_peer.h"
#include "qkd_metrics.h"
#include "qkd_keysrc.h"
#include "qkd_wire.h"

#include <pthread.h>

#include <library.h>
#include <collections/hashtable.h>
#include <utils/debug.h>

/** per IKE_SA state */
typedef struct {
	bool announced;
	uint8_t version;
	uint8_t flags;
	bool used_qkd;
	/** our initiator key reserved (and announced) for the next QKD
	 * exchange we initiate on the IKE_SA, and its module link */
	bool reserved;
	uint8_t reserved_id[QKD_WIRE_ID_LEN];
	char reserved_link[QKD_RESERVED_LINK_MAX];
	/** the last next key ID the peer announced */
	bool peer_next;
	uint8_t peer_next_id[QKD_WIRE_ID_LEN];
} state_t;

/** a reservation to end after the lock is dropped */
typedef struct {
	uint8_t id[QKD_WIRE_ID_LEN];
	char link[QKD_RESERVED_LINK_MAX];
} release_t;

/** protects the table */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/** IKE_SA unique ID => state_t */
static hashtable_t *table;

/** counters */
static refcount_t counters[QKD_CNT_MAX];

/** get the state of uid, creating it if create; lock held */
static state_t *get(uint32_t uid, bool create)
{
	state_t *state;

	if (!uid)
	{
		return NULL;
	}
	if (!table)
	{
		if (!create)
		{
			return NULL;
		}
		table = hashtable_create(hashtable_hash_ptr, hashtable_equals_ptr, 8);
	}
	state = table->get(table, (void*)(uintptr_t)uid);
	if (!state && create)
	{
		INIT(state);
		table->put(table, (void*)(uintptr_t)uid, state);
	}
	return state;
}

void qkd_peer_set_announced(uint32_t uid, uint8_t version, uint8_t flags)
{
	state_t *state;

	pthread_mutex_lock(&lock);
	state = get(uid, TRUE);
	if (state)
	{
		state->announced = TRUE;
		state->version = version;
		state->flags = flags;
	}
	pthread_mutex_unlock(&lock);
}

bool qkd_peer_get_announced(uint32_t uid, uint8_t *version, uint8_t *flags)
{
	state_t *state;
	bool found = FALSE;

	pthread_mutex_lock(&lock);
	state = get(uid, FALSE);
	if (state && state->announced)
	{
		*version = state->version;
		*flags = state->flags;
		found = TRUE;
	}
	pthread_mutex_unlock(&lock);
	return found;
}

void qkd_peer_used_qkd(uint32_t uid)
{
	state_t *state;

	pthread_mutex_lock(&lock);
	state = get(uid, TRUE);
	if (state)
	{
		state->used_qkd = TRUE;
	}
	pthread_mutex_unlock(&lock);
}

bool qkd_peer_has_used_qkd(uint32_t uid)
{
	state_t *state;
	bool used;

	pthread_mutex_lock(&lock);
	state = get(uid, FALSE);
	used = state && state->used_qkd;
	pthread_mutex_unlock(&lock);
	return used;
}

void qkd_peer_rekeyed(uint32_t old_uid, uint32_t new_uid)
{
	state_t *old, *new;

	pthread_mutex_lock(&lock);
	old = get(old_uid, FALSE);
	if (old && new_uid != old_uid)
	{
		new = get(new_uid, TRUE);
		if (new)
		{	/* the reservation moves: the old IKE_SA's end keeps it */
			*new = *old;
			old->reserved = FALSE;
			memwipe(old->reserved_id, sizeof(old->reserved_id));
		}
	}
	pthread_mutex_unlock(&lock);
}

/** end a reservation taken out of the table */
static void release(release_t *r)
{
	char err[QKD_KEYSRC_ERR_LEN] = "", idstr[37];
	int ret;

	qkd_wire_id_str(r->id, idstr);
	ret = qkd_keysrc_release(r->link, r->id, err);
	if (ret == 0)
	{
		qkd_count(QKD_CNT_RESERVE_RELEASED);
		DBG1(DBG_IKE, "qkd: released reserved key %s of link '%s' (its "
			 "IKE_SA is gone)", idstr, r->link);
	}
	else
	{	/* taken, expired or flushed meanwhile: nothing to release */
		DBG2(DBG_IKE, "qkd: reserved key %s of link '%s' not released: %s%s%s",
			 idstr, r->link, strerror(-ret), err[0] ? ": " : "", err);
	}
	memwipe(r, sizeof(*r));
}

/** move a state's reservation into r; lock held */
static bool take_reservation(state_t *state, release_t *r)
{
	if (!state || !state->reserved)
	{
		return FALSE;
	}
	memcpy(r->id, state->reserved_id, sizeof(r->id));
	memcpy(r->link, state->reserved_link, sizeof(r->link));
	state->reserved = FALSE;
	return TRUE;
}

void qkd_peer_gone(uint32_t uid)
{
	state_t *state = NULL;
	release_t r;
	bool rel = FALSE;

	pthread_mutex_lock(&lock);
	if (table && uid)
	{
		state = table->remove(table, (void*)(uintptr_t)uid);
	}
	rel = take_reservation(state, &r);
	pthread_mutex_unlock(&lock);
	if (rel)
	{
		release(&r);
	}
	if (state)
	{
		memwipe(state, sizeof(*state));
	}
	free(state);
}

void qkd_peer_flush(void)
{
	enumerator_t *enumerator;
	linked_list_t *rels = NULL;
	release_t r, *copy;
	state_t *state;
	void *key;

	pthread_mutex_lock(&lock);
	if (table)
	{
		rels = linked_list_create();
		enumerator = table->create_enumerator(table);
		while (enumerator->enumerate(enumerator, &key, &state))
		{
			table->remove_at(table, enumerator);
			if (take_reservation(state, &r))
			{
				copy = malloc(sizeof(*copy));
				*copy = r;
				rels->insert_last(rels, copy);
			}
			free(state);
		}
		enumerator->destroy(enumerator);
		table->destroy(table);
		table = NULL;
	}
	pthread_mutex_unlock(&lock);
	while (rels && rels->remove_first(rels, (void**)&copy) == SUCCESS)
	{
		release(copy);
		free(copy);
	}
	DESTROY_IF(rels);
	memwipe(&r, sizeof(r));
}

bool qkd_peer_claim_reserved(uint32_t uid, const char *link,
							 uint8_t id[QKD_WIRE_ID_LEN])
{
	state_t *state;
	bool found = FALSE;

	pthread_mutex_lock(&lock);
	state = get(uid, FALSE);
	if (state && state->reserved && streq(state->reserved_link, link))
	{
		memcpy(id, state->reserved_id, QKD_WIRE_ID_LEN);
		state->reserved = FALSE;
		found = TRUE;
	}
	pthread_mutex_unlock(&lock);
	return found;
}

bool qkd_peer_set_reserved(uint32_t uid, const char *link,
						   uint8_t id[QKD_WIRE_ID_LEN], bool *replaced)
{
	state_t *state;
	bool ok = FALSE;

	*replaced = FALSE;
	if (strlen(link) >= QKD_RESERVED_LINK_MAX)
	{
		return FALSE;
	}
	pthread_mutex_lock(&lock);
	state = get(uid, TRUE);
	if (state && state->reserved && streq(state->reserved_link, link))
	{	/* another exchange of the IKE_SA reserved one meanwhile */
		memcpy(id, state->reserved_id, QKD_WIRE_ID_LEN);
		*replaced = TRUE;
	}
	else if (state && !state->reserved)
	{
		memcpy(state->reserved_id, id, QKD_WIRE_ID_LEN);
		snprintf(state->reserved_link, sizeof(state->reserved_link), "%s",
				 link);
		state->reserved = TRUE;
		ok = TRUE;
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

bool qkd_peer_get_reserved(uint32_t uid, const char *link,
						   uint8_t id[QKD_WIRE_ID_LEN])
{
	state_t *state;
	bool found = FALSE;

	pthread_mutex_lock(&lock);
	state = get(uid, FALSE);
	if (state && state->reserved && streq(state->reserved_link, link))
	{
		memcpy(id, state->reserved_id, QKD_WIRE_ID_LEN);
		found = TRUE;
	}
	pthread_mutex_unlock(&lock);
	return found;
}

bool qkd_peer_note_peer_next(uint32_t uid, const uint8_t id[QKD_WIRE_ID_LEN])
{
	state_t *state;
	bool fresh = FALSE;

	pthread_mutex_lock(&lock);
	state = get(uid, TRUE);
	if (state && (!state->peer_next ||
				  !memeq(state->peer_next_id, id, QKD_WIRE_ID_LEN)))
	{
		memcpy(state->peer_next_id, id, QKD_WIRE_ID_LEN);
		state->peer_next = TRUE;
		fresh = TRUE;
	}
	pthread_mutex_unlock(&lock);
	return fresh;
}

int qkd_peer_check_peer_next(uint32_t uid, const uint8_t id[QKD_WIRE_ID_LEN])
{
	state_t *state;
	int ret = 0;

	pthread_mutex_lock(&lock);
	state = get(uid, FALSE);
	if (state && state->peer_next)
	{
		ret = memeq(state->peer_next_id, id, QKD_WIRE_ID_LEN) ? 1 : -1;
		if (ret == 1)
		{	/* used: a later announcement of it is fresh again (never) */
			state->peer_next = FALSE;
		}
	}
	pthread_mutex_unlock(&lock);
	return ret;
}

void qkd_peer_view_child(qkd_links_t *links, identification_t *id,
						 host_t *host, uint32_t uid, bool authenticated,
						 const char *child, linked_list_t *my_ts,
						 linked_list_t *other_ts, qkd_peer_view_t *view)
{
	uint8_t version = 0, flags = 0;

	memset(view, 0, sizeof(*view));
	view->policy = QKD_POLICY_REQUIRE;
	view->authenticated = authenticated;
	view->version = 1;
	view->for_child = child != NULL;
	if (links)
	{
		view->have_link = links->lookup(links, id, host, &view->link);
		view->policy = view->have_link ? view->link.policy
									   : links->get_default_policy(links);
		if (view->have_link && child && view->link.child_rules &&
			links->match_child(links, view->link.section, child, my_ts,
							   other_ts, &view->child))
		{	/* the most specific child rule overrides the link */
			view->policy = view->child.policy;
		}
	}
	if (view->have_link && view->link.sticky &&
		view->policy == QKD_POLICY_PREFER && qkd_peer_has_used_qkd(uid))
	{
		view->policy = QKD_POLICY_REQUIRE;
		view->sticky_now = TRUE;
	}
	view->own_policy = view->policy;
	if (authenticated && qkd_peer_get_announced(uid, &version, &flags))
	{
		view->announced = TRUE;
		view->version = min(version, qkd_peer_our_version());
		view->peer_flags = flags;
		view->usable = view->have_link && (flags & QKD_ANNOUNCE_F_LINK);
		if ((flags & QKD_ANNOUNCE_F_REQUIRE) &&
			view->policy == QKD_POLICY_PREFER)
		{	/* a peer that requires QKD is honoured */
			view->policy = QKD_POLICY_REQUIRE;
			view->peer_requires = TRUE;
		}
	}
}

uint8_t qkd_peer_our_version(void)
{
	if (lib && lib->settings &&
		!lib->settings->get_bool(lib->settings, "%s.plugins.qkd.next_key_ids",
								 TRUE, lib->ns))
	{	/* protocol v2: no next key IDs, whatever the peer speaks */
		return QKD_PROTO_NEXT_ID - 1;
	}
	return QKD_ANNOUNCE_VERSION;
}

void qkd_peer_view(qkd_links_t *links, identification_t *id, host_t *host,
				   uint32_t uid, bool authenticated, qkd_peer_view_t *view)
{
	qkd_peer_view_child(links, id, host, uid, authenticated, NULL, NULL,
						NULL, view);
}

const char *qkd_peer_policy_source(qkd_peer_view_t *view, char *buf,
								   size_t len)
{
	if (view->child.matched)
	{
		snprintf(buf, len, "child rule '%s' of link '%s' (by %s)",
				 view->child.rule, view->link.section, view->child.how);
	}
	else if (view->have_link)
	{
		snprintf(buf, len, "link '%s'%s", view->link.section,
				 view->for_child && view->link.child_rules ?
				 " (no child rule matched)" : "");
	}
	else
	{
		snprintf(buf, len, "no link (default policy)");
	}
	return buf;
}

const char *qkd_peer_why_not(qkd_peer_view_t *view)
{
	if (view->usable)
	{
		return "QKD usable";
	}
	if (!view->authenticated)
	{
		return "peer not authenticated yet";
	}
	if (!view->announced)
	{
		return "peer did not announce the qkd plugin in IKE_AUTH (no plugin, "
			   "or a protocol v1 build)";
	}
	if (!view->have_link)
	{
		return "no QKD link configured for the peer";
	}
	return "peer announced no QKD link for us";
}

u_int qkd_count(enum qkd_counter counter)
{
	u_int v;

	if (counter >= QKD_CNT_MAX)
	{
		return 0;
	}
	v = ref_get(&counters[counter]);
	qkd_metrics_changed();
	return v;
}

u_int qkd_counter(enum qkd_counter counter)
{
	return counter < QKD_CNT_MAX ? ref_cur(&counters[counter]) : 0;
}

void qkd_log_counters(void)
{
	DBG1(DBG_IKE, "qkd: keys taken as initiator %u, as responder %u, "
		 "X25519-only fallbacks %u, refused %u, confirmation failures %u, "
		 "classical CHILD_SAs (prefer) %u, CHILD_SAs refused (require) %u",
		 qkd_counter(QKD_CNT_TAKEN_INIT), qkd_counter(QKD_CNT_TAKEN_RESP),
		 qkd_counter(QKD_CNT_FALLBACK), qkd_counter(QKD_CNT_REFUSED),
		 qkd_counter(QKD_CNT_CONFIRM_FAIL), qkd_counter(QKD_CNT_CLASSICAL),
		 qkd_counter(QKD_CNT_CHILD_REFUSED));
	DBG1(DBG_IKE, "qkd: next key IDs: reserved %u, announced key taken %u, "
		 "announced key gone %u, released %u, peer's wanted ahead %u, "
		 "peer used its announced key %u, another key %u",
		 qkd_counter(QKD_CNT_RESERVED), qkd_counter(QKD_CNT_RESERVED_TAKEN),
		 qkd_counter(QKD_CNT_RESERVED_GONE),
		 qkd_counter(QKD_CNT_RESERVE_RELEASED), qkd_counter(QKD_CNT_WANTED),
		 qkd_counter(QKD_CNT_PEER_NEXT_USED),
		 qkd_counter(QKD_CNT_PEER_NEXT_OTHER));
}
