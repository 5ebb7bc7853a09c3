#!/bin/bash
# The agent's TLS checks beyond the chain: crl_file (the KME's certificate
# against the CA's CRL: --check refuses a file without a CRL, or a CRL of
# another CA; a revoked KME certificate is refused at run time, the same
# certificate is accepted without the CRL), and client_cert's expiry (the
# metric is the certificate's notAfter; a warning cert_warn_days ahead,
# none with 0).  Dry-run agents against qkd-kms-sim on 127.0.0.1.  TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SIM=${QKD_SIM:-$here/../kms-sim/qkd-kms-sim}
AGENT=${QKD_AGENT:-$here/../agent/qkd-agent}
T=$(mktemp -d /tmp/qkd-tls.XXXXXX)
BASE=${QKD_TEST_PORT7:-$((54000 + ($$ % 500) * 4))}
PA=$BASE PB=$((BASE + 1)) PADM=$((BASE + 2)) MA=$((BASE + 3))
pids=() n=0 rc=0
. "$here/lib.sh"
trap cleanup EXIT

"$here/mkcerts.sh" "$T/pki" >/dev/null 2>&1
P=$T/pki
conf() { # FILE [extra lines...]
	local f=$1
	shift
	{
		printf '[agent]\nmetrics_listen = 127.0.0.1:%s\nstats_interval = 1\n' $MA
		printf '[link to-b]\nkme_url = https://localhost:%s\nlocal_sae_id = SAE_A\n' $PA
		printf 'remote_sae_id = SAE_B\nrole = master\nclient_cert = %s/SAE_A.crt\n' "$P"
		printf 'client_key = %s/SAE_A.key\nca_cert = %s/ca.crt\n' "$P" "$P"
		printf 'low_watermark = 10\nhigh_watermark = 40\npoll_interval = 1\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$f"
}
# a CRL of the other CA (rogue-ca): openssl ca with a throwaway database
mkdir "$T/db"; : >"$T/db/index.txt"; echo 01 >"$T/db/crlnumber"
printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s/db/index.txt\ncrlnumber = %s/db/crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n' \
	"$T" "$T" >"$T/db/ca.cnf"
openssl ca -config "$T/db/ca.cnf" -keyfile "$P/rogue-ca.key" -cert "$P/rogue-ca.crt" -gencrl \
	-out "$T/rogue-crl.pem" >/dev/null 2>&1

conf "$T/crl.conf" "crl_file = $P/crl.pem"
out=$("$AGENT" -c "$T/crl.conf" --check 2>&1); st=$?
tap '[ $st -eq 0 ]' "--check accepts the CA's CRL: $out"
conf "$T/bad.conf" "crl_file = $P/ca.crt"
out=$("$AGENT" -c "$T/bad.conf" --check 2>&1); st=$?
tap '[ $st -eq 2 ] && [[ $out == *"crl_file: '"'$P/ca.crt'"' holds no PEM CRL" ]]' "--check refuses a file without a CRL: $out"
conf "$T/bad.conf" "crl_file = $T/rogue-crl.pem"
out=$("$AGENT" -c "$T/bad.conf" --check 2>&1); st=$?
tap '[ $st -eq 2 ] && [[ $out == *"CRL 1 is not signed by a CA of ca_cert"* ]]' "--check refuses another CA's CRL: $out"

start_sim() { # server cert name
	: >"$T/sim.out"
	"$SIM" --cert-a "$P/$1.crt" --key-a "$P/$1.key" --ca "$P/ca.crt" --listen-a 127.0.0.1:$PA \
		--listen-b 127.0.0.1:$PB --admin 127.0.0.1:$PADM --key-rate 5120 >>"$T/sim.out" 2>>"$T/sim.log" &
	SIMPID=$!; pids+=($SIMPID)
	wait_ready "$T/sim.out"
}
run_agent() { # conf log seconds: prints obtained keys
	"$AGENT" -c "$1" --dry-run --dry-run-consume 10 2>"$2" &
	APID=$!; pids+=($APID)
	sleep "$3"
	metric $MA 'qkd_agent_keys_obtained_total{link="to-b",role="initiator"}'
	kill -TERM $APID; wait $APID
}
start_sim kme-revoked
o=$(run_agent "$T/crl.conf" "$T/revoked.log" 3)
tap '[ "$o" = 0 ] && grep -q "certificate revoked" "$T/revoked.log"' \
	"a revoked KME certificate is refused with crl_file: $o keys, '$(grep -o "SSL certificate problem: [a-z ]*" "$T/revoked.log" | head -n 1)'"
conf "$T/plain.conf"
sed -i 's/^\[agent\]$/[agent]\ncert_warn_days = 0/' "$T/plain.conf"
o=$(run_agent "$T/plain.conf" "$T/norevoke.log" 3)
tap 'ge "$o" 20 && ! grep -q "expires in" "$T/norevoke.log"' \
	"the same certificate without crl_file is accepted ($o keys): the CRL made the difference; cert_warn_days 0: no expiry warning"
kill -TERM $SIMPID; wait $SIMPID
start_sim kme
"$AGENT" -c "$T/crl.conf" --dry-run --dry-run-consume 10 2>"$T/good.log" &
APID=$!; pids+=($APID)
sleep 3
o=$(metric $MA 'qkd_agent_keys_obtained_total{link="to-b",role="initiator"}')
exp=$(metric $MA 'qkd_agent_client_cert_expiry_timestamp_seconds{link="to-b"}')
kill -TERM $APID; wait $APID
want=$(date -d "$(openssl x509 -in "$P/SAE_A.crt" -noout -enddate | cut -d= -f2)" +%s)
tap 'ge "$o" 20' "a KME certificate the CRL does not list is accepted with crl_file ($o keys)"
tap '[ "$exp" = "$want" ]' "qkd_agent_client_cert_expiry_timestamp_seconds is client_cert's notAfter ($exp = $want)"
tap '[ "$(grep -c "client_cert .*SAE_A.crt'"'"' expires in [12]\.[0-9] days (cert_warn_days 30)" "$T/good.log")" = 1 ]' \
	"a certificate valid for 2 more days: one warning at cert_warn_days 30 ($(grep -o "expires in [0-9.]* days" "$T/good.log" | head -n 1))"
echo "1..$n"
exit $rc
