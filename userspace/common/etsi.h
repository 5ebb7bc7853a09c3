/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ETSI GS QKD 014 v1.1.1 message bodies: encode and decode with strict
 * validation.  Key material lives only in sec_malloc'd buffers that
 * etsi_keys_free() wipes.
 */
#ifndef QKD_ETSI_H
#define QKD_ETSI_H
#include <stddef.h>
#include <stdint.h>

#define ETSI_ID_MAX		128	/* KME / SAE ID bytes incl. NUL */
#define ETSI_KEY_MAX_BYTES	128	/* 1024-bit keys at most */
#define ETSI_BODY_MAX		(1U << 20)	/* refuse bodies over 1 MiB */
#define ETSI_KEYS_MAX		1024	/* keys in one container / request */
#define ETSI_MSG_MAX		256

/* Status (spec 6.1).  "qber" is this project's extension: the QKD link's
 * quantum bit error rate as the KME reports it, or -1 if absent. */
struct etsi_status {
	char source_KME_ID[ETSI_ID_MAX];
	char target_KME_ID[ETSI_ID_MAX];
	char master_SAE_ID[ETSI_ID_MAX];
	char slave_SAE_ID[ETSI_ID_MAX];
	int key_size;
	int stored_key_count;
	int max_key_count;
	int max_key_per_request;
	int max_key_size;
	int min_key_size;
	int max_SAE_ID_count;
	double qber;
	int link_up;		/* extension "link_up": 1, 0, or -1 if absent */
};

/* Key request (spec 6.2).  0 means "absent" (defaults apply). */
struct etsi_key_request {
	int number;
	int size;			/* bits */
	int additional_slave_count;	/* additional_slave_SAE_IDs given */
	int extension_mandatory;	/* non-empty extension_mandatory given */
};

struct etsi_key {
	uint8_t id[16];
	size_t len;			/* bytes */
	uint8_t key[ETSI_KEY_MAX_BYTES];
};

/* Key container (spec 6.3). keys is sec_calloc'd. */
struct etsi_keys {
	size_t n;
	struct etsi_key *keys;
};

/* Key IDs (spec 6.4). */
struct etsi_key_ids {
	size_t n;
	uint8_t (*ids)[16];		/* malloc'd n entries */
};

/* Error (spec 6.5). */
struct etsi_error {
	char message[ETSI_MSG_MAX];
	char details[ETSI_MSG_MAX];	/* first details entry, flattened */
};

/* Decoders return 0 or -1 and write a short reason to err (may be NULL).
 * The input need not be NUL-terminated. */
int etsi_status_decode(const char *buf, size_t len, struct etsi_status *st,
		       char *err, size_t errsz);
char *etsi_status_encode(const struct etsi_status *st);

int etsi_key_request_decode(const char *buf, size_t len, struct etsi_key_request *rq,
			    char *err, size_t errsz);
char *etsi_key_request_encode(const struct etsi_key_request *rq);

/* Why an entry of a key container was not kept. */
enum etsi_drop {
	ETSI_DROP_ENTRY,	/* not an object */
	ETSI_DROP_ID,		/* key_ID missing or not a UUID */
	ETSI_DROP_KEY,		/* key missing, not a string, not base64 */
	ETSI_DROP_SIZE,		/* not the size asked for */
	ETSI_DROP_DUP,		/* its key_ID occurs more than once */
	ETSI_DROP_NOT_ASKED,	/* dec_keys: an ID that was not asked for */
	ETSI_DROP__N
};
/* Metric label of a reason: "malformed", "wrong_size", "duplicate_id",
 * "not_asked". */
const char *etsi_drop_name(enum etsi_drop why);

/* What a partial decode kept and dropped: counts and the first reason
 * as text (entry indexes and sizes, never reply bytes). */
struct etsi_keys_report {
	size_t entries;			/* entries in the reply's keys array */
	size_t dropped[ETSI_DROP__N];
	size_t ndropped;
	char first[ETSI_MSG_MAX];
};

/* A key container whose structure is sound (JSON object with a keys
 * array of at most ETSI_KEYS_MAX entries): ks gets every usable key,
 * rep says what was dropped (wiped) and why; a key_ID that occurs twice
 * drops every key with it.  Returns -1 (err) only if the body as a whole
 * is unusable: the KME handed the keys out, so a good key is never
 * refused because another one in its reply is bad. */
int etsi_keys_decode_partial(const char *buf, size_t len, size_t expect_bytes,
			     struct etsi_keys *ks, struct etsi_keys_report *rep,
			     char *err, size_t errsz);
/* Strict: any unusable entry fails the whole container.
 * expect_bytes: if non-zero every key must have that many bytes. */
int etsi_keys_decode(const char *buf, size_t len, size_t expect_bytes,
		     struct etsi_keys *ks, char *err, size_t errsz);
/* Result is sec_malloc'd: release with sec_free (wipes). */
char *etsi_keys_encode(const struct etsi_keys *ks);
int etsi_keys_alloc(struct etsi_keys *ks, size_t n);
/* Remove the keys for which drop(key, its index, arg) is true: wiped,
 * the others moved up in their order.  Returns how many went. */
size_t etsi_keys_remove_if(struct etsi_keys *ks,
			   int (*drop)(const struct etsi_key *k, size_t i, void *arg), void *arg);
void etsi_keys_free(struct etsi_keys *ks);

int etsi_key_ids_decode(const char *buf, size_t len, struct etsi_key_ids *ids,
			char *err, size_t errsz);
char *etsi_key_ids_encode(const struct etsi_key_ids *ids);
void etsi_key_ids_free(struct etsi_key_ids *ids);

int etsi_error_decode(const char *buf, size_t len, struct etsi_error *e);
char *etsi_error_encode(const char *message, const char *details);

/* Everything *_encode returns is freed with sec_free(). */

#endif
