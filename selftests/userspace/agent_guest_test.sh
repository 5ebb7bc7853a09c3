#!/bin/bash
# Guest test of qkd-agent with the real qkd module (TAP output).
# Run as root inside the test guest (CAP_NET_ADMIN, module loadable):
#   QKD_KO=/path/to/qkd.ko ./agent_guest_test.sh
# If QKD_KO is unset the module must already be loaded (reload steps are
# then skipped).  Uses 127.0.0.1 only; both agents share one namespace and
# manage different links: agent A is master of link "to-b", agent B is
# slave of link "to-a"; the simulator plays KME A and KME B.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$here/../..
SIM=$top/userspace/kms-sim/qkd-kms-sim
AGENT=$top/userspace/agent/qkd-agent
PROBE=$here/qkd_nl_probe
QKDCTL=$top/userspace/qkdctl/qkdctl
if [ -n "${QKD_VM_RESULTS:-}" ] && [ -d "$QKD_VM_RESULTS" ]; then
	T=$QKD_VM_RESULTS/agent-test; mkdir -p "$T"	# logs come back to the host
else
	T=$(mktemp -d /tmp/qkd-guest.XXXXXX)
fi
PA=18443 PB=18444 PADM=18445 MA=18446 MB=18447
pids=()
n=0 rc=0
cleanup() {
	local p i
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for i in $(seq 50); do
		local alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			echo "# pid $p ($(tr '\0' ' ' </proc/$p/cmdline | cut -c1-60)) ignored SIGTERM for 5 s: $(cat /proc/$p/wchan 2>/dev/null)"
			kill -KILL "$p"
		fi
	done
	wait 2>/dev/null
}
trap cleanup EXIT
tap() { n=$((n + 1)); if eval "$1"; then echo "ok $n - $2"; else echo "not ok $n - $2"; rc=1; fi; }
field() { "$PROBE" get "$1" 2>/dev/null | tr ' ' '\n' | awk -F= -v k="$2" '$1==k {print $2}'; }
wait_for() { # cond timeout_s
	local i
	for i in $(seq $(($2 * 10))); do eval "$1" && return 0; sleep 0.1; done
	return 1
}
metric() { curl -s --max-time 3 "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1==k {print $2}'; }

# The agent's qkd_module_* lines for a link against `qkdctl -j stats LINK`:
# every counter qkdctl shows must be on the endpoint with the same value.
# The module's state must hold still meanwhile: two scrapes around the
# qkdctl call must agree (else 2: try again).  Mismatches in $T/modcheck.
stat_metric() { # link counter-name-as-qkdctl-json-names-it
	case $2 in
	rejected_*) echo "qkd_module_rejected_total{link=\"$1\",reason=\"${2#rejected_}\"}" ;;
	wanted_ntf) echo "qkd_module_wanted_total{link=\"$1\"}" ;;
	low_watermark_ntf) echo "qkd_module_low_watermark_total{link=\"$1\"}" ;;
	keys_buffered|initiator_keys|bytes_buffered|bytes_high_water|pending|reserved)
		echo "qkd_module_$2{link=\"$1\"}" ;;
	*) echo "qkd_module_${2}_total{link=\"$1\"}" ;;
	esac
}
modcheck() { # metrics-port link
	local k v m got cnt=0
	curl -s --max-time 3 "http://127.0.0.1:$1/metrics" | grep '^qkd_module_' >"$T/scrape1"
	timeout 20 "$QKDCTL" -j stats "$2" >"$T/stats.json" || return 1
	timeout 20 "$QKDCTL" -j audit link "$2" >"$T/audit.json" || return 1
	curl -s --max-time 3 "http://127.0.0.1:$1/metrics" | grep '^qkd_module_' >"$T/scrape2"
	cmp -s "$T/scrape1" "$T/scrape2" || return 2
	: >"$T/modcheck"
	while read -r k v; do
		m=$(stat_metric "$2" "$k")
		got=$(awk -v k="$m" '$1==k {print $2}' "$T/scrape1")
		cnt=$((cnt + 1))
		[ "$got" = "$v" ] || echo "$k: qkdctl $v, metric $m ${got:-missing}" >>"$T/modcheck"
	done < <(jq -r 'to_entries[] | select(.key != "link") | "\(.key) \(.value)"' "$T/stats.json")
	# pool by role, from the same two counters qkdctl shows
	v=$(jq -r '.initiator_keys' "$T/stats.json")
	got=$(awk -v k="qkd_module_pool_keys{link=\"$2\",role=\"initiator\"}" '$1==k {print $2}' "$T/scrape1")
	[ "$got" = "$v" ] || echo "pool initiator: qkdctl $v, metric ${got:-missing}" >>"$T/modcheck"
	v=$(jq -r '.keys_buffered - .initiator_keys' "$T/stats.json")
	got=$(awk -v k="qkd_module_pool_keys{link=\"$2\",role=\"responder\"}" '$1==k {print $2}' "$T/scrape1")
	[ "$got" = "$v" ] || echo "pool responder: qkdctl $v, metric ${got:-missing}" >>"$T/modcheck"
	# the audit ring: records by role, records with SPIs, SPIs
	for k in initiator responder; do
		v=$(jq --arg r "$k" '[.[] | select(.role == $r)] | length' "$T/audit.json")
		got=$(awk -v k="qkd_module_audit_records{link=\"$2\",role=\"$k\"}" '$1==k {print $2}' "$T/scrape1")
		[ "$got" = "$v" ] || echo "audit $k: qkdctl $v, metric ${got:-missing}" >>"$T/modcheck"
	done
	v=$(jq '[.[] | select((.spis // []) | length > 0)] | length' "$T/audit.json")
	got=$(awk -v k="qkd_module_audit_keyed_records{link=\"$2\"}" '$1==k {print $2}' "$T/scrape1")
	[ "$got" = "$v" ] || echo "audit keyed: qkdctl $v, metric ${got:-missing}" >>"$T/modcheck"
	v=$(jq '[.[] | (.spis // []) | length] | add // 0' "$T/audit.json")
	got=$(awk -v k="qkd_module_audit_spis{link=\"$2\"}" '$1==k {print $2}' "$T/scrape1")
	[ "$got" = "$v" ] || echo "audit spis: qkdctl $v, metric ${got:-missing}" >>"$T/modcheck"
	grep -qx 'qkd_module_up 1' "$T/scrape1" || echo "qkd_module_up not 1" >>"$T/modcheck"
	[ $cnt -ge 17 ] || echo "only $cnt counters from qkdctl" >>"$T/modcheck"
	echo "$cnt" >"$T/modcheck.count"
	[ ! -s "$T/modcheck" ]
}
modcheck_retry() { # port link: up to 5 tries while the state moves
	local i r
	for i in 1 2 3 4 5; do
		modcheck "$1" "$2"; r=$?
		[ $r -ne 2 ] && return $r
		sleep 0.5
	done
	echo "state kept changing" >"$T/modcheck"
	return 1
}

