#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Host test of the per-CHILD_SA policy (links.<name>.children) with two
# charons (test build: keys from files; kernel-libipsec; two netns), one
# IKE_SA with two CHILD_SAs to the same peer:
#   finance  10.1.0.1/32 === 10.2.0.1/32  rule "finance" (by name): require
#   web      10.1.0.2/32 === 10.2.0.2/32  rule "web-ts" (remote_ts): prefer
# on a link whose own policy is require (so web is relaxed by its traffic
# selector rule, and finance - also inside web-ts's subnet - stays require
# because a name rule is more specific).  Checks:
#  1. the announcement carries no REQUIRE flag (a child rule says prefer);
#  2. with keys both CHILD_SAs are created and rekeyed with a QKD key;
#  3. without keys: finance's rekey is refused (no message, old SA stays,
#     one line naming the child and the rule, counter), web's falls back to
#     X25519 alone with a warning on both sides (counter); with keys that
#     only a holds (b's copies never arrive): b refuses finance's rekey by
#     its own rule, web falls back on both sides;
#  4. a second IKE_SA without childless: web's IKE_AUTH CHILD_SA comes up
#     with a warning (prefer), finance's is refused by the responder's
#     narrow veto (one line, counter).
# Every wait polls for the state it asserts, with a deadline.
# Output: TAP.  Usage: host-test-child.sh BUILD_DIR   (needs root)
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
O=${1:?usage: $0 BUILD_DIR}
O=$(cd "$O" && pwd)
TPLUGIN=$O/test/libstrongswan-qkd.so
CHARON=/usr/lib/ipsec/charon
NS_A=qkdhc-a-$$
NS_B=qkdhc-b-$$
LIB_TAG=host-test-child
# shellcheck source=../../selftests/charon/lib.sh
. "$HERE/../../selftests/charon/lib.sh"
trap 'cleanup keep-failed' EXIT

[ -f "$TPLUGIN" ] || bail "$TPLUGIN missing (make test-plugin)"

# write_conf NAME PEER_ADDR PEER_NET
write_conf() {
	cat > "$T/$1/strongswan.conf" <<EOC
charon {
	load = random nonce openssl hmac sha2 kdf pem pkcs1 pubkey x509 socket-default vici kernel-libipsec kernel-netlink updown qkd
	accept_private_algs = yes
	install_routes = yes
	retransmit_tries = 2
	filelog {
		log {
			path = $T/$1/charon.log
			default = 1
			ike = 3
			chd = 1
			flush_line = yes
			time_format = %T
		}
	}
	plugins {
		vici { socket = unix://$T/$1/charon.vici }
		qkd {
			test_key_dir = $T/$1/keys
			# per-CHILD_SA policy on protocol v2 (next key IDs: host-test.sh 4)
			next_key_ids = no
			links {
				peer {
					link = qkdlink
					remote_addrs = $2
					policy = require
					wait_ms = 300
					children {
						finance { policy = require }
						web-ts {
							remote_ts = $3
							policy = prefer
						}
					}
				}
			}
		}
	}
}
swanctl {
	socket = unix://$T/$1/charon.vici
	load = pem pkcs1 x509 revocation constraints pubkey openssl random
}
EOC
}

# children NAME LOCAL_PREFIX REMOTE_PREFIX: the two children
children() {
	cat <<EOC
		children {
			finance {
				esp_proposals = aes256gcm16-qkd
				local_ts = $2.1/32
				remote_ts = $3.1/32
				rekey_time = 20h
				life_time = 24h
			}
			web {
				esp_proposals = aes256gcm16-qkd
				local_ts = $2.2/32
				remote_ts = $3.2/32
				rekey_time = 20h
				life_time = 24h
			}
		}
EOC
}

# swconf NAME LOCAL REMOTE LNET RNET: a has gw (childless = force) and gw2
# (CHILD_SA in IKE_AUTH), b one connection accepting both
swconf() {
	local other conns c
	other=$([ "$1" = a ] && echo b || echo a)
	conns="gw"
	[ "$1" = a ] && conns="gw gw2"
	{
		echo "connections {"
		for c in $conns; do
			cat <<EOC
	$c {
		$([ "$c" = gw ] && [ "$1" = a ] && echo "childless = force")
		local_addrs = $2
		remote_addrs = $3
		local { auth = psk
			id = gw-$1 }
		remote { auth = psk
			id = gw-$other }
		proposals = aes256-sha256-x25519
		rekey_time = 0
$(children "$1" "$4" "$5")
	}
EOC
		done
		cat <<EOC
}
secrets {
	ike-1 {
		id-a = gw-a
		id-b = gw-b
		secret = 0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL
	}
}
EOC
	} > "$T/$1/swanctl/swanctl.conf"
}

