#!/bin/bash
# Loopback integration tests (127.0.0.1 only), TAP output.
#  1. build/test_etsi_client: the ETSI client library against qkd-kms-sim.
#  2. qkd-agent (dry-run test mode) against qkd-kms-sim: master refill woken
#     by low-watermark events, slave answering key-wanted by dec_keys,
#     rate limiting, drift warnings, KME crash and restart, metrics.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SIM=${QKD_SIM:-$here/../kms-sim/qkd-kms-sim}
AGENT=${QKD_AGENT:-$here/../agent/qkd-agent}
T=$(mktemp -d /tmp/qkd-integ.XXXXXX)
BASE=${QKD_TEST_PORT:-$((20000 + ($$ % 2000) * 10))}
PA=$BASE PB=$((BASE + 1)) PADM=$((BASE + 2)) MA=$((BASE + 3)) MB=$((BASE + 4))
PC2=$((BASE + 5)) PC=$((BASE + 6))
pids=()
. "$here/lib.sh"
trap cleanup EXIT

"$here/mkcerts.sh" "$T/pki" || { echo "not ok 1 - make test PKI"; exit 1; }

rc=0
echo "# ETSI client <-> qkd-kms-sim ($T, ports $BASE..)"
"$here/build/test_etsi_client" "$SIM" "$T/pki" "$PA" || rc=1

echo "# qkd-agent --dry-run <-> qkd-kms-sim"
n=0

P=$T/pki
start_sim() {
	: >"$T/sim.out"	# here, not in the child: wait_ready must not see the last "ready"
	"$SIM" --cert-a "$P/kme.crt" --key-a "$P/kme.key" --ca "$P/ca.crt" \
		--listen-a 127.0.0.1:$PA --listen-b 127.0.0.1:$PB --admin 127.0.0.1:$PADM \
		--key-rate 5120 "$@" >>"$T/sim.out" 2>>"$T/sim.log" &
	SIMPID=$!
	pids+=($SIMPID)
	wait_ready "$T/sim.out"
}
adm() { adm_at "$PADM" "$1"; }

cat >"$T/a.conf" <<CONF
# site A: master for the link to B
[agent]
metrics_listen = 127.0.0.1:$MA
[link to-b]
kme_url = https://localhost:$PA
local_sae_id = SAE_A
remote_sae_id = SAE_B
role = master
client_cert = $P/SAE_A.crt
client_key = $P/SAE_A.key
ca_cert = $P/ca.crt
low_watermark = 10
high_watermark = 40
poll_interval = 1
backoff_base_ms = 100
backoff_max_ms = 1000
rate_drift = 0.5
qber_threshold = 0.08
CONF
cat >"$T/b.conf" <<CONF
[agent]
metrics_listen = 127.0.0.1:$MB
[link to-a]
kme_url = https://127.0.0.1:$PB
local_sae_id = SAE_B
remote_sae_id = SAE_A
role = slave
client_cert = $P/SAE_B.crt
client_key = $P/SAE_B.key
ca_cert = $P/ca.crt
backoff_base_ms = 100
backoff_max_ms = 1000
# a second link on another (soon frozen) KME
[link to-c]
kme_url = https://127.0.0.1:$PC
local_sae_id = SAE_B
remote_sae_id = SAE_A
role = slave
client_cert = $P/SAE_B.crt
client_key = $P/SAE_B.key
ca_cert = $P/ca.crt
request_timeout = 8
CONF
cp "$T/a.conf" "$T/bad.conf"
sed -i 's/^low_watermark = 10/low_watermark = ten/' "$T/bad.conf"
badline=$(grep -n '^low_watermark' "$T/bad.conf" | cut -d: -f1)

out=$("$AGENT" -c "$T/a.conf" --check 2>&1); st=$?
tap '[ $st -eq 0 ] && [[ "$out" == *"OK, 1 link"* ]]' "agent --check accepts a valid file ($out)"
out=$("$AGENT" -c "$T/bad.conf" --check 2>&1); st=$?
tap '[ $st -eq 2 ] && [[ "$out" == *"bad.conf:$badline: low_watermark"* ]]' "agent --check names the bad line: $out"
sed "s|SAE_A.key|SAE_B.key|" "$T/a.conf" >"$T/badkey.conf"
keyline=$(grep -n '^client_key' "$T/badkey.conf" | cut -d: -f1)
out=$("$AGENT" -c "$T/badkey.conf" --check 2>&1); st=$?
tap '[ $st -eq 2 ] && [[ "$out" == *"badkey.conf:$keyline: client_key:"*"does not match"* ]]' "agent --check loads the TLS files: $out"
tap '"$AGENT" --help | grep -q -- --dry-run' "agent --help documents the test mode"
tap '"$SIM" --help | grep -q -- --key-rate' "simulator --help"

