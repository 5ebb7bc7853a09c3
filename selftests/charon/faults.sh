#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The fault matrix: two gateways with the real module, qkd-agent and
# qkd-kms-sim (lib.sh's real key path, as e2e-next.sh), one boot, one
# topology, and one fault after another while traffic runs.  Runs in the
# guest:
#
#   selftests/vm/run --timeout 2400 -- selftests/charon/faults.sh
#
# One IKE_SA carries two CHILD_SAs: `net` (link policy prefer, the ping
# stream 10.1.0.1 -> 10.2.0.1, 20 packets/s) and `sec` (a child rule with
# policy require, 10.1.0.2 -> 10.2.0.2).  Each fault:
#   - runs with the stream on and rekeys both children from both sides
#     while the fault lasts and after it;
#   - prefer: every packet of the stream answered (0 lost), except the
#     graceful restart, whose outage is reported;
#   - require: no `sec` SA without a QKD key, ever: every ESP SA the
#     kernel installed for `sec` (ip xfrm monitor, by reqid) is named by
#     an audit record of the module;
#   - no key ID taken twice (audit), and every key accounted for per module
#     lifetime: injected = taken + expired + flushed + buffered, per side;
#   - QKD resumes: the rekeys after the fault are QKD-keyed on both sides.
# Faults: agent kill -9 right after a flush (mid-batch), both KMEs down
# 30 s, module unloaded and reloaded under charon, b's charon killed -9
# and restarted, the QKD link cut 20 s, a key that differs between the
# sites (desync), the clock stepped an hour forward and back, a graceful
# restart of b's charon.  Then a rekey storm: a forces CREATE_CHILD_SA
# as fast as swanctl can for STORM_SECONDS (default 60; CI 20) against a
# token bucket on b's link: b's takes stay within the bucket, the stream
# flows, charon answers.
#
# Then, when started by selftests/ramscan/run (vm/run --hostcall and a
# seeded simulator), the full-RAM scan: all guest RAM searched from the
# host for every key the simulator handed out, once with everything
# running and once after everything stopped and the module unloaded
# (selftests/ramscan/README.md).
#
# FAULTS="..." selects faults (names below; default all).  TAP output.
set -u

NS_A=qkdfault-a
NS_B=qkdfault-b
LIB_TAG=charon-faults
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap cleanup EXIT
FAULTS=${FAULTS:-agent-kill kme-down module-reload charon-kill link-cut desync clock-step graceful-restart storm}
STORM_SECONDS=${STORM_SECONDS:-60}
want() { [[ " $FAULTS " == *" $1 "* ]]; }
START=$(date +%s)
SEC_A=10.1.0.2 SEC_B=10.2.0.2
# the RAM scan's seed goes to the simulator only, never to the environment
# of the other daemons
RAMSCAN_SEED=${QKD_KMS_SIM_TEST_SEED:-}
unset QKD_KMS_SIM_TEST_SEED
RAMSCAN=
[ -n "$RAMSCAN_SEED" ] && [ -f "${QKD_VM_RESULTS:-/nonexistent}/hostcall.enabled" ] && RAMSCAN=1

check_prereqs
[ -x "$AGENT" ] && [ -x "$SIM" ] || bail "qkd-agent / qkd-kms-sim not built (make -C userspace)"

