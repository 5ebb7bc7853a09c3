#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end test of the strongSwan qkd plugin with the real qkd module and
# the kernel's ESP (XFRM).  Runs in the guest (the host kernel has neither
# modules nor ESP):
#
#   selftests/charon/run            (builds, then boots the guest)
#   selftests/vm/run -- selftests/charon/e2e.sh
#
# Two gateways in two netns joined by veth, a CA and gateway certificates
# from `pki`, identical keys injected into both namespaces' module links
# (a's initiator keys are b's responder keys and vice versa).  Checks: both
# announce the plugin (protocol v3); policy require with childless = force:
# the first CHILD_SA is created in CREATE_CHILD_SA with a QKD key (an
# IKE_AUTH CHILD_SA has no key exchange and would be refused); rekeys from both sides
# take exactly one key per side and change the SPIs; ESP packets are
# counted by `ip -s xfrm state` on the SA the module's audit names; the
# responder waits for a key that arrives late; require with an empty pool
# keeps the old SA; a key ID with different material on the two sides,
# rekeyed from each side: the responder's check of the initiator's tag
# refuses the exchange (one alarm line with the key ID), the old SA stays
# and carries traffic on both sides, the kernel's ESP SAs are unchanged on
# both sides, and the next rekey with a good key succeeds; logs at ike=3
# contain no trace of any injected key.
# Output: TAP.
#
# Helpers from lib.sh.  Environment: QKD_KO (default kmod/qkd.ko), QKD_CLI
# (selftests/kmod/qkd-cli), QKD_PLUGIN
# (build/charon-plugin/libstrongswan-qkd.so), KEEP=1.
set -u

NS_A=qkde2e-a
NS_B=qkde2e-b
LIB_TAG=charon-e2e
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap cleanup EXIT

check_prereqs

# ---------------------------------------------------------------- setup
setup_module
setup_netns || bail "netns and veth setup failed"
make_pki
ok $? "pki: CA and gateway certificates"

# ike=3: the most verbose level without secrets, for the log check at the end
CONF_IKE=3
CONF_QKD=$(qkd_link_by_id a require 8000 "rekey_first_child = yes"); write_conf a
CONF_QKD=$(qkd_link_by_id b require 8000); write_conf b
# require: no CHILD_SA without a QKD key, so none in IKE_AUTH
SW_CHILDLESS=force
write_swanctl a; write_swanctl b

# module links and identical keys: a's initiator keys are b's responder keys
reset_links
ok $? "module links created in both namespaces"
inject a b aa 2 && inject b a bb 1
ok $? "identical keys injected (2 a->b, 1 b->a: exactly what the rekeys use)"

start_charon a && start_charon b
ok $? "both charons started"
[ "$failed" = 0 ] || bail "setup failed"
grep -q "qkd: key exchange method 64242 (X25519 + QKD), proposal keyword 'qkd', keys from kernel module" "$L/a-charon.log" &&
	grep -q "loaded plugins: .* qkd" "$L/a-charon.log"
ok $? "installed plugin /usr/lib/ipsec/plugins/libstrongswan-qkd.so loaded"
sw a --load-all > "$L/load-a.out" 2>&1 && sw b --load-all > "$L/load-b.out" 2>&1
ok $? "swanctl --load-all (certs, keys, esp_proposals = aes256gcm16-qkd)"

# ---------------------------------------------------------------- tunnel
sw a --initiate --child net --timeout 120 > "$L/initiate.out" 2>&1
ok $? "tunnel up with certificates"
[ "$failed" = 0 ] || bail "no tunnel"
wait_log a "keyed with a QKD key" 1 30 && wait_log b "keyed with a QKD key" 1 30
ok $? "first CHILD_SA (childless = force: created in CREATE_CHILD_SA) keyed with a QKD key on both sides"
grep -q "qkd: gw\[1\] (C=CH, O=qkd-test, CN=gw-b) announced qkd protocol v3, a link for us, require; CHILD_SAs are keyed with QKD" "$L/a-charon.log" &&
	grep -q "qkd: gw\[1\] (C=CH, O=qkd-test, CN=gw-a) announced qkd protocol v3, a link for us, require" "$L/b-charon.log" &&
	! grep -q "keyed without QKD\|refusing CHILD_SA" "$L/a-charon.log" "$L/b-charon.log"
