/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bus listener of the plugin (qkd_listener.c, protocol v2) against the
 * real libcharon: IKE_SA, CHILD_SA, message and payload objects of Debian's
 * 5.9.8, the listener's hooks called as the bus calls them.  Checks the
 * announcement in IKE_AUTH (sent, read, malformed ones ignored), the group
 * written into a CHILD_SA's proposal for its rekeys (child_rekey.c reads
 * it), the qkd method removed from requests to peers without the plugin,
 * the peer's qkd proposals preferred for a rekey with a qkd KE payload,
 * the require veto in narrow and the prefer warning/counter.  TAP.
 */
#include "tap.h"

#include <errno.h>

#include <library.h>
#include <daemon.h>
#include <sa/child_sa_manager.h>
#include <encoding/payloads/ke_payload.h>
#include <encoding/payloads/notify_payload.h>
#include <encoding/payloads/sa_payload.h>

#include "qkd_ke.h"
#include "qkd_keysrc.h"
#include "qkd_listener.h"
#include "qkd_method.h"
#include "qkd_peer.h"
#include "qkd_wire.h"

/* OpenSSL keeps some global state after the openssl plugin is unloaded */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libcrypto.so\n";
}

/* ------------------------------------------------- key source: no keys */

static int takes;

void qkd_keysrc_wipe(struct qkd_key *key)
{
	memwipe(key, sizeof(*key));
}

const char *qkd_keysrc_name(void)
{
	return "stub";
}

int qkd_keysrc_take(const char *link, const uint8_t *id, uint32_t wait_ms,
					unsigned int flags, struct qkd_key *key,
					char err[QKD_KEYSRC_ERR_LEN])
{
	takes++;
	err[0] = '\0';
	return -ENOENT;
}

int qkd_keysrc_annotate(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
						const uint32_t *spis, int nspis, const char *usage,
						char err[QKD_KEYSRC_ERR_LEN])
{
	err[0] = '\0';
	return 0;
}

int qkd_keysrc_reserve(const char *link, uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN])
{
	err[0] = '\0';
	return -ENOENT;
}

int qkd_keysrc_release(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN])
{
	err[0] = '\0';
	return -ENOENT;
}

int qkd_keysrc_want(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					char err[QKD_KEYSRC_ERR_LEN])
{
	err[0] = '\0';
	return -ENOENT;
}

/* ------------------------------------------------- a KE object stub */

typedef struct {
	key_exchange_t ke;
	key_exchange_method_t method;
} fake_ke_t;

METHOD(key_exchange_t, fake_get_public_key, bool,
	fake_ke_t *this, chunk_t *value)
{
	*value = chunk_clone(chunk_from_chars(0x01, 0x02, 0x03, 0x04));
	return TRUE;
}

METHOD(key_exchange_t, fake_get_method, key_exchange_method_t,
	fake_ke_t *this)
{
	return this->method;
}

METHOD(key_exchange_t, fake_destroy, void,
	fake_ke_t *this)
{
	free(this);
}

static key_exchange_t *fake_ke(key_exchange_method_t method)
{
	fake_ke_t *this;

	INIT(this,
		.ke = {
			.get_public_key = _fake_get_public_key,
			.get_method = _fake_get_method,
			.destroy = _fake_destroy,
		},
		.method = method,
	);
	return &this->ke;
}

/* ------------------------------------------------- helpers */

static qkd_links_t *links;
static qkd_listener_t *ql;
static listener_t *l;
static host_t *me, *peer;
static identification_t *peer_id;

static void configure(char *policy, char *extra)
{
	char conf[1024];

	snprintf(conf, sizeof(conf),
		"test { plugins { qkd {\n"
		" %s\n"
		" links {\n"
		"  to-b { link = peer\n remote_addrs = 192.0.2.2\n policy = %s }\n"
		" }\n"
		"} } }\n", extra, policy);
	lib->settings->load_string(lib->settings, conf, FALSE);
	links->reload(links);
	ql->reload(ql);
}

/* an authenticated IKE_SA with the peer 192.0.2.2 "gw-b" */
static ike_sa_t *new_ike_sa(bool original_initiator)
{
	ike_sa_id_t *id;
	ike_sa_t *ike_sa;

	id = ike_sa_id_create(IKEV2, 0x1111, 0x2222, original_initiator);
	ike_sa = ike_sa_create(id, original_initiator, IKEV2);
	id->destroy(id);
	ike_sa->set_my_host(ike_sa, me->clone(me));
	ike_sa->set_other_host(ike_sa, peer->clone(peer));
	ike_sa->set_other_id(ike_sa, peer_id->clone(peer_id));
	ike_sa->set_condition(ike_sa, COND_AUTHENTICATED, TRUE);
	if (original_initiator)
	{
		ike_sa->set_condition(ike_sa, COND_ORIGINAL_INITIATOR, TRUE);
	}
	return ike_sa;
}

static child_cfg_t *new_cfg(char *esp)
{
	child_cfg_create_t data = {
		.mode = MODE_TUNNEL,
	};
	child_cfg_t *cfg;
	enumerator_t *enumerator;
	char *str;

	cfg = child_cfg_create("net", &data);
	enumerator = enumerator_create_token(esp, ",", " ");
	while (enumerator->enumerate(enumerator, &str))
	{
		cfg->add_proposal(cfg, proposal_create_from_string(PROTO_ESP, str));
	}
	enumerator->destroy(enumerator);
	return cfg;
}

/* a CHILD_SA of cfg whose negotiated proposal is prop */
static child_sa_t *new_child(child_cfg_t *cfg, char *prop)
{
	child_sa_create_t data = {};
	child_sa_t *child;
	proposal_t *proposal;

	child = child_sa_create(me, peer, cfg, &data);
	proposal = proposal_create_from_string(PROTO_ESP, prop);
	child->set_proposal(child, proposal);
	proposal->destroy(proposal);
	return child;
}

