// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness: the agent's check of the strongSwan plugin's metrics
 * file (agent/plugstats.c, plugstats_filter), which another program
 * writes.  Every input is one file.
 *
 * Beyond the sanitizers it checks what plugstats.c promises of a file it
 * serves: every line is empty, a "# HELP"/"# TYPE" line of a qkd_plugin_*
 * metric, or a qkd_plugin_* sample whose value is digits; the output is
 * the input unchanged; no byte outside printable ASCII and '\n' passes; a
 * refusal is a NUL-terminated "line N: reason" or a size/NUL reason.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "plugstats.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int starts(const char *l, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(l, prefix, n);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct sbuf out = { NULL, 0, 0 };
	const char *in = (const char *)data;
	char why[160];
	size_t i;
	int n;

	memset(why, 'x', sizeof(why));
	n = plugstats_filter(in, size, &out, why, sizeof(why));
	if (n < 0) {
		assert(memchr(why, '\0', sizeof(why)));
		assert(!strncmp(why, "line ", 5) || !strcmp(why, "NUL byte") ||
		       !strncmp(why, "over ", 5));
		assert(!out.p);
		return 0;
	}
	assert(size <= PLUGSTATS_MAX_BYTES);
	assert(size == 0 || (out.p && out.len == size && !memcmp(out.p, in, size)));
	for (i = 0; i < size; i++)
		assert(in[i] == '\n' || (in[i] >= 0x20 && in[i] <= 0x7e));
	for (i = 0; i < size;) {
		const char *l = in + i, *nl = memchr(l, '\n', size - i);

		assert(nl);	/* every line ends with a newline */
		if (nl > l) {
			size_t ll = (size_t)(nl - l);
			const char *sp = memchr(l, ' ', ll);

			/* the input has no NUL: compare within the line only */
			assert(starts(l, ll, "# HELP qkd_plugin_") ||
			       starts(l, ll, "# TYPE qkd_plugin_") ||
			       starts(l, ll, "qkd_plugin_"));
			if (l[0] != '#') {
				const char *v = nl;

				while (v > l && v[-1] >= '0' && v[-1] <= '9')
					v--;
				assert(v < nl && v > l && v[-1] == ' ');
				n--;
			}
			assert(sp);
		}
		i = (size_t)(nl - in) + 1;
	}
	assert(n == 0);	/* samples counted = sample lines */
	free(out.p);
	return 0;
}
