/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qkd_peer.h"
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
} state_t;

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
		{
			*new = *old;
		}
	}
	pthread_mutex_unlock(&lock);
}

void qkd_peer_gone(uint32_t uid)
{
	state_t *state = NULL;

	pthread_mutex_lock(&lock);
	if (table && uid)
	{
		state = table->remove(table, (void*)(uintptr_t)uid);
	}
	pthread_mutex_unlock(&lock);
	free(state);
}

void qkd_peer_flush(void)
{
	enumerator_t *enumerator;
	state_t *state;
	void *key;

	pthread_mutex_lock(&lock);
	if (table)
	{
		enumerator = table->create_enumerator(table);
		while (enumerator->enumerate(enumerator, &key, &state))
		{
			table->remove_at(table, enumerator);
			free(state);
		}
		enumerator->destroy(enumerator);
		table->destroy(table);
		table = NULL;
	}
	pthread_mutex_unlock(&lock);
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
		view->version = min(version, QKD_ANNOUNCE_VERSION);
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
	return counter < QKD_CNT_MAX ? ref_get(&counters[counter]) : 0;
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
}
