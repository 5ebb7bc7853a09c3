/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_keysrc qkd_keysrc
 * @{ @ingroup qkd
 *
 * Where QKD keys come from.  Plain C (no strongSwan types) so the
 * implementation can be unit-tested on the host.
 *
 * The shipped plugin links qkd_kmod.c (the "qkd" generic netlink family of
 * the kernel module).  Only the test build (make TEST_KEYSRC=1, never
 * installed) links qkd_keyfile.c instead, which takes keys from files.
 */
#ifndef QKD_KEYSRC_H_
#define QKD_KEYSRC_H_

#include <stddef.h>
#include <stdint.h>

#define QKD_KEYSRC_ID_LEN		16
#define QKD_KEYSRC_MAX_KEY_LEN	64
#define QKD_KEYSRC_ERR_LEN		256	/* = libqkd QKD_NL_ERR_MAX */

/** one QKD key; wipe with qkd_keysrc_wipe() */
struct qkd_key {
	uint8_t id[QKD_KEYSRC_ID_LEN];
	uint8_t material[QKD_KEYSRC_MAX_KEY_LEN];
	size_t len;
	uint8_t role;		/* enum qkd_key_role */
};

/** wipe a key so the compiler cannot drop it */
void qkd_keysrc_wipe(struct qkd_key *key);

/**
 * Take a key from the link.
 *
 * @param link		module link name
 * @param id		NULL: the oldest unreserved initiator-role key; otherwise
 *					the responder-role key of that ID (with QKD_KEYSRC_INITIATOR:
 *					our own initiator-role key of that ID, reserved before)
 * @param wait_ms	for take by ID: how long to wait for it (0: only if
 *					already held)
 * @param flags		QKD_KEYSRC_QUIET: the module must not ask the agent to
 *					fetch an ID it does not hold (the peer is not yet
 *					authenticated: it must not make us query the KME)
 * @param key		filled on success
 * @param err		extended error text (extack) on failure, may be ""
 * @return			0, or a negative errno: -ENODEV (no link), -ENOENT
 *					(pool empty / no such ID), -EBUSY (rate limited),
 *					-ETIMEDOUT (ID did not arrive), -ENOPROTOOPT (module
 *					not loaded), -EAGAIN (no reply from the module in
 *					time: a key it hands out later is lost), others
 */
int qkd_keysrc_take(const char *link, const uint8_t *id, uint32_t wait_ms,
					unsigned int flags, struct qkd_key *key,
					char err[QKD_KEYSRC_ERR_LEN]);

/** flags of qkd_keysrc_take() */
#define QKD_KEYSRC_QUIET	(1U << 0)
/** id names our own initiator key (one we reserved); never waits */
#define QKD_KEYSRC_INITIATOR	(1U << 1)

/**
 * Reserve the oldest unreserved initiator key of the link for a later take
 * by ID (QKD_KEYSRC_INITIATOR): takes of the oldest skip it.
 *
 * @param id		filled with its ID (no material leaves the module)
 * @return			0, -ENOENT (no unreserved initiator key), others as take
 */
int qkd_keysrc_reserve(const char *link, uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN]);

/**
 * End a reservation: the key is an ordinary initiator key again.
 *
 * @return			0, -ENOENT (not held any more, or not reserved), others
 */
int qkd_keysrc_release(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN]);

/**
 * Ask for the responder key of an ID ahead of its take, without taking it:
 * if it is not held, the agent is asked to fetch it; never waits.
 *
 * @return			0 (held already), -ENOENT (not held: asked for, or
 *					asked for recently, or the ID is spent: see err), others
 */
int qkd_keysrc_want(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					char err[QKD_KEYSRC_ERR_LEN]);

/**
 * Attach SPIs (host order) and/or a usage text to the audit record of a
 * take.
 *
 * @return			0 or a negative errno
 */
int qkd_keysrc_annotate(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
						const uint32_t *spis, int nspis, const char *usage,
						char err[QKD_KEYSRC_ERR_LEN]);

/** a short name of the implementation, for the log */
const char *qkd_keysrc_name(void);

#endif /** QKD_KEYSRC_H_ @}*/
