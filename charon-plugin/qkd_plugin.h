/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd qkd
 * @ingroup cplugins
 *
 * @defgroup qkd_plugin qkd_plugin
 * @{ @ingroup qkd
 */
#ifndef QKD_PLUGIN_H_
#define QKD_PLUGIN_H_

#include <plugins/plugin.h>

typedef struct qkd_plugin_t qkd_plugin_t;

/**
 * Hybrid X25519 + QKD key exchange method, keys from the qkd kernel module.
 */
struct qkd_plugin_t {

	/**
	 * implements plugin interface
	 */
	plugin_t plugin;
};

/**
 * Compare the version of the running strongSwan with the one the plugin
 * was built against.
 *
 * @param running	receives the running version ("" if not found)
 * @param len		size of running
 * @return			TRUE if they match
 */
bool qkd_plugin_version_matches(char *running, size_t len);

#endif /** QKD_PLUGIN_H_ @}*/