static uint16_t rekey_ke(child_sa_t *child)
{
	proposal_t *p = child->get_proposal(child);
	uint16_t alg = 0;

	p->get_algorithm(p, KEY_EXCHANGE_METHOD, &alg, NULL);
	return alg;
}

static uint16_t first_ke_of(proposal_t *p)
{
	uint16_t alg = 0;

	p->get_algorithm(p, KEY_EXCHANGE_METHOD, &alg, NULL);
	return alg;
}

static void announce(ike_sa_t *ike_sa, uint8_t flags)
{
	qkd_peer_set_announced(ike_sa->get_unique_id(ike_sa), 2, flags);
}

static message_t *new_msg(exchange_type_t type, bool request)
{
	message_t *msg = message_create(IKEV2_MAJOR_VERSION, IKEV2_MINOR_VERSION);

	msg->set_exchange_type(msg, type);
	msg->set_request(msg, request);
	return msg;
}

/* "1:aes256gcm16-x25519 2:..." from the SA payload of msg */
static void sa_str(message_t *msg, char *buf, size_t len)
{
	sa_payload_t *sa;
	linked_list_t *list;
	enumerator_t *enumerator;
	proposal_t *p;
	size_t off = 0;

	buf[0] = '\0';
	sa = (sa_payload_t*)msg->get_payload(msg, PLV2_SECURITY_ASSOCIATION);
	if (!sa)
	{
		return;
	}
	list = sa->get_proposals(sa);
	enumerator = list->create_enumerator(list);
	while (enumerator->enumerate(enumerator, &p) && off < len)
	{
		off += snprintf(buf + off, len - off, "%s%u:%P", off ? " " : "",
						p->get_number(p), p);
	}
	enumerator->destroy(enumerator);
	list->destroy_offset(list, offsetof(proposal_t, destroy));
}

static void add_sa(message_t *msg, char *props)
{
	linked_list_t *list = linked_list_create();
	enumerator_t *enumerator;
	proposal_t *p;
	char *str;

	enumerator = enumerator_create_token(props, ",", " ");
	while (enumerator->enumerate(enumerator, &str))
	{
		p = proposal_create_from_string(PROTO_ESP, str);
		p->set_spi(p, htonl(0xc0ffee01));
		list->insert_last(list, p);
	}
	enumerator->destroy(enumerator);
	msg->add_payload(msg, (payload_t*)sa_payload_create_from_proposals_v2(list));
	list->destroy_offset(list, offsetof(proposal_t, destroy));
}

static int ts_count(linked_list_t *list)
{
	return list->get_count(list);
}

static void fill_ts(linked_list_t *a, linked_list_t *b)
{
	a->insert_last(a, traffic_selector_create_from_cidr("10.1.0.0/24", 0, 0,
														65535));
	b->insert_last(b, traffic_selector_create_from_cidr("10.2.0.0/24", 0, 0,
														65535));
}

static void flush_ts(linked_list_t *a, linked_list_t *b)
{
	a->destroy_offset(a, offsetof(traffic_selector_t, destroy));
	b->destroy_offset(b, offsetof(traffic_selector_t, destroy));
}


/* ------------------------------------------------- per-CHILD_SA policy */

/* link to-b with policy POLICY and child rules RULES */
static void configure_children(char *policy, char *rules)
{
	char conf[1024];

	snprintf(conf, sizeof(conf),
		"test { plugins { qkd {\n"
		" links {\n"
		"  to-b { link = peer\n remote_addrs = 192.0.2.2\n policy = %s\n"
		"         children { %s } }\n"
		" }\n"
		"} } }\n", policy, rules);
	lib->settings->load_string(lib->settings, conf, FALSE);
	links->reload(links);
	ql->reload(ql);
}

static child_cfg_t *new_cfg_named(char *name, char *esp)
{
	child_cfg_create_t data = {
		.mode = MODE_TUNNEL,
	};
	child_cfg_t *cfg;

	cfg = child_cfg_create(name, &data);
	cfg->add_proposal(cfg, proposal_create_from_string(PROTO_ESP, esp));
	return cfg;
}

/* NARROW hook on a CHILD_SA of cfg keyed with prop and traffic selectors
 * 10.1.0.0/24 === REMOTE; TRUE if it passed */
static bool narrow_passes(ike_sa_t *ike_sa, child_cfg_t *cfg, char *prop,
						  char *remote, narrow_hook_t type)
{
	child_sa_t *child = new_child(cfg, prop);
	linked_list_t *a = linked_list_create(), *b = linked_list_create();
	bool passed;

	a->insert_last(a, traffic_selector_create_from_cidr("10.1.0.0/24", 0, 0,
														65535));
	b->insert_last(b, traffic_selector_create_from_cidr(remote, 0, 0, 65535));
	l->narrow(l, ike_sa, child, type, a, b);
	passed = ts_count(a) == 1 && ts_count(b) == 1;
	flush_ts(a, b);
	child->destroy(child);
	return passed;
}

static uint8_t announced_flags(ike_sa_t *ike_sa)
{
	message_t *msg = new_msg(IKE_AUTH, TRUE);
	notify_payload_t *n;
	chunk_t data;
	uint8_t flags = 0xff;

	l->message(l, ike_sa, msg, FALSE, TRUE);
	n = msg->get_notify(msg, QKD_NOTIFY_ANNOUNCE);
	data = n ? n->get_notification_data(n) : chunk_empty;
	if (data.len == QKD_ANNOUNCE_LEN)
	{
		flags = data.ptr[5];
	}
	msg->destroy(msg);
	return flags;
}

