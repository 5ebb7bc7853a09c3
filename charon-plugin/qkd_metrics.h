/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_metrics qkd_metrics
 * @{ @ingroup qkd
 */
#ifndef QKD_METRICS_H_
#define QKD_METRICS_H_

#include <utils/utils.h>

typedef struct qkd_metrics_t qkd_metrics_t;

/**
 * The plugin's counters (qkd_peer.h) as a Prometheus text file, for the
 * agent's metrics endpoint (userspace/agent/plugstats.c serves it).
 *
 * charon has no metrics endpoint and the plugin should not open a port
 * in it: a file under charon.plugins.qkd.metrics_file (default
 * /run/qkd/charon-plugin.prom, "" turns it off), written within a second
 * of a counter change by a scheduled job (never on the worker thread that
 * counted, which may be in the middle of a rekey), by write and rename so
 * a reader never sees half of it, mode 0644: counters, no secret.  Removed
 * when charon stops, so a stale file does not look like a running charon.
 */
struct qkd_metrics_t {

	/**
	 * Write the file now (also on reload: the path may have changed).
	 */
	void (*write)(qkd_metrics_t *this);

	/**
	 * Remove the file and free.
	 */
	void (*destroy)(qkd_metrics_t *this);
};

/**
 * Create the writer (reads the setting, writes the file once).  One per
 * charon; qkd_metrics_changed() reaches it.
 */
qkd_metrics_t *qkd_metrics_create(void);

/**
 * A counter changed: schedule a write within a second unless one is
 * scheduled already.  Does nothing without a writer (unit tests).
 */
void qkd_metrics_changed(void);

#endif /** QKD_METRICS_H_ @}*/
