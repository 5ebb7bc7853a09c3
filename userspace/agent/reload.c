// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * SIGHUP: read the configuration file again and apply it without a
 * restart, so that no held key and no learnt state is lost.  The new file
 * passes the same checks as at start (conf_load, conf_check_tls: the
 * certificates load and match); then what it changes is applied if it can
 * be applied to a running agent, else nothing is applied and one error
 * line names each change that needs a restart.  Either way the agent runs
 * on: a reload never takes the key supply down.
 *
 * Applied: every tunable of [agent] and of each link (watermarks, batch,
 * intervals, timeouts, backoff, thresholds, prefetch, jit_grace, ...) and
 * the TLS files: client_cert, client_key (or its token and PIN file) and
 * ca_cert are read again (new
 * paths, or new contents at the same paths: a renewed certificate) by the
 * next connection, and connections made before the reload are not reused
 * (etsi_client_renew).  Needs a restart: links added, removed or renamed;
 * a link's role, SAE IDs, key_size, kme_url list, or the module link
 * limits (max_keys, max_bytes, key_ttl, rate, burst: set when the agent
 * creates the link); metrics_listen.
 */
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "clock.h"
#include "log.h"
#include "p11.h"

#define SAME_STR(f) (!strcmp(o->f, n->f))
#define SAME(f) (o->f == n->f)

static int same_kmes(const struct conf_link *o, const struct conf_link *n)
{
	unsigned i;

	if (o->nkmes != n->nkmes)
		return 0;
	for (i = 0; i < o->nkmes; i++)
		if (strcmp(o->kme_urls[i], n->kme_urls[i]))
			return 0;
	return 1;
}

/* What of one link needs a restart: the first such field, or NULL. */
static const char *link_restart_field(const struct conf_link *o, const struct conf_link *n)
{
	if (!SAME(role))
		return "role";
	if (!SAME_STR(local_sae_id) || !SAME_STR(remote_sae_id))
		return "local_sae_id/remote_sae_id";
	if (!SAME(key_size))
		return "key_size";
	if (!same_kmes(o, n))
		return "kme_url";
	if (!SAME(max_keys) || !SAME(max_bytes) || !SAME(key_ttl) || !SAME(rate) || !SAME(burst))
		return "max_keys/max_bytes/key_ttl/rate/burst (module link limits)";
	return NULL;
}

/* Log every change that needs a restart; returns how many. */
static int restart_needed(const struct conf *o, const struct conf *n)
{
	const struct conf_link *nl;
	const char *f;
	int bad = 0;
	size_t i;

	if (strcmp(o->metrics_listen, n->metrics_listen) && ++bad)
		log_err("reload: metrics_listen changed: needs a restart");
	for (i = 0; i < o->nlinks; i++) {
		nl = conf_find(n, o->links[i].name);
		if (!nl && ++bad)
			log_err("reload: link %s removed: needs a restart", o->links[i].name);
		else if (nl && (f = link_restart_field(&o->links[i], nl)) && ++bad)
			log_err("reload: link %s: %s changed: needs a restart", o->links[i].name, f);
	}
	for (i = 0; i < n->nlinks; i++)
		if (!conf_find(o, n->links[i].name) && ++bad)
			log_err("reload: link %s added: needs a restart", n->links[i].name);
	return bad;
}

/* Copy the tunables of n into the running link; what derives from them
 * (backoff bounds, the clients' TLS files and timeout) follows. */