# A's simulated takers write "LINK UUID" to the FIFO taken; tee keeps a copy
# of every taken ID (taken.log) and passes them on to B as key-wanted events.
mkfifo "$T/taken" "$T/wanted"
: >"$T/taken.log"
tee -a "$T/taken.log" <>"$T/taken" >"$T/wanted" &
pids+=($!)
start_sim --initial-keys 60 --max-key-count 2000; st=$?
tap '[ $st -eq 0 ]' "simulator up"
"$AGENT" -c "$T/b.conf" --dry-run --dry-run-wanted "$T/wanted" --stats-interval 1 -v 2>"$T/b.log" &
BPID=$!; pids+=($BPID)
"$AGENT" -c "$T/a.conf" --dry-run --dry-run-consume 30 --dry-run-taken "$T/taken" --stats-interval 1 -v 2>"$T/a.log" &
APID=$!; pids+=($APID)
sleep 4
# supply-limited rate over a measured window: the KME makes 20 keys/s; the
# agent cannot get more than that (plus what the KME had stored at the start
# of the window), and it gets most of it unless the machine starves it
o1=$(metric $MA 'qkd_agent_keys_obtained_total{link="to-b",role="initiator"}'); t1=$(date +%s.%N)
s1=$(metric $MA 'qkd_agent_kme_stored_keys{link="to-b"}')
sleep 3
o2=$(metric $MA 'qkd_agent_keys_obtained_total{link="to-b",role="initiator"}'); t2=$(date +%s.%N)
read -r mrate mlo mhi < <(awk -v a="${o1:-0}" -v b="${o2:-0}" -v t1="$t1" -v t2="$t2" -v s="${s1:-0}" \
	'BEGIN { dt = t2 - t1; if (s < 0) s = 0; printf "%.2f %.2f %.2f\n", (b - a) / dt, 20 * 0.5, (20 * (dt + 0.2) + s + 40) / dt }')

inj=$(metric $MA 'qkd_agent_keys_injected_total{link="to-b",role="initiator"}')
lvl=$(metric $MA 'qkd_agent_pool_level{link="to-b"}')
lw=$(metric $MA 'qkd_agent_low_watermark_events_total{link="to-b"}')
rate=$(metric $MA 'qkd_agent_key_rate{link="to-b"}')
dup=$(metric $MA 'qkd_agent_duplicate_keys_skipped_total{link="to-b"}')
lat=$(metric $MA 'qkd_agent_fetch_latency_seconds_count{link="to-b"}')
tap 'ge "$inj" 100' "master fills and refills the pool: $inj initiator keys injected in 7 s"
tap 'between "$mrate" "$mlo" "$mhi"' "supply-limited: $((o2 - o1)) keys in $(awk -v a=$t1 -v b=$t2 'BEGIN{printf "%.2f", b-a}') s = $mrate keys/s, within $mlo..$mhi from the KME's 20 keys/s"
tap 'ge "$lw" 1' "refills woken by low-watermark events ($lw)"
tap 'between "$rate" 5 "$mhi"' "key-rate metric is about the KME's 20 keys/s: $rate keys/s (bounds 5..$mhi)"
tap '[ "$dup" = 0 ]' "no key ID offered twice by the KME (duplicates skipped: $dup)"
tap 'ge "$lat" 5' "fetch latency measured ($lat samples)"
taken=$((inj - lvl))
rinj=$(metric $MB 'qkd_agent_keys_injected_total{link="to-a",role="responder"}')
wfail=$(metric $MB 'qkd_agent_key_wanted_total{link="to-a",outcome="failed"}')
wrecv=$(metric $MB 'qkd_agent_key_wanted_total{link="to-a",outcome="received"}')
tap 'ge "$rinj" $((taken * 8 / 10))' "slave fetched by ID (dec_keys) $rinj responder keys for $wrecv key-wanted events ($taken taken at A)"
tap '[ "$wfail" = 0 ]' "every wanted key was found at KME B (failed: $wfail)"

# a frozen KME on one link must not delay key-wanted work on another
"$SIM" --cert-a "$P/kme.crt" --key-a "$P/kme.key" --ca "$P/ca.crt" \
	--listen-a 127.0.0.1:$PC2 --listen-b 127.0.0.1:$PC >"$T/sim2.out" 2>>"$T/sim2.log" &
