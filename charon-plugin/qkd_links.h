/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_links qkd_links
 * @{ @ingroup qkd
 *
 * Maps a peer to a module link by its identity or address, as configured in
 * charon.plugins.qkd.links.<name> { link, remote_id, remote_addrs, policy,
 * sticky, wait_ms }.
 */
#ifndef QKD_LINKS_H_
#define QKD_LINKS_H_

#include <utils/identification.h>
#include <networking/host.h>

typedef struct qkd_links_t qkd_links_t;
typedef struct qkd_link_info_t qkd_link_info_t;

/**
 * What to do without a QKD key.
 */
typedef enum {
	/** fail closed: no key, no SA */
	QKD_POLICY_REQUIRE,
	/** fall back to X25519 alone, log a warning and count it */
	QKD_POLICY_PREFER,
} qkd_policy_t;

/** "require" / "prefer" */
extern enum_name_t *qkd_policy_names;

/**
 * A matched link (a copy, owned by the caller).
 */
struct qkd_link_info_t {
	/** name of the config section */
	char section[64];
	/** name of the link in the kernel module */
	char link[32];
	/** require or prefer */
	qkd_policy_t policy;
	/** how long the responder waits for a key of a given ID */
	uint32_t wait_ms;
	/** TRUE if matched by identity, FALSE if by address */
	bool by_id;
	/** prefer only until the IKE_SA completed a QKD-keyed exchange */
	bool sticky;
};

/**
 * Link configuration.
 */
struct qkd_links_t {

	/**
	 * Find the link for a peer.  A known identity (not %any) decides for
	 * links that have a remote_id; otherwise the address is matched against
	 * remote_addrs.  The first matching section wins.
	 *
	 * @param id		peer identity, NULL or %any if not known yet
	 * @param host		peer address, or NULL
	 * @param info		receives the link
	 * @return			TRUE if a link matched
	 */
	bool (*lookup)(qkd_links_t *this, identification_t *id, host_t *host,
				   qkd_link_info_t *info);

	/**
	 * Policy used when no link matches.
	 */
	qkd_policy_t (*get_default_policy)(qkd_links_t *this);

	/**
	 * (Re-)read the configuration.
	 *
	 * @return			number of links loaded
	 */
	int (*reload)(qkd_links_t *this);

	/**
	 * Destroy a qkd_links_t.
	 */
	void (*destroy)(qkd_links_t *this);
};

/**
 * Create and load the link configuration.
 */
qkd_links_t *qkd_links_create(void);

#endif /** QKD_LINKS_H_ @}*/
