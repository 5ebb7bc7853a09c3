// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "log.h"
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int qkd_log_level = LOG_LVL_INFO;
const char *qkd_log_ident = "qkd";
int (*qkd_log_hook)(int level, const char *text);

void qkd_log(int level, const char *fmt, ...)
{
	static const char *const name[] = { "error", "warning", "info", "debug" };
	/* sd-daemon(3) priority prefixes: the journal picks them up. */
	static const int prio[] = { 3, 4, 6, 7 };
	char msg[1024], out[4 * sizeof(msg)];
	const unsigned char *p;
	size_t o = 0;
	va_list ap;

	if (level > qkd_log_level || level < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages quote strings from the network (KME error texts, SAE IDs,
	 * certificate CNs, URL paths): escape control characters so that
	 * no peer can forge log lines or terminal sequences. */
	for (p = (const unsigned char *)msg; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\') {
			if (*p == '\\') {
				out[o++] = '\\';
				out[o++] = '\\';
			} else {
				o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", *p);
			}
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	if (qkd_log_hook && qkd_log_hook(level, out))
		return;
	fprintf(stderr, "<%d>%s: %s: %s\n", prio[level], qkd_log_ident, name[level], out);
}
