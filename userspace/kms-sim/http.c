// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libmicrohttpd glue: the daemons (two HTTPS KMEs with mutual TLS, the
 * plain-HTTP admin endpoint), collecting a request's body, and replies:
 * JSON bodies in wiped buffers, ETSI error bodies counted by status code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "log.h"
#include "secmem.h"
#include "sim.h"

enum MHD_Result send_buf(struct MHD_Connection *c, unsigned int code, char *s)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!s)
		return MHD_NO;
	r = MHD_create_response_from_buffer_with_free_callback(strlen(s), s, sec_free);
	if (!r) {
		sec_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result send_err(struct MHD_Connection *c, unsigned int code, const char *msg,
			 const char *fmt, ...)
{
	char details[200];
	va_list ap;

	details[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(details, sizeof(details), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_lock(&S.lock);
	if (code == 400)
		S.errors_400++;
	else if (code == 401)
		S.errors_401++;
	else
		S.errors_503++;
	pthread_mutex_unlock(&S.lock);
	log_info("HTTP %u: %s%s%s", code, msg, details[0] ? ": " : "", details);
	if (deviations() & (DEV_HTML_ERRORS | DEV_EMPTY_ERRORS))
		return send_raw_error(c, code, !!(deviations() & DEV_HTML_ERRORS));
	return send_buf(c, code, etsi_error_encode(msg, details[0] ? details : NULL));
}

enum MHD_Result send_json(struct MHD_Connection *c, unsigned int code, json_t *j)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
	char *s = sec_malloc(n + 2);

	if (!s) {
		json_decref(j);
		return MHD_NO;
	}
	json_dumpb(j, s, n, JSON_COMPACT);
	s[n] = '\n';
	s[n + 1] = '\0';
	json_decref(j);
	return send_buf(c, code, s);
}

/* Append one piece of the upload to rq (wiping buffers, as for every
 * body here); past REQ_BODY_MAX only remember that it was too big. */
static enum MHD_Result collect_body(struct req *rq, const char *data, size_t size)
{
	char *nb;

	if (rq->too_big)
		return MHD_YES;
	if (rq->len + size > REQ_BODY_MAX) {
		rq->too_big = 1;
		sec_free(rq->body);
		rq->body = NULL;
		rq->len = 0;
		return MHD_YES;
	}
	nb = sec_malloc(rq->len + size + 1);
	if (!nb)
		return MHD_NO;
	if (rq->body)
		memcpy(nb, rq->body, rq->len);
	memcpy(nb + rq->len, data, size);
	sec_free(rq->body);
	rq->body = nb;
	rq->len += size;
	rq->body[rq->len] = '\0';
	return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct site_ctx *sc = cls;
	struct req *rq = *con_cls;

	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (rq->hung)
		return MHD_NO;	/* let go after a hang: closed, never answered */
	if (*upload_size) {
		if (collect_body(rq, upload_data, *upload_size) == MHD_NO)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (sc->site == 2)
		return admin(c, url);
	return api(c, sc->site, url, method, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		sec_free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char m[512];

	(void)cls;
	vsnprintf(m, sizeof(m), fmt, ap);
	m[strcspn(m, "\n")] = '\0';
	log_debug("microhttpd: %s", m);
}

struct MHD_Daemon *start_tls(struct site_ctx *sc, const char *listen, const char *cert,
			     const char *key, const char *ca)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;

	if (parse_ipv4_port(listen, "127.0.0.1", &sa)) {
		log_err("bad listen address '%s' (expected IPV4:PORT)", listen);
		return NULL;
	}
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS |
			     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
			     0, NULL, NULL, handler, sc,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
			     MHD_OPTION_HTTPS_MEM_CERT, cert,
			     MHD_OPTION_HTTPS_MEM_KEY, key,
			     MHD_OPTION_HTTPS_MEM_TRUST, ca,
			     MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1",
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
			     MHD_OPTION_END);
	if (!d)
		log_err("cannot listen on %s: %s", listen, strerror(errno));
	return d;
}

struct MHD_Daemon *start_admin(struct site_ctx *sc, const char *listen)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;

	if (parse_ipv4_port(listen, "127.0.0.1", &sa)) {
		log_err("bad admin address '%s'", listen);
		return NULL;
	}
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
			     0, NULL, NULL, handler, sc,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_END);
	if (!d)
		log_err("cannot listen on %s", listen);
	return d;
}
