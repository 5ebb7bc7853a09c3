/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_kmod qkd_kmod
 * @{ @ingroup qkd
 *
 * libmnl client of the "qkd" generic netlink family (implements
 * qkd_keysrc.h).  One socket per call, so it is safe from any thread.
 * The parsers are exposed for the host unit tests.
 */
#ifndef QKD_KMOD_H_
#define QKD_KMOD_H_

#include "qkd_keysrc.h"

#include <linux/netlink.h>

/**
 * Parse a QKD_CMD_KEY_TAKE reply.
 *
 * @param nlh		the reply (generic netlink)
 * @param want_id	if not NULL, the ID the key must have
 * @param want_role	the role the key must have
 * @param key		filled on success
 * @return			0 or -EPROTO / -EMSGSIZE
 */
int qkd_kmod_parse_take(const struct nlmsghdr *nlh, const uint8_t *want_id,
						uint8_t want_role, struct qkd_key *key);

/**
 * Parse an NLMSG_ERROR message (with extended ACK TLVs).
 *
 * @param nlh		the message
 * @param err		receives NLMSGERR_ATTR_MSG (or "")
 * @return			0 for an ACK, a negative errno otherwise
 */
int qkd_kmod_parse_error(const struct nlmsghdr *nlh,
						 char err[QKD_KEYSRC_ERR_LEN]);

#endif /** QKD_KMOD_H_ @}*/
