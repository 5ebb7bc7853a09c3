// SPDX-License-Identifier: GPL-2.0
/*
 * Do not edit: written by tools/nlgen.py from docs/netlink/qkd.yaml
 * (`make netlink-gen` writes it again; selftests/spec-check.py fails when
 * this file is not what the spec gives).
 *
 * Each operation has a policy of every attribute of the family (those
 * that take the same attributes share one): the attributes it does not
 * take are NLA_REJECT with a message naming them, so the core refuses
 * them (EINVAL, with the attribute's offset) before any handler runs.
 * Strict validation (resv_start_op) refuses unknown types.
 */
#include <net/genetlink.h>
#include <net/netlink.h>

#include "netlink-gen.h"

/* Value ranges too wide for NLA_POLICY_RANGE() */
static struct netlink_range_validation qkd_a_max_keys_range = {
	.min = 1,
	.max = QKD_LINK_MAX_KEYS_LIMIT,
};

static struct netlink_range_validation qkd_a_max_bytes_range = {
	.min = QKD_KEY_MAX_LEN,
	.max = QKD_LINK_MAX_BYTES_LIMIT,
};

static struct netlink_range_validation qkd_a_key_ttl_range = {
	.min = 1,
	.max = QKD_LINK_TTL_MAX,
};

static struct netlink_range_validation qkd_a_rate_range = {
	.max = QKD_LINK_RATE_MAX,
};

static struct netlink_range_validation qkd_a_burst_range = {
	.min = 1,
	.max = QKD_LINK_BURST_MAX,
};

static struct netlink_range_validation qkd_a_low_watermark_range = {
	.max = QKD_LINK_MAX_KEYS_LIMIT,
};

/* Refusals of the attributes an operation does not take */
static const char qkd_key_a_pad_rej[] = "attribute key.pad is not taken by this command";
static const char qkd_key_a_injected_rej[] = "attribute key.injected is not taken by this command";
static const char qkd_key_a_expires_rej[] = "attribute key.expires is not taken by this command";
static const char qkd_a_pad_rej[] = "attribute pad is not taken by this command";
static const char qkd_a_key_rej[] = "attribute key is not taken by this command";
static const char qkd_a_key_id_rej[] = "attribute key-id is not taken by this command";
static const char qkd_a_key_role_rej[] = "attribute key-role is not taken by this command";
static const char qkd_a_wait_ms_rej[] = "attribute wait-ms is not taken by this command";
static const char qkd_a_stats_rej[] = "attribute stats is not taken by this command";
static const char qkd_a_audit_rej[] = "attribute audit is not taken by this command";
static const char qkd_a_spi_rej[] = "attribute spi is not taken by this command";
static const char qkd_a_usage_rej[] = "attribute usage is not taken by this command";
static const char qkd_a_link_count_rej[] = "attribute link-count is not taken by this command";
static const char qkd_a_key_count_rej[] = "attribute key-count is not taken by this command";
static const char qkd_a_local_sae_id_rej[] = "attribute local-sae-id is not taken by this command";
static const char qkd_a_remote_sae_id_rej[] =
	"attribute remote-sae-id is not taken by this command";
static const char qkd_a_max_keys_rej[] = "attribute max-keys is not taken by this command";
static const char qkd_a_max_bytes_rej[] = "attribute max-bytes is not taken by this command";
static const char qkd_a_key_ttl_rej[] = "attribute key-ttl is not taken by this command";
static const char qkd_a_rate_rej[] = "attribute rate is not taken by this command";
static const char qkd_a_burst_rej[] = "attribute burst is not taken by this command";
static const char qkd_a_low_watermark_rej[] =
	"attribute low-watermark is not taken by this command";

