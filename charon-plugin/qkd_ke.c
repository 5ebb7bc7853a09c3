/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hybrid X25519 + QKD key exchange (see qkd_ke.h and qkd_wire.h).
 *
 * The role is learned from the call order: the initiator calls
 * get_public_key() first, the responder set_public_key().
 */
#include "qkd_ke.h"
#include "qkd_keysrc.h"
#include "qkd_method.h"
#include "qkd_wire.h"

#include <errno.h>

#include <daemon.h>
#include <library.h>
#include <utils/debug.h>

typedef struct private_qkd_ke_t private_qkd_ke_t;

typedef enum {
	ROLE_UNKNOWN,
	ROLE_INITIATOR,
	ROLE_RESPONDER,
} role_t;

struct private_qkd_ke_t {

	/** public interface */
	qkd_ke_t public;

	/** the classical half */
	key_exchange_t *x25519;

	/** our role in this exchange */
	role_t role;

	/** link to the peer, if one matched */
	qkd_link_info_t link;
	bool have_link;

	/** policy in effect (the link's, or the default without a link) */
	qkd_policy_t policy;

	/** IKE_SA and peer, for the log */
	char peer[160];

	/** QKD key we took, if any */
	struct qkd_key key;
	bool have_key;

	/** our and the peer's messages */
	struct qkd_wire_msg init, resp;
	uint8_t init_buf[QKD_WIRE_INIT_LEN];
	uint8_t resp_buf[QKD_WIRE_RESP_LEN];
	bool init_done, resp_done;

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

/** counters */
static refcount_t stat_taken_init, stat_taken_resp, stat_fallback,
				  stat_refused, stat_confirm_fail;

void qkd_ke_set_links(qkd_links_t *l)
{
	links = l;
}

void qkd_ke_log_stats()
{
	DBG1(DBG_IKE, "qkd: keys taken as initiator %u, as responder %u, "
		 "X25519-only fallbacks %u, refused %u, confirmation failures %u",
		 stat_taken_init, stat_taken_resp, stat_fallback, stat_refused,
		 stat_confirm_fail);
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
		default:
			return strerror(-err);
	}
}

static void log_fallback(private_qkd_ke_t *this, const char *why)
{
	u_int n = ref_get(&stat_fallback);

	DBG1(DBG_IKE, "qkd: WARNING: %s for %s: policy prefer, falling back to "
		 "X25519 alone (fallback #%u)", why, this->peer, n);
}

static void log_refuse(private_qkd_ke_t *this, const char *why)
{
	ref_get(&stat_refused);
	DBG1(DBG_IKE, "qkd: %s for %s: policy require, refusing the key exchange",
		 why, this->peer);
}

/**
 * Compute the key confirmation tag over init and resp
 */
