// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "etsi.h"
#include "b64.h"
#include "uuid.h"
#include "secmem.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static json_t *load(const char *buf, size_t len, char *err, size_t errsz)
{
	json_error_t je;
	json_t *j;

	if (!buf)
		return fail(err, errsz, "empty body"), NULL;
	if (len > ETSI_BODY_MAX)
		return fail(err, errsz, "body too large (%zu bytes)", len), NULL;
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	/* Position only: jansson's text quotes the token it stopped at,
	 * which can be the first bytes of a base64 key. */
	if (!j)
		return fail(err, errsz, "malformed JSON at line %d, column %d (byte %d of %zu)",
			    je.line, je.column, je.position, len), NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		return fail(err, errsz, "JSON body is not an object"), NULL;
	}
	return j;
}

/* Serialise into a sec_malloc'd NUL-terminated string. */
static char *dump(json_t *j)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
	char *s;

	if (n == 0)
		return NULL;
	s = sec_malloc(n + 1);
	if (!s)
		return NULL;
	if (json_dumpb(j, s, n, JSON_COMPACT) != n) {
		sec_free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

/* Optional string member: 0 ok (absent leaves dst empty), -1 bad. */
static int get_str(json_t *o, const char *name, char *dst, size_t dstsz,
		   int required, char *err, size_t errsz)
{
	json_t *v = json_object_get(o, name);
	size_t l;

	dst[0] = '\0';
	if (!v)
		return required ? fail(err, errsz, "missing %s", name) : 0;
	if (!json_is_string(v))
		return fail(err, errsz, "%s is not a string", name);
	l = json_string_length(v);
	if (l >= dstsz || memchr(json_string_value(v), '\0', l))
		return fail(err, errsz, "%s is too long or holds NUL", name);
	memcpy(dst, json_string_value(v), l + 1);
	return 0;
}

/* Integer member in [min, max]; absent gives def (or an error if required). */
static int get_int(json_t *o, const char *name, int *dst, int def, int min, int max,
		   int required, char *err, size_t errsz)
{
	json_t *v = json_object_get(o, name);
	json_int_t x;

	if (!v) {
		if (required)
			return fail(err, errsz, "missing %s", name);
		*dst = def;
		return 0;
	}
	if (!json_is_integer(v))
		return fail(err, errsz, "%s is not an integer", name);
	x = json_integer_value(v);
	if (x < min || x > max)
		return fail(err, errsz, "%s out of range (%lld)", name, (long long)x);
	*dst = (int)x;
	return 0;
}

int etsi_status_decode(const char *buf, size_t len, struct etsi_status *st,
		       char *err, size_t errsz)
{
	json_t *j = load(buf, len, err, errsz), *q, *u;
	int r = -1;

	memset(st, 0, sizeof(*st));
	st->qber = -1;
	st->link_up = -1;
	if (!j)
		return -1;
	if (get_str(j, "source_KME_ID", st->source_KME_ID, ETSI_ID_MAX, 0, err, errsz) ||
	    get_str(j, "target_KME_ID", st->target_KME_ID, ETSI_ID_MAX, 0, err, errsz) ||
	    get_str(j, "master_SAE_ID", st->master_SAE_ID, ETSI_ID_MAX, 0, err, errsz) ||
	    get_str(j, "slave_SAE_ID", st->slave_SAE_ID, ETSI_ID_MAX, 0, err, errsz) ||
	    get_int(j, "key_size", &st->key_size, 0, 1, ETSI_KEY_MAX_BYTES * 8 * 64, 1, err, errsz) ||
	    get_int(j, "stored_key_count", &st->stored_key_count, 0, 0, 1 << 30, 1, err, errsz) ||
	    get_int(j, "max_key_count", &st->max_key_count, 0, 0, 1 << 30, 1, err, errsz) ||
	    get_int(j, "max_key_per_request", &st->max_key_per_request, 0, 1, 1 << 30, 1, err, errsz) ||
	    get_int(j, "max_key_size", &st->max_key_size, 0, 0, 1 << 30, 0, err, errsz) ||
	    get_int(j, "min_key_size", &st->min_key_size, 0, 0, 1 << 30, 0, err, errsz) ||
	    get_int(j, "max_SAE_ID_count", &st->max_SAE_ID_count, 0, 0, 1 << 20, 0, err, errsz))
		goto out;
	q = json_object_get(j, "qber");
	if (q) {
		if (!json_is_number(q) || json_number_value(q) < 0 || json_number_value(q) > 1) {
			fail(err, errsz, "qber is not a number in [0,1]");
			goto out;
		}
		st->qber = json_number_value(q);
	}
	u = json_object_get(j, "link_up");
	if (u) {
		if (!json_is_boolean(u)) {
			fail(err, errsz, "link_up is not a boolean");
			goto out;
		}
		st->link_up = json_is_true(u);
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

char *etsi_status_encode(const struct etsi_status *st)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
			      "source_KME_ID", st->source_KME_ID,
			      "target_KME_ID", st->target_KME_ID,
			      "master_SAE_ID", st->master_SAE_ID,
			      "slave_SAE_ID", st->slave_SAE_ID,
			      "key_size", st->key_size,
			      "stored_key_count", st->stored_key_count,
			      "max_key_count", st->max_key_count,
			      "max_key_per_request", st->max_key_per_request,
			      "max_key_size", st->max_key_size,
			      "min_key_size", st->min_key_size,
			      "max_SAE_ID_count", st->max_SAE_ID_count);
	char *s;

	if (!j)
		return NULL;
	if (st->qber >= 0)
		json_object_set_new(j, "qber", json_real(st->qber));
	if (st->link_up >= 0)
		json_object_set_new(j, "link_up", json_boolean(st->link_up));
	s = dump(j);
	json_decref(j);
	return s;
}

int etsi_key_request_decode(const char *buf, size_t len, struct etsi_key_request *rq,
			    char *err, size_t errsz)
{
	json_t *j = load(buf, len, err, errsz), *v;
	int r = -1;
	size_t i;

	memset(rq, 0, sizeof(*rq));
	if (!j)
		return -1;
	if (get_int(j, "number", &rq->number, 0, 1, 1 << 30, 0, err, errsz) ||
	    get_int(j, "size", &rq->size, 0, 1, 1 << 30, 0, err, errsz))
		goto out;
	v = json_object_get(j, "additional_slave_SAE_IDs");
	if (v) {
		if (!json_is_array(v)) {
			fail(err, errsz, "additional_slave_SAE_IDs is not an array");
			goto out;
		}
		for (i = 0; i < json_array_size(v); i++)
			if (!json_is_string(json_array_get(v, i))) {
				fail(err, errsz, "additional_slave_SAE_IDs holds a non-string");
				goto out;
			}
		rq->additional_slave_count = (int)json_array_size(v);
	}
	v = json_object_get(j, "extension_mandatory");
	if (v) {
		if (!json_is_array(v)) {
			fail(err, errsz, "extension_mandatory is not an array");
			goto out;
		}
		rq->extension_mandatory = json_array_size(v) > 0;
	}
	v = json_object_get(j, "extension_optional");
	if (v && !json_is_array(v)) {
		fail(err, errsz, "extension_optional is not an array");
		goto out;
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

char *etsi_key_request_encode(const struct etsi_key_request *rq)
{
	json_t *j = json_object();
	char *s;

	if (!j)
		return NULL;
	if (rq->number > 0)
		json_object_set_new(j, "number", json_integer(rq->number));
	if (rq->size > 0)
		json_object_set_new(j, "size", json_integer(rq->size));
	s = dump(j);
	json_decref(j);
	return s;
}

int etsi_keys_alloc(struct etsi_keys *ks, size_t n)
{
	ks->n = 0;
	ks->keys = NULL;
	if (n > ETSI_KEYS_MAX)
		return -1;
	ks->keys = sec_calloc(n ? n : 1, sizeof(*ks->keys));
	if (!ks->keys)
		return -1;
	ks->n = n;
	return 0;
}

void etsi_keys_free(struct etsi_keys *ks)
{
	if (!ks)
		return;
	sec_free(ks->keys);	/* wipes */
	ks->keys = NULL;
	ks->n = 0;
}

static int parse_uuid_member(json_t *o, const char *name, uint8_t id[16],
			     size_t idx, char *err, size_t errsz)
{
	json_t *v = json_object_get(o, name);

	if (!v || !json_is_string(v))
		return fail(err, errsz, "entry %zu: %s missing or not a string", idx, name);
	if (uuid_parse(json_string_value(v), json_string_length(v), id))
		return fail(err, errsz, "entry %zu: %s is not a UUID", idx, name);
	return 0;
}

static int dup_id(const uint8_t (*ids)[16], size_t n, const uint8_t id[16])
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!memcmp(ids[i], id, 16))
			return 1;
	return 0;
}

const char *etsi_drop_name(enum etsi_drop why)
{
	static const char *const names[ETSI_DROP__N] = {
		[ETSI_DROP_ENTRY] = "malformed", [ETSI_DROP_ID] = "malformed",
		[ETSI_DROP_KEY] = "malformed", [ETSI_DROP_SIZE] = "wrong_size",
		[ETSI_DROP_DUP] = "duplicate_id", [ETSI_DROP_NOT_ASKED] = "not_asked",
	};

	return (unsigned)why < ETSI_DROP__N ? names[why] : "malformed";
}

/* Entry i of the reply is unusable for why: count it, keep the first
 * reason as text (indexes and sizes only, never reply bytes). */
static void drop_entry(struct etsi_keys_report *rep, enum etsi_drop why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void drop_entry(struct etsi_keys_report *rep, enum etsi_drop why, const char *fmt, ...)
{
	va_list ap;

	rep->dropped[why]++;
	if (rep->ndropped++ == 0) {
		va_start(ap, fmt);
		vsnprintf(rep->first, sizeof(rep->first), fmt, ap);
		va_end(ap);
	}
}

/* Decode entry e into key: 0, or the reason it is unusable. */
static int decode_entry(json_t *e, size_t i, size_t expect_bytes, struct etsi_key *key,
			struct etsi_keys_report *rep)
{
	json_t *kv;
	long n;

	if (!json_is_object(e))
		return drop_entry(rep, ETSI_DROP_ENTRY, "entry %zu is not an object", i), -1;
	if (parse_uuid_member(e, "key_ID", key->id, i, NULL, 0))
		return drop_entry(rep, ETSI_DROP_ID, "entry %zu: key_ID missing or not a UUID", i), -1;
	kv = json_object_get(e, "key");
	if (!kv || !json_is_string(kv))
		return drop_entry(rep, ETSI_DROP_KEY, "entry %zu: key missing or not a string", i), -1;
	n = b64_decode(json_string_value(kv), json_string_length(kv), key->key, sizeof(key->key));
	if (n <= 0) {
		sec_wipe(key->key, sizeof(key->key));
		return drop_entry(rep, ETSI_DROP_KEY, "entry %zu: key is not base64 of 1..%d bytes",
				  i, ETSI_KEY_MAX_BYTES), -1;
	}
	if (expect_bytes && (size_t)n != expect_bytes) {
		sec_wipe(key->key, sizeof(key->key));
		return drop_entry(rep, ETSI_DROP_SIZE, "entry %zu: key has %ld bytes, expected %zu",
				  i, n, expect_bytes), -1;
	}
	key->len = (size_t)n;
	return 0;
}

/* Drop every key whose ID occurs more than once: which of the copies the
 * peer gets by that ID is unknown.  Compacts ks. */
size_t etsi_keys_remove_if(struct etsi_keys *ks,
			   int (*drop)(const struct etsi_key *k, size_t i, void *arg), void *arg)
{
	size_t i, o = 0;

	for (i = 0; i < ks->n; i++) {
		if (drop(&ks->keys[i], i, arg)) {
			sec_wipe(&ks->keys[i], sizeof(ks->keys[i]));
			continue;
		}
		if (o != i) {
			ks->keys[o] = ks->keys[i];
			sec_wipe(&ks->keys[i], sizeof(ks->keys[i]));
		}
		o++;
	}
	ks->n = o;
	return i - o;
}

struct dups {
	unsigned char dup[ETSI_KEYS_MAX];
	struct etsi_keys_report *rep;
};

static int is_dup(const struct etsi_key *k, size_t i, void *arg)
{
	struct dups *d = arg;

	(void)k;
	if (d->dup[i])
		drop_entry(d->rep, ETSI_DROP_DUP, "key %zu: its key_ID occurs twice", i);
	return d->dup[i];
}

/* Drop every key whose ID occurs more than once: which of the copies the
 * peer gets by that ID is unknown. */
static void drop_duplicate_ids(struct etsi_keys *ks, struct etsi_keys_report *rep)
{
	struct dups d = { .rep = rep };
	size_t i, k;

	memset(d.dup, 0, sizeof(d.dup));
	for (i = 0; i < ks->n; i++)
		for (k = i + 1; k < ks->n; k++)
			if (!memcmp(ks->keys[i].id, ks->keys[k].id, 16))
				d.dup[i] = d.dup[k] = 1;
	etsi_keys_remove_if(ks, is_dup, &d);
}

int etsi_keys_decode_partial(const char *buf, size_t len, size_t expect_bytes,
			     struct etsi_keys *ks, struct etsi_keys_report *rep,
			     char *err, size_t errsz)
{
	json_t *j = load(buf, len, err, errsz), *arr;
	size_t i, o = 0;

	memset(rep, 0, sizeof(*rep));
	ks->n = 0;
	ks->keys = NULL;
	if (!j)
		return -1;
	arr = json_object_get(j, "keys");
	if (!arr || !json_is_array(arr)) {
		fail(err, errsz, "keys missing or not an array");
		goto bad;
	}
	if (json_array_size(arr) > ETSI_KEYS_MAX) {
		fail(err, errsz, "too many keys (%zu)", json_array_size(arr));
		goto bad;
	}
	rep->entries = json_array_size(arr);
	if (etsi_keys_alloc(ks, rep->entries)) {
		fail(err, errsz, "out of memory");
		goto bad;
	}
	for (i = 0; i < rep->entries; i++)
		if (decode_entry(json_array_get(arr, i), i, expect_bytes, &ks->keys[o], rep) == 0)
			o++;
	ks->n = o;
	drop_duplicate_ids(ks, rep);
	json_decref(j);
	return 0;
bad:
	etsi_keys_free(ks);
	json_decref(j);
	return -1;
}

int etsi_keys_decode(const char *buf, size_t len, size_t expect_bytes,
		     struct etsi_keys *ks, char *err, size_t errsz)
{
	struct etsi_keys_report rep;

	if (etsi_keys_decode_partial(buf, len, expect_bytes, ks, &rep, err, errsz))
		return -1;
	if (rep.ndropped) {
		fail(err, errsz, "%s", rep.first);
		etsi_keys_free(ks);
		return -1;
	}
	return 0;
}

char *etsi_keys_encode(const struct etsi_keys *ks)
{
	json_t *j = json_object(), *arr = json_array();
	char *s = NULL;
	char b64[B64_ENCODED_LEN(ETSI_KEY_MAX_BYTES) + 1];
	char idstr[UUID_STR_LEN + 1];
	size_t i;

	if (!j || !arr)
		goto out;
	for (i = 0; i < ks->n; i++) {
		json_t *e;

		if (ks->keys[i].len > ETSI_KEY_MAX_BYTES ||
		    b64_encode(ks->keys[i].key, ks->keys[i].len, b64, sizeof(b64)) < 0)
			goto out;
		uuid_format(ks->keys[i].id, idstr);
		e = json_pack("{s:s, s:s}", "key_ID", idstr, "key", b64);
		if (!e || json_array_append_new(arr, e))
			goto out;
	}
	if (json_object_set_new(j, "keys", arr) == 0) {
		arr = NULL;
		s = dump(j);
	}
out:
	sec_wipe(b64, sizeof(b64));
	json_decref(arr);
	json_decref(j);
	return s;
}

int etsi_key_ids_decode(const char *buf, size_t len, struct etsi_key_ids *ids,
			char *err, size_t errsz)
{
	json_t *j = load(buf, len, err, errsz), *arr;
	size_t i, n;

	ids->n = 0;
	ids->ids = NULL;
	if (!j)
		return -1;
	arr = json_object_get(j, "key_IDs");
	if (!arr || !json_is_array(arr)) {
		fail(err, errsz, "key_IDs missing or not an array");
		goto bad;
	}
	n = json_array_size(arr);
	if (n == 0 || n > ETSI_KEYS_MAX) {
		fail(err, errsz, "key_IDs must hold 1..%d entries", ETSI_KEYS_MAX);
		goto bad;
	}
	ids->ids = calloc(n, 16);
	if (!ids->ids) {
		fail(err, errsz, "out of memory");
		goto bad;
	}
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);

		if (!json_is_object(e)) {
			fail(err, errsz, "entry %zu is not an object", i);
			goto bad;
		}
		if (parse_uuid_member(e, "key_ID", ids->ids[i], i, err, errsz))
			goto bad;
		if (dup_id((const uint8_t (*)[16])ids->ids, i, ids->ids[i])) {
			fail(err, errsz, "entry %zu: duplicate key_ID", i);
			goto bad;
		}
		ids->n = i + 1;
	}
	json_decref(j);
	return 0;
bad:
	etsi_key_ids_free(ids);
	json_decref(j);
	return -1;
}

