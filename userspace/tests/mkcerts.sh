#!/bin/sh
# mkcerts.sh DIR: test PKI made with the openssl CLI.
#   ca.{crt,key}            test CA
#   kme.{crt,key}           KME server cert (localhost, 127.0.0.1, and
#                           192.0.2.1: selftests/charon/e2e-next.sh)
#   kme-wronghost.{crt,key} KME server cert of the same CA for another host
#   SAE_A.{crt,key}, SAE_B.{crt,key}, SAE_X.{crt,key}   clients (CN = SAE ID)
#   rogue-ca.*, rogue.{crt,key}   client cert "SAE_A" from another CA
#   kme-revoked.{crt,key}   KME server cert (localhost) that crl.pem revokes
#   crl.pem                 the CA's CRL: kme-revoked only
set -eu
d=$1
mkdir -p "$d"
cd "$d"
q() { "$@" >/dev/null 2>&1; }
mkca() { # name
	q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$1" -keyout "$1.key" -out "$1.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
mkleaf() { # name cn ca ext
	q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=$2" -keyout "$1.key" -out "$1.csr"
	printf '%s\n' "$4" > "$1.ext"
	q openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial \
		-days 2 -out "$1.crt" -extfile "$1.ext"
	rm -f "$1.csr" "$1.ext"
}
mkca ca
mkca rogue-ca
mkleaf kme localhost ca "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:192.0.2.1
extendedKeyUsage=serverAuth"
# trusted CA, wrong host name: clients must refuse it for 127.0.0.1/localhost
mkleaf kme-wronghost kme.elsewhere.example ca "subjectAltName=DNS:kme.elsewhere.example
extendedKeyUsage=serverAuth"
for s in SAE_A SAE_B SAE_X; do
	mkleaf "$s" "$s" ca "extendedKeyUsage=clientAuth"
done
mkleaf rogue SAE_A rogue-ca "extendedKeyUsage=clientAuth"
mkleaf kme-revoked localhost ca "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
# openssl ca keeps its database in files: a throwaway one for the CRL
mkdir -p crl.db
: >crl.db/index.txt
echo 01 >crl.db/crlnumber
printf '[ca]\ndefault_ca = c\n[c]\ndatabase = crl.db/index.txt\ncrlnumber = crl.db/crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n' >crl.db/ca.cnf
q openssl ca -config crl.db/ca.cnf -keyfile ca.key -cert ca.crt -revoke kme-revoked.crt
q openssl ca -config crl.db/ca.cnf -keyfile ca.key -cert ca.crt -gencrl -out crl.pem
rm -rf crl.db
chmod 600 ./*.key