/* Nest: key-inject-input */
const struct nla_policy qkd_key_inject_input_nl_policy[QKD_KEY_A_MAX + 1] = {
	[QKD_KEY_A_PAD] = { .type = NLA_REJECT, .reject_message = qkd_key_a_pad_rej },
	[QKD_KEY_A_ID] = NLA_POLICY_EXACT_LEN(QKD_KEY_ID_LEN),
	[QKD_KEY_A_MATERIAL] = NLA_POLICY_RANGE(NLA_BINARY, QKD_KEY_MIN_LEN, QKD_KEY_MAX_LEN),
	[QKD_KEY_A_ROLE] = NLA_POLICY_RANGE(NLA_U8, QKD_KEY_ROLE_INITIATOR, QKD_KEY_ROLE_RESPONDER),
	[QKD_KEY_A_INJECTED] = { .type = NLA_REJECT, .reject_message = qkd_key_a_injected_rej },
	[QKD_KEY_A_EXPIRES] = { .type = NLA_REJECT, .reject_message = qkd_key_a_expires_rej },
};

/* QKD_CMD_LINK_NEW, QKD_CMD_LINK_SET */
static const struct nla_policy qkd_link_new_nl_policy[QKD_A_MAX + 1] = {
	[QKD_A_PAD] = { .type = NLA_REJECT, .reject_message = qkd_a_pad_rej },
	[QKD_A_LINK_NAME] = { .type = NLA_NUL_STRING, .len = QKD_LINK_NAME_MAX - 1 },
	[QKD_A_LOCAL_SAE_ID] = { .type = NLA_NUL_STRING, .len = QKD_SAE_ID_MAX - 1 },
	[QKD_A_REMOTE_SAE_ID] = { .type = NLA_NUL_STRING, .len = QKD_SAE_ID_MAX - 1 },
	[QKD_A_MAX_KEYS] = NLA_POLICY_FULL_RANGE(NLA_U32, &qkd_a_max_keys_range),
	[QKD_A_MAX_BYTES] = NLA_POLICY_FULL_RANGE(NLA_U32, &qkd_a_max_bytes_range),
	[QKD_A_KEY_TTL] = NLA_POLICY_FULL_RANGE(NLA_U32, &qkd_a_key_ttl_range),
	[QKD_A_RATE] = NLA_POLICY_FULL_RANGE(NLA_U32, &qkd_a_rate_range),
	[QKD_A_BURST] = NLA_POLICY_FULL_RANGE(NLA_U32, &qkd_a_burst_range),
	[QKD_A_LOW_WATERMARK] = NLA_POLICY_FULL_RANGE(NLA_U32, &qkd_a_low_watermark_range),
	[QKD_A_KEY] = { .type = NLA_REJECT, .reject_message = qkd_a_key_rej },
	[QKD_A_KEY_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_key_id_rej },
	[QKD_A_KEY_ROLE] = { .type = NLA_REJECT, .reject_message = qkd_a_key_role_rej },
	[QKD_A_WAIT_MS] = { .type = NLA_REJECT, .reject_message = qkd_a_wait_ms_rej },
	[QKD_A_STATS] = { .type = NLA_REJECT, .reject_message = qkd_a_stats_rej },
	[QKD_A_AUDIT] = { .type = NLA_REJECT, .reject_message = qkd_a_audit_rej },
	[QKD_A_SPI] = { .type = NLA_REJECT, .reject_message = qkd_a_spi_rej },
	[QKD_A_USAGE] = { .type = NLA_REJECT, .reject_message = qkd_a_usage_rej },
	[QKD_A_LINK_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_link_count_rej },
	[QKD_A_KEY_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_key_count_rej },
};

