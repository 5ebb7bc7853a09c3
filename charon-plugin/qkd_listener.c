/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bus listener of the qkd plugin (protocol v2, see docs/standards.md):
 *
 *  - message (plain): adds our announcement to every IKE_AUTH message we
 *    send and records the peer's (and refreshes it in the CREATE_CHILD_SA
 *    messages of a peer that announced); removes the qkd method from the
 *    proposals
 *    of CREATE_CHILD_SA requests to a peer that did not announce it; keeps
 *    only the qkd proposals of a peer's child rekey that sends a qkd KE
 *    payload, if the CHILD_SA's config allows qkd (no INVALID_KE round trip
 *    whatever order our proposals have);
 *  - child_updown (up) and child_rekey: writes the group the next rekey of
 *    the CHILD_SA must use into its proposal, which child_rekey.c reuses
 *    ("reuse the DH group negotiated previously"): qkd with a peer that
 *    announced a link, the first classical group of the config otherwise;
 *    optionally rekeys a new CHILD_SA at once to key it with QKD;
 *  - narrow: policy require vetoes every CHILD_SA that would be installed
 *    without the qkd method (the IKE_AUTH child included);
 *  - child_keys / ike_keys: audit annotation, sticky bookkeeping, the
 *    warning and counter for a CHILD_SA installed without a QKD key;
 *  - ike_rekey / ike_state_change: announcement and sticky follow IKE_SA
 *    rekeys and are forgotten with the IKE_SA.
 */
#include "qkd_listener.h"
#include "qkd_ke.h"
#include "qkd_method.h"
#include "qkd_peer.h"
#include "qkd_wire.h"

#include <inttypes.h>

#include <daemon.h>
#include <encoding/payloads/ke_payload.h>
#include <encoding/payloads/notify_payload.h>
#include <encoding/payloads/sa_payload.h>
#include <processing/jobs/rekey_child_sa_job.h>
#include <processing/jobs/rekey_ike_sa_job.h>

typedef struct private_qkd_listener_t private_qkd_listener_t;

struct private_qkd_listener_t {

	/** public interface */
	qkd_listener_t public;

	/** link configuration */
	qkd_links_t *links;

	/** rekey new CHILD_SAs not keyed with QKD at once */
	bool rekey_first_child;

	/** delay of that rekey */
	u_int rekey_delay_ms;

	/** rekey an IKE_SA at once after IKE_AUTH to key it with QKD */
	bool rekey_first_ike;
};

static qkd_ke_t *get_qkd(key_exchange_t *ke)
{
	if (qkd_ke_is(ke))
	{	/* checked by its destroy method, not only the method number */
		return (qkd_ke_t*)ke;
	}
	return NULL;
}

/**
 * The peer of an IKE_SA as the key exchange objects see it
 */
static void view_of(private_qkd_listener_t *this, ike_sa_t *ike_sa,
					qkd_peer_view_t *view)
{
	qkd_peer_view(this->links, ike_sa->get_other_id(ike_sa),
				  ike_sa->get_other_host(ike_sa),
				  ike_sa->get_unique_id(ike_sa),
				  ike_sa->has_condition(ike_sa, COND_AUTHENTICATED), view);
}

/**
 * The traffic selectors of a CHILD_SA (references, destroy the list only)
 */
static linked_list_t *child_ts(child_sa_t *child_sa, bool local)
{
	enumerator_t *enumerator;
	traffic_selector_t *ts;
	linked_list_t *list = linked_list_create();

	enumerator = child_sa->create_ts_enumerator(child_sa, local);
	while (enumerator->enumerate(enumerator, &ts))
	{
		list->insert_last(list, ts);
	}
	enumerator->destroy(enumerator);
	return list;
}

/**
 * The peer of an IKE_SA for one CHILD_SA: the link's child rules apply,
 * matched by its config name and traffic selectors (these lists, or the
 * CHILD_SA's own if NULL)
 */
static void child_view(private_qkd_listener_t *this, ike_sa_t *ike_sa,
					   child_sa_t *child_sa, linked_list_t *my_ts,
					   linked_list_t *other_ts, qkd_peer_view_t *view)
{
	linked_list_t *my = my_ts ?: child_ts(child_sa, TRUE);
	linked_list_t *other = other_ts ?: child_ts(child_sa, FALSE);

	qkd_peer_view_child(this->links, ike_sa->get_other_id(ike_sa),
						ike_sa->get_other_host(ike_sa),
						ike_sa->get_unique_id(ike_sa),
						ike_sa->has_condition(ike_sa, COND_AUTHENTICATED),
						child_sa->get_name(child_sa), my, other, view);
	if (!my_ts)
	{
		my->destroy(my);
	}
	if (!other_ts)
	{
		other->destroy(other);
	}
}

/**
 * "CHILD_SA name{id}, <what set its policy>" for logs
 */
static char *child_what(child_sa_t *child_sa, qkd_peer_view_t *view,
						char *buf, size_t len)
{
	char src[160];

	snprintf(buf, len, "CHILD_SA %s{%u}, %s", child_sa->get_name(child_sa),
			 child_sa->get_unique_id(child_sa),
			 qkd_peer_policy_source(view, src, sizeof(src)));
	return buf;
}

/**
 * First key exchange method of a proposal (KE_NONE if none)
 */