SIM2=$!; pids+=($SIM2)
sleep 0.5
kill -STOP $SIM2
echo "to-c 00000000-0000-4000-8000-000000000001" >"$T/taken"
sleep 0.5
r0=$(metric $MB 'qkd_agent_keys_injected_total{link="to-a",role="responder"}')
sleep 3
r1=$(metric $MB 'qkd_agent_keys_injected_total{link="to-a",role="responder"}')
tap 'ge $((r1 - r0)) 30' "KME of link to-c frozen (request in flight, 8 s timeout): link to-a still served $((r1 - r0)) wanted keys in 3 s"
kill -CONT $SIM2
sleep 0.5
cf=$(metric $MB 'qkd_agent_key_wanted_total{link="to-c",outcome="failed"}')
tap '[ "$cf" = 1 ]' "KME thawed: the unknown key on to-c is answered 400 and dropped ($cf)"
kill -TERM $SIM2; wait $SIM2

# delivered rate drifts: KME down to 5 keys/s
tap '[ "$(adm "/admin/rate?bits=1280")" = 200 ]' "admin: key rate cut to 1280 bit/s"
sleep 4
wr=$(metric $MA 'qkd_agent_drift_warning{link="to-b",kind="key_rate"}')
tap '[ "$wr" = 1 ] && grep -q "delivered key rate .* fell below" "$T/a.log"' "key-rate drift warning (metric $wr, logged)"
tap '[ "$(adm "/admin/qber?value=0.1")" = 200 ]' "admin: QBER set to 0.1"
sleep 2.5
wq=$(metric $MA 'qkd_agent_drift_warning{link="to-b",kind="qber"}')
q=$(metric $MA 'qkd_agent_kme_qber{link="to-b"}')
tap '[ "$wq" = 1 ] && grep -q "QBER 0.1000 exceeds" "$T/a.log"' "QBER warning (metric $wq, qber $q, logged)"
adm "/admin/qber?value=0" >/dev/null; adm "/admin/rate?bits=5120" >/dev/null

# KME crash and restart
kill -KILL $SIMPID; wait $SIMPID 2>/dev/null
before=$(metric $MA 'qkd_agent_keys_obtained_total{link="to-b",role="initiator"}')
sleep 2
terr=$(metric $MA 'qkd_agent_kme_requests_total{link="to-b",result="transport"}')
tap 'kill -0 $APID && ge "$terr" 1' "KME down: agent keeps running, retries ($terr transport errors)"
start_sim --initial-keys 20
sleep 4
after=$(metric $MA 'qkd_agent_keys_obtained_total{link="to-b",role="initiator"}')
tap 'ge "$after" $((before + 20))' "KME back: agent recovers ($before -> $after keys obtained)"
tap 'grep -q "retry" "$T/a.log"' "retries with backoff logged"

kill -TERM $APID; wait $APID; sa=$?
kill -TERM $BPID; wait $BPID; sb=$?
tap '[ $sa -eq 0 ] && [ $sb -eq 0 ]' "agents exit 0 on SIGTERM ($sa, $sb)"
# every key the simulated takers got at A was injected once: no ID is taken twice
ntaken=$(wc -l <"$T/taken.log")
dups=$(awk '{print $2}' "$T/taken.log" | sort | uniq -d | head -3 | tr '\n' ' ')
tap '[ "$ntaken" -ge 100 ] && [ -z "$dups" ]' "no key taken twice: $ntaken takes, all key IDs distinct ${dups:+(twice: $dups)}"
kill -TERM $SIMPID; wait $SIMPID; ss=$?
tap '[ $ss -eq 0 ]' "simulator exits 0 on SIGTERM ($ss)"
start_sim --initial-keys 100
tap '! grep -qi "\"key\"" "$T/a.log" "$T/b.log" "$T/sim.log"' "no key material in any log"

# identity cross-checks
sed -e 's/^local_sae_id = SAE_A/local_sae_id = SAE_Q/' "$T/a.conf" >"$T/cn.conf"
out=$("$AGENT" -c "$T/cn.conf" --check 2>&1); st=$?
tap '[ $st -eq 2 ] && [[ "$out" == *"client_cert:"*"its CN is not local_sae_id '"'"'SAE_Q'"'"'"* ]]' \
	"agent --check refuses a client certificate whose CN is not local_sae_id: $out"