start_charon() {	# start_charon NAME NS
	ip netns exec "$2" sh -c "mount -t tmpfs tmpfs /run && exec env \
		STRONGSWAN_CONF=$T/$1/strongswan.conf LD_PRELOAD=$TPLUGIN $CHARON" \
		> "$T/$1/charon.out" 2>&1 &
	echo $! > "$T/$1.pid"
	wait_cond 5 test -S "$T/$1/charon.vici"
}

nlines() {	# nlines NAME PATTERN
	grep -c -- "$2" "$T/$1/charon.log"
}
has_lines() {	# has_lines NAME PATTERN COUNT (at least)
	[ "$(nlines "$1" "$2")" -ge "$3" ]
}
# add_keys FROM TO COUNT PREFIX: keys FROM takes as initiator, TO by ID
add_keys() {
	local i id
	for i in $(seq 1 "$3"); do
		id=$(printf '%s%030x' "$4" "$i")
		head -c 32 /dev/urandom > "$T/$1/keys/qkdlink/initiator/$id"
		cp "$T/$1/keys/qkdlink/initiator/$id" "$T/$2/keys/qkdlink/responder/$id"
	done
}
count_keys() {	# count_keys NAME ROLE
	find "$T/$1/keys/qkdlink/$2" -type f | wc -l
}
# spis NAME CHILD: "in_out" SPIs of the INSTALLED CHILD_SA CHILD of IKE gw
spis() {
	sw "$1" --list-sas --ike gw 2>/dev/null | awk -v c="$2" '
		/^  [^ ].*: #[0-9]+, reqid/ { inst = ($1 == c":" && $0 ~ /INSTALLED/) }
		inst && $1 == "in" { sub(",", "", $2); i = $2 }
		inst && $1 == "out" { sub(",", "", $2); o = $2 }
		END { if (i != "") print i "_" o }'
}
changed() {	# changed NAME CHILD OLD: the CHILD_SA has other SPIs now
	local s
	s=$(spis "$1" "$2")
	[ -n "$s" ] && [ "$s" != "$3" ]
}
qkd_sa() {	# qkd_sa NAME CHILD: CHILD is INSTALLED with the qkd method
	sw "$1" --list-sas --ike gw 2>/dev/null |
		grep -q "^  $2: #[0-9]*, reqid [0-9]*, INSTALLED, .*ESP:AES_GCM_16-256/(64242)"
}
counters() {	# counters NAME: the counter line logged at reload
	sw "$1" --reload-settings >/dev/null 2>&1
	wait_cond 5 has_lines "$1" "qkd: keys taken as initiator" "$2"
	grep "qkd: keys taken as initiator" "$T/$1/charon.log" | tail -1
}

setup_netns || bail "netns and veth setup failed"
if ! ip -n "$NS_A" addr add 10.1.0.2/32 dev lo ||
	! ip -n "$NS_B" addr add 10.2.0.2/32 dev lo; then
	bail "second inner addresses"
fi
for s in a b; do
	mkdir -p "$T/$s/swanctl" "$T/$s/keys/qkdlink/initiator" \
		"$T/$s/keys/qkdlink/responder"
done
write_conf a 192.0.2.2 10.2.0.0/16
write_conf b 192.0.2.1 10.1.0.0/16
swconf a 192.0.2.1 192.0.2.2 10.1.0 10.2.0
swconf b 192.0.2.2 192.0.2.1 10.2.0 10.1.0
add_keys a b 4 aa