# ---------------------------------------------------------------- helpers
# the stream on `net`: start, then stop and check that nothing was lost
stream_start() {	# stream_start TAG
	rm -f "$T/stop-stream"
	STREAM_OUT=$L/$1-stream.out
	ip netns exec "$NS_A" python3 "$LIB_HERE/icmpstream.py" "$NET_A" "$NET_B" 100000 0.05 \
		"$T/stop-stream" > "$STREAM_OUT" 2>&1 &
	STREAM=$!
}
stream_stop() {	# stream_stop: sets SENT RECV; fails on a loss
	touch "$T/stop-stream"
	wait "$STREAM"
	read -r _ SENT _ ERRS _ RECV _ < "$STREAM_OUT"
	[ -n "${SENT:-}" ] && [ "$SENT" -gt 0 ] && [ "$RECV" = "$SENT" ]
}
# ESP SAs the kernel installs (new and updated, not the deletions), as
# "SPI REQID" lines, while the fault goes on (nokeys, and only those two
# fields leave awk: the messages hold keys)
watch_sas() {	# watch_sas TAG
	local g
	for g in a b; do
		ip -n "$(ns_of $g)" xfrm monitor nokeys SA 2>/dev/null > >(awk '
			/^[^ \t]/ { deleted = ($1 == "Deleted") }
			$1 == "proto" && $2 == "esp" && $5 == "reqid" && !deleted { print $4, $6; fflush() }' \
			> "$L/$1-sas-$g.out") &
		echo $! > "$T/monitor-$g.pid"
	done
}
unwatch_sas() {
	local g
	for g in a b; do
		kill "$(cat "$T/monitor-$g.pid")" 2>/dev/null
		rm -f "$T/monitor-$g.pid"
	done
}
reqid_of() {	# reqid_of NAME CHILD: the reqid of the installed CHILD_SA
	list_sas "$1" | awk -v c="$2" '$1 == c":" && /INSTALLED/ {
		for (i = 1; i <= NF; i++) if ($i == "reqid") { sub(",", "", $(i + 1)); print $(i + 1); exit } }'
}
# every SA NAME installed for `sec` during TAG (the reqids sec had: one
# per charon run) is named by an audit record
require_held() {	# require_held TAG NAME "REQID..." : prints the SAs checked
	local spi n=0 bad=0
	cli "$2" audit peer > "$L/$1-audit-$2.out" 2>&1
	for spi in $(awk -v r=" $3 " 'index(r, " " $2 " ") { print $1 }' \
			"$L/$1-sas-$2.out" | sort -u); do
		n=$((n + 1))
		grep -q "spi=$spi" "$L/$1-audit-$2.out" || { bad=1; diag "$1: $2 installed $spi for sec without a QKD key" >&2; }
	done
	echo "$n"
	return $bad
}
accounted() {	# accounted NAME: injected = taken + expired + flushed + buffered
	local i t e f b
	cli "$1" stats peer > "$L/acct-$1.out" 2>&1
	i=$(awk '$1 == "injected" { print $2 }' "$L/acct-$1.out")
	t=$(awk '$1 == "taken" { print $2 }' "$L/acct-$1.out")
	e=$(awk '$1 == "expired" { print $2 }' "$L/acct-$1.out")
	f=$(awk '$1 == "flushed" { print $2 }' "$L/acct-$1.out")
	b=$(awk '$1 == "keys_buffered" { print $2 }' "$L/acct-$1.out")
	ACCT="$1: injected $i = taken $t + expired $e + flushed $f + buffered $b"
	[ -n "$i" ] && [ "$i" = $((t + e + f + b)) ]
}
no_reuse() {	# no_reuse NAME: no key ID in two take records
	[ -z "$(cli "$1" audit peer 2>/dev/null | grep -o ' id=[0-9a-f-]*' | sort | uniq -d)" ]
}
keyed() { logcount "$1" "keyed with a QKD key"; }
# rekey CHILD from WHO; succeeds when both sides logged one more QKD-keyed
# CHILD_SA within TIMEOUT_S
rekey_qkd() {	# rekey_qkd WHO CHILD TIMEOUT_S
	local ka kb
	ka=$(keyed a) kb=$(keyed b)
	sw "$1" --rekey --child "$2" > /dev/null 2>&1
	wait_log a "keyed with a QKD key" $((ka + 1)) "$3" && wait_log b "keyed with a QKD key" $((kb + 1)) "$3"
}
# rekey both children from both sides, each QKD-keyed
rekeys_qkd() {	# rekeys_qkd TAG
	local who c bad=0
	for who in a b; do
		for c in net sec; do
			rekey_qkd $who $c 60 || { bad=1; diag "$1: rekey of $c by $who not QKD-keyed"; }
		done
	done
	return $bad
}
wait_pools() { wait_cond "${1:-90}" pool_ge a 4 && wait_cond "${1:-90}" pool_ge b 4; }
# an outage allowed (graceful restart, crash): reported, not judged
ok_outage() {
	[ -n "${SENT:-}" ] && [ "${RECV:-0}" -gt 0 ]
	ok $? "$FAULT: the stream resumed: sent $SENT, received $RECV, lost $((SENT - RECV)), not sent (no route) $ERRS"
}
FAULT=
begin_fault() {	# begin_fault NAME
	FAULT=$1
	diag "---- fault $1 ($(($(date +%s) - START)) s)"
	REQ_A=$(reqid_of a sec) REQ_B=$(reqid_of b sec)
	watch_sas "$1"
	stream_start "$1"
	sleep 1
}
# the invariants every fault ends with (OUTAGE=yes: losses allowed)
end_fault() {
	local r sa sb
	rekeys_qkd "$FAULT"
	ok $? "$FAULT: afterwards QKD resumes: net and sec rekeyed by a and by b, each QKD-keyed on both sides"
	if [ "${OUTAGE:-no}" = yes ]; then
		stream_stop
		ok_outage
	else
		stream_stop
		ok $? "$FAULT: prefer (net): 0 packets lost (sent $SENT, received $RECV)"
	fi
	sleep 2
	unwatch_sas
	# (the rekeys above installed at least two sec SAs per side)
	sa=? sb=?
	sa=$(require_held "$FAULT" a "$REQ_A") && sb=$(require_held "$FAULT" b "$REQ_B") &&
		[ "$sa" -ge 2 ] && [ "$sb" -ge 2 ]
	ok $? "$FAULT: require (sec): every SA installed for sec was QKD-keyed (a $sa, b $sb SAs, each named by an audit record)"
	accounted a && r="$ACCT" && accounted b
	ok $? "$FAULT: every key accounted for ($r; $ACCT)"
	no_reuse a && no_reuse b
	ok $? "$FAULT: no key ID taken twice (audit, both sides)"
	OUTAGE=no
}

