// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "secmem.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <jansson.h>
#include <openssl/crypto.h>

/* malloc'd buffers carry their size in a header (the payload stays
 * 16-byte aligned); secure-heap buffers need none: OpenSSL knows it. */
#define SEC_HDR 16

static int heap_on;		/* the secure heap exists */
static int heap_locked;
static size_t heap_size;
static uint64_t fallbacks;	/* atomic: the simulator is threaded */
static int fallback_told;

static void *plain_alloc(size_t n)
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

/* spare: a buffer of libcurl's (sec_malloc_spare), which may only use
 * the first half of the heap, so that key buffers always find room. */
static void *alloc(size_t n, int spare)
{
	void *p;

	if (heap_on && n && (!spare || CRYPTO_secure_used() < heap_size / 2)) {
		p = OPENSSL_secure_malloc(n);
		if (p)
			return p;
	}
	if (heap_on && !spare)
		__atomic_add_fetch(&fallbacks, 1, __ATOMIC_RELAXED);
	return plain_alloc(n);
}

/* Usable size of a buffer from alloc(). */
static size_t size_of(void *p)
{
	size_t n;

	if (heap_on && CRYPTO_secure_allocated(p))
		return CRYPTO_secure_actual_size(p);
	memcpy(&n, (unsigned char *)p - SEC_HDR, sizeof(n));
	return n;
}

void *sec_malloc(size_t n)
{
	return alloc(n, 0);
}

void *sec_malloc_spare(size_t n)
{
	return alloc(n, 1);
}

static void *c_alloc(size_t nmemb, size_t n, int spare)
{
	void *p;

	if (n && nmemb > SIZE_MAX / n)
		return NULL;
	p = alloc(nmemb * n, spare);
	if (p)
		memset(p, 0, nmemb * n);
	return p;
}

void *sec_calloc(size_t nmemb, size_t n)
{
	return c_alloc(nmemb, n, 0);
}

void *sec_calloc_spare(size_t nmemb, size_t n)
{
	return c_alloc(nmemb, n, 1);
}

void sec_free(void *p)
{
	unsigned char *h;
	size_t n;

	if (!p)
		return;
	if (heap_on && CRYPTO_secure_allocated(p)) {
		OPENSSL_secure_clear_free(p, CRYPTO_secure_actual_size(p));
		return;
	}
	h = (unsigned char *)p - SEC_HDR;
	memcpy(&n, h, sizeof(n));
	OPENSSL_cleanse(h, n + SEC_HDR);
	free(h);
}

/* Never realloc() in place: the old copy must be wiped. */
static void *re_alloc(void *p, size_t n, int spare)
{
	void *np;
	size_t old;

	if (!p)
		return alloc(n, spare);
	if (!n) {
		sec_free(p);
		return NULL;
	}
	old = size_of(p);
	np = alloc(n, spare);
	if (!np)
		return NULL;
	memcpy(np, p, old < n ? old : n);
	sec_free(p);
	return np;
}

void *sec_realloc(void *p, size_t n)
{
	return re_alloc(p, n, 0);
}

void *sec_realloc_spare(void *p, size_t n)
{
	return re_alloc(p, n, 1);
}

static char *str_dup(const char *s, int spare)
{
	size_t n = strlen(s) + 1;
	char *d = alloc(n, spare);

	if (d)
		memcpy(d, s, n);
	return d;
}

char *sec_strdup(const char *s)
{
	return str_dup(s, 0);
}

char *sec_strdup_spare(const char *s)
{
	return str_dup(s, 1);
}

void sec_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

int sec_init(size_t heap_bytes, char *why, size_t whysz)
{
#ifdef QKD_SECMEM_PLAIN
	(void)heap_bytes;
	snprintf(why, whysz, "key buffers are wiped but not locked in memory "
		 "(test build without the secure heap)");
	return -1;
#else
	struct rlimit rl;
	int r;

	if (heap_on)
		return heap_locked;
	/* OpenSSL locks what it can; raise the soft limit first if the hard
	 * one allows it (as an unprivileged service would). */
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < heap_bytes + (64 << 10)) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > heap_bytes + (64 << 10) ?
			      heap_bytes + (64 << 10) : rl.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &rl);
	}
	r = CRYPTO_secure_malloc_init(heap_bytes, 32);
	if (r == 0) {
		snprintf(why, whysz, "key buffers are wiped but not locked in memory: "
			 "no secure heap of %zu KiB (%s)", heap_bytes >> 10, strerror(errno));
		return -1;
	}
	heap_on = 1;
	heap_size = heap_bytes;
	heap_locked = r == 1;
	if (!heap_locked) {
		char lim[32] = "unlimited";

		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			snprintf(lim, sizeof(lim), "%llu KiB", (unsigned long long)rl.rlim_cur >> 10);
		snprintf(why, whysz, "key buffers are not locked in memory (they may be swapped "
			 "out): mlock of the %zu KiB secure heap failed, RLIMIT_MEMLOCK is %s; "
			 "raise it (LimitMEMLOCK=, ulimit -l) or grant CAP_IPC_LOCK",
			 heap_bytes >> 10, lim);
	}
	return heap_locked;
#endif
}

void sec_get_stats(struct sec_stats *st)
{
	st->locked = heap_on && heap_locked;
	st->heap_bytes = heap_on ? heap_size : 0;
	st->heap_used = heap_on ? CRYPTO_secure_used() : 0;
	st->fallbacks = __atomic_load_n(&fallbacks, __ATOMIC_RELAXED);
}

int sec_fallback_news(void)
{
	if (fallback_told || !__atomic_load_n(&fallbacks, __ATOMIC_RELAXED))
		return 0;
	fallback_told = 1;
	return 1;
}

void sec_json_allocator_init(void)
{
	json_set_alloc_funcs(sec_malloc, sec_free);
}
