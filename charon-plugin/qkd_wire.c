/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Key Exchange Data of the qkd method: encoding and strict parsing.
 * No strongSwan dependency (host unit tests build this file alone).
 */
#include "qkd_wire.h"

#include <stdio.h>
#include <string.h>

static const char *const errstr[] = {
	[QKD_WIRE_OK] = "ok",
	[QKD_WIRE_E_LENGTH] = "wrong length",
	[QKD_WIRE_E_VERSION] = "unsupported version",
	[QKD_WIRE_E_TYPE] = "unexpected message type",
	[QKD_WIRE_E_RESERVED] = "reserved byte not zero",
	[QKD_WIRE_E_FLAGS] = "unknown or contradictory flags",
	[QKD_WIRE_E_ID] = "key ID inconsistent with flags",
	[QKD_WIRE_E_TAG] = "tag present although no key is used",
	[QKD_WIRE_E_X25519] = "invalid X25519 value",
	[QKD_WIRE_E_MISMATCH] = "response does not match request",
	[QKD_WIRE_E_ARG] = "invalid argument",
	[QKD_WIRE_E_MAGIC] = "not a qkd-ipsec announcement (magic)",
	[QKD_WIRE_E_METHOD] = "peer uses another key exchange method number",
};

const char *qkd_wire_strerror(int err)
{
	if (err < 0 || (size_t)err >= sizeof(errstr) / sizeof(errstr[0]) ||
		!errstr[err])
	{
		return "unknown error";
	}
	return errstr[err];
}

static int all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
	{
		acc |= p[i];
	}
	return acc == 0;
}

static size_t type_len(int type, int version)
{
	/* version 2: a next ID more, and INIT carries a tag too */
	size_t next = version == QKD_WIRE_VERSION_NEXT ? QKD_WIRE_ID_LEN : 0;
	size_t itag = version == QKD_WIRE_VERSION_NEXT ? QKD_WIRE_TAG_LEN : 0;

	if (version != QKD_WIRE_VERSION && version != QKD_WIRE_VERSION_NEXT)
	{
		return 0;
	}
	switch (type)
	{
		case QKD_WIRE_INIT:
			return QKD_WIRE_INIT_LEN + next + itag;
		case QKD_WIRE_RESP:
			return QKD_WIRE_RESP_LEN + next;
		default:
			return 0;
	}
}

/** the version an encoder writes: 0 (unset) is version 1 */
static int enc_version(const struct qkd_wire_msg *msg)
{
	return msg->version ? msg->version : QKD_WIRE_VERSION;
}

/** semantic checks shared by encoder and parser */
static int validate(const struct qkd_wire_msg *msg, int type)
{
	int no_key;

	if (msg->type != type || !type_len(type, QKD_WIRE_VERSION))
	{
		return QKD_WIRE_E_TYPE;
	}
	no_key = (msg->flags & QKD_WIRE_F_NO_KEY) != 0;
	if (type == QKD_WIRE_INIT)
	{
		if (msg->flags & ~QKD_WIRE_F_ALL_INIT)
		{
			return QKD_WIRE_E_FLAGS;
		}
	}
	else
	{
		if (msg->flags & ~QKD_WIRE_F_ALL_RESP)
		{
			return QKD_WIRE_E_FLAGS;
		}
		if (no_key && (msg->flags & QKD_WIRE_F_UNAVAILABLE))
		{
			return QKD_WIRE_E_FLAGS;
		}
	}
	if (no_key != all_zero(msg->id, QKD_WIRE_ID_LEN))
	{
		return QKD_WIRE_E_ID;
	}
	if (enc_version(msg) != QKD_WIRE_VERSION_NEXT &&
		!all_zero(msg->next_id, QKD_WIRE_ID_LEN))
	{	/* only version 2 carries a next ID */
		return QKD_WIRE_E_ARG;
	}
	if (!all_zero(msg->next_id, QKD_WIRE_ID_LEN) &&
		!memcmp(msg->next_id, msg->id, QKD_WIRE_ID_LEN))
	{	/* the key of this exchange cannot be the next one */
		return QKD_WIRE_E_ID;
	}
	if (type == QKD_WIRE_RESP && !qkd_wire_uses_key(msg) &&
		!all_zero(msg->tag, QKD_WIRE_TAG_LEN))
	{
		return QKD_WIRE_E_TAG;
	}
	if (type == QKD_WIRE_INIT && enc_version(msg) == QKD_WIRE_VERSION_NEXT &&
		no_key && !all_zero(msg->tag, QKD_WIRE_TAG_LEN))
	{	/* version 2 INIT: the initiator's tag only with a key */
		return QKD_WIRE_E_TAG;
	}
	if (all_zero(msg->x25519, QKD_WIRE_X25519_LEN))
	{
		return QKD_WIRE_E_X25519;
	}
	return QKD_WIRE_OK;
}