printf 'require_cn_match = no\n' >>"$T/cn.conf"
out=$("$AGENT" -c "$T/cn.conf" --check 2>&1); st=$?
tap '[ $st -eq 0 ]' "require_cn_match = no accepts it ($out)"
"$AGENT" -c "$T/cn.conf" --dry-run --dry-run-consume 30 --stats-interval 1 2>"$T/id.log" &
IPID=$!; pids+=($IPID)
sleep 2.5
ob=$(metric $MA 'qkd_agent_keys_obtained_total{link="to-b",role="initiator"}')
kill -TERM $IPID; wait $IPID
tap '[ "$ob" = 0 ] && grep -q "KME status names master SAE .SAE_A. and slave SAE .SAE_B., configured local .SAE_Q. and remote .SAE_B.: refusing keys" "$T/id.log"' \
	"KME status names another master SAE than local_sae_id: no keys fetched ($ob), error logged"

# metrics are off by default
sed '/metrics_listen/d' "$T/a.conf" >"$T/nometrics.conf"
"$AGENT" -c "$T/nometrics.conf" --dry-run 2>"$T/c.log" &
CPID=$!; pids+=($CPID)
sleep 1
tap '! curl -s --max-time 2 "http://127.0.0.1:$MA/metrics" >/dev/null' "no metrics endpoint unless configured"
kill -TERM $CPID; wait $CPID

# restart of the agent itself
"$AGENT" -c "$T/a.conf" --dry-run --stats-interval 1 2>"$T/a2.log" &
APID=$!; pids+=($APID)
sleep 2
inj=$(metric $MA 'qkd_agent_keys_injected_total{link="to-b",role="initiator"}')
tap 'ge "$inj" 20' "agent restarted: supplies the link again ($inj keys)"
kill -TERM $APID; wait $APID

# fault injection: every 3rd inject stores its keys, takers get them at once,
# and the reply is lost
# ("maybe delivered"); the agent must drop such a batch, never inject it again
: >"$T/taken-f"
"$AGENT" -c "$T/a.conf" --dry-run --dry-run-fail-after-send 3 --dry-run-consume 30 \
	--dry-run-taken "$T/taken-f" --stats-interval 1 2>"$T/f.log" &
APID=$!; pids+=($APID)
sleep 5
md=$(metric $MA 'qkd_agent_keys_maybe_delivered_total{link="to-b"}')
dr=$(metric $MA 'qkd_agent_keys_dropped_total{link="to-b"}')
inj=$(metric $MA 'qkd_agent_keys_injected_total{link="to-b",role="initiator"}')
kill -TERM $APID; wait $APID; st=$?
nt=$(wc -l <"$T/taken-f")
fd=$(awk '{print $2}' "$T/taken-f" | sort | uniq -d | wc -l)
tap 'ge "$md" 1 && ge "$dr" "$md" && grep -q "after sending; the key store may have them: wiped, never injected again" "$T/f.log"' \
	"lost inject reply: batch dropped and counted (maybe delivered $md, dropped $dr), warning logged"
tap 'ge "$inj" 10 && [ "$nt" -ge 20 ] && [ "$fd" = 0 ]' \
	"after lost replies no key is injected twice: $nt takes, $fd IDs twice; $inj injected"
tap '[ $st -eq 0 ] && ! grep -qi "\"key\"" "$T/f.log"' "agent exits 0 ($st), no key material in its log"

# SIGHUP reload (reload.c): tunables applied, changes that need a restart
# refused with one line each, a broken file refused, certificates read
# again at the same path by a new connection; no held key lost
mkdir -p "$T/rl"
cp "$P/SAE_A.crt" "$T/rl/client.crt"; cp "$P/SAE_A.key" "$T/rl/client.key"
sed -e "s|^client_cert = .*|client_cert = $T/rl/client.crt|" \
    -e "s|^client_key = .*|client_key = $T/rl/client.key|" "$T/a.conf" >"$T/rl/a.conf"
echo "require_cn_match = no" >>"$T/rl/a.conf"
rl() { metric $MA "qkd_agent_config_reloads_total{result=\"$1\"}"; }
"$AGENT" -c "$T/rl/a.conf" --dry-run --dry-run-consume 10 --stats-interval 1 2>"$T/rl.log" &
APID=$!; pids+=($APID)
sleep 2
sed -i 's/^high_watermark = 40$/high_watermark = 60/' "$T/rl/a.conf"
kill -HUP $APID; sleep 1
tap '[ "$(rl applied)" = 1 ] && [ "$(metric $MA "qkd_agent_pool_high_watermark{link=\"to-b\"}")" = 60 ] &&
	grep -q "reloaded $T/rl/a.conf: 1 link(s)" "$T/rl.log"' \
	"SIGHUP: high_watermark 40 -> 60 applied (reloads applied $(rl applied))"
