/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hybrid X25519 + QKD key exchange (see qkd_ke.h and qkd_wire.h).
 *
 * The role is learned from the call order: the initiator calls
 * get_public_key() first, the responder set_public_key().
 *
 * The responder only parses the INIT in set_public_key() (CREATE_CHILD_SA
 * calls it before a child config and a proposal are selected); it takes the
 * QKD key on the first get_shared_secret() or get_public_key(), i.e. only
 * once strongSwan answers with this method.  In IKE_SA_INIT (peer not
 * authenticated) it never waits for a key: it takes it only if the module
 * already holds it.
 *
 * strongSwan reuses the initiator's object when it restarts IKE_SA_INIT
 * (COOKIE, INVALID_KE_PAYLOAD, redirect, migrate): a get_public_key() after
 * the RESP was processed, after a failure, or on another IKE_SA starts a
 * new attempt with a fresh QKD key and a fresh X25519 value; a repeated
 * call before any RESP (COOKIE) returns the same INIT.
 */
#include "qkd_ke.h"
#include "qkd_keysrc.h"
#include "qkd_method.h"
#include "qkd_peer.h"
#include "qkd_wire.h"

#include <errno.h>
#include <pthread.h>

#include <daemon.h>
#include <library.h>
#include <collections/hashtable.h>
#include <processing/jobs/callback_job.h>
#include <utils/debug.h>

typedef struct private_qkd_ke_t private_qkd_ke_t;

typedef enum {
	ROLE_UNKNOWN,
	ROLE_INITIATOR,
	ROLE_RESPONDER,
} role_t;

/** label of the key confirmation key derivation (key separation) */
#define TAG_KEY_LABEL "qkd-ipsec confirm v1"

/** default of charon.plugins.qkd.max_waiting_takes (per link) */
#define DEFAULT_MAX_WAITING 2

struct private_qkd_ke_t {

	/** public interface */
	qkd_ke_t public;

	/** the classical half */
	key_exchange_t *x25519;

	/** our role in this exchange */
	role_t role;

	/** the peer: link, policy in effect, announcement (qkd_peer.h) */
	qkd_peer_view_t view;

	/** link to the peer, if one matched (copy of view.link) */
	qkd_link_info_t link;
	bool have_link;

	/** policy in effect (the link's, or the default without a link; require
	 * if the link is sticky and the IKE_SA already used QKD, or if the peer
	 * announced require) */
	qkd_policy_t policy;

	/** the policy is require because of sticky */
	bool sticky_now;

	/** IKE_SA and peer (and the CHILD_SA once bound), for the log */
	char peer[352];

	/** bound to the CHILD_SA it keys (qkd_ke_bind_child()): its policy
	 * (child rule, link or default, with sticky) replaces the link's */
	bool bound;
	qkd_policy_t child_policy;
	bool child_sticky;
	char child[192];

	/** unique ID of the IKE_SA (0: unknown) */
	uint32_t ike_sa_uid;

	/** the peer's identity is known (authenticated), not only its address */
	bool peer_known;

	/** the peer knows the method: it announced the plugin, or the IKE_SA
	 * was negotiated with it in IKE_SA_INIT */
	bool speaks_qkd;

	/** number of attempts with this object (initiator) */
	u_int attempt;

	/** QKD key we took, if any */
	struct qkd_key key;
	bool have_key;

	/** our and the peer's messages */
	struct qkd_wire_msg init, resp;
	uint8_t init_buf[QKD_WIRE_INIT_LEN_NEXT];
	uint8_t resp_buf[QKD_WIRE_RESP_LEN_NEXT];
	size_t init_len, resp_len;
	bool init_done, resp_done;

	/** responder: INIT parsed, RESP still to build */
	bool init_received;

	/** both sides mix the QKD key into the secret */
	bool use_key;

	/** exchange failed (policy, confirmation): no shared secret */
	bool failed;

	/** the shared secret was handed out */
	bool derived;

	/** audit record got its SPIs */
	bool annotated;

	/** why the taken key was not used (for the audit record) */
	const char *unused;
};

/** link configuration */
static qkd_links_t *links;

/** protects the table below */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;

/** responder takes currently waiting in the module, per link */
#define MAX_WAIT_SLOTS 64
static struct {
	char link[32];
	u_int waiting;
} wait_slots[MAX_WAIT_SLOTS];

/** objects not bound to a CHILD_SA yet (private_qkd_ke_t), newest last;
 * protected by state_lock */
static linked_list_t *unbound;

/** peer of new objects without a daemon (unit tests only) */
static struct {
	identification_t *id;
	host_t *host;
	uint32_t uid;
} test_peer;

void qkd_ke_set_links(qkd_links_t *l)
{
	pthread_mutex_lock(&state_lock);
	links = l;
	pthread_mutex_unlock(&state_lock);
	if (!l)
	{
		qkd_peer_flush();
	}
}

void qkd_ke_test_set_peer(identification_t *id, host_t *host, uint32_t uid)
{
	test_peer.id = id;
	test_peer.host = host;
	test_peer.uid = uid;
}

/**
 * The policy of the CHILD_SA this object keys, once bound (also after
 * capture_peer() ran again for a new attempt)
 */
static void apply_binding(private_qkd_ke_t *this)
{
	size_t len;

	if (!this->bound)
	{
		return;
	}
	this->policy = this->child_policy;
	this->sticky_now = this->child_sticky;
	if (!this->child[0])
	{	/* the link has no child rules: the lines stay as they were */
		return;
	}
	len = strlen(this->peer);
	snprintf(this->peer + len, sizeof(this->peer) - len, ", %s",
			 this->child);
}

static void unbound_add(private_qkd_ke_t *this)
{
	pthread_mutex_lock(&state_lock);
	if (!unbound)
	{
		unbound = linked_list_create();
	}
	unbound->insert_last(unbound, this);
	pthread_mutex_unlock(&state_lock);
}

static void unbound_remove(private_qkd_ke_t *this)
{
	pthread_mutex_lock(&state_lock);
	if (unbound)
	{
		unbound->remove(unbound, this, NULL);
		if (!unbound->get_count(unbound))
		{
			unbound->destroy(unbound);
			unbound = NULL;
		}
	}
	pthread_mutex_unlock(&state_lock);
}

/**
 * Whether the object has made no policy decision yet: an initiator before
 * its INIT, a responder before its take
 */