static uint16_t first_ke(proposal_t *proposal)
{
	uint16_t alg = KE_NONE;

	if (!proposal ||
		!proposal->get_algorithm(proposal, KEY_EXCHANGE_METHOD, &alg, NULL))
	{
		return KE_NONE;
	}
	return alg;
}

/**
 * Whether a proposal offers the qkd method, and its first other method
 */
static bool offers_qkd(proposal_t *proposal, uint16_t *classical)
{
	enumerator_t *enumerator;
	uint16_t alg;
	bool qkd = FALSE;

	if (classical)
	{
		*classical = KE_NONE;
	}
	enumerator = proposal->create_enumerator(proposal, KEY_EXCHANGE_METHOD);
	while (enumerator->enumerate(enumerator, &alg, NULL))
	{
		if (alg == QKD_KE_METHOD)
		{
			qkd = TRUE;
		}
		else if (alg && classical && *classical == KE_NONE)
		{
			*classical = alg;
		}
	}
	enumerator->destroy(enumerator);
	return qkd;
}

/**
 * Whether a child config proposes qkd, and its first classical group (in
 * the order of its proposals)
 */
static bool cfg_offers_qkd(child_cfg_t *cfg, uint16_t *classical)
{
	enumerator_t *enumerator;
	linked_list_t *list;
	proposal_t *proposal;
	uint16_t other;
	bool qkd = FALSE;

	*classical = KE_NONE;
	list = cfg->get_proposals(cfg, FALSE);
	enumerator = list->create_enumerator(list);
	while (enumerator->enumerate(enumerator, &proposal))
	{
		if (offers_qkd(proposal, &other))
		{
			qkd = TRUE;
		}
		if (*classical == KE_NONE)
		{
			*classical = other;
		}
	}
	enumerator->destroy(enumerator);
	list->destroy_offset(list, offsetof(proposal_t, destroy));
	return qkd;
}

/**
 * The group the rekeys of a CHILD_SA of this config must use with this
 * peer, KE_NONE to leave it alone (the config does not propose qkd)
 */
static uint16_t rekey_group(child_cfg_t *cfg, qkd_peer_view_t *view)
{
	uint16_t classical;

	if (!cfg || !cfg_offers_qkd(cfg, &classical))
	{
		return KE_NONE;
	}
	if (view->usable || view->policy == QKD_POLICY_REQUIRE ||
		classical == KE_NONE)
	{	/* require without QKD, or no classical group configured: the key
		 * exchange object refuses locally, before anything is sent */
		return QKD_KE_METHOD;
	}
	return classical;
}

/**
 * child_rekey.c reuses the first key exchange method of the CHILD_SA's
 * proposal: make it the one we want.  The proposal is changed in place
 * (set_proposal() clones without freeing the old one); its other
 * transforms stay, so nothing installed from it changes.
 */
static void set_rekey_group(ike_sa_t *ike_sa, child_sa_t *child_sa,
							uint16_t group, qkd_peer_view_t *view)
{
	proposal_t *proposal = child_sa->get_proposal(child_sa);
	char src[160];

	if (!proposal || group == KE_NONE || first_ke(proposal) == group)
	{
		return;
	}
	if (!proposal->promote_transform(proposal, KEY_EXCHANGE_METHOD, group))
	{
		proposal->add_algorithm(proposal, KEY_EXCHANGE_METHOD, group, 0);
		proposal->promote_transform(proposal, KEY_EXCHANGE_METHOD, group);
	}
	DBG1(DBG_IKE, "qkd: rekeys of CHILD_SA %s{%u} with %s[%u] use %N (%s; "
		 "policy %N from %s)", child_sa->get_name(child_sa),
		 child_sa->get_unique_id(child_sa), ike_sa->get_name(ike_sa),
		 ike_sa->get_unique_id(ike_sa), key_exchange_method_names, group,
		 view->usable ? "the peer announced the qkd plugin and a link" :
		 qkd_peer_why_not(view), qkd_policy_names, view->policy,
		 qkd_peer_policy_source(view, src, sizeof(src)));
}

/* ------------------------------------------------------------ messages */

/**
 * Add our announcement to an outgoing IKE_AUTH message
 */
static void announce(private_qkd_listener_t *this, ike_sa_t *ike_sa,
					 message_t *message)
{
	qkd_peer_view_t view;
	uint8_t data[QKD_ANNOUNCE_LEN], flags = 0;

	if (message->get_notify(message, QKD_NOTIFY_ANNOUNCE))
	{
		return;
	}
	/* our own link and policy only (not what the peer announced) */
	qkd_peer_view(this->links, ike_sa->get_other_id(ike_sa),
				  ike_sa->get_other_host(ike_sa), 0, FALSE, &view);
	if (view.have_link)
	{
		flags |= QKD_ANNOUNCE_F_LINK;
	}
	if (view.policy == QKD_POLICY_REQUIRE &&
		!(view.have_link && view.link.child_prefer))
	{	/* REQUIRE says every CHILD_SA with us requires QKD: not sent if a
		 * child rule of the link says prefer (per-child require is carried
		 * by the REQUIRE flag of each qkd exchange and our narrow veto) */
		flags |= QKD_ANNOUNCE_F_REQUIRE;
	}
	if (qkd_announce_encode_version(qkd_peer_our_version(), flags,
									QKD_KE_METHOD, data, sizeof(data)))
	{
		message->add_notify(message, FALSE, QKD_NOTIFY_ANNOUNCE,
							chunk_from_thing(data));
	}
}

/**
 * Record the announcement of an incoming IKE_AUTH message, if any
 */