/* QKD_CMD_LINK_DEL, QKD_CMD_LINK_GET, QKD_CMD_STATS_GET, QKD_CMD_AUDIT_GET */
static const struct nla_policy qkd_link_del_nl_policy[QKD_A_MAX + 1] = {
	[QKD_A_PAD] = { .type = NLA_REJECT, .reject_message = qkd_a_pad_rej },
	[QKD_A_LINK_NAME] = { .type = NLA_NUL_STRING, .len = QKD_LINK_NAME_MAX - 1 },
	[QKD_A_LOCAL_SAE_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_local_sae_id_rej },
	[QKD_A_REMOTE_SAE_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_remote_sae_id_rej },
	[QKD_A_MAX_KEYS] = { .type = NLA_REJECT, .reject_message = qkd_a_max_keys_rej },
	[QKD_A_MAX_BYTES] = { .type = NLA_REJECT, .reject_message = qkd_a_max_bytes_rej },
	[QKD_A_KEY_TTL] = { .type = NLA_REJECT, .reject_message = qkd_a_key_ttl_rej },
	[QKD_A_RATE] = { .type = NLA_REJECT, .reject_message = qkd_a_rate_rej },
	[QKD_A_BURST] = { .type = NLA_REJECT, .reject_message = qkd_a_burst_rej },
	[QKD_A_LOW_WATERMARK] = { .type = NLA_REJECT, .reject_message = qkd_a_low_watermark_rej },
	[QKD_A_KEY] = { .type = NLA_REJECT, .reject_message = qkd_a_key_rej },
	[QKD_A_KEY_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_key_id_rej },
	[QKD_A_KEY_ROLE] = { .type = NLA_REJECT, .reject_message = qkd_a_key_role_rej },
	[QKD_A_WAIT_MS] = { .type = NLA_REJECT, .reject_message = qkd_a_wait_ms_rej },
	[QKD_A_STATS] = { .type = NLA_REJECT, .reject_message = qkd_a_stats_rej },
	[QKD_A_AUDIT] = { .type = NLA_REJECT, .reject_message = qkd_a_audit_rej },
	[QKD_A_SPI] = { .type = NLA_REJECT, .reject_message = qkd_a_spi_rej },
	[QKD_A_USAGE] = { .type = NLA_REJECT, .reject_message = qkd_a_usage_rej },
	[QKD_A_LINK_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_link_count_rej },
	[QKD_A_KEY_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_key_count_rej },
};

/* QKD_CMD_KEY_INJECT */
static const struct nla_policy qkd_key_inject_nl_policy[QKD_A_MAX + 1] = {
	[QKD_A_PAD] = { .type = NLA_REJECT, .reject_message = qkd_a_pad_rej },
	[QKD_A_LINK_NAME] = { .type = NLA_NUL_STRING, .len = QKD_LINK_NAME_MAX - 1 },
	[QKD_A_LOCAL_SAE_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_local_sae_id_rej },
	[QKD_A_REMOTE_SAE_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_remote_sae_id_rej },
	[QKD_A_MAX_KEYS] = { .type = NLA_REJECT, .reject_message = qkd_a_max_keys_rej },
	[QKD_A_MAX_BYTES] = { .type = NLA_REJECT, .reject_message = qkd_a_max_bytes_rej },
	[QKD_A_KEY_TTL] = { .type = NLA_REJECT, .reject_message = qkd_a_key_ttl_rej },
	[QKD_A_RATE] = { .type = NLA_REJECT, .reject_message = qkd_a_rate_rej },
	[QKD_A_BURST] = { .type = NLA_REJECT, .reject_message = qkd_a_burst_rej },
	[QKD_A_LOW_WATERMARK] = { .type = NLA_REJECT, .reject_message = qkd_a_low_watermark_rej },
	[QKD_A_KEY] = NLA_POLICY_NESTED(qkd_key_inject_input_nl_policy),
	[QKD_A_KEY_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_key_id_rej },
	[QKD_A_KEY_ROLE] = { .type = NLA_REJECT, .reject_message = qkd_a_key_role_rej },
	[QKD_A_WAIT_MS] = { .type = NLA_REJECT, .reject_message = qkd_a_wait_ms_rej },
	[QKD_A_STATS] = { .type = NLA_REJECT, .reject_message = qkd_a_stats_rej },
	[QKD_A_AUDIT] = { .type = NLA_REJECT, .reject_message = qkd_a_audit_rej },
	[QKD_A_SPI] = { .type = NLA_REJECT, .reject_message = qkd_a_spi_rej },
	[QKD_A_USAGE] = { .type = NLA_REJECT, .reject_message = qkd_a_usage_rej },
	[QKD_A_LINK_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_link_count_rej },
	[QKD_A_KEY_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_key_count_rej },
};

