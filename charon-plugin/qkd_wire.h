/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_wire qkd_wire
 * @{ @ingroup qkd
 *
 * Encoding and strict parsing of the Key Exchange Data of the qkd method.
 * Pure C with no strongSwan dependency, so it is unit-testable on the host.
 *
 * All messages start with a 4 byte header:
 *
 *      0               1               2               3
 *     +---------------+---------------+---------------+---------------+
 *     |   version=1   |     type      |     flags     |  reserved=0   |
 *     +---------------+---------------+---------------+---------------+
 *     |                 QKD key ID (16 bytes, ETSI key_ID)            |
 *     +---------------------------------------------------------------+
 *     | type RESP only: key confirmation tag (16 bytes)               |
 *     +---------------------------------------------------------------+
 *     |                 X25519 public value (32 bytes)                |
 *     +---------------------------------------------------------------+
 *
 * type INIT (1), 52 bytes: sent by the exchange initiator, which took the
 *   oldest initiator-role (ETSI master) key from its link and sends its ID.
 *   Flag NO_KEY: it has no QKD key (policy prefer); the ID is then zero.
 * type RESP (2), 68 bytes: sent by the responder, which took the
 *   responder-role key of that ID.  It echoes the ID.  Flag NO_KEY echoes
 *   the initiator's; flag UNAVAILABLE: it could not get the key (policy
 *   prefer).  If neither is set, the tag is
 *     HMAC-SHA256(TK, label || INIT message || RESP message with a zero tag)
 *     truncated to 16 bytes, with TK = HMAC-SHA256(QKD key,
 *     "qkd-ipsec confirm v1")
 *   (key separation: the QKD key itself is only used in the shared secret),
 *   otherwise the tag is zero and both sides use X25519 alone.
 * Flag REQUIRE: the sender will not fall back to X25519 alone (policy
 *   "require", or a "sticky" link whose IKE_SA already used QKD).  A
 *   receiver never falls back when the peer's message carries it: a prefer
 *   responder refuses instead of answering UNAVAILABLE, a prefer initiator
 *   refuses a RESP with REQUIRE and NO_KEY/UNAVAILABLE.
 *
 * The tag derivation (TK) changed without a format change: builds of this
 * plugin from before the change compute another tag, so a mixed pair fails
 * the key confirmation (no silent mis-keying).
 *
 * Version 2 of the KE data (plugin protocol v3, used only when both peers
 * announced v3 or later in IKE_AUTH, see below; never in IKE_SA_INIT, whose
 * KE data stays version 1): a next key ID follows the key ID.
 *
 *     +---------------+---------------+---------------+---------------+
 *     |   version=2   |     type      |     flags     |  reserved=0   |
 *     +---------------+---------------+---------------+---------------+
 *     |                 QKD key ID (16 bytes)                         |
 *     +---------------------------------------------------------------+
 *     |                 next key ID (16 bytes, zero: none)            |
 *     +---------------------------------------------------------------+
 *     |     key confirmation tag (16 bytes, INIT and RESP)            |
 *     +---------------------------------------------------------------+
 *     |                 X25519 public value (32 bytes)                |
 *     +---------------------------------------------------------------+
 *
 * INIT and RESP are 84 bytes each.  The next key ID names the initiator-role key
 * the sender reserved in its module for the next QKD exchange it will
 * initiate on this IKE_SA (any CHILD_SA, or the IKE_SA's own rekey; carried
 * over to the new IKE_SA when the IKE_SA is rekeyed).  The receiver asks
 * its module for that responder key ahead of time (take-flag want: its
 * agent fetches it with dec_keys) without taking it, so that exchange does
 * not wait for the KME.  It is a hint only: the key ID of an INIT is
 * always the key used (the reserved key may have expired or been flushed,
 * and the sender then takes its oldest key: the receiver takes whatever
 * ID the INIT names, as in version 1).  Flags, ID and tag rules are those
 * of version 1; the next ID is never the message's own key ID.  The RESP
 * tag's transcript is the version 2 messages as sent (next IDs and the
 * INIT's tag included).
 *
 * Key confirmation both ways (version 2): an INIT that names a key carries
 * the initiator's tag
 *     HMAC-SHA256(TK, label-init || INIT message with a zero tag)
 *   truncated to 16 bytes (label-init "qkd-ipsec initiator key
 *   confirmation v1", TK as above); an INIT with NO_KEY has a zero tag.
 * The responder checks it right after it took the key of that ID and
 * before it accepts the exchange: on a mismatch it refuses the
 * CREATE_CHILD_SA (strongSwan answers NO_PROPOSAL_CHOSEN and installs
 * nothing), never falls back, and the initiator keeps the old SA.  So a
 * key that differs between the sites is detected by the responder without
 * any new SA on either side; the RESP tag still lets the initiator detect
 * a broken or lying responder.  Version 1 (IKE_SA_INIT, v2 peers) is
 * unchanged: only the responder's tag.  A receiver
 * refuses KE data of another version than the one the announcements
 * negotiated (no downgrade of the format inside an exchange).
 */
#ifndef QKD_WIRE_H_
#define QKD_WIRE_H_

#include <stddef.h>
#include <stdint.h>

#define QKD_WIRE_VERSION		1
/** KE data version with the next key ID (plugin protocol v3) */
#define QKD_WIRE_VERSION_NEXT	2
#define QKD_WIRE_ID_LEN			16
#define QKD_WIRE_TAG_LEN		16
#define QKD_WIRE_X25519_LEN		32
#define QKD_WIRE_HDR_LEN		4
#define QKD_WIRE_INIT_LEN		(QKD_WIRE_HDR_LEN + QKD_WIRE_ID_LEN + \
								 QKD_WIRE_X25519_LEN)