start_charon a "$NS_A"
ok $? "gateway a started"
start_charon b "$NS_B"
ok $? "gateway b started"
sw a --load-all >/dev/null 2>&1 && sw b --load-all >/dev/null 2>&1
ok $? "configs loaded (links with child rules accepted)"
grep -q "qkd: loaded 1 link," "$T/a/charon.log" && grep -q "qkd: loaded 1 link," "$T/b/charon.log"
ok $? "both load their link with its two child rules"

# --- 1./2. both CHILD_SAs QKD-keyed (childless = force: CREATE_CHILD_SA)
sw a --initiate --ike gw --child finance > "$T/init-finance.out" 2>&1
ok $? "finance up (childless IKE_SA, then CREATE_CHILD_SA)"
sw a --initiate --ike gw --child web > "$T/init-web.out" 2>&1
ok $? "web up on the same IKE_SA"
[ "$(sw a --list-sas --ike gw 2>/dev/null | grep -c '^gw: #')" = 1 ]
ok $? "one IKE_SA carries both"
grep -q "announced qkd protocol v2, a link for us; CHILD_SAs are keyed with QKD" "$T/a/charon.log" &&
	! grep -q "announced qkd protocol v2, a link for us, require" "$T/a/charon.log" &&
	! grep -q "announced qkd protocol v2, a link for us, require" "$T/b/charon.log"
ok $? "link require with a prefer child rule: announced without REQUIRE (both sides)"
qkd_sa a finance && qkd_sa a web && qkd_sa b finance && qkd_sa b web
ok $? "finance and web INSTALLED with ESP:AES_GCM_16-256/(64242) on both sides"
wait_cond 5 has_lines a "qkd: CHILD_SA finance{[0-9]*} keyed with a QKD key" 1 &&
	wait_cond 5 has_lines a "qkd: CHILD_SA web{[0-9]*} keyed with a QKD key" 1 &&
	wait_cond 5 has_lines b "qkd: CHILD_SA finance{[0-9]*} keyed with a QKD key" 1 &&
	wait_cond 5 has_lines b "qkd: CHILD_SA web{[0-9]*} keyed with a QKD key" 1
ok $? "both sides: finance and web keyed with a QKD key"
[ "$(count_keys a initiator)" = 2 ] && [ "$(count_keys b responder)" = 2 ]
ok $? "exactly one key per CHILD_SA per side"
grep -q "usage CHILD_SA finance" "$T/a/keys/qkdlink/audit.log" &&
	grep -q "usage CHILD_SA web" "$T/a/keys/qkdlink/audit.log" &&
	grep -q "usage CHILD_SA finance" "$T/b/keys/qkdlink/audit.log" &&
	grep -q "usage CHILD_SA web" "$T/b/keys/qkdlink/audit.log"
ok $? "audit annotations name each CHILD_SA on both sides"
grep -q "qkd: key exchange for .*CHILD_SA finance{[0-9]*}, child rule 'finance' of link 'peer' (by name): policy require" "$T/a/charon.log" &&
	grep -q "qkd: key exchange for .*CHILD_SA web{[0-9]*}, child rule 'web-ts' of link 'peer' (by traffic selectors): policy prefer" "$T/a/charon.log" &&
	grep -q "qkd: key exchange for .*CHILD_SA finance{[0-9]*}, child rule 'finance' of link 'peer' (by name): policy require" "$T/b/charon.log" &&
	grep -q "qkd: key exchange for .*CHILD_SA web{[0-9]*}, child rule 'web-ts' of link 'peer' (by traffic selectors): policy prefer" "$T/b/charon.log"
ok $? "each key exchange bound to its CHILD_SA's rule (initiator and responder)"

f1=$(spis a finance); w1=$(spis a web)
sw a --rekey --ike gw --child finance >/dev/null 2>&1
wait_cond 10 changed a finance "$f1"
ok $? "rekey of finance with a key: SPIs changed"
sw a --rekey --ike gw --child web >/dev/null 2>&1
wait_cond 10 changed a web "$w1"
ok $? "rekey of web with a key: SPIs changed"
wait_cond 5 has_lines a "qkd: CHILD_SA finance{[0-9]*} keyed with a QKD key" 2 &&
	wait_cond 5 has_lines a "qkd: CHILD_SA web{[0-9]*} keyed with a QKD key" 2 &&
	qkd_sa a finance && qkd_sa a web
