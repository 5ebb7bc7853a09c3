// SPDX-License-Identifier: GPL-2.0-only
#include "keyfile.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libqkd.h>

#include "util.h"

#define BASE64_PREFIX "base64:"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Next blank-separated field of line at *pos: start and length. */
static bool next_field(const char *line, size_t *pos, const char **start,
		       size_t *len)
{
	size_t i = *pos;

	while (line[i] && is_blank(line[i]))
		i++;
	if (!line[i])
		return false;
	*start = line + i;
	while (line[i] && !is_blank(line[i]))
		i++;
	*len = (size_t)(line + i - *start);
	*pos = i;
	return true;
}

/*
 * Whether a field may be key material put in the wrong column: material is
 * hex or standard base64 (optionally "base64:"), and neither alphabet has
 * a '-', which every UUID has.  Errors quote a bad role or key ID only
 * when it cannot be material, so a line with its fields out of order does
 * not print its key.
 */
static bool may_be_material(const char *f, size_t len)
{
	return !memchr(f, '-', len) && len >= 16;
}

/* "bad WHAT \"FIELD\" (WANT)", or without the field where it may be key
 * material (see above); at most maxshow characters of it. */
static void bad_field(char *err, size_t errlen, const char *what, const char *f,
		      size_t len, size_t maxshow, const char *want)
{
	if (may_be_material(f, len))
		snprintf(err, errlen, "bad %s (%zu characters without a '-', not shown: they may be key material; %s)",
			 what, len, want);
	else
		snprintf(err, errlen, "bad %s \"%.*s\" (%s)", what,
			 (int)(len > maxshow ? maxshow : len), f, want);
}

int keyfile_parse_line(const char *line, struct key_entry *out,
		       char *err, size_t errlen)
{
	const char *f[4];
	size_t flen[4], pos = 0;
	int nfields = 0, n;
	/* Decode into a buffer larger than the limit so "too long" is
	 * reported as such, not as a decoding error. */
	uint8_t buf[QKD_KEY_MAX_LEN + 4];
	char role[16];

	while (nfields < 4 && next_field(line, &pos, &f[nfields], &flen[nfields]))
		nfields++;
	if (nfields == 0 || f[0][0] == '#')
		return 0;
	if (nfields != 3) {
		snprintf(err, errlen, "expected 3 fields (ROLE KEY_ID MATERIAL), got %s",
			 nfields > 3 ? "more" : nfields == 1 ? "1" : "2");
		return -1;
	}

	memset(out, 0, sizeof(*out));
	if (flen[0] < sizeof(role)) {
		memcpy(role, f[0], flen[0]);
		role[flen[0]] = '\0';
		out->role = qkd_role_from_name(role);
	}
	if (!out->role) {
		bad_field(err, errlen, "role", f[0], flen[0], 20, "want initiator or responder");
		return -1;
	}

	/* A key ID is not secret: showing it helps find the line, unless the
	 * field may be misplaced key material. */
	if (uuid_parse(f[1], flen[1], out->id) < 0) {
		bad_field(err, errlen, "key ID", f[1], flen[1], 40,
			  "want a UUID like 01234567-89ab-cdef-0123-456789abcdef");
		return -1;
	}

	/* Never quote the material field in a message: it may be a key. */
	if (flen[2] > strlen(BASE64_PREFIX) &&
	    !strncmp(f[2], BASE64_PREFIX, strlen(BASE64_PREFIX))) {
		n = base64_decode(f[2] + strlen(BASE64_PREFIX),
				  flen[2] - strlen(BASE64_PREFIX), buf, sizeof(buf));
		if (n == -1) {
			snprintf(err, errlen, "bad base64 key material");
			goto fail;
		}
	} else {
		n = hex_decode(f[2], flen[2], buf, sizeof(buf));
		if (n == -1) {
			snprintf(err, errlen, "bad hex key material (want an even number of hex digits, or base64:...)");
			goto fail;
		}
	}
	if (n == -2 || n > QKD_KEY_MAX_LEN) {
		snprintf(err, errlen, "key material too long (max %d bytes)", QKD_KEY_MAX_LEN);
		goto fail;
	}
	if (n < QKD_KEY_MIN_LEN) {
		snprintf(err, errlen, "key material too short: %d bytes (min %d)", n, QKD_KEY_MIN_LEN);
		goto fail;
	}
	memcpy(out->material, buf, (size_t)n);
	out->len = (uint8_t)n;
	secure_wipe(buf, sizeof(buf));
	return 1;

fail:
	secure_wipe(buf, sizeof(buf));
	secure_wipe(out, sizeof(*out));
	return -1;
}

/*
 * Grow by copying and wiping instead of realloc(): realloc may move the
 * block and leave the old copy of the keys in freed memory.
 */
static int keyfile_grow(struct keyfile *kf)
{
	size_t ncap = kf->cap ? kf->cap * 2 : 64;
	struct key_entry *n;

	if (ncap > KEYFILE_MAX_KEYS)
		ncap = KEYFILE_MAX_KEYS;
	n = calloc(ncap, sizeof(*n));
	if (!n)
		return -1;
	if (kf->keys) {
		memcpy(n, kf->keys, kf->count * sizeof(*n));
		secure_wipe(kf->keys, kf->cap * sizeof(*kf->keys));
		free(kf->keys);
	}
	kf->keys = n;
	kf->cap = ncap;
	return 0;
}

