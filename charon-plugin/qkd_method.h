/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_method qkd_method
 * @{ @ingroup qkd
 *
 * The one place that names the private-use key exchange method of the qkd
 * plugin.  Both peers must use the same number (and set
 * charon.accept_private_algs = yes, as strongSwan refuses private methods
 * otherwise).  65516 is used by another public QKD plugin: do not reuse it.
 */
#ifndef QKD_METHOD_H_
#define QKD_METHOD_H_

/** Transform ID of the hybrid X25519 + QKD method (private use range) */
#define QKD_KE_METHOD		64242

/** Proposal keyword, e.g. esp_proposals = aes256gcm16-qkd */
#define QKD_KE_TOKEN		"qkd"

/**
 * Private-use status notify (RFC 7296: 40960..65535) carrying the
 * announcement (qkd_wire.h) in IKE_AUTH.  strongSwan uses 40961..40969
 * (USE_BEET_MODE, ME_*, RADIUS_ATTRIBUTE) and other implementations
 * allocate upwards from 40960; 64242 is far from both and is the method's
 * own number, so one number names the project in a packet capture.  Status
 * notifies a receiver does not know are ignored (RFC 7296 3.10.1), and the
 * data starts with a magic, so a foreign notify of the same number is not
 * taken for ours.
 */
#define QKD_NOTIFY_ANNOUNCE	64242

#endif /** QKD_METHOD_H_ @}*/