ok $? "both rekeys QKD-keyed"
[ "$(count_keys a initiator)" = 0 ] && [ "$(count_keys b responder)" = 0 ]
ok $? "one key per rekey per side: pool now empty"

# --- 3. no keys: finance refuses, web falls back
f2=$(spis a finance); w2=$(spis a web)
fb2=$(spis b finance)
sw a --rekey --ike gw --child finance >/dev/null 2>&1
wait_cond 10 has_lines a "for gw\[[0-9]*\] .*CHILD_SA finance{[0-9]*}, child rule 'finance' of link 'peer' (by name): policy require, refusing the key exchange" 1
ok $? "finance, empty pool: refused with one line naming the child and its rule"
[ "$(nlines a "CHILD_SA finance{[0-9]*}, child rule 'finance' of link 'peer' (by name): policy require, refusing the key exchange")" = 1 ]
ok $? "exactly one refusal line"
grep -q "CHILD_SA rekeying failed, trying again in" "$T/a/charon.log"
ok $? "strongSwan schedules a retry (each attempt is refused the same way)"
c=$(counters a 1)
nref=$(nlines a "policy require, refusing the key exchange")
echo "$c" | grep -q "keys taken as initiator 4, as responder 0, X25519-only fallbacks 0, refused $nref," &&
	[ "$nref" -ge 1 ]
ok $? "a's counters: one refusal per refused attempt ($nref), no fallback ($c)"
[ "$(spis a finance)" = "$f2" ] && [ "$(spis b finance)" = "$fb2" ] && qkd_sa a finance
ok $? "finance: the old QKD-keyed SA stays on both sides"
! grep -q "CHILD_SA finance{[0-9]*}.*falling back" "$T/a/charon.log" "$T/b/charon.log"
ok $? "finance never falls back, on either side"

