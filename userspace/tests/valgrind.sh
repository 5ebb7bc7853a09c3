#!/bin/bash
# Run the unit tests (non-sanitizer builds) and the ETSI client
# integration test under valgrind memcheck; TAP output, one line each.
set -u
here=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || { echo "1..0 # SKIP valgrind not installed"; exit 0; }
VG="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
T=$(mktemp -d /tmp/qkd-vg.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
n=0 rc=0
for t in "$@"; do
	n=$((n + 1))
	if $VG "$here/build/vg-$t" >"$T/$t.out" 2>&1; then
		echo "ok $n - valgrind: $t"
	else
		echo "not ok $n - valgrind: $t"; sed 's/^/# /' "$T/$t.out" | grep -v '^# ok' | tail -30; rc=1
	fi
done
"$here/mkcerts.sh" "$T/pki"
n=$((n + 1))
if $VG "$here/build/vg-test_etsi_client" "$here/build/vg-qkd-kms-sim" "$T/pki" \
	"${QKD_TEST_PORT:-$((24000 + ($$ % 1000) * 5))}" >"$T/client.out" 2>&1; then
	echo "ok $n - valgrind: test_etsi_client (ETSI client against the simulator)"
else
	echo "not ok $n - valgrind: test_etsi_client"; grep -v '^ok' "$T/client.out" | sed 's/^/# /' | tail -30; rc=1
fi
# the simulator and the agent themselves, a few seconds each
P=$T/pki BASE=${QKD_TEST_PORT2:-$((26000 + ($$ % 1000) * 5))}
$VG "$here/build/vg-qkd-kms-sim" --cert-a "$P/kme.crt" --key-a "$P/kme.key" --ca "$P/ca.crt" \
	--listen-a 127.0.0.1:$BASE --listen-b 127.0.0.1:$((BASE + 1)) --key-rate 25600 \
	--initial-keys 200 >"$T/sim.out" 2>"$T/sim.err" &
sim=$!
for _ in $(seq 100); do grep -q ready "$T/sim.out" 2>/dev/null && break; sleep 0.2; done
cat >"$T/a.conf" <<CONF
[link l]
kme_url = https://localhost:$BASE
local_sae_id = SAE_A
remote_sae_id = SAE_B
client_cert = $P/SAE_A.crt
client_key = $P/SAE_A.key
ca_cert = $P/ca.crt
low_watermark = 10
high_watermark = 40
poll_interval = 1
request_timeout = 30
CONF
$VG "$here/build/vg-qkd-agent" -c "$T/a.conf" --dry-run --dry-run-consume 20 --stats-interval 1 \
	--metrics 127.0.0.1:$((BASE + 2)) 2>"$T/agent.err" &
agent=$!
sleep 15
curl -s --max-time 5 "http://127.0.0.1:$((BASE + 2))/metrics" >"$T/metrics.txt"
curl -s --max-time 5 --cacert "$P/ca.crt" --cert "$P/rogue.crt" --key "$P/rogue.key" \
	"https://localhost:$BASE/api/v1/keys/SAE_B/status" >/dev/null
kill -TERM $agent; wait $agent; ra=$?
kill -TERM $sim; wait $sim; rs=$?
got=$(awk '$1 ~ /keys_injected_total.*initiator/ {print $2}' "$T/metrics.txt")
n=$((n + 1))
if [ $ra -eq 0 ] && [ "${got:-0}" -gt 40 ]; then
	echo "ok $n - valgrind: qkd-agent --dry-run for 15 s ($got keys injected, clean exit)"
else
	echo "not ok $n - valgrind: qkd-agent (exit $ra, ${got:-0} keys)"; grep -v '^<' "$T/agent.err" | sed 's/^/# /' | tail -30; rc=1
fi
n=$((n + 1))
if [ $rs -eq 0 ]; then
	echo "ok $n - valgrind: qkd-kms-sim serving the agent and a refused client"
else
	echo "not ok $n - valgrind: qkd-kms-sim (exit $rs)"; grep -v '^<' "$T/sim.err" | sed 's/^/# /' | tail -30; rc=1
fi
echo "1..$n"
exit $rc