static bool undecided(private_qkd_ke_t *this)
{
	return !this->failed && (this->role == ROLE_UNKNOWN ||
		(this->role == ROLE_RESPONDER && this->init_received &&
		 !this->resp_done));
}

bool qkd_ke_bind_child(uint32_t uid, qkd_policy_t policy, bool sticky,
					   const char *what)
{
	enumerator_t *enumerator;
	private_qkd_ke_t *this, *found = NULL;

	pthread_mutex_lock(&state_lock);
	if (unbound && uid)
	{
		enumerator = unbound->create_enumerator(unbound);
		while (enumerator->enumerate(enumerator, &this))
		{
			if (this->ike_sa_uid == uid && undecided(this))
			{	/* the newest one wins */
				found = this;
			}
		}
		enumerator->destroy(enumerator);
		if (found)
		{
			unbound->remove(unbound, found, NULL);
		}
	}
	pthread_mutex_unlock(&state_lock);
	if (!found)
	{
		return FALSE;
	}
	found->bound = TRUE;
	found->child_policy = policy;
	found->child_sticky = sticky;
	snprintf(found->child, sizeof(found->child), "%s", what);
	apply_binding(found);
	DBG2(DBG_IKE, "qkd: key exchange for %s: policy %N", found->peer,
		 qkd_policy_names, found->policy);
	return TRUE;
}

void qkd_ke_unbind_pending(uint32_t uid)
{
	enumerator_t *enumerator;
	private_qkd_ke_t *this;

	pthread_mutex_lock(&state_lock);
	if (unbound)
	{
		enumerator = unbound->create_enumerator(unbound);
		while (enumerator->enumerate(enumerator, &this))
		{
			if (this->ike_sa_uid == uid)
			{
				unbound->remove_at(unbound, enumerator);
			}
		}
		enumerator->destroy(enumerator);
	}
	pthread_mutex_unlock(&state_lock);
}

void qkd_ke_log_stats(void)
{
	qkd_log_counters();
}

void qkd_ke_sa_used_qkd(uint32_t uid)
{
	qkd_peer_used_qkd(uid);
}

void qkd_ke_sa_gone(uint32_t uid)
{
	qkd_peer_gone(uid);
}

bool qkd_ke_sa_has_used_qkd(uint32_t uid)
{
	return qkd_peer_has_used_qkd(uid);
}

/**
 * Reserve a waiting slot of a link: FALSE if max_waiting_takes takes of
 * that link already wait in the module
 */
static bool wait_slot_get(const char *link)
{
	int max, i, free_slot = -1;
	bool ok = FALSE;

	max = lib->settings->get_int(lib->settings,
				"%s.plugins.qkd.max_waiting_takes", DEFAULT_MAX_WAITING, lib->ns);
	if (max <= 0)
	{
		return FALSE;
	}
	pthread_mutex_lock(&state_lock);
	for (i = 0; i < MAX_WAIT_SLOTS; i++)
	{
		if (wait_slots[i].waiting && streq(wait_slots[i].link, link))
		{
			if (wait_slots[i].waiting < (u_int)max)
			{
				wait_slots[i].waiting++;
				ok = TRUE;
			}
			free_slot = -2;
			break;
		}
		if (!wait_slots[i].waiting && free_slot == -1)
		{
			free_slot = i;
		}
	}
	if (free_slot >= 0)
	{
		snprintf(wait_slots[free_slot].link, sizeof(wait_slots[free_slot].link),
				 "%s", link);
		wait_slots[free_slot].waiting = 1;
		ok = TRUE;
	}
	pthread_mutex_unlock(&state_lock);
	return ok;
}

static void wait_slot_put(const char *link)
{
	int i;

	pthread_mutex_lock(&state_lock);
	for (i = 0; i < MAX_WAIT_SLOTS; i++)
	{
		if (wait_slots[i].waiting && streq(wait_slots[i].link, link))
		{
			wait_slots[i].waiting--;
			break;
		}
	}
	pthread_mutex_unlock(&state_lock);
}

/**
 * Text for a key source error
 */
static const char *take_error(int err)
{
	switch (-err)
	{
		case ENODEV:
			return "no such link in the module";
		case ENOENT:
			return "no key (pool empty or ID not held)";
		case EBUSY:
			return "rate limited";
		case ETIMEDOUT:
			return "key of that ID did not arrive in time";
		case ENOPROTOOPT:
			return "qkd kernel module not loaded";
		case EPERM:
			return "permission denied (CAP_NET_ADMIN)";
		case EAGAIN:
			return "no reply from the module in time (a key it handed out "
				   "meanwhile is lost)";
		default:
			return strerror(-err);
	}
}

static void log_fallback(private_qkd_ke_t *this, const char *why)
{
	u_int n = qkd_count(QKD_CNT_FALLBACK);

	DBG1(DBG_IKE, "qkd: WARNING: %s for %s: policy prefer, falling back to "
		 "X25519 alone (fallback #%u; not quantum-safe, and an attacker who "
		 "can break the classical key exchange can cause this)", why,
		 this->peer, n);
}

static void log_refuse(private_qkd_ke_t *this, const char *why)
{
	qkd_count(QKD_CNT_REFUSED);
	DBG1(DBG_IKE, "qkd: %s for %s: policy require%s, refusing the key "
		 "exchange", why, this->peer, this->sticky_now ?
		 " (sticky: this IKE_SA already used QKD)" : "");
}

/**
 * Fall back (prefer) or refuse (require, sticky, or the peer requires QKD).
 * Returns TRUE for a fallback.
 */
static bool fallback_allowed(private_qkd_ke_t *this, const char *why,
							 bool peer_requires)
{
	char buf[300];

	if (this->policy == QKD_POLICY_REQUIRE)
	{
		log_refuse(this, why);
		return FALSE;
	}
	if (peer_requires)
	{
		snprintf(buf, sizeof(buf), "%s, and the peer requires QKD (REQUIRE "
				 "flag)", why);
		qkd_count(QKD_CNT_REFUSED);
		DBG1(DBG_IKE, "qkd: %s for %s: refusing the key exchange", buf,
			 this->peer);
		return FALSE;
	}
	log_fallback(this, why);
	return TRUE;
}

/**
 * HMAC-SHA256(HMAC-SHA256(K, TAG_KEY_LABEL), transcript), truncated
 */