/* QKD_CMD_KEY_TAKE */
static const struct nla_policy qkd_key_take_nl_policy[QKD_A_MAX + 1] = {
	[QKD_A_PAD] = { .type = NLA_REJECT, .reject_message = qkd_a_pad_rej },
	[QKD_A_LINK_NAME] = { .type = NLA_NUL_STRING, .len = QKD_LINK_NAME_MAX - 1 },
	[QKD_A_LOCAL_SAE_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_local_sae_id_rej },
	[QKD_A_REMOTE_SAE_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_remote_sae_id_rej },
	[QKD_A_MAX_KEYS] = { .type = NLA_REJECT, .reject_message = qkd_a_max_keys_rej },
	[QKD_A_MAX_BYTES] = { .type = NLA_REJECT, .reject_message = qkd_a_max_bytes_rej },
	[QKD_A_KEY_TTL] = { .type = NLA_REJECT, .reject_message = qkd_a_key_ttl_rej },
	[QKD_A_RATE] = { .type = NLA_REJECT, .reject_message = qkd_a_rate_rej },
	[QKD_A_BURST] = { .type = NLA_REJECT, .reject_message = qkd_a_burst_rej },
	[QKD_A_LOW_WATERMARK] = { .type = NLA_REJECT, .reject_message = qkd_a_low_watermark_rej },
	[QKD_A_KEY] = { .type = NLA_REJECT, .reject_message = qkd_a_key_rej },
	[QKD_A_KEY_ID] = NLA_POLICY_EXACT_LEN(QKD_KEY_ID_LEN),
	[QKD_A_KEY_ROLE] = { .type = NLA_REJECT, .reject_message = qkd_a_key_role_rej },
	[QKD_A_WAIT_MS] = NLA_POLICY_MAX(NLA_U32, QKD_TAKE_WAIT_MAX_MS),
	[QKD_A_STATS] = { .type = NLA_REJECT, .reject_message = qkd_a_stats_rej },
	[QKD_A_AUDIT] = { .type = NLA_REJECT, .reject_message = qkd_a_audit_rej },
	[QKD_A_SPI] = { .type = NLA_REJECT, .reject_message = qkd_a_spi_rej },
	[QKD_A_USAGE] = { .type = NLA_REJECT, .reject_message = qkd_a_usage_rej },
	[QKD_A_LINK_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_link_count_rej },
	[QKD_A_KEY_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_key_count_rej },
};

