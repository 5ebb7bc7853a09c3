// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * TLS client keys in a PKCS#11 token (an HSM, or SoftHSM2 in the tests):
 * client_key = pkcs11:token=...;object=...;type=private (RFC 7512), the
 * PIN in a root-only client_key_pin_file.  libcurl loads such a key
 * through OpenSSL's "pkcs11" engine (Debian's libengine-pkcs11-openssl,
 * libp11, which reaches the token through p11-kit's module registry) and
 * gives it the PIN as CURLOPT_KEYPASSWD; the key never leaves the token.
 * This file does the same for --check (and a reload): load the key through
 * the engine once, so that a wrong URI, PIN or certificate is refused
 * before the agent runs, not at its first request.
 *
 * The ENGINE API is deprecated in OpenSSL 3.0, but Debian 12 has no
 * PKCS#11 provider and libcurl 7.88 itself uses the engine: the warnings
 * are silenced for this file only.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include "p11.h"
#include "secmem.h"

int p11_is_uri(const char *s)
{
	return !strncmp(s, "pkcs11:", 7);
}

char *p11_read_pin(const char *path, char *why, size_t whysz)
{
	struct stat st;
	char *pin = NULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		snprintf(why, whysz, "cannot read it: %s", strerror(errno));
		goto out;
	}
	/* group read: root:qkd-agent 0640, as the unit's user reads it */
	if (st.st_mode & 0037) {
		snprintf(why, whysz, "open to others or writable by the group (mode %03o): "
			 "chmod 600 or 640 it", (unsigned)(st.st_mode & 0777));
		goto out;
	}
	pin = sec_malloc(P11_PIN_MAX + 2);
	if (!pin) {
		snprintf(why, whysz, "out of memory");
		goto out;
	}
	n = read(fd, pin, P11_PIN_MAX + 1);
	while (n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r'))
		n--;
	if (n <= 0 || n > P11_PIN_MAX || memchr(pin, '\0', (size_t)n)) {
		snprintf(why, whysz, n <= 0 ? "empty" : "not one line of 1..%d bytes", P11_PIN_MAX);
		sec_free(pin);
		pin = NULL;
		goto out;
	}
	pin[n] = '\0';
out:
	if (fd >= 0)
		close(fd);
	return pin;
}

void p11_free_pin(char *pin)
{
	if (pin)
		sec_free(pin);
}

static void ossl_why(const char *what, char *why, size_t whysz)
{
	unsigned long e = ERR_peek_last_error();
	char buf[200];

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(why, whysz, "%s%s%s", what, e ? ": " : "", e ? buf : "");
	ERR_clear_error();
}

EVP_PKEY *p11_load_key(const char *uri, const char *pin, char *why, size_t whysz)
{
	EVP_PKEY *key = NULL;
	ENGINE *e;

	ENGINE_load_builtin_engines();
	e = ENGINE_by_id("pkcs11");
	if (!e) {
		ossl_why("no OpenSSL pkcs11 engine (install libengine-pkcs11-openssl)", why, whysz);
		return NULL;
	}
	if (!ENGINE_init(e)) {
		ossl_why("the pkcs11 engine failed to initialise", why, whysz);
		ENGINE_free(e);
		return NULL;
	}
	if (pin && !ENGINE_ctrl_cmd_string(e, "PIN", pin, 0))
		ossl_why("the pkcs11 engine refused the PIN", why, whysz);
	else if (!(key = ENGINE_load_private_key(e, uri, NULL, NULL)))
		ossl_why("no such private key in a token, or a wrong PIN", why, whysz);
	if (pin)	/* the engine keeps a copy until finished */
		ENGINE_ctrl_cmd_string(e, "PIN", "", 0);
	ERR_clear_error();
	ENGINE_finish(e);
	ENGINE_free(e);
	return key;
}