# ---------------------------------------------------------------- RAM scan
# (selftests/ramscan/README.md) judged with init_on_free=1 only: without
# it the kernel frees the skbs of inject requests and take replies without
# wiping them (docs/security.md), and that is what the report then shows
ZEROED=
grep -qw 'init_on_free=1' /proc/cmdline && ZEROED=1
RS=$REPO/selftests/ramscan
issued() {	# the number of keys the seeded simulator handed out
	ip netns exec "$NS_A" curl -s "http://$ADDR_A:$SIM_ADMIN_PORT/admin/status" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["test_keys_issued"])'
}
# a process that holds test key number DECOY_N (far beyond what the
# simulator hands out in a test): the scan must find it there, or it
# could not find anything
DECOY_N=1000000
start_decoy() {	# start_decoy N
	RAMSCAN_SEED=$RAMSCAN_SEED python3 -c '
import hashlib, hmac, os, sys, time
seed = bytes.fromhex(os.environ.pop("RAMSCAN_SEED"))
n = int(sys.argv[1]).to_bytes(8, "big")
held = bytearray(hmac.new(seed, b"qkd-kms-sim test key" + n + bytes(4), hashlib.sha256).digest())
time.sleep(3600)' "$1" &
	DECOY=$!
}
# print the copies in REPORT whose key ID is in IDS_FILE
copies_of() {	# copies_of REPORT IDS_FILE
	awk 'NR == FNR { want[$1] = 1; next }
	     $1 == "copy" { for (i = 2; i <= NF; i++) if ($i ~ /^id=/ && want[substr($i, 4)]) print }' "$2" "$1"
}
ramscan_run() {	# ramscan_run TAG COUNT [DECOY]: the report in $L/ramscan-TAG.out
	"$RS/scan" "$@" > "$L/ramscan-$1.out" 2>&1
	local rc=$?
	grep -E '^(dump|owner|total)' "$L/ramscan-$1.out" | sed "s/^/# ramscan $1: /"
	return $rc
}
gone() { ! kill -0 "$1" 2>/dev/null; }
ramscan_live() {
	local k
	k=$(issued)
	start_decoy $DECOY_N
	sleep 2
	{ cli a audit peer; cli b audit peer; } 2>/dev/null | grep -o ' id=[0-9a-f-]*' |
		cut -d= -f2 | sort -u > "$L/taken-ids.txt"
	ramscan_run live "$k" $DECOY_N
	ok $? "ramscan live: all guest RAM dumped from the host and searched for the $k keys handed out and a decoy, everything running"
	grep -q "^copy key=$DECOY_N .* owner=python3\[$DECOY\]" "$L/ramscan-live.out"
	ok $? "ramscan live: the decoy's key found in the decoy's memory (the scan finds what is there)"
	kill "$DECOY" && wait_cond 15 gone "$DECOY"
	copies_of "$L/ramscan-live.out" "$L/taken-ids.txt" > "$L/ramscan-live-taken.out"
	if [ -n "$ZEROED" ]; then
		[ ! -s "$L/ramscan-live-taken.out" ]
		ok $? "ramscan live (init_on_free=1): 0 copies of the $(wc -l < "$L/taken-ids.txt") keys charon took (audit, both sides)"
	else
		diag "ramscan live (without init_on_free=1): $(wc -l < "$L/ramscan-live-taken.out") copies of the $(wc -l < "$L/taken-ids.txt") taken keys (not judged)"
	fi
	sed 's/^/# taken: /' "$L/ramscan-live-taken.out" | head -n 40
}
ramscan_final() {
	local k d pid
	k=$(issued)
	for d in agent-a agent-b sim; do
		pid=$(cat "$T/$d.pid") && rm -f "$T/$d.pid" && kill "$pid" && wait_cond 15 gone "$pid"
	done
	rmmod qkd
	ok $? "ramscan final: charon, agents and simulator stopped, module unloaded ($k keys handed out)"
	sleep 1
	# and the decoy's key: its process has exited, its pages are free
	ramscan_run final "$k" $DECOY_N
	ok $? "ramscan final: all guest RAM dumped and searched again (and for the decoy's key)"
	if [ -n "$ZEROED" ]; then
		grep -q '^total: 0 copies' "$L/ramscan-final.out"
		ok $? "ramscan final (init_on_free=1): 0 copies of any of the $k keys left in RAM, nor of the exited decoy's"
	else
		diag "ramscan final (without init_on_free=1): $(grep -c "^copy key=$DECOY_N " "$L/ramscan-final.out") copies of the exited decoy's key in freed memory, $(grep '^copy' "$L/ramscan-final.out" | grep -vc "^copy key=$DECOY_N ") of the $k keys (not judged)"
	fi
	grep '^copy' "$L/ramscan-final.out" | head -n 40 | sed 's/^/# /'
}