static bool tag_over(private_qkd_ke_t *this, uint8_t *transcript, size_t tlen,
					 uint8_t tag[QKD_WIRE_TAG_LEN])
{
	uint8_t tkey[HASH_SIZE_SHA256], mac[HASH_SIZE_SHA256];
	prf_t *prf;
	bool ok = FALSE;

	if (!tlen)
	{
		return FALSE;
	}
	prf = lib->crypto->create_prf(lib->crypto, PRF_HMAC_SHA2_256);
	if (prf)
	{
		ok = prf->set_key(prf, chunk_create(this->key.material,
											this->key.len)) &&
			 prf->get_bytes(prf, chunk_from_str(TAG_KEY_LABEL), tkey) &&
			 prf->set_key(prf, chunk_from_thing(tkey)) &&
			 prf->get_bytes(prf, chunk_create(transcript, tlen), mac);
		prf->destroy(prf);
	}
	if (ok)
	{
		memcpy(tag, mac, QKD_WIRE_TAG_LEN);
	}
	else
	{
		DBG1(DBG_IKE, "qkd: HMAC-SHA256 not available");
	}
	memwipe(tkey, sizeof(tkey));
	memwipe(mac, sizeof(mac));
	return ok;
}

/**
 * Compute the responder's key confirmation tag over init and resp
 */
static bool compute_tag(private_qkd_ke_t *this, struct qkd_wire_msg *resp,
						uint8_t tag[QKD_WIRE_TAG_LEN])
{
	uint8_t transcript[QKD_WIRE_TRANSCRIPT_MAX];

	return tag_over(this, transcript, qkd_wire_transcript(&this->init, resp,
					transcript, sizeof(transcript)), tag);
}

/**
 * Compute the initiator's key confirmation tag over init (version 2)
 */
static bool compute_init_tag(private_qkd_ke_t *this,
							 uint8_t tag[QKD_WIRE_TAG_LEN])
{
	uint8_t transcript[QKD_WIRE_TRANSCRIPT_INIT_LEN];

	return tag_over(this, transcript, qkd_wire_init_transcript(&this->init,
					transcript, sizeof(transcript)), tag);
}

/**
 * Get our X25519 public value into the message
 */
static bool get_x25519(private_qkd_ke_t *this, uint8_t out[QKD_WIRE_X25519_LEN])
{
	chunk_t pub;

	if (!this->x25519->get_public_key(this->x25519, &pub))
	{
		return FALSE;
	}
	if (pub.len != QKD_WIRE_X25519_LEN)
	{
		chunk_free(&pub);
		return FALSE;
	}
	memcpy(out, pub.ptr, pub.len);
	chunk_free(&pub);
	return TRUE;
}

/**
 * Learn the peer and its link from the current IKE_SA
 */
static void capture_peer(private_qkd_ke_t *this, ike_sa_t *ike_sa)
{
	identification_t *id = test_peer.id;
	host_t *host = test_peer.host;
	bool authenticated;

	this->ike_sa_uid = test_peer.uid;
	if (ike_sa)
	{
		id = ike_sa->get_other_id(ike_sa);
		host = ike_sa->get_other_host(ike_sa);
		this->ike_sa_uid = ike_sa->get_unique_id(ike_sa);
		snprintf(this->peer, sizeof(this->peer), "%s[%u] (%H, %Y)",
				 ike_sa->get_name(ike_sa), ike_sa->get_unique_id(ike_sa),
				 host, id);
	}
	else if (id || host)
	{
		snprintf(this->peer, sizeof(this->peer), "test[%u] (%H, %Y)",
				 this->ike_sa_uid, host, id);
	}
	else
	{
		snprintf(this->peer, sizeof(this->peer), "unknown peer");
	}
	this->peer_known = id && id->get_type(id) != ID_ANY;
	/* CREATE_CHILD_SA (and IKE rekeys) run on an authenticated IKE_SA, whose
	 * peer announced the plugin in IKE_AUTH or not; IKE_SA_INIT does not */
	authenticated = ike_sa ? ike_sa->has_condition(ike_sa, COND_AUTHENTICATED)
						   : this->peer_known;
	qkd_peer_view(links, id, host, this->ike_sa_uid, authenticated,
				  &this->view);
	this->speaks_qkd = this->view.announced;
	if (ike_sa && ike_sa->get_proposal(ike_sa))
	{
		proposal_t *proposal = ike_sa->get_proposal(ike_sa);
		uint16_t alg;

		this->speaks_qkd = this->speaks_qkd ||
			(proposal->get_algorithm(proposal, KEY_EXCHANGE_METHOD, &alg,
									 NULL) && alg == QKD_KE_METHOD);
	}
	this->have_link = this->view.have_link;
	this->link = this->view.link;
	/* the peer's current policy comes with its KE data (REQUIRE flag) */
	this->policy = this->view.own_policy;
	this->sticky_now = this->view.sticky_now;
	apply_binding(this);
	if (this->have_link)
	{
		DBG2(DBG_IKE, "qkd: %s uses link '%s' (module link '%s', matched by "
			 "%s, policy %N%s%s)", this->peer, this->link.section,
			 this->link.link, this->link.by_id ? "identity" : "address",
			 qkd_policy_names, this->policy,
			 this->sticky_now ? ", sticky: IKE_SA already used QKD" : "",
			 this->view.peer_requires ? ", the peer announced require in "
			 "IKE_AUTH" : "");
	}
	else
	{
		DBG1(DBG_IKE, "qkd: no link configured for %s (policy %N)",
			 this->peer, qkd_policy_names, this->policy);
	}
}

static ike_sa_t *current_sa(void)
{
	if (charon && charon->bus)
	{
		return charon->bus->get_sa(charon->bus);
	}
	return NULL;
}

/**
 * An audit annotation on its way to the module: a key ID, SPIs and text,
 * no key material
 */
typedef struct {
	char link[32];
	uint8_t id[QKD_KEYSRC_ID_LEN];
	uint32_t spis[2];
	int count;
	char usage[128];
} annotation_t;