static void read_announcement(ike_sa_t *ike_sa, message_t *message)
{
	notify_payload_t *notify;
	struct qkd_announce ann;
	chunk_t data;
	int ret;

	notify = message->get_notify(message, QKD_NOTIFY_ANNOUNCE);
	if (!notify)
	{
		return;
	}
	data = notify->get_notification_data(notify);
	ret = qkd_announce_parse(data.ptr, data.len, QKD_KE_METHOD, &ann);
	if (ret != QKD_WIRE_OK)
	{
		DBG1(DBG_IKE, "qkd: ignoring the qkd announcement of %s[%u] (%H): "
			 "%s (%zu bytes)", ike_sa->get_name(ike_sa),
			 ike_sa->get_unique_id(ike_sa), ike_sa->get_other_host(ike_sa),
			 qkd_wire_strerror(ret), data.len);
		return;
	}
	qkd_peer_set_announced(ike_sa->get_unique_id(ike_sa), ann.version,
						   ann.flags);
	DBG2(DBG_IKE, "qkd: %s[%u] announced qkd protocol v%u (flags 0x%02x)",
		 ike_sa->get_name(ike_sa), ike_sa->get_unique_id(ike_sa),
		 ann.version, ann.flags);
}

/**
 * Copy a proposal with a new number, without the qkd method
 */
static proposal_t *copy_without_qkd(proposal_t *proposal, uint8_t number)
{
	static const transform_type_t types[] = {
		ENCRYPTION_ALGORITHM, INTEGRITY_ALGORITHM, PSEUDO_RANDOM_FUNCTION,
		KEY_EXCHANGE_METHOD, EXTENDED_SEQUENCE_NUMBERS,
	};
	enumerator_t *enumerator;
	proposal_t *copy;
	uint16_t alg, ks;
	u_int i;

	copy = proposal_create(proposal->get_protocol(proposal), number);
	for (i = 0; i < countof(types); i++)
	{
		enumerator = proposal->create_enumerator(proposal, types[i]);
		while (enumerator->enumerate(enumerator, &alg, &ks))
		{
			if (types[i] != KEY_EXCHANGE_METHOD || alg != QKD_KE_METHOD)
			{
				copy->add_algorithm(copy, types[i], alg, ks);
			}
		}
		enumerator->destroy(enumerator);
	}
	copy->set_spi(copy, proposal->get_spi(proposal));
	return copy;
}

/**
 * Replace the SA payload of a message by one with these proposals
 */
static void replace_sa(message_t *message, linked_list_t *proposals)
{
	enumerator_t *enumerator;
	payload_t *payload;

	enumerator = message->create_payload_enumerator(message);
	while (enumerator->enumerate(enumerator, &payload))
	{
		if (payload->get_type(payload) == PLV2_SECURITY_ASSOCIATION)
		{
			message->remove_payload_at(message, enumerator);
			payload->destroy(payload);
			break;
		}
	}
	enumerator->destroy(enumerator);
	message->add_payload(message, (payload_t*)
						 sa_payload_create_from_proposals_v2(proposals));
}

/**
 * Outgoing CREATE_CHILD_SA request to a peer that did not announce the
 * plugin: take the qkd method out of the CHILD_SA proposals.  A proposal
 * whose only method is qkd is dropped (removing the method alone would turn
 * it into a proposal without PFS); the others are renumbered.
 */
static void strip_qkd(ike_sa_t *ike_sa, message_t *message)
{
	sa_payload_t *sa;
	linked_list_t *proposals, *kept;
	enumerator_t *enumerator;
	proposal_t *proposal;
	uint16_t classical;
	bool found = FALSE, ike = FALSE;
	int dropped = 0;

	sa = (sa_payload_t*)message->get_payload(message,
											 PLV2_SECURITY_ASSOCIATION);
	if (!sa)
	{
		return;
	}
	proposals = sa->get_proposals(sa);
	enumerator = proposals->create_enumerator(proposals);
	while (enumerator->enumerate(enumerator, &proposal))
	{
		ike = ike || proposal->get_protocol(proposal) == PROTO_IKE;
		found = found || offers_qkd(proposal, NULL);
	}
	enumerator->destroy(enumerator);
	if (!found || ike)
	{	/* nothing to do, or an IKE_SA rekey (IKE proposals are ours) */
		proposals->destroy_offset(proposals, offsetof(proposal_t, destroy));
		return;
	}
	kept = linked_list_create();
	enumerator = proposals->create_enumerator(proposals);
	while (enumerator->enumerate(enumerator, &proposal))
	{
		if (offers_qkd(proposal, &classical) && classical == KE_NONE)
		{
			dropped++;
			continue;
		}
		kept->insert_last(kept, copy_without_qkd(proposal,
										kept->get_count(kept) + 1));
	}
	enumerator->destroy(enumerator);
	if (kept->get_count(kept))
	{
		replace_sa(message, kept);
		DBG1(DBG_IKE, "qkd: %s[%u] did not announce the qkd plugin: removed "
			 "the qkd method from the CREATE_CHILD_SA proposals (%d proposal%s "
			 "dropped, %d left)", ike_sa->get_name(ike_sa),
			 ike_sa->get_unique_id(ike_sa), dropped, dropped == 1 ? "" : "s",
			 kept->get_count(kept));
	}
	kept->destroy_offset(kept, offsetof(proposal_t, destroy));
	proposals->destroy_offset(proposals, offsetof(proposal_t, destroy));
}

