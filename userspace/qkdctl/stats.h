/* SPDX-License-Identifier: GPL-2.0-only */
/* Printing the module's counters (libqkd's struct qkd_stats_buf). */
#ifndef QKDCTL_STATS_H
#define QKDCTL_STATS_H

#include <stdio.h>

#include <jansson.h>
#include <libqkd.h>

/*
 * JSON members for every counter qkdctl names, added to obj.  The module
 * sends all of them in every reply (kmod/netlink.c qkd_nl_put_stats), and
 * libqkd keeps no record of which came, so all are printed.
 */
void stats_to_json(const struct qkd_stats_buf *s, json_t *obj);
/* Indented multi-line text block. */
void stats_print(FILE *out, const struct qkd_stats_buf *s, const char *indent);

#endif