static void test_child_policy(void)
{
	ike_sa_t *ike_sa;
	child_cfg_t *fin, *web, *other;
	child_sa_t *child;
	key_exchange_t *ke;
	chunk_t pub = chunk_empty;
	u_int refused, classical;

	fin = new_cfg_named("finance", "aes256gcm16-qkd-x25519");
	web = new_cfg_named("web", "aes256gcm16-qkd-x25519");
	other = new_cfg_named("other", "aes256gcm16-qkd-x25519");
	ike_sa = new_ike_sa(TRUE);

	configure_children("prefer", "finance { policy = require }");
	refused = qkd_counter(QKD_CNT_CHILD_REFUSED);
	ok(!narrow_passes(ike_sa, fin, "aes256gcm16-x25519", "10.2.0.0/24",
					  NARROW_RESPONDER) &&
	   qkd_counter(QKD_CNT_CHILD_REFUSED) == refused + 1,
	   "link prefer, rule finance require (by name): classical finance "
	   "vetoed as responder, counted");
	ok(!narrow_passes(ike_sa, fin, "aes256gcm16", "10.2.0.0/24",
					  NARROW_INITIATOR_POST_NOAUTH),
	   "... and its IKE_AUTH CHILD_SA refused as initiator");
	ok(narrow_passes(ike_sa, web, "aes256gcm16-x25519", "10.2.0.0/24",
					 NARROW_RESPONDER) &&
	   qkd_counter(QKD_CNT_CHILD_REFUSED) == refused + 2,
	   "... classical web (no rule: the link's prefer) passes");
	ok(announced_flags(ike_sa) == QKD_ANNOUNCE_F_LINK,
	   "link prefer with a require rule: announced without REQUIRE");

	configure_children("require", "web-ts { remote_ts = 10.2.0.0/16\n"
					   "policy = prefer }");
	ok(narrow_passes(ike_sa, web, "aes256gcm16-x25519", "10.2.0.0/24",
					 NARROW_RESPONDER),
	   "link require, rule web-ts prefer by remote_ts: a child inside "
	   "10.2.0.0/16 passes classical");
	ok(!narrow_passes(ike_sa, web, "aes256gcm16-x25519", "0.0.0.0/0",
					  NARROW_RESPONDER),
	   "... a child reaching beyond 10.2.0.0/16 is not relaxed: vetoed");
	ok(announced_flags(ike_sa) == QKD_ANNOUNCE_F_LINK,
	   "link require with a prefer rule: announced without REQUIRE (the "
	   "peer would force it onto web)");

	configure_children("prefer", "finance { name = finance\n"
					   "policy = require }\n"
					   "web-ts { remote_ts = 10.2.0.0/16\npolicy = prefer }\n"
					   "fin-net { remote_ts = 10.9.0.0/16\npolicy = require }");
	ok(!narrow_passes(ike_sa, fin, "aes256gcm16-x25519", "10.2.0.0/24",
					  NARROW_RESPONDER),
	   "name rule beats a traffic selector rule: finance inside web-ts's "
	   "10.2.0.0/16 still require");
	ok(!narrow_passes(ike_sa, other, "aes256gcm16-x25519", "10.9.1.0/24",
					  NARROW_RESPONDER) &&
	   !narrow_passes(ike_sa, other, "aes256gcm16-x25519", "10.0.0.0/8",
					  NARROW_RESPONDER),
	   "a require traffic selector rule matches children inside and "
	   "overlapping it");
	ok(narrow_passes(ike_sa, other, "aes256gcm16-x25519", "10.8.0.0/16",
					 NARROW_RESPONDER),
	   "a child matching no rule gets the link's prefer");

	/* the rekey group follows the child's policy (peer without the plugin:
	 * require refuses locally with qkd, prefer uses the classical group) */
	configure_children("prefer", "finance { policy = require }");
	fin->add_proposal(fin, proposal_create_from_string(PROTO_ESP,
													   "aes256gcm16-x25519"));
	web->add_proposal(web, proposal_create_from_string(PROTO_ESP,
													   "aes256gcm16-x25519"));
	child = new_child(fin, "aes256gcm16-x25519");
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == QKD_KE_METHOD, "finance (require): rekey group "
	   "qkd even with a peer that did not announce (refused locally)");
	child->destroy(child);
	child = new_child(web, "aes256gcm16-x25519");
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == CURVE_25519, "web (prefer): classical rekey group");
	classical = qkd_counter(QKD_CNT_CLASSICAL);
	l->child_keys(l, ike_sa, child, TRUE, NULL, chunk_empty, chunk_empty);
	ok(qkd_counter(QKD_CNT_CLASSICAL) == classical + 1,
	   "web keyed without QKD: warned about and counted as classical");
	child->destroy(child);
	child = new_child(fin, "aes256gcm16-x25519");
	l->child_keys(l, ike_sa, child, TRUE, NULL, chunk_empty, chunk_empty);
	ok(qkd_counter(QKD_CNT_CLASSICAL) == classical + 1,
	   "finance is not counted as a prefer fallback");
	child->destroy(child);

	/* NARROW_INITIATOR_PRE_AUTH binds the CHILD_SA's policy to the key
	 * exchange object: require -> no INIT without a key */
	announce(ike_sa, QKD_ANNOUNCE_F_LINK);
	qkd_ke_test_set_peer(peer_id, peer, ike_sa->get_unique_id(ike_sa));
	ke = &qkd_ke_create(QKD_KE_METHOD)->ke;
	ok(narrow_passes(ike_sa, fin, "aes256gcm16-qkd", "10.2.0.0/24",
					 NARROW_INITIATOR_PRE_AUTH) && !ke->get_public_key(ke, &pub),
	   "PRE_AUTH: finance's require bound to the key exchange object (link "
	   "prefer): no key, no INIT");
	ke->destroy(ke);
	ke = &qkd_ke_create(QKD_KE_METHOD)->ke;
	narrow_passes(ike_sa, web, "aes256gcm16-qkd", "10.2.0.0/24",
				  NARROW_INITIATOR_PRE_AUTH);
	ok(ke->get_public_key(ke, &pub) && pub.len > 2 &&
	   pub.ptr[2] == QKD_WIRE_F_NO_KEY,
	   "web's prefer bound: no key, INIT without REQUIRE (X25519 alone)");
	chunk_free(&pub);
	ke->destroy(ke);
	ke = &qkd_ke_create(QKD_KE_METHOD)->ke;
	{
		message_t *msg = new_msg(CREATE_CHILD_SA, TRUE);

		l->message(l, ike_sa, msg, TRUE, TRUE);
		msg->destroy(msg);
	}
	ok(!qkd_ke_bind_child(ike_sa->get_unique_id(ike_sa), QKD_POLICY_PREFER,
						  FALSE, "test"),
	   "an object not bound before the next message is never bound later");
	ke->destroy(ke);
	qkd_ke_test_set_peer(NULL, NULL, 0);

	qkd_peer_gone(ike_sa->get_unique_id(ike_sa));
	ike_sa->destroy(ike_sa);
	fin->destroy(fin);
	web->destroy(web);
	other->destroy(other);
}