static void apply_link(struct agent *a, struct link *l, const struct conf_link *n)
{
	struct conf_link *c = &a->conf->links[l - a->links];
	int backoff = c->backoff_base_ms != n->backoff_base_ms ||
		      c->backoff_max_ms != n->backoff_max_ms;
	int prefetch = c->prefetch != n->prefetch;

	*c = *n;
	c->kme_url = c->kme_urls[0];	/* into our copy, not n's */
	if (backoff) {
		backoff_set_bounds(&l->bo_master, c->backoff_base_ms, c->backoff_max_ms);
		backoff_set_bounds(&l->bo_slave, c->backoff_base_ms / 4 ? c->backoff_base_ms / 4 : 1,
				   c->backoff_max_ms / 4 ? c->backoff_max_ms / 4 : 1);
		backoff_set_bounds(&l->bo_status, c->backoff_base_ms, c->backoff_max_ms);
		backoff_set_bounds(&l->bo_create, c->backoff_base_ms, c->backoff_max_ms);
	}
	if (prefetch && c->role != ROLE_SLAVE)
		l->jit = c->prefetch == PREFETCH_NO;	/* auto: kme.c decides again */
	etsi_client_renew(&l->kme_m, c->client_cert, c->client_key, c->ca_cert,
			  (long)c->request_timeout);
	etsi_client_renew(&l->kme_s, c->client_cert, c->client_key, c->ca_cert,
			  (long)c->request_timeout);
	link_tls_setup(l);	/* checked by conf_check_tls just before */
}

int link_tls_setup(struct link *l)
{
	char why[300];
	char *pin = NULL;
	int64_t t;
	int r;

	l->cert_not_after = conf_cert_not_after(l->cfg->client_cert, &t) ? 0 : t;
	l->cert_warned = 0;
	if (etsi_client_set_crl(&l->kme_m, l->cfg->crl_file) ||
	    etsi_client_set_crl(&l->kme_s, l->cfg->crl_file))
		return -1;
	if (l->cfg->client_key_pin_file[0] &&
	    !(pin = p11_read_pin(l->cfg->client_key_pin_file, why, sizeof(why)))) {
		log_err("link %s: client_key_pin_file '%s': %s", l->cfg->name,
			l->cfg->client_key_pin_file, why);
		return -1;
	}
	r = etsi_client_set_pin(&l->kme_m, pin) | etsi_client_set_pin(&l->kme_s, pin);
	p11_free_pin(pin);
	return r ? -1 : 0;
}

static void apply(struct agent *a, const struct conf *n)
{
	struct conf *c = a->conf;
	size_t i;

	c->log_level = n->log_level;
	c->stats_interval = a->cli_stats_interval ? a->cli_stats_interval : n->stats_interval;
	c->audit_journal = n->audit_journal;
	c->audit_interval = n->audit_interval;
	c->audit_settle = n->audit_settle;
	c->cert_warn_days = n->cert_warn_days;
	memcpy(c->plugin_metrics, n->plugin_metrics, sizeof(c->plugin_metrics));
	qkd_log_level = a->cli_log_level >= 0 ? a->cli_log_level : c->log_level;
	for (i = 0; i < a->nlinks; i++)
		apply_link(a, &a->links[i], conf_find(n, a->links[i].cfg->name));
	/* a shorter interval takes effect now, not after the old one */
	a->next_stats = mono_now() + c->stats_interval;
	a->audit.next_run = 0;
}

int agent_reload(struct agent *a)
{
	struct conf *n = calloc(1, sizeof(*n));
	char err[512];
	int r = -1;

	if (!n) {
		log_err("reload: out of memory: the running configuration stays");
		goto out;
	}
	if (conf_load(a->conf->file, n, err, sizeof(err)) ||
	    conf_check_tls(n, err, sizeof(err))) {
		log_err("reload refused: %s: the running configuration stays", err);
		goto out;
	}
	if (restart_needed(a->conf, n)) {
		log_err("reload refused: restart the agent for the changes above; the running "
			"configuration stays");
		goto out;
	}
	apply(a, n);
	log_info("reloaded %s: %zu link(s); certificates are read again by new connections",
		 a->conf->file, a->nlinks);
	r = 0;
out:
	if (r)
		a->reloads_refused++;
	else
		a->reloads_ok++;
	free(n);
	return r;
}
