/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small libmnl client of the "qkd" generic netlink family, for the
 * selftests and qkd-cli.  Every call returns 0 or a negative errno and
 * leaves the kernel's extack message (if any) in qkd_nl.err_msg.
 */
#ifndef QKD_NL_H
#define QKD_NL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/qkd.h>

struct qkd_nl {
	struct mnl_socket *sock;
	uint16_t family;
	uint32_t mcgrp;
	uint32_t seq;
	char err_msg[256];
	uint32_t err_off;	/* NLMSGERR_ATTR_OFFS, 0 if none */
	uint32_t miss_type;	/* NLMSGERR_ATTR_MISS_TYPE, 0 if none */
};

struct qkd_link_opts {
	const char *local_sae_id;
	const char *remote_sae_id;
	/* Negative: not sent. */
	int64_t max_keys, max_bytes, key_ttl, rate, burst, low_watermark;
};

struct qkd_key_buf {
	uint8_t id[QKD_KEY_ID_LEN];
	uint8_t material[QKD_KEY_MAX_LEN];
	uint8_t len;
	uint8_t role;
	uint64_t injected_ns, expires_ns;
};

struct qkd_stats_buf {
	uint64_t v[QKD_STATS_A_MAX + 1];	/* indexed by QKD_STATS_A_* */
	uint32_t link_count;
};

struct qkd_link_info {
	char name[QKD_LINK_NAME_MAX];
	char local_sae_id[QKD_SAE_ID_MAX];
	char remote_sae_id[QKD_SAE_ID_MAX];
	uint32_t max_keys, max_bytes, key_ttl, rate, burst, low_watermark;
	struct qkd_stats_buf stats;
};

struct qkd_audit_buf {
	uint64_t seq, time_ns;
	char link_name[QKD_LINK_NAME_MAX];
	uint8_t key_id[QKD_KEY_ID_LEN];
	uint8_t role;
	uint32_t pid;
	char comm[16];
	uint32_t spi[QKD_AUDIT_SPI_MAX];
	unsigned int nr_spi;
	char usage[QKD_USAGE_MAX];
};

struct qkd_ntf {
	int cmd;
	char link_name[QKD_LINK_NAME_MAX];
	char remote_sae_id[QKD_SAE_ID_MAX];
	uint8_t key_id[QKD_KEY_ID_LEN];
	bool has_key_id;
	uint8_t role;
	uint32_t key_count, low_watermark;
};

void qkd_link_opts_init(struct qkd_link_opts *o, const char *local,
			const char *remote);

int qkd_nl_open(struct qkd_nl *nl);
void qkd_nl_close(struct qkd_nl *nl);
int qkd_nl_subscribe(struct qkd_nl *nl);
/* Waits up to timeout_ms for one notification; -ETIMEDOUT if none. */
int qkd_nl_recv_ntf(struct qkd_nl *nl, struct qkd_ntf *ntf, int timeout_ms);

int qkd_link_new(struct qkd_nl *nl, const char *name,
		 const struct qkd_link_opts *o);
int qkd_link_set(struct qkd_nl *nl, const char *name,
		 const struct qkd_link_opts *o);
int qkd_link_del(struct qkd_nl *nl, const char *name);
int qkd_link_get(struct qkd_nl *nl, const char *name,
		 struct qkd_link_info *info);
/* Fills up to max entries; returns the count or a negative errno. */
int qkd_link_dump(struct qkd_nl *nl, struct qkd_link_info *infos, int max);
int qkd_key_inject(struct qkd_nl *nl, const char *link,
		   const struct qkd_key_buf *keys, unsigned int nr);
/* id NULL: oldest initiator key; else the responder key of that ID. */
int qkd_key_take(struct qkd_nl *nl, const char *link, const uint8_t *id,
		 int64_t wait_ms, struct qkd_key_buf *out);
/* link NULL: the whole namespace; role 0: both roles. */
int qkd_flush(struct qkd_nl *nl, const char *link, uint8_t role);
int qkd_stats_get(struct qkd_nl *nl, const char *link,
		  struct qkd_stats_buf *stats);
int qkd_audit_dump(struct qkd_nl *nl, const char *link,
		   struct qkd_audit_buf *recs, int max);
int qkd_audit_annotate(struct qkd_nl *nl, const char *link,
		       const uint8_t *key_id, const uint32_t *spi,
		       unsigned int nr_spi, const char *usage);

/*
 * The general request: build() adds attributes to the message (tests use
 * it to send malformed requests), parse() sees each reply message.
 */
struct nlmsghdr;
typedef void (*qkd_nl_build_fn)(struct nlmsghdr *nlh, void *arg);
typedef int (*qkd_nl_parse_fn)(const struct nlmsghdr *nlh, void *arg);
int qkd_nl_request(struct qkd_nl *nl, uint8_t cmd, uint16_t flags,
		   qkd_nl_build_fn build, void *build_arg,
		   qkd_nl_parse_fn parse, void *parse_arg);

#endif