static bool compute_tag(private_qkd_ke_t *this, struct qkd_wire_msg *resp,
						uint8_t tag[QKD_WIRE_TAG_LEN])
{
	uint8_t transcript[QKD_WIRE_TRANSCRIPT_LEN];
	uint8_t mac[HASH_SIZE_SHA256];
	prf_t *prf;
	bool ok = FALSE;

	if (qkd_wire_transcript(&this->init, resp, transcript,
							sizeof(transcript)) != sizeof(transcript))
	{
		return FALSE;
	}
	prf = lib->crypto->create_prf(lib->crypto, PRF_HMAC_SHA2_256);
	if (prf)
	{
		ok = prf->set_key(prf, chunk_create(this->key.material,
											this->key.len)) &&
			 prf->get_bytes(prf, chunk_from_thing(transcript), mac);
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
	memwipe(mac, sizeof(mac));
	return ok;
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
 * Initiator: take a key and build the INIT message
 */
static bool build_init(private_qkd_ke_t *this)
{
	char err[QKD_KEYSRC_ERR_LEN] = "", idstr[37], why[256];
	int ret = -ENODEV;

	memset(&this->init, 0, sizeof(this->init));
	this->init.type = QKD_WIRE_INIT;
	if (this->policy == QKD_POLICY_REQUIRE)
	{
		this->init.flags |= QKD_WIRE_F_REQUIRE;
	}
	if (this->have_link)
	{
		ret = qkd_keysrc_take(this->link.link, NULL, 0, &this->key, err);
	}
	if (ret == 0)
	{
		this->have_key = TRUE;
		ref_get(&stat_taken_init);
		memcpy(this->init.id, this->key.id, QKD_WIRE_ID_LEN);
		qkd_wire_id_str(this->key.id, idstr);
		DBG1(DBG_IKE, "qkd: took key %s (%zu bytes) from link '%s' for %s",
			 idstr, this->key.len, this->link.link, this->peer);
	}
	else
	{
		if (this->have_link)
		{
			snprintf(why, sizeof(why), "no QKD key from link '%s': %s%s%s",
					 this->link.link, take_error(ret), err[0] ? ": " : "", err);
		}
		else
		{
			snprintf(why, sizeof(why), "no QKD link configured");
		}
		if (this->policy == QKD_POLICY_REQUIRE)
		{
			log_refuse(this, why);
			this->failed = TRUE;
			return FALSE;
		}
		log_fallback(this, why);
		this->init.flags |= QKD_WIRE_F_NO_KEY;
	}
	if (!get_x25519(this, this->init.x25519) ||
		qkd_wire_encode(&this->init, this->init_buf,
						sizeof(this->init_buf)) != QKD_WIRE_INIT_LEN)
	{
		DBG1(DBG_IKE, "qkd: building KE data failed");
		this->failed = TRUE;
		return FALSE;
	}
	this->init_done = TRUE;
	return TRUE;
}

/**
 * Responder: process the INIT message, take the key, build RESP
 */
static bool process_init(private_qkd_ke_t *this, chunk_t value)
{
	char err[QKD_KEYSRC_ERR_LEN] = "", idstr[37], why[256];
	int ret;

	ret = qkd_wire_parse(value.ptr, value.len, QKD_WIRE_INIT, &this->init);
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
	memset(&this->resp, 0, sizeof(this->resp));
	this->resp.type = QKD_WIRE_RESP;
	memcpy(this->resp.id, this->init.id, QKD_WIRE_ID_LEN);
	if (this->policy == QKD_POLICY_REQUIRE)
	{
		this->resp.flags |= QKD_WIRE_F_REQUIRE;
	}

	if (this->init.flags & QKD_WIRE_F_NO_KEY)
	{
		if (this->policy == QKD_POLICY_REQUIRE)
		{
			log_refuse(this, "peer sent no QKD key ID (it had no key)");
			return FALSE;
		}
		log_fallback(this, "peer sent no QKD key ID (it had no key)");
		this->resp.flags |= QKD_WIRE_F_NO_KEY;
	}
	else
	{
		qkd_wire_id_str(this->init.id, idstr);
		ret = -ENODEV;
		if (this->have_link)
		{
			ret = qkd_keysrc_take(this->link.link, this->init.id,
								  this->link.wait_ms, &this->key, err);
		}
		if (ret == 0)
		{
			this->have_key = TRUE;
			ref_get(&stat_taken_resp);
			DBG1(DBG_IKE, "qkd: took key %s (%zu bytes) by ID from link '%s' "
				 "for %s", idstr, this->key.len, this->link.link, this->peer);
		}
		else
		{
			if (this->have_link)
			{
				snprintf(why, sizeof(why), "could not get QKD key %s from "
						 "link '%s' (waited up to %u ms): %s%s%s", idstr,
						 this->link.link, this->link.wait_ms, take_error(ret),
						 err[0] ? ": " : "", err);
			}
			else
			{
				snprintf(why, sizeof(why), "no QKD link configured (peer "
						 "sent key ID %s)", idstr);
			}
			if (this->policy == QKD_POLICY_REQUIRE)
			{
				log_refuse(this, why);
				return FALSE;
			}
			log_fallback(this, why);
			this->resp.flags |= QKD_WIRE_F_UNAVAILABLE;
		}
	}
	if (!get_x25519(this, this->resp.x25519))
	{
		DBG1(DBG_IKE, "qkd: X25519 failed");
		return FALSE;
	}
	if (qkd_wire_uses_key(&this->resp) &&
		!compute_tag(this, &this->resp, this->resp.tag))
	{
		return FALSE;
	}
	if (qkd_wire_encode(&this->resp, this->resp_buf,
						sizeof(this->resp_buf)) != QKD_WIRE_RESP_LEN)
	{
		DBG1(DBG_IKE, "qkd: building KE data failed");
		return FALSE;
	}
	this->use_key = qkd_wire_uses_key(&this->resp);
	this->resp_done = TRUE;
	return TRUE;
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
	if (qkd_wire_uses_key(&this->resp))
	{
		if (!this->have_key || !compute_tag(this, &this->resp, tag))
		{
			this->failed = TRUE;
			return TRUE;
		}
		if (!memeq_const(tag, this->resp.tag, QKD_WIRE_TAG_LEN))
		{
			ref_get(&stat_confirm_fail);
			DBG1(DBG_IKE, "qkd: key confirmation FAILED for key %s on link "
				 "'%s' with %s: the peers hold different keys for this ID; "
				 "the exchange fails, existing SAs stay",
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
	else if (this->resp.flags & QKD_WIRE_F_UNAVAILABLE)
	{
		char why[128];

		snprintf(why, sizeof(why), "peer could not get QKD key %s", idstr);
		this->unused = "peer could not get the key";
		if (this->policy == QKD_POLICY_REQUIRE)
		{
			log_refuse(this, why);
			this->failed = TRUE;
		}
		else
		{
			log_fallback(this, why);
		}
	}
	return TRUE;
}

METHOD(key_exchange_t, get_public_key, bool,
	private_qkd_ke_t *this, chunk_t *value)
{
	switch (this->role)
	{
		case ROLE_UNKNOWN:
			this->role = ROLE_INITIATOR;
			if (!build_init(this))
			{
				return FALSE;
			}
			/* fall-through */
		case ROLE_INITIATOR:
			if (!this->init_done)
			{
				return FALSE;
			}
			*value = chunk_clone(chunk_from_thing(this->init_buf));
			return TRUE;
		case ROLE_RESPONDER:
			if (!this->resp_done)
			{
				return FALSE;
			}
			*value = chunk_clone(chunk_from_thing(this->resp_buf));
			return TRUE;
	}
	return FALSE;
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
	if (this->role == ROLE_INITIATOR ? !this->resp.type : !this->resp_done)
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

static void do_annotate(private_qkd_ke_t *this, uint32_t *spis, int count,
						char *usage)
{
	char err[QKD_KEYSRC_ERR_LEN] = "", idstr[37];
	int ret;

	this->annotated = TRUE;
	qkd_wire_id_str(this->key.id, idstr);
	ret = qkd_keysrc_annotate(this->link.link, this->key.id, spis, count,
							  usage, err);
	if (ret)
	{
		DBG1(DBG_IKE, "qkd: annotating the audit record of key %s on link "
			 "'%s' failed: %s%s%s", idstr, this->link.link, strerror(-ret),
			 err[0] ? ": " : "", err);
	}
	else
	{
		DBG2(DBG_IKE, "qkd: audit record of key %s: %s", idstr, usage);
	}
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
	return this->use_key;
}

METHOD(key_exchange_t, destroy, void,
	private_qkd_ke_t *this)
{
	if (this->have_key && !this->annotated)
	{	/* the key left the module but keyed nothing: say so in the audit */
		char usage[64];

		snprintf(usage, sizeof(usage), "unused: %s",
				 this->unused ?: (this->failed ? "exchange failed"
											   : "exchange not completed"));
		do_annotate(this, NULL, 0, usage);
	}
	qkd_key_wipe(&this->key);
	memwipe(&this->init, sizeof(this->init));
	memwipe(&this->resp, sizeof(this->resp));
	DESTROY_IF(this->x25519);
	free(this);
}

/*
 * Described in header
 */
qkd_ke_t *qkd_ke_create(key_exchange_method_t method, ...)
{
	private_qkd_ke_t *this;
	ike_sa_t *ike_sa;
	identification_t *id = NULL;
	host_t *host = NULL;
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
	ike_sa = charon->bus->get_sa(charon->bus);
	if (ike_sa)
	{
		id = ike_sa->get_other_id(ike_sa);
		host = ike_sa->get_other_host(ike_sa);
		snprintf(this->peer, sizeof(this->peer), "%s[%u] (%H, %Y)",
				 ike_sa->get_name(ike_sa), ike_sa->get_unique_id(ike_sa),
				 host, id);
	}
	else
	{
		snprintf(this->peer, sizeof(this->peer), "unknown peer");
	}
	if (links)
	{
		this->have_link = links->lookup(links, id, host, &this->link);
		this->policy = this->have_link ? this->link.policy
									   : links->get_default_policy(links);
	}
	if (this->have_link)
	{
		DBG2(DBG_IKE, "qkd: %s uses link '%s' (module link '%s', matched by "
			 "%s, policy %N)", this->peer, this->link.section, this->link.link,
			 this->link.by_id ? "identity" : "address", qkd_policy_names,
			 this->policy);
	}
	else
	{
		DBG1(DBG_IKE, "qkd: no link configured for %s (policy %N)",
			 this->peer, qkd_policy_names, this->policy);
	}
	return &this->public;
}
