/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Command-line grammar of every subcommand, parsed into plain structs
 * without touching the kernel, so that the limits of the UAPI
 * (include/uapi/linux/qkd.h) are enforced, and unit tested, before a
 * request is ever built.  Each parser gets the words after the subcommand
 * (e.g. for "qkdctl link add dc-east local A remote B" it gets
 * "dc-east local A remote B") and returns:
 *   ARGS_OK    the struct is filled
 *   ARGS_HELP  the user asked for help (help, -h, --help)
 *   ARGS_ERR   a usage error; err says what is wrong
 */
#ifndef QKDCTL_ARGS_H
#define QKDCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/qkd.h>

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_ERR = -1 };

struct opt_u32 {
	bool set;
	uint32_t val;
};

/* The tunable limits of a link; index = position in link_limit_defs. */
enum link_limit {
	LIMIT_MAX_KEYS,
	LIMIT_MAX_BYTES,
	LIMIT_TTL,
	LIMIT_RATE,
	LIMIT_BURST,
	LIMIT_LOW_WATERMARK,
	LIMIT_COUNT
};

struct link_limit_def {
	const char *keyword;	/* on the command line and in text output */
	const char *json;	/* JSON member name */
	int attr;		/* QKD_A_* */
	uint32_t min, max;
};

extern const struct link_limit_def link_limit_defs[LIMIT_COUNT];

struct link_args {
	char name[QKD_LINK_NAME_MAX];
	char local_sae[QKD_SAE_ID_MAX];
	char remote_sae[QKD_SAE_ID_MAX];
	bool has_name;
	struct opt_u32 limit[LIMIT_COUNT];
};

/* link add NAME local SAE remote SAE [LIMIT VALUE]... */
int args_link_add(int argc, char **argv, struct link_args *a, char *err, size_t errlen);
/* link set NAME LIMIT VALUE [LIMIT VALUE]... */
int args_link_set(int argc, char **argv, struct link_args *a, char *err, size_t errlen);
/* link del NAME */
int args_link_del(int argc, char **argv, struct link_args *a, char *err, size_t errlen);
/* link show [NAME], stats [NAME], audit show [link NAME] share this. */
int args_link_show(int argc, char **argv, struct link_args *a, char *err, size_t errlen);
int args_stats(int argc, char **argv, struct link_args *a, char *err, size_t errlen);

struct flush_args {
	bool all;			/* namespace-wide */
	char name[QKD_LINK_NAME_MAX];
	uint8_t role;			/* 0: both roles */
};
/* flush { all | link NAME } [role ROLE] */
int args_flush(int argc, char **argv, struct flush_args *a, char *err, size_t errlen);

struct inject_args {
	char name[QKD_LINK_NAME_MAX];
	const char *file;		/* "-" for stdin */
};
/* key inject NAME [file PATH|-] */
int args_key_inject(int argc, char **argv, struct inject_args *a, char *err, size_t errlen);

struct take_args {
	char name[QKD_LINK_NAME_MAX];
	bool has_id;
	uint8_t id[QKD_KEY_ID_LEN];
	struct opt_u32 wait_ms;
};
/* key take NAME [id UUID [wait MS]] */
int args_key_take(int argc, char **argv, struct take_args *a, char *err, size_t errlen);

struct audit_args {
	bool has_name;
	char name[QKD_LINK_NAME_MAX];
};
/* audit [show] [link NAME] */
int args_audit_show(int argc, char **argv, struct audit_args *a, char *err, size_t errlen);

struct annotate_args {
	char name[QKD_LINK_NAME_MAX];
	uint8_t id[QKD_KEY_ID_LEN];
	uint32_t spi[QKD_AUDIT_SPI_MAX];
	unsigned int n_spi;
	bool has_usage;
	char usage[QKD_USAGE_MAX];
};
/* audit annotate NAME id UUID [spi SPI]... [usage TEXT] */
int args_audit_annotate(int argc, char **argv, struct annotate_args *a, char *err, size_t errlen);

struct monitor_args {
	bool has_count;
	uint32_t count;			/* stop after this many events */
};
/* monitor [count N] */
int args_monitor(int argc, char **argv, struct monitor_args *a, char *err, size_t errlen);

/* xfrm [show] */
int args_xfrm(int argc, char **argv, char *err, size_t errlen);

/* True if argv asks for help; shared by every subcommand. */
bool args_want_help(int argc, char **argv);

#endif