static int cmp_entry_id(const void *a, const void *b)
{
	const struct key_entry *const *x = a, *const *y = b;
	int c = memcmp((*x)->id, (*y)->id, QKD_KEY_ID_LEN);

	if (c)
		return c;
	return (*x)->line < (*y)->line ? -1 : (*x)->line > (*y)->line;
}

/* Find a repeated key ID in O(n log n); report the later line. */
static const struct key_entry *find_duplicate(const struct keyfile *kf,
					      unsigned int *first_line)
{
	const struct key_entry **v, *dup = NULL;
	size_t i;

	if (kf->count < 2)
		return NULL;
	v = malloc(kf->count * sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < kf->count; i++)
		v[i] = &kf->keys[i];
	qsort(v, kf->count, sizeof(*v), cmp_entry_id);
	for (i = 1; i < kf->count; i++) {
		if (!memcmp(v[i - 1]->id, v[i]->id, QKD_KEY_ID_LEN) &&
		    (!dup || v[i]->line < dup->line)) {
			dup = v[i];
			*first_line = v[i - 1]->line;
		}
	}
	free(v);
	return dup;
}

enum { LINE_OK, LINE_EOF, LINE_TOO_LONG, LINE_HAS_NUL, LINE_INPUT_TOO_BIG };

/*
 * Read one line into buf (NUL-terminated, newline dropped).  Our own loop
 * rather than fgets()/getline(): fgets cannot tell a NUL byte from the end
 * of the data, and getline() reallocates, leaving copies of keys behind.
 * A bad line is consumed up to its newline so the count stays right.
 */
static int read_line(FILE *in, char *buf, size_t size, size_t *len, size_t *budget)
{
	size_t n = 0;
	bool too_long = false, has_nul = false;
	int c;

	while ((c = getc(in)) != EOF) {
		/* A pipe may never end (or never send a newline): bound
		 * what is read, not only what is kept. */
		if (!*budget) {
			buf[n] = '\0';
			*len = n;
			return LINE_INPUT_TOO_BIG;
		}
		(*budget)--;
		if (c == '\n')
			break;
		if (c == '\0')
			has_nul = true;
		if (n + 1 < size)
			buf[n++] = (char)c;
		else
			too_long = true;
	}
	buf[n] = '\0';
	*len = n;
	if (n == 0 && !too_long && !has_nul && feof(in) && !ferror(in)) {
		/* EOF right at a line start; an empty last line is not a line. */
		return LINE_EOF;
	}
	if (ferror(in))
		return LINE_EOF;
	if (too_long)
		return LINE_TOO_LONG;
	if (has_nul)
		return LINE_HAS_NUL;
	return LINE_OK;
}

int keyfile_read(FILE *in, const char *name, struct keyfile *kf,
		 char *err, size_t errlen)
{
	char line[KEYFILE_LINE_MAX + 1];
	char reason[160];
	unsigned int lineno = 0;
	const struct key_entry *dup;
	unsigned int first = 0;
	size_t budget = KEYFILE_INPUT_MAX;
	int ret = -1;

	if (!name || !strcmp(name, "-"))
		name = "stdin";
	memset(kf, 0, sizeof(*kf));

	for (;;) {
		struct key_entry e;
		size_t len;
		int r;

		r = read_line(in, line, sizeof(line), &len, &budget);
		if (r == LINE_EOF)
			break;
		lineno++;
		if (r == LINE_INPUT_TOO_BIG) {
			snprintf(err, errlen, "%s:%u: input larger than %d bytes",
				 name, lineno, KEYFILE_INPUT_MAX);
			goto out;
		}
		if (r == LINE_TOO_LONG) {
			snprintf(err, errlen, "%s:%u: line too long (max %d bytes)",
				 name, lineno, KEYFILE_LINE_MAX);
			goto out;
		}
		if (r == LINE_HAS_NUL) {
			snprintf(err, errlen, "%s:%u: NUL byte in line", name, lineno);
			goto out;
		}
		r = keyfile_parse_line(line, &e, reason, sizeof(reason));
		if (r < 0) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, reason);
			goto out;
		}
		if (r == 0)
			continue;
		if (kf->count == KEYFILE_MAX_KEYS) {
			secure_wipe(&e, sizeof(e));
			snprintf(err, errlen, "%s:%u: more than %d keys (the most one link can hold)",
				 name, lineno, KEYFILE_MAX_KEYS);
			goto out;
		}
		if (kf->count == kf->cap && keyfile_grow(kf) < 0) {
			secure_wipe(&e, sizeof(e));
			snprintf(err, errlen, "%s: out of memory", name);
			goto out;
		}
		e.line = lineno;
		kf->keys[kf->count++] = e;
		secure_wipe(&e, sizeof(e));
	}
	if (ferror(in)) {
		snprintf(err, errlen, "%s: read error", name);
		goto out;
	}
	if (kf->count == 0) {
		snprintf(err, errlen, "%s: no keys in input", name);
		goto out;
	}
	dup = find_duplicate(kf, &first);
	if (dup) {
		snprintf(err, errlen, "%s:%u: duplicate key ID (first on line %u)",
			 name, dup->line, first);
		goto out;
	}
	ret = 0;
out:
	secure_wipe(line, sizeof(line));
	if (ret < 0)
		keyfile_free(kf);
	return ret;
}

void keyfile_free(struct keyfile *kf)
{
	if (kf->keys) {
		secure_wipe(kf->keys, kf->cap * sizeof(*kf->keys));
		free(kf->keys);
	}
	memset(kf, 0, sizeof(*kf));
}
