// SPDX-License-Identifier: GPL-2.0
/*
 * qkd_nlfuzz's counters: merged over threads, and printed at the end as
 * answers per operation and errno (names from strerrorname_np()).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "nlfuzz.h"

void fz_stats_add(struct fz_stats *to, const struct fz_stats *from)
{
	const uint64_t *f = (const uint64_t *)from;
	uint64_t *t = (uint64_t *)to;
	size_t i;

	/* all members are uint64_t counters */
	for (i = 0; i < sizeof(*to) / sizeof(uint64_t); i++)
		t[i] += f[i];
}

uint64_t fz_stats_errs(const struct fz_stats *st, unsigned int e)
{
	uint64_t n = 0;
	unsigned int row;

	for (row = 0; row < FZ_ROWS; row++)
		n += st->by_op_err[row][e];
	return n;
}

static const char *err_name(unsigned int e)
{
	if (e == 0)
		return "ok";
	if (e == FZ_E_SILENT)
		return "silent";
	if (e == FZ_E_TIMEOUT)
		return "timeout";
	return strerrorname_np((int)e) ?: "E?";
}

void fz_stats_print(const struct fz_stats *st, const char *phase)
{
	unsigned int row, e, c;
	char line[1024];
	int n;

	printf("# %s: %llu sent, %llu judged must-refuse, %llu refused, %llu accepted (fail),"
	       " %llu timeouts, %llu overruns, %llu during a reload, %llu dumps left unread,"
	       " %llu stray messages, %llu dump parts flagged NLM_F_DUMP_INTR,"
	       " %llu family lookups answered ENOENT, %llu socket sets reopened\n",
	       phase, (unsigned long long)st->sent,
	       (unsigned long long)st->judged, (unsigned long long)st->refused,
	       (unsigned long long)st->accepted_bad,
	       (unsigned long long)st->timeouts,
	       (unsigned long long)st->overruns, (unsigned long long)st->raced,
	       (unsigned long long)st->abandoned,
	       (unsigned long long)st->strays,
	       (unsigned long long)st->dump_intr,
	       (unsigned long long)st->resolve_enoent,
	       (unsigned long long)st->reopens);
	n = snprintf(line, sizeof(line), "# %s: classes:", phase);
	for (c = 0; c < FZ_NR_CLASSES; c++)
		if (st->by_class[c])
			n += snprintf(line + n, sizeof(line) - n, " %s %llu",
				      fz_class_names[c],
				      (unsigned long long)st->by_class[c]);
	printf("%s\n", line);
	for (row = 0; row < FZ_ROWS; row++) {
		n = snprintf(line, sizeof(line), "#   %-15s",
			     row == FZ_ROWS - 1 ? "unknown-cmd" : fz_op_name(row));
		if (!row)
			continue;
		for (e = 0; e < FZ_NERR; e++)
			if (st->by_op_err[row][e] && n < (int)sizeof(line) - 40)
				n += snprintf(line + n, sizeof(line) - n, " %s %llu",
					      err_name(e),
					      (unsigned long long)st->by_op_err[row][e]);
		printf("%s\n", line);
	}
}