/* ------------------------------------------------- tests */

static void test_announcement(void)
{
	ike_sa_t *ike_sa;
	message_t *msg;
	notify_payload_t *n;
	chunk_t data;
	uint8_t v = 0, f = 0;

	configure("require", "");
	ike_sa = new_ike_sa(TRUE);

	msg = new_msg(IKE_AUTH, TRUE);
	l->message(l, ike_sa, msg, FALSE, TRUE);
	n = msg->get_notify(msg, QKD_NOTIFY_ANNOUNCE);
	data = n ? n->get_notification_data(n) : chunk_empty;
	ok(n && chunk_equals(data, chunk_from_chars('Q','K','D','A', 3,
				QKD_ANNOUNCE_F_LINK | QKD_ANNOUNCE_F_REQUIRE, 0xfa, 0xf2)),
	   "outgoing IKE_AUTH: announcement notify %d added (v3, link, require)",
	   QKD_NOTIFY_ANNOUNCE);
	l->message(l, ike_sa, msg, FALSE, TRUE);
	l->message(l, ike_sa, msg, FALSE, FALSE);
	{
		enumerator_t *e = msg->create_payload_enumerator(msg);
		payload_t *p;
		int count = 0;

		while (e->enumerate(e, &p))
		{
			count += p->get_type(p) == PLV2_NOTIFY;
		}
		e->destroy(e);
		ok(count == 1, "added once (a second plain call and the encoded "
		   "call add nothing)");
	}
	/* the same message, seen by the peer: recorded */
	l->message(l, ike_sa, msg, TRUE, TRUE);
	ok(qkd_peer_get_announced(ike_sa->get_unique_id(ike_sa), &v, &f) &&
	   v == 3 && f == (QKD_ANNOUNCE_F_LINK | QKD_ANNOUNCE_F_REQUIRE),
	   "incoming IKE_AUTH: announcement recorded for the IKE_SA");
	msg->destroy(msg);

	configure("prefer", "");
	msg = new_msg(IKE_AUTH, FALSE);
	l->message(l, ike_sa, msg, FALSE, TRUE);
	n = msg->get_notify(msg, QKD_NOTIFY_ANNOUNCE);
	data = n ? n->get_notification_data(n) : chunk_empty;
	ok(n && data.len == 8 && data.ptr[5] == QKD_ANNOUNCE_F_LINK,
	   "IKE_AUTH response announces too; prefer: no REQUIRE flag");
	msg->destroy(msg);

	qkd_peer_gone(ike_sa->get_unique_id(ike_sa));
	msg = new_msg(IKE_AUTH, FALSE);
	msg->add_notify(msg, FALSE, QKD_NOTIFY_ANNOUNCE,
					chunk_from_chars('X','Y','Z','W', 2, 1, 0xfa, 0xf2));
	l->message(l, ike_sa, msg, TRUE, TRUE);
	ok(!qkd_peer_get_announced(ike_sa->get_unique_id(ike_sa), &v, &f),
	   "a foreign notify of the same number (other magic) is ignored");
	msg->destroy(msg);
	msg = new_msg(IKE_AUTH, FALSE);
	msg->add_notify(msg, FALSE, QKD_NOTIFY_ANNOUNCE,
					chunk_from_chars('Q','K','D','A', 2, 1, 0xff, 0xec));
	l->message(l, ike_sa, msg, TRUE, TRUE);
	ok(!qkd_peer_get_announced(ike_sa->get_unique_id(ike_sa), &v, &f),
	   "an announcement of another method number (65516) is ignored");
	msg->destroy(msg);
	msg = new_msg(IKE_AUTH, FALSE);
	l->message(l, ike_sa, msg, TRUE, TRUE);
	ok(!qkd_peer_get_announced(ike_sa->get_unique_id(ike_sa), &v, &f),
	   "IKE_AUTH without the notify: not announced");
	msg->destroy(msg);
	msg = new_msg(IKE_AUTH, FALSE);
	msg->add_notify(msg, FALSE, QKD_NOTIFY_ANNOUNCE,
					chunk_from_chars('Q','K','D','A', 2, 1, 0xfa, 0xf2));
	l->message(l, ike_sa, msg, TRUE, FALSE);
	ok(!qkd_peer_get_announced(ike_sa->get_unique_id(ike_sa), &v, &f),
	   "only the plain (decrypted) hook call is used");
	msg->destroy(msg);
	msg = new_msg(CREATE_CHILD_SA, TRUE);
	msg->add_notify(msg, FALSE, QKD_NOTIFY_ANNOUNCE,
					chunk_from_chars('Q','K','D','A', 2, 1, 0xfa, 0xf2));
	l->message(l, ike_sa, msg, TRUE, TRUE);
	ok(!qkd_peer_get_announced(ike_sa->get_unique_id(ike_sa), &v, &f),
	   "an announcement in CREATE_CHILD_SA from a peer that did not "
	   "announce in IKE_AUTH is ignored");
	msg->destroy(msg);
	msg = new_msg(CREATE_CHILD_SA, TRUE);
	l->message(l, ike_sa, msg, FALSE, TRUE);
	ok(!msg->get_notify(msg, QKD_NOTIFY_ANNOUNCE), "no announcement in "
	   "CREATE_CHILD_SA to a peer that did not announce (it may not know it)");
	msg->destroy(msg);
	announce(ike_sa, QKD_ANNOUNCE_F_LINK | QKD_ANNOUNCE_F_REQUIRE);
	msg = new_msg(CREATE_CHILD_SA, FALSE);
	msg->add_notify(msg, FALSE, QKD_NOTIFY_ANNOUNCE,
					chunk_from_chars('Q','K','D','A', 2, 1, 0xfa, 0xf2));
	l->message(l, ike_sa, msg, TRUE, TRUE);
	ok(qkd_peer_get_announced(ike_sa->get_unique_id(ike_sa), &v, &f) &&
	   f == QKD_ANNOUNCE_F_LINK, "a CREATE_CHILD_SA message of a peer that "
	   "announced refreshes its flags (require -> prefer after its reload)");
	msg->destroy(msg);
	msg = new_msg(CREATE_CHILD_SA, TRUE);
	l->message(l, ike_sa, msg, FALSE, TRUE);
	n = msg->get_notify(msg, QKD_NOTIFY_ANNOUNCE);
	ok(n != NULL, "our CREATE_CHILD_SA messages to it carry the announcement "
	   "too");
	msg->destroy(msg);
	qkd_peer_gone(ike_sa->get_unique_id(ike_sa));

	/* IKE_SA rekey and destruction */
	{
		ike_sa_t *new = new_ike_sa(TRUE);

		announce(ike_sa, QKD_ANNOUNCE_F_LINK);
		l->ike_rekey(l, ike_sa, new);
		ok(qkd_peer_get_announced(new->get_unique_id(new), &v, &f) &&
		   f == QKD_ANNOUNCE_F_LINK, "ike_rekey: the new IKE_SA inherits the "
		   "announcement");
		l->ike_state_change(l, ike_sa, IKE_DESTROYING);
		ok(!qkd_peer_get_announced(ike_sa->get_unique_id(ike_sa), &v, &f),
		   "IKE_DESTROYING: forgotten");
		l->ike_state_change(l, new, IKE_DESTROYING);
		new->destroy(new);
	}
	ike_sa->destroy(ike_sa);
}