# ---------------------------------------------------------------- setup
setup_module
setup_netns &&
	ip -n "$NS_A" addr add $SEC_A/32 dev lo && ip -n "$NS_B" addr add $SEC_B/32 dev lo
ok $? "two gateways in two netns joined by veth"
make_pki
ok $? "pki: CA and gateway certificates"
make_kme_pki
ok $? "KME and SAE certificates"
if [ -n "$RAMSCAN" ]; then
	QKD_KMS_SIM_TEST_SEED=$RAMSCAN_SEED start_sim --key-rate 51200 --initial-keys 64
	ok $? "qkd-kms-sim up (KME A and B on $ADDR_A), test keys from the RAM scan's seed"
else
	start_sim --key-rate 51200 --initial-keys 64
	ok $? "qkd-kms-sim up (KME A and B on $ADDR_A)"
fi
for g in a b; do write_agent_conf $g && start_agent $g; done
wait_pools
ok $? "both agents created link 'peer' and filled it"

qkd_conf() {	# qkd_conf NAME: link prefer, child sec require
	qkd_link_by_id "$1" prefer 8000 "metrics_file = $T/$1-plugin.prom" |
		sed 's/^\t\t\t\t\twait_ms = 8000$/&\n\t\t\t\t\tchildren {\n\t\t\t\t\t\tsec {\n\t\t\t\t\t\t\tpolicy = require\n\t\t\t\t\t\t}\n\t\t\t\t\t}/'
}
sec_child() {	# sec_child NAME: the swanctl.conf section of child sec
	local l=$SEC_A r=$SEC_B
	[ "$1" = b ] && { l=$SEC_B; r=$SEC_A; }
	cat <<EOC
			sec {
				mode = tunnel
				esp_proposals = aes256gcm16-qkd
				local_ts = $l/32
				remote_ts = $r/32
				rekey_time = 20h
				life_time = 24h
			}
EOC
}
for g in a b; do
	CONF_QKD=$(qkd_conf $g); write_conf $g
	SW_CHILDLESS=force SW_CHILDREN=$(sec_child $g) write_swanctl $g
