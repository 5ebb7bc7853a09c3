/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_listener qkd_listener
 * @{ @ingroup qkd
 *
 * Bus listener: the plugin protocol v2 (announcement in IKE_AUTH, the
 * group each CHILD_SA rekey uses, the qkd method kept from peers that did
 * not announce it, policy require enforced for every CHILD_SA), audit
 * annotation with the SPIs a QKD key keyed, and optionally the rekey of a
 * new CHILD_SA at once so it gets a QKD key.  See qkd_listener.c.
 */
#ifndef QKD_LISTENER_H_
#define QKD_LISTENER_H_

#include "qkd_links.h"

#include <bus/listeners/listener.h>

typedef struct qkd_listener_t qkd_listener_t;

struct qkd_listener_t {

	/**
	 * Implements listener_t.
	 */
	listener_t listener;

	/**
	 * Re-read options.
	 */
	void (*reload)(qkd_listener_t *this);

	/**
	 * Destroy a qkd_listener_t.
	 */
	void (*destroy)(qkd_listener_t *this);
};

/**
 * Create the listener.
 *
 * @param links		link configuration (not owned)
 */
qkd_listener_t *qkd_listener_create(qkd_links_t *links);

#endif /** QKD_LISTENER_H_ @}*/
