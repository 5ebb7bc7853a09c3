// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Prometheus text exposition helpers (expo.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "expo.h"

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t ncap = b->cap ? b->cap * 2 : 8192;
			char *np;

			while (ncap < b->len + (size_t)n + 1)
				ncap *= 2;
			np = realloc(b->p, ncap);
			if (!np)
				return;
			b->p = np;
			b->cap = ncap;
		}
	}
}

void help(struct sbuf *b, const char *name, const char *type, const char *text)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* Prometheus label value escaping: backslash, double quote, newline. */
const char *esc(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *in && o + 3 < outsz; in++) {
		if (*in == '\\' || *in == '"') {
			out[o++] = '\\';
			out[o++] = *in;
		} else if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
	return out;
}

