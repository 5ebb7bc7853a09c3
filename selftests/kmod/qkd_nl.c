// SPDX-License-Identifier: GPL-2.0
/*
 * A small libmnl client of the "qkd" generic netlink family, used by the
 * module's selftests and by qkd-cli.  It keeps the kernel's extack text of
 * the last error so that tests can assert on it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "qkd_nl.h"

#define QKD_NL_BUF_SIZE (64 * 1024)

void qkd_link_opts_init(struct qkd_link_opts *o, const char *local,
			const char *remote)
{
	o->local_sae_id = local;
	o->remote_sae_id = remote;
	o->max_keys = o->max_bytes = o->key_ttl = -1;
	o->rate = o->burst = o->low_watermark = -1;
}

static struct nlmsghdr *qkd_nl_msg(struct qkd_nl *nl, char *buf,
				   uint16_t type, uint16_t flags, uint8_t cmd,
				   uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static int qkd_nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	struct qkd_nl *nl = data;
	const struct nlattr *attr;
	size_t off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!err->error)
		return MNL_CB_STOP;
	/* NETLINK_CAP_ACK: the request is not echoed, only its header. */
	off = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - sizeof(err->msg);
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		mnl_attr_for_each(attr, nlh, off) {
			if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
				snprintf(nl->err_msg, sizeof(nl->err_msg), "%s",
					 mnl_attr_get_str(attr));
			if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_OFFS)
				nl->err_off = mnl_attr_get_u32(attr);
			if (mnl_attr_get_type(attr) ==
			    NLMSGERR_ATTR_MISS_TYPE)
				nl->miss_type = mnl_attr_get_u32(attr);
		}
	}
	errno = -err->error;
	return MNL_CB_ERROR;
}

static int qkd_nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_STOP;
}

static int qkd_nl_noop_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

struct qkd_nl_parse_ctx {
	qkd_nl_parse_fn fn;
	void *arg;
};

static int qkd_nl_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct qkd_nl_parse_ctx *ctx = data;

	return ctx->fn ? ctx->fn(nlh, ctx->arg) : MNL_CB_OK;
}

/* mnl_cb_run2 passes one data pointer; route errors to nl via a global. */
static __thread struct qkd_nl *qkd_nl_current;

static int qkd_nl_error_trampoline(const struct nlmsghdr *nlh, void *data)
{
	(void)data;
	return qkd_nl_error_cb(nlh, qkd_nl_current);
}

static int qkd_nl_run(struct qkd_nl *nl, struct nlmsghdr *nlh,
		      qkd_nl_parse_fn parse, void *arg)
{
	struct qkd_nl_parse_ctx ctx = { parse, arg };
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_NOOP] = qkd_nl_noop_cb,
		[NLMSG_ERROR] = qkd_nl_error_trampoline,
		[NLMSG_DONE] = qkd_nl_done_cb,
	};
	unsigned int portid = mnl_socket_get_portid(nl->sock);
	size_t used = 0;
	char *buf;
	int ret;

	nl->err_msg[0] = '\0';
	nl->err_off = 0;
	nl->miss_type = 0;
	qkd_nl_current = nl;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	buf = malloc(QKD_NL_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	do {
		ret = mnl_socket_recvfrom(nl->sock, buf, QKD_NL_BUF_SIZE);
		if (ret <= 0) {
			ret = -1;
			break;
		}
		if ((size_t)ret > used)
			used = ret;
		ret = mnl_cb_run2(buf, ret, nlh->nlmsg_seq, portid,
				  qkd_nl_data_cb, &ctx, ctl, NLMSG_MIN_TYPE);
	} while (ret > 0);
	/* Replies of a take carry key material. */
	explicit_bzero(buf, used);
	free(buf);
	return ret < 0 ? -errno : 0;
}

static int qkd_nl_family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct qkd_nl *nl = data;
	const struct nlattr *attr, *grp, *ga;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(attr)) {
		case CTRL_ATTR_FAMILY_ID:
			nl->family = mnl_attr_get_u16(attr);
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			mnl_attr_for_each_nested(grp, attr) {
				const char *name = NULL;
				uint32_t id = 0;

				mnl_attr_for_each_nested(ga, grp) {
					if (mnl_attr_get_type(ga) ==
					    CTRL_ATTR_MCAST_GRP_NAME)
						name = mnl_attr_get_str(ga);
					if (mnl_attr_get_type(ga) ==
					    CTRL_ATTR_MCAST_GRP_ID)
						id = mnl_attr_get_u32(ga);
				}
				if (name && !strcmp(name, QKD_MCGRP_NOTIFY))
					nl->mcgrp = id;
			}
			break;
		}
	}
	return MNL_CB_OK;
}