/**
 * Incoming CREATE_CHILD_SA request from a peer that did not announce the
 * plugin, with a classical KE payload (e.g. a v1 build of this project
 * rekeying a CHILD_SA we made classical): take qkd out of its proposals, so
 * that we select its classical group instead of answering
 * INVALID_KE_PAYLOAD for qkd (it would then take a QKD key for nothing).
 * Proposal numbers stay the peer's (the answer echoes the number).
 */
static void strip_qkd_in(ike_sa_t *ike_sa, message_t *message)
{
	sa_payload_t *sa;
	ke_payload_t *ke;
	linked_list_t *proposals, *kept;
	enumerator_t *enumerator;
	proposal_t *proposal;
	uint16_t classical;
	bool found = FALSE;

	ke = (ke_payload_t*)message->get_payload(message, PLV2_KEY_EXCHANGE);
	sa = (sa_payload_t*)message->get_payload(message,
											 PLV2_SECURITY_ASSOCIATION);
	if (!ke || !sa || ke->get_key_exchange_method(ke) == QKD_KE_METHOD)
	{
		return;
	}
	proposals = sa->get_proposals(sa);
	kept = linked_list_create();
	enumerator = proposals->create_enumerator(proposals);
	while (enumerator->enumerate(enumerator, &proposal))
	{
		if (proposal->get_protocol(proposal) == PROTO_IKE)
		{	/* an IKE_SA rekey: left alone */
			found = FALSE;
			break;
		}
		if (offers_qkd(proposal, &classical))
		{
			found = TRUE;
			if (classical == KE_NONE)
			{
				continue;
			}
		}
		kept->insert_last(kept, copy_without_qkd(proposal,
										proposal->get_number(proposal)));
	}
	enumerator->destroy(enumerator);
	if (found && kept->get_count(kept))
	{
		replace_sa(message, kept);
		DBG2(DBG_IKE, "qkd: %s[%u] did not announce the qkd plugin: not "
			 "considering qkd in its CREATE_CHILD_SA request with %N",
			 ike_sa->get_name(ike_sa), ike_sa->get_unique_id(ike_sa),
			 key_exchange_method_names, ke->get_key_exchange_method(ke));
	}
	kept->destroy_offset(kept, offsetof(proposal_t, destroy));
	proposals->destroy_offset(proposals, offsetof(proposal_t, destroy));
}

/**
 * Incoming CREATE_CHILD_SA request that rekeys a CHILD_SA with a qkd KE
 * payload: if the CHILD_SA's config proposes qkd, keep only the peer's
 * proposals with qkd (qkd promoted first), so that we select qkd whatever
 * the order of our own proposals and do not answer INVALID_KE_PAYLOAD
 * (with a peer without the announcement, a v1 build, the key exchange
 * object then answers without taking a key).  Proposal numbers stay the
 * peer's (the answer echoes the number).
 */
static void prefer_qkd(ike_sa_t *ike_sa, message_t *message)
{
	notify_payload_t *notify;
	ke_payload_t *ke;
	sa_payload_t *sa;
	child_sa_t *child_sa;
	child_cfg_t *cfg;
	ike_cfg_t *ike_cfg;
	linked_list_t *proposals, *kept, *list;
	enumerator_t *enumerator;
	proposal_t *proposal;
	uint16_t classical;
	protocol_id_t protocol;
	char what[64];
	bool qkd = FALSE;
	int total;

	ke = (ke_payload_t*)message->get_payload(message, PLV2_KEY_EXCHANGE);
	notify = message->get_notify(message, REKEY_SA);
	sa = (sa_payload_t*)message->get_payload(message,
											 PLV2_SECURITY_ASSOCIATION);
	if (!ke || !sa || ke->get_key_exchange_method(ke) != QKD_KE_METHOD)
	{
		return;
	}
	proposals = sa->get_proposals(sa);
	if (notify)
	{	/* a CHILD_SA rekey: the rekeyed CHILD_SA's config */
		protocol = notify->get_protocol_id(notify);
		child_sa = NULL;
		if (protocol == PROTO_ESP || protocol == PROTO_AH)
		{
			child_sa = ike_sa->get_child_sa(ike_sa, protocol,
											notify->get_spi(notify), FALSE);
		}
		cfg = child_sa ? child_sa->get_config(child_sa) : NULL;
		qkd = cfg && cfg_offers_qkd(cfg, &classical);
		if (qkd)
		{
			snprintf(what, sizeof(what), "CHILD_SA %s{%u}",
					 child_sa->get_name(child_sa),
					 child_sa->get_unique_id(child_sa));
		}
	}
	else if (proposals->get_first(proposals, (void**)&proposal) == SUCCESS &&
			 proposal->get_protocol(proposal) == PROTO_IKE)
	{	/* an IKE_SA rekey: our IKE proposals */
		protocol = PROTO_IKE;
		ike_cfg = ike_sa->get_ike_cfg(ike_sa);
		if (ike_cfg)
		{
			list = ike_cfg->get_proposals(ike_cfg);
			enumerator = list->create_enumerator(list);
			while (!qkd && enumerator->enumerate(enumerator, &proposal))
			{
				qkd = offers_qkd(proposal, NULL);
			}
			enumerator->destroy(enumerator);
			list->destroy_offset(list, offsetof(proposal_t, destroy));
		}
		snprintf(what, sizeof(what), "IKE_SA %s[%u]", ike_sa->get_name(ike_sa),
				 ike_sa->get_unique_id(ike_sa));
	}
	if (!qkd)
	{	/* a new CHILD_SA (its config is not known yet), or no qkd for it */
		proposals->destroy_offset(proposals, offsetof(proposal_t, destroy));
		return;
	}
	total = proposals->get_count(proposals);
	kept = linked_list_create();
	enumerator = proposals->create_enumerator(proposals);
	while (enumerator->enumerate(enumerator, &proposal))
	{
		if (proposal->get_protocol(proposal) == protocol &&
			offers_qkd(proposal, NULL))
		{
			proposals->remove_at(proposals, enumerator);
			proposal->promote_transform(proposal, KEY_EXCHANGE_METHOD,
										QKD_KE_METHOD);
			kept->insert_last(kept, proposal);
		}
	}
	enumerator->destroy(enumerator);
	if (kept->get_count(kept) && kept->get_count(kept) < total)
	{
		replace_sa(message, kept);
		DBG2(DBG_IKE, "qkd: rekey of %s with a qkd KE payload: considering "
			 "only the %d qkd proposal%s of %d", what, kept->get_count(kept),
			 kept->get_count(kept) == 1 ? "" : "s", total);
	}
	kept->destroy_offset(kept, offsetof(proposal_t, destroy));
	proposals->destroy_offset(proposals, offsetof(proposal_t, destroy));
}