ok $? "both announced the plugin (v3, link, require) in IKE_AUTH; no CHILD_SA without a QKD key"
grep -q "uses link 'to-b' (module link 'peer', matched by identity" "$L/a-charon.log"
ok $? "link found by certificate identity"
sleep 1
[ "$(stat_of a taken)" = 1 ] && [ "$(stat_of b taken)" = 1 ]
ok $? "exactly one key taken per side (module counters)"

read -r in1 out1 <<< "$(child_spis a)"
ping_counted "$out1" 5 at-least
ok $? "ping through the tunnel: 5 answered, kernel ESP SA out $out1 counted $P packets (ip -s xfrm state)"
ip -n "$NS_A" -s xfrm state | grep -Ev '^\s*(aead|enc|auth|auth-trunc) ' > "$L/xfrm-a-1.out" 2>&1
ok $? "ip -s xfrm state of a saved without key lines"
cli a audit peer > "$L/audit-a1.out" 2>&1
cli b audit peer > "$L/audit-b1.out" 2>&1
grep -q "id=aa000000000000000000000000000001 role=1 .*comm=charon spi=0x$in1 spi=0x$out1 usage=CHILD_SA net" "$L/audit-a1.out"
ok $? "a's audit record of key aa..01 names the installed SPIs $in1/$out1"
grep -q "id=aa000000000000000000000000000001 role=2 .* spi=0x$out1 spi=0x$in1" "$L/audit-b1.out"
ok $? "b's audit record of the same key names the same SAs (in/out swapped)"

# ---------------------------------------------------------------- rekeys
sw a --rekey --child net > "$L/rekey-a.out" 2>&1
wait_log a "keyed with a QKD key" 2 30
sleep 1
read -r in2 out2 <<< "$(child_spis a)"
[ -n "$in2" ] && [ "$in2" != "$in1" ] && [ "$out2" != "$out1" ]
ok $? "rekey from a: SPIs changed ($in1/$out1 -> $in2/$out2)"
[ "$(stat_of a taken)" = 2 ] && [ "$(stat_of b taken)" = 2 ]
ok $? "rekey from a took exactly one key per side"
ping_counted "$out2" 3 at-least
ok $? "ESP on the new SA out $out2: $P packets"

sw b --rekey --child net > "$L/rekey-b.out" 2>&1
wait_log a "keyed with a QKD key" 3 30
sleep 1
read -r in3 out3 <<< "$(child_spis a)"
[ -n "$in3" ] && [ "$in3" != "$in2" ]
ok $? "rekey from b: SPIs changed ($in2 -> $in3)"
[ "$(stat_of a taken)" = 3 ] && [ "$(stat_of b taken)" = 3 ]
ok $? "rekey from b took exactly one key per side"
cli b audit peer > "$L/audit-b2.out" 2>&1
grep -q "id=bb000000000000000000000000000001 role=1 .* spi=0x$out3 spi=0x$in3" "$L/audit-b2.out"
ok $? "b took its initiator key bb..01 for SPIs $out3/$in3"
ping_counted "$out3" 3 at-least
ok $? "ESP on the SA keyed by b's key: $P packets"

# ---------------------------------------------------------------- late key
# a's next key reaches b only 1.5 s after a took it: b's take blocks
id=$(keyid cc 1)
k=$(keyline)
inject1 a initiator "$id" "$k"
# inject b's copy only once b's take by ID waits in the module, which
# multicasts KEY_WANTED (that is what the agent would react to)
cli b monitor 1 30000 > "$L/monitor-b.out" 2>&1 &
mon_pid=$!
for _ in $(seq 200); do
	[[ $(< "$L/monitor-b.out") == *subscribed* ]] && break
	sleep 0.05
done
sw a --rekey --child net > "$L/rekey-late.out" 2>&1 &
rekey_pid=$!
got_wanted=1
for _ in $(seq 600); do
	[[ $(< "$L/monitor-b.out") == *"id=$id"* ]] && { got_wanted=0; break; }
	sleep 0.05
done
inject1 b responder "$id" "$k"
wait "$mon_pid"
wait "$rekey_pid"
ok $got_wanted "responder's take by ID made the module multicast KEY_WANTED"
wait_log a "keyed with a QKD key" 4 30
sleep 1
read -r in4 out4 <<< "$(child_spis a)"
[ -n "$in4" ] && [ "$in4" != "$in3" ] &&
	grep -q "took key cc000000-0000-0000-0000-000000000001 (32 bytes) by ID" "$L/b-charon.log"