static void test_rekey_group(void)
{
	ike_sa_t *ike_sa;
	child_cfg_t *cfg, *cfg_qkd_only, *cfg_classic, *cfg_cfirst;
	child_sa_t *child, *new;
	u_int load;

	cfg = new_cfg("aes256gcm16-qkd, aes256gcm16-x25519");
	cfg_qkd_only = new_cfg("aes256gcm16-qkd");
	cfg_classic = new_cfg("aes256gcm16-x25519");
	cfg_cfirst = new_cfg("aes256gcm16-ecp256, aes256gcm16-qkd");

	configure("prefer", "rekey_first_child = yes");
	ike_sa = new_ike_sa(TRUE);

	/* the IKE_AUTH CHILD_SA (no KE), peer without the plugin */
	child = new_child(cfg, "aes256gcm16");
	load = lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM);
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == CURVE_25519,
	   "prefer, peer did not announce: the IKE_AUTH CHILD_SA's rekeys use "
	   "CURVE_25519 (not qkd, the config's first group)");
	ok(lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM) == load,
	   "and it is not rekeyed at once (it would be classical anyway)");
	child->destroy(child);

	child = new_child(cfg_cfirst, "aes256gcm16");
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == ECP_256_BIT, "the config's first classical group "
	   "(ecp256 before qkd)");
	child->destroy(child);

	child = new_child(cfg_classic, "aes256gcm16");
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == KE_NONE, "a config without qkd: proposal untouched");
	child->destroy(child);

	child = new_child(cfg_qkd_only, "aes256gcm16");
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == QKD_KE_METHOD, "qkd-only config: qkd (the key "
	   "exchange object refuses it locally, nothing is sent)");
	child->destroy(child);

	/* announced with a link */
	announce(ike_sa, QKD_ANNOUNCE_F_LINK);
	child = new_child(cfg_cfirst, "aes256gcm16");
	load = lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM);
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == QKD_KE_METHOD, "peer announced a link: rekeys use "
	   "qkd even with a classical group first in the config");
	ok(lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM) == load + 1,
	   "rekey_first_child: a rekey job queued at once");
	child->destroy(child);

	child = new_child(cfg, "aes256gcm16-ecp256");
	load = lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM);
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == QKD_KE_METHOD &&
	   lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM) == load + 1,
	   "a new CHILD_SA created with ecp256: rekeys use qkd, rekeyed at once");
	child->destroy(child);

	child = new_child(cfg, "aes256gcm16-qkd");
	load = lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM);
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == QKD_KE_METHOD &&
	   lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM) == load,
	   "created with qkd: no extra rekey");
	/* child_rekey: the new CHILD_SA negotiated ecp256 with an announced peer */
	new = new_child(cfg, "aes256gcm16-ecp256");
	l->child_rekey(l, ike_sa, child, new);
	ok(rekey_ke(new) == QKD_KE_METHOD, "child_rekey: the successor of a "
	   "CHILD_SA keyed classically goes back to qkd");
	new->destroy(new);
	child->destroy(child);

	/* announced without a link for us */
	announce(ike_sa, 0);
	child = new_child(cfg, "aes256gcm16");
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == CURVE_25519, "peer announced no link for us: "
	   "classical");
	child->destroy(child);

	/* the responder of IKE_AUTH rekeys too: same decision */
	qkd_peer_gone(ike_sa->get_unique_id(ike_sa));
	ike_sa->destroy(ike_sa);
	ike_sa = new_ike_sa(FALSE);
	child = new_child(cfg, "aes256gcm16");
	new = new_child(cfg, "aes256gcm16-qkd");
	l->child_updown(l, ike_sa, child, TRUE);
	l->child_rekey(l, ike_sa, child, new);
	ok(rekey_ke(child) == CURVE_25519 && rekey_ke(new) == CURVE_25519,
	   "IKE responder, peer did not announce: classical, also after a rekey "
	   "a v1 peer made with qkd");
	new->destroy(new);
	child->destroy(child);

	/* require without announcement: qkd stays (refused locally) */
	configure("require", "");
	child = new_child(cfg, "aes256gcm16");
	l->child_updown(l, ike_sa, child, TRUE);
	ok(rekey_ke(child) == QKD_KE_METHOD, "require, peer did not announce: "
	   "qkd (the rekey is refused locally, never classical)");
	child->destroy(child);

	ike_sa->destroy(ike_sa);
	cfg->destroy(cfg);
	cfg_qkd_only->destroy(cfg_qkd_only);
	cfg_classic->destroy(cfg_classic);
	cfg_cfirst->destroy(cfg_cfirst);
}

