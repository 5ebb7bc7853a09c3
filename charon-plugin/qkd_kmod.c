/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libmnl client of the "qkd" generic netlink family.
 *
 * Every call opens its own socket, resolves the family (so a reloaded
 * module is picked up), sends one request with NLM_F_ACK and reads until
 * the ACK.  Error messages carry extack text, which is returned for the log.
 * No strongSwan dependency: unit-tested on the host.
 */
#include "qkd_kmod.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/qkd.h>

/* the plugin's and the UAPI's sizes must agree */
_Static_assert(QKD_KEYSRC_ID_LEN == QKD_KEY_ID_LEN, "key ID length");
_Static_assert(QKD_KEYSRC_MAX_KEY_LEN == QKD_KEY_MAX_LEN, "key length");

#define QKD_KMOD_TIMEOUT_MS	5000	/* on top of any WAIT_MS */

void qkd_key_wipe(struct qkd_key *key)
{
	if (key)
	{
		explicit_bzero(key, sizeof(*key));
	}
}

const char *qkd_keysrc_name(void)
{
	return "kernel module (generic netlink family " QKD_FAMILY_NAME ")";
}

static void set_err(char *err, const char *fmt, const char *arg)
{
	if (err)
	{
		snprintf(err, QKD_KEYSRC_ERR_LEN, fmt, arg ? arg : "");
	}
}

int qkd_kmod_parse_error(const struct nlmsghdr *nlh,
						 char err[QKD_KEYSRC_ERR_LEN])
{
	const struct nlmsgerr *e;
	const struct nlattr *attr;
	size_t off;

	if (err)
	{
		err[0] = '\0';
	}
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
	{
		return -EBADMSG;
	}
	e = mnl_nlmsg_get_payload(nlh);
	if (e->error > 0 || e->error < -4095)
	{
		return -EBADMSG;
	}
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
	{
		return e->error;
	}
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
	{	/* the request follows the error, minus its header already counted */
		if (e->msg.nlmsg_len < sizeof(struct nlmsghdr))
		{
			return e->error;
		}
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	}
	if (mnl_nlmsg_size(off) > nlh->nlmsg_len)
	{
		return e->error;
	}
	mnl_attr_for_each(attr, nlh, off)
	{
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
			mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		{
			set_err(err, "%s", mnl_attr_get_str(attr));
		}
	}
	return e->error;
}

/** state of one request */
struct req_ctx {
	/* family resolution */
	uint16_t family;
	/* KEY_TAKE */
	const uint8_t *want_id;
	uint8_t want_role;
	struct qkd_key *key;
	int got;
	int perr;
	/* error */
	int error;
	char *err;
};

static int parse_key_nest(const struct nlattr *nest, struct qkd_key *key,
						  int *have_id, int *have_mat, int *have_role)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, nest)
	{
		switch (mnl_attr_get_type(attr))
		{
			case QKD_KEY_A_ID:
				if (mnl_attr_get_payload_len(attr) != QKD_KEY_ID_LEN)
				{
					return -EPROTO;
				}
				memcpy(key->id, mnl_attr_get_payload(attr), QKD_KEY_ID_LEN);
				*have_id = 1;
				break;
			case QKD_KEY_A_MATERIAL:
			{
				uint16_t len = mnl_attr_get_payload_len(attr);

				if (len < QKD_KEY_MIN_LEN || len > QKD_KEY_MAX_LEN)
				{
					return -EMSGSIZE;
				}
				memcpy(key->material, mnl_attr_get_payload(attr), len);
				key->len = len;
				*have_mat = 1;
				break;
			}
			case QKD_KEY_A_ROLE:
				if (mnl_attr_validate(attr, MNL_TYPE_U8) < 0)
				{
					return -EPROTO;
				}
				key->role = mnl_attr_get_u8(attr);
				*have_role = 1;
				break;
			default:	/* INJECTED, EXPIRES, PAD, future attributes */
				break;
		}
	}
	return 0;
}