ok $? "key injected while the responder waited: rekey succeeded with it"
ping_ok 3
ok $? "traffic after the late-key rekey"

# ---------------------------------------------------------------- require
cli a flush peer
sw a --rekey --child net > "$L/rekey-empty.out" 2>&1
sleep 2
read -r in5 out5 <<< "$(child_spis a)"
[ "$in5" = "$in4" ]
ok $? "require, empty pool: rekey refused, old SA $in4 stays"
grep -q "no QKD key from link 'peer': no key .*policy require, refusing" "$L/a-charon.log"
ok $? "require, empty pool: logged"
ping_ok 3
ok $? "traffic still flows over the old SA"

# mismatching material for one key ID (protocol v3: key confirmation both
# ways): the responder checks the initiator's tag, refuses the
# CREATE_CHILD_SA before it installs anything, one ALARM line names the ID;
# the initiator keeps the old SA.  From each side in turn.
esp_sas() {	# esp_sas NAME: number of ESP SAs in the kernel
	ip -n "$(ns_of "$1")" xfrm state 2>/dev/null | grep -c '^	proto esp '
}
# mismatch FROM ID: FROM rekeys with key ID (different material on the
# two sides); checks the outcome on both sides
mismatch() {
	local from=$1 id=$2 to idp sa sb ca cb xa xb np na nb
	to=$(other_of "$from")
	idp=$(echo "$id" | sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)/\1-\2-\3-\4-/')
	sa=$(child_spis a) sb=$(child_spis b)
	ca=$(esp_sas a) cb=$(esp_sas b) xa=$(xfrm_spis a) xb=$(xfrm_spis b)
	np=$(logcount "$from" "received NO_PROPOSAL_CHOSEN notify, no CHILD_SA built")
	inject1 "$from" initiator "$id"
	inject1 "$to" responder "$id"
	sw "$from" --rekey --child net > "$L/rekey-mismatch-$from.out" 2>&1
	wait_log "$to" "ALARM: key confirmation FAILED for key $idp" 1 30 &&
		wait_log "$from" "received NO_PROPOSAL_CHOSEN notify, no CHILD_SA built" $((np + 1)) 30
	ok $? "mismatch, rekey from $from: $to detects it (initiator's tag), answers NO_PROPOSAL_CHOSEN"
	sleep 1
	na=$(grep -c "ALARM: key confirmation FAILED for key $idp" "$L/$to-charon.log")
	nb=$(grep -c "ALARM: key confirmation FAILED for key $idp" "$L/$from-charon.log")
	[ "$na" = 1 ] && [ "$nb" = 0 ] &&
		grep "ALARM: key confirmation FAILED for key $idp" "$L/$to-charon.log" |
			grep -q "link 'peer'"
	ok $? "mismatch, rekey from $from: exactly one alarm line on $to naming key $idp and the link, none on $from"
	[ -n "$sa" ] && [ "$(child_spis a)" = "$sa" ] && [ "$(child_spis b)" = "$sb" ] &&
		[ "$(child_count a)" = 1 ] && [ "$(child_count b)" = 1 ]
	ok $? "mismatch, rekey from $from: the old CHILD_SA stays on both sides (a: $sa, b: $sb)"
	[ "$(esp_sas a)" = "$ca" ] && [ "$(esp_sas b)" = "$cb" ] &&
		[ "$(xfrm_spis a)" = "$xa" ] && [ "$(xfrm_spis b)" = "$xb" ]
	ok $? "mismatch, rekey from $from: ESP SAs in the kernel unchanged on both sides ($ca on a, $cb on b, same SPIs): nothing half-installed"
	local pa0 pb0 pa1 pb1
	pa0=$(xfrm_packets a "${sa#* }") pb0=$(xfrm_packets b "${sb#* }")
	ping_ok 3
	pa1=$(xfrm_packets a "${sa#* }") pb1=$(xfrm_packets b "${sb#* }")
	[ -n "$pa1" ] && [ -n "$pb1" ] && [ "$pa1" -ge $((${pa0:-0} + 3)) ] &&
		[ "$pb1" -ge $((${pb0:-0} + 3)) ]
	ok $? "mismatch, rekey from $from: the old SA carries traffic both ways (a out ${pa0:-0} -> $pa1, b out ${pb0:-0} -> $pb1)"
	audit_of "$to" "${id:0:2}" > "$L/audit-mismatch-$from.out"
	grep -q "usage=unused: confirmation failed" "$L/audit-mismatch-$from.out"
	ok $? "mismatch, rekey from $from: $to's audit record says the key was unused (confirmation failed)"
}
# b has no initiator key left and a none either (flushed above): the keys
# of the mismatch are the only ones each initiator can take
cli b flush peer
mismatch a "$(keyid dd 1)"
mismatch b "$(keyid de 1)"
# the next rekey with a good key succeeds (a retry of a failed rekey may
# take it first: either way the SPIs change and the SA is QKD-keyed)
nk=$(logcount a "keyed with a QKD key")
inject a b df 1
sw a --rekey --child net > "$L/rekey-after-mismatch.out" 2>&1
wait_log a "keyed with a QKD key" $((nk + 1)) 30
sleep 1
read -r in6 out6 <<< "$(child_spis a)"
[ -n "$in6" ] && [ "$in6" != "$in4" ] &&
	grep -q "took key df000000-0000-0000-0000-000000000001 (32 bytes) by ID" "$L/b-charon.log" &&
	[ "$(child_count a)" = 1 ] && [ "$(child_count b)" = 1 ]