int qkd_wire_uses_key(const struct qkd_wire_msg *resp)
{
	return !(resp->flags & (QKD_WIRE_F_NO_KEY | QKD_WIRE_F_UNAVAILABLE));
}

size_t qkd_wire_encode(const struct qkd_wire_msg *msg, uint8_t *out,
					   size_t outlen)
{
	size_t len, pos = 0;

	if (!msg || !out)
	{
		return 0;
	}
	len = type_len(msg->type, enc_version(msg));
	if (!len || outlen < len || validate(msg, msg->type) != QKD_WIRE_OK)
	{
		return 0;
	}
	out[pos++] = enc_version(msg);
	out[pos++] = msg->type;
	out[pos++] = msg->flags;
	out[pos++] = 0;
	memcpy(out + pos, msg->id, QKD_WIRE_ID_LEN);
	pos += QKD_WIRE_ID_LEN;
	if (enc_version(msg) == QKD_WIRE_VERSION_NEXT)
	{
		memcpy(out + pos, msg->next_id, QKD_WIRE_ID_LEN);
		pos += QKD_WIRE_ID_LEN;
	}
	if (msg->type == QKD_WIRE_RESP ||
		enc_version(msg) == QKD_WIRE_VERSION_NEXT)
	{
		memcpy(out + pos, msg->tag, QKD_WIRE_TAG_LEN);
		pos += QKD_WIRE_TAG_LEN;
	}
	memcpy(out + pos, msg->x25519, QKD_WIRE_X25519_LEN);
	pos += QKD_WIRE_X25519_LEN;
	return pos;
}

int qkd_wire_parse(const uint8_t *buf, size_t len, enum qkd_wire_type type,
				   struct qkd_wire_msg *msg)
{
	size_t want, pos = 0;
	int err;

	if (!msg)
	{
		return QKD_WIRE_E_ARG;
	}
	memset(msg, 0, sizeof(*msg));
	if (!type_len(type, QKD_WIRE_VERSION))
	{
		return QKD_WIRE_E_ARG;
	}
	if (!buf || len < QKD_WIRE_HDR_LEN)
	{
		return QKD_WIRE_E_LENGTH;
	}
	/* check the version first, a later version may have another length */
	want = type_len(type, buf[0]);
	if (!want)
	{
		return QKD_WIRE_E_VERSION;
	}
	if (buf[1] != type)
	{
		return QKD_WIRE_E_TYPE;
	}
	if (len != want)
	{
		return QKD_WIRE_E_LENGTH;
	}
	if (buf[3] != 0)
	{
		return QKD_WIRE_E_RESERVED;
	}
	msg->version = buf[pos++];
	msg->type = buf[pos++];
	msg->flags = buf[pos++];
	pos++;
	memcpy(msg->id, buf + pos, QKD_WIRE_ID_LEN);
	pos += QKD_WIRE_ID_LEN;
	if (msg->version == QKD_WIRE_VERSION_NEXT)
	{
		memcpy(msg->next_id, buf + pos, QKD_WIRE_ID_LEN);
		pos += QKD_WIRE_ID_LEN;
	}
	if (type == QKD_WIRE_RESP || msg->version == QKD_WIRE_VERSION_NEXT)
	{
		memcpy(msg->tag, buf + pos, QKD_WIRE_TAG_LEN);
		pos += QKD_WIRE_TAG_LEN;
	}
	memcpy(msg->x25519, buf + pos, QKD_WIRE_X25519_LEN);
	err = validate(msg, type);
	if (err != QKD_WIRE_OK)
	{
		memset(msg, 0, sizeof(*msg));
	}
	return err;
}

int qkd_wire_check_resp(const struct qkd_wire_msg *init,
						const struct qkd_wire_msg *resp)
{
	if (!init || !resp || init->type != QKD_WIRE_INIT ||
		resp->type != QKD_WIRE_RESP)
	{
		return QKD_WIRE_E_ARG;
	}
	if (memcmp(init->id, resp->id, QKD_WIRE_ID_LEN) != 0 ||
		enc_version(init) != enc_version(resp))
	{
		return QKD_WIRE_E_MISMATCH;
	}
	if ((init->flags & QKD_WIRE_F_NO_KEY) != (resp->flags & QKD_WIRE_F_NO_KEY))
	{
		return QKD_WIRE_E_MISMATCH;
	}
	return QKD_WIRE_OK;
}