int qkd_nl_open(struct qkd_nl *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int one = 1, ret;

	memset(nl, 0, sizeof(*nl));
	nl->seq = (uint32_t)time(NULL);
	nl->sock = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sock)
		return -errno;
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err;
	}
	nlh = qkd_nl_msg(nl, buf, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY,
			 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, QKD_FAMILY_NAME);
	ret = qkd_nl_run(nl, nlh, qkd_nl_family_cb, nl);
	if (ret)
		goto err;
	if (!nl->family) {
		ret = -ENOENT;
		goto err;
	}
	return 0;
err:
	mnl_socket_close(nl->sock);
	nl->sock = NULL;
	return ret;
}

void qkd_nl_close(struct qkd_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

int qkd_nl_subscribe(struct qkd_nl *nl)
{
	int grp = (int)nl->mcgrp;

	if (mnl_socket_setsockopt(nl->sock, NETLINK_ADD_MEMBERSHIP, &grp,
				  sizeof(grp)) < 0)
		return -errno;
	return 0;
}

static void qkd_nl_parse_ntf_attrs(const struct nlmsghdr *nlh,
				   struct qkd_ntf *ntf)
{
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(attr)) {
		case QKD_A_LINK_NAME:
			snprintf(ntf->link_name, sizeof(ntf->link_name), "%s",
				 mnl_attr_get_str(attr));
			break;
		case QKD_A_REMOTE_SAE_ID:
			snprintf(ntf->remote_sae_id, sizeof(ntf->remote_sae_id),
				 "%s", mnl_attr_get_str(attr));
			break;
		case QKD_A_KEY_ID:
			if (mnl_attr_get_payload_len(attr) == QKD_KEY_ID_LEN) {
				memcpy(ntf->key_id, mnl_attr_get_payload(attr),
				       QKD_KEY_ID_LEN);
				ntf->has_key_id = true;
			}
			break;
		case QKD_A_KEY_ROLE:
			ntf->role = mnl_attr_get_u8(attr);
			break;
		case QKD_A_KEY_COUNT:
			ntf->key_count = mnl_attr_get_u32(attr);
			break;
		case QKD_A_LOW_WATERMARK:
			ntf->low_watermark = mnl_attr_get_u32(attr);
			break;
		}
	}
}

int qkd_nl_recv_ntf(struct qkd_nl *nl, struct qkd_ntf *ntf, int timeout_ms)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(nl->sock),
			      .events = POLLIN };
	char buf[8192];
	const struct nlmsghdr *nlh;
	const struct genlmsghdr *g;
	int ret;

	memset(ntf, 0, sizeof(*ntf));
	for (;;) {
		ret = poll(&pfd, 1, timeout_ms);
		if (ret < 0)
			return -errno;
		if (!ret)
			return -ETIMEDOUT;
		ret = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (ret < 0)
			return -errno;
		nlh = (const struct nlmsghdr *)buf;
		if (!mnl_nlmsg_ok(nlh, ret) || nlh->nlmsg_type != nl->family)
			continue;
		g = mnl_nlmsg_get_payload(nlh);
		ntf->cmd = g->cmd;
		qkd_nl_parse_ntf_attrs(nlh, ntf);
		return 0;
	}
}

int qkd_nl_request(struct qkd_nl *nl, uint8_t cmd, uint16_t flags,
		   qkd_nl_build_fn build, void *build_arg,
		   qkd_nl_parse_fn parse, void *parse_arg)
{
	struct nlmsghdr *nlh;
	char *buf;
	int ret;

	buf = calloc(1, QKD_NL_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	/* A dump ends with NLMSG_DONE; an extra ACK would linger. */
	nlh = qkd_nl_msg(nl, buf, nl->family,
			 (flags & NLM_F_DUMP) ? flags : NLM_F_ACK | flags, cmd,
			 QKD_FAMILY_VERSION);
	if (build)
		build(nlh, build_arg);
	ret = qkd_nl_run(nl, nlh, parse, parse_arg);
	/* Requests may carry key material: wipe before freeing. */
	explicit_bzero(buf, nlh->nlmsg_len);
	free(buf);
	return ret;
}

struct qkd_link_req {
	const char *name;
	const struct qkd_link_opts *o;
};

static void qkd_put_opt_u32(struct nlmsghdr *nlh, int type, int64_t v)
{
	if (v >= 0)
		mnl_attr_put_u32(nlh, type, (uint32_t)v);
}

static void qkd_build_link(struct nlmsghdr *nlh, void *arg)
{
	const struct qkd_link_req *r = arg;
	const struct qkd_link_opts *o = r->o;

	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, r->name);
	if (!o)
		return;
	if (o->local_sae_id)
		mnl_attr_put_strz(nlh, QKD_A_LOCAL_SAE_ID, o->local_sae_id);
	if (o->remote_sae_id)
		mnl_attr_put_strz(nlh, QKD_A_REMOTE_SAE_ID, o->remote_sae_id);
	qkd_put_opt_u32(nlh, QKD_A_MAX_KEYS, o->max_keys);
	qkd_put_opt_u32(nlh, QKD_A_MAX_BYTES, o->max_bytes);
	qkd_put_opt_u32(nlh, QKD_A_KEY_TTL, o->key_ttl);
	qkd_put_opt_u32(nlh, QKD_A_RATE, o->rate);
	qkd_put_opt_u32(nlh, QKD_A_BURST, o->burst);
	qkd_put_opt_u32(nlh, QKD_A_LOW_WATERMARK, o->low_watermark);
}