ok $? "after the mismatches the next rekey with a good key succeeds (new SA $in6, QKD-keyed)"
ping_counted "$out6" 3 at-least
ok $? "traffic on the new SA ($P packets)"

# ---------------------------------------------------------------- prefer
# module gone: prefer falls back to X25519 alone, then QKD resumes
CONF_QKD=$(qkd_link_by_id a prefer 8000 "rekey_first_child = yes"); write_conf a
CONF_QKD=$(qkd_link_by_id b prefer 8000); write_conf b
sw a --reload-settings > /dev/null 2>&1 && sw b --reload-settings > /dev/null 2>&1
if rmmod qkd 2>> "$L/rmmod.out"; then
	sw a --rekey --child net > "$L/rekey-nomod.out" 2>&1
	wait_log a "falling back to X25519 alone" 1 30
	sleep 1
	read -r in7 out7 <<< "$(child_spis a)"
	[ -n "$in7" ] && [ "$in7" != "$in6" ] &&
		grep -q "WARNING: no QKD key from link 'peer': qkd kernel module not loaded" "$L/a-charon.log" &&
		grep -q "WARNING: peer sent no QKD key ID" "$L/b-charon.log"
	ok $? "prefer, module gone: rekey with X25519 alone, warnings on both sides"
	ping_counted "$out7" 3 at-least
	ok $? "prefer fallback SA carries ESP ($P packets)"
	insmod "$QKD_KO" && reset_links && inject a b ee 1
	ok $? "module back, links and keys restored"
	sw a --rekey --child net > "$L/rekey-back.out" 2>&1
	wait_log a "took key ee000000" 1 30 && wait_log a "keyed with a QKD key" 5 30
	ok $? "QKD resumes with the next rekey"
	sleep 1
	read -r in8 out8 <<< "$(child_spis a)"
	ping_counted "$out8" 3 at-least && [ "$in8" != "$in7" ]
	ok $? "ESP on the QKD-keyed SA after the module came back ($P packets)"
else
	ok 1 "rmmod qkd failed: $(cat "$L/rmmod.out")"
fi

sw a --terminate --ike gw > /dev/null 2>&1
grep -E "qkd: keys taken" "$L/a-charon.log" "$L/b-charon.log" | sed 's/^/# /'
# every key injected (the late key cc..01 is recorded once per side)
nkeys=$(sort -u "$T/injected.keys" | wc -l)
grep -q "^[0-9:]* [0-9]*\[IKE\] octets = message + nonce + prf(Sk_px, IDx.)" "$L/a-charon.log" &&
	[ "$nkeys" -ge 7 ] &&
	! grep -q "qkd: WARNING: .* logger .* at level" "$L/a-charon.log" "$L/b-charon.log"
ok $? "charons logged at ike=3 (the most verbose level without secrets); $nkeys keys recorded"
! key_leaked "$T/injected.keys" "$L/a-charon.log" "$L/b-charon.log" "$L/a.out" "$L/b.out" &&
	! grep -Eiq '[0-9a-f]{64}' "$L/a-charon.log" "$L/b-charon.log"
ok $? "no key material in the logs (first 8 bytes of every injected key: hex, %B dump, base64)"

echo "1..$n"
exit $((failed != 0))