METHOD(listener_t, message_hook, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, message_t *message,
	bool incoming, bool plain)
{
	qkd_peer_view_t view;

	if (!plain || !ike_sa || ike_sa->get_version(ike_sa) != IKEV2)
	{
		return TRUE;
	}
	/* key exchange objects of an earlier exchange are never bound to a
	 * later CHILD_SA */
	qkd_ke_unbind_pending(ike_sa->get_unique_id(ike_sa));
	switch (message->get_exchange_type(message))
	{
		case IKE_AUTH:
			if (incoming)
			{
				read_announcement(ike_sa, message);
			}
			else
			{
				announce(this, ike_sa, message);
			}
			break;
		case CREATE_CHILD_SA:
			view_of(this, ike_sa, &view);
			if (view.announced)
			{	/* keep the peer's flags (link, require) current: policies
				 * can change with a reload during the IKE_SA's life */
				if (incoming)
				{
					read_announcement(ike_sa, message);
				}
				else
				{
					announce(this, ike_sa, message);
				}
			}
			if (!message->get_request(message))
			{
				break;
			}
			if (incoming)
			{
				prefer_qkd(ike_sa, message);
				if (view.authenticated && !view.announced)
				{
					strip_qkd_in(ike_sa, message);
				}
			}
			else if (view.authenticated && !view.announced)
			{
				strip_qkd(ike_sa, message);
			}
			break;
		default:
			break;
	}
	return TRUE;
}

/* ------------------------------------------------------------ IKE_SAs */

METHOD(listener_t, ike_keys, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, key_exchange_t *dh,
	chunk_t dh_other, chunk_t nonce_i, chunk_t nonce_r, ike_sa_t *rekey,
	shared_key_t *shared, auth_method_t method)
{
	qkd_ke_t *ke = get_qkd(dh);
	ike_sa_id_t *id;
	char usage[128];

	if (ke)
	{
		id = ike_sa->get_id(ike_sa);
		snprintf(usage, sizeof(usage), "IKE_SA %s[%u] %.16"PRIx64"_i "
				 "%.16"PRIx64"_r", ike_sa->get_name(ike_sa),
				 ike_sa->get_unique_id(ike_sa),
				 be64toh(id->get_initiator_spi(id)),
				 be64toh(id->get_responder_spi(id)));
		ke->annotate(ke, NULL, 0, usage);
		if (ke->uses_qkd(ke))
		{
			qkd_peer_used_qkd(ike_sa->get_unique_id(ike_sa));
		}
	}
	return TRUE;
}

/**
 * With a peer that announced a link: if the IKE proposals offer qkd, the
 * IKE_SA's rekeys use it (ike_init.c reuses the first KE method of the
 * IKE_SA's proposal, as child_rekey.c does).  Returns TRUE if they do.
 */
static bool set_ike_rekey_group(ike_sa_t *ike_sa, qkd_peer_view_t *view)
{
	ike_cfg_t *ike_cfg = ike_sa->get_ike_cfg(ike_sa);
	proposal_t *proposal = ike_sa->get_proposal(ike_sa);
	enumerator_t *enumerator;
	linked_list_t *list;
	proposal_t *p;
	bool qkd = FALSE;

	if (!view->usable || !ike_cfg || !proposal)
	{
		return FALSE;
	}
	list = ike_cfg->get_proposals(ike_cfg);
	enumerator = list->create_enumerator(list);
	while (!qkd && enumerator->enumerate(enumerator, &p))
	{
		qkd = offers_qkd(p, NULL);
	}
	enumerator->destroy(enumerator);
	list->destroy_offset(list, offsetof(proposal_t, destroy));
	if (!qkd)
	{
		return FALSE;
	}
	if (first_ke(proposal) != QKD_KE_METHOD)
	{
		if (!proposal->promote_transform(proposal, KEY_EXCHANGE_METHOD,
										 QKD_KE_METHOD))
		{
			proposal->add_algorithm(proposal, KEY_EXCHANGE_METHOD,
									QKD_KE_METHOD, 0);
			proposal->promote_transform(proposal, KEY_EXCHANGE_METHOD,
										QKD_KE_METHOD);
		}
		DBG1(DBG_IKE, "qkd: rekeys of IKE_SA %s[%u] use (%d) (the peer "
			 "announced the qkd plugin and a link)", ike_sa->get_name(ike_sa),
			 ike_sa->get_unique_id(ike_sa), QKD_KE_METHOD);
	}
	return TRUE;
}

