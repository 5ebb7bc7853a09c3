#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end test of the next key IDs (plugin protocol v3) with the real
# module, qkd-agent and qkd-kms-sim.  Runs in the guest:
#
#   selftests/vm/run --timeout 1500 -- selftests/charon/e2e-next.sh
#
# Two gateways (lib.sh: two netns joined by veth, certificates from `pki`),
# each with its own module store fed by its own qkd-agent (role both:
# enc_keys as master for its initiator keys, dec_keys on KEY_WANTED for the
# peer's); qkd-kms-sim plays KME A and KME B, in a's netns on 192.0.2.1.
# No key is injected by the test: every key comes from the simulated KMEs.
#
#   1  the first CHILD_SA (childless = force) in CREATE_CHILD_SA: b's take
#      by ID waits for the agent once (nothing was announced yet); each side
#      announces its next key, the other's module asks its agent for it
#   2  six rekeys, alternating a, b: before each, the responder's module
#      already holds the key the initiator announced (the agent fetched it
#      on the want alone, no take pending) and its KEY_WANTED was counted;
#      the initiator takes its announced key by ID, the responder's take
#      finds it: wanted counters exact (one per announced ID plus the one
#      take of step 1), pending 0, the audit has one take per exchange and
#      side with the IDs both logged
#   3  the key a announced is flushed (with all of a's keys) before a's
#      rekey: a takes another, b takes that one by ID (waits for its agent
#      once), the rekey is QKD-keyed, nothing hangs
#   5  KME failover with the tunnel up: the first replicas of KME A and
#      KME B go down (the simulator serves each KME on two endpoints over
#      one key store); four rekeys during the outage are all QKD-keyed,
#      both agents switch to the second replicas (one line each), a ping
#      stream across the outage loses nothing; the replicas come back and
#      both agents fail back after kme_failback, the next rekeys QKD-keyed
#   4  charons stopped: no reservation left in either module
#
# Output: TAP.  Helpers from lib.sh; QKD_AGENT, QKD_SIM override the
# binaries.  Logs show key IDs only, never key material (ike=3).
set -u

NS_A=qkdnext-a
NS_B=qkdnext-b
LIB_TAG=charon-e2e-next
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap cleanup EXIT

# responder-role take records of a link
resp_takes() { cli "$1" audit peer 2>/dev/null | grep -c ' role=2 '; }
init_takes() { cli "$1" audit peer 2>/dev/null | grep -c ' role=1 '; }

check_prereqs
[ -x "$AGENT" ] && [ -x "$SIM" ] || bail "qkd-agent / qkd-kms-sim not built (make -C userspace)"

# ---------------------------------------------------------------- setup
setup_module
setup_netns || bail "netns and veth setup failed"
make_pki
ok $? "pki: CA and gateway certificates"
make_kme_pki
ok $? "KME and SAE certificates (userspace/tests/mkcerts.sh)"
start_sim --key-rate 51200 --initial-keys 64
ok $? "qkd-kms-sim up (KME A and B on $ADDR_A)"
for g in a b; do
	write_agent_conf "$g" && start_agent "$g"
done
wait_cond 90 pool_ge a 6 && wait_cond 90 pool_ge b 6
ok $? "both agents created link 'peer' and filled it (enc_keys): a $(stat_of a initiator_keys), b $(stat_of b initiator_keys) initiator keys"