static void test_narrow(void)
{
	ike_sa_t *ike_sa;
	child_cfg_t *cfg;
	child_sa_t *child;
	linked_list_t *a, *b;
	u_int refused;
	const narrow_hook_t types[] = { NARROW_RESPONDER,
		NARROW_INITIATOR_POST_AUTH, NARROW_INITIATOR_POST_NOAUTH };
	int i;

	cfg = new_cfg("aes256gcm16-qkd, aes256gcm16-x25519");
	ike_sa = new_ike_sa(TRUE);
	configure("require", "");
	for (i = 0; i < 3; i++)
	{
		child = new_child(cfg, i == 2 ? "aes256gcm16" : "aes256gcm16-x25519");
		a = linked_list_create();
		b = linked_list_create();
		fill_ts(a, b);
		refused = qkd_counter(QKD_CNT_CHILD_REFUSED);
		l->narrow(l, ike_sa, child, types[i], a, b);
		ok(ts_count(a) == 0 && ts_count(b) == 0 &&
		   qkd_counter(QKD_CNT_CHILD_REFUSED) == refused + 1,
		   "require: a CHILD_SA with %s is vetoed (%s), counted",
		   i == 2 ? "no key exchange (IKE_AUTH)" : "CURVE_25519",
		   i == 0 ? "responder" : "initiator");
		flush_ts(a, b);
		child->destroy(child);
	}
	for (i = 0; i < 2; i++)
	{
		child = new_child(cfg, "aes256gcm16-qkd");
		a = linked_list_create();
		b = linked_list_create();
		fill_ts(a, b);
		l->narrow(l, ike_sa, child, types[i], a, b);
		ok(ts_count(a) == 1 && ts_count(b) == 1, "require: the qkd method "
		   "passes narrow (%s; the key exchange object enforces require)",
		   i == 0 ? "responder" : "initiator");
		flush_ts(a, b);
		child->destroy(child);
	}
	child = new_child(cfg, "aes256gcm16-x25519");
	a = linked_list_create();
	b = linked_list_create();
	fill_ts(a, b);
	l->narrow(l, ike_sa, child, NARROW_INITIATOR_PRE_AUTH, a, b);
	l->narrow(l, ike_sa, child, NARROW_RESPONDER_POST, a, b);
	ok(ts_count(a) == 1 && ts_count(b) == 1, "the PRE and RESPONDER_POST "
	   "hooks are left alone");
	configure("prefer", "");
	l->narrow(l, ike_sa, child, NARROW_RESPONDER, a, b);
	ok(ts_count(a) == 1 && ts_count(b) == 1, "prefer: CURVE_25519 passes");
	announce(ike_sa, QKD_ANNOUNCE_F_LINK | QKD_ANNOUNCE_F_REQUIRE);
	l->narrow(l, ike_sa, child, NARROW_RESPONDER, a, b);
	ok(ts_count(a) == 0, "prefer, but the peer announced require: vetoed");
	flush_ts(a, b);
	child->destroy(child);
	qkd_peer_gone(ike_sa->get_unique_id(ike_sa));
	ike_sa->destroy(ike_sa);
	cfg->destroy(cfg);
}

static void test_child_keys(void)
{
	ike_sa_t *ike_sa;
	child_cfg_t *cfg, *cfg_classic;
	child_sa_t *child;
	key_exchange_t *ke;
	u_int classical;

	cfg = new_cfg("aes256gcm16-qkd, aes256gcm16-x25519");
	cfg_classic = new_cfg("aes256gcm16-x25519");
	ike_sa = new_ike_sa(TRUE);
	configure("prefer", "");
	child = new_child(cfg, "aes256gcm16-x25519");
	ke = fake_ke(CURVE_25519);
	classical = qkd_counter(QKD_CNT_CLASSICAL);
	l->child_keys(l, ike_sa, child, TRUE, ke, chunk_empty, chunk_empty);
	l->child_keys(l, ike_sa, child, TRUE, NULL, chunk_empty, chunk_empty);
	ok(qkd_counter(QKD_CNT_CLASSICAL) == classical + 2,
	   "prefer: a CHILD_SA keyed with CURVE_25519 or without key exchange "
	   "is warned about and counted");
	child->destroy(child);
	child = new_child(cfg_classic, "aes256gcm16-x25519");
	l->child_keys(l, ike_sa, child, TRUE, ke, chunk_empty, chunk_empty);
	ok(qkd_counter(QKD_CNT_CLASSICAL) == classical + 2,
	   "a CHILD_SA whose config has no qkd: not counted");
	child->destroy(child);
	ke->destroy(ke);
	ike_sa->destroy(ike_sa);
	cfg->destroy(cfg);
	cfg_classic->destroy(cfg_classic);
}