done
grep -A2 "children {" "$T/a/strongswan.conf" | grep -q "policy = require"
ok $? "qkd.conf: link prefer, child sec require"
start_charon a && start_charon b && sw a --load-all > "$L/load-a.out" 2>&1 &&
	sw b --load-all > "$L/load-b.out" 2>&1
ok $? "both charons started, swanctl.conf loaded"
up_both() {	# the IKE_SA and both children, initiated by a
	sw a --initiate --child net --timeout 120 > "$L/initiate-net.out" 2>&1 &&
		sw a --initiate --child sec --timeout 120 > "$L/initiate-sec.out" 2>&1
}
up_both && wait_log a "keyed with a QKD key" 2 60 && wait_log b "keyed with a QKD key" 2 60
ok $? "tunnel up: net and sec, each keyed with a QKD key"
ping_ok 3
ok $? "traffic flows"
[ "$failed" = 0 ] || bail "setup failed"

# ---------------------------------------------------------------- faults
if want agent-kill; then
	begin_fault agent-kill
	# four takes drop a's pool below its low watermark: the agent fetches
	# a batch at once (a flush would also drop the peer's announced key
	# a's agent fetched ahead, which no KME hands out twice)
	for i in 1 2 3 4; do cli a take peer > /dev/null 2>&1; done
	kill -9 "$(cat "$T/agent-a.pid")"
	ok $? "agent-kill: 4 of a's keys taken, a's agent killed -9 while it refills"
	rekey_qkd a net 60 || diag "agent-kill: a's rekey without its agent fell back (prefer)"
	start_agent a
	wait_pools
	ok $? "agent-kill: the restarted agent refilled a's pool ($(stat_of a initiator_keys) keys)"
	end_fault
fi

if want kme-down; then
	begin_fault kme-down
	for r in a b a2 b2; do [ "$(adm "replica?name=$r&up=0")" = 200 ] || r=bad; done
	[ "$r" != bad ]
	ok $? "kme-down: both KMEs (all their endpoints) down"
	end=$((SECONDS + 30)) k=0
	while [ $SECONDS -lt $end ]; do
		sw a --rekey --child net > /dev/null 2>&1
		k=$((k + 1))
		sleep 6
	done
	for r in a b a2 b2; do adm "replica?name=$r&up=1" > /dev/null; done
	ok 0 "kme-down: $k rekeys of net by a during the 30 s outage, then the KMEs back"
	wait_pools
	ok $? "kme-down: both pools refilled"
	end_fault
fi

if want module-reload; then
	begin_fault module-reload
	# the audit ring goes with the module: check what it holds first
	sa=? sb=?
	sa=$(require_held module-reload a "$REQ_A") && sb=$(require_held module-reload b "$REQ_B")
	ok $? "module-reload: before the unload every SA installed for sec was QKD-keyed (a $sa, b $sb)"
	accounted a && r="$ACCT" && accounted b
	ok $? "module-reload: before the unload every key accounted for ($r; $ACCT)"
	unwatch_sas
	rmmod qkd
	ok $? "module-reload: module unloaded while charon and the agents run and the SAs are up"
	fb=$(logcount a "falling back to X25519 alone")
	sw a --rekey --child net > /dev/null 2>&1
	sw a --rekey --child sec > /dev/null 2>&1
	sleep 5
	c_sec=$(list_sas a | grep -c "sec: #.*INSTALLED")
	[ "$(logcount a "falling back to X25519 alone")" -gt "$fb" ] && [ "$c_sec" -ge 1 ]
	ok $? "module-reload: without the module net fell back to X25519 (prefer), sec kept its old SA (require)"
	insmod "$QKD_KO"
	ok $? "module-reload: module loaded again"
	FAULT=module-reload-2
	watch_sas module-reload-2
	wait_pools 120
	ok $? "module-reload: the agents created link 'peer' again and filled it"
	end_fault
