/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Prometheus text exposition helpers shared by metrics.c (the agent's own
 * metrics) and modstats.c (the module's counters): a growing text buffer,
 * HELP/TYPE lines and label value escaping.
 */
#ifndef QKD_AGENT_EXPO_H
#define QKD_AGENT_EXPO_H
#include <stddef.h>

struct sbuf {
	char *p;
	size_t len, cap;
};

/* Append; on allocation failure the text stays as it was. */
__attribute__((format(printf, 2, 3)))
void sb_printf(struct sbuf *b, const char *fmt, ...);
/* "# HELP name text" and "# TYPE name type". */
void help(struct sbuf *b, const char *name, const char *type, const char *text);
/* Label value escaping (backslash, double quote, newline) into out. */
const char *esc(const char *in, char *out, size_t outsz);

#endif
