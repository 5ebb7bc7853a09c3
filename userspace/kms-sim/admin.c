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

/* Query argument name as a number in min..max: 0, 1 if absent, -1 if bad. */
static int arg_double(struct MHD_Connection *c, const char *name, double min, double max,
		      double *out)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	if (!v)
		return 1;	/* absent */
	return parse_double_in(v, min, max, out);
}

/* The setters: NULL, or what the request lacks. */
static const char *set_link(struct MHD_Connection *c)
{
	double v;

	if (arg_double(c, "up", 0, 1, &v))
		return "up=0|1 required";
	pthread_mutex_lock(&S.lock);
	S.link_up = v >= 0.5;
	pthread_mutex_unlock(&S.lock);
	log_info("admin: link %s", v >= 0.5 ? "restored" : "cut");
	return NULL;
}

static const char *set_qber(struct MHD_Connection *c)
{
	double q = -1, d = 0;
	int rq = arg_double(c, "value", 0, 0.5, &q);
	int rd = arg_double(c, "drift", -1, 1, &d);

	if (rq < 0 || rd < 0 || (rq && rd))
		return "value=0..0.5 and/or drift=-1..1 (per second)";
	pthread_mutex_lock(&S.lock);
	if (!rq)
		S.qber = q;
	if (!rd)
		S.qber_drift = d;
	q = S.qber;
	d = S.qber_drift;
	pthread_mutex_unlock(&S.lock);
	log_info("admin: qber %.4f drift %.5f/s", q, d);
	return NULL;
}

/* Query argument name in min..max into *field, under the lock.  The
 * value stays in *v for the log.  Returns 0, or -1 if absent or bad. */
static int set_double(struct MHD_Connection *c, const char *name, double min, double max,
		      double *field, double *v)
{
	if (arg_double(c, name, min, max, v))
		return -1;
	pthread_mutex_lock(&S.lock);
	*field = *v;
	pthread_mutex_unlock(&S.lock);
	return 0;
}

static const char *set_rate(struct MHD_Connection *c)
{
	double v;

	if (set_double(c, "bits", 0, 1e9, &S.key_rate, &v))
		return "bits=0..1e9 required";
	log_info("admin: key rate %.0f bit/s", v);
	return NULL;
}

static const char *set_fail(struct MHD_Connection *c)
{
	double v;

	if (set_double(c, "fraction", 0, 1, &S.fail_fraction, &v))
		return "fraction=0..1 required";
	log_info("admin: fail fraction %.3f", v);
	return NULL;
}

static const char *fill(struct MHD_Connection *c)
{
	double v;

	if (arg_double(c, "keys", 0, 1e7, &v))
		return "keys=N required";
	pthread_mutex_lock(&S.lock);
	S.avail_bits += v * S.key_size;
	update_locked();
	pthread_mutex_unlock(&S.lock);
	return NULL;
}

static const char *flush(struct MHD_Connection *c)
{
	(void)c;
	pthread_mutex_lock(&S.lock);
	S.avail_bits = 0;
	store_flush_locked();
	pthread_mutex_unlock(&S.lock);
	return NULL;
}

static const char *set_deviation(struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "set");
	unsigned dev = 0;
	char now[256];

	if (!v || (*v && deviation_parse(v, &dev)))
		return "set=NAME[,NAME...] (empty: none) required; see qkd-kms-sim(8)";
	__atomic_store_n(&S.dev, dev, __ATOMIC_RELAXED);
	if (!(dev & DEV_HANG))
		deviation_release_hung();
	deviation_format(dev, now, sizeof(now));
	log_info("admin: deviations '%s'", now);
	return NULL;
}

static const char *set_replica(struct MHD_Connection *c)
{
	const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
	double up;

	if (!name || arg_double(c, "up", 0, 1, &up))
		return "name=a|b|a2|b2 and up=0|1 required";
	switch (replica_set(name, up >= 0.5)) {
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
	}
	pthread_mutex_unlock(&S.lock);
	return send_json(c, 200, j);
}

static const struct {
	const char *path;
	const char *(*apply)(struct MHD_Connection *c);	/* NULL: status only */
} admin_paths[] = {
	{ "/admin/link", set_link }, { "/admin/qber", set_qber },
	{ "/admin/rate", set_rate }, { "/admin/fail", set_fail },
	{ "/admin/fill", fill }, { "/admin/flush", flush },
	{ "/admin/deviation", set_deviation }, { "/admin/replica", set_replica },
	{ "/admin/status", NULL },
};

enum MHD_Result admin(struct MHD_Connection *c, const char *url)
{
	const char *bad;
	size_t i;

	pthread_mutex_lock(&S.lock);
	update_locked();
	pthread_mutex_unlock(&S.lock);
	for (i = 0; i < sizeof(admin_paths) / sizeof(admin_paths[0]); i++)
		if (!strcmp(url, admin_paths[i].path))
			break;
	if (i == sizeof(admin_paths) / sizeof(admin_paths[0]))
		return send_json(c, 404, json_pack("{s:s}", "error", "unknown admin path"));
	bad = admin_paths[i].apply ? admin_paths[i].apply(c) : NULL;
	if (bad)
		return send_json(c, 400, json_pack("{s:s}", "error", bad));
	return send_status(c);
}
