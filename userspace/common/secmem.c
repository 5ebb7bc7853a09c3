// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "secmem.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/crypto.h>

/* Header keeps the payload 16-byte aligned. */
#define SEC_HDR 16

void *sec_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - SEC_HDR)
		return NULL;
	p = malloc(n + SEC_HDR);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + SEC_HDR;
}

void *sec_calloc(size_t nmemb, size_t n)
{
	void *p;

	if (n && nmemb > SIZE_MAX / n)
		return NULL;
	p = sec_malloc(nmemb * n);
	if (p)
		memset(p, 0, nmemb * n);
	return p;
}

void sec_free(void *p)
{
	unsigned char *h;
	size_t n;

	if (!p)
		return;
	h = (unsigned char *)p - SEC_HDR;
	memcpy(&n, h, sizeof(n));
	OPENSSL_cleanse(h, n + SEC_HDR);
	free(h);
}

void sec_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void sec_json_allocator_init(void)
{
	json_set_alloc_funcs(sec_malloc, sec_free);
}