int qkd_link_new(struct qkd_nl *nl, const char *name,
		 const struct qkd_link_opts *o)
{
	struct qkd_link_req r = { name, o };

	return qkd_nl_request(nl, QKD_CMD_LINK_NEW, 0, qkd_build_link, &r,
			      NULL, NULL);
}

int qkd_link_set(struct qkd_nl *nl, const char *name,
		 const struct qkd_link_opts *o)
{
	struct qkd_link_req r = { name, o };

	return qkd_nl_request(nl, QKD_CMD_LINK_SET, 0, qkd_build_link, &r,
			      NULL, NULL);
}

int qkd_link_del(struct qkd_nl *nl, const char *name)
{
	struct qkd_link_req r = { name, NULL };

	return qkd_nl_request(nl, QKD_CMD_LINK_DEL, 0, qkd_build_link, &r,
			      NULL, NULL);
}

static void qkd_parse_stats(const struct nlattr *nest,
			    struct qkd_stats_buf *stats)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, nest) {
		unsigned int type = mnl_attr_get_type(attr);

		if (type <= QKD_STATS_A_MAX && type != QKD_STATS_A_PAD)
			stats->v[type] = mnl_attr_get_u64(attr);
	}
}

static void qkd_copy_str(char *dst, size_t size, const struct nlattr *attr)
{
	snprintf(dst, size, "%s", mnl_attr_get_str(attr));
}

static int qkd_parse_link(const struct nlmsghdr *nlh, void *arg)
{
	struct qkd_link_info *info = arg;
	const struct nlattr *attr;

	memset(info, 0, sizeof(*info));
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(attr)) {
		case QKD_A_LINK_NAME:
			qkd_copy_str(info->name, sizeof(info->name), attr);
			break;
		case QKD_A_LOCAL_SAE_ID:
			qkd_copy_str(info->local_sae_id,
				     sizeof(info->local_sae_id), attr);
			break;
		case QKD_A_REMOTE_SAE_ID:
			qkd_copy_str(info->remote_sae_id,
				     sizeof(info->remote_sae_id), attr);
			break;
		case QKD_A_MAX_KEYS:
			info->max_keys = mnl_attr_get_u32(attr);
			break;
		case QKD_A_MAX_BYTES:
			info->max_bytes = mnl_attr_get_u32(attr);
			break;
		case QKD_A_KEY_TTL:
			info->key_ttl = mnl_attr_get_u32(attr);
			break;
		case QKD_A_RATE:
			info->rate = mnl_attr_get_u32(attr);
			break;
		case QKD_A_BURST:
			info->burst = mnl_attr_get_u32(attr);
			break;
		case QKD_A_LOW_WATERMARK:
			info->low_watermark = mnl_attr_get_u32(attr);
			break;
		case QKD_A_STATS:
			qkd_parse_stats(attr, &info->stats);
			break;
		}
	}
	return MNL_CB_OK;
}

int qkd_link_get(struct qkd_nl *nl, const char *name,
		 struct qkd_link_info *info)
{
	struct qkd_link_req r = { name, NULL };

	return qkd_nl_request(nl, QKD_CMD_LINK_GET, 0, qkd_build_link, &r,
			      qkd_parse_link, info);
}

struct qkd_dump_ctx {
	void *items;
	size_t item_size;
	int max, n;
	qkd_nl_parse_fn parse_one;
};

