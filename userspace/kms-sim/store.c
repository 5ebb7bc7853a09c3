// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The keys a KME issued to a master SAE (enc_keys), kept until the slave
 * SAE fetches them by ID at the other KME (dec_keys), or until they are
 * older than pending_ttl.  Every key leaves the table wiped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "clock.h"
#include "secmem.h"
#include "sim.h"
#include "testkeys.h"
#include "uuid.h"

int store_test_seed_from_env(char *why, size_t whysz)
{
	char *hex = getenv(TESTKEYS_SEED_ENV);
	int r = 0;

	if (!hex)
		return 0;
	if (testkeys_parse_seed(hex, S.test_seed)) {
		snprintf(why, whysz, "%s: not %d hex digits", TESTKEYS_SEED_ENV,
			 2 * TESTKEYS_SEED_LEN);
		r = -1;
	} else {
		S.test_seeded = 1;
	}
	/* not left in the environment (children, /proc/PID/environ is
	 * the original block: wiped there too) */
	sec_wipe(hex, strlen(hex));
	unsetenv(TESTKEYS_SEED_ENV);
	return r;
}

/* A new key: random, or test key number test_keys_issued. */
static int new_key(uint8_t id[16], uint8_t *key, size_t len)
{
	if (S.test_seeded)
		return testkeys_derive(S.test_seed, S.test_keys_issued++, id, key, len);
	if (uuid_generate_v4(id) || RAND_priv_bytes(key, (int)len) != 1)
		return -1;
	return 0;
}

int store_init(void)
{
	S.pending = sec_calloc((size_t)S.max_pending, sizeof(*S.pending));
	return S.pending ? 0 : -1;
}

void store_free(void)
{
	if (S.pending)
		sec_free(S.pending);
	sec_wipe(S.test_seed, sizeof(S.test_seed));
}

/* Move the last entry into slot i (wiping the last one). */
static void remove_pending_locked(int i)
{
	S.pending[i] = S.pending[S.npending - 1];
	sec_wipe(&S.pending[S.npending - 1], sizeof(S.pending[0]));
	S.npending--;
}

void store_expire_locked(double now)
{
	int i;

	for (i = 0; i < S.npending;) {
		if (now - S.pending[i].issued > S.pending_ttl) {
			remove_pending_locked(i);
			S.expired++;
		} else {
			i++;
		}
	}
}

int store_issue_locked(struct etsi_keys *ks, int number, int size, int master, int slave,
		       char *why, size_t whysz)
{
	int i;

	for (i = 0; i < number; i++) {
		struct pending_key *p = &S.pending[S.npending + i];

		if (new_key(ks->keys[i].id, ks->keys[i].key, (size_t)size / 8)) {
			snprintf(why, whysz, "random generator failed");
			return -1;
		}
		ks->keys[i].len = (size_t)size / 8;
		memcpy(p->id, ks->keys[i].id, 16);
		memcpy(p->key, ks->keys[i].key, ks->keys[i].len);
		p->len = ks->keys[i].len;
		p->master = master;
		p->slave = slave;
		p->issued = mono_now();
	}
	S.npending += number;
	return 0;
}

static int find_pending_locked(const uint8_t id[16])
{
	int k;

	for (k = 0; k < S.npending; k++)
		if (!memcmp(S.pending[k].id, id, 16))
			return k;
	return -1;
}

int store_take_locked(const struct etsi_key_ids *ids, int slave, int master,
		      struct etsi_keys *ks, size_t *missing)
{
	size_t i;
	int k;

	/* All found first (all-or-nothing); the same answer for an unknown
	 * key and for someone else's. */
	for (i = 0; i < ids->n; i++) {
		k = find_pending_locked(ids->ids[i]);
		if (k < 0 || S.pending[k].slave != slave || S.pending[k].master != master) {
			*missing = i;
			return -1;
		}
	}
	/* Hand them out, marking each (len 0), then delete and wipe. */
	for (i = 0; i < ids->n; i++) {
		struct pending_key *p = &S.pending[find_pending_locked(ids->ids[i])];

		memcpy(ks->keys[i].id, p->id, 16);
		memcpy(ks->keys[i].key, p->key, p->len);
		ks->keys[i].len = p->len;
		p->len = 0;	/* mark */
	}
	for (k = 0; k < S.npending;) {
		if (S.pending[k].len == 0) {
			sec_wipe(&S.pending[k], sizeof(S.pending[k]));
			remove_pending_locked(k);
		} else {
			k++;
		}
	}
	return 0;
}

int store_pending_locked(int master, int slave)
{
	int k, n = 0;

	for (k = 0; k < S.npending; k++)
		n += S.pending[k].master == master && S.pending[k].slave == slave;
	return n;
}

int store_discard_locked(int master, int slave)
{
	int k, n = 0;

	for (k = 0; k < S.npending;) {
		if (S.pending[k].master == master && S.pending[k].slave == slave) {
			remove_pending_locked(k);
			n++;
		} else {
			k++;
		}
	}
	return n;
}

void store_flush_locked(void)
{
	sec_wipe(S.pending, sizeof(S.pending[0]) * (size_t)S.max_pending);
	S.npending = 0;
}