static job_requeue_t annotate_now(annotation_t *a)
{
	char err[QKD_KEYSRC_ERR_LEN] = "", idstr[37];
	int ret;

	qkd_wire_id_str(a->id, idstr);
	ret = qkd_keysrc_annotate(a->link, a->id, a->count ? a->spis : NULL,
							  a->count, a->usage, err);
	if (ret)
	{
		DBG1(DBG_IKE, "qkd: annotating the audit record of key %s on link "
			 "'%s' failed: %s%s%s", idstr, a->link, strerror(-ret),
			 err[0] ? ": " : "", err);
	}
	else
	{
		DBG2(DBG_IKE, "qkd: audit record of key %s: %s", idstr, a->usage);
	}
	return JOB_REQUEUE_NONE;
}

/**
 * Write what a key keyed into its audit record.  The module round trip is
 * handed to one of charon's workers, so that the bus hook (and the thread
 * that holds the IKE_SA) does not wait for it; without workers (the unit
 * tests) it is made here.
 */
static void do_annotate(private_qkd_ke_t *this, uint32_t *spis, int count,
						char *usage)
{
	annotation_t *a;

	this->annotated = TRUE;
	INIT(a,
		.count = count < 0 ? 0 : (count > 2 ? 2 : count),
	);
	snprintf(a->link, sizeof(a->link), "%s", this->link.link);
	memcpy(a->id, this->key.id, sizeof(a->id));
	if (a->count)
	{
		memcpy(a->spis, spis, a->count * sizeof(a->spis[0]));
	}
	snprintf(a->usage, sizeof(a->usage), "%s", usage ?: "");
	if (lib->processor &&
		lib->processor->get_total_threads(lib->processor) > 0)
	{
		lib->processor->queue_job(lib->processor, (job_t*)
			callback_job_create((callback_job_cb_t)annotate_now, a,
								(callback_job_cleanup_t)free, NULL));
		return;
	}
	annotate_now(a);
	free(a);
}

/**
 * Say in the audit record why a taken key keyed nothing, then wipe it
 */
static void drop_key(private_qkd_ke_t *this, const char *dflt)
{
	if (this->have_key && !this->annotated)
	{
		char usage[64];

		snprintf(usage, sizeof(usage), "unused: %s",
				 this->unused ?: (this->failed ? "exchange failed" : dflt));
		do_annotate(this, NULL, 0, usage);
	}
	qkd_keysrc_wipe(&this->key);
	this->have_key = FALSE;
}

/**
 * Initiator: start over (IKE_SA_INIT retried with the same object)
 */
static bool new_attempt(private_qkd_ke_t *this, ike_sa_t *ike_sa)
{
	key_exchange_t *x25519;

	drop_key(this, "superseded by a new attempt");
	x25519 = lib->crypto->create_ke(lib->crypto, CURVE_25519);
	if (!x25519)
	{
		DBG1(DBG_IKE, "qkd: X25519 not available");
		return FALSE;
	}
	this->x25519->destroy(this->x25519);
	this->x25519 = x25519;
	memwipe(&this->init, sizeof(this->init));
	memwipe(&this->resp, sizeof(this->resp));
	memwipe(this->init_buf, sizeof(this->init_buf));
	memwipe(this->resp_buf, sizeof(this->resp_buf));
	this->init_len = this->resp_len = 0;
	this->init_done = this->resp_done = this->init_received = FALSE;
	this->use_key = this->failed = this->derived = this->annotated = FALSE;
	this->unused = NULL;
	if (ike_sa)
	{
		capture_peer(this, ike_sa);
	}
	DBG1(DBG_IKE, "qkd: new key exchange attempt #%u for %s (the exchange "
		 "is restarted): taking a fresh QKD key", this->attempt + 1,
		 this->peer);
	return TRUE;
}

/**
 * The KE data version of an exchange: 2 (next key IDs) once the IKE_SA is
 * authenticated and both announced protocol v3 or later
 */
static uint8_t wire_version(private_qkd_ke_t *this)
{
	if (this->view.authenticated && this->view.announced &&
		this->view.version >= QKD_PROTO_NEXT_ID)
	{
		return QKD_WIRE_VERSION_NEXT;
	}
	return QKD_WIRE_VERSION;
}

/**
 * Whether this exchange announces and asks for next key IDs
 */
static bool next_ids(private_qkd_ke_t *this)
{
	return wire_version(this) == QKD_WIRE_VERSION_NEXT && this->have_link &&
		   this->view.usable && this->ike_sa_uid;
}

/**
 * Announce our next key ID in next: the IKE_SA's reservation, or a new one
 * (all zero if the link has no unreserved initiator key)
 */
static void announce_next(private_qkd_ke_t *this, uint8_t next[QKD_WIRE_ID_LEN])
{
	char err[QKD_KEYSRC_ERR_LEN] = "", idstr[37];
	uint8_t mine[QKD_WIRE_ID_LEN];
	bool replaced;
	int ret;

	memset(next, 0, QKD_WIRE_ID_LEN);
	if (!next_ids(this) ||
		qkd_peer_get_reserved(this->ike_sa_uid, this->link.link, next))
	{	/* none, or the one reserved before (announced again) */
		return;
	}
	ret = qkd_keysrc_reserve(this->link.link, mine, err);
	if (ret)
	{
		DBG1(DBG_IKE, "qkd: no key of link '%s' reserved for the next "
			 "exchange with %s (announcing none): %s%s%s", this->link.link,
			 this->peer, take_error(ret), err[0] ? ": " : "", err);
		return;
	}
	memcpy(next, mine, QKD_WIRE_ID_LEN);
	if (!qkd_peer_set_reserved(this->ike_sa_uid, this->link.link, next,
							   &replaced))
	{	/* another exchange of the IKE_SA reserved one meanwhile */
		ret = qkd_keysrc_release(this->link.link, mine, err);
		if (ret == 0)
		{
			qkd_count(QKD_CNT_RESERVE_RELEASED);
		}
		if (!replaced)
		{
			memset(next, 0, QKD_WIRE_ID_LEN);
		}
		return;
	}
	qkd_count(QKD_CNT_RESERVED);
	qkd_wire_id_str(next, idstr);
	DBG1(DBG_IKE, "qkd: reserved key %s of link '%s' for the next exchange "
		 "we initiate with %s (announced to it)", idstr, this->link.link,
		 this->peer);
}

/**
 * Ask the module for the responder key the peer announced for its next
 * exchange (once per ID), so that take does not wait for the KME
 */
