/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_listener qkd_listener
 * @{ @ingroup qkd
 *
 * Bus listener: annotates the module's audit records with the SPIs of the
 * SAs a QKD key keyed, and optionally rekeys the first CHILD_SA (created
 * in IKE_AUTH without a key exchange) at once so it gets a QKD key.
 */
#ifndef QKD_LISTENER_H_
#define QKD_LISTENER_H_

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
 */
qkd_listener_t *qkd_listener_create(void);

#endif /** QKD_LISTENER_H_ @}*/
