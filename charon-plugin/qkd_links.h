/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_links qkd_links
 * @{ @ingroup qkd
 *
 * Maps a peer to a module link by its identity or address, as configured in
 * charon.plugins.qkd.links.<name> { link, remote_id, remote_addrs, policy,
 * sticky, wait_ms, children { <rule> { name, local_ts, remote_ts,
 * policy } } }.  The child rules give a CHILD_SA of the link its own
 * policy (by child config name and/or traffic selectors).
 */
#ifndef QKD_LINKS_H_
#define QKD_LINKS_H_

#include <utils/identification.h>
#include <networking/host.h>
#include <collections/linked_list.h>

typedef struct qkd_links_t qkd_links_t;
typedef struct qkd_link_info_t qkd_link_info_t;
typedef struct qkd_child_match_t qkd_child_match_t;

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
	/** number of child rules (children { ... }) */
	u_int child_rules;
	/** some child rule says prefer / require */
	bool child_prefer;
	bool child_require;
};

/**
 * The child rule that decides the policy of a CHILD_SA.
 */
struct qkd_child_match_t {
	/** a rule matched */
	bool matched;
	/** its section name under children */
	char rule[64];
	/** its policy */
	qkd_policy_t policy;
	/** what matched: "name", "name pattern", "traffic selectors", ... */
	const char *how;
	/** specificity (higher wins) */
	u_int score;
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
	 * Find the child rule of a link for a CHILD_SA.  The most specific
	 * matching rule wins: a rule naming the child exactly, then one whose
	 * name pattern matches, then the traffic selector rules with the longer
	 * prefixes (local + remote); a rule with name and traffic selectors
	 * must match both and ranks by its name, then by its prefixes; a tie
	 * goes to require.  A require rule's traffic selectors match a CHILD_SA
	 * whose traffic selectors overlap them, a prefer rule's only one whose
	 * traffic selectors all lie inside them (a rule never relaxes a
	 * CHILD_SA that may carry traffic outside it).
	 *
	 * @param section	the link's section name (qkd_link_info_t.section)
	 * @param child		child config name
	 * @param my_ts		our traffic selectors (traffic_selector_t), or NULL
	 * @param other_ts	the peer's traffic selectors, or NULL
	 * @param match		receives the rule (matched FALSE if none)
	 * @return			TRUE if a rule matched
	 */
	bool (*match_child)(qkd_links_t *this, const char *section,
						const char *child, linked_list_t *my_ts,
						linked_list_t *other_ts, qkd_child_match_t *match);

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