CONF_IKE=3
CONF_QKD=$(qkd_link_by_id a require 8000 "rekey_first_child = yes
			metrics_file = $T/a-plugin.prom"); write_conf a
CONF_QKD=$(qkd_link_by_id b require 8000 "metrics_file = $T/b-plugin.prom"); write_conf b
SW_CHILDLESS=force
write_swanctl a; write_swanctl b
start_charon a && start_charon b
ok $? "both charons started"
sw a --load-all > "$L/load-a.out" 2>&1 && sw b --load-all > "$L/load-b.out" 2>&1
ok $? "swanctl --load-all"
[ "$failed" = 0 ] || bail "setup failed"

# ---------------------------------------------------------------- 1
sw a --initiate --child net --timeout 120 > "$L/initiate.out" 2>&1
ok $? "1: tunnel up"
wait_log a "keyed with a QKD key" 1 60 && wait_log b "keyed with a QKD key" 1 60
ok $? "1: first CHILD_SA keyed with a QKD key on both sides"
grep -q "announced qkd protocol v3" "$L/a-charon.log" &&
	grep -q "announced qkd protocol v3" "$L/b-charon.log"
ok $? "1: both announced protocol v3"
# a announced its next key, b its own; each module asked its agent
wait_cond 60 resp_is b 1 && wait_cond 60 resp_is a 1
ok $? "1: each module holds the key the other side announced (fetched ahead, not taken)"
wb=$(stat_of b wanted) wa=$(stat_of a wanted)
[ "$wb" = 2 ] && [ "$wa" = 1 ] && [ "$(stat_of a pending)" = 0 ] && [ "$(stat_of b pending)" = 0 ] &&
	[ "$(stat_of a reserved)" = 1 ] && [ "$(stat_of b reserved)" = 1 ]
ok $? "1: wanted b=$wb (its one take by ID + a's next key), a=$wa (b's next key); pending 0; one reservation per side"

# ---------------------------------------------------------------- 2
bad=0 ra=0 rb=0 waits=0
for k in 1 2 3 4 5 6; do
	i=a; [ $((k % 2)) = 0 ] && i=b
	r=$(other_of "$i")
	# the responder holds the announced key already, nothing pending
	wait_cond 60 resp_is "$r" 1 || { bad=$((bad + 1)); diag "rekey $k: $r does not hold $i's announced key"; }
	w0=$(stat_of "$r" wanted)
	read -r in0 _ <<< "$(child_spis a)"
	c0=$(logcount "$i" "the one announced to")
	sw "$i" --rekey --child net > "$L/rekey-$k.out" 2>&1
	wait_log a "keyed with a QKD key" $((k + 1)) 60 && wait_log b "keyed with a QKD key" $((k + 1)) 60 ||
		{ bad=$((bad + 1)); diag "rekey $k by $i: not QKD-keyed"; }
	read -r in1 _ <<< "$(child_spis a)"
	[ -n "$in1" ] && [ "$in1" != "$in0" ] || { bad=$((bad + 1)); diag "rekey $k: SPIs unchanged"; }
	[ "$(logcount "$i" "the one announced to")" = $((c0 + 1)) ] ||
		{ bad=$((bad + 1)); diag "rekey $k: $i did not take its announced key"; }
	# the responder's take found the key: it asked its agent for nothing
	# but the initiator's new next key (one KEY_WANTED, from the want)
	w1=$(stat_of "$r" wanted)
	[ "$w1" = $((w0 + 1)) ] || { bad=$((bad + 1)); diag "rekey $k: $r wanted $w0 -> $w1 (expected +1)"; }
	[ "$(stat_of "$r" pending)" = 0 ] || bad=$((bad + 1))
	if [ "$i" = a ]; then ra=$((ra + 1)); else rb=$((rb + 1)); fi
done
ok $bad "2: six rekeys (a, b alternating): each initiator took its announced key by ID, each responder held it before the CREATE_CHILD_SA (one KEY_WANTED per announced ID, counted before the rekey, none for the take)"
wait_cond 60 resp_is a 1 && wait_cond 60 resp_is b 1
wa=$(stat_of a wanted) wb=$(stat_of b wanted)
[ "$wb" = $((2 + ra)) ] && [ "$wa" = $((1 + rb)) ] &&
	[ "$(stat_of a pending)" = 0 ] && [ "$(stat_of b pending)" = 0 ]
ok $? "2: wanted counters exact: b $wb (= 2 + $ra rekeys by a), a $wa (= 1 + $rb rekeys by b); pending 0"
[ "$(logcount a "the one announced to")" = $ra ] && [ "$(logcount b "the one announced to")" = $rb ] &&
	[ "$(logcount b "the one it announced")" = $ra ] && [ "$(logcount a "the one it announced")" = $rb ] &&
	! grep -q "not the one it announced\|is gone from link" "$L/a-charon.log" "$L/b-charon.log"
ok $? "2: logs: every rekey used the announced key on both sides (initiator and responder)"
[ "$(init_takes a)" = $((1 + ra)) ] && [ "$(resp_takes b)" = $((1 + ra)) ] &&
	[ "$(init_takes b)" = "$rb" ] && [ "$(resp_takes a)" = "$rb" ]
ok $? "2: audit: one take per exchange per side (a initiator $(init_takes a), b responder $(resp_takes b); b initiator $(init_takes b), a responder $(resp_takes a))"
[ "$(stat_of a taken)" = $((1 + ra + rb)) ] && [ "$(stat_of b taken)" = $((1 + ra + rb)) ]
ok $? "2: taken counters exact: $((1 + ra + rb)) per side"
ping_ok
ok $? "2: traffic flows"

# ---------------------------------------------------------------- 3
wb0=$(stat_of b wanted)
cli a flush peer > /dev/null
ok $? "3: a's link flushed (its announced key with it)"
wait_cond 60 pool_ge a 4
ok $? "3: a's agent refilled the pool ($(stat_of a initiator_keys) keys)"
read -r in0 _ <<< "$(child_spis a)"
sw a --rekey --child net > "$L/rekey-flush.out" 2>&1
wait_log a "keyed with a QKD key" $((2 + ra + rb)) 60 && wait_log b "keyed with a QKD key" $((2 + ra + rb)) 60
ok $? "3: a's rekey is QKD-keyed on both sides"
read -r in1 _ <<< "$(child_spis a)"
[ -n "$in1" ] && [ "$in1" != "$in0" ] && [ "$(child_count a)" = 1 ]
ok $? "3: SPIs changed, one CHILD_SA"
[ "$(logcount a "is gone from link 'peer'")" = 1 ] &&
	[ "$(logcount b "not the one it announced")" = 1 ]
ok $? "3: a logged its announced key gone and took another; b took the ID the INIT named"
wait_cond 30 resp_is b 1
[ "$(stat_of b wanted)" = $((wb0 + 2)) ] && [ "$(stat_of b pending)" = 0 ]
ok $? "3: b asked its agent twice (its take of the unannounced key, a's new next key): wanted $wb0 -> $(stat_of b wanted), pending 0"
ping_ok
ok $? "3: traffic flows"

# ---------------------------------------------------------------- 5
keyed=$(logcount a "keyed with a QKD key")
[ "$(adm 'replica?name=a&up=0')" = 200 ] && [ "$(adm 'replica?name=b&up=0')" = 200 ]
ok $? "5: the first replicas of KME A and KME B down"
ip netns exec "$NS_A" busybox ping -c 80 -i 0.25 -W 5 -I "$NET_A" "$NET_B" > "$L/ping-failover.out" 2>&1 &
PING=$!
bad=0
for k in 1 2 3 4; do
	i=a; [ $((k % 2)) = 0 ] && i=b
	sw "$i" --rekey --child net > "$L/rekey-fo-$k.out" 2>&1
	wait_log a "keyed with a QKD key" $((keyed + k)) 90 && wait_log b "keyed with a QKD key" $((keyed + k)) 90 ||
		{ bad=$((bad + 1)); diag "failover rekey $k by $i: not QKD-keyed"; }
done
ok $bad "5: four rekeys (a, b alternating) during the outage, all QKD-keyed on both sides"
grep -q "unreachable: switching to https://$ADDR_A:18445" "$L/agent-a.log" &&
	grep -q "unreachable: switching to https://$ADDR_A:18446" "$L/agent-b.log"
ok $? "5: both agents switched to the second replicas (after each kme_failback try of the first: $(grep -c "switching to" "$L/agent-a.log") and $(grep -c "switching to" "$L/agent-b.log") lines)"
wait $PING
tx=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) packets received.*/\1 \2/p' "$L/ping-failover.out")
[ "${tx% *}" = 80 ] && [ "${tx#* }" = 80 ]
ok $? "5: a ping stream across the outage and the rekeys lost nothing (sent/received: $tx)"
[ "$(adm 'replica?name=a&up=1')" = 200 ] && [ "$(adm 'replica?name=b&up=1')" = 200 ]
ok $? "5: the first replicas back"
keyed=$(logcount a "keyed with a QKD key")
sleep 4		# kme_failback 3 s
for k in 1 2; do
	i=a; [ $k = 2 ] && i=b
	sw "$i" --rekey --child net > "$L/rekey-fb-$k.out" 2>&1
	wait_log a "keyed with a QKD key" $((keyed + k)) 90 && wait_log b "keyed with a QKD key" $((keyed + k)) 90
	ok $? "5: after the replicas came back, the rekey by $i is QKD-keyed"