METHOD(listener_t, ike_updown, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, bool up)
{
	qkd_peer_view_t view;

	if (!up)
	{
		return TRUE;
	}
	view_of(this, ike_sa, &view);
	if (set_ike_rekey_group(ike_sa, &view) && this->rekey_first_ike &&
		ike_sa->has_condition(ike_sa, COND_ORIGINAL_INITIATOR))
	{	/* IKE_SA_INIT never carries a QKD key */
		DBG1(DBG_IKE, "qkd: IKE_SA %s[%u] was created without a QKD key, "
			 "rekeying it now to key it with QKD", ike_sa->get_name(ike_sa),
			 ike_sa->get_unique_id(ike_sa));
		lib->processor->queue_job(lib->processor, (job_t*)
					rekey_ike_sa_job_create(ike_sa->get_id(ike_sa), FALSE));
	}
	if (view.announced)
	{
		DBG1(DBG_IKE, "qkd: %s[%u] (%Y) announced qkd protocol v%u%s%s; "
			 "%s, policy %N%s", ike_sa->get_name(ike_sa),
			 ike_sa->get_unique_id(ike_sa), ike_sa->get_other_id(ike_sa),
			 view.version, view.peer_flags & QKD_ANNOUNCE_F_LINK ?
			 ", a link for us" : ", no link for us",
			 view.peer_flags & QKD_ANNOUNCE_F_REQUIRE ? ", require" : "",
			 view.usable ? "CHILD_SAs are keyed with QKD" :
			 qkd_peer_why_not(&view), qkd_policy_names, view.policy,
			 view.have_link && view.link.child_rules ?
			 " (the link's; child rules may override it per CHILD_SA)" : "");
	}
	else
	{
		DBG1(DBG_IKE, "qkd: %s[%u] (%Y) did not announce the qkd plugin: "
			 "no QKD key is taken for it; CHILD_SAs use a classical key "
			 "exchange (policy %N%s)", ike_sa->get_name(ike_sa),
			 ike_sa->get_unique_id(ike_sa), ike_sa->get_other_id(ike_sa),
			 qkd_policy_names, view.policy, view.policy == QKD_POLICY_REQUIRE ?
			 ": none is installed" : ": with a warning");
	}
	return TRUE;
}

METHOD(listener_t, ike_rekey, bool,
	private_qkd_listener_t *this, ike_sa_t *old, ike_sa_t *new)
{
	qkd_peer_view_t view;

	/* announcement and sticky carry over to the new IKE_SA */
	qkd_peer_rekeyed(old->get_unique_id(old), new->get_unique_id(new));
	view_of(this, new, &view);
	set_ike_rekey_group(new, &view);
	return TRUE;
}

METHOD(listener_t, ike_state_change, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, ike_sa_state_t state)
{
	if (state == IKE_DESTROYING)
	{
		qkd_peer_gone(ike_sa->get_unique_id(ike_sa));
	}
	return TRUE;
}

/* ------------------------------------------------------------ CHILD_SAs */

/**
 * Empty both traffic selector lists: the CHILD_SA is refused
 */
static void veto(linked_list_t *local, linked_list_t *remote)
{
	traffic_selector_t *ts;

	while (local->remove_last(local, (void**)&ts) == SUCCESS)
	{
		ts->destroy(ts);
	}
	while (remote->remove_last(remote, (void**)&ts) == SUCCESS)
	{
		ts->destroy(ts);
	}
}

/**
 * Policy require for a CHILD_SA that would be keyed without the qkd
 * method: refuse it (one line, a counter)
 */
static void refuse_child(ike_sa_t *ike_sa, child_sa_t *child_sa,
						 narrow_hook_t type, uint16_t ke,
						 qkd_peer_view_t *view, linked_list_t *local,
						 linked_list_t *remote)
{
	char why[128], src[160];

	if (ke == KE_NONE)
	{
		snprintf(why, sizeof(why), "no key exchange: created in IKE_AUTH "
				 "(use childless = force) or a proposal without PFS");
	}
	else
	{
		snprintf(why, sizeof(why), "key exchange %N; %s",
				 key_exchange_method_names, ke, view->usable ?
				 "the peer did not select qkd" : qkd_peer_why_not(view));
	}
	DBG1(DBG_IKE, "qkd: refusing CHILD_SA %s{%u} with %s[%u] (%Y): policy "
		 "require%s and it would be keyed without QKD (%s) (refusal #%u; "
		 "existing SAs stay%s); policy set by %s",
		 child_sa->get_name(child_sa), child_sa->get_unique_id(child_sa),
		 ike_sa->get_name(ike_sa), ike_sa->get_unique_id(ike_sa),
		 ike_sa->get_other_id(ike_sa), view->sticky_now ? " (sticky)" :
		 view->peer_requires ? " (the peer announced require)" : "", why,
		 qkd_count(QKD_CNT_CHILD_REFUSED), type == NARROW_RESPONDER ? "" :
		 ", the peer's new SA is deleted",
		 qkd_peer_policy_source(view, src, sizeof(src)));
	veto(local, remote);
}