#define QKD_WIRE_RESP_LEN		(QKD_WIRE_HDR_LEN + QKD_WIRE_ID_LEN + \
								 QKD_WIRE_TAG_LEN + QKD_WIRE_X25519_LEN)
/* version 2 (QKD_WIRE_VERSION_NEXT): a next key ID more */
#define QKD_WIRE_INIT_LEN_NEXT	(QKD_WIRE_INIT_LEN + QKD_WIRE_ID_LEN + \
								 QKD_WIRE_TAG_LEN)
#define QKD_WIRE_RESP_LEN_NEXT	(QKD_WIRE_RESP_LEN + QKD_WIRE_ID_LEN)
#define QKD_WIRE_MAX_LEN		QKD_WIRE_RESP_LEN_NEXT

/** Label prefixed to the key confirmation transcript */
#define QKD_WIRE_TAG_LABEL		"qkd-ipsec key confirmation v1"
#define QKD_WIRE_TAG_LABEL_LEN	(sizeof(QKD_WIRE_TAG_LABEL) - 1)
/** Label of the initiator's key confirmation (version 2 INIT only) */
#define QKD_WIRE_TAG_LABEL_INIT	"qkd-ipsec initiator key confirmation v1"
#define QKD_WIRE_TAG_LABEL_INIT_LEN	(sizeof(QKD_WIRE_TAG_LABEL_INIT) - 1)
/** Length of the initiator's transcript (version 2) */
#define QKD_WIRE_TRANSCRIPT_INIT_LEN	(QKD_WIRE_TAG_LABEL_INIT_LEN + \
										 QKD_WIRE_INIT_LEN_NEXT)
/** Length of the transcript the tag is computed over (version 1) */
#define QKD_WIRE_TRANSCRIPT_LEN	(QKD_WIRE_TAG_LABEL_LEN + QKD_WIRE_INIT_LEN + \
								 QKD_WIRE_RESP_LEN)
/** ... and its largest length (version 2) */
#define QKD_WIRE_TRANSCRIPT_MAX	(QKD_WIRE_TAG_LABEL_LEN + \
								 QKD_WIRE_INIT_LEN_NEXT + \
								 QKD_WIRE_RESP_LEN_NEXT)

enum qkd_wire_type {
	QKD_WIRE_INIT = 1,
	QKD_WIRE_RESP = 2,
};

/** the initiator has no QKD key (ID is zero); both use X25519 alone */
#define QKD_WIRE_F_NO_KEY		0x01
/** the responder could not get the key of the ID; both use X25519 alone */
#define QKD_WIRE_F_UNAVAILABLE	0x02
/** the sender never falls back; the receiver must not either */
#define QKD_WIRE_F_REQUIRE		0x80
#define QKD_WIRE_F_ALL_INIT		(QKD_WIRE_F_NO_KEY | QKD_WIRE_F_REQUIRE)
#define QKD_WIRE_F_ALL_RESP		(QKD_WIRE_F_NO_KEY | QKD_WIRE_F_UNAVAILABLE | \
								 QKD_WIRE_F_REQUIRE)