char *etsi_key_ids_encode(const struct etsi_key_ids *ids)
{
	json_t *j = json_object(), *arr = json_array();
	char idstr[UUID_STR_LEN + 1];
	char *s = NULL;
	size_t i;

	if (!j || !arr)
		goto out;
	for (i = 0; i < ids->n; i++) {
		uuid_format(ids->ids[i], idstr);
		if (json_array_append_new(arr, json_pack("{s:s}", "key_ID", idstr)))
			goto out;
	}
	if (json_object_set_new(j, "key_IDs", arr) == 0) {
		arr = NULL;
		s = dump(j);
	}
out:
	json_decref(arr);
	json_decref(j);
	return s;
}

void etsi_key_ids_free(struct etsi_key_ids *ids)
{
	free(ids->ids);
	ids->ids = NULL;
	ids->n = 0;
}

int etsi_error_decode(const char *buf, size_t len, struct etsi_error *e)
{
	json_t *j = load(buf, len, NULL, 0), *d;
	int r = -1;

	memset(e, 0, sizeof(*e));
	if (!j)
		return -1;
	if (get_str(j, "message", e->message, sizeof(e->message), 1, NULL, 0)) {
		/* keep what fits of an over-long message */
		json_t *m = json_object_get(j, "message");

		if (!json_is_string(m))
			goto out;
		snprintf(e->message, sizeof(e->message), "%s", json_string_value(m));
	}
	d = json_object_get(j, "details");
	if (d && json_is_array(d) && json_array_size(d) > 0) {
		json_t *first = json_array_get(d, 0);
		size_t n = json_dumpb(first, e->details, sizeof(e->details) - 1,
				      JSON_COMPACT | JSON_ENCODE_ANY);

		if (n == 0 || n > sizeof(e->details) - 1)
			snprintf(e->details, sizeof(e->details), "(details too long)");
		else
			e->details[n] = '\0';
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

char *etsi_error_encode(const char *message, const char *details)
{
	json_t *j = json_pack("{s:s}", "message", message ? message : "error");
	char *s;

	if (!j)
		return NULL;
	if (details)
		json_object_set_new(j, "details",
				    json_pack("[{s:s}]", "details", details));
	s = dump(j);
	json_decref(j);
	return s;
}