/* QKD_CMD_FLUSH */
static const struct nla_policy qkd_flush_nl_policy[QKD_A_MAX + 1] = {
	[QKD_A_PAD] = { .type = NLA_REJECT, .reject_message = qkd_a_pad_rej },
	[QKD_A_LINK_NAME] = { .type = NLA_NUL_STRING, .len = QKD_LINK_NAME_MAX - 1 },
	[QKD_A_LOCAL_SAE_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_local_sae_id_rej },
	[QKD_A_REMOTE_SAE_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_remote_sae_id_rej },
	[QKD_A_MAX_KEYS] = { .type = NLA_REJECT, .reject_message = qkd_a_max_keys_rej },
	[QKD_A_MAX_BYTES] = { .type = NLA_REJECT, .reject_message = qkd_a_max_bytes_rej },
	[QKD_A_KEY_TTL] = { .type = NLA_REJECT, .reject_message = qkd_a_key_ttl_rej },
	[QKD_A_RATE] = { .type = NLA_REJECT, .reject_message = qkd_a_rate_rej },
	[QKD_A_BURST] = { .type = NLA_REJECT, .reject_message = qkd_a_burst_rej },
	[QKD_A_LOW_WATERMARK] = { .type = NLA_REJECT, .reject_message = qkd_a_low_watermark_rej },
	[QKD_A_KEY] = { .type = NLA_REJECT, .reject_message = qkd_a_key_rej },
	[QKD_A_KEY_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_key_id_rej },
	[QKD_A_KEY_ROLE] = NLA_POLICY_RANGE(NLA_U8, QKD_KEY_ROLE_INITIATOR, QKD_KEY_ROLE_RESPONDER),
	[QKD_A_WAIT_MS] = { .type = NLA_REJECT, .reject_message = qkd_a_wait_ms_rej },
	[QKD_A_STATS] = { .type = NLA_REJECT, .reject_message = qkd_a_stats_rej },
	[QKD_A_AUDIT] = { .type = NLA_REJECT, .reject_message = qkd_a_audit_rej },
	[QKD_A_SPI] = { .type = NLA_REJECT, .reject_message = qkd_a_spi_rej },
	[QKD_A_USAGE] = { .type = NLA_REJECT, .reject_message = qkd_a_usage_rej },
	[QKD_A_LINK_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_link_count_rej },
	[QKD_A_KEY_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_key_count_rej },
};

/* QKD_CMD_AUDIT_ANNOTATE */
static const struct nla_policy qkd_audit_annotate_nl_policy[QKD_A_MAX + 1] = {
	[QKD_A_PAD] = { .type = NLA_REJECT, .reject_message = qkd_a_pad_rej },
	[QKD_A_LINK_NAME] = { .type = NLA_NUL_STRING, .len = QKD_LINK_NAME_MAX - 1 },
	[QKD_A_LOCAL_SAE_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_local_sae_id_rej },
	[QKD_A_REMOTE_SAE_ID] = { .type = NLA_REJECT, .reject_message = qkd_a_remote_sae_id_rej },
	[QKD_A_MAX_KEYS] = { .type = NLA_REJECT, .reject_message = qkd_a_max_keys_rej },
	[QKD_A_MAX_BYTES] = { .type = NLA_REJECT, .reject_message = qkd_a_max_bytes_rej },
	[QKD_A_KEY_TTL] = { .type = NLA_REJECT, .reject_message = qkd_a_key_ttl_rej },
	[QKD_A_RATE] = { .type = NLA_REJECT, .reject_message = qkd_a_rate_rej },
	[QKD_A_BURST] = { .type = NLA_REJECT, .reject_message = qkd_a_burst_rej },
	[QKD_A_LOW_WATERMARK] = { .type = NLA_REJECT, .reject_message = qkd_a_low_watermark_rej },
	[QKD_A_KEY] = { .type = NLA_REJECT, .reject_message = qkd_a_key_rej },
	[QKD_A_KEY_ID] = NLA_POLICY_EXACT_LEN(QKD_KEY_ID_LEN),
	[QKD_A_KEY_ROLE] = { .type = NLA_REJECT, .reject_message = qkd_a_key_role_rej },
	[QKD_A_WAIT_MS] = { .type = NLA_REJECT, .reject_message = qkd_a_wait_ms_rej },
	[QKD_A_STATS] = { .type = NLA_REJECT, .reject_message = qkd_a_stats_rej },
	[QKD_A_AUDIT] = { .type = NLA_REJECT, .reject_message = qkd_a_audit_rej },
	[QKD_A_SPI] = { .type = NLA_U32 },
	[QKD_A_USAGE] = { .type = NLA_NUL_STRING, .len = QKD_USAGE_MAX - 1 },
	[QKD_A_LINK_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_link_count_rej },
	[QKD_A_KEY_COUNT] = { .type = NLA_REJECT, .reject_message = qkd_a_key_count_rej },
};

