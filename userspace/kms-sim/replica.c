// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The HTTPS endpoints of the two KMEs: A and B, and optional replicas A2
 * and B2 (--listen-a2, --listen-b2): other endpoints of the same KME, with
 * the same store and the same keys, as the machines of an HA pair would
 * be.  Each can be stopped (connections refused) and started again at run
 * time (/admin/replica), which stands in for one machine going down.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "sim.h"

static struct kme_ep {
	const char *name;
	int site;
	char listen[64];	/* "": not configured */
	struct site_ctx sc;
	struct MHD_Daemon *d;
} eps[] = { { .name = "a", .site = 0 }, { .name = "b", .site = 1 },
	      { .name = "a2", .site = 0 }, { .name = "b2", .site = 1 } };

#define NEPS (sizeof(eps) / sizeof(eps[0]))

static const char *cert_pem[2], *key_pem[2], *ca_pem;
static pthread_mutex_t ep_lock = PTHREAD_MUTEX_INITIALIZER;

static int start_ep_locked(struct kme_ep *e)
{
	e->sc.site = e->site;
	e->d = start_tls(&e->sc, e->listen, cert_pem[e->site], key_pem[e->site], ca_pem);
	return e->d ? 0 : -1;
}

int replicas_start(const char *const listen[4], const char *const cert[2],
		   const char *const key[2], const char *ca)
{
	size_t i;
	int r = 0;

	cert_pem[0] = cert[0];
	cert_pem[1] = cert[1];
	key_pem[0] = key[0];
	key_pem[1] = key[1];
	ca_pem = ca;
	pthread_mutex_lock(&ep_lock);
	for (i = 0; i < NEPS && !r; i++) {
		if (!listen[i])
			continue;
		snprintf(eps[i].listen, sizeof(eps[i].listen), "%s", listen[i]);
		r = start_ep_locked(&eps[i]);
	}
	pthread_mutex_unlock(&ep_lock);
	return r;
}

/* Stop one daemon: hung connections go first (a daemon must not stop with
 * suspended connections), and they get a moment to be let go. */
static void stop_ep_locked(struct kme_ep *e)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	if (!e->d)
		return;
	deviation_release_hung();
	nanosleep(&ts, NULL);
	MHD_stop_daemon(e->d);
	e->d = NULL;
}

int replica_set(const char *name, int up)
{
	struct kme_ep *e = NULL;
	size_t i;
	int r = 0;

	for (i = 0; i < NEPS; i++)
		if (!strcmp(eps[i].name, name) && eps[i].listen[0])
			e = &eps[i];
	if (!e)
		return -1;
	pthread_mutex_lock(&ep_lock);
	if (up && !e->d)
		r = start_ep_locked(e) ? -2 : 0;
	else if (!up)
		stop_ep_locked(e);
	pthread_mutex_unlock(&ep_lock);
	log_info("admin: KME endpoint %s (%s) %s", e->name, e->listen,
		 r ? "failed to start" : up ? "up" : "down");
	return r;
}

void replicas_stop(void)
{
	size_t i;

	pthread_mutex_lock(&ep_lock);
	for (i = 0; i < NEPS; i++)
		stop_ep_locked(&eps[i]);
	pthread_mutex_unlock(&ep_lock);
}

json_t *replicas_json(void)
{
	json_t *j = json_object();
	size_t i;

	pthread_mutex_lock(&ep_lock);
	for (i = 0; j && i < NEPS; i++)
		if (eps[i].listen[0])
			json_object_set_new(j, eps[i].name, json_boolean(eps[i].d != NULL));
	pthread_mutex_unlock(&ep_lock);
	return j;
}
