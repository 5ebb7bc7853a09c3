#!/bin/bash
# The agent's TLS client key in a PKCS#11 token: SoftHSM2 from Debian with
# a token made here, SAE_A's key imported into it (the key file is then
# deleted), client_key = pkcs11:... and client_key_pin_file.  --check loads
# the key from the token and matches it to the certificate; a wrong PIN,
# a missing object, a PIN file others can read and a PIN in the URI are
# refused with a clear line; the agent (dry-run sink) gets keys from the
# simulator over mutual TLS with the token's key; the PIN is in no log.
# TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SIM=${QKD_SIM:-$here/../kms-sim/qkd-kms-sim}
AGENT=${QKD_AGENT:-$here/../agent/qkd-agent}
T=$(mktemp -d /tmp/qkd-p11.XXXXXX)
BASE=${QKD_TEST_PORT6:-$((56000 + ($$ % 500) * 4))}
PA=$BASE PB=$((BASE + 1)) PADM=$((BASE + 2)) MA=$((BASE + 3))
pids=() n=0 rc=0
. "$here/lib.sh"
trap cleanup EXIT

if ! command -v softhsm2-util >/dev/null ||
   ! [ -e /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so ]; then
	echo "1..0 # SKIP softhsm2 or libengine-pkcs11-openssl not installed"
	exit 0
fi
"$here/mkcerts.sh" "$T/pki" >/dev/null 2>&1
P=$T/pki
PIN=73915846	# a test token's PIN: it must appear in no log
mkdir "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$T/tokens" >"$T/softhsm2.conf"
export SOFTHSM2_CONF=$T/softhsm2.conf
softhsm2-util --init-token --free --label qkd-test --pin $PIN --so-pin 12345678 >/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$P/SAE_A.key" -out "$T/sae-a.p8"
softhsm2-util --import "$T/sae-a.p8" --token qkd-test --label sae-a --id 01 --pin $PIN >/dev/null
rm -f "$T/sae-a.p8"
printf '%s\n' $PIN >"$T/pin"; chmod 600 "$T/pin"
printf '1111\n' >"$T/badpin"; chmod 600 "$T/badpin"
URI="pkcs11:token=qkd-test;object=sae-a;type=private"
conf() { # FILE KEY PINFILE
	cat >"$1" <<CONF
[agent]
metrics_listen = 127.0.0.1:$MA
[link to-b]
kme_url = https://localhost:$PA
local_sae_id = SAE_A
remote_sae_id = SAE_B
role = master
client_cert = $P/SAE_A.crt
client_key = $2
client_key_pin_file = $3
ca_cert = $P/ca.crt
low_watermark = 10
high_watermark = 40
poll_interval = 1
CONF
}
conf "$T/a.conf" "$URI" "$T/pin"
out=$("$AGENT" -c "$T/a.conf" --check 2>&1); st=$?
tap '[ $st -eq 0 ] && [ "$out" = "$T/a.conf: OK, 1 link(s)" ]' "--check loads the key from the token and matches it: $out"
conf "$T/bad.conf" "$URI" "$T/badpin"
out=$("$AGENT" -c "$T/bad.conf" --check 2>&1); st=$?
tap '[ $st -eq 2 ] && [[ $out == *"client_key: PKCS#11 key '"'$URI'"' could not be loaded"* ]]' "a wrong PIN is refused: $out"
conf "$T/bad.conf" "pkcs11:token=qkd-test;object=nope;type=private" "$T/pin"
out=$("$AGENT" -c "$T/bad.conf" --check 2>&1); st=$?
tap '[ $st -eq 2 ] && [[ $out == *"could not be loaded"* ]]' "a missing object is refused: $out"
chmod 644 "$T/pin"
out=$("$AGENT" -c "$T/a.conf" --check 2>&1); st=$?
chmod 600 "$T/pin"
tap '[ $st -eq 2 ] && [[ $out == *"client_key_pin_file"*"open to others or writable by the group (mode 644)"* ]]' "a PIN file others can read is refused: $out"
conf "$T/bad.conf" "$URI;pin-value=$PIN" "$T/pin"
out=$("$AGENT" -c "$T/bad.conf" --check 2>&1); st=$?
tap '[ $st -eq 2 ] && [[ $out == *"PIN in client_key_pin_file, not in the URI"* ]] && [[ $out != *$PIN* ]]' \
	"a PIN in the URI is refused without echoing it: $out"
conf "$T/bad.conf" "$P/SAE_A.key" "$T/pin"
out=$("$AGENT" -c "$T/bad.conf" --check 2>&1); st=$?
tap '[ $st -eq 2 ] && [[ $out == *"client_key_pin_file needs a pkcs11: client_key"* ]]' "a PIN file with a key file is refused: $out"

: >"$T/sim.out"
"$SIM" --cert-a "$P/kme.crt" --key-a "$P/kme.key" --ca "$P/ca.crt" --listen-a 127.0.0.1:$PA \
	--listen-b 127.0.0.1:$PB --admin 127.0.0.1:$PADM --key-rate 5120 >>"$T/sim.out" 2>"$T/sim.log" &
pids+=($!)
wait_ready "$T/sim.out"
"$AGENT" -c "$T/a.conf" --dry-run --dry-run-consume 10 -v 2>"$T/a.log" &
APID=$!; pids+=($APID)
sleep 4
obt=$(metric $MA 'qkd_agent_keys_obtained_total{link="to-b",role="initiator"}')
ae=$(metric $MA 'qkd_agent_kme_auth_errors_total{link="to-b"}')
kill -HUP $APID; sleep 2	# a reload reads the PIN file again
obt2=$(metric $MA 'qkd_agent_keys_obtained_total{link="to-b",role="initiator"}')
kill -TERM $APID; wait $APID; st=$?
tap '[ $st -eq 0 ] && ge "$obt" 40 && [ "$ae" = 0 ] && grep -q "reloaded" "$T/a.log"' \
	"mutual TLS with the token's key: $obt keys from the KME, no auth error; reloaded ($obt2 after)"
tap '! grep -rqF "$PIN" "$T"/*.log' "the PIN is in no log (agent -v, simulator)"
echo "1..$n"
exit $rc