ip link set lo up 2>/dev/null
if [ -n "${QKD_KO:-}" ] && ! grep -q '^qkd ' /proc/modules; then
	insmod "$QKD_KO" || { echo "not ok 1 - insmod $QKD_KO"; echo "1..1"; exit 1; }
fi
"$top/userspace/tests/mkcerts.sh" "$T/pki"
P=$T/pki
"$SIM" --cert-a "$P/kme.crt" --key-a "$P/kme.key" --ca "$P/ca.crt" \
	--listen-a 127.0.0.1:$PA --listen-b 127.0.0.1:$PB --admin 127.0.0.1:$PADM \
	--key-rate 51200 --initial-keys 200 >"$T/sim.out" 2>"$T/sim.log" &
pids+=($!)
tap 'wait_for "grep -q ready $T/sim.out" 10' "simulator up"

mk() { # name link local remote role metrics kmeport
	cat >"$T/$1.conf" <<CONF
[agent]
metrics_listen = 127.0.0.1:$6
stats_interval = 2
[link $2]
kme_url = https://localhost:$7
local_sae_id = $3
remote_sae_id = $4
role = $5
client_cert = $P/$3.crt
client_key = $P/$3.key
ca_cert = $P/ca.crt
low_watermark = 8
high_watermark = 32
# long poll: refills must come from the low-watermark notification
poll_interval = 600
backoff_base_ms = 100
backoff_max_ms = 1000
CONF
}
mk a to-b SAE_A SAE_B master $MA $PA
mk b to-a SAE_B SAE_A slave $MB $PB
# to-b exists before the agent, without a low watermark: the agent must
# adopt it and set the watermark (LINK_SET) or no notification would come
"$PROBE" new to-b SAE_A SAE_B; st=$?
tap '[ $st -eq 0 ]' "link to-b made beforehand without a low watermark"
"$AGENT" -c "$T/a.conf" -v 2>"$T/a.log" & APID=$!; pids+=($APID)
"$AGENT" -c "$T/b.conf" -v 2>"$T/b.log" & BPID=$!; pids+=($BPID)