sw a --rekey --ike gw --child web >/dev/null 2>&1
wait_cond 10 changed a web "$w2"
ok $? "web, empty pool: rekey succeeds (X25519 alone)"
[ "$(nlines a "WARNING: no QKD key from link 'qkdlink': .* for gw\[[0-9]*\] .*CHILD_SA web{[0-9]*}, child rule 'web-ts' of link 'peer' (by traffic selectors): policy prefer, falling back to X25519 alone (fallback #1;")" = 1 ]
ok $? "a warns once, naming web and rule web-ts (fallback #1)"
wait_cond 5 has_lines b "WARNING: peer sent no QKD key ID (it had no key) for .*CHILD_SA web{[0-9]*}, child rule 'web-ts' of link 'peer' (by traffic selectors): policy prefer, falling back" 1
ok $? "b (responder) warns too, naming web and its rule"
c=$(counters a 2)
nref=$(nlines a "policy require, refusing the key exchange")
echo "$c" | grep -q "X25519-only fallbacks 1, refused $nref,"
ok $? "a's counters: fallbacks 1, refused $nref ($c)"
c=$(counters b 1)
echo "$c" | grep -q "keys taken as initiator 0, as responder 4, X25519-only fallbacks 1, refused 0,"
ok $? "b's counters: fallbacks 1, refused 0 ($c)"
[ "$(spis a finance)" = "$f2" ] && qkd_sa a finance
ok $? "finance still on its QKD-keyed SA"

# --- 3b. a has keys, b never gets their copies (responder side): finance
# refused by b's own rule, web falls back on both sides (spare keys: a
# retry of step 3's finance rekey may take one and is refused the same way)
for i in 1 2 3 4; do
	head -c 32 /dev/urandom > "$T/a/keys/qkdlink/initiator/$(printf 'ab%030x' "$i")"
done
f3=$(spis a finance); fb3=$(spis b finance); w3=$(spis a web)
sw a --rekey --ike gw --child web >/dev/null 2>&1
wait_cond 10 changed a web "$w3"
ok $? "3b: web rekeyed although b could not get the key (prefer on both sides)"
wait_cond 5 has_lines b "WARNING: could not get QKD key ab000000-.* for gw\[[0-9]*\] .*CHILD_SA web{[0-9]*}, child rule 'web-ts' of link 'peer' (by traffic selectors): policy prefer, falling back to X25519 alone" 1 &&
	wait_cond 5 has_lines a "WARNING: peer could not get QKD key ab000000-.* for gw\[[0-9]*\] .*CHILD_SA web{[0-9]*}, child rule 'web-ts' of link 'peer' (by traffic selectors): policy prefer, falling back to X25519 alone" 1
ok $? "3b: b (responder) and a warn, naming web and its rule"
sw a --rekey --ike gw --child finance >/dev/null 2>&1
wait_cond 10 has_lines b "could not get QKD key ab000000-.* for gw\[[0-9]*\] .*CHILD_SA finance{[0-9]*}, child rule 'finance' of link 'peer' (by name): policy require, refusing the key exchange" 1
ok $? "3b: b refuses finance's rekey by its own rule (one line naming child and rule)"
wait_cond 5 has_lines a "CHILD_SA rekeying failed, trying again in" 2
ok $? "3b: a's rekey failed (strongSwan schedules a retry)"
[ "$(spis a finance)" = "$f3" ] && [ "$(spis b finance)" = "$fb3" ] && qkd_sa a finance && qkd_sa b finance
ok $? "3b: finance keeps its old QKD-keyed SA on both sides"
! grep -q "CHILD_SA finance{[0-9]*}.*falling back" "$T/a/charon.log" "$T/b/charon.log"
ok $? "3b: finance never fell back"

# --- 4. CHILD_SAs in IKE_AUTH (no key exchange): web allowed with a
# warning, finance refused by the responder
sw a --initiate --ike gw2 --child web > "$T/init-gw2-web.out" 2>&1
ok $? "gw2: web in IKE_AUTH comes up (prefer)"
grep -q "WARNING: CHILD_SA web{[0-9]*} with gw2\[[0-9]*\] .*keyed without QKD (no key exchange (created in IKE_AUTH, or a proposal without PFS)): policy prefer (classical CHILD_SA #1; not quantum-safe); policy set by child rule 'web-ts' of link 'peer' (by traffic selectors)" "$T/a/charon.log"
ok $? "a warns: web keyed without QKD, prefer from rule web-ts (classical #1)"
wait_cond 5 has_lines b "WARNING: CHILD_SA web{[0-9]*} with gw\[[0-9]*\] .*keyed without QKD .*policy prefer (classical CHILD_SA #1; .*policy set by child rule 'web-ts'" 1
ok $? "b warns too"
sw a --terminate --ike gw2 >/dev/null 2>&1
ok $? "gw2 terminated"
! sw a --initiate --ike gw2 --child finance > "$T/init-gw2-finance.out" 2>&1
ok $? "gw2: finance in IKE_AUTH is refused (swanctl fails)"
[ "$(nlines b "qkd: refusing CHILD_SA finance{[0-9]*} with gw\[[0-9]*\] (gw-a): policy require and it would be keyed without QKD (no key exchange.*policy set by child rule 'finance' of link 'peer' (by name)$")" = 1 ]
ok $? "b refuses it in narrow with one line naming finance and its rule"
c=$(counters b 2)
echo "$c" | grep -q "classical CHILD_SAs (prefer) 1, CHILD_SAs refused (require) 1"
ok $? "b's counters: classical 1 (web), refused 1 (finance) ($c)"
[ "$(sw a --list-sas 2>/dev/null | grep -c '^  finance: #.*INSTALLED')" = 1 ] &&
	[ "$(sw b --list-sas 2>/dev/null | grep -c '^  finance: #.*INSTALLED')" = 1 ] &&
	[ "$(sw b --list-sas 2>/dev/null | grep -c '^  finance: #.*INSTALLED.*ESP:AES_GCM_16-256/(64242)')" = 1 ]
ok $? "no classical finance SA on either side (only gw's QKD-keyed one)"
[ "$(spis a finance)" = "$f2" ] && qkd_sa a finance
ok $? "gw's finance still on its QKD-keyed SA"

! grep -q "qkd: ERROR" "$T/a/charon.log" "$T/b/charon.log"
ok $? "no 'installed despite require' error on either side"

echo "1..$n"
exit $((failed != 0))