fi

if want charon-kill; then
	# b restarts without state; a's IKE_SA with it is dead (a would
	# reuse it for every new child), so b initiates: its INITIAL_CONTACT
	# makes a delete the dead IKE_SA and its SAs.  Between that and the
	# new CHILD_SAs (childless = force: CREATE_CHILD_SA after IKE_AUTH) the
	# stream has no SA: an outage, measured and reported.
	begin_fault charon-kill
	OUTAGE=yes
	kill -9 "$(cat "$T/b.pid")"
	wait "$(cat "$T/b.pid")" 2>/dev/null
	rm -f "$T/b.pid"
	ok 0 "charon-kill: b's charon killed -9 (its kernel SAs stay and carry the stream)"
	start_charon b && sw b --load-all > "$L/load-b2.out" 2>&1
	ok $? "charon-kill: b's charon restarted"
	ka=$(keyed a) kb=$(keyed b)
	sw b --initiate --child net --timeout 120 > "$L/initiate-b-net.out" 2>&1 &&
		sw b --initiate --child sec --timeout 120 > "$L/initiate-b-sec.out" 2>&1 &&
		wait_log a "keyed with a QKD key" $((ka + 2)) 60 && wait_log b "keyed with a QKD key" $((kb + 2)) 60
	ok $? "charon-kill: b initiated a new IKE_SA with both children, QKD-keyed"
	wait_cond 30 test "$(list_sas a | grep -c '^gw: #')" = 1
	ok $? "charon-kill: a deleted the dead IKE_SA (b's INITIAL_CONTACT): one IKE_SA left"
	REQ_A="$REQ_A $(reqid_of a sec)" REQ_B="$REQ_B $(reqid_of b sec)"
	end_fault
fi

if want link-cut; then
	begin_fault link-cut
	[ "$(adm 'link?up=0')" = 200 ]
	ok $? "link-cut: the QKD link cut (the KMEs answer, with no new keys)"
	for k in 1 2 3 4; do sw a --rekey --child net > /dev/null 2>&1; sleep 4; done
	[ "$(adm 'link?up=1')" = 200 ]
	ok $? "link-cut: 4 rekeys of net during the cut, then the link restored"
	wait_pools 120
	ok $? "link-cut: both pools refilled"
	end_fault
fi

