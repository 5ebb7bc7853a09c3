/* SPDX-License-Identifier: GPL-2.0 OR MIT */
#ifndef QKD_LOG_H
#define QKD_LOG_H

enum { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern int qkd_log_level;
extern const char *qkd_log_ident;
/* Never pass key material: messages go to stderr (the journal). */
void qkd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A program's own destination for its lines (the agent's: journal
 * entries with fields): called with the escaped text; returning 1 takes
 * the line, 0 leaves it to stderr.  NULL: stderr only. */
extern int (*qkd_log_hook)(int level, const char *text);

#define log_err(...)   qkd_log(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  qkd_log(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  qkd_log(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) qkd_log(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