static void want_next(private_qkd_ke_t *this,
					  const uint8_t next[QKD_WIRE_ID_LEN])
{
	char err[QKD_KEYSRC_ERR_LEN] = "", idstr[37];
	uint8_t zero[QKD_WIRE_ID_LEN] = {};
	int ret;

	if (!next_ids(this) || memeq(next, zero, QKD_WIRE_ID_LEN) ||
		!qkd_peer_note_peer_next(this->ike_sa_uid, next))
	{
		return;
	}
	qkd_count(QKD_CNT_WANTED);
	qkd_wire_id_str(next, idstr);
	ret = qkd_keysrc_want(this->link.link, next, err);
	if (ret == 0)
	{
		DBG1(DBG_IKE, "qkd: %s announced key %s for its next exchange: "
			 "already held on link '%s'", this->peer, idstr, this->link.link);
	}
	else
	{
		DBG1(DBG_IKE, "qkd: %s announced key %s for its next exchange: not "
			 "held on link '%s' yet (%s%s%s)", this->peer, idstr,
			 this->link.link, take_error(ret), err[0] ? ": " : "", err);
	}
}

/**
 * Initiator: the key reserved and announced for this exchange, or (none,
 * or it is gone) the oldest unreserved one
 */
static int init_take(private_qkd_ke_t *this, char err[QKD_KEYSRC_ERR_LEN])
{
	uint8_t rid[QKD_WIRE_ID_LEN];
	char idstr[37];
	int ret;

	if (next_ids(this) &&
		qkd_peer_claim_reserved(this->ike_sa_uid, this->link.link, rid))
	{
		qkd_wire_id_str(rid, idstr);
		ret = qkd_keysrc_take(this->link.link, rid, 0, QKD_KEYSRC_INITIATOR,
							  &this->key, err);
		if (ret == 0)
		{
			qkd_count(QKD_CNT_RESERVED_TAKEN);
			DBG1(DBG_IKE, "qkd: taking key %s, the one announced to %s",
				 idstr, this->peer);
			return 0;
		}
		qkd_count(QKD_CNT_RESERVED_GONE);
		DBG1(DBG_IKE, "qkd: key %s announced to %s is gone from link '%s' "
			 "(%s%s%s): taking the oldest key instead", idstr, this->peer,
			 this->link.link, take_error(ret), err[0] ? ": " : "", err);
		err[0] = '\0';
	}
	return qkd_keysrc_take(this->link.link, NULL, 0, 0, &this->key, err);
}

/**
 * Initiator: take a QKD key for the INIT, or fall back (FALSE: refused)
 */
static bool init_key(private_qkd_ke_t *this)
{
	char err[QKD_KEYSRC_ERR_LEN] = "", idstr[37], why[256];
	int ret = -ENODEV;

	if (!this->view.announced)
	{	/* it negotiated the method in IKE_SA_INIT (a v1 build): X25519
		 * alone under prefer, no key for it */
		ret = -ENOLINK;
	}
	else if (this->have_link && this->view.usable)
	{
		ret = init_take(this, err);
	}
	else if (this->have_link)
	{	/* the peer has no link for us: it could not fetch the key */
		ret = -ENOLINK;
	}
	if (ret == 0)
	{
		this->have_key = TRUE;
		qkd_count(QKD_CNT_TAKEN_INIT);
		memcpy(this->init.id, this->key.id, QKD_WIRE_ID_LEN);
		qkd_wire_id_str(this->key.id, idstr);
		DBG1(DBG_IKE, "qkd: took key %s (%zu bytes) from link '%s' for %s",
			 idstr, this->key.len, this->link.link, this->peer);
		return TRUE;
	}
	if (ret == -ENOLINK)
	{
		snprintf(why, sizeof(why), "%s (no QKD key taken)",
				 qkd_peer_why_not(&this->view));
	}
	else if (this->have_link)
	{
		snprintf(why, sizeof(why), "no QKD key from link '%s': %s%s%s",
				 this->link.link, take_error(ret), err[0] ? ": " : "", err);
	}
	else
	{
		snprintf(why, sizeof(why), "no QKD link configured");
	}
	if (!fallback_allowed(this, why, FALSE))
	{
		return FALSE;
	}
	this->init.flags |= QKD_WIRE_F_NO_KEY;
	return TRUE;
}

/**
 * Initiator: take a key and build the INIT message
 */
static bool build_init(private_qkd_ke_t *this)
{
	this->attempt++;
	memset(&this->init, 0, sizeof(this->init));
	this->init.type = QKD_WIRE_INIT;
	this->init.version = wire_version(this);
	if (!this->view.authenticated)
	{	/* IKE_SA_INIT: no QKD key, no key ID, no flag before the peer is
		 * authenticated (an on-path attacker could spend the key, make the
		 * agent fetch IDs and silently downgrade a prefer exchange) */
		DBG1(DBG_IKE, "qkd: IKE_SA_INIT with %s: the qkd method carries "
			 "X25519 alone (no QKD key before the peer is authenticated; the "
			 "IKE_SA gets one when it is rekeyed, see rekey_first_ike)",
			 this->peer);
		this->init.flags = QKD_WIRE_F_NO_KEY;
		goto encode;
	}
	if (this->policy == QKD_POLICY_REQUIRE)
	{
		this->init.flags |= QKD_WIRE_F_REQUIRE;
	}
	if (!this->view.announced && !this->speaks_qkd)
	{	/* never send the method to a peer that may not know it (libreswan
		 * answers INVALID_SYNTAX and the IKE_SA is lost), and take no key */
		qkd_count(QKD_CNT_REFUSED);
		DBG1(DBG_IKE, "qkd: %s: %s; not sending the qkd method to it and "
			 "taking no QKD key (policy %N); for a new CHILD_SA with such a "
			 "peer list a classical proposal first", this->peer,
			 qkd_peer_why_not(&this->view), qkd_policy_names, this->policy);
		this->failed = TRUE;
		return FALSE;
	}
	if (!init_key(this))
	{
		this->failed = TRUE;
		return FALSE;
	}
	announce_next(this, this->init.next_id);
encode:
	if (!get_x25519(this, this->init.x25519) ||
		(this->init.version == QKD_WIRE_VERSION_NEXT && this->have_key &&
		 !compute_init_tag(this, this->init.tag)) ||
		!(this->init_len = qkd_wire_encode(&this->init, this->init_buf,
										   sizeof(this->init_buf))))
	{
		DBG1(DBG_IKE, "qkd: building KE data failed");
		this->failed = TRUE;
		return FALSE;
	}
	this->init_done = TRUE;
	return TRUE;
}