if want desync; then
	begin_fault desync
	# no agent, empty pools: a's next take is the one key injected here,
	# whose material differs between the sites
	kill "$(cat "$T/agent-a.pid")" "$(cat "$T/agent-b.pid")"
	sleep 1
	cli a flush peer > /dev/null && cli b flush peer > /dev/null
	idd=$(keyid dd 1)
	inject1 a initiator "$idd" && inject1 b responder "$idd"
	ok $? "desync: agents stopped, pools flushed, key $idd injected with different material on each side"
	c0=$(child_spis a net)
	sw a --rekey --child net > /dev/null 2>&1
	uuid=$(echo "$idd" | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/')
	wait_log b "ALARM.*$uuid" 1 30 || wait_log a "ALARM.*$uuid" 1 5
	ok $? "desync: the key confirmation failed, the alarm names the key ID ($uuid)"
	grep -h "ALARM" "$L/a-charon.log" "$L/b-charon.log" | sed 's/^[0-9:]* [0-9]*\[[A-Z]*\] /# /' | head -4
	sleep 2
	[ -n "$c0" ] && [ "$(child_spis a net)" = "$c0" ] && [ "$(child_spis b net)" = "$(swapped $c0)" ]
	ok $? "desync: both ends keep the old SA of net ($c0)"
	start_agent a && start_agent b
	wait_pools
	ok $? "desync: agents restarted, pools refilled"
	end_fault
fi

if want clock-step; then
	begin_fault clock-step
	t0=$(date +%s)
	date -s "@$((t0 + 3600))" > /dev/null
	ok $? "clock-step: clock stepped one hour forward"
	wait_pools 60 || diag "clock-step: pools not refilled within 60 s"
	rekey_qkd a net 60 && rekey_qkd b sec 60
	ok $? "clock-step: rekeys QKD-keyed after the step"
	date -s "@$(($(date +%s) - 3600))" > /dev/null
	ok $? "clock-step: clock stepped back"
	end_fault
fi

if want graceful-restart; then
	begin_fault graceful-restart
	OUTAGE=yes
	t0=$(date +%s.%N)
	stop_charon b
	start_charon b && sw b --load-all > "$L/load-b3.out" 2>&1 && up_both
	ping_ok 1
	t1=$(date +%s.%N)
	ok $? "graceful-restart: b's charon stopped (deleting its SAs), restarted, tunnel up again; outage $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
	REQ_A="$REQ_A $(reqid_of a sec)" REQ_B="$REQ_B $(reqid_of b sec)"
	end_fault
fi

if want storm; then
	# b's link: 1 key/s, burst 2, below what the storm asks for: the
	# bucket must bound b's takes (as responder and as initiator), the
	# rekeys beyond it fall back (net, prefer) or are refused (sec,
	# require, the old SA stays) instead of waiting
	diag "---- rekey storm ($(($(date +%s) - START)) s)"
	cli b link-set peer rate 1 burst 2 > /dev/null
	t0=$(stat_of b taken) fb0=$(logcount b "falling back to X25519 alone") rl0=$(stat_of b rate_limited)
	stream_start storm
	# three loops (a: net, a: sec, b: net): one swanctl process per rekey
	# manages about 1/s under TCG, three together exceed b's bucket
	end=$((SECONDS + STORM_SECONDS))
	storm_loop() {	# storm_loop WHO CHILD: prints its rekey count
		local c=0
		while [ $SECONDS -lt $end ]; do
			sw "$1" --rekey --child "$2" > /dev/null 2>&1
			c=$((c + 1))
		done
		echo "$c"
	}
	storm_loop a net > "$T/storm-1" &
	p1=$!
	storm_loop a sec > "$T/storm-2" &
	p2=$!
	storm_loop b net > "$T/storm-3" &
	wait $p1 $p2 $!
	k=$(( $(cat "$T/storm-1") + $(cat "$T/storm-2") + $(cat "$T/storm-3") ))
	sleep 3
	taken=$(( $(stat_of b taken) - t0 )) fb=$(( $(logcount b "falling back to X25519 alone") - fb0 ))
	rl=$(( $(stat_of b rate_limited) - rl0 )) cap=$((2 + STORM_SECONDS + 3))
	diag "storm: $k rekeys requested in $STORM_SECONDS s ($(awk -v k="$k" -v s="$STORM_SECONDS" 'BEGIN { printf "%.1f", k / s }')/s); b took $taken keys, $rl takes rate-limited, $fb fell back"
	[ "$taken" -le "$cap" ] && { [ "$k" -le "$cap" ] || { [ "$rl" -ge 1 ] && [ "$fb" -ge 1 ]; }; }
	ok $? "storm: b's takes ($taken) within its token bucket (burst 2 + 1/s x $((STORM_SECONDS + 3)) s = $cap); the $k rekeys beyond it rate-limited ($rl) and net's fell back ($fb)"
	stream_stop
	[ "${RECV:-0}" -gt 0 ] && [ "$RECV" = "$SENT" ]
	ok $? "storm: the stream kept flowing, nothing lost (sent $SENT, received $RECV)"
	timeout 10 ip netns exec "$NS_B" env STRONGSWAN_CONF="$T/b/strongswan.conf" swanctl --stats \
		> "$L/storm-stats.out" 2>&1
	ok $? "storm: b's charon answers swanctl --stats within 10 s"
	cli b link-set peer rate 0 > /dev/null
fi

if [ -n "$RAMSCAN" ]; then
	ramscan_live
	stop_charon a; stop_charon b
	ramscan_final
fi
stop_charon a; stop_charon b
! grep -Eiq '[0-9a-f]{64}' "$L"/*charon.log "$L"/agent-*.log "$L"/sim.log
ok $? "no key material in the logs"
diag "runtime $(($(date +%s) - START)) s"
echo "1..$n"
exit $((failed != 0))