static void test_strip(void)
{
	ike_sa_t *ike_sa;
	message_t *msg;
	char buf[512];

	ike_sa = new_ike_sa(TRUE);
	configure("prefer", "");

	msg = new_msg(CREATE_CHILD_SA, TRUE);
	add_sa(msg, "aes256gcm16-qkd, aes128gcm16-qkd-ecp256, aes256gcm16-x25519");
	l->message(l, ike_sa, msg, FALSE, TRUE);
	sa_str(msg, buf, sizeof(buf));
	ok(streq(buf, "1:ESP:AES_GCM_16_128/ECP_256/NO_EXT_SEQ "
					"2:ESP:AES_GCM_16_256/CURVE_25519/NO_EXT_SEQ"),
	   "request to a peer that did not announce: qkd removed, qkd-only "
	   "proposal dropped (not turned into one without PFS), renumbered (%s)",
	   buf);
	{
		sa_payload_t *sa = (sa_payload_t*)msg->get_payload(msg,
											PLV2_SECURITY_ASSOCIATION);
		linked_list_t *list = sa->get_proposals(sa);
		proposal_t *p;

		ok(list->get_first(list, (void**)&p) == SUCCESS &&
		   p->get_spi(p) == htonl(0xc0ffee01), "our SPI kept");
		list->destroy_offset(list, offsetof(proposal_t, destroy));
	}
	msg->destroy(msg);

	msg = new_msg(CREATE_CHILD_SA, TRUE);
	add_sa(msg, "aes256gcm16-qkd");
	l->message(l, ike_sa, msg, FALSE, TRUE);
	sa_str(msg, buf, sizeof(buf));
	ok(streq(buf, "1:ESP:AES_GCM_16_256/(64242)/NO_EXT_SEQ"),
	   "nothing classical left: unchanged (the KE object refuses before "
	   "such a request is sent)");
	msg->destroy(msg);

	announce(ike_sa, QKD_ANNOUNCE_F_LINK);
	msg = new_msg(CREATE_CHILD_SA, TRUE);
	add_sa(msg, "aes256gcm16-qkd, aes256gcm16-x25519");
	l->message(l, ike_sa, msg, FALSE, TRUE);
	sa_str(msg, buf, sizeof(buf));
	ok(streq(buf, "1:ESP:AES_GCM_16_256/(64242)/NO_EXT_SEQ "
					"2:ESP:AES_GCM_16_256/CURVE_25519/NO_EXT_SEQ"),
	   "request to a peer that announced: unchanged");
	msg->destroy(msg);
	qkd_peer_gone(ike_sa->get_unique_id(ike_sa));

	msg = new_msg(CREATE_CHILD_SA, FALSE);
	add_sa(msg, "aes256gcm16-qkd");
	l->message(l, ike_sa, msg, FALSE, TRUE);
	sa_str(msg, buf, sizeof(buf));
	ok(streq(buf, "1:ESP:AES_GCM_16_256/(64242)/NO_EXT_SEQ"),
	   "responses are left alone");
	msg->destroy(msg);
	ike_sa->destroy(ike_sa);
}

static void test_prefer_qkd(void)
{
	ike_sa_t *ike_sa;
	child_cfg_t *cfg, *cfg_classic;
	child_sa_t *child;
	message_t *msg;
	notify_payload_t *n;
	key_exchange_t *ke;
	char buf[512];
	int i;

	cfg = new_cfg("aes256gcm16-x25519, aes256gcm16-qkd");
	cfg_classic = new_cfg("aes256gcm16-x25519");
	ike_sa = new_ike_sa(FALSE);
	configure("prefer", "");
	for (i = 0; i < 2; i++)
	{
		child = new_child(i ? cfg_classic : cfg, "aes256gcm16");
		child->set_protocol(child, PROTO_ESP);
		child->register_outbound(child, chunk_empty, chunk_empty,
								 htonl(0xabcd0001), 0, FALSE, FALSE);
		ike_sa->add_child_sa(ike_sa, child);

		msg = new_msg(CREATE_CHILD_SA, TRUE);
		add_sa(msg, "aes256gcm16-x25519, aes128gcm16-x25519-qkd, "
			   "aes256gcm16-qkd");
		ke = fake_ke(QKD_KE_METHOD);
		msg->add_payload(msg, (payload_t*)ke_payload_create_from_key_exchange(
										PLV2_KEY_EXCHANGE, ke));
		ke->destroy(ke);
		n = notify_payload_create_from_protocol_and_type(PLV2_NOTIFY,
												PROTO_ESP, REKEY_SA);
		n->set_spi(n, htonl(0xabcd0001));
		msg->add_payload(msg, (payload_t*)n);
		l->message(l, ike_sa, msg, TRUE, TRUE);
		sa_str(msg, buf, sizeof(buf));
		if (!i)
		{
			ok(streq(buf, "2:ESP:AES_GCM_16_128/(64242)/CURVE_25519/NO_EXT_SEQ "
							"3:ESP:AES_GCM_16_256/(64242)/NO_EXT_SEQ"),
			   "peer's rekey with a qkd KE payload, our config offers qkd "
			   "(second): only its qkd proposals are considered, qkd first, "
			   "numbers kept (%s)", buf);
		}
		else
		{
			ok(streq(buf, "1:ESP:AES_GCM_16_256/CURVE_25519/NO_EXT_SEQ "
							"2:ESP:AES_GCM_16_128/CURVE_25519/(64242)/NO_EXT_SEQ "
							"3:ESP:AES_GCM_16_256/(64242)/NO_EXT_SEQ"),
			   "our config has no qkd: the request is left alone (%s)", buf);
		}
		msg->destroy(msg);
		ike_sa->destroy_child_sa(ike_sa, PROTO_ESP,
								 child->get_spi(child, TRUE));
	}
	ike_sa->destroy(ike_sa);
	cfg->destroy(cfg);
	cfg_classic->destroy(cfg_classic);
}