/**
 * Responder: parse the INIT message (no key is taken here)
 */
static bool process_init(private_qkd_ke_t *this, chunk_t value)
{
	int ret;

	ret = qkd_wire_parse(value.ptr, value.len, QKD_WIRE_INIT, &this->init);
	if (ret == QKD_WIRE_OK && this->init.version != wire_version(this))
	{	/* the announcements fixed the version: no other one is accepted */
		memwipe(&this->init, sizeof(this->init));
		ret = QKD_WIRE_E_VERSION;
	}
	if (ret != QKD_WIRE_OK)
	{
		DBG1(DBG_IKE, "qkd: invalid KE data (%zu bytes) from %s: %s",
			 value.len, this->peer, qkd_wire_strerror(ret));
		return FALSE;
	}
	if (!this->x25519->set_public_key(this->x25519,
						chunk_from_thing(this->init.x25519)))
	{
		DBG1(DBG_IKE, "qkd: invalid X25519 value from %s", this->peer);
		return FALSE;
	}
	this->init_received = TRUE;
	return TRUE;
}

/**
 * Responder: take the key of the INIT's ID and build RESP (once)
 */
/* IKE_SA_INIT: never a key for an unauthenticated peer */
static bool resp_unauthenticated(private_qkd_ke_t *this, bool peer_requires)
{
	if (peer_requires)
	{	/* a v1 build with policy require */
		qkd_count(QKD_CNT_REFUSED);
		DBG1(DBG_IKE, "qkd: IKE_SA_INIT from %s requires QKD (REQUIRE "
			 "flag, a protocol v1 build): no QKD key before the peer is "
			 "authenticated, refusing the key exchange", this->peer);
		return FALSE;
	}
	this->resp.flags |= (this->init.flags & QKD_WIRE_F_NO_KEY) ?
						QKD_WIRE_F_NO_KEY : QKD_WIRE_F_UNAVAILABLE;
	DBG1(DBG_IKE, "qkd: IKE_SA_INIT with %s: the qkd method carries "
		 "X25519 alone (no QKD key before the peer is authenticated)",
		 this->peer);
	return TRUE;
}

/* the initiator sent no key ID (it had no key) */
static bool resp_no_key(private_qkd_ke_t *this, bool peer_requires)
{
	if (peer_requires)
	{	/* a require initiator refuses instead of sending no key */
		qkd_count(QKD_CNT_REFUSED);
		DBG1(DBG_IKE, "qkd: peer %s sent no QKD key ID but claims to "
			 "require QKD, refusing the key exchange", this->peer);
		return FALSE;
	}
	if (!fallback_allowed(this, "peer sent no QKD key ID (it had no key)",
						  FALSE))
	{
		return FALSE;
	}
	this->resp.flags |= QKD_WIRE_F_NO_KEY;
	return TRUE;
}

/*
 * Take the initiator's key by ID from our link: 0 or -errno, the time we
 * were allowed to wait in *wait_ms.  An unauthenticated peer (IKE_SA_INIT)
 * must not make us wait, nor make our agent ask the KME for IDs of its
 * choice (QUIET), and only a few takes per link may wait at a time.
 */
static int resp_take(private_qkd_ke_t *this, const char *idstr,
					 uint32_t *wait_ms, char err[QKD_KEYSRC_ERR_LEN])
{
	bool waiting = FALSE;
	int ret;

	*wait_ms = 0;
	if (this->view.authenticated && !this->view.announced)
	{	/* a v1 build of this project: no key for a peer that did not
		 * announce the plugin (prefer: X25519 alone, require: refused) */
		return -ENOLINK;
	}
	if (!this->have_link)
	{
		return -ENODEV;
	}
	if (this->peer_known && this->link.wait_ms)
	{
		waiting = wait_slot_get(this->link.link);
		if (waiting)
		{
			*wait_ms = this->link.wait_ms;
		}
		else
		{
			DBG1(DBG_IKE, "qkd: too many takes waiting on link '%s', "
				 "not waiting for key %s", this->link.link, idstr);
		}
	}
	ret = qkd_keysrc_take(this->link.link, this->init.id, *wait_ms,
						  this->peer_known ? 0 : QKD_KEYSRC_QUIET,
						  &this->key, err);
	if (waiting)
	{
		wait_slot_put(this->link.link);
	}
	return ret;
}

/* whether the INIT names the key the peer announced for it (counted) */
static void check_peer_next(private_qkd_ke_t *this, const char *idstr)
{
	switch (next_ids(this) ?
			qkd_peer_check_peer_next(this->ike_sa_uid, this->init.id) : 0)
	{
		case 1:
			qkd_count(QKD_CNT_PEER_NEXT_USED);
			DBG2(DBG_IKE, "qkd: %s uses key %s, the one it announced",
				 this->peer, idstr);
			break;
		case -1:
			qkd_count(QKD_CNT_PEER_NEXT_OTHER);
			DBG1(DBG_IKE, "qkd: %s uses key %s, not the one it announced "
				 "(its reserved key was gone, or exchanges crossed): taking "
				 "%s", this->peer, idstr, idstr);
			break;
		default:
			break;
	}
}

/* the initiator sent a key ID: take it, or fall back if allowed */
static bool resp_by_id(private_qkd_ke_t *this, bool peer_requires)
{
	char err[QKD_KEYSRC_ERR_LEN] = "", idstr[37], why[256];
	uint32_t wait_ms;
	int ret;

	qkd_wire_id_str(this->init.id, idstr);
	check_peer_next(this, idstr);
	ret = resp_take(this, idstr, &wait_ms, err);
	if (ret == 0)
	{
		this->have_key = TRUE;
		qkd_count(QKD_CNT_TAKEN_RESP);
		DBG1(DBG_IKE, "qkd: took key %s (%zu bytes) by ID from link '%s' "
			 "for %s", idstr, this->key.len, this->link.link, this->peer);
		return TRUE;
	}
	if (ret == -ENOLINK)
	{
		snprintf(why, sizeof(why), "%s: not taking QKD key %s",
				 qkd_peer_why_not(&this->view), idstr);
	}
	else if (this->have_link)
	{
		snprintf(why, sizeof(why), "could not get QKD key %s from "
				 "link '%s' (waited up to %u ms%s): %s%s%s", idstr,
				 this->link.link, wait_ms, this->peer_known ? "" :
				 ", peer not authenticated yet", take_error(ret),
				 err[0] ? ": " : "", err);
	}
	else
	{
		snprintf(why, sizeof(why), "no QKD link configured (peer "
				 "sent key ID %s)", idstr);
	}
	if (!fallback_allowed(this, why, peer_requires))
	{
		return FALSE;
	}
	this->resp.flags |= QKD_WIRE_F_UNAVAILABLE;
	return TRUE;
}

