// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Deviations: ways in which real KMEs read ETSI GS QKD 014 otherwise than
 * this simulator does by default, switched on by name (--deviation,
 * /admin/deviation) so that clients are tested against each.  This file
 * has the reply bodies they need (HTML or empty errors, key containers
 * with bad entries or broken JSON) and the hung connections; their names
 * are parsed in parse.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "b64.h"
#include "log.h"
#include "secmem.h"
#include "sim.h"
#include "uuid.h"

unsigned deviations(void)
{
	return __atomic_load_n(&S.dev, __ATOMIC_RELAXED);
}

/* ---- error bodies -------------------------------------------------------- */

enum MHD_Result send_raw_error(struct MHD_Connection *c, unsigned int code, int html)
{
	static const char page[] = "<html><head><title>Error</title></head>"
				   "<body><h1>Request refused</h1></body></html>\n";
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(html ? strlen(page) : 0, (void *)page,
					    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	if (html)
		MHD_add_response_header(r, "Content-Type", "text/html");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- key replies ------------------------------------------------------------ */

/* A fixed, recognizable "key" (base64 of CANARY-KEY-MATERIAL-0123456789ab):
 * tests grep the client's logs for it. */
#define CANARY_B64 "Q0FOQVJZLUtFWS1NQVRFUklBTC0wMTIzNDU2Nzg5YWI="

/* The reply of malformed-json: the key container broken in its first key
 * value, an invalid escape after 16 characters of the canary (jansson
 * quotes the token it stopped at when it is at most 20 characters long:
 * "invalid escape near '"Q0FOQVJZLUtFWS1N\q'"). */
static char *malformed_reply(const struct etsi_keys *ks)
{
	char id[UUID_STR_LEN + 1];
	char *s = sec_malloc(256);

	if (!s)
		return NULL;
	if (ks->n)
		uuid_format(ks->keys[0].id, id);
	else
		snprintf(id, sizeof(id), "00000000-0000-4000-8000-000000000000");
	snprintf(s, 256, "{\"keys\":[{\"key_ID\":\"%s\",\"key\":\"%.16s\\q%s\"}]}", id,
		 CANARY_B64, CANARY_B64 + 16);
	return s;
}

/*
 * bad-entries: every 4th entry (counted over all replies) is made
 * unusable, in turn: a key_ID that is not a UUID, a key that is not base64,
 * a key of half the size, the key_ID of a neighbouring entry (which spoils
 * both).  *lost counts the keys a client can no longer use.
 */
static char *bad_entries_reply(const struct etsi_keys *ks, int *lost)
{
	static unsigned long entries, spoilt;
	char b64[B64_ENCODED_LEN(ETSI_KEY_MAX_BYTES) + 1];
	char id[UUID_STR_LEN + 1];
	json_t *j = json_object(), *arr = json_array();
	char *s = NULL;
	size_t i;

	*lost = 0;
	if (!j || !arr)
		goto out;
	for (i = 0; i < ks->n; i++) {
		const struct etsi_key *k = &ks->keys[i];
		size_t len = k->len;
		unsigned kind = 4;	/* 4: not spoilt */
		json_t *e;

		pthread_mutex_lock(&S.lock);
		if (++entries % 4 == 0) {
			kind = (unsigned)(spoilt++ % 4);
			if (kind == 3 && ks->n < 2)
				kind = 0;
		}
		pthread_mutex_unlock(&S.lock);
		uuid_format(k->id, id);
		if (kind == 0)
			snprintf(id, sizeof(id), "not-a-uuid");
		else if (kind == 3)
			uuid_format(ks->keys[i ? i - 1 : 1].id, id);
		if (kind == 2)
			len /= 2;
		if (b64_encode(k->key, len, b64, sizeof(b64)) < 0)
			goto out;
		if (kind == 1)
			memcpy(b64, "!!!!", 5);
		*lost += kind == 3 ? 2 : kind < 4;
		e = json_pack("{s:s, s:s}", "key_ID", id, "key", b64);
		if (!e || json_array_append_new(arr, e))
			goto out;
	}
	if (json_object_set_new(j, "keys", arr) == 0) {
		size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);

		arr = NULL;
		s = n ? sec_malloc(n + 1) : NULL;
		if (s && json_dumpb(j, s, n, JSON_COMPACT) == n)
			s[n] = '\0';
		else if (s) {
			sec_free(s);
			s = NULL;
		}
	}
out:
	sec_wipe(b64, sizeof(b64));
	json_decref(arr);
	json_decref(j);
	return s;
}

char *deviation_keys_reply(const struct etsi_keys *ks)
{
	unsigned v = deviations();
	int lost = 0;
	char *s;

	if (v & DEV_MALFORMED_JSON) {
		lost = (int)ks->n;
		s = malformed_reply(ks);
	} else if (v & DEV_BAD_ENTRIES) {
		s = bad_entries_reply(ks, &lost);
	} else {
		return etsi_keys_encode(ks);
	}
	pthread_mutex_lock(&S.lock);
	S.spoilt_keys += (unsigned long long)lost;
	pthread_mutex_unlock(&S.lock);
	return s;
}

/* ---- hung connections --------------------------------------------------- */

#define HUNG_MAX 32

static struct MHD_Connection *hung[HUNG_MAX];
static int nhung;
static pthread_mutex_t hung_lock = PTHREAD_MUTEX_INITIALIZER;

enum MHD_Result deviation_hang(struct MHD_Connection *c, struct req *rq)
{
	struct MHD_Connection *oldest = NULL;

	rq->hung = 1;
	pthread_mutex_lock(&hung_lock);
	if (nhung == HUNG_MAX) {
		/* let the oldest go (it is closed without an answer) */
		oldest = hung[0];
		memmove(hung, hung + 1, sizeof(hung[0]) * (HUNG_MAX - 1));
		nhung--;
	}
	hung[nhung++] = c;
	MHD_suspend_connection(c);
	if (oldest)
		MHD_resume_connection(oldest);
	pthread_mutex_unlock(&hung_lock);
	pthread_mutex_lock(&S.lock);
	S.hung++;
	pthread_mutex_unlock(&S.lock);
	log_debug("hang: request held without an answer");
	return MHD_YES;
}

void deviation_release_hung(void)
{
	int i;

	pthread_mutex_lock(&hung_lock);
	for (i = 0; i < nhung; i++)
		MHD_resume_connection(hung[i]);
	nhung = 0;
	pthread_mutex_unlock(&hung_lock);
}