int qkd_kmod_parse_take(const struct nlmsghdr *nlh, const uint8_t *want_id,
						uint8_t want_role, struct qkd_key *key)
{
	const struct genlmsghdr *genl;
	const struct nlattr *attr;
	int have_id = 0, have_mat = 0, have_role = 0, nkeys = 0, ret;

	memset(key, 0, sizeof(*key));
	if (nlh->nlmsg_len < mnl_nlmsg_size(GENL_HDRLEN))
	{
		return -EPROTO;
	}
	genl = mnl_nlmsg_get_payload(nlh);
	if (genl->cmd != QKD_CMD_KEY_TAKE)
	{
		return -EPROTO;
	}
	mnl_attr_for_each(attr, nlh, GENL_HDRLEN)
	{
		if (mnl_attr_get_type(attr) != QKD_A_KEY)
		{
			continue;
		}
		if (++nkeys > 1)
		{
			ret = -EPROTO;
			goto fail;
		}
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0)
		{
			ret = -EPROTO;
			goto fail;
		}
		ret = parse_key_nest(attr, key, &have_id, &have_mat, &have_role);
		if (ret)
		{
			goto fail;
		}
	}
	if (!have_id || !have_mat || !have_role)
	{
		ret = -EPROTO;
		goto fail;
	}
	if (key->role != want_role ||
		(want_id && memcmp(want_id, key->id, QKD_KEY_ID_LEN) != 0))
	{
		ret = -EPROTO;
		goto fail;
	}
	return 0;

fail:
	qkd_key_wipe(key);
	return ret;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct req_ctx *ctx = data;
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, GENL_HDRLEN)
	{
		if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
			mnl_attr_validate(attr, MNL_TYPE_U16) == 0)
		{
			ctx->family = mnl_attr_get_u16(attr);
		}
	}
	return MNL_CB_OK;
}

static int take_cb(const struct nlmsghdr *nlh, void *data)
{
	struct req_ctx *ctx = data;

	if (ctx->got)
	{	/* one reply only: a second one voids the take */
		qkd_key_wipe(ctx->key);
		ctx->got = 0;
		ctx->perr = -EPROTO;
		set_err(ctx->err, "%s", "more than one KEY_TAKE reply");
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	ctx->perr = qkd_kmod_parse_take(nlh, ctx->want_id, ctx->want_role,
									ctx->key);
	ctx->got = ctx->perr == 0;
	return MNL_CB_OK;
}

static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct req_ctx *ctx = data;

	ctx->error = qkd_kmod_parse_error(nlh, ctx->err);
	if (ctx->error)
	{
		errno = -ctx->error;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int noop_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_STOP;
}

/**
 * Send a request and process replies until the ACK or an error.
 */
static int transact(struct mnl_socket *nl, struct nlmsghdr *nlh,
					mnl_cb_t cb, struct req_ctx *ctx)
{
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_NOOP] = noop_cb,
		[NLMSG_ERROR] = error_cb,
		[NLMSG_DONE] = done_cb,
		[NLMSG_OVERRUN] = noop_cb,
	};
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int portid = mnl_socket_get_portid(nl);
	unsigned int seq = nlh->nlmsg_seq;
	ssize_t len;
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
	{
		return -errno;
	}
	while (1)
	{
		len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len < 0)
		{	/* SO_RCVTIMEO: not the module's -ETIMEDOUT ("key did not
			 * arrive"); a key it hands out after this is lost */
			if (errno == EAGAIN || errno == EWOULDBLOCK)
			{
				ret = -EAGAIN;
				set_err(ctx->err, "%s", "no reply from the qkd module "
						"(netlink receive timeout)");
			}
			else
			{
				ret = -errno;
			}
			break;
		}
		ctx->error = 0;
		ret = mnl_cb_run2(buf, len, seq, portid, cb, ctx, ctl,
						  NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR)
		{
			ret = ctx->error ? ctx->error : (errno ? -errno : -EPROTO);
			break;
		}
		if (ret == MNL_CB_STOP)
		{
			ret = 0;
			break;
		}
	}
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

/**
 * Open a socket and resolve the family.
 */