static void test_strip_in(void)
{
	ike_sa_t *ike_sa;
	message_t *msg;
	key_exchange_t *ke;
	char buf[512];
	int i;

	ike_sa = new_ike_sa(FALSE);
	configure("prefer", "");
	for (i = 0; i < 2; i++)
	{
		if (i)
		{
			announce(ike_sa, QKD_ANNOUNCE_F_LINK);
		}
		msg = new_msg(CREATE_CHILD_SA, TRUE);
		add_sa(msg, "aes256gcm16-qkd, aes256gcm16-x25519, "
			   "aes128gcm16-x25519-qkd");
		ke = fake_ke(CURVE_25519);
		msg->add_payload(msg, (payload_t*)ke_payload_create_from_key_exchange(
										PLV2_KEY_EXCHANGE, ke));
		ke->destroy(ke);
		l->message(l, ike_sa, msg, TRUE, TRUE);
		sa_str(msg, buf, sizeof(buf));
		if (!i)
		{
			ok(streq(buf, "2:ESP:AES_GCM_16_256/CURVE_25519/NO_EXT_SEQ "
							"3:ESP:AES_GCM_16_128/CURVE_25519/NO_EXT_SEQ"),
			   "request with CURVE_25519 from a peer that did not announce "
			   "(a v1 build): qkd not considered, numbers kept (%s)", buf);
		}
		else
		{
			ok(streq(buf, "1:ESP:AES_GCM_16_256/(64242)/NO_EXT_SEQ "
							"2:ESP:AES_GCM_16_256/CURVE_25519/NO_EXT_SEQ "
							"3:ESP:AES_GCM_16_128/CURVE_25519/(64242)/NO_EXT_SEQ"),
			   "the same from a peer that announced: left alone (we may "
			   "ask it for qkd) (%s)", buf);
		}
		msg->destroy(msg);
	}
	qkd_peer_gone(ike_sa->get_unique_id(ike_sa));
	ike_sa->destroy(ike_sa);
}

static void test_ike_rekey_group(void)
{
	ike_cfg_create_t data = {
		.version = IKEV2,
		.local = "192.0.2.1",
		.remote = "192.0.2.2",
		.local_port = 500,
		.remote_port = 500,
	};
	ike_cfg_t *ike_cfg;
	ike_sa_t *ike_sa, *new;
	proposal_t *p;
	u_int load;
	int i;

	configure("prefer", "rekey_first_ike = yes");
	for (i = 0; i < 2; i++)
	{
		ike_cfg = ike_cfg_create(&data);
		ike_cfg->add_proposal(ike_cfg, proposal_create_from_string(PROTO_IKE,
										"aes256-sha256-x25519"));
		ike_cfg->add_proposal(ike_cfg, proposal_create_from_string(PROTO_IKE,
										"aes256-sha256-qkd"));
		ike_sa = new_ike_sa(TRUE);
		ike_sa->set_ike_cfg(ike_sa, ike_cfg);
		p = proposal_create_from_string(PROTO_IKE, "aes256-sha256-x25519");
		ike_sa->set_proposal(ike_sa, p);
		p->destroy(p);
		if (i)
		{
			announce(ike_sa, QKD_ANNOUNCE_F_LINK);
		}
		load = lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM);
		l->ike_updown(l, ike_sa, TRUE);
		p = ike_sa->get_proposal(ike_sa);
		if (!i)
		{
			ok(first_ke_of(p) == CURVE_25519 &&
			   lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM) ==
			   load, "IKE_SA with a peer that did not announce: its rekeys "
			   "keep CURVE_25519, no rekey_first_ike");
		}
		else
		{
			ok(first_ke_of(p) == QKD_KE_METHOD &&
			   lib->processor->get_job_load(lib->processor, JOB_PRIO_MEDIUM) ==
			   load + 1, "IKE_SA with a peer that announced a link, qkd in "
			   "the IKE proposals: rekeys use qkd, rekey_first_ike queued");
			new = new_ike_sa(TRUE);
			new->set_ike_cfg(new, ike_cfg);
			p = proposal_create_from_string(PROTO_IKE, "aes256-sha256-x25519");
			new->set_proposal(new, p);
			p->destroy(p);
			l->ike_rekey(l, ike_sa, new);
			ok(first_ke_of(new->get_proposal(new)) == QKD_KE_METHOD,
			   "ike_rekey: the new IKE_SA (rekeyed classically) goes back to "
			   "qkd");
			qkd_peer_gone(new->get_unique_id(new));
			new->destroy(new);
		}
		qkd_peer_gone(ike_sa->get_unique_id(ike_sa));
		ike_sa->destroy(ike_sa);
		ike_cfg->destroy(ike_cfg);
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!library_init(NULL, "test"))
	{
		printf("Bail out! library_init\n");
		return 1;
	}
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
	/* normally created by charon->initialize() with the plugins */
	charon->child_sa_manager = child_sa_manager_create();
	lib->proposal->register_token(lib->proposal, QKD_KE_TOKEN,
								  KEY_EXCHANGE_METHOD, QKD_KE_METHOD, 0);
	me = host_create_from_string("192.0.2.1", 500);
	peer = host_create_from_string("192.0.2.2", 500);
	peer_id = identification_create_from_string("gw-b");
	links = qkd_links_create();
	qkd_ke_set_links(links);
	ql = qkd_listener_create(links);
	l = &ql->listener;

	test_announcement();
	test_rekey_group();
	test_narrow();
	test_child_keys();
	test_strip();
	test_prefer_qkd();
	test_strip_in();
	test_ike_rekey_group();
	ok(takes == 0, "no QKD key was taken by any of this");
	test_child_policy();

	ql->destroy(ql);
	qkd_ke_set_links(NULL);
	links->destroy(links);
	me->destroy(me);
	peer->destroy(peer);
	peer_id->destroy(peer_id);
	charon->child_sa_manager->destroy(charon->child_sa_manager);
	charon->child_sa_manager = NULL;
	libcharon_deinit();
	library_deinit();
	return tap_done();
}