static int qkd_parse_dump_item(const struct nlmsghdr *nlh, void *arg)
{
	struct qkd_dump_ctx *ctx = arg;

	if (ctx->n >= ctx->max) {
		ctx->n++;	/* counted, not stored */
		return MNL_CB_OK;
	}
	ctx->parse_one(nlh, (char *)ctx->items + ctx->n * ctx->item_size);
	ctx->n++;
	return MNL_CB_OK;
}

int qkd_link_dump(struct qkd_nl *nl, struct qkd_link_info *infos, int max)
{
	struct qkd_dump_ctx ctx = { infos, sizeof(*infos), max, 0,
				    qkd_parse_link };
	int ret;

	ret = qkd_nl_request(nl, QKD_CMD_LINK_GET, NLM_F_DUMP, NULL, NULL,
			     qkd_parse_dump_item, &ctx);
	return ret ? ret : ctx.n;
}

struct qkd_inject_req {
	const char *link;
	const struct qkd_key_buf *keys;
	unsigned int nr;
};

static void qkd_build_inject(struct nlmsghdr *nlh, void *arg)
{
	const struct qkd_inject_req *r = arg;
	struct nlattr *nest;
	unsigned int i;

	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, r->link);
	for (i = 0; i < r->nr; i++) {
		nest = mnl_attr_nest_start(nlh, QKD_A_KEY);
		mnl_attr_put(nlh, QKD_KEY_A_ID, QKD_KEY_ID_LEN, r->keys[i].id);
		mnl_attr_put(nlh, QKD_KEY_A_MATERIAL, r->keys[i].len,
			     r->keys[i].material);
		mnl_attr_put_u8(nlh, QKD_KEY_A_ROLE, r->keys[i].role);
		mnl_attr_nest_end(nlh, nest);
	}
}

int qkd_key_inject(struct qkd_nl *nl, const char *link,
		   const struct qkd_key_buf *keys, unsigned int nr)
{
	struct qkd_inject_req r = { link, keys, nr };

	return qkd_nl_request(nl, QKD_CMD_KEY_INJECT, 0, qkd_build_inject, &r,
			      NULL, NULL);
}

struct qkd_take_req {
	const char *link;
	const uint8_t *id;
	int64_t wait_ms;
};

static void qkd_build_take(struct nlmsghdr *nlh, void *arg)
{
	const struct qkd_take_req *r = arg;

	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, r->link);
	if (r->id)
		mnl_attr_put(nlh, QKD_A_KEY_ID, QKD_KEY_ID_LEN, r->id);
	if (r->wait_ms >= 0)
		mnl_attr_put_u32(nlh, QKD_A_WAIT_MS, (uint32_t)r->wait_ms);
}

static int qkd_parse_take(const struct nlmsghdr *nlh, void *arg)
{
	struct qkd_key_buf *out = arg;
	const struct nlattr *attr, *k;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) != QKD_A_KEY)
			continue;
		mnl_attr_for_each_nested(k, attr) {
			size_t len = mnl_attr_get_payload_len(k);

			switch (mnl_attr_get_type(k)) {
			case QKD_KEY_A_ID:
				if (len == QKD_KEY_ID_LEN)
					memcpy(out->id,
					       mnl_attr_get_payload(k), len);
				break;
			case QKD_KEY_A_MATERIAL:
				if (len <= QKD_KEY_MAX_LEN) {
					memcpy(out->material,
					       mnl_attr_get_payload(k), len);
					out->len = (uint8_t)len;
				}
				break;
			case QKD_KEY_A_ROLE:
				out->role = mnl_attr_get_u8(k);
				break;
			case QKD_KEY_A_INJECTED:
				out->injected_ns = mnl_attr_get_u64(k);
				break;
			case QKD_KEY_A_EXPIRES:
				out->expires_ns = mnl_attr_get_u64(k);
				break;
			}
		}
	}
	return MNL_CB_OK;
}

int qkd_key_take(struct qkd_nl *nl, const char *link, const uint8_t *id,
		 int64_t wait_ms, struct qkd_key_buf *out)
{
	struct qkd_take_req r = { link, id, wait_ms };

	memset(out, 0, sizeof(*out));
	return qkd_nl_request(nl, QKD_CMD_KEY_TAKE, 0, qkd_build_take, &r,
			      qkd_parse_take, out);
}

struct qkd_flush_req {
	const char *link;
	uint8_t role;
};

static void qkd_build_flush(struct nlmsghdr *nlh, void *arg)
{
	const struct qkd_flush_req *r = arg;

	if (r->link)
		mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, r->link);
	if (r->role)
		mnl_attr_put_u8(nlh, QKD_A_KEY_ROLE, r->role);
}