METHOD(listener_t, narrow, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, child_sa_t *child_sa,
	narrow_hook_t type, linked_list_t *local, linked_list_t *remote)
{
	qkd_peer_view_t view;
	uint16_t ke;
	char what[256];

	switch (type)
	{
		case NARROW_INITIATOR_PRE_NOAUTH:
		case NARROW_INITIATOR_PRE_AUTH:
		case NARROW_INITIATOR_POST_NOAUTH:
		case NARROW_INITIATOR_POST_AUTH:
		case NARROW_RESPONDER:
			break;
		default:
			return TRUE;
	}
	child_view(this, ike_sa, child_sa, local, remote, &view);
	if (type == NARROW_INITIATOR_PRE_AUTH || type == NARROW_RESPONDER)
	{	/* the key exchange object (if qkd) was created and has not decided
		 * yet: it keys this CHILD_SA, under its policy */
		what[0] = '\0';
		if (view.have_link && view.link.child_rules)
		{	/* log lines of links without rules stay as they were */
			child_what(child_sa, &view, what, sizeof(what));
		}
		qkd_ke_bind_child(ike_sa->get_unique_id(ike_sa), view.own_policy,
						  view.sticky_now, what);
	}
	if (type == NARROW_INITIATOR_PRE_NOAUTH ||
		type == NARROW_INITIATOR_PRE_AUTH)
	{
		return TRUE;
	}
	/* the proposal is selected when this hook runs; with the qkd method
	 * the key exchange object enforces the policy itself */
	ke = first_ke(child_sa->get_proposal(child_sa));
	if (ke == QKD_KE_METHOD || view.policy != QKD_POLICY_REQUIRE)
	{
		return TRUE;
	}
	refuse_child(ike_sa, child_sa, type, ke, &view, local, remote);
	return TRUE;
}

METHOD(listener_t, child_keys, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, child_sa_t *child_sa,
	bool initiator, key_exchange_t *dh, chunk_t nonce_i, chunk_t nonce_r)
{
	qkd_ke_t *ke = get_qkd(dh);
	qkd_peer_view_t view;
	uint32_t spis[2];
	char usage[128], why[160], src[160];

	if (ke)
	{	/* SPIs are allocated and installed when this hook runs */
		spis[0] = ntohl(child_sa->get_spi(child_sa, TRUE));
		spis[1] = ntohl(child_sa->get_spi(child_sa, FALSE));
		snprintf(usage, sizeof(usage), "CHILD_SA %s{%u} %.8x_i %.8x_o of "
				 "IKE_SA %s[%u]", child_sa->get_name(child_sa),
				 child_sa->get_unique_id(child_sa), spis[0], spis[1],
				 ike_sa->get_name(ike_sa), ike_sa->get_unique_id(ike_sa));
		if (ke->uses_qkd(ke))
		{
			qkd_peer_used_qkd(ike_sa->get_unique_id(ike_sa));
		}
		if (ke->annotate(ke, spis, 2, usage))
		{
			DBG1(DBG_IKE, "qkd: CHILD_SA %s{%u} keyed with a QKD key",
				 child_sa->get_name(child_sa),
				 child_sa->get_unique_id(child_sa));
		}
		/* a fallback inside the qkd method was logged and counted by the
		 * key exchange object */
		return TRUE;
	}
	child_view(this, ike_sa, child_sa, NULL, NULL, &view);
	if (rekey_group(child_sa->get_config(child_sa), &view) == KE_NONE)
	{	/* not configured for qkd */
		return TRUE;
	}
	if (dh)
	{
		snprintf(why, sizeof(why), "key exchange %N: %s",
				 key_exchange_method_names, dh->get_method(dh), view.usable ?
				 "the peer selected it" : qkd_peer_why_not(&view));
	}
	else
	{
		snprintf(why, sizeof(why), "no key exchange (created in IKE_AUTH, or "
				 "a proposal without PFS)");
	}
	if (view.policy == QKD_POLICY_REQUIRE)
	{	/* vetoed in narrow(): must not happen */
		DBG1(DBG_IKE, "qkd: ERROR: CHILD_SA %s{%u} installed without a QKD "
			 "key (%s) despite policy require; policy set by %s",
			 child_sa->get_name(child_sa), child_sa->get_unique_id(child_sa),
			 why, qkd_peer_policy_source(&view, src, sizeof(src)));
		return TRUE;
	}
	DBG1(DBG_IKE, "qkd: WARNING: CHILD_SA %s{%u} with %s[%u] (%Y) keyed "
		 "without QKD (%s): policy prefer (classical CHILD_SA #%u; not "
		 "quantum-safe); policy set by %s", child_sa->get_name(child_sa),
		 child_sa->get_unique_id(child_sa), ike_sa->get_name(ike_sa),
		 ike_sa->get_unique_id(ike_sa), ike_sa->get_other_id(ike_sa), why,
		 qkd_count(QKD_CNT_CLASSICAL),
		 qkd_peer_policy_source(&view, src, sizeof(src)));
	return TRUE;
}

