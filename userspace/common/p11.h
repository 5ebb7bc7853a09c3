/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* TLS client keys in a PKCS#11 token (p11.c). */
#ifndef QKD_P11_H
#define QKD_P11_H
#include <stddef.h>
#include <openssl/evp.h>

#define P11_PIN_MAX 256

/* "pkcs11:..." (RFC 7512) */
int p11_is_uri(const char *s);
/* The PIN from a file only its owner (and group) can read (one line; the newline is
 * dropped), in the wiping heap; NULL with the reason in why. */
char *p11_read_pin(const char *path, char *why, size_t whysz);
void p11_free_pin(char *pin);
/* The token's private key of uri through OpenSSL's pkcs11 engine, or NULL
 * with the reason in why (never the PIN). */
EVP_PKEY *p11_load_key(const char *uri, const char *pin, char *why, size_t whysz);

#endif
