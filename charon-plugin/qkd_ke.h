/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_ke qkd_ke
 * @{ @ingroup qkd
 *
 * The hybrid key exchange: X25519 (from the crypto factory) plus one QKD
 * key taken from the kernel module.  Shared secret = X25519 secret || QKD
 * key, or the X25519 secret alone if a "prefer" link had no key (both
 * sides learn that from the flags in the KE data, see qkd_wire.h).  The
 * key confirmation tag is keyed with HMAC-SHA256(QKD key, "qkd-ipsec
 * confirm v1"), never with the QKD key itself.
 */
#ifndef QKD_KE_H_
#define QKD_KE_H_

#include "qkd_links.h"

#include <crypto/key_exchange.h>

typedef struct qkd_ke_t qkd_ke_t;

/**
 * Hybrid X25519 + QKD key exchange.
 */
struct qkd_ke_t {

	/**
	 * Implements key_exchange_t (must be first: listeners cast to it).
	 */
	key_exchange_t ke;

	/**
	 * Attach SPIs and a usage text to the module's audit record of the QKD
	 * key this exchange took (if any).
	 *
	 * @param spis		SPIs in host order
	 * @param count		number of SPIs (at most 4)
	 * @param usage		what the key keyed
	 * @return			TRUE if a QKD key was used and annotated
	 */
	bool (*annotate)(qkd_ke_t *this, uint32_t *spis, int count, char *usage);

	/**
	 * Whether the QKD key was mixed into the shared secret.
	 */
	bool (*uses_qkd)(qkd_ke_t *this);
};

/**
 * Create the key exchange (registered as KE constructor).
 *
 * @param method	QKD_KE_METHOD
 * @return			object, NULL if X25519 is unavailable
 */
qkd_ke_t *qkd_ke_create(key_exchange_method_t method, ...);

/**
 * Set the link configuration used by new objects (NULL to unset).
 */
void qkd_ke_set_links(qkd_links_t *links);

/**
 * Log the counters (DBG1).
 */
void qkd_ke_log_stats(void);

/**
 * TRUE if ke is a qkd_ke_t of this plugin (compares the destroy method).
 */
bool qkd_ke_is(key_exchange_t *ke);

/**
 * Remember that an IKE_SA (unique ID) completed a QKD-keyed exchange: links
 * with sticky = yes never fall back for it afterwards.
 */
void qkd_ke_sa_used_qkd(uint32_t ike_sa_uid);

/**
 * Whether qkd_ke_sa_used_qkd() was called for the IKE_SA.
 */
bool qkd_ke_sa_has_used_qkd(uint32_t ike_sa_uid);

/**
 * Forget an IKE_SA (it is being destroyed).
 */
void qkd_ke_sa_gone(uint32_t ike_sa_uid);

/**
 * Give the newest undecided qkd key exchange object of an IKE_SA the
 * policy of the CHILD_SA it keys.  strongSwan 5.9.8 creates the object
 * before the CHILD_SA's policy is known to it; the listener calls this
 * from its narrow hook, which runs after the object is created and before
 * it decides anything: as initiator (NARROW_INITIATOR_PRE_*) before the
 * INIT is built, as responder (NARROW_RESPONDER) before the take.
 *
 * @param ike_sa_uid	unique ID of the IKE_SA
 * @param policy		the CHILD_SA's own policy (child rule, link or
 *						default, with sticky; not the peer's announcement)
 * @param sticky		the policy is require because of sticky
 * @param what			CHILD_SA and rule, appended to the object's log
 *						lines ("" to leave them as they are)
 * @return				TRUE if an object was bound
 */
bool qkd_ke_bind_child(uint32_t ike_sa_uid, qkd_policy_t policy, bool sticky,
					   const char *what);

/**
 * Forget the objects of an IKE_SA that were not bound (called for every
 * message of the IKE_SA, so an object of an earlier exchange, e.g. an
 * IKE_SA rekey, is never bound to a later CHILD_SA).
 */
void qkd_ke_unbind_pending(uint32_t ike_sa_uid);

/**
 * Unit tests only: the peer new objects use when there is no daemon (no
 * current IKE_SA on the bus).  The objects are not copied.
 */
void qkd_ke_test_set_peer(identification_t *id, host_t *host, uint32_t uid);

#endif /** QKD_KE_H_ @}*/