size_t qkd_wire_transcript(const struct qkd_wire_msg *init,
						   const struct qkd_wire_msg *resp, uint8_t *out,
						   size_t outlen)
{
	struct qkd_wire_msg r;
	size_t pos = 0, n, want;

	if (!init || !resp || !out || enc_version(init) != enc_version(resp))
	{
		return 0;
	}
	want = QKD_WIRE_TAG_LABEL_LEN + type_len(QKD_WIRE_INIT, enc_version(init))
		   + type_len(QKD_WIRE_RESP, enc_version(resp));
	if (outlen < want)
	{
		return 0;
	}
	memcpy(out, QKD_WIRE_TAG_LABEL, QKD_WIRE_TAG_LABEL_LEN);
	pos += QKD_WIRE_TAG_LABEL_LEN;
	n = qkd_wire_encode(init, out + pos, outlen - pos);
	if (!n || init->type != QKD_WIRE_INIT)
	{
		return 0;
	}
	pos += n;
	r = *resp;
	memset(r.tag, 0, sizeof(r.tag));
	n = qkd_wire_encode(&r, out + pos, outlen - pos);
	memset(&r, 0, sizeof(r));
	if (!n || resp->type != QKD_WIRE_RESP)
	{
		return 0;
	}
	pos += n;
	return pos == want ? pos : 0;
}

size_t qkd_wire_init_transcript(const struct qkd_wire_msg *init, uint8_t *out,
								size_t outlen)
{
	struct qkd_wire_msg i;
	size_t n;

	if (!init || !out || init->type != QKD_WIRE_INIT ||
		enc_version(init) != QKD_WIRE_VERSION_NEXT ||
		(init->flags & QKD_WIRE_F_NO_KEY) ||
		outlen < QKD_WIRE_TRANSCRIPT_INIT_LEN)
	{
		return 0;
	}
	memcpy(out, QKD_WIRE_TAG_LABEL_INIT, QKD_WIRE_TAG_LABEL_INIT_LEN);
	i = *init;
	memset(i.tag, 0, sizeof(i.tag));
	n = qkd_wire_encode(&i, out + QKD_WIRE_TAG_LABEL_INIT_LEN,
						outlen - QKD_WIRE_TAG_LABEL_INIT_LEN);
	memset(&i, 0, sizeof(i));
	if (n != QKD_WIRE_INIT_LEN_NEXT)
	{
		return 0;
	}
	return QKD_WIRE_TRANSCRIPT_INIT_LEN;
}

void qkd_wire_id_str(const uint8_t id[QKD_WIRE_ID_LEN], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
			 "%02x%02x%02x%02x%02x%02x", id[0], id[1], id[2], id[3], id[4],
			 id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12],
			 id[13], id[14], id[15]);
}

size_t qkd_announce_encode(uint8_t flags, uint16_t method, uint8_t *out,
						   size_t outlen)
{
	return qkd_announce_encode_version(QKD_ANNOUNCE_VERSION, flags, method,
									   out, outlen);
}

size_t qkd_announce_encode_version(uint8_t version, uint8_t flags,
								   uint16_t method, uint8_t *out,
								   size_t outlen)
{
	if (!out || outlen < QKD_ANNOUNCE_LEN || (flags & ~QKD_ANNOUNCE_F_ALL) ||
		version < QKD_ANNOUNCE_VERSION_MIN || version > QKD_ANNOUNCE_VERSION)
	{
		return 0;
	}
	memcpy(out, QKD_ANNOUNCE_MAGIC, 4);
	out[4] = version;
	out[5] = flags;
	out[6] = method >> 8;
	out[7] = method & 0xff;
	return QKD_ANNOUNCE_LEN;
}

int qkd_announce_parse(const uint8_t *buf, size_t len, uint16_t want_method,
					   struct qkd_announce *ann)
{
	struct qkd_announce a;

	memset(ann, 0, sizeof(*ann));
	if (!buf || len < QKD_ANNOUNCE_LEN)
	{
		return QKD_WIRE_E_LENGTH;
	}
	if (memcmp(buf, QKD_ANNOUNCE_MAGIC, 4))
	{
		return QKD_WIRE_E_MAGIC;
	}
	a.version = buf[4];
	a.flags = buf[5];
	a.method = (uint16_t)(buf[6] << 8 | buf[7]);
	if (a.version < QKD_ANNOUNCE_VERSION_MIN)
	{	/* v1 never announced: 0 and 1 are invalid */
		return QKD_WIRE_E_VERSION;
	}
	if (a.version <= QKD_ANNOUNCE_VERSION)
	{	/* v2 and v3 have the same layout and flags */
		if (len != QKD_ANNOUNCE_LEN)
		{
			return QKD_WIRE_E_LENGTH;
		}
		if (a.flags & ~QKD_ANNOUNCE_F_ALL)
		{
			return QKD_WIRE_E_FLAGS;
		}
	}
	else
	{	/* a later version: speak ours, ignore what we do not know */
		a.flags &= QKD_ANNOUNCE_F_ALL;
	}
	if (a.method != want_method)
	{
		return QKD_WIRE_E_METHOD;
	}
	*ann = a;
	return QKD_WIRE_OK;
}