/** A decoded message (points into nothing: all fields are copies) */
struct qkd_wire_msg {
	uint8_t version;
	uint8_t type;
	uint8_t flags;
	uint8_t id[QKD_WIRE_ID_LEN];
	uint8_t next_id[QKD_WIRE_ID_LEN];	/* version 2 only; zero: none */
	uint8_t tag[QKD_WIRE_TAG_LEN];		/* RESP, and INIT of version 2 */
	uint8_t x25519[QKD_WIRE_X25519_LEN];
};

/** Parse results (0 is success) */
enum qkd_wire_err {
	QKD_WIRE_OK = 0,
	QKD_WIRE_E_LENGTH,		/* wrong length (truncated or trailing data) */
	QKD_WIRE_E_VERSION,		/* unsupported version */
	QKD_WIRE_E_TYPE,		/* not the expected message type */
	QKD_WIRE_E_RESERVED,	/* reserved byte not zero */
	QKD_WIRE_E_FLAGS,		/* unknown or contradictory flags */
	QKD_WIRE_E_ID,			/* ID zero with a key / non-zero without */
	QKD_WIRE_E_TAG,			/* tag non-zero although no key is used */
	QKD_WIRE_E_X25519,		/* all-zero X25519 value */
	QKD_WIRE_E_MISMATCH,	/* RESP does not answer this INIT */
	QKD_WIRE_E_ARG,			/* invalid arguments to an encoder */
	QKD_WIRE_E_MAGIC,		/* announcement: not ours (magic) */
	QKD_WIRE_E_METHOD,		/* announcement: another method number */
};

/** Human readable text of an enum qkd_wire_err */
const char *qkd_wire_strerror(int err);

/**
 * Encode a message.
 *
 * @param msg		message (version 0 or 1: version 1 is written, and
 *					next_id must be zero, the tag of an INIT is ignored;
 *					QKD_WIRE_VERSION_NEXT: version 2 with next_id, and the
 *					tag of INIT and RESP)
 * @param out		buffer
 * @param outlen	size of buffer
 * @return			bytes written, or 0 if the buffer is too small or msg is
 *					not valid (same checks as qkd_wire_parse)
 */
size_t qkd_wire_encode(const struct qkd_wire_msg *msg, uint8_t *out,
					   size_t outlen);

/**
 * Strictly parse a message of the expected type, of version 1 or 2 (the
 * caller checks msg->version against the negotiated one).
 *
 * @param buf		received KE data
 * @param len		its length
 * @param type		expected type
 * @param msg		filled on success (zeroed on failure)
 * @return			enum qkd_wire_err
 */
int qkd_wire_parse(const uint8_t *buf, size_t len, enum qkd_wire_type type,
				   struct qkd_wire_msg *msg);

/**
 * Check that a parsed RESP answers a parsed INIT (same ID, same version,
 * NO_KEY echoed).
 *
 * @return			enum qkd_wire_err
 */
int qkd_wire_check_resp(const struct qkd_wire_msg *init,
						const struct qkd_wire_msg *resp);

/**
 * TRUE if this RESP means both sides mix a QKD key into the secret.
 */
int qkd_wire_uses_key(const struct qkd_wire_msg *resp);

/**
 * Build the key confirmation transcript: label || INIT || RESP (zero tag).
 *
 * @param init		INIT message
 * @param resp		RESP message (its tag is ignored)
 * @param out		buffer (QKD_WIRE_TRANSCRIPT_MAX bytes fit any version)
 * @return			its length (QKD_WIRE_TRANSCRIPT_LEN for version 1), or 0
 *					on invalid messages, mixed versions or a short buffer
 */
size_t qkd_wire_transcript(const struct qkd_wire_msg *init,
						   const struct qkd_wire_msg *resp, uint8_t *out,
						   size_t outlen);

/**
 * Build the initiator's key confirmation transcript (version 2 INIT that
 * names a key): label-init || INIT with a zero tag.
 *
 * @param init		INIT message (its tag is ignored)
 * @param out		buffer (QKD_WIRE_TRANSCRIPT_INIT_LEN bytes)
 * @return			QKD_WIRE_TRANSCRIPT_INIT_LEN, or 0 for a version 1 INIT
 *					(it has no tag), an INIT without a key (NO_KEY), an
 *					invalid message or a short buffer
 */