/*
 * Version 2: verify the initiator's key confirmation tag once we took the
 * key, before we accept the exchange.  A mismatch is never a fallback: the
 * exchange is refused (strongSwan answers NO_PROPOSAL_CHOSEN and installs
 * nothing), one alarm line names the key ID.
 */
static bool check_init_tag(private_qkd_ke_t *this)
{
	uint8_t tag[QKD_WIRE_TAG_LEN];
	char idstr[37];
	bool match;

	if (!this->have_key || this->init.version != QKD_WIRE_VERSION_NEXT)
	{	/* no key taken (fallback), or version 1: no initiator tag */
		return TRUE;
	}
	if (!compute_init_tag(this, tag))
	{
		return FALSE;
	}
	match = memeq_const(tag, this->init.tag, QKD_WIRE_TAG_LEN);
	memwipe(tag, sizeof(tag));
	qkd_wire_id_str(this->init.id, idstr);
	if (match)
	{
		DBG2(DBG_IKE, "qkd: initiator's key confirmation of key %s "
			 "succeeded", idstr);
		return TRUE;
	}
	qkd_count(QKD_CNT_CONFIRM_FAIL);
	DBG1(DBG_IKE, "qkd: ALARM: key confirmation FAILED for key %s on link "
		 "'%s' with %s (initiator's tag): the peers hold different keys for "
		 "this ID; refusing the exchange, nothing installed, existing SAs "
		 "stay", idstr, this->link.link, this->peer);
	this->unused = "confirmation failed";
	return FALSE;
}

static bool build_resp(private_qkd_ke_t *this)
{
	bool peer_requires, ok;

	if (this->resp_done)
	{
		return TRUE;
	}
	if (this->failed || !this->init_received)
	{
		return FALSE;
	}
	peer_requires = (this->init.flags & QKD_WIRE_F_REQUIRE) != 0;
	memset(&this->resp, 0, sizeof(this->resp));
	this->resp.type = QKD_WIRE_RESP;
	this->resp.version = this->init.version;
	memcpy(this->resp.id, this->init.id, QKD_WIRE_ID_LEN);
	if (this->policy == QKD_POLICY_REQUIRE && this->view.authenticated)
	{
		this->resp.flags |= QKD_WIRE_F_REQUIRE;
	}
	if (!this->view.authenticated)
	{
		ok = resp_unauthenticated(this, peer_requires);
	}
	else if (this->init.flags & QKD_WIRE_F_NO_KEY)
	{
		ok = resp_no_key(this, peer_requires);
	}
	else
	{
		ok = resp_by_id(this, peer_requires) && check_init_tag(this);
	}
	if (!ok || !get_x25519(this, this->resp.x25519))
	{
		if (ok)
		{
			DBG1(DBG_IKE, "qkd: X25519 failed");
		}
		goto failed;
	}
	if (this->resp.version == QKD_WIRE_VERSION_NEXT)
	{	/* the peer's next key fetched ahead; ours announced */
		want_next(this, this->init.next_id);
		announce_next(this, this->resp.next_id);
	}
	if (qkd_wire_uses_key(&this->resp) &&
		!compute_tag(this, &this->resp, this->resp.tag))
	{
		goto failed;
	}
	this->resp_len = qkd_wire_encode(&this->resp, this->resp_buf,
									 sizeof(this->resp_buf));
	if (!this->resp_len)
	{
		DBG1(DBG_IKE, "qkd: building KE data failed");
		goto failed;
	}
	this->use_key = qkd_wire_uses_key(&this->resp);
	this->resp_done = TRUE;
	return TRUE;

failed:
	this->failed = TRUE;
	return FALSE;
}

/**
 * Initiator: process the RESP message and verify the confirmation tag
 */
static bool process_resp(private_qkd_ke_t *this, chunk_t value)
{
	uint8_t tag[QKD_WIRE_TAG_LEN];
	char idstr[37];
	int ret;

	ret = qkd_wire_parse(value.ptr, value.len, QKD_WIRE_RESP, &this->resp);
	if (ret == QKD_WIRE_OK)
	{
		ret = qkd_wire_check_resp(&this->init, &this->resp);
	}
	if (ret != QKD_WIRE_OK)
	{
		DBG1(DBG_IKE, "qkd: invalid KE data (%zu bytes) from %s: %s",
			 value.len, this->peer, qkd_wire_strerror(ret));
		this->failed = TRUE;
		return FALSE;
	}
	if (!this->x25519->set_public_key(this->x25519,
						chunk_from_thing(this->resp.x25519)))
	{
		DBG1(DBG_IKE, "qkd: invalid X25519 value from %s", this->peer);
		this->failed = TRUE;
		return FALSE;
	}
	qkd_wire_id_str(this->init.id, idstr);
	if (this->resp.version == QKD_WIRE_VERSION_NEXT)
	{	/* the message is the authenticated IKE_SA's: fetch ahead */
		want_next(this, this->resp.next_id);
	}
	if (qkd_wire_uses_key(&this->resp))
	{
		if (!this->have_key || !compute_tag(this, &this->resp, tag))
		{
			this->failed = TRUE;
			return TRUE;
		}
		if (!memeq_const(tag, this->resp.tag, QKD_WIRE_TAG_LEN))
		{
			qkd_count(QKD_CNT_CONFIRM_FAIL);
			DBG1(DBG_IKE, "qkd: ALARM: key confirmation FAILED for key %s on "
				 "link '%s' with %s (responder's tag): the peers hold "
				 "different keys for this ID; the exchange fails, existing SAs "
				 "stay",
				 idstr, this->link.link, this->peer);
			this->unused = "confirmation failed";
			this->failed = TRUE;
		}
		else
		{
			DBG2(DBG_IKE, "qkd: key confirmation of key %s succeeded", idstr);
			this->use_key = TRUE;
		}
		memwipe(tag, sizeof(tag));
	}
	else if (this->resp.flags & QKD_WIRE_F_REQUIRE)
	{	/* a require responder refuses instead of answering without a key:
		 * the flags were changed on the way, or the peer is broken */
		qkd_count(QKD_CNT_REFUSED);
		DBG1(DBG_IKE, "qkd: %s answered key %s without a QKD key but claims "
			 "to require QKD, refusing the key exchange", this->peer, idstr);
		this->failed = TRUE;
	}
	else if (this->resp.flags & QKD_WIRE_F_UNAVAILABLE)
	{
		char why[128];

		snprintf(why, sizeof(why), "peer could not get QKD key %s", idstr);
		this->unused = "peer could not get the key";
		if (!fallback_allowed(this, why, FALSE))
		{
			this->failed = TRUE;
		}
	}
	/* else NO_KEY echoed: our own fallback was logged in build_init() */
	return TRUE;
}

