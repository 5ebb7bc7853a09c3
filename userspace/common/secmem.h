/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Allocation that remembers its size and wipes (OPENSSL_cleanse) on free. */
#ifndef QKD_SECMEM_H
#define QKD_SECMEM_H
#include <stddef.h>

void *sec_malloc(size_t n);
void *sec_calloc(size_t nmemb, size_t n);
void sec_free(void *p);
void sec_wipe(void *p, size_t n);
/* Make jansson allocate through sec_malloc/sec_free, so that decoded
 * base64 key strings and encoded replies are wiped when freed.  Call once
 * at start, before any jansson use. */
void sec_json_allocator_init(void);

#endif
