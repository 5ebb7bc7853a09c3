/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * In-process tests of the hybrid key exchange (qkd_ke.c) with the real
 * libstrongswan (X25519 and HMAC from the openssl plugin, settings, link
 * matching) and a stub key source: an initiator and a responder object run
 * against each other and the shared secrets are compared with the expected
 * X25519 secret || QKD key.  TAP.
 */
#include "tap.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include <library.h>
#include <daemon.h>

#include "qkd_ke.h"
#include "qkd_keysrc.h"
#include "qkd_method.h"
#include "qkd_peer.h"
#include "qkd_wire.h"

/* OpenSSL keeps some global state after the openssl plugin is unloaded */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libcrypto.so\n";
}

/* ------------------------------------------------------------ stub source */

#define POOL 16

struct stub_link {
	const char *name;
	struct qkd_key init[POOL];		/* taken oldest first */
	int ninit;
	struct qkd_key resp[POOL];		/* taken by ID */
	int nresp;
	int busy;						/* -EBUSY */
	int takes;						/* successful takes */
	uint32_t last_wait;				/* wait_ms of the last take by ID */
	unsigned int last_flags;		/* flags of the last take by ID */
	int block;						/* takes with wait_ms > 0 block */
	volatile int blocked;			/* ... currently blocked */
	volatile int release;
	char last_usage[128];
	int annotations;
	struct qkd_key rsvd[POOL];		/* reserved initiator keys */
	int nrsvd;
	int reserves, releases, wants, wants_held;
	int init_by_id;					/* takes of a reserved key by ID */
	uint8_t last_want[QKD_KEYSRC_ID_LEN];
};

/* a takes from "la" (its peer is 192.0.2.2), b from "lb" */
static struct stub_link links_[2] = { { .name = "la" }, { .name = "lb" } };
static pthread_mutex_t stub_lock = PTHREAD_MUTEX_INITIALIZER;

static struct stub_link *stub(const char *name)
{
	return streq(name, "la") ? &links_[0] : streq(name, "lb") ? &links_[1]
															  : NULL;
}

static void stub_reset(void)
{
	int i;

	for (i = 0; i < 2; i++)
	{
		const char *name = links_[i].name;

		memset(&links_[i], 0, sizeof(links_[i]));
		links_[i].name = name;
	}
}

void qkd_keysrc_wipe(struct qkd_key *key)
{
	if (key)
	{
		memwipe(key, sizeof(*key));
	}
}

const char *qkd_keysrc_name(void)
{
	return "stub";
}

int qkd_keysrc_take(const char *link, const uint8_t *id, uint32_t wait_ms,
					unsigned int flags, struct qkd_key *key,
					char err[QKD_KEYSRC_ERR_LEN])
{
	struct stub_link *l = stub(link);
	int i, ret = -ENOENT;

	err[0] = '\0';
	memset(key, 0, sizeof(*key));
	if (!l)
	{
		return -ENODEV;
	}
	pthread_mutex_lock(&stub_lock);
	if (l->busy)
	{
		pthread_mutex_unlock(&stub_lock);
		return -EBUSY;
	}
	if (!id)
	{
		if (l->ninit)
		{
			*key = l->init[0];
			memmove(&l->init[0], &l->init[1], --l->ninit * sizeof(l->init[0]));
			ret = 0;
		}
	}
	else if (flags & QKD_KEYSRC_INITIATOR)
	{
		for (i = 0; i < l->nrsvd; i++)
		{
			if (memeq(l->rsvd[i].id, id, QKD_KEYSRC_ID_LEN))
			{
				*key = l->rsvd[i];
				memmove(&l->rsvd[i], &l->rsvd[i + 1],
						(--l->nrsvd - i) * sizeof(l->rsvd[0]));
				l->init_by_id++;
				ret = 0;
				break;
			}
		}
	}
	else
	{
		l->last_wait = wait_ms;
		l->last_flags = flags;
		if (wait_ms && l->block)
		{
			l->blocked++;
			pthread_mutex_unlock(&stub_lock);
			while (!l->release)
			{
				usleep(1000);
			}
			pthread_mutex_lock(&stub_lock);
			l->blocked--;
		}
		for (i = 0; i < l->nresp; i++)
		{
			if (memeq(l->resp[i].id, id, QKD_KEYSRC_ID_LEN))
			{
				*key = l->resp[i];
				memmove(&l->resp[i], &l->resp[i + 1],
						(--l->nresp - i) * sizeof(l->resp[0]));
				ret = 0;
				break;
			}
		}
		if (ret && wait_ms)
		{
			ret = -ETIMEDOUT;
		}
	}
	if (!ret)
	{
		l->takes++;
	}
	pthread_mutex_unlock(&stub_lock);
	return ret;
}

int qkd_keysrc_annotate(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
						const uint32_t *spis, int nspis, const char *usage,
						char err[QKD_KEYSRC_ERR_LEN])
{
	struct stub_link *l = stub(link);

	err[0] = '\0';
	if (l)
	{
		l->annotations++;
		snprintf(l->last_usage, sizeof(l->last_usage), "%s", usage ?: "");
	}
	return 0;
}

int qkd_keysrc_reserve(const char *link, uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN])
{
	struct stub_link *l = stub(link);
	int ret = -ENOENT;

	err[0] = '\0';
	if (!l)
	{
		return -ENODEV;
	}
	pthread_mutex_lock(&stub_lock);
	if (l->ninit)
	{	/* the oldest moves aside: takes of the oldest skip it */
		l->rsvd[l->nrsvd++] = l->init[0];
		memmove(&l->init[0], &l->init[1], --l->ninit * sizeof(l->init[0]));
		memcpy(id, l->rsvd[l->nrsvd - 1].id, QKD_KEYSRC_ID_LEN);
		l->reserves++;
		ret = 0;
	}
	pthread_mutex_unlock(&stub_lock);
	return ret;
}

