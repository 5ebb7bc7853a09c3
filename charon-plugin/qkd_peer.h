/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_peer qkd_peer
 * @{ @ingroup qkd
 *
 * What the plugin knows about the peer of an IKE_SA (by its unique ID):
 * the announcement it sent in IKE_AUTH (plugin protocol version 2, see
 * qkd_wire.h), whether the IKE_SA already completed a QKD-keyed exchange
 * (sticky), and - combined with the link configuration - the policy in
 * effect for it.  Carried over IKE_SA rekeys, forgotten when the IKE_SA is
 * destroyed.  Shared by the key exchange objects and the bus listener so
 * both decide the same way.  Also holds the counters of both.
 */
#ifndef QKD_PEER_H_
#define QKD_PEER_H_

#include "qkd_links.h"

/**
 * The state and policy of one peer, as the key exchange and the listener
 * see it.
 */
typedef struct {
	/** a link matched the peer (by identity, else address) */
	bool have_link;
	qkd_link_info_t link;
	/** the policy in effect for CHILD_SAs (narrow veto, rekey group): the
	 * link's (or the default), require if the link is sticky and the
	 * IKE_SA used QKD, require if the peer announced require */
	qkd_policy_t policy;
	/** our own policy, without the peer's announcement: what the key
	 * exchange objects use (the peer's current policy arrives with every
	 * exchange in the REQUIRE flag of its KE data) */
	qkd_policy_t own_policy;
	/** require because of sticky */
	bool sticky_now;
	/** require because the peer announced it */
	bool peer_requires;
	/** the IKE_SA is authenticated (CREATE_CHILD_SA), not IKE_SA_INIT */
	bool authenticated;
	/** the peer sent a valid announcement (it runs protocol v2 or later) */
	bool announced;
	/** protocol version in use with the peer: min(ours, peer's), 1 if it
	 * did not announce */
	uint8_t version;
	/** the peer's announcement flags (QKD_ANNOUNCE_F_*) */
	uint8_t peer_flags;
	/** QKD can be used: the peer announced a link for us, and we have one */
	bool usable;
	/** the view is for one CHILD_SA (qkd_peer_view_child()) */
	bool for_child;
	/** the child rule of the link that set the policy, if one matched */
	qkd_child_match_t child;
} qkd_peer_view_t;

/**
 * The plugin protocol version we announce and speak at most:
 * QKD_ANNOUNCE_VERSION, or 2 with charon.plugins.qkd.next_key_ids = no.
 */
uint8_t qkd_peer_our_version(void);

/**
 * Record the announcement of the peer of an IKE_SA.
 */
void qkd_peer_set_announced(uint32_t ike_sa_uid, uint8_t version,
							uint8_t flags);

/**
 * Get the announcement of the peer of an IKE_SA.
 *
 * @return			TRUE if it announced
 */
bool qkd_peer_get_announced(uint32_t ike_sa_uid, uint8_t *version,
							uint8_t *flags);

/**
 * Remember that an IKE_SA completed a QKD-keyed exchange (sticky).
 */
void qkd_peer_used_qkd(uint32_t ike_sa_uid);

/**
 * Whether qkd_peer_used_qkd() was called for the IKE_SA.
 */
bool qkd_peer_has_used_qkd(uint32_t ike_sa_uid);

/** longest module link name a reservation records (QKD_LINK_NAME_MAX) */
#define QKD_RESERVED_LINK_MAX 32

/**
 * Take the initiator key reserved for the IKE_SA's next QKD exchange we
 * initiate out of the table (the caller takes it by ID).
 *
 * @param link		module link the reservation must be of
 * @param id		filled with its ID
 * @return			TRUE if there was one
 */
bool qkd_peer_claim_reserved(uint32_t ike_sa_uid, const char *link,
							 uint8_t id[16]);

/**
 * Record a new reservation for the IKE_SA.  If another exchange of the
 * IKE_SA recorded one meanwhile, that one stays: id is overwritten with
 * it, *replaced set, and the caller releases the key it reserved.
 *
 * @return			TRUE if id was recorded
 */
bool qkd_peer_set_reserved(uint32_t ike_sa_uid, const char *link,
						   uint8_t id[16], bool *replaced);

/**
 * The current reservation of the IKE_SA, if any (not claimed).
 */
bool qkd_peer_get_reserved(uint32_t ike_sa_uid, const char *link,
						   uint8_t id[16]);

/**
 * The peer announced a next key ID: TRUE if it is not the one it announced
 * last (then it is recorded and worth asking the module for).
 */
bool qkd_peer_note_peer_next(uint32_t ike_sa_uid, const uint8_t id[16]);

/**
 * An INIT of the peer names key id: 1 if it is the next key ID the peer
 * announced last (forgotten then), -1 if the peer announced another, 0 if
 * it announced none.
 */
int qkd_peer_check_peer_next(uint32_t ike_sa_uid, const uint8_t id[16]);

/**
 * An IKE_SA was rekeyed: the new one inherits announcement, sticky, the
 * reservation and the peer's announced next key ID.
 */
void qkd_peer_rekeyed(uint32_t old_uid, uint32_t new_uid);

/**
 * Forget an IKE_SA (it is being destroyed); its reservation, if any, is
 * released in the module.
 */
void qkd_peer_gone(uint32_t ike_sa_uid);

/**
 * Forget all IKE_SAs (plugin unload), releasing their reservations.
 */
void qkd_peer_flush(void);

/**
 * Everything the plugin decides a peer by.
 *
 * @param links			link configuration (NULL: no links, policy require)
 * @param id			peer identity (may be NULL or %any)
 * @param host			peer address (may be NULL)
 * @param uid			unique ID of the IKE_SA (0: unknown)
 * @param authenticated	the IKE_SA is authenticated
 * @param view			filled
 */
void qkd_peer_view(qkd_links_t *links, identification_t *id, host_t *host,
				   uint32_t uid, bool authenticated, qkd_peer_view_t *view);

/**
 * The view for one CHILD_SA: as qkd_peer_view(), but a child rule of the
 * link (links.<name>.children) that matches the child config name and/or
 * traffic selectors overrides the link's policy.  Precedence, lowest
 * first: the default policy, the link's policy, the most specific child
 * rule, sticky (a prefer link or rule acts as require once the IKE_SA used
 * QKD), the peer's announced require.
 *
 * @param child			child config name (NULL: no child rule)
 * @param my_ts			our traffic selectors, or NULL
 * @param other_ts		the peer's traffic selectors, or NULL
 */
void qkd_peer_view_child(qkd_links_t *links, identification_t *id,
						 host_t *host, uint32_t uid, bool authenticated,
						 const char *child, linked_list_t *my_ts,
						 linked_list_t *other_ts, qkd_peer_view_t *view);

/**
 * Text naming what set the policy of a view, for logs: "rule 'x' of link
 * 'y' (name)", "link 'y'", "no link (default)".
 */
const char *qkd_peer_policy_source(qkd_peer_view_t *view, char *buf,
								   size_t len);

/**
 * Text of why QKD cannot be used with a peer (view->usable FALSE), for logs.
 */
const char *qkd_peer_why_not(qkd_peer_view_t *view);

/** Counters */
enum qkd_counter {
	/** QKD keys taken as exchange initiator */
	QKD_CNT_TAKEN_INIT,
	/** QKD keys taken by ID as exchange responder */
	QKD_CNT_TAKEN_RESP,
	/** X25519-only fallbacks inside the qkd method (prefer) */
	QKD_CNT_FALLBACK,
	/** key exchanges of the qkd method refused (require, REQUIRE flag,
	 * peer without announcement) */
	QKD_CNT_REFUSED,
	/** key confirmation failures */
	QKD_CNT_CONFIRM_FAIL,
	/** CHILD_SAs installed without a QKD key under prefer (IKE_AUTH child,
	 * classical group with a peer without the plugin, ...) */
	QKD_CNT_CLASSICAL,
	/** CHILD_SAs refused because policy require and no QKD key exchange */
	QKD_CNT_CHILD_REFUSED,
	/** initiator keys reserved for a next exchange (and announced) */
	QKD_CNT_RESERVED,
	/** exchanges initiated with the key reserved and announced for them */
	QKD_CNT_RESERVED_TAKEN,
	/** ... whose reserved key was gone (expired, flushed): took the oldest */
	QKD_CNT_RESERVED_GONE,
	/** reservations released (IKE_SA gone, or a collision's spare) */
	QKD_CNT_RESERVE_RELEASED,
	/** next key IDs of the peer asked for ahead of the take (want) */
	QKD_CNT_WANTED,
	/** INITs of the peer that named the key it announced last */
	QKD_CNT_PEER_NEXT_USED,
	/** INITs of the peer that named another key than it announced */
	QKD_CNT_PEER_NEXT_OTHER,
	QKD_CNT_MAX,
};

/**
 * Increment a counter.
 *
 * @return			the new value
 */
u_int qkd_count(enum qkd_counter counter);

/**
 * Read a counter.
 */
u_int qkd_counter(enum qkd_counter counter);

/**
 * Log all counters (DBG1, one line).
 */
void qkd_log_counters(void);

#endif /** QKD_PEER_H_ @}*/