size_t qkd_wire_init_transcript(const struct qkd_wire_msg *init, uint8_t *out,
								size_t outlen);

/**
 * Format a key ID as 8-4-4-4-12 UUID text (37 bytes with NUL).
 */
void qkd_wire_id_str(const uint8_t id[QKD_WIRE_ID_LEN], char out[37]);

/*
 * Announcement (plugin protocol version 2 and later): the Notification Data of the
 * private-use status notify QKD_NOTIFY_ANNOUNCE (qkd_method.h) that each side
 * adds to its IKE_AUTH messages (encrypted and integrity-protected by the
 * IKE_SA; the peer is authenticated in the same exchange):
 *
 *      0               1               2               3
 *     +---------------+---------------+---------------+---------------+
 *     |      'Q'      |      'K'      |      'D'      |      'A'      |
 *     +---------------+---------------+---------------+---------------+
 *     |  version=3    |     flags     |   key exchange method (64242)  |
 *     +---------------+---------------+---------------+---------------+
 *
 * The magic tells this notify from another implementation's use of the same
 * private number.  version: the highest plugin protocol version the sender
 * speaks (v1 = builds without an announcement); both use the lower of the
 * two.  flags: LINK = the sender has a QKD link (key store) for the
 * receiver; REQUIRE = the sender's policy for every CHILD_SA with the
 * receiver is require (not sent if a child rule of the link says prefer:
 * a per-CHILD_SA require travels in that exchange's KE data).  The
 * method is the transform ID the sender's build registers; a peer with
 * another number cannot use qkd with us.  Version 2 and 3 messages are
 * exactly 8 bytes with no other flags; for higher versions longer data and
 * unknown flags are ignored (a later peer must speak ours to us).
 *
 * Version 3 (this build) adds nothing to the announcement: it says the
 * sender's CREATE_CHILD_SA KE data may be version 2 (next key ID, above).
 * With a v2 peer both use v2 (version 1 KE data, no next ID), unchanged.
 */
#define QKD_ANNOUNCE_MAGIC		"QKDA"
#define QKD_ANNOUNCE_VERSION	3
/** the lowest version an announcement can carry */
#define QKD_ANNOUNCE_VERSION_MIN	2
/** the first protocol version with next key IDs (KE data version 2) */
#define QKD_PROTO_NEXT_ID		3
#define QKD_ANNOUNCE_LEN		8
#define QKD_ANNOUNCE_F_LINK		0x01
#define QKD_ANNOUNCE_F_REQUIRE	0x02
#define QKD_ANNOUNCE_F_ALL		(QKD_ANNOUNCE_F_LINK | QKD_ANNOUNCE_F_REQUIRE)

/** A decoded announcement */
struct qkd_announce {
	uint8_t version;
	uint8_t flags;
	uint16_t method;
};

/**
 * Encode our announcement (version QKD_ANNOUNCE_VERSION).
 *
 * @return			QKD_ANNOUNCE_LEN, or 0 if outlen is too small or flags
 *					are unknown
 */
size_t qkd_announce_encode(uint8_t flags, uint16_t method, uint8_t *out,
						   size_t outlen);

/**
 * Encode an announcement of a lower version (QKD_ANNOUNCE_VERSION_MIN ..
 * QKD_ANNOUNCE_VERSION): charon.plugins.qkd.next_key_ids = no announces 2.
 *
 * @return			QKD_ANNOUNCE_LEN, or 0 (also for a version out of range)
 */
size_t qkd_announce_encode_version(uint8_t version, uint8_t flags,
								   uint16_t method, uint8_t *out,
								   size_t outlen);

/**
 * Strictly parse an announcement.
 *
 * @param want_method	our method number (E_METHOD if the peer's differs)
 * @param ann			filled on success (version is the peer's; the caller
 *						uses min(peer, ours)), zeroed on failure
 * @return				QKD_WIRE_OK, E_LENGTH, E_MAGIC, E_VERSION (0 or 1),
 *						E_FLAGS (unknown flags in a version 2 or 3 message) or
 *						E_METHOD
 */
int qkd_announce_parse(const uint8_t *buf, size_t len, uint16_t want_method,
					   struct qkd_announce *ann);

#endif /** QKD_WIRE_H_ @}*/