sed -i 's/^role = master$/role = both/' "$T/rl/a.conf"
kill -HUP $APID; sleep 1
tap '[ "$(rl refused)" = 1 ] && [ "$(rl applied)" = 1 ] &&
	grep -q "reload: link to-b: role changed: needs a restart" "$T/rl.log" &&
	[ "$(metric $MA "qkd_agent_pool_high_watermark{link=\"to-b\"}")" = 60 ]' \
	"SIGHUP: a role change is refused with one line naming it; nothing changed"
sed -i 's/^role = both$/role = master/; s/^high_watermark = 60$/high_watermark = sixty/' "$T/rl/a.conf"
kill -HUP $APID; sleep 1
tap '[ "$(rl refused)" = 2 ] && grep -q "reload refused: $T/rl/a.conf:[0-9]*: high_watermark" "$T/rl.log"' \
	"SIGHUP: a broken file is refused with file:line (refused $(rl refused))"
sed -i 's/^high_watermark = sixty$/high_watermark = 60/' "$T/rl/a.conf"
# a renewed certificate at the same path: here one the KME does not know
# (SAE_X), so that its use shows as authentication errors although the
# agent holds a keep-alive connection made with the old one
ae0=$(metric $MA 'qkd_agent_kme_auth_errors_total{link="to-b"}')
cp "$P/SAE_X.crt" "$T/rl/client.crt"; cp "$P/SAE_X.key" "$T/rl/client.key"
kill -HUP $APID; sleep 2
ae1=$(metric $MA 'qkd_agent_kme_auth_errors_total{link="to-b"}')
cp "$P/SAE_A.crt" "$T/rl/client.crt"; cp "$P/SAE_A.key" "$T/rl/client.key"
kill -HUP $APID; sleep 2
lost=$(msum $MA 'qkd_agent_keys_lost_total{link="to-b"')
tap '[ "$ae0" = 0 ] && ge "$ae1" 1 && [ "$(rl applied)" = 3 ] &&
	[ "$(grep -c "refuses this SAE (HTTP 401 on status.*SAE_X" "$T/rl.log")" = 1 ] &&
	[ "$(grep -c "KME accepts this SAE again" "$T/rl.log")" = 1 ]' \
	"SIGHUP: the certificate at the same path read again by a new connection (SAE_X: $ae1 auth errors), and back (accepted again)"
tap '[ "$lost" = 0 ]' "no key lost across 5 reloads ($lost)"
kill -TERM $APID; wait $APID

# systemd notifications (Type=notify, WatchdogSec): a datagram socket in
# place of systemd's; READY=1 first, watchdog pings from the loop at half
# of WATCHDOG_USEC, a STATUS line, STOPPING=1 at SIGTERM
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
out = open(sys.argv[2], "w")
end = time.time() + 30
while time.time() < end:
    try:
        m = s.recv(4096).decode()
    except socket.timeout:
        continue
    out.write(m.replace("\n", "|") + "\n")
    out.flush()
    if "STOPPING=1" in m:
        break
' "$T/notify.sock" "$T/notify.log" &
NPID=$!; pids+=($NPID)
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 "$AGENT" -c "$T/a.conf" --dry-run \
	--stats-interval 1 2>"$T/n.log" &
APID=$!; pids+=($APID)
sleep 2.2
kill -TERM $APID; wait $APID; st=$?
wait $NPID
wd=$(grep -c '^WATCHDOG=1$' "$T/notify.log" || true)
tap '[ $st -eq 0 ] && head -n 1 "$T/notify.log" | grep -q "^READY=1|STATUS=" &&
	tail -n 1 "$T/notify.log" | grep -q "^STOPPING=1|STATUS=stopping$"' \
	"sd_notify: READY=1 with a status first, STOPPING=1 last ($(wc -l <"$T/notify.log") messages)"
tap 'ge "$wd" 3 && grep -q "^STATUS=1 of 1 link(s) in the key store; to-b: pool [0-9]*, [0-9]* keys obtained$" "$T/notify.log" &&
	grep -q "systemd watchdog: 0.4 s, pinged every 0.2 s" "$T/n.log"' \
	"sd_notify: $wd watchdog pings in 2.2 s (WATCHDOG_USEC 0.4 s, every 0.2 s: >= 3), status per stats interval"

echo "1..$n"
[ $rc -eq 0 ] || { echo "# logs kept in $T"; KEEP=1; }
exit $rc