METHOD(key_exchange_t, get_public_key, bool,
	private_qkd_ke_t *this, chunk_t *value)
{
	ike_sa_t *ike_sa;

	switch (this->role)
	{
		case ROLE_UNKNOWN:
			this->role = ROLE_INITIATOR;
			if (!build_init(this))
			{
				return FALSE;
			}
			break;
		case ROLE_INITIATOR:
			ike_sa = current_sa();
			if (this->failed || this->resp.type || !this->init_done ||
				(ike_sa && this->ike_sa_uid &&
				 ike_sa->get_unique_id(ike_sa) != this->ike_sa_uid))
			{	/* a restarted exchange: never reuse the key (ID) */
				if (!new_attempt(this, ike_sa) || !build_init(this))
				{
					return FALSE;
				}
			}
			break;
		case ROLE_RESPONDER:
			if (!build_resp(this))
			{
				return FALSE;
			}
			*value = chunk_clone(chunk_create(this->resp_buf,
											  this->resp_len));
			return TRUE;
	}
	*value = chunk_clone(chunk_create(this->init_buf, this->init_len));
	return TRUE;
}

METHOD(key_exchange_t, set_public_key, bool,
	private_qkd_ke_t *this, chunk_t value)
{
	/* lengths are checked by the strict parser */
	switch (this->role)
	{
		case ROLE_UNKNOWN:
			this->role = ROLE_RESPONDER;
			if (!process_init(this, value))
			{
				this->failed = TRUE;
				return FALSE;
			}
			return TRUE;
		case ROLE_INITIATOR:
			if (!this->init_done || this->resp.type)
			{	/* not sent yet, or already processed */
				this->failed = TRUE;
				return FALSE;
			}
			return process_resp(this, value);
		case ROLE_RESPONDER:
		default:
			this->failed = TRUE;
			return FALSE;
	}
}

METHOD(key_exchange_t, get_shared_secret, bool,
	private_qkd_ke_t *this, chunk_t *secret)
{
	chunk_t xs;

	if (this->failed)
	{
		return FALSE;
	}
	if (this->role == ROLE_RESPONDER)
	{
		if (!build_resp(this))
		{
			return FALSE;
		}
	}
	else if (this->role != ROLE_INITIATOR || !this->resp.type)
	{
		return FALSE;
	}
	if (!this->x25519->get_shared_secret(this->x25519, &xs))
	{
		DBG1(DBG_IKE, "qkd: X25519 shared secret failed");
		return FALSE;
	}
	if (this->use_key)
	{
		*secret = chunk_cat("sc", xs, chunk_create(this->key.material,
												   this->key.len));
	}
	else
	{
		*secret = xs;
	}
	if (!this->derived)
	{
		this->derived = TRUE;
		DBG2(DBG_IKE, "qkd: shared secret for %s: X25519%s", this->peer,
			 this->use_key ? " || QKD key" : " alone");
	}
	return TRUE;
}

METHOD(key_exchange_t, set_private_key, bool,
	private_qkd_ke_t *this, chunk_t value)
{
	return FALSE;
}

METHOD(key_exchange_t, get_method, key_exchange_method_t,
	private_qkd_ke_t *this)
{
	return QKD_KE_METHOD;
}

METHOD(qkd_ke_t, annotate, bool,
	private_qkd_ke_t *this, uint32_t *spis, int count, char *usage)
{
	if (!this->have_key || !this->use_key || this->annotated)
	{
		return FALSE;
	}
	do_annotate(this, spis, count, usage);
	return TRUE;
}

METHOD(qkd_ke_t, uses_qkd, bool,
	private_qkd_ke_t *this)
{
	return this->use_key && !this->failed;
}

METHOD(key_exchange_t, destroy, void,
	private_qkd_ke_t *this)
{
	unbound_remove(this);
	/* a key that left the module but keyed nothing: say so in the audit */
	drop_key(this, "exchange not completed");
	memwipe(&this->init, sizeof(this->init));
	memwipe(&this->resp, sizeof(this->resp));
	DESTROY_IF(this->x25519);
	free(this);
}

/*
 * Described in header
 */
bool qkd_ke_is(key_exchange_t *ke)
{
	return ke && ke->destroy == _destroy;
}

/*
 * Described in header
 */
qkd_ke_t *qkd_ke_create(key_exchange_method_t method, ...)
{
	private_qkd_ke_t *this;
	key_exchange_t *x25519;

	if (method != QKD_KE_METHOD)
	{
		return NULL;
	}
	x25519 = lib->crypto->create_ke(lib->crypto, CURVE_25519);
	if (!x25519)
	{
		DBG1(DBG_IKE, "qkd: X25519 not available");
		return NULL;
	}
	INIT(this,
		.public = {
			.ke = {
				.get_shared_secret = _get_shared_secret,
				.set_public_key = _set_public_key,
				.get_public_key = _get_public_key,
				.set_private_key = _set_private_key,
				.get_method = _get_method,
				.destroy = _destroy,
			},
			.annotate = _annotate,
			.uses_qkd = _uses_qkd,
		},
		.x25519 = x25519,
		.policy = QKD_POLICY_REQUIRE,
	);

	/* capture the peer now: during an IKE rekey the responder's current
	 * IKE_SA changes midway */
	capture_peer(this, current_sa());
	if (this->view.authenticated && this->ike_sa_uid)
	{	/* a CREATE_CHILD_SA exchange gets the CHILD_SA's policy from the
		 * listener's narrow hook (qkd_ke_bind_child()) */
		unbound_add(this);
	}
	return &this->public;
}
