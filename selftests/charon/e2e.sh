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
# (a's initiator keys are b's responder keys and vice versa).  Checks: the
# first CHILD_SA is rekeyed at once with a QKD key; rekeys from both sides
# take exactly one key per side and change the SPIs; ESP packets are
# counted by `ip -s xfrm state` on the SA the module's audit names; the
# responder waits for a key that arrives late; require with an empty pool
# keeps the old SA; logs at ike=3 contain no trace of any injected key.
# Output: TAP.
#
# Environment: QKD_KO (default kmod/qkd.ko), QKD_CLI (selftests/kmod/qkd-cli),
# QKD_PLUGIN (build/charon-plugin/libstrongswan-qkd.so), KEEP=1.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
QKD_KO=${QKD_KO:-$REPO/kmod/qkd.ko}
QKD_CLI=${QKD_CLI:-$REPO/selftests/kmod/qkd-cli}
QKD_PLUGIN=${QKD_PLUGIN:-$REPO/build/charon-plugin/libstrongswan-qkd.so}
PATH=$PATH:/usr/sbin:/sbin
T=$(mktemp -d /tmp/qkd-charon-e2e.XXXXXX)
RES=${QKD_VM_RESULTS:-}
# charon logs and command outputs (in the results share inside the guest,
# so they survive a timeout)
L=$T
if [ -n "$RES" ] && [ -d "$RES" ]; then
	L=$RES/charon-e2e
	mkdir -p "$L"
fi
NS_A=qkde2e-a
NS_B=qkde2e-b
n=0
failed=0