METHOD(listener_t, child_updown, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, child_sa_t *child_sa,
	bool up)
{
	qkd_peer_view_t view;
	uint16_t group, negotiated;
	char src[160];
	job_t *job;

	if (!up)
	{
		return TRUE;
	}
	child_view(this, ike_sa, child_sa, NULL, NULL, &view);
	group = rekey_group(child_sa->get_config(child_sa), &view);
	if (group == KE_NONE)
	{
		return TRUE;
	}
	negotiated = first_ke(child_sa->get_proposal(child_sa));
	set_rekey_group(ike_sa, child_sa, group, &view);

	if (!this->rekey_first_child || !view.usable ||
		negotiated == QKD_KE_METHOD ||
		!ike_sa->has_condition(ike_sa, COND_ORIGINAL_INITIATOR))
	{	/* keyed by the qkd method already, or no QKD with this peer; only
		 * the original initiator, to avoid rekey collisions */
		return TRUE;
	}
	if (negotiated == KE_NONE)
	{
		DBG1(DBG_IKE, "qkd: CHILD_SA %s{%u} was created without a key "
			 "exchange, rekeying it %s to key it with QKD (policy %N from "
			 "%s)", child_sa->get_name(child_sa),
			 child_sa->get_unique_id(child_sa),
			 this->rekey_delay_ms ? "shortly" : "now", qkd_policy_names,
			 view.policy, qkd_peer_policy_source(&view, src, sizeof(src)));
	}
	else
	{
		DBG1(DBG_IKE, "qkd: CHILD_SA %s{%u} was created with %N, rekeying it "
			 "%s to key it with QKD (policy %N from %s)",
			 child_sa->get_name(child_sa), child_sa->get_unique_id(child_sa),
			 key_exchange_method_names, negotiated,
			 this->rekey_delay_ms ? "shortly" : "now", qkd_policy_names,
			 view.policy, qkd_peer_policy_source(&view, src, sizeof(src)));
	}
	job = (job_t*)rekey_child_sa_job_create(child_sa->get_protocol(child_sa),
									child_sa->get_spi(child_sa, TRUE),
									ike_sa->get_my_host(ike_sa));
	if (this->rekey_delay_ms)
	{
		lib->scheduler->schedule_job_ms(lib->scheduler, job,
										this->rekey_delay_ms);
	}
	else
	{
		lib->processor->queue_job(lib->processor, job);
	}
	return TRUE;
}

METHOD(listener_t, child_rekey, bool,
	private_qkd_listener_t *this, ike_sa_t *ike_sa, child_sa_t *old,
	child_sa_t *new)
{
	qkd_peer_view_t view;

	child_view(this, ike_sa, new, NULL, NULL, &view);
	set_rekey_group(ike_sa, new, rekey_group(new->get_config(new), &view),
					&view);
	return TRUE;
}

/**
 * After a reload (policy or links changed): the rekey group of every
 * CHILD_SA again follows the peer and the policy now in effect
 */
static void refresh(private_qkd_listener_t *this)
{
	enumerator_t *enumerator, *children;
	qkd_peer_view_t view;
	child_sa_t *child_sa;
	ike_sa_t *ike_sa;

	if (!charon || !charon->ike_sa_manager)
	{
		return;
	}
	enumerator = charon->ike_sa_manager->create_enumerator(
											charon->ike_sa_manager, TRUE);
	while (enumerator->enumerate(enumerator, &ike_sa))
	{
		if (ike_sa->get_version(ike_sa) != IKEV2 ||
			!ike_sa->has_condition(ike_sa, COND_AUTHENTICATED))
		{
			continue;
		}
		children = ike_sa->create_child_sa_enumerator(ike_sa);
		while (children->enumerate(children, &child_sa))
		{
			if (child_sa->get_state(child_sa) == CHILD_INSTALLED)
			{
				child_view(this, ike_sa, child_sa, NULL, NULL, &view);
				set_rekey_group(ike_sa, child_sa,
						rekey_group(child_sa->get_config(child_sa), &view),
						&view);
			}
		}
		children->destroy(children);
	}
	enumerator->destroy(enumerator);
}

static void read_settings(private_qkd_listener_t *this)
{
	int delay;

	this->rekey_first_child = lib->settings->get_bool(lib->settings,
							"%s.plugins.qkd.rekey_first_child", FALSE, lib->ns);
	delay = lib->settings->get_int(lib->settings,
							"%s.plugins.qkd.rekey_first_child_delay_ms", 0,
							lib->ns);
	if (delay < 0)
	{
		DBG1(DBG_IKE, "qkd: rekey_first_child_delay_ms %d is negative, "
			 "using 0", delay);
		delay = 0;
	}
	this->rekey_delay_ms = delay;
	this->rekey_first_ike = lib->settings->get_bool(lib->settings,
							"%s.plugins.qkd.rekey_first_ike", FALSE, lib->ns);
}

METHOD(qkd_listener_t, reload, void,
	private_qkd_listener_t *this)
{
	read_settings(this);
	refresh(this);
}

METHOD(qkd_listener_t, destroy, void,
	private_qkd_listener_t *this)
{
	free(this);
}

/*
 * Described in header
 */
qkd_listener_t *qkd_listener_create(qkd_links_t *links)
{
	private_qkd_listener_t *this;

	INIT(this,
		.public = {
			.listener = {
				.message = _message_hook,
				.ike_keys = _ike_keys,
				.ike_updown = _ike_updown,
				.ike_rekey = _ike_rekey,
				.ike_state_change = _ike_state_change,
				.narrow = _narrow,
				.child_keys = _child_keys,
				.child_updown = _child_updown,
				.child_rekey = _child_rekey,
			},
			.reload = _reload,
			.destroy = _destroy,
		},
		.links = links,
	);
	read_settings(this);
	return &this->public;
}
