// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Who is asking: an SAE is known by the CN of its client certificate,
 * which GnuTLS verified against the CA given with --ca.  A certificate
 * whose extended key usage excludes TLS client authentication, with more
 * than one CN, or with a NUL inside its CN names nobody.
 */
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "sim.h"

/* Extended key usage, if the certificate has one, must allow TLS client
 * authentication.  Returns 0, or a negative value. */
static int check_client_eku(gnutls_x509_crt_t crt)
{
	unsigned i, any = 0, client = 0;

	for (i = 0;; i++) {
		char oid[128];
		size_t osz = sizeof(oid);
		int e = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &osz, NULL);

		if (e == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (e < 0)
			return e;
		any = 1;
		if (!strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) || !strcmp(oid, GNUTLS_KP_ANY))
			client = 1;
	}
	return any && !client ? -1 : 0;
}

/* The certificate's CN into cn (*sz: its room in, its length out); there
 * must be exactly one.  Returns 0, or a nonzero value. */
static int only_cn(gnutls_x509_crt_t crt, char *cn, size_t *sz)
{
	char cn2[8];
	size_t sz2 = sizeof(cn2);
	int r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, sz);

	if (r)
		return r;
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 1, 0, cn2, &sz2) !=
	    GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return -1;
	return 0;
}

int client_cn(struct MHD_Connection *c, char *cn, size_t cnsz)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s;
	const gnutls_datum_t *peers;
	gnutls_x509_crt_t crt;
	unsigned int status = 0, n = 0;
	size_t sz = cnsz;
	int r;

	if (!ci || !ci->tls_session)
		return -1;
	s = (gnutls_session_t)ci->tls_session;
	if (gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS || status)
		return -1;
	peers = gnutls_certificate_get_peers(s, &n);
	if (!peers || n == 0)
		return -1;
	if (gnutls_x509_crt_init(&crt))
		return -1;
	r = gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER);
	if (!r)
		r = check_client_eku(crt);
	if (!r)
		r = only_cn(crt, cn, &sz);
	gnutls_x509_crt_deinit(crt);
	if (r || sz == 0 || sz >= cnsz)
		return -1;
	cn[sz] = '\0';
	if (strlen(cn) != sz)
		return -1;	/* embedded NUL: "SAE_A\0evil" is not SAE_A */
	return 0;
}
