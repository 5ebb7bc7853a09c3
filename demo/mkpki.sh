#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# demo/mkpki.sh DIR: the demo's certificates, made with strongSwan's `pki`
# (ECDSA P-256, valid 2 days).  Two separate trust domains:
#
#   ipsec-ca.{crt,key}   "C=CH, O=qkd-demo, CN=qkd-demo IPsec CA"
#   gw-a, gw-b           gateway identities for IKEv2 (CN=gw-a, CN=gw-b)
#   kms-ca.{crt,key}     "C=CH, O=qkd-demo, CN=qkd-demo KMS CA" (ETSI 014 mTLS)
#   kme-a, kme-b         KME server certificates (SAN 10.99.1.1 / 10.99.2.1)
#   SAE_A, SAE_B         SAE client certificates of the agents (CN = SAE ID)
#
# Private keys are created mode 0600 in DIR (mode 0700).  demo/run calls this
# on the host (pki is much faster there than under TCG) in a fresh temp dir
# and deletes it after the run.
set -euo pipefail
d=${1:?usage: mkpki.sh DIR}
mkdir -p "$d"
chmod 700 "$d"
cd "$d"
umask 077
ca() {	# ca NAME DN
	pki --gen --type ecdsa --size 256 --outform pem >"$1.key"
	pki --self --ca --lifetime 2 --in "$1.key" --type ecdsa --dn "$2" --outform pem >"$1.crt"
}
leaf() {	# leaf NAME CA DN [pki --issue options]
	local n=$1 c=$2 dn=$3
	shift 3
	pki --gen --type ecdsa --size 256 --outform pem >"$n.key"
	pki --pub --in "$n.key" --type ecdsa |
		pki --issue --lifetime 2 --cacert "$c.crt" --cakey "$c.key" \
			--dn "$dn" "$@" --outform pem >"$n.crt"
}
ca ipsec-ca "C=CH, O=qkd-demo, CN=qkd-demo IPsec CA"
leaf gw-a ipsec-ca "C=CH, O=qkd-demo, CN=gw-a" --san gw-a
leaf gw-b ipsec-ca "C=CH, O=qkd-demo, CN=gw-b" --san gw-b
ca kms-ca "C=CH, O=qkd-demo, CN=qkd-demo KMS CA"
leaf kme-a kms-ca "C=CH, O=qkd-demo, CN=kme-a" --san 10.99.1.1 --flag serverAuth
leaf kme-b kms-ca "C=CH, O=qkd-demo, CN=kme-b" --san 10.99.2.1 --flag serverAuth
leaf SAE_A kms-ca "CN=SAE_A" --flag clientAuth
leaf SAE_B kms-ca "CN=SAE_B" --flag clientAuth
chmod 644 ./*.crt