static const struct genl_ops qkd_nl_ops[] = {
	{
		.cmd		= QKD_CMD_LINK_NEW,
		.flags		= GENL_UNS_ADMIN_PERM,
		.doit		= qkd_nl_link_new,
		.policy		= qkd_link_new_nl_policy,
		.maxattr	= QKD_A_MAX,
	},
	{
		.cmd		= QKD_CMD_LINK_SET,
		.flags		= GENL_UNS_ADMIN_PERM,
		.doit		= qkd_nl_link_set,
		.policy		= qkd_link_new_nl_policy,
		.maxattr	= QKD_A_MAX,
	},
	{
		.cmd		= QKD_CMD_LINK_DEL,
		.flags		= GENL_UNS_ADMIN_PERM,
		.doit		= qkd_nl_link_del,
		.policy		= qkd_link_del_nl_policy,
		.maxattr	= QKD_A_MAX,
	},
	{
		.cmd		= QKD_CMD_LINK_GET,
		.flags		= GENL_UNS_ADMIN_PERM,
		.doit		= qkd_nl_link_get,
		.dumpit		= qkd_nl_link_get_dump,
		.policy		= qkd_link_del_nl_policy,
		.maxattr	= QKD_A_MAX,
	},
	{
		.cmd		= QKD_CMD_KEY_INJECT,
		.flags		= GENL_UNS_ADMIN_PERM,
		.doit		= qkd_nl_key_inject,
		.policy		= qkd_key_inject_nl_policy,
		.maxattr	= QKD_A_MAX,
	},
	{
		.cmd		= QKD_CMD_KEY_TAKE,
		.flags		= GENL_UNS_ADMIN_PERM,
		.doit		= qkd_nl_key_take,
		.policy		= qkd_key_take_nl_policy,
		.maxattr	= QKD_A_MAX,
	},
	{
		.cmd		= QKD_CMD_FLUSH,
		.flags		= GENL_UNS_ADMIN_PERM,
		.doit		= qkd_nl_flush,
		.policy		= qkd_flush_nl_policy,
		.maxattr	= QKD_A_MAX,
	},
	{
		.cmd		= QKD_CMD_STATS_GET,
		.flags		= GENL_UNS_ADMIN_PERM,
		.doit		= qkd_nl_stats_get,
		.policy		= qkd_link_del_nl_policy,
		.maxattr	= QKD_A_MAX,
	},
	{
		.cmd		= QKD_CMD_AUDIT_GET,
		.flags		= GENL_UNS_ADMIN_PERM,
		.dumpit		= qkd_nl_audit_get_dump,
		.policy		= qkd_link_del_nl_policy,
		.maxattr	= QKD_A_MAX,
	},
	{
		.cmd		= QKD_CMD_AUDIT_ANNOTATE,
		.flags		= GENL_UNS_ADMIN_PERM,
		.doit		= qkd_nl_audit_annotate,
		.policy		= qkd_audit_annotate_nl_policy,
		.maxattr	= QKD_A_MAX,
	},
};

static const struct genl_multicast_group qkd_nl_mcgrps[] = {
	[QKD_MCGRP_NOTIFY_ID] = {
		.name = QKD_MCGRP_NOTIFY,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

struct genl_family qkd_genl_family __ro_after_init = {
	.name		= QKD_FAMILY_NAME,
	.version	= QKD_FAMILY_VERSION,
	/* For CTRL_ATTR_MAXATTR only: each operation has its own policy. */
	.maxattr	= QKD_A_MAX,
	.netnsok	= true,
	/* No genl_mutex: handlers lock for themselves, a take may sleep. */
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.ops		= qkd_nl_ops,
	.n_ops		= ARRAY_SIZE(qkd_nl_ops),
	/* Strict validation of every operation. */
	.resv_start_op	= QKD_CMD_LINK_NEW,
	.mcgrps		= qkd_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(qkd_nl_mcgrps),
};