ok() {	# ok STATUS NAME
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
bail() {
	echo "Bail out! $*"
	exit 1
}
cleanup() {
	local p
	for p in "$T"/*.pid; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	sleep 1
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

cli() {	# cli NAME ARGS...
	local ns=$NS_A
	[ "$1" = b ] && ns=$NS_B
	shift
	ip netns exec "$ns" "$QKD_CLI" "$@"
}
sw() {	# sw NAME swanctl-args...
	local name=$1 ns=$NS_A
	[ "$name" = b ] && ns=$NS_B
	shift
	timeout 150 ip netns exec "$ns" env STRONGSWAN_CONF="$T/$name/strongswan.conf" \
		SWANCTL_DIR="$T/$name/swanctl" swanctl "$@"
}
stat_of() {	# stat_of NAME COUNTER
	cli "$1" stats peer > "$L/stats-$1.out" 2>&1
	awk -v k="$2" '$1 == k { print $2 }' "$L/stats-$1.out"
}
# in/out SPIs of the CHILD_SA in state INSTALLED, as "in out"
child_spis() {
	sw "$1" --list-sas 2>/dev/null | awk '
		/^  [^ ].*: #[0-9]+, reqid/ { inst = ($0 ~ /INSTALLED/) }
		inst && $1 == "in" { sub(",", "", $2); i = $2 }
		inst && $1 == "out" { sub(",", "", $2); o = $2 }
		END { if (i != "") print i, o }'
}
# packets counted by the kernel on the SA with that SPI
xfrm_packets() {	# xfrm_packets NAME SPI
	local ns=$NS_A
	[ "$1" = b ] && ns=$NS_B
	ip -n "$ns" -s xfrm state | awk -v spi="0x$2" '
		$1 == "proto" && $2 == "esp" { s = $4; sub(/\(.*/, "", s); cur = (s == spi) }
		cur && /\(bytes\),/ && /\(packets\)/ { for (i = 1; i <= NF; i++) if ($i ~ /\(packets\)/) { split($i, a, "("); print a[1] + 0; exit } }'
}
ping_ok() {
	ip netns exec "$NS_A" busybox ping -c "${1:-3}" -W 3 -I 10.1.0.1 10.2.0.1 \
		>> "$L/ping.out" 2>&1
}
wait_log() {	# wait_log NAME PATTERN COUNT TIMEOUT_S
	local i
	for i in $(seq $(($4 * 10))); do
		[ "$(grep -c -- "$2" "$L/$1-charon.log")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

[ "$(id -u)" = 0 ] || bail "needs root"
[ -f "$QKD_KO" ] || bail "$QKD_KO missing"
[ -x "$QKD_CLI" ] || bail "$QKD_CLI missing (make -C selftests/kmod qkd-cli)"
[ -f "$QKD_PLUGIN" ] || bail "$QKD_PLUGIN missing (make -C charon-plugin)"
[ -f /proc/modules ] || bail "no module support (run in the guest: selftests/vm/run)"

# ---------------------------------------------------------------- setup
grep -q '^qkd ' /proc/modules || insmod "$QKD_KO" || bail "insmod $QKD_KO"
modprobe -a veth xfrm_user esp4 xfrm4_tunnel tunnel4 2>/dev/null
# the plugin goes where Debian's charon looks for it (guest overlay only)
install -m 0644 "$QKD_PLUGIN" /usr/lib/ipsec/plugins/libstrongswan-qkd.so ||
	bail "installing the plugin"

# the first GCM SA loads and self-tests the crypto modules, which takes
# seconds under TCG: do it before IKE runs into retransmits
ip netns add qkde2e-warm
ip -n qkde2e-warm xfrm state add src 192.0.2.9 dst 192.0.2.8 proto esp \
	spi 0x100 reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' \
	0x0101010101010101010101010101010101010101010101010101010101010101deadbeef 128 \
	> /dev/null 2>&1 || echo "# warm-up GCM SA failed"
ip netns del qkde2e-warm

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add qkdva netns "$NS_A" type veth peer name qkdvb netns "$NS_B"
ip -n "$NS_A" addr add 192.0.2.1/24 dev qkdva
ip -n "$NS_B" addr add 192.0.2.2/24 dev qkdvb
for ns in "$NS_A" "$NS_B"; do
	ip -n "$ns" link set lo up
done
ip -n "$NS_A" link set qkdva up
ip -n "$NS_B" link set qkdvb up
ip -n "$NS_A" addr add 10.1.0.1/32 dev lo
ip -n "$NS_B" addr add 10.2.0.1/32 dev lo

# CA and gateway certificates (ECDSA: fast under TCG)
mkdir -p "$T/pki"
(
	cd "$T/pki" || exit 1
	pki --gen --type ecdsa --size 256 --outform pem > ca.key &&
	pki --self --ca --lifetime 30 --in ca.key --type ecdsa \
		--dn "C=CH, O=qkd-test, CN=qkd test CA" --outform pem > ca.crt &&
	for g in a b; do
		pki --gen --type ecdsa --size 256 --outform pem > $g.key &&
		pki --pub --in $g.key --type ecdsa |
		pki --issue --lifetime 30 --cacert ca.crt --cakey ca.key \
			--dn "C=CH, O=qkd-test, CN=gw-$g" --san "gw-$g" \
			--outform pem > $g.crt || exit 1
	done
) > "$L/pki.out" 2>&1
ok $? "pki: CA and gateway certificates"

write_conf() {	# write_conf NAME POLICY EXTRA
	local name=$1 other=b
	[ "$name" = b ] && other=a
	cat > "$T/$name/strongswan.conf" <<EOC
charon {
	load = random nonce openssl hmac sha2 kdf pem pkcs1 pkcs8 pubkey x509 revocation constraints socket-default vici kernel-netlink updown qkd
	accept_private_algs = yes
	retransmit_tries = 4
	retransmit_timeout = 4
	filelog {
		log {
			path = $L/$name-charon.log
			default = 1
			ike = 3
			flush_line = yes
			time_format = %T
		}
	}
	plugins {
		vici { socket = unix://$T/$name/charon.vici }
		qkd {
			${3:-}
			links {
				to-$other {
					link = peer
					remote_id = "C=CH, O=qkd-test, CN=gw-$other"
					policy = $2
					wait_ms = 8000
				}
			}
		}
	}
}
swanctl {
	socket = unix://$T/$name/charon.vici
	load = pem pkcs1 pkcs8 x509 revocation constraints pubkey openssl random
}
EOC
}

for g in a b; do
	o=b; l=192.0.2.1; r=192.0.2.2; lts=10.1.0.1/32; rts=10.2.0.1/32
	[ $g = b ] && { o=a; l=192.0.2.2; r=192.0.2.1; lts=10.2.0.1/32; rts=10.1.0.1/32; }
	mkdir -p "$T/$g/swanctl/x509ca" "$T/$g/swanctl/x509" "$T/$g/swanctl/ecdsa"
	cp "$T/pki/ca.crt" "$T/$g/swanctl/x509ca/"
	cp "$T/pki/$g.crt" "$T/$g/swanctl/x509/"
	cp "$T/pki/$g.key" "$T/$g/swanctl/ecdsa/"
	cat > "$T/$g/swanctl/swanctl.conf" <<EOC
connections {
	gw {
		local_addrs = $l
		remote_addrs = $r
		local {
			auth = pubkey
			certs = $g.crt
			id = "C=CH, O=qkd-test, CN=gw-$g"
		}
		remote {
			auth = pubkey
			id = "C=CH, O=qkd-test, CN=gw-$o"
		}
		children {
			net {
				mode = tunnel
				esp_proposals = aes256gcm16-qkd
				local_ts = $lts
				remote_ts = $rts
				# no automatic rekeys during the test (rekey_time = 0 with a
				# life_time makes the kernel's soft expiry fire at once)
				rekey_time = 20h
				life_time = 24h
			}
		}
		proposals = aes256-sha256-x25519
		rekey_time = 0
	}
}
EOC
done
write_conf a require "rekey_first_child = yes"
write_conf b require

# module links and identical keys: a's initiator keys are b's responder keys
cli a link-add peer sae-a sae-b && cli b link-add peer sae-b sae-a
ok $? "module links created in both namespaces"
# first 8 bytes (hex) of every key injected, for the key-in-logs check
KEYPFX=$T/key-prefixes
: > "$KEYPFX"
keyline() {	# a random 32 byte key as hex; its start is recorded
	local k
	k=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	echo "${k:0:16}" >> "$KEYPFX"
	echo "$k"
}
# key_leaked FILES...: succeeds if the start of any injected key appears as
# contiguous hex, as strongSwan's %B dump ("AA BB CC ..."), or in base64
# (every 3-byte alignment)
key_leaked() {
	local p a pat=$T/key-patterns
	: > "$pat"
	while read -r p; do
		[ -n "$p" ] || continue
		echo "$p" >> "$pat"
		echo "$p" | sed 's/../& /g; s/ $//' >> "$pat"
		for a in 0 1 2; do
			printf '%s' "${p:$((2 * a)):12}" | xxd -r -p | base64 >> "$pat"
		done
	done < "$KEYPFX"
	[ -s "$pat" ] && grep -Fiq -f "$pat" "$@"
}
inject() {	# inject FROM TO PREFIX COUNT: keys FROM takes as initiator
	local from=$1 to=$2 i id k
	: > "$T/inj-$from" ; : > "$T/inj-$to"
	for i in $(seq 1 "$4"); do
		id=$(printf '%s%030x' "$3" "$i")
		k=$(keyline)
		echo "initiator $id $k" >> "$T/inj-$from"
		echo "responder $id $k" >> "$T/inj-$to"
	done
	cli "$from" inject peer < "$T/inj-$from" >/dev/null &&
		cli "$to" inject peer < "$T/inj-$to" >/dev/null
	local rc=$?
	rm -f "$T/inj-$from" "$T/inj-$to"
	return $rc
}
inject a b aa 2 && inject b a bb 1
ok $? "identical keys injected (2 a->b, 1 b->a: exactly what the rekeys use)"

start_charon() {	# start_charon NAME NS
	ip netns exec "$2" sh -c "mount -t tmpfs tmpfs /run && exec env \
		STRONGSWAN_CONF=$T/$1/strongswan.conf /usr/lib/ipsec/charon" \
		> "$L/$1.out" 2>&1 &
	echo $! > "$T/$1.pid"
	for _ in $(seq 150); do
		[ -S "$T/$1/charon.vici" ] && return 0
		sleep 0.1
	done
	return 1
}
start_charon a "$NS_A" && start_charon b "$NS_B"
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
ok $? "first CHILD_SA rekeyed at once and keyed with a QKD key on both sides"
grep -q "uses link 'to-b' (module link 'peer', matched by identity" "$L/a-charon.log"
ok $? "link found by certificate identity"
sleep 1
[ "$(stat_of a taken)" = 1 ] && [ "$(stat_of b taken)" = 1 ]
ok $? "exactly one key taken per side (module counters)"

read -r in1 out1 <<< "$(child_spis a)"
ping_ok 5
ip -n "$NS_A" -s xfrm state | grep -Ev '^\s*(aead|enc|auth|auth-trunc) ' > "$L/xfrm-a-1.out" 2>&1
ok $? "ping through the tunnel"
p=$(xfrm_packets a "$out1")
[ -n "$p" ] && [ "$p" -ge 5 ]
ok $? "kernel ESP SA out $out1 counted $p packets (ip -s xfrm state)"
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
ping_ok 3
p=$(xfrm_packets a "$out2")
[ -n "$p" ] && [ "$p" -ge 3 ]
ok $? "ESP on the new SA out $out2: $p packets"

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
ping_ok 3
p=$(xfrm_packets a "$out3")
[ -n "$p" ] && [ "$p" -ge 3 ]
ok $? "ESP on the SA keyed by b's key: $p packets"

# ---------------------------------------------------------------- late key
# a's next key reaches b only 1.5 s after a took it: b's take blocks
id=$(printf 'cc%030x' 1)
k=$(keyline)
echo "initiator $id $k" | cli a inject peer
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
echo "responder $id $k" | cli b inject peer
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

# mismatching material: confirmation fails on a, old SA stays
id=$(printf 'dd%030x' 1)
echo "initiator $id $(keyline)" | cli a inject peer
echo "responder $id $(keyline)" | cli b inject peer
sw a --rekey --child net > "$L/rekey-mismatch.out" 2>&1
sleep 2
grep -q "key confirmation FAILED for key dd000000" "$L/a-charon.log"
ok $? "different key material: key confirmation fails"
read -r in6 out6 <<< "$(child_spis a)"
[ "$in6" = "$in4" ]
ok $? "after the failed confirmation the old SA stays"
ping_ok 3
ok $? "traffic still flows"

# ---------------------------------------------------------------- prefer
# module gone: prefer falls back to X25519 alone, then QKD resumes
write_conf a prefer "rekey_first_child = yes"
write_conf b prefer
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
	ping_ok 3
	p=$(xfrm_packets a "$out7")
	[ -n "$p" ] && [ "$p" -ge 3 ]
	ok $? "prefer fallback SA carries ESP ($p packets)"
	insmod "$QKD_KO" && cli a link-add peer sae-a sae-b && cli b link-add peer sae-b sae-a &&
		inject a b ee 1
	ok $? "module back, links and keys restored"
	sw a --rekey --child net > "$L/rekey-back.out" 2>&1
	wait_log a "took key ee000000" 1 30 && wait_log a "keyed with a QKD key" 5 30
	ok $? "QKD resumes with the next rekey"
	sleep 1
	read -r in8 out8 <<< "$(child_spis a)"
	ping_ok 3
	p=$(xfrm_packets a "$out8")
	[ -n "$p" ] && [ "$p" -ge 3 ] && [ "$in8" != "$in7" ]
	ok $? "ESP on the QKD-keyed SA after the module came back ($p packets)"
else
	ok 1 "rmmod qkd failed: $(cat "$L/rmmod.out")"
fi

sw a --terminate --ike gw > /dev/null 2>&1
grep -E "qkd: keys taken" "$L/a-charon.log" "$L/b-charon.log" | sed 's/^/# /'
grep -q "^[0-9:]* [0-9]*\[IKE\] octets = message + nonce + prf(Sk_px, IDx.)" "$L/a-charon.log" &&
	[ "$(wc -l < "$KEYPFX")" -ge 7 ] &&
	! grep -q "qkd: WARNING: .* logger .* at level" "$L/a-charon.log" "$L/b-charon.log"
ok $? "charons logged at ike=3 (the most verbose level without secrets); $(wc -l < "$KEYPFX") keys recorded"
! key_leaked "$L/a-charon.log" "$L/b-charon.log" "$L/a.out" "$L/b.out" &&
	! grep -Eiq '[0-9a-f]{64}' "$L/a-charon.log" "$L/b-charon.log"
ok $? "no key material in the logs (first 8 bytes of every injected key: hex, %B dump, base64)"

echo "1..$n"
exit $((failed != 0))
