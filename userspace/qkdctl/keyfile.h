/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The `qkdctl key inject` input format, one key per line:
 *
 *     ROLE KEY_ID MATERIAL
 *
 *   ROLE      initiator | responder
 *   KEY_ID    UUID text, 8-4-4-4-12 hex digits (the ETSI GS QKD 014 key_ID)
 *   MATERIAL  hex digits, or "base64:" followed by standard base64;
 *             QKD_KEY_MIN_LEN..QKD_KEY_MAX_LEN bytes once decoded
 *
 * Fields are separated by blanks; blank lines and lines whose first
 * non-blank character is '#' are ignored.  Lines longer than
 * KEYFILE_LINE_MAX bytes are refused rather than split, an input of more
 * than KEYFILE_INPUT_MAX bytes is refused, and key IDs must be unique
 * within one input.  Errors name the input and line: "file:3: ...".
 */
#ifndef QKDCTL_KEYFILE_H
#define QKDCTL_KEYFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/qkd.h>

/* Longest valid line is about 140 bytes; 512 leaves room for blanks. */
#define KEYFILE_LINE_MAX	512
/* More keys than one link can ever hold is an input error, not a batch. */
#define KEYFILE_MAX_KEYS	QKD_LINK_MAX_KEYS_LIMIT
/* Bytes read at most, comments, blank lines and newlines included: room
 * for a full link's keys as maximal lines, so no valid input is refused,
 * while an endless pipe (`qkdctl key inject l - </dev/zero`) is. */
#define KEYFILE_INPUT_MAX	(KEYFILE_MAX_KEYS * KEYFILE_LINE_MAX)

struct key_entry {
	uint8_t role;			/* enum qkd_key_role */
	uint8_t len;			/* material bytes */
	uint8_t id[QKD_KEY_ID_LEN];
	uint8_t material[QKD_KEY_MAX_LEN];
	unsigned int line;		/* for error messages */
};

struct keyfile {
	struct key_entry *keys;
	size_t count;
	size_t cap;
};

/*
 * Parse one line (without its newline).  Returns 1 and fills *out for a
 * key, 0 for a blank or comment line, -1 with a reason in err for a bad line.
 */
int keyfile_parse_line(const char *line, struct key_entry *out,
		       char *err, size_t errlen);

/*
 * Read and validate a whole input before anything is sent, so that a bad
 * line 900 does not leave lines 1..899 injected.  name is used in messages
 * ("-" is shown as "stdin").  Returns 0, or -1 with "name:line: reason" (or
 * "name: reason") in err.  On error kf is already wiped and freed.
 */
int keyfile_read(FILE *in, const char *name, struct keyfile *kf,
		 char *err, size_t errlen);

/* Wipe all key material and free. */
void keyfile_free(struct keyfile *kf);

#endif
