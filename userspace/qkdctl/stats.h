/* SPDX-License-Identifier: GPL-2.0-only */
/* Decoding and printing the module's QKD_A_STATS nest. */
#ifndef QKDCTL_STATS_H
#define QKDCTL_STATS_H

#include <stdio.h>

#include <jansson.h>
#include <netlink/attr.h>

#include "model.h"

/* Fill s from a QKD_A_STATS nest.  Returns 0, or -EBADMSG if malformed. */
int stats_parse(struct nlattr *nest, struct qkd_stats *s);
/* JSON members for every counter present, added to obj. */
void stats_to_json(const struct qkd_stats *s, json_t *obj);
/* Indented multi-line text block. */
void stats_print(FILE *out, const struct qkd_stats *s, const char *indent);

#endif
