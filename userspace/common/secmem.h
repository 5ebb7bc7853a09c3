/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Memory for secrets: every buffer is wiped (OPENSSL_cleanse) when freed,
 * and once sec_init() has set up OpenSSL's secure heap (an mmap'd arena,
 * mlock'd, with guard pages, left out of core dumps) buffers come from
 * there, so key material is not swapped out.  When the heap cannot be
 * locked (RLIMIT_MEMLOCK too small, no CAP_IPC_LOCK) it is still used,
 * unlocked, and sec_init() says why; when it is full, buffers come from
 * malloc (wiped, not locked) and the fallback is counted.
 *
 * Builds with -DQKD_SECMEM_PLAIN (the sanitizer and valgrind test builds)
 * never use the secure heap, so that ASan and valgrind see every buffer.
 */
#ifndef QKD_SECMEM_H
#define QKD_SECMEM_H
#include <stddef.h>
#include <stdint.h>

void *sec_malloc(size_t n);
void *sec_calloc(size_t nmemb, size_t n);
void *sec_realloc(void *p, size_t n);
char *sec_strdup(const char *s);
void sec_free(void *p);
void sec_wipe(void *p, size_t n);
/* For libcurl (curl_global_init_mem): the same, but its buffers take the
 * secure heap only while it is less than half full, so that key buffers
 * always find room; beyond that they are wiped, not locked (not counted
 * as fallbacks). */
void *sec_malloc_spare(size_t n);
void *sec_calloc_spare(size_t nmemb, size_t n);
void *sec_realloc_spare(void *p, size_t n);
char *sec_strdup_spare(const char *s);

/*
 * Set up the secure heap of heap_bytes (a power of two, at least 64 KiB).
 * Returns 1 if it is locked in memory, 0 if key buffers are not locked
 * (why says so in one line: the caller logs it once), -1 if there is no
 * secure heap at all (why).  Call once, before the first sec_malloc.
 */
int sec_init(size_t heap_bytes, char *why, size_t whysz);

struct sec_stats {
	int locked;		/* 1: the secure heap is mlock'd */
	size_t heap_bytes;	/* 0: no secure heap */
	size_t heap_used;
	uint64_t fallbacks;	/* buffers that did not fit: wiped, not locked */
};
void sec_get_stats(struct sec_stats *st);
/* 1 the first time a buffer did not fit into the secure heap (so that
 * the caller can log it once), 0 after. */
int sec_fallback_news(void);

/* Make jansson allocate through sec_malloc/sec_free, so that decoded
 * base64 key strings and encoded replies are wiped when freed.  Call once
 * at start, before any jansson use. */
void sec_json_allocator_init(void);

#endif