tap 'wait_for "[ \"\$(field to-b initiator)\" = 32 ]" 10' "agent A adopted link to-b and filled it to the high watermark (32)"
tap 'wait_for "\"$PROBE\" get to-a >/dev/null 2>&1" 5' "agent B created link to-a"

# take 26 keys: 32 -> 6 < 8 -> LOW_WATERMARK_NTF -> refill to 32
: >"$T/taken"
for i in $(seq 26); do "$PROBE" take to-b >>"$T/taken" 2>>"$T/probe.err"; done
tap '[ $(wc -l <"$T/taken") -eq 26 ]' "26 initiator keys taken ($(wc -l <"$T/taken") lines)"
# the notification comes at 7 (< 8); the agent refills by 25 while takes go on
tap 'wait_for "[ \"\$(field to-b initiator)\" -ge 24 ]" 5' "refilled after the low-watermark notification (poll_interval 600 s): $(field to-b initiator) keys"
lw=$(metric $MA 'qkd_agent_low_watermark_events_total{link="to-b"}')
tap '[ "${lw:-0}" -ge 1 ]' "agent counted $lw low-watermark notification(s)"
tap 'grep -q "to-b: existing link: setting low_watermark to 8 (was 0)" "$T/a.log"' "agent set the low watermark of the existing link"
lk=$(metric $MA 'qkd_agent_key_memory_locked') hu=$(metric $MA 'qkd_agent_secure_heap_used_bytes')
tap '[ "$lk" = 1 ] && [ "${hu:-0}" -gt 0 ]' "agent A's key buffers in the locked secure heap ($hu bytes in use)"

# slave: B's taker asks for the peer's key IDs -> KEY_WANTED -> dec_keys -> inject
ok_same=0
while read -r id len fp; do
	got=$("$PROBE" take-id to-a "$id" 5000 2>>"$T/probe.err")
	[ "$got" = "$id $len $fp" ] && ok_same=$((ok_same + 1))
done < <(head -5 "$T/taken")
tap '[ $ok_same -eq 5 ]' "5 keys taken by ID at B match A's keys (fingerprints): $ok_same"
id=$(tail -1 "$T/taken" | cut -d' ' -f1)
"$PROBE" take-id to-a "$id" 5000 >/dev/null 2>&1
tap '! "$PROBE" take-id to-a "$id" 2000 >/dev/null 2>&1' "a key is delivered once: second take of $id fails"

# the module's counters on agent A's endpoint equal qkdctl's, for A's own
# link and for B's (the endpoint shows every link of the store); one take
# record annotated with two SPIs first, as the plugin does after keying SAs
timeout 20 "$QKDCTL" audit annotate to-a id "$id" spi 0xc0000001 spi 0xc0000002 usage guest-test; st=$?
tap '[ $st -eq 0 ]' "take record of $id annotated with 2 SPIs"
for l in to-b to-a; do
	modcheck_retry $MA $l; st=$?
	tap '[ $st -eq 0 ]' "agent A's qkd_module_* lines for $l equal qkdctl stats and audit ($(cat "$T/modcheck.count" 2>/dev/null) counters$([ -s "$T/modcheck" ] && echo ": $(tr '\n' ';' <"$T/modcheck")"))"
done
ks=$(awk '$1 == "qkd_module_audit_spis{link=\"to-a\"}" {print $2}' "$T/scrape1")
tk=$(awk '$1 == "qkd_module_taken_total{link=\"to-b\"}" {print $2}' "$T/scrape1")
tap '[ "$ks" = 2 ] && [ "${tk:-0}" -ge 26 ]' "to-a: 2 SPIs keyed by QKD keys; to-b: $tk keys taken (>= 26)"

