/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The strongSwan plugin's metrics file on the agent's endpoint (plugstats.c). */
#ifndef QKD_AGENT_PLUGSTATS_H
#define QKD_AGENT_PLUGSTATS_H
#include <stddef.h>

#include "expo.h"

#define PLUGSTATS_MAX_BYTES	65536
#define PLUGSTATS_MAX_LINE	512

/*
 * Check a whole metrics file (see plugstats.c for what passes) and, if
 * out is non-NULL and it passes, append it to out.  Returns the number of
 * samples, or -1 with "line N: reason" in why.
 */
int plugstats_filter(const char *in, size_t len, struct sbuf *out, char *why, size_t whysz);

/* qkd_agent_plugin_metrics_{up,age_seconds}, then the file if it passed.
 * path "" = off.  last_why keeps the last logged reason between calls. */
void plugstats_render(struct sbuf *b, const char *path, char *last_why, size_t whysz);

#endif
