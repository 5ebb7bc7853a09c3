// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The admin endpoint (plain HTTP, unauthenticated: bind it to loopback):
 * tests cut and restore the link, set its QBER, rate and failure
 * fraction, fill or flush the stored keys, and read the counters.  Every
 * path answers with the simulator's state as JSON.
 */
#include <string.h>
#include "log.h"
#include "sim.h"

/* The setters act on a parsed request (parse.c, admin_parse):
 * NULL, or why they could not. */
static const char *set_link(const struct admin_cmd *cmd)
{
	pthread_mutex_lock(&S.lock);
	S.link_up = cmd->v >= 0.5;
	pthread_mutex_unlock(&S.lock);
	log_info("admin: link %s", cmd->v >= 0.5 ? "restored" : "cut");
	return NULL;
}

static const char *set_qber(const struct admin_cmd *cmd)
{
	double q, d;

	pthread_mutex_lock(&S.lock);
	if (cmd->has_v)
		S.qber = cmd->v;
	if (cmd->has_v2)
		S.qber_drift = cmd->v2;
	q = S.qber;
	d = S.qber_drift;
	pthread_mutex_unlock(&S.lock);
	log_info("admin: qber %.4f drift %.5f/s", q, d);
	return NULL;
}

static const char *set_rate(const struct admin_cmd *cmd)
{
	pthread_mutex_lock(&S.lock);
	S.key_rate = cmd->v;
	pthread_mutex_unlock(&S.lock);
	log_info("admin: key rate %.0f bit/s", cmd->v);
	return NULL;
}

static const char *set_fail(const struct admin_cmd *cmd)
{
	pthread_mutex_lock(&S.lock);
	S.fail_fraction = cmd->v;
	pthread_mutex_unlock(&S.lock);
	log_info("admin: fail fraction %.3f", cmd->v);
	return NULL;
}

static const char *fill(const struct admin_cmd *cmd)
{
	pthread_mutex_lock(&S.lock);
	S.avail_bits += cmd->v * S.key_size;
	update_locked();
	pthread_mutex_unlock(&S.lock);
	return NULL;
}

static const char *flush(const struct admin_cmd *cmd)
{
	(void)cmd;
	pthread_mutex_lock(&S.lock);
	S.avail_bits = 0;
	store_flush_locked();
	pthread_mutex_unlock(&S.lock);
	return NULL;
}

static const char *set_deviation(const struct admin_cmd *cmd)
{
	char now[256];

	__atomic_store_n(&S.dev, cmd->dev, __ATOMIC_RELAXED);
	if (!(cmd->dev & DEV_HANG))
		deviation_release_hung();
	deviation_format(cmd->dev, now, sizeof(now));
	log_info("admin: deviations '%s'", now);
	return NULL;
}

static const char *set_replica(const struct admin_cmd *cmd)
{
	switch (replica_set(cmd->name, cmd->v >= 0.5)) {
	case 0:
		return NULL;
	case -1:
		return "no such KME endpoint (a, b, and a2, b2 if configured)";
	default:
		return "the endpoint did not start (see the log)";
	}
}

static enum MHD_Result send_status(struct MHD_Connection *c)
{
	char dev[256];
	json_t *j;

	deviation_format(deviations(), dev, sizeof(dev));
	pthread_mutex_lock(&S.lock);
	j = json_pack("{s:b, s:f, s:f, s:f, s:f, s:i, s:i, s:i, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		      "link_up", S.link_up, "qber", S.qber,
		      "qber_drift", S.qber_drift, "key_rate", S.key_rate,
		      "effective_key_rate", eff_rate_locked(),
		      "key_size", S.key_size,
		      "stored_key_count", stored_keys_locked(),
		      "pending_keys", S.npending,
		      "fail_fraction", S.fail_fraction,
		      "served_enc", (json_int_t)S.served_enc,
		      "served_dec", (json_int_t)S.served_dec,
		      "errors_400", (json_int_t)S.errors_400,
		      "errors_401", (json_int_t)S.errors_401,
		      "errors_503", (json_int_t)S.errors_503,
		      "injected_failures", (json_int_t)S.injected_fail,
		      "expired", (json_int_t)S.expired);
	if (j) {
		json_object_set_new(j, "deviations", json_string(dev));
		json_object_set_new(j, "discarded", json_integer((json_int_t)S.discarded));
		json_object_set_new(j, "spoilt_keys", json_integer((json_int_t)S.spoilt_keys));
		json_object_set_new(j, "hung", json_integer((json_int_t)S.hung));
		json_object_set_new(j, "endpoints", replicas_json());
		if (S.test_seeded)
			json_object_set_new(j, "test_keys_issued",
					    json_integer((json_int_t)S.test_keys_issued));
	}
	pthread_mutex_unlock(&S.lock);
	return send_json(c, 200, j);
}

/* What each path does once its arguments are parsed (NULL: status only). */
static const char *(*const apply[ADMIN__N])(const struct admin_cmd *cmd) = {
	[ADMIN_LINK] = set_link, [ADMIN_QBER] = set_qber, [ADMIN_RATE] = set_rate,
	[ADMIN_FAIL] = set_fail, [ADMIN_FILL] = fill, [ADMIN_FLUSH] = flush,
	[ADMIN_DEVIATION] = set_deviation, [ADMIN_REPLICA] = set_replica,
	[ADMIN_STATUS] = NULL,
};

static const char *mhd_arg(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

enum MHD_Result admin(struct MHD_Connection *c, const char *url)
{
	struct admin_cmd cmd;
	const char *bad;

	pthread_mutex_lock(&S.lock);
	update_locked();
	pthread_mutex_unlock(&S.lock);
	bad = admin_parse(url, mhd_arg, c, &cmd);
	if (!bad && cmd.op == ADMIN__N)
		return send_json(c, 404, json_pack("{s:s}", "error", "unknown admin path"));
	if (!bad && apply[cmd.op])
		bad = apply[cmd.op](&cmd);
	if (bad)
		return send_json(c, 400, json_pack("{s:s}", "error", bad));
	return send_status(c);
}
