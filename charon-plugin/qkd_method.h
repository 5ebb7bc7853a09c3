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

#endif /** QKD_METHOD_H_ @}*/