done
# failed back: the agent's last replica line is its try of the first one
on_first() {	# on_first AGENT PORT
	grep -E "switching to|trying the first KME" "$L/agent-$1.log" | tail -n 1 |
		grep -q "trying the first KME https://$ADDR_A:$2 again"
}
wait_cond 60 on_first a 18443 && wait_cond 60 on_first b 18444
ok $? "5: both agents failed back to the first replicas and stayed there"
ping_ok
ok $? "5: traffic flows"

# ---------------------------------------------------------------- 6
# The operator's view: each agent's /metrics serves its charon's plugin
# counters (the file the plugin writes) and the kernel's SAs by keying.
scrape() { ip netns exec "$(ns_of "$1")" curl -s "http://$(addr_of "$1"):19464/metrics"; }
metric() {	# metric NAME 'SERIES' (exact name and labels): its value
	scrape "$1" | awk -v k="$2" '$1 == k { print $2 }'
}
# the plugin writes within a second of a count; ping_ok above was the last
# change
plugin_settled() {
	[ "$(metric "$1" 'qkd_plugin_keys_taken_total{role="initiator"}')" != "" ] &&
	[ $(( $(metric "$1" 'qkd_plugin_keys_taken_total{role="initiator"}') +
	      $(metric "$1" 'qkd_plugin_keys_taken_total{role="responder"}') )) = "$(stat_of "$1" taken)" ]
}
for g in a b; do
	wait_cond 10 plugin_settled "$g"
	ok $? "6: $g's agent serves its plugin's counters: keys taken as initiator $(metric "$g" 'qkd_plugin_keys_taken_total{role="initiator"}') + responder $(metric "$g" 'qkd_plugin_keys_taken_total{role="responder"}') = the module's taken $(stat_of "$g" taken)"
	[ "$(metric "$g" qkd_agent_plugin_metrics_up)" = 1 ] &&
		[ "$(metric "$g" qkd_plugin_confirmation_failures_total)" = 0 ] &&
		[ "$(metric "$g" qkd_plugin_child_sas_refused_total)" = 0 ] &&
		[ "$(metric "$g" qkd_plugin_classical_child_sas_total)" = 0 ]
	ok $? "6: $g: plugin metrics up, 0 confirmation failures, 0 refused and 0 classical CHILD_SAs"
	nsa=$(ip -n "$(ns_of "$g")" xfrm state | grep -c '^src')
	scrape "$g" | grep '^qkd_xfrm' > "$L/xfrm-metrics-$g.out"
	[ "$nsa" -ge 2 ] && [ "$(metric "$g" qkd_xfrm_up)" = 1 ] &&
		[ "$(metric "$g" 'qkd_xfrm_sas{keying="qkd"}')" = "$nsa" ] &&
		[ "$(metric "$g" 'qkd_xfrm_sas{keying="classical"}')" = 0 ] &&
		[ "$(metric "$g" 'qkd_xfrm_sas{keying="unknown"}')" = 0 ] &&
		[ "$(metric "$g" 'qkd_xfrm_link_sas{link="peer"}')" = "$nsa" ] &&
		[ "$(metric "$g" 'qkd_xfrm_packets{keying="qkd"}')" -gt 0 ]
	ok $? "6: $g: qkd_xfrm_sas qkd = the $nsa SAs of ip xfrm state, all of link peer, classical 0, unknown 0, packets $(metric "$g" 'qkd_xfrm_packets{keying="qkd"}')"
done

# ---------------------------------------------------------------- 4
stop_charon a
stop_charon b
[ ! -e "$T/a-plugin.prom" ] && [ ! -e "$T/b-plugin.prom" ] &&
	[ "$(metric a qkd_agent_plugin_metrics_up)" = 0 ] && [ "$(metric b qkd_agent_plugin_metrics_up)" = 0 ]
ok $? "4: charons stopped: their plugins removed the metrics files, the agents say plugin metrics up 0"
[ "$(stat_of a reserved)" = 0 ] && [ "$(stat_of b reserved)" = 0 ]
ok $? "4: charons stopped: their reservations released (reserved a=$(stat_of a reserved) b=$(stat_of b reserved))"
grep -c "released reserved key" "$L/a-charon.log" "$L/b-charon.log" | tr '\n' ' ' > "$L/released.out"
# 256-bit keys as 64 hex digits (key IDs print as UUIDs or 32 digits)
! grep -Eiq '[0-9a-f]{64}' "$L"/*-charon.log "$L"/agent-*.log "$L"/sim.log "$L"/*.out
ok $? "no key material in the charon, agent and simulator logs (no 64-hex-digit run; ike=3)"

echo "1..$n"
exit $((failed != 0))