int qkd_flush(struct qkd_nl *nl, const char *link, uint8_t role)
{
	struct qkd_flush_req r = { link, role };

	return qkd_nl_request(nl, QKD_CMD_FLUSH, 0, qkd_build_flush, &r, NULL,
			      NULL);
}

static int qkd_parse_stats_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct qkd_stats_buf *stats = arg;
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) == QKD_A_STATS)
			qkd_parse_stats(attr, stats);
		if (mnl_attr_get_type(attr) == QKD_A_LINK_COUNT)
			stats->link_count = mnl_attr_get_u32(attr);
	}
	return MNL_CB_OK;
}

int qkd_stats_get(struct qkd_nl *nl, const char *link,
		  struct qkd_stats_buf *stats)
{
	struct qkd_flush_req r = { link, 0 };

	memset(stats, 0, sizeof(*stats));
	return qkd_nl_request(nl, QKD_CMD_STATS_GET, 0, qkd_build_flush, &r,
			      qkd_parse_stats_reply, stats);
}

static int qkd_parse_audit(const struct nlmsghdr *nlh, void *arg)
{
	struct qkd_audit_buf *rec = arg;
	const struct nlattr *attr, *a;

	memset(rec, 0, sizeof(*rec));
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) != QKD_A_AUDIT)
			continue;
		mnl_attr_for_each_nested(a, attr) {
			switch (mnl_attr_get_type(a)) {
			case QKD_AUDIT_A_SEQ:
				rec->seq = mnl_attr_get_u64(a);
				break;
			case QKD_AUDIT_A_TIME:
				rec->time_ns = mnl_attr_get_u64(a);
				break;
			case QKD_AUDIT_A_LINK_NAME:
				qkd_copy_str(rec->link_name,
					     sizeof(rec->link_name), a);
				break;
			case QKD_AUDIT_A_KEY_ID:
				if (mnl_attr_get_payload_len(a) ==
				    QKD_KEY_ID_LEN)
					memcpy(rec->key_id,
					       mnl_attr_get_payload(a),
					       QKD_KEY_ID_LEN);
				break;
			case QKD_AUDIT_A_ROLE:
				rec->role = mnl_attr_get_u8(a);
				break;
			case QKD_AUDIT_A_PID:
				rec->pid = mnl_attr_get_u32(a);
				break;
			case QKD_AUDIT_A_COMM:
				qkd_copy_str(rec->comm, sizeof(rec->comm), a);
				break;
			case QKD_AUDIT_A_SPI:
				if (rec->nr_spi < QKD_AUDIT_SPI_MAX)
					rec->spi[rec->nr_spi++] =
						mnl_attr_get_u32(a);
				break;
			case QKD_AUDIT_A_USAGE:
				qkd_copy_str(rec->usage, sizeof(rec->usage),
					     a);
				break;
			}
		}
	}
	return MNL_CB_OK;
}

int qkd_audit_dump(struct qkd_nl *nl, const char *link,
		   struct qkd_audit_buf *recs, int max)
{
	struct qkd_dump_ctx ctx = { recs, sizeof(*recs), max, 0,
				    qkd_parse_audit };
	struct qkd_flush_req r = { link, 0 };
	int ret;

	ret = qkd_nl_request(nl, QKD_CMD_AUDIT_GET, NLM_F_DUMP,
			     qkd_build_flush, &r, qkd_parse_dump_item, &ctx);
	return ret ? ret : ctx.n;
}

struct qkd_annotate_req {
	const char *link;
	const uint8_t *key_id;
	const uint32_t *spi;
	unsigned int nr_spi;
	const char *usage;
};

static void qkd_build_annotate(struct nlmsghdr *nlh, void *arg)
{
	const struct qkd_annotate_req *r = arg;
	unsigned int i;

	mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, r->link);
	mnl_attr_put(nlh, QKD_A_KEY_ID, QKD_KEY_ID_LEN, r->key_id);
	for (i = 0; i < r->nr_spi; i++)
		mnl_attr_put_u32(nlh, QKD_A_SPI, r->spi[i]);
	if (r->usage)
		mnl_attr_put_strz(nlh, QKD_A_USAGE, r->usage);
}

int qkd_audit_annotate(struct qkd_nl *nl, const char *link,
		       const uint8_t *key_id, const uint32_t *spi,
		       unsigned int nr_spi, const char *usage)
{
	struct qkd_annotate_req r = { link, key_id, spi, nr_spi, usage };

	return qkd_nl_request(nl, QKD_CMD_AUDIT_ANNOTATE, 0,
			      qkd_build_annotate, &r, NULL, NULL);
}