static struct mnl_socket *open_family(uint32_t timeout_ms, uint16_t *family,
									  char *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;
	struct req_ctx ctx = { .err = err };
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};
	int one = 1, ret;

	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl)
	{
		set_err(err, "netlink socket: %s", strerror(errno));
		return NULL;
	}
	/* both are optional, older kernels just send less */
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
				   sizeof(tv)) < 0 ||
		mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
	{
		set_err(err, "netlink socket: %s", strerror(errno));
		mnl_socket_close(nl);
		return NULL;
	}

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = time(NULL);
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, QKD_FAMILY_NAME);

	ret = transact(nl, nlh, family_cb, &ctx);
	if (ret || !ctx.family)
	{
		if (ret == -ENOENT || !ret)
		{	/* not -ENOENT: that means "no key" to callers */
			set_err(err, "generic netlink family '%s' not found (module "
					"not loaded?)", QKD_FAMILY_NAME);
			ret = -ENOPROTOOPT;
		}
		mnl_socket_close(nl);
		errno = -ret;
		return NULL;
	}
	*family = ctx.family;
	return nl;
}

static struct nlmsghdr *put_request(char *buf, uint16_t family, uint8_t cmd,
									const char *link)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = time(NULL) + 1;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = QKD_FAMILY_VERSION;
	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, link);
	return nlh;
}

static int check_link(const char *link, char *err)
{
	if (!link || !link[0] || strlen(link) >= QKD_LINK_NAME_MAX)
	{
		set_err(err, "invalid link name '%s'", link);
		return -EINVAL;
	}
	return 0;
}

int qkd_keysrc_take(const char *link, const uint8_t *id, uint32_t wait_ms,
					struct qkd_key *key, char err[QKD_KEYSRC_ERR_LEN])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct req_ctx ctx = {
		.want_id = id,
		.want_role = id ? QKD_KEY_ROLE_RESPONDER : QKD_KEY_ROLE_INITIATOR,
		.key = key,
		.err = err,
	};
	uint16_t family;
	int ret;

	if (err)
	{
		err[0] = '\0';
	}
	memset(key, 0, sizeof(*key));
	ret = check_link(link, err);
	if (ret)
	{
		return ret;
	}
	if (wait_ms > QKD_TAKE_WAIT_MAX_MS)
	{
		wait_ms = QKD_TAKE_WAIT_MAX_MS;
	}
	nl = open_family(QKD_KMOD_TIMEOUT_MS + (id ? wait_ms : 0), &family, err);
	if (!nl)
	{
		return -errno;
	}
	nlh = put_request(buf, family, QKD_CMD_KEY_TAKE, link);
	if (id)
	{
		mnl_attr_put(nlh, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id);
		mnl_attr_put_u32(nlh, QKD_A_WAIT_MS, wait_ms);
	}
	ret = transact(nl, nlh, take_cb, &ctx);
	mnl_socket_close(nl);
	if (!ret && !ctx.got)
	{
		ret = ctx.perr ? ctx.perr : -EPROTO;
		set_err(err, "%s", ctx.perr ? "malformed KEY_TAKE reply"
									: "no KEY_TAKE reply");
	}
	if (ret)
	{
		qkd_key_wipe(key);
	}
	return ret;
}

int qkd_keysrc_annotate(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
						const uint32_t *spis, int nspis, const char *usage,
						char err[QKD_KEYSRC_ERR_LEN])
{
	char buf[MNL_SOCKET_BUFFER_SIZE], ubuf[QKD_USAGE_MAX];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct req_ctx ctx = { .err = err };
	uint16_t family;
	int i, ret;

	if (err)
	{
		err[0] = '\0';
	}
	ret = check_link(link, err);
	if (ret)
	{
		return ret;
	}
	nl = open_family(QKD_KMOD_TIMEOUT_MS, &family, err);
	if (!nl)
	{
		return -errno;
	}
	nlh = put_request(buf, family, QKD_CMD_AUDIT_ANNOTATE, link);
	mnl_attr_put(nlh, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id);
	for (i = 0; i < nspis && i < QKD_AUDIT_SPI_MAX; i++)
	{
		mnl_attr_put_u32(nlh, QKD_A_SPI, spis[i]);
	}
	if (usage && usage[0])
	{
		snprintf(ubuf, sizeof(ubuf), "%s", usage);
		mnl_attr_put_strz(nlh, QKD_A_USAGE, ubuf);
	}
	ret = transact(nl, nlh, noop_cb, &ctx);
	mnl_socket_close(nl);
	return ret;
}