# forged notifications: a local process unicasts KEY_WANTED to agent B's
# netlink sockets (ports from /proc/net/netlink); they are connected to the
# kernel, so the kernel refuses, and B sees no event
ports=$(for ino in $(ls -l /proc/$BPID/fd 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p'); do
	awk -v i="$ino" '$2 == 16 && $10 == i {print $3}' /proc/net/netlink; done)
w0=$(metric $MB 'qkd_agent_key_wanted_total{link="to-a",outcome="received"}')
res=$(for p in $ports; do "$PROBE" forge "$p" to-a 11111111-2222-4333-8444-555555555555 2>&1; done | sort -u | tr '\n' ' ')
sleep 0.5
w1=$(metric $MB 'qkd_agent_key_wanted_total{link="to-a",outcome="received"}')
tap '[ $(echo $ports | wc -w) -eq 2 ] && [ "$res" = "refused " ] && [ "$w0" = "$w1" ]' \
	"forged KEY_WANTED to agent B's netlink ports ($(echo $ports)): $res; B's wanted events $w0 -> $w1"

# agent restart: nothing injected twice, pool unchanged
# agent restart: it tops the pool up to high, nothing more, no duplicate
# SIGTERM ends the agent without waiting for a poll (poll_interval 600 s;
# the exit itself takes about a second under TCG; the host test
# deviations.sh measures an idle agent with stats_interval 3600 s)
t0=$(date +%s%N)
kill -TERM $APID; wait $APID; st=$?
ms=$((($(date +%s%N) - t0) / 1000000))
tap '[ $st -eq 0 ] && [ $ms -lt 5000 ]' "agent A exits 0 ($st) on SIGTERM after $ms ms"
inj1=$(field to-b injected) lvl1=$(field to-b initiator)
"$AGENT" -c "$T/a.conf" -v 2>"$T/a2.log" & APID=$!; pids+=($APID)
wait_for "[ \"\$(field to-b initiator)\" = 32 ]" 5
inj2=$(field to-b injected)
tap '[ "$(field to-b initiator)" = 32 ] && [ $((inj2 - inj1)) -eq $((32 - lvl1)) ]' "restarted agent tops up $lvl1 -> 32 and injects exactly $((32 - lvl1)) (injected $inj1 -> $inj2)"

# link deleted -> recreated and refilled
"$PROBE" del to-b
tap 'wait_for "[ \"\$(field to-b initiator)\" = 32 ]" 10' "deleted link recreated and refilled"

# module reload
if [ -n "${QKD_KO:-}" ]; then
	rmmod qkd && insmod "$QKD_KO"; st=$?
	tap '[ $st -eq 0 ]' "module reloaded ($st)"
	tap 'wait_for "[ \"\$(field to-b initiator)\" = 32 ]" 20' "after reload: link to-b recreated and refilled"
	tap 'wait_for "\"$PROBE\" get to-a >/dev/null 2>&1" 20' "after reload: link to-a recreated"
	for i in $(seq 26); do "$PROBE" take to-b >/dev/null 2>&1; done
	tap 'wait_for "[ \"\$(field to-b initiator)\" -ge 24 ]" 5' "after reload: notifications work again (refilled to $(field to-b initiator))"
	# module away for a while: agents wait for it, then recreate
	rmmod qkd
	sleep 3
	tap 'kill -0 $APID && kill -0 $BPID && grep -q "unavailable" "$T/a2.log"' "module unloaded: agents keep running and report the store unavailable"
	# a scrape can outlast metric()'s 3 s on a busy TCG host: retry
	wait_for "curl -s --max-time 10 http://127.0.0.1:$MA/metrics >\"$T/scrape-down\" && grep -q '^qkd_module_up' \"$T/scrape-down\"" 20
	mu=$(awk '$1 == "qkd_module_up" {print $2}' "$T/scrape-down") ml=$(grep -c '^qkd_module_[a-z_]*{' "$T/scrape-down")
	tap '[ "$mu" = 0 ] && [ "$ml" = 0 ]' "module unloaded: qkd_module_up $mu, $ml per-link module samples"
	insmod "$QKD_KO"
	tap 'wait_for "[ \"\$(field to-b initiator)\" = 32 ]" 20' "module back after 3 s: link to-b recreated and filled"
	dup=$(metric $MA 'qkd_agent_duplicate_keys_skipped_total{link="to-b"}')
	tap '[ "${dup:-1}" = 0 ]' "no duplicate injections ($dup)"
fi

# a module link with other SAE IDs than the configuration: the agent must
# not feed it (keys of SAE_A -> SAE_B would serve another SAE pair)
kill -TERM $APID; wait $APID
"$PROBE" del to-b
"$PROBE" new to-b SAE_Q SAE_B; st=$?
"$AGENT" -c "$T/a.conf" -v 2>"$T/a3.log" & APID=$!; pids+=($APID)
sleep 3
lv=$(field to-b initiator)
tap '[ $st -eq 0 ] && [ "$lv" = 0 ] && grep -q "SAE IDs .SAE_Q. -> .SAE_B., the configuration .SAE_A. -> .SAE_B.; not using it" "$T/a3.log"' \
	"link to-b exists with SAE IDs SAE_Q -> SAE_B: agent refuses to inject ($lv keys), error logged"
"$PROBE" del to-b
tap 'wait_for "[ \"\$(field to-b initiator)\" = 32 ]" 10' "that link deleted: agent creates to-b itself and fills it"

# KME down and back
kill -KILL "${pids[0]}"
for i in $(seq 26); do "$PROBE" take to-b >/dev/null 2>&1; done
sleep 2
tap 'kill -0 $APID' "agent survives the KME going down"
"$SIM" --cert-a "$P/kme.crt" --key-a "$P/kme.key" --ca "$P/ca.crt" \
	--listen-a 127.0.0.1:$PA --listen-b 127.0.0.1:$PB --key-rate 51200 --initial-keys 100 \
	>"$T/sim2.out" 2>>"$T/sim.log" &
pids+=($!)
tap 'wait_for "[ \"\$(field to-b initiator)\" = 32 ]" 10' "KME back: pool refilled"

# as the units run it: user nobody (the units: qkd-agent) with CAP_NET_ADMIN
# only, ambient; its files readable through its group (0640)
kill -TERM $APID; wait $APID
"$PROBE" del to-b
chmod 711 "$T"
mkdir -m 750 "$T/nr"
cp "$P/SAE_A.crt" "$P/SAE_A.key" "$P/ca.crt" "$T/nr/"
chmod 640 "$T/nr"/*; chgrp -R nogroup "$T/nr"
sed "s|$P/|$T/nr/|" "$T/a.conf" >"$T/nr/a.conf"; chmod 640 "$T/nr/a.conf"; chgrp nogroup "$T/nr/a.conf"
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all,+net_admin \
	--ambient-caps=-all,+net_admin --bounding-set=-all,+net_admin \
	"$AGENT" -c "$T/nr/a.conf" -v 2>"$T/nr.log" & APID=$!; pids+=($APID)
tap 'wait_for "[ \"\$(field to-b initiator)\" = 32 ]" 15 && [ "$(awk "/^Uid:/ {print \$2}" /proc/$APID/status)" = 65534 ]' \
	"not root (uid 65534), CAP_NET_ADMIN only: the agent creates to-b and fills it (32)"
kill -TERM $APID; wait $APID
"$PROBE" del to-b
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
	"$AGENT" -c "$T/nr/a.conf" -v 2>"$T/nr2.log" & APID=$!; pids+=($APID)
sleep 3
tap '! "$PROBE" get to-b >/dev/null 2>&1 && grep -qi "not permitted" "$T/nr2.log"' \
	"without CAP_NET_ADMIN: no link, the refusal logged ($(grep -io "[^:]*not permitted" "$T/nr2.log" | head -n 1))"
kill -TERM $APID; wait $APID
tap '! grep -qi "\"key\"" "$T"/*.log' "no key material in the logs"
echo "1..$n"
[ $rc -eq 0 ] || { echo "# logs in $T"; for f in "$T"/*.log "$T/probe.err"; do echo "# == $f"; tail -20 "$f" | sed 's/^/# /'; done; }
exit $rc