int qkd_keysrc_release(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN])
{
	struct stub_link *l = stub(link);
	int i, ret = -ENOENT;

	err[0] = '\0';
	if (!l)
	{
		return -ENODEV;
	}
	pthread_mutex_lock(&stub_lock);
	for (i = 0; i < l->nrsvd; i++)
	{
		if (memeq(l->rsvd[i].id, id, QKD_KEYSRC_ID_LEN))
		{	/* back in front: it is older than the others */
			memmove(&l->init[1], &l->init[0], l->ninit++ * sizeof(l->init[0]));
			l->init[0] = l->rsvd[i];
			memmove(&l->rsvd[i], &l->rsvd[i + 1],
					(--l->nrsvd - i) * sizeof(l->rsvd[0]));
			l->releases++;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&stub_lock);
	return ret;
}

int qkd_keysrc_want(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					char err[QKD_KEYSRC_ERR_LEN])
{
	struct stub_link *l = stub(link);
	int i, ret = -ENOENT;

	err[0] = '\0';
	if (!l)
	{
		return -ENODEV;
	}
	pthread_mutex_lock(&stub_lock);
	l->wants++;
	memcpy(l->last_want, id, QKD_KEYSRC_ID_LEN);
	for (i = 0; i < l->nresp; i++)
	{
		if (memeq(l->resp[i].id, id, QKD_KEYSRC_ID_LEN))
		{
			l->wants_held++;
			ret = 0;
		}
	}
	pthread_mutex_unlock(&stub_lock);
	return ret;
}

/* add a key a takes as initiator ("la") and b by ID ("lb"); the material
 * of b's copy differs if mismatch */
static void add_key(uint8_t idbyte, uint8_t fill, size_t len, int mismatch,
					int to_responder)
{
	struct qkd_key k = { .len = len, .role = 1 };

	memset(k.id, 0, sizeof(k.id));
	k.id[0] = idbyte;
	k.id[15] = 1;
	memset(k.material, fill, len);
	k.material[0] = idbyte;
	links_[0].init[links_[0].ninit++] = k;
	if (to_responder)
	{
		k.role = 2;
		if (mismatch)
		{
			k.material[1] ^= 0x5a;
		}
		links_[1].resp[links_[1].nresp++] = k;
	}
}

/* ------------------------------------------------------------ helpers */

static qkd_links_t *links;
static identification_t *id_a, *id_b, *id_any;
static host_t *host_a, *host_b;

static void configure(char *pa, char *pb, char *sticky_a)
{
	char conf[1024];

	snprintf(conf, sizeof(conf),
		"test { plugins { qkd {\n"
		" max_waiting_takes = 2\n"
		" links {\n"
		"  la { remote_addrs = 192.0.2.2\n policy = %s\n sticky = %s\n"
		"       wait_ms = 100 }\n"
		"  lb { remote_addrs = 192.0.2.1\n policy = %s\n wait_ms = 100 }\n"
		" }\n"
		"} } }\n", pa, sticky_a, pb);
	lib->settings->load_string(lib->settings, conf, FALSE);
	links->reload(links);
}

/* announcement flags the peers of new objects sent in IKE_AUTH (protocol
 * v2); -1: no announcement (a peer without the plugin, or a v1 build) */
static int announce_a = QKD_ANNOUNCE_F_LINK, announce_b = QKD_ANNOUNCE_F_LINK;
/* the protocol version both announce (2: no next key IDs; 3: with them) */
static int announce_version = 2;

static void set_announced(uint32_t uid, int flags)
{
	qkd_peer_gone(uid);
	if (flags >= 0)
	{
		qkd_peer_set_announced(uid, announce_version, flags);
	}
}

/* a's object (peer b); uid: a's IKE_SA */
static key_exchange_t *new_a(uint32_t uid)
{
	bool used = qkd_ke_sa_has_used_qkd(uid);

	set_announced(uid, announce_b);
	if (used)
	{
		qkd_ke_sa_used_qkd(uid);
	}
	qkd_ke_test_set_peer(id_b, host_b, uid);
	return &qkd_ke_create(QKD_KE_METHOD)->ke;
}

/* b's object; peer_known FALSE: IKE_SA_INIT (identity %any) */
static key_exchange_t *new_b(bool peer_known)
{
	set_announced(100, announce_a);
	qkd_ke_test_set_peer(peer_known ? id_a : id_any, host_a, 100);
	return &qkd_ke_create(QKD_KE_METHOD)->ke;
}

enum order {
	/* CREATE_CHILD_SA responder: secret, then KE data */
	ORDER_CHILD,
	/* IKE_SA_INIT responder: KE data, then secret (at IKE_AUTH) */
	ORDER_IKE,
};

struct run {
	bool init_ok, set_r_ok, resp_ok, secret_r_ok, set_i_ok, secret_i_ok;
	chunk_t init, resp, si, sr;
};

static void run_free(struct run *r)
{
	chunk_free(&r->init);
	chunk_free(&r->resp);
	chunk_clear(&r->si);
	chunk_clear(&r->sr);
}

static void exchange(key_exchange_t *i, key_exchange_t *r, enum order order,
					 struct run *out)
{
	memset(out, 0, sizeof(*out));
	out->init_ok = i->get_public_key(i, &out->init);
	if (!out->init_ok)
	{
		return;
	}
	out->set_r_ok = r->set_public_key(r, out->init);
	if (order == ORDER_CHILD)
	{
		out->secret_r_ok = r->get_shared_secret(r, &out->sr);
		out->resp_ok = r->get_public_key(r, &out->resp);
	}
	else
	{
		out->resp_ok = r->get_public_key(r, &out->resp);
		out->secret_r_ok = r->get_shared_secret(r, &out->sr);
	}
	if (!out->resp_ok)
	{
		return;
	}
	out->set_i_ok = i->set_public_key(i, out->resp);
	out->secret_i_ok = i->get_shared_secret(i, &out->si);
}

/* the secrets are equal and are a 32 byte X25519 secret || the key */
static bool secret_is(struct run *r, const struct qkd_key *k)
{
	size_t klen = k ? k->len : 0;

	return r->secret_i_ok && r->secret_r_ok &&
		   chunk_equals_const(r->si, r->sr) && r->si.len == 32 + klen &&
		   !chunk_equals(chunk_create(r->si.ptr, 32),
						 chunk_from_chars(0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
										  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0)) &&
		   (!k || memeq(r->si.ptr + 32, k->material, klen));
}

static uint8_t flags_of(chunk_t msg)
{
	return msg.len > 2 ? msg.ptr[2] : 0xff;
}

static bool uses(key_exchange_t *ke)
{
	return ((qkd_ke_t*)ke)->uses_qkd((qkd_ke_t*)ke);
}

/* ------------------------------------------------------------ threads */

struct waiter {
	key_exchange_t *r;
	bool ok;
	chunk_t s;
	volatile int done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->ok = w->r->get_shared_secret(w->r, &w->s);
	w->done = 1;
	return NULL;
}


/* a CREATE_CHILD_SA as charon runs it, with the listener's binding of each
 * CHILD_SA's policy (narrow hooks): a (uid 5) bound to pa before its INIT,
 * b bound to pb after it received the INIT, before its take */
static void child_exchange(qkd_policy_t pa, qkd_policy_t pb, struct run *out,
						   bool *bound_a, bool *bound_b)
{
	key_exchange_t *i = new_a(5), *r = new_b(TRUE);

	memset(out, 0, sizeof(*out));
	*bound_a = qkd_ke_bind_child(5, pa, FALSE, "CHILD_SA a{1}, test rule");
	*bound_b = FALSE;
	out->init_ok = i->get_public_key(i, &out->init);
	if (out->init_ok)
	{
		out->set_r_ok = r->set_public_key(r, out->init);
		*bound_b = qkd_ke_bind_child(100, pb, FALSE, "CHILD_SA b{1}, test");
		out->secret_r_ok = r->get_shared_secret(r, &out->sr);
		out->resp_ok = r->get_public_key(r, &out->resp);
		if (out->resp_ok)
		{
			out->set_i_ok = i->set_public_key(i, out->resp);
			out->secret_i_ok = i->get_shared_secret(i, &out->si);
		}
	}
	i->destroy(i);
	r->destroy(r);
}

/* ------------------------------------------------------------ tests */

/* ------------------------------------------------- next key IDs (v3) */

/* one CREATE_CHILD_SA of a (IKE_SA uid ua) with b (uid 100), both
 * announced protocol version va (a's view) and vb (b's view) before */
static void next_exchange(uint32_t ua, struct run *r)
{
	key_exchange_t *a, *b;

	qkd_ke_test_set_peer(id_b, host_b, ua);
	a = &qkd_ke_create(QKD_KE_METHOD)->ke;
	qkd_ke_test_set_peer(id_a, host_a, 100);
	b = &qkd_ke_create(QKD_KE_METHOD)->ke;
	exchange(a, b, ORDER_CHILD, r);
	a->destroy(a);
	b->destroy(b);
}

static void next_announce(uint32_t ua, int va, int vb)
{
	qkd_peer_gone(ua);
	qkd_peer_gone(100);
	qkd_peer_set_announced(ua, va, QKD_ANNOUNCE_F_LINK);
	qkd_peer_set_announced(100, vb, QKD_ANNOUNCE_F_LINK);
}

static bool next_is(chunk_t msg, uint8_t idbyte)
{
	struct qkd_wire_msg m;
	bool is = FALSE;

	/* version 2 INIT and RESP have the same length: the type byte tells */
	if (!qkd_wire_parse(msg.ptr, msg.len, msg.len > 1 &&
						msg.ptr[1] == QKD_WIRE_INIT ? QKD_WIRE_INIT :
						QKD_WIRE_RESP, &m))
	{
		is = idbyte ? m.next_id[0] == idbyte && m.next_id[15] == 1
					: memeq(m.next_id, chunk_from_chars(
						0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0).ptr, 16);
	}
	memwipe(&m, sizeof(m));
	return is;
}

static struct qkd_key key_of(uint8_t idbyte)
{
	struct qkd_key k = { .len = 32 };

	k.id[0] = idbyte;
	k.id[15] = 1;
	memset(k.material, 0x77, 32);
	k.material[0] = idbyte;
	return k;
}

static void test_next_ids(void)
{
	struct qkd_key k;
	struct run r;
	int c0, c1;

	stub_reset();
	configure("require", "require", "no");
	add_key(0x31, 0x77, 32, 0, 1);
	add_key(0x32, 0x77, 32, 0, 1);
	add_key(0x33, 0x77, 32, 0, 1);
	next_announce(5, 3, 3);

	/* 1: the oldest, the next one reserved and announced */
	next_exchange(5, &r);
	k = key_of(0x31);
	ok(secret_is(&r, &k) && r.init.len == 84 && r.resp.len == 84 &&
	   next_is(r.init, 0x32) && next_is(r.resp, 0),
	   "v3: first exchange keyed by the oldest key; INIT (68 bytes) "
	   "announces the next key 0x32, RESP (84) none (b has no key)");
	ok(links_[0].reserves == 1 && links_[0].nrsvd == 1 &&
	   links_[0].ninit == 1 && links_[1].wants == 1 &&
	   links_[1].wants_held == 1 && links_[1].last_want[0] == 0x32 &&
	   links_[1].nresp == 2, "v3: a reserved 0x32 (not taken); b asked its "
	   "module for 0x32 ahead (held), took nothing more");
	run_free(&r);

	/* 2: the announced key, by ID */
	c0 = (int)qkd_counter(QKD_CNT_PEER_NEXT_USED);
	next_exchange(5, &r);
	k = key_of(0x32);
	ok(secret_is(&r, &k) && links_[0].init_by_id == 1 &&
	   next_is(r.init, 0x33) && links_[1].last_want[0] == 0x33 &&
	   (int)qkd_counter(QKD_CNT_PEER_NEXT_USED) == c0 + 1,
	   "v3: second exchange keyed by the announced key 0x32 (taken by ID), "
	   "0x33 announced and wanted; b saw the announced ID used");
	run_free(&r);

	/* 3: the reserved key is gone (expired/flushed): the oldest instead */
	memwipe(links_[0].rsvd, sizeof(links_[0].rsvd));
	links_[0].nrsvd = 0;
	add_key(0x34, 0x77, 32, 0, 1);
	c0 = (int)qkd_counter(QKD_CNT_RESERVED_GONE);
	c1 = (int)qkd_counter(QKD_CNT_PEER_NEXT_OTHER);
	next_exchange(5, &r);
	k = key_of(0x34);
	ok(secret_is(&r, &k) && (int)qkd_counter(QKD_CNT_RESERVED_GONE) == c0 + 1 &&
	   (int)qkd_counter(QKD_CNT_PEER_NEXT_OTHER) == c1 + 1 &&
	   next_is(r.init, 0) && links_[0].init_by_id == 1,
	   "v3: announced key gone: a takes the oldest (0x34), b takes what the "
	   "INIT names (counted as another key), no next key left to announce");
	run_free(&r);

	/* 4: the IKE_SA goes: its reservation is released */
	add_key(0x35, 0x77, 32, 0, 1);
	add_key(0x36, 0x77, 32, 0, 1);
	next_exchange(5, &r);
	run_free(&r);
	c0 = links_[0].releases;
	ok(links_[0].nrsvd == 1 && links_[0].rsvd[0].id[0] == 0x36,
	   "v3: 0x35 keyed the exchange, 0x36 reserved");
	qkd_peer_gone(5);
	ok(links_[0].releases == c0 + 1 && links_[0].nrsvd == 0 &&
	   links_[0].ninit == 1 && links_[0].init[0].id[0] == 0x36,
	   "v3: IKE_SA destroyed: reserved key 0x36 released (an ordinary key "
	   "again)");

	/* 5: IKE_SA rekeyed: the reservation moves to the new IKE_SA */
	next_announce(5, 3, 3);
	add_key(0x37, 0x77, 32, 0, 1);
	next_exchange(5, &r);		/* takes 0x36, reserves 0x37 */
	run_free(&r);
	qkd_peer_rekeyed(5, 6);
	c0 = links_[0].releases;
	qkd_peer_gone(5);
	ok(links_[0].releases == c0 && links_[0].nrsvd == 1,
	   "v3: IKE_SA rekeyed: the old IKE_SA's end releases nothing");
	next_exchange(6, &r);
	k = key_of(0x37);
	ok(secret_is(&r, &k) && links_[0].init_by_id == 2,
	   "v3: the new IKE_SA's first exchange uses the key announced on the "
	   "old one (0x37, by ID)");
	run_free(&r);
	qkd_peer_gone(6);

	/* 6: b announces its own next key; a asks for it ahead */
	stub_reset();
	next_announce(5, 3, 3);
	add_key(0x41, 0x77, 32, 0, 1);
	add_key(0x42, 0x77, 32, 0, 1);
	add_key(0x43, 0x77, 32, 0, 1);
	k = key_of(0x51);
	k.role = 1;
	links_[1].init[links_[1].ninit++] = k;
	k.role = 2;
	links_[0].resp[links_[0].nresp++] = k;
	next_exchange(5, &r);
	ok(next_is(r.resp, 0x51) && links_[1].reserves == 1 &&
	   links_[0].wants == 1 && links_[0].wants_held == 1 &&
	   links_[0].last_want[0] == 0x51,
	   "v3: RESP announces b's next key 0x51 (reserved by b), a asks its "
	   "module for it ahead");
	run_free(&r);
	next_exchange(5, &r);
	ok(r.resp.len == 84 && next_is(r.resp, 0x51) && links_[1].reserves == 1 &&
	   links_[0].wants == 1, "v3: b announces the same reservation again "
	   "(no second reserve); a does not ask again for it");
	run_free(&r);

	/* 7: a collision: two exchanges of one IKE_SA at once */
	stub_reset();
	next_announce(5, 3, 3);
	add_key(0x61, 0x77, 32, 0, 1);
	add_key(0x62, 0x77, 32, 0, 1);
	add_key(0x63, 0x77, 32, 0, 1);
	add_key(0x64, 0x77, 32, 0, 1);
	{
		key_exchange_t *a1, *a2;
		chunk_t i1 = chunk_empty, i2 = chunk_empty;

		qkd_ke_test_set_peer(id_b, host_b, 5);
		a1 = &qkd_ke_create(QKD_KE_METHOD)->ke;
		a2 = &qkd_ke_create(QKD_KE_METHOD)->ke;
		ok(a1->get_public_key(a1, &i1) && a2->get_public_key(a2, &i2) &&
		   i1.len == 84 && i1.ptr[4] == 0x61 && next_is(i1, 0x62) &&
		   i2.len == 84 && i2.ptr[4] == 0x62 && next_is(i2, 0x63) &&
		   links_[0].reserves == 2 && links_[0].takes == 2 &&
		   links_[0].init_by_id == 1 && links_[0].nrsvd == 1,
		   "v3: two INITs at once on one IKE_SA: the first takes 0x61 and "
		   "announces 0x62, the second takes 0x62 by ID and announces 0x63");
		chunk_free(&i1);
		chunk_free(&i2);
		a1->destroy(a1);
		a2->destroy(a2);
	}
	qkd_peer_gone(5);
	ok(links_[0].releases == 1, "v3: ... released with the IKE_SA");

	/* 8: v2 peers: version 1 KE data, no reservation, no want */
	stub_reset();
	next_announce(5, 2, 2);
	add_key(0x71, 0x77, 32, 0, 1);
	add_key(0x72, 0x77, 32, 0, 1);
	next_exchange(5, &r);
	k = key_of(0x71);
	ok(secret_is(&r, &k) && r.init.len == 52 && r.resp.len == 68 &&
	   links_[0].reserves == 0 && links_[1].wants == 0 &&
	   links_[1].reserves == 0, "v2 peer: 52/68 byte KE data, no next key "
	   "IDs, nothing reserved or wanted");
	run_free(&r);
	/* 9: KE data of another version than the announcements agreed */
	next_announce(5, 3, 2);
	next_exchange(5, &r);
	ok(r.init_ok && r.init.len == 84 && !r.set_r_ok && !r.secret_r_ok,
	   "a v2 INIT where v1 KE data was agreed is refused");
	run_free(&r);

	/* 10: key confirmation both ways (v3): the initiator's tag */
	stub_reset();
	next_announce(5, 3, 3);
	add_key(0x81, 0x3c, 32, 0, 1);
	k = key_of(0x81);
	memset(k.material, 0x3c, 32);
	k.material[0] = 0x81;
	next_exchange(5, &r);
	{
		struct qkd_wire_msg mi;
		uint8_t t[QKD_WIRE_TRANSCRIPT_INIT_LEN], tk[32], mac[32];
		prf_t *prf = lib->crypto->create_prf(lib->crypto, PRF_HMAC_SHA2_256);
		bool good = FALSE;

		if (prf && secret_is(&r, &k) &&
			qkd_wire_parse(r.init.ptr, r.init.len, QKD_WIRE_INIT, &mi) == 0 &&
			qkd_wire_init_transcript(&mi, t, sizeof(t)) == sizeof(t))
		{
			good = prf->set_key(prf, chunk_create(k.material, k.len)) &&
				   prf->get_bytes(prf, chunk_from_str("qkd-ipsec confirm v1"),
								  tk) &&
				   prf->set_key(prf, chunk_from_thing(tk)) &&
				   prf->get_bytes(prf, chunk_from_thing(t), mac) &&
				   memeq(mac, mi.tag, QKD_WIRE_TAG_LEN);
		}
		ok(good, "v3: INIT tag = HMAC(HMAC(K, \"qkd-ipsec confirm v1\"), "
		   "\"qkd-ipsec initiator key confirmation v1\" || INIT with a zero "
		   "tag), the exchange succeeds");
		DESTROY_IF(prf);
		memwipe(&mi, sizeof(mi));
	}
	run_free(&r);

	/* 11: different material for one key ID: the responder refuses before
	 * it answers (no RESP, no secret: charon installs nothing) */
	stub_reset();
	next_announce(5, 3, 3);
	add_key(0x82, 0x77, 32, 1, 1);
	{
		u_int cf = qkd_counter(QKD_CNT_CONFIRM_FAIL);
		key_exchange_t *a, *b;

		qkd_ke_test_set_peer(id_b, host_b, 5);
		a = &qkd_ke_create(QKD_KE_METHOD)->ke;
		qkd_ke_test_set_peer(id_a, host_a, 100);
		b = &qkd_ke_create(QKD_KE_METHOD)->ke;
		exchange(a, b, ORDER_CHILD, &r);
		ok(r.init_ok && r.set_r_ok && !r.secret_r_ok && !r.resp_ok &&
		   !r.set_i_ok && !r.secret_i_ok && links_[1].takes == 1 &&
		   qkd_counter(QKD_CNT_CONFIRM_FAIL) == cf + 1,
		   "v3, different key material: the responder's check of the "
		   "initiator's tag fails: no secret, no RESP, counted");
		b->destroy(b);
		ok(strstr(links_[1].last_usage, "unused: confirmation failed") !=
		   NULL, "v3, different key material: responder's audit says unused "
		   "(%s)", links_[1].last_usage);
		a->destroy(a);
		ok(strstr(links_[0].last_usage, "unused: ") != NULL,
		   "v3, refused exchange: initiator's audit says unused (%s)",
		   links_[0].last_usage);
		run_free(&r);

		/* a tampered INIT tag is refused the same way */
		stub_reset();
		next_announce(5, 3, 3);
		add_key(0x83, 0x77, 32, 0, 1);
		qkd_ke_test_set_peer(id_b, host_b, 5);
		a = &qkd_ke_create(QKD_KE_METHOD)->ke;
		qkd_ke_test_set_peer(id_a, host_a, 100);
		b = &qkd_ke_create(QKD_KE_METHOD)->ke;
		memset(&r, 0, sizeof(r));
		r.init_ok = a->get_public_key(a, &r.init);
		if (r.init_ok && r.init.len == QKD_WIRE_INIT_LEN_NEXT)
		{
			r.init.ptr[36] ^= 0x01;
		}
		r.set_r_ok = b->set_public_key(b, r.init);
		r.secret_r_ok = b->get_shared_secret(b, &r.sr);
		r.resp_ok = b->get_public_key(b, &r.resp);
		ok(r.init_ok && r.set_r_ok && !r.secret_r_ok && !r.resp_ok &&
		   qkd_counter(QKD_CNT_CONFIRM_FAIL) == cf + 2,
		   "v3: an INIT whose tag was changed is refused by the responder");
		b->destroy(b);
		a->destroy(a);
		run_free(&r);

		/* a lying responder (RESP tag wrong): the initiator fails */
		stub_reset();
		next_announce(5, 3, 3);
		add_key(0x84, 0x77, 32, 0, 1);
		qkd_ke_test_set_peer(id_b, host_b, 5);
		a = &qkd_ke_create(QKD_KE_METHOD)->ke;
		qkd_ke_test_set_peer(id_a, host_a, 100);
		b = &qkd_ke_create(QKD_KE_METHOD)->ke;
		memset(&r, 0, sizeof(r));
		r.init_ok = a->get_public_key(a, &r.init);
		r.set_r_ok = b->set_public_key(b, r.init);
		r.secret_r_ok = b->get_shared_secret(b, &r.sr);
		r.resp_ok = b->get_public_key(b, &r.resp);
		if (r.resp_ok && r.resp.len == QKD_WIRE_RESP_LEN_NEXT)
		{
			r.resp.ptr[36] ^= 0x01;
		}
		r.set_i_ok = a->set_public_key(a, r.resp);
		r.secret_i_ok = a->get_shared_secret(a, &r.si);
		ok(r.secret_r_ok && r.resp_ok && !r.secret_i_ok && !uses(a) &&
		   qkd_counter(QKD_CNT_CONFIRM_FAIL) == cf + 3,
		   "v3: a RESP with a wrong tag fails at the initiator (no secret)");
		a->destroy(a);
		ok(strstr(links_[0].last_usage, "unused: confirmation failed") !=
		   NULL, "v3, wrong RESP tag: initiator's audit says unused (%s)",
		   links_[0].last_usage);
		b->destroy(b);
		run_free(&r);
	}
	qkd_peer_gone(5);
	qkd_peer_gone(100);
}

int main(void)
{
	key_exchange_t *a, *b, *b2;
	struct run r, r2;
	struct qkd_key k1, k2;
	chunk_t c1, c2;
	int order;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!library_init(NULL, "test"))
	{
		printf("Bail out! library_init\n");
		return 1;
	}
	/* the DBG macros of libcharon log through charon->bus */
	if (!libcharon_init())
	{
		printf("Bail out! libcharon_init\n");
		return 1;
	}
	if (!lib->plugins->load(lib->plugins, "random nonce openssl hmac sha2"))
	{
		printf("Bail out! loading plugins\n");
		return 1;
	}
	id_a = identification_create_from_string("gw-a");
	id_b = identification_create_from_string("gw-b");
	id_any = identification_create_from_string("%any");
	host_a = host_create_from_string("192.0.2.1", 500);
	host_b = host_create_from_string("192.0.2.2", 500);
	links = qkd_links_create();
	qkd_ke_set_links(links);

	/* --- require/require, key available, both call orders */
	for (order = ORDER_CHILD; order <= ORDER_IKE; order++)
	{
		const char *what = order == ORDER_CHILD ? "CREATE_CHILD_SA order"
												: "IKE_SA_INIT order";
		stub_reset();
		configure("require", "require", "no");
		add_key(0x11, 0xa5, 32, 0, 1);
		k1 = links_[0].init[0];
		a = new_a(1);
		b = new_b(TRUE);
		exchange(a, b, order, &r);
		ok(r.init_ok && r.set_r_ok && r.resp_ok && r.set_i_ok,
		   "%s: INIT and RESP accepted", what);
		ok(secret_is(&r, &k1), "%s: secret_i == secret_r == X25519 (32 "
		   "bytes) || QKD key (%zu bytes)", what, r.si.len);
		ok(uses(a) && uses(b), "%s: both report the QKD key used", what);
		ok(links_[0].takes == 1 && links_[1].takes == 1,
		   "%s: one key taken per side", what);
		ok(flags_of(r.init) == QKD_WIRE_F_REQUIRE &&
		   flags_of(r.resp) == QKD_WIRE_F_REQUIRE,
		   "%s: REQUIRE flag sent by both", what);
		ok(links_[1].last_wait == 100 && links_[1].last_flags == 0,
		   "%s, authenticated peer: the responder waits wait_ms (%u) and "
		   "lets the agent fetch the key", what, links_[1].last_wait);
		/* repeated calls */
		ok(a->get_shared_secret(a, &c1) && chunk_equals(c1, r.si) &&
		   b->get_shared_secret(b, &c2) && chunk_equals(c2, r.sr),
		   "%s: repeated get_shared_secret returns the same secret", what);
		chunk_clear(&c1);
		chunk_clear(&c2);
		ok(b->get_public_key(b, &c1) && chunk_equals(c1, r.resp) &&
		   links_[1].takes == 1, "%s: repeated responder get_public_key: "
		   "same RESP, no second take", what);
		chunk_free(&c1);
		ok(!b->set_public_key(b, r.init), "%s: responder refuses a second "
		   "INIT", what);
		/* what the listener does in child_keys/ike_keys */
		((qkd_ke_t*)a)->annotate((qkd_ke_t*)a, NULL, 0, "CHILD_SA test");
		((qkd_ke_t*)b)->annotate((qkd_ke_t*)b, NULL, 0, "CHILD_SA test");
		a->destroy(a);
		b->destroy(b);
		ok(links_[0].annotations == 1 && links_[1].annotations == 1 &&
		   streq(links_[0].last_usage, "CHILD_SA test") &&
		   streq(links_[1].last_usage, "CHILD_SA test"),
		   "%s: used keys annotated once, not as unused", what);
		run_free(&r);
	}

	/* --- the tag is keyed with HMAC(K, label), not K (key separation) */
	{
		struct qkd_wire_msg mi, mr;
		uint8_t transcript[QKD_WIRE_TRANSCRIPT_LEN], tk[32], mac[32];
		prf_t *prf = lib->crypto->create_prf(lib->crypto, PRF_HMAC_SHA2_256);
		bool sep = FALSE, direct = TRUE;

		stub_reset();
		configure("require", "require", "no");
		add_key(0x12, 0x3c, 32, 0, 1);
		k1 = links_[0].init[0];
		a = new_a(1);
		b = new_b(TRUE);
		exchange(a, b, ORDER_CHILD, &r);
		if (prf && secret_is(&r, &k1) &&
			qkd_wire_parse(r.init.ptr, r.init.len, QKD_WIRE_INIT, &mi) == 0 &&
			qkd_wire_parse(r.resp.ptr, r.resp.len, QKD_WIRE_RESP, &mr) == 0 &&
			qkd_wire_transcript(&mi, &mr, transcript, sizeof(transcript)))
		{
			sep = prf->set_key(prf, chunk_create(k1.material, k1.len)) &&
				  prf->get_bytes(prf, chunk_from_str("qkd-ipsec confirm v1"),
								 tk) &&
				  prf->set_key(prf, chunk_from_thing(tk)) &&
				  prf->get_bytes(prf, chunk_from_thing(transcript), mac) &&
				  memeq(mac, mr.tag, QKD_WIRE_TAG_LEN);
			direct = prf->set_key(prf, chunk_create(k1.material, k1.len)) &&
					 prf->get_bytes(prf, chunk_from_thing(transcript), mac) &&
					 memeq(mac, mr.tag, QKD_WIRE_TAG_LEN);
		}
		ok(sep && !direct, "tag = HMAC(HMAC(K, \"qkd-ipsec confirm v1\"), "
		   "transcript): K itself keys only the secret");
		DESTROY_IF(prf);
		a->destroy(a);
		b->destroy(b);
		run_free(&r);
	}

	/* --- different QKD key on the two sides: the tag fails */
	stub_reset();
	configure("require", "require", "no");
	add_key(0x13, 0x77, 32, 1, 1);
	a = new_a(1);
	b = new_b(TRUE);
	exchange(a, b, ORDER_CHILD, &r);
	ok(r.resp_ok && r.secret_r_ok && !r.secret_i_ok && !uses(a),
	   "different key material: initiator's confirmation fails, no secret");
	a->destroy(a);
	ok(strstr(links_[0].last_usage, "unused: confirmation failed") != NULL,
	   "different key material: audit says unused (%s)", links_[0].last_usage);
	b->destroy(b);
	run_free(&r);

	/* --- require, initiator pool empty */
	stub_reset();
	configure("require", "require", "no");
	a = new_a(1);
	b = new_b(TRUE);
	exchange(a, b, ORDER_CHILD, &r);
	ok(!r.init_ok, "require, initiator pool empty: no INIT (refused)");
	a->destroy(a);
	b->destroy(b);
	run_free(&r);

	/* --- prefer/prefer, initiator pool empty: X25519 alone */
	for (order = ORDER_CHILD; order <= ORDER_IKE; order++)
	{
		stub_reset();
		configure("prefer", "prefer", "no");
		a = new_a(1);
		b = new_b(TRUE);
		exchange(a, b, order, &r);
		ok(secret_is(&r, NULL) && !uses(a) && !uses(b) &&
		   flags_of(r.init) == QKD_WIRE_F_NO_KEY &&
		   flags_of(r.resp) == QKD_WIRE_F_NO_KEY,
		   "prefer/prefer, pool empty (%s order): both X25519 alone (%zu "
		   "bytes)", order == ORDER_CHILD ? "child" : "IKE", r.si.len);
		a->destroy(a);
		b->destroy(b);
		run_free(&r);
	}

	/* --- prefer initiator without key, require responder: refused */
	stub_reset();
	configure("prefer", "require", "no");
	a = new_a(1);
	b = new_b(TRUE);
	exchange(a, b, ORDER_CHILD, &r);
	ok(r.init_ok && !r.secret_r_ok && !r.resp_ok,
	   "prefer initiator without key, require responder: responder refuses");
	a->destroy(a);
	b->destroy(b);
	run_free(&r);

	/* --- ID unavailable on the responder */
	stub_reset();
	configure("prefer", "prefer", "no");
	add_key(0x14, 0x11, 32, 0, 0);
	a = new_a(1);
	b = new_b(TRUE);
	exchange(a, b, ORDER_CHILD, &r);
	ok(secret_is(&r, NULL) && flags_of(r.resp) == QKD_WIRE_F_UNAVAILABLE &&
	   links_[0].takes == 1 && links_[1].takes == 0 && !uses(a),
	   "prefer/prefer, ID unavailable on responder: both X25519 alone");
	a->destroy(a);
	ok(strstr(links_[0].last_usage, "unused: peer could not get the key") !=
	   NULL, "ID unavailable: initiator's key annotated unused (%s)",
	   links_[0].last_usage);
	b->destroy(b);
	run_free(&r);

	stub_reset();
	configure("prefer", "require", "no");
	add_key(0x15, 0x11, 32, 0, 0);
	a = new_a(1);
	b = new_b(TRUE);
	exchange(a, b, ORDER_CHILD, &r);
	ok(r.init_ok && !r.secret_r_ok && !r.resp_ok,
	   "require responder, ID unavailable: refuses");
	a->destroy(a);
	b->destroy(b);
	run_free(&r);

	stub_reset();
	configure("require", "prefer", "no");
	add_key(0x16, 0x11, 32, 0, 0);
	a = new_a(1);
	b = new_b(TRUE);
	exchange(a, b, ORDER_CHILD, &r);
	ok(r.init_ok && flags_of(r.init) == QKD_WIRE_F_REQUIRE && !r.secret_r_ok &&
	   !r.resp_ok, "peer REQUIRE flag: prefer responder without the ID "
	   "refuses instead of answering UNAVAILABLE");
	a->destroy(a);
	b->destroy(b);
	run_free(&r);

	/* --- RESP rewritten to UNAVAILABLE (downgrade) */
	for (order = 0; order < 3; order++)
	{
		struct qkd_wire_msg m;
		uint8_t buf[QKD_WIRE_RESP_LEN];
		bool flagged = order == 0, sticky = order == 2;

		stub_reset();
		configure("prefer", flagged ? "require" : "prefer",
				  sticky ? "yes" : "no");
		if (sticky)
		{
			qkd_ke_sa_used_qkd(7);
		}
		add_key(0x17, 0x22, 32, 0, 1);
		a = new_a(sticky ? 7 : 1);
		b = new_b(TRUE);
		memset(&r, 0, sizeof(r));
		r.init_ok = a->get_public_key(a, &r.init);
		r.set_r_ok = b->set_public_key(b, r.init);
		r.resp_ok = b->get_public_key(b, &r.resp);
		if (r.resp_ok &&
			qkd_wire_parse(r.resp.ptr, r.resp.len, QKD_WIRE_RESP, &m) == 0)
		{	/* what an attacker on the path would send */
			m.flags = (m.flags & QKD_WIRE_F_REQUIRE) | QKD_WIRE_F_UNAVAILABLE;
			memset(m.tag, 0, sizeof(m.tag));
			qkd_wire_encode(&m, buf, sizeof(buf));
			r.set_i_ok = a->set_public_key(a, chunk_from_thing(buf));
			r.secret_i_ok = a->get_shared_secret(a, &r.si);
		}
		if (flagged)
		{
			ok(r.resp_ok && !r.secret_i_ok, "RESP of a require responder "
			   "rewritten to UNAVAILABLE (REQUIRE kept): prefer initiator "
			   "refuses");
		}
		else if (sticky)
		{
			ok(flags_of(r.init) == QKD_WIRE_F_REQUIRE && r.resp_ok &&
			   !r.secret_i_ok, "sticky link, IKE_SA already used QKD: INIT "
			   "says REQUIRE and a RESP rewritten to UNAVAILABLE is refused");
		}
		else
		{
			ok(r.resp_ok && r.secret_i_ok && r.si.len == 32,
			   "documented downgrade: prefer without sticky accepts a RESP "
			   "rewritten to UNAVAILABLE (X25519 alone)");
		}
		a->destroy(a);
		b->destroy(b);
		run_free(&r);
	}

	/* --- sticky: no fallback once the IKE_SA used QKD */
	stub_reset();
	configure("prefer", "prefer", "yes");
	qkd_ke_sa_used_qkd(9);
	a = new_a(9);
	ok(!a->get_public_key(a, &c1), "sticky, IKE_SA used QKD, pool empty: "
	   "refused");
	a->destroy(a);
	a = new_a(10);
	ok(a->get_public_key(a, &c1) && flags_of(c1) == QKD_WIRE_F_NO_KEY,
	   "sticky, other IKE_SA that never used QKD: falls back");
	chunk_free(&c1);
	a->destroy(a);
	qkd_ke_sa_gone(9);
	ok(!qkd_ke_sa_has_used_qkd(9), "sticky state forgotten with the IKE_SA");

	/* --- deferred take: set_public_key alone takes nothing */
	stub_reset();
	configure("require", "require", "no");
	add_key(0x18, 0x33, 32, 0, 1);
	a = new_a(1);
	b = new_b(TRUE);
	ok(a->get_public_key(a, &c1) && b->set_public_key(b, c1) &&
	   links_[1].takes == 0, "responder: set_public_key does not take the "
	   "key (before proposal/config selection)");
	b->destroy(b);
	ok(links_[1].takes == 0 && links_[1].nresp == 1, "responder destroyed "
	   "without answering: key still in the pool");
	chunk_free(&c1);
	a->destroy(a);

	/* --- retries with the same initiator object (finding: IKE_SA_INIT
	 *     restarted by strongSwan) */
	stub_reset();
	configure("require", "require", "no");
	add_key(0x21, 0x44, 32, 0, 1);
	add_key(0x22, 0x55, 48, 0, 1);
	k1 = links_[0].init[0];
	k2 = links_[0].init[1];
	a = new_a(1);
	ok(a->get_public_key(a, &c1) && a->get_public_key(a, &c2) &&
	   chunk_equals(c1, c2) && links_[0].takes == 1, "COOKIE: INIT repeated "
	   "before any RESP is identical, one key taken");
	chunk_free(&c1);
	chunk_free(&c2);
	b = new_b(TRUE);
	exchange(a, b, ORDER_IKE, &r);
	ok(secret_is(&r, &k1), "first attempt keyed with key 0x21");
	b2 = new_b(TRUE);
	exchange(a, b2, ORDER_IKE, &r2);
	ok(r2.init_ok && !chunk_equals(r.init, r2.init) &&
	   r2.init.ptr[4] == 0x22 && memcmp(r.init.ptr + 20, r2.init.ptr + 20, 32),
	   "retry after a completed exchange: new INIT with a fresh key ID and a "
	   "fresh X25519 value");
	ok(secret_is(&r2, &k2) && links_[0].takes == 2 && links_[1].takes == 2,
	   "retry: second attempt succeeds with the second key (%zu bytes)",
	   r2.si.len);
	a->destroy(a);
	b->destroy(b);
	b2->destroy(b2);
	run_free(&r);
	run_free(&r2);

	/* retry after a failure: require with an empty pool, then a key */
	stub_reset();
	configure("require", "require", "no");
	a = new_a(1);
	ok(!a->get_public_key(a, &c1), "require, empty pool: first attempt "
	   "refused");
	add_key(0x23, 0x66, 32, 0, 1);
	k1 = links_[0].init[0];
	b = new_b(TRUE);
	exchange(a, b, ORDER_CHILD, &r);
	ok(secret_is(&r, &k1), "retry after the failure takes the new key");
	a->destroy(a);
	b->destroy(b);
	run_free(&r);

	/* retry after a confirmation failure: the old key is annotated */
	stub_reset();
	configure("require", "require", "no");
	add_key(0x24, 0x10, 32, 1, 1);
	add_key(0x25, 0x20, 32, 0, 1);
	k2 = links_[0].init[1];
	a = new_a(1);
	b = new_b(TRUE);
	exchange(a, b, ORDER_CHILD, &r);
	b2 = new_b(TRUE);
	exchange(a, b2, ORDER_CHILD, &r2);
	ok(!r.secret_i_ok && secret_is(&r2, &k2) &&
	   strstr(links_[0].last_usage, "confirmation failed"),
	   "retry after a confirmation failure: old key annotated unused, new "
	   "key used");
	a->destroy(a);
	b->destroy(b);
	b2->destroy(b2);
	run_free(&r);
	run_free(&r2);

	/* --- at most max_waiting_takes (2) responder takes wait per link */
	{
		struct waiter w[3];
		pthread_t t[3];
		int i, n, waited = 0;

		stub_reset();
		configure("prefer", "prefer", "no");
		links_[1].block = 1;
		for (i = 0; i < 3; i++)
		{
			add_key(0x30 + i, 0x40, 32, 0, 0);
			memset(&w[i], 0, sizeof(w[i]));
		}
		a = new_a(1);
		for (i = 0; i < 3; i++)
		{
			chunk_t init;

			w[i].r = new_b(TRUE);
			if (!a->get_public_key(a, &init) ||
				!w[i].r->set_public_key(w[i].r, init))
			{
				printf("# setting up waiter %d failed\n", i);
			}
			chunk_free(&init);
			/* new INIT for each: pretend the exchange failed */
			a->destroy(a);
			a = new_a(1);
		}
		for (i = 0; i < 2; i++)
		{
			pthread_create(&t[i], NULL, wait_thread, &w[i]);
		}
		for (n = 0; n < 5000 && links_[1].blocked < 2; n++)
		{
			usleep(1000);
		}
		pthread_create(&t[2], NULL, wait_thread, &w[2]);
		for (n = 0; n < 5000 && !w[2].done; n++)
		{
			usleep(1000);
		}
		ok(links_[1].blocked == 2 && w[2].done && w[2].ok &&
		   links_[1].last_wait == 0, "two takes wait on the link; a third "
		   "does not wait (wait_ms 0) and falls back at once");
		links_[1].release = 1;
		for (i = 0; i < 3; i++)
		{
			pthread_join(t[i], NULL);
			waited += w[i].ok;
			chunk_clear(&w[i].s);
			w[i].r->destroy(w[i].r);
		}
		ok(waited == 3, "the waiting takes finish when released");
		a->destroy(a);
	}

	/* --- protocol v2: peers that did not announce the plugin */
	{
		char *pol[] = { "prefer", "require" };
		u_int refused;
		int i;

		for (i = 0; i < 2; i++)
		{
			stub_reset();
			configure(pol[i], pol[i], "no");
			add_key(0x41, 0x11, 32, 0, 1);
			announce_b = -1;
			refused = qkd_counter(QKD_CNT_REFUSED);
			a = new_a(41);
			ok(!a->get_public_key(a, &c1) && links_[0].takes == 0 &&
			   links_[0].ninit == 1 &&
			   qkd_counter(QKD_CNT_REFUSED) == refused + 1,
			   "%s, peer did not announce: the initiator sends no qkd KE "
			   "data and takes no key (refusals counted)", pol[i]);
			a->destroy(a);
			announce_b = QKD_ANNOUNCE_F_LINK;

			/* a v1 initiator: it sends an ID, b must not take it */
			stub_reset();
			configure(pol[i], pol[i], "no");
			add_key(0x42, 0x11, 32, 0, 1);
			a = new_a(42);
			announce_a = -1;
			b = new_b(TRUE);
			exchange(a, b, ORDER_CHILD, &r);
			if (i == 0)
			{
				ok(secret_is(&r, NULL) && links_[1].takes == 0 &&
				   links_[1].nresp == 1 &&
				   flags_of(r.resp) == QKD_WIRE_F_UNAVAILABLE && !uses(b),
				   "prefer, initiator did not announce (v1): the responder "
				   "takes no key, answers UNAVAILABLE, both X25519 alone");
			}
			else
			{
				ok(r.init_ok && !r.secret_r_ok && !r.resp_ok &&
				   links_[1].takes == 0 && links_[1].nresp == 1,
				   "require, initiator did not announce (v1): the responder "
				   "refuses and takes no key");
			}
			announce_a = QKD_ANNOUNCE_F_LINK;
			a->destroy(a);
			b->destroy(b);
			run_free(&r);
		}

		/* v1 prefer initiator without key (NO_KEY): answered as before */
		stub_reset();
		configure("prefer", "prefer", "no");
		a = new_a(43);
		announce_a = -1;
		b = new_b(TRUE);
		exchange(a, b, ORDER_CHILD, &r);
		ok(secret_is(&r, NULL) && flags_of(r.resp) == QKD_WIRE_F_NO_KEY,
		   "prefer, v1 initiator without a key: X25519 alone");
		announce_a = QKD_ANNOUNCE_F_LINK;
		a->destroy(a);
		b->destroy(b);
		run_free(&r);

		/* announced, but no link for us: no key taken */
		stub_reset();
		configure("prefer", "prefer", "no");
		add_key(0x44, 0x11, 32, 0, 1);
		announce_b = 0;
		a = new_a(44);
		b = new_b(TRUE);
		exchange(a, b, ORDER_CHILD, &r);
		ok(secret_is(&r, NULL) && flags_of(r.init) == QKD_WIRE_F_NO_KEY &&
		   links_[0].takes == 0 && links_[1].takes == 0,
		   "prefer, peer announced no link for us: NO_KEY, no key taken "
		   "on either side");
		a->destroy(a);
		b->destroy(b);
		run_free(&r);
		configure("require", "prefer", "no");
		a = new_a(44);
		ok(!a->get_public_key(a, &c1) && links_[0].takes == 0,
		   "require, peer announced no link for us: refused, no key taken");
		a->destroy(a);
		announce_b = QKD_ANNOUNCE_F_LINK;

		/* a peer that announced require in IKE_AUTH: the KE object goes by
		 * our own policy and the REQUIRE flag of the peer's current KE data
		 * (policies can change with a reload; narrow() honours the
		 * announcement for CHILD_SAs without the method) */
		stub_reset();
		configure("prefer", "require", "no");
		announce_b = QKD_ANNOUNCE_F_LINK | QKD_ANNOUNCE_F_REQUIRE;
		a = new_a(45);
		b = new_b(TRUE);
		exchange(a, b, ORDER_CHILD, &r);
		ok(r.init_ok && flags_of(r.init) == QKD_WIRE_F_NO_KEY && !r.resp_ok,
		   "prefer, peer announced require, pool empty: NO_KEY (own policy), "
		   "the require responder refuses it");
		a->destroy(a);
		b->destroy(b);
		run_free(&r);
		configure("prefer", "prefer", "no");
		a = new_a(45);
		b = new_b(TRUE);
		exchange(a, b, ORDER_CHILD, &r);
		ok(secret_is(&r, NULL) && flags_of(r.resp) == QKD_WIRE_F_NO_KEY,
		   "the peer switched to prefer after IKE_AUTH (stale announcement): "
		   "its current KE data decides, X25519 alone");
		announce_b = QKD_ANNOUNCE_F_LINK;
		a->destroy(a);
		b->destroy(b);
		run_free(&r);

		/* IKE_SA_INIT (not authenticated): no QKD material at all */
		for (i = 0; i < 2; i++)
		{
			stub_reset();
			configure(pol[i], pol[i], "no");
			add_key(0x46, 0x11, 32, 0, 1);
			qkd_ke_test_set_peer(id_any, host_b, 46);
			a = &qkd_ke_create(QKD_KE_METHOD)->ke;
			b = new_b(FALSE);
			exchange(a, b, ORDER_IKE, &r);
			ok(secret_is(&r, NULL) && flags_of(r.init) == QKD_WIRE_F_NO_KEY &&
			   flags_of(r.resp) == QKD_WIRE_F_NO_KEY &&
			   links_[0].takes == 0 && links_[1].takes == 0 &&
			   !memchr(r.init.ptr + 4, 1, 16),
			   "IKE_SA_INIT, %s: X25519 alone, no key taken, no key ID and no "
			   "REQUIRE flag on the wire", pol[i]);
			a->destroy(a);
			b->destroy(b);
			run_free(&r);

			/* a v1 initiator sends an ID in IKE_SA_INIT */
			a = new_a(46);
			b = new_b(FALSE);
			exchange(a, b, ORDER_IKE, &r);
			if (i == 0)
			{
				ok(links_[1].takes == 0 && links_[1].nresp == 1 &&
				   flags_of(r.resp) == QKD_WIRE_F_UNAVAILABLE &&
				   !links_[1].last_wait && secret_is(&r, NULL),
				   "IKE_SA_INIT with a key ID (v1, prefer): the responder "
				   "takes nothing, asks the module nothing, UNAVAILABLE");
			}
			else
			{
				ok(!r.resp_ok && links_[1].takes == 0 && !links_[1].last_wait,
				   "IKE_SA_INIT with a key ID and REQUIRE (v1, require): "
				   "refused, nothing taken");
			}
			a->destroy(a);
			b->destroy(b);
			run_free(&r);
		}

		/* rekeyed IKE_SA: the new one inherits the announcement */
		qkd_peer_gone(47);
		qkd_peer_gone(48);
		qkd_peer_set_announced(47, 2, QKD_ANNOUNCE_F_LINK);
		qkd_peer_used_qkd(47);
		qkd_peer_rekeyed(47, 48);
		{
			uint8_t v = 0, f = 0;

			ok(qkd_peer_get_announced(48, &v, &f) && v == 2 &&
			   f == QKD_ANNOUNCE_F_LINK && qkd_peer_has_used_qkd(48),
			   "IKE_SA rekey: announcement and sticky carried over");
			qkd_peer_gone(47);
			ok(!qkd_peer_get_announced(47, &v, &f) &&
			   qkd_peer_get_announced(48, &v, &f),
			   "the old IKE_SA forgotten, the new one kept");
			qkd_peer_gone(48);
		}
	}

	/* --- per-CHILD_SA policy bound by the listener (qkd_ke_bind_child) */
	{
		bool ba, bb;
		u_int refused;

		stub_reset();
		configure("prefer", "prefer", "no");
		refused = qkd_counter(QKD_CNT_REFUSED);
		child_exchange(QKD_POLICY_REQUIRE, QKD_POLICY_PREFER, &r, &ba, &bb);
		ok(ba && !r.init_ok && qkd_counter(QKD_CNT_REFUSED) == refused + 1,
		   "links prefer, CHILD_SA bound require, no key: the initiator "
		   "refuses before sending anything, counted");
		run_free(&r);
		child_exchange(QKD_POLICY_PREFER, QKD_POLICY_PREFER, &r, &ba, &bb);
		ok(ba && bb && secret_is(&r, NULL) &&
		   flags_of(r.init) == QKD_WIRE_F_NO_KEY,
		   "bound prefer, no key: X25519 alone, no REQUIRE flag");
		run_free(&r);
		configure("require", "require", "no");
		child_exchange(QKD_POLICY_PREFER, QKD_POLICY_PREFER, &r, &ba, &bb);
		ok(ba && bb && secret_is(&r, NULL),
		   "links require, both CHILD_SAs bound prefer: falls back");
		run_free(&r);
		child_exchange(QKD_POLICY_PREFER, QKD_POLICY_REQUIRE, &r, &ba, &bb);
		ok(r.init_ok && bb && !r.secret_r_ok,
		   "initiator prefer without a key, responder's CHILD_SA bound "
		   "require: the responder refuses");
		run_free(&r);
		add_key(0x51, 0x33, 32, 0, 0);
		child_exchange(QKD_POLICY_REQUIRE, QKD_POLICY_PREFER, &r, &ba, &bb);
		ok(r.init_ok && flags_of(r.init) == QKD_WIRE_F_REQUIRE &&
		   !r.secret_r_ok, "initiator's CHILD_SA require (REQUIRE flag), the "
		   "responder prefer but without the key: refuses (honours the "
		   "flag)");
		run_free(&r);
		stub_reset();
		add_key(0x52, 0x44, 32, 0, 1);
		k1 = links_[0].init[0];
		child_exchange(QKD_POLICY_REQUIRE, QKD_POLICY_PREFER, &r, &ba, &bb);
		ok(secret_is(&r, &k1), "with a key: X25519 || QKD key whatever "
		   "the bound policies");
		run_free(&r);
		configure("prefer", "prefer", "no");
		a = new_a(6);
		b = new_a(6);
		ok(qkd_ke_bind_child(6, QKD_POLICY_REQUIRE, FALSE, "newest") &&
		   a->get_public_key(a, &c1) && !b->get_public_key(b, &c2),
		   "the newest undecided object of the IKE_SA is bound");
		chunk_free(&c1);
		ok(!qkd_ke_bind_child(6, QKD_POLICY_REQUIRE, FALSE, "x"),
		   "decided or bound objects are not bound again");
		a->destroy(a);
		b->destroy(b);
		a = new_a(7);
		qkd_ke_unbind_pending(7);
		ok(!qkd_ke_bind_child(7, QKD_POLICY_PREFER, FALSE, "x"),
		   "after unbind_pending (next message) nothing is bound");
		a->destroy(a);
		a = new_a(8);
		a->destroy(a);
		ok(!qkd_ke_bind_child(8, QKD_POLICY_PREFER, FALSE, "x"),
		   "a destroyed object is never bound");
	}

	/* --- unchecked casts: qkd_ke_is */
	{
		key_exchange_t *x = lib->crypto->create_ke(lib->crypto, CURVE_25519);

		a = new_a(1);
		ok(qkd_ke_is(a) && !qkd_ke_is(x) && !qkd_ke_is(NULL),
		   "qkd_ke_is tells our objects from others");
		a->destroy(a);
		DESTROY_IF(x);
	}

	test_next_ids();

	qkd_ke_set_links(NULL);
	links->destroy(links);
	id_a->destroy(id_a);
	id_b->destroy(id_b);
	id_any->destroy(id_any);
	host_a->destroy(host_a);
	host_b->destroy(host_b);
	libcharon_deinit();
	library_deinit();
	return tap_done();
}
