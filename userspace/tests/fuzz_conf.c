// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness: the agent's configuration parser (common/conf.c,
 * conf_parse_buf, which conf_load runs on the whole file).  Every input
 * is one config file.  Paths in it are only checked with access(2).
 *
 * Beyond the sanitizers it checks what conf.h promises of a config that
 * was accepted (the agent relies on it without checking again) and that
 * a refusal is one NUL-terminated "file:line: reason".
 */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"
#include "etsi.h"

#define FILE_NAME "fuzz.conf"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_id(const char *s, size_t sz)
{
	size_t l = strnlen(s, sz);

	assert(l >= 1 && l < sz);
	for (; *s; s++)
		assert(isgraph((unsigned char)*s) && !strchr("/?#%", *s));
}

static void check_name(const char *s)
{
	size_t l = strnlen(s, CONF_NAME_MAX);

	assert(l >= 1 && l < CONF_NAME_MAX);
	for (; *s; s++)
		assert(isalnum((unsigned char)*s) || strchr("._-:@", *s));
}

static void check_link(const struct conf *c, size_t i)
{
	const struct conf_link *l = &c->links[i];
	unsigned k;
	size_t j;

	check_name(l->name);
	assert(l->nkmes >= 1 && l->nkmes <= CONF_KMES_MAX && l->kme_url == l->kme_urls[0]);
	for (k = 0; k < l->nkmes; k++) {
		const char *u = l->kme_urls[k];

		assert(strnlen(u, CONF_URL_MAX) < CONF_URL_MAX && *u && !strpbrk(u, "?#"));
	}
	check_id(l->local_sae_id, CONF_SAE_MAX);
	check_id(l->remote_sae_id, CONF_SAE_MAX);
	assert(strcmp(l->local_sae_id, l->remote_sae_id));
	assert(l->client_cert[0] && l->client_key[0] && l->ca_cert[0]);
	assert(l->key_size % 8 == 0 && l->key_size >= 8);
	assert(l->low_watermark < l->high_watermark);
	assert(l->role == ROLE_SLAVE || l->low_watermark >= 1);
	assert(l->backoff_base_ms <= l->backoff_max_ms);
	assert(l->line >= 1 && l->poll_interval >= 1 && l->request_timeout >= 1);
	assert(l->rate_drift >= 0 && l->rate_drift <= 1);
	assert(l->qber_threshold >= 0 && l->qber_threshold <= 1);
	assert(l->role <= ROLE_SLAVE && l->prefetch <= PREFETCH_NO);
	assert(conf_find(c, l->name) == l);
	for (j = 0; j < i; j++)
		assert(strcmp(c->links[j].name, l->name));
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct conf c;	/* ~150 KiB: not on the stack */
	char err[512];
	size_t i;

	err[0] = '\0';
	if (conf_parse_buf(FILE_NAME, (const char *)data, size, &c, err, sizeof(err)) == 0) {
		assert(c.nlinks >= 1 && c.nlinks <= CONF_LINKS_MAX);
		assert(c.log_level >= 0 && c.log_level <= 3 && c.stats_interval >= 1);
		assert(strnlen(c.metrics_listen, sizeof(c.metrics_listen)) <
		       sizeof(c.metrics_listen));
		for (i = 0; i < c.nlinks; i++)
			check_link(&c, i);
	} else {
		unsigned line;
		char colon;

		assert(memchr(err, '\0', sizeof(err)));
		assert(!strncmp(err, FILE_NAME ":", strlen(FILE_NAME ":")));
		assert(sscanf(err + strlen(FILE_NAME ":"), "%u%c", &line, &colon) == 2 &&
		       colon == ':' && line >= 1);
	}
	return 0;
}
