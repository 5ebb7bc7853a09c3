#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Host tests of the qkd charon plugin with Debian's charon, no kernel module
# needed:
#  1. the production plugin loads, swanctl --list-algs shows the method and
#     swanctl accepts esp_proposals = aes256gcm16-qkd;
#  2. with the TEST build (keys from files) two charons in two netns, ESP in
#     userspace (kernel-libipsec): first CHILD_SA rekeyed at once, rekeys
#     from both sides take exactly one key per side, SPIs change, traffic
#     flows (so both sides derived the same keys), audit annotations carry
#     the SPIs; key confirmation mismatch keeps the old SA; prefer falls back
#     to X25519 (and resumes); require refuses; IKE_SA_INIT with qkd (link by
#     address);
#  3. protocol v2: a plain charon peer (plugin not loaded) with our side
#     rekeying first right after IKE_AUTH and both sides later: classical,
#     no failed exchange, IKE_SA kept, no key taken; require with it: our
#     rekey refused without a message, its rekey and the IKE_AUTH CHILD_SA
#     refused (the peer's SA deleted at once); a v1 build of this project
#     (git archive of V1_REV) both ways under prefer and require; two v2
#     gateways under require: the IKE_AUTH CHILD_SA refused, childless =
#     force QKD-keys the first CHILD_SA; an announced peer that selects a
#     classical group refuses it itself (require announced).
#  4. protocol v3 (next key IDs): reserved, announced, asked for ahead,
#     taken by ID, a flushed reservation (the oldest instead), released
#     when the IKE_SA goes; a v3 and a v2 build of this project (git
#     archive of V2_REV) both ways: v2, unchanged.  Sections 2 and 3 run
#     with next_key_ids = no (protocol v2 between two builds of this one).
# Output: TAP.  Usage: host-test.sh BUILD_DIR   (needs root)
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
O=${1:?usage: $0 BUILD_DIR}
O=$(cd "$O" && pwd)
PLUGIN=$O/libstrongswan-qkd.so
TPLUGIN=$O/test/libstrongswan-qkd.so
CHARON=/usr/lib/ipsec/charon
NS_A=qkdht-a-$$
NS_B=qkdht-b-$$
LIB_TAG=host-test
# TAP (ok, bail), cleanup, sw, setup_netns and key_leaked from the guest
# tests' library; write_conf, start_charon and ping_ok below replace
# lib.sh's (kernel-libipsec, keys from files, LD_PRELOAD of the build)
# shellcheck source=../../selftests/charon/lib.sh
. "$HERE/../../selftests/charon/lib.sh"
# logs are kept when a test failed (or with KEEP=1)
trap 'cleanup keep-failed' EXIT

# write_conf NAME POLICY_A [extra qkd options [ike log level [log file]]]
# ike=3 by default: the most verbose level at which strongSwan does not log
# secrets (level 4 logs the shared secret, which contains the QKD key)
# CONF_PLUGIN=no: a plain charon (the qkd plugin not loaded, private
# algorithms refused, as Debian's default)
write_conf() {
	local name=$1 policy=$2 extra=${3:-} ikelevel=${4:-3}
	local logpath=${5:-$T/$name/charon.log} plugin=qkd priv=yes
	[ "${CONF_PLUGIN:-yes}" = no ] && { plugin=; priv=no; }
	cat > "$T/$name/strongswan.conf" <<EOC
charon {
	load = random nonce openssl hmac sha2 kdf pem pkcs1 pubkey x509 socket-default vici kernel-libipsec kernel-netlink updown $plugin
	accept_private_algs = $priv
	install_routes = yes
	retransmit_tries = 2
	filelog {
		log {
			path = $logpath
			default = 1
			ike = $ikelevel
			chd = $( [ "$ikelevel" -ge 4 ] && echo 4 || echo 1 )
			flush_line = yes
			time_format = %T
		}
	}
	plugins {
		vici { socket = unix://$T/$name/charon.vici }
		qkd {
			test_key_dir = $T/$name/keys
			# sections 2 and 3 test protocol v2 (no next key IDs); 4 v3
			next_key_ids = ${HT_NEXT:-no}
			$extra
			links {
				peer {
					link = qkdlink
					remote_addrs = $( [ "$name" = a ] && echo 192.0.2.2 || echo 192.0.2.1 )
					policy = $policy
					wait_ms = 300
				}
			}
		}
	}
}
swanctl {
	socket = unix://$T/$name/charon.vici
	load = pem pkcs1 x509 revocation constraints pubkey openssl random
}
EOC
}

start_charon() {	# start_charon NAME NS PLUGIN
	local name=$1 ns=$2 so=$3
	ip netns exec "$ns" sh -c "mount -t tmpfs tmpfs /run && exec env \
		STRONGSWAN_CONF=$T/$name/strongswan.conf LD_PRELOAD=$so $CHARON" \
		> "$T/$name/charon.out" 2>&1 &
	echo $! > "$T/$name.pid"
	for _ in $(seq 50); do
		[ -S "$T/$name/charon.vici" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------------------
# 1. production plugin: loads, method listed, proposal accepted
mkdir -p "$T/p/swanctl"
write_conf p require
sed -i 's/ kernel-libipsec//' "$T/p/strongswan.conf"
cat > "$T/p/swanctl/swanctl.conf" <<'EOC'
connections {
	gw {
		remote_addrs = 192.0.2.2
		local { auth = psk }
		remote { auth = psk }
		children {
			net {
				esp_proposals = aes256gcm16-qkd
				local_ts = 10.1.0.0/24
				remote_ts = 10.2.0.0/24
			}
		}
		proposals = aes256-sha256-qkd
	}
}
EOC
ip netns add "$NS_A"
ip netns add "$NS_B"
start_charon p "$NS_A" "$PLUGIN"
ok $? "production plugin: charon started"
sleep 0.5
grep -q "loaded plugins: .* qkd" "$T/p/charon.log"
ok $? "production plugin: charon log lists qkd among loaded plugins"
grep -q "qkd: key exchange method 64242 .* keys from kernel module" "$T/p/charon.log"
ok $? "production plugin: key source is the kernel module"
sw p --list-algs 2>/dev/null | grep -q '(64242)\[qkd\]'
ok $? "swanctl --list-algs shows the qkd KE method (64242)[qkd]"
sw p --load-conns 2>&1 | grep -q "successfully loaded 1 connections, 0 unloaded"
ok $? "swanctl accepts esp_proposals = aes256gcm16-qkd and proposals = aes256-sha256-qkd"
sed -i 's/aes256gcm16-qkd/aes256gcm16-qkdx/' "$T/p/swanctl/swanctl.conf"
! sw p --load-conns > "$T/p/load-bad.out" 2>&1 && grep -q "invalid value for: esp_proposals" "$T/p/load-bad.out"
ok $? "negative control: swanctl rejects esp_proposals = aes256gcm16-qkdx"
kill "$(cat "$T/p.pid")"
rm -f "$T/p.pid"
sleep 0.5

# installed layout with Debian's own /etc/strongswan.conf (load_modular):
# overlay the plugin and qkd.conf onto /usr/lib/ipsec/plugins and
# /etc/strongswan.d/charon in a private mount namespace (host untouched)
mkdir -p "$T/inst/plugins" "$T/inst/conf"
cp "$PLUGIN" "$T/inst/plugins/libstrongswan-qkd.so"
cp "$HERE/../qkd.conf" "$T/inst/conf/qkd.conf"
ip netns exec "$NS_B" sh -c "mount -t tmpfs tmpfs /run &&
	mount -t overlay overlay -o lowerdir=$T/inst/plugins:/usr/lib/ipsec/plugins /usr/lib/ipsec/plugins &&
	mount -t overlay overlay -o lowerdir=$T/inst/conf:/etc/strongswan.d/charon /etc/strongswan.d/charon &&
	(/usr/lib/ipsec/charon > $T/inst/charon.out 2>&1 &) &&
	for i in \$(seq 50); do [ -S /run/charon.vici ] && break; sleep 0.1; done &&
	swanctl --list-algs > $T/inst/algs.out 2>/dev/null;
	swanctl --stats > $T/inst/stats.out 2>/dev/null;
	kill \$(cat /run/charon.pid)"
grep -q "^loaded plugins: .* qkd" "$T/inst/stats.out" && grep -q '(64242)\[qkd\]' "$T/inst/algs.out"
ok $? "installed as /usr/lib/ipsec/plugins/libstrongswan-qkd.so + strongswan.d/charon/qkd.conf: Debian's default config loads it"
sleep 0.5

# ipsec.conf through starter/stroke: esp = aes256gcm16-qkd! is accepted
mkdir -p "$T/st"
cat > "$T/st/ipsec.conf" <<'EOC'
conn gw
	left=192.0.2.1
	right=192.0.2.2
	leftsubnet=10.1.0.0/24
	rightsubnet=10.2.0.0/24
	authby=psk
	keyexchange=ikev2
	ike=aes256-sha256-x25519!
	esp=aes256gcm16-qkd!
	auto=add
EOC
cp "$T/st/ipsec.conf" "$T/st/ipsec.conf.good"
sed -i 's/aes256gcm16-qkd!/aes256gcm16-qkdx!/' "$T/st/ipsec.conf" && cp "$T/st/ipsec.conf" "$T/st/ipsec.conf.bad"
cp "$T/st/ipsec.conf.good" "$T/st/ipsec.conf"
cat > "$T/st/strongswan.conf" <<EOC
charon {
	load = random nonce openssl hmac sha2 kdf pem pkcs1 pubkey x509 socket-default stroke kernel-netlink updown qkd
	accept_private_algs = yes
	filelog { log { path = $T/st/charon.log
		default = 1
		flush_line = yes } }
}
EOC
ip netns exec "$NS_A" sh -c "mount -t tmpfs tmpfs /run && mount --bind $T/st/ipsec.conf /etc/ipsec.conf && \
	exec env STRONGSWAN_CONF=$T/st/strongswan.conf LD_LIBRARY_PATH=/usr/lib/ipsec \
	LD_PRELOAD=$PLUGIN /usr/lib/ipsec/starter --nofork" > "$T/st/starter.out" 2>&1 &
echo $! > "$T/starter.pid"
for _ in $(seq 50); do
	grep -q "added configuration 'gw'" "$T/st/charon.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "added configuration 'gw'" "$T/st/charon.log" &&
	! grep -q "invalid proposal" "$T/st/charon.log"
ok $? "ipsec.conf: starter/stroke accept esp = aes256gcm16-qkd!"
# negative control: rewrite in place (the bind mount keeps the inode)
cat "$T/st/ipsec.conf.bad" > "$T/st/ipsec.conf"
kill -HUP "$(cat "$T/starter.pid")"
for _ in $(seq 50); do
	grep -q "skipped invalid proposal string: aes256gcm16-qkdx" "$T/st/charon.log" && break
	sleep 0.1
done
grep -q "skipped invalid proposal string: aes256gcm16-qkdx" "$T/st/charon.log"
ok $? "ipsec.conf negative control: esp = aes256gcm16-qkdx! is rejected"
kill "$(cat "$T/starter.pid")"
rm -f "$T/starter.pid"
sleep 1

# a plugin built for another version refuses to load, with one clear line
if make -s -C "$HERE/.." O="$T/vbuild" CFLAGS_EXTRA='-DQKD_TEST_BUILT_VERSION=\"5.9.7\"' \
	"$T/vbuild/libstrongswan-qkd.so" > "$T/vbuild.log" 2>&1; then
	mv "$T/p/charon.log" "$T/p/charon-ok.log"
	start_charon p "$NS_A" "$T/vbuild/libstrongswan-qkd.so"
	sleep 0.5
	grep -q "qkd: plugin built for strongSwan 5.9.7 but the running daemon is strongSwan 5.9.8, refusing to load" "$T/p/charon.log" &&
		! grep -q "loaded plugins: .* qkd" "$T/p/charon.log"
	ok $? "version mismatch: plugin refuses to load with one clear line"
	kill "$(cat "$T/p.pid")"
	rm -f "$T/p.pid"
else
	ok 1 "version mismatch: building the test variant failed"
fi
ip netns del "$NS_A"
ip netns del "$NS_B"

# ---------------------------------------------------------------------------
# 2. two gateways with the test build (keys from files)
if [ ! -f "$TPLUGIN" ]; then
	echo "# $TPLUGIN missing (make test-plugin), skipping IKE tests"
	echo "1..$n"
	exit $((failed != 0))
fi

setup_netns || bail "netns and veth setup failed"

for s in a b; do
	mkdir -p "$T/$s/swanctl" "$T/$s/keys/qkdlink/initiator" \
		"$T/$s/keys/qkdlink/responder"
done
write_conf a prefer "rekey_first_child = yes"
write_conf b prefer

# SW_ESP: esp_proposals (default aes256gcm16-qkd); SW_CHILDLESS: childless
swconf() {	# swconf NAME LOCAL REMOTE LNET RNET IKEPROP
	cat > "$T/$1/swanctl/swanctl.conf" <<EOC
connections {
	gw {
		${SW_CHILDLESS:+childless = $SW_CHILDLESS}
		local_addrs = $2
		remote_addrs = $3
		local { auth = psk
			id = gw-$1 }
		remote { auth = psk
			id = gw-$( [ "$1" = a ] && echo b || echo a ) }
		children {
			net {
				esp_proposals = ${SW_ESP:-aes256gcm16-qkd}
				local_ts = $4
				remote_ts = $5
				# no automatic rekeys during the test (rekey_time = 0 with a
				# life_time makes the kernel's soft expiry fire at once)
				rekey_time = 20h
				life_time = 24h
			}
		}
		proposals = $6
		rekey_time = 0
	}
}
secrets {
	ike-1 {
		id-a = gw-a
		id-b = gw-b
		secret = 0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL
	}
}
EOC
}
swconf a 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 aes256-sha256-x25519
swconf b 192.0.2.2 192.0.2.1 10.2.0.1/32 10.1.0.1/32 aes256-sha256-x25519

# first 8 bytes (hex) of every key handed to the gateways, for the
# key-material-in-logs check
KEYPFX=$T/key-prefixes
: > "$KEYPFX"
record_key() {	# record_key FILE
	od -An -tx1 -N8 "$1" | tr -d ' \n' >> "$KEYPFX"
	echo >> "$KEYPFX"
}
# add_keys FROM TO COUNT PREFIX [MISMATCH]: COUNT keys that FROM takes as
# initiator and TO takes by ID as responder
add_keys() {
	local from=$1 to=$2 count=$3 prefix=$4 mismatch=${5:-0} i id
	for i in $(seq 1 "$count"); do
		id=$(printf '%s%030x' "$prefix" "$i")
		head -c 32 /dev/urandom > "$T/$from/keys/qkdlink/initiator/$id"
		record_key "$T/$from/keys/qkdlink/initiator/$id"
		if [ "$mismatch" = 1 ]; then
			head -c 32 /dev/urandom > "$T/$to/keys/qkdlink/responder/$id"
			record_key "$T/$to/keys/qkdlink/responder/$id"
		else
			cp "$T/$from/keys/qkdlink/initiator/$id" \
				"$T/$to/keys/qkdlink/responder/$id"
		fi
	done
}
count_keys() {	# count_keys NAME ROLE
	ls "$T/$1/keys/qkdlink/$2" | wc -l
}
spis() {	# in/out SPIs of the INSTALLED CHILD_SAs of NAME
	sw "$1" --list-sas 2>/dev/null | awk '
		/^  [^ ].*: #[0-9]+, reqid/ { inst = ($0 ~ /INSTALLED/) }
		inst && $1 == "in" { sub(",", "", $2); printf "%s_i ", $2 }
		inst && $1 == "out" { sub(",", "", $2); printf "%s_o ", $2 }'
}
PING=ping
command -v ping >/dev/null || PING="busybox ping"
# kernel-libipsec briefly drops packets "due to policy" while it removes
# the old inbound SA some seconds after a rekey: allow a retry
ping_ok() {
	local i
	for i in 1 2 3; do
		ip netns exec "$NS_A" $PING -c 2 -W 2 -I 10.1.0.1 10.2.0.1 >> "$T/ping.out" 2>&1 &&
			return 0
		sleep 1
	done
	return 1
}
nlines() {	# nlines NAME PATTERN
	grep -c -- "$2" "$T/$1/charon.log"
}

add_keys a b 3 aa
add_keys b a 3 bb

start_charon a "$NS_A" "$TPLUGIN"
ok $? "test build: gateway a started"
start_charon b "$NS_B" "$TPLUGIN"
ok $? "test build: gateway b started"
grep -q "keys from FILES (TEST BUILD" "$T/a/charon.log"
ok $? "test build says so in the log"
sw a --load-all >/dev/null 2>&1 && sw b --load-all >/dev/null 2>&1
ok $? "configs loaded"

sw a --initiate --child net > "$T/initiate.out" 2>&1
ok $? "tunnel up (IKE_SA_INIT x25519, CHILD_SA in IKE_AUTH)"
# the first CHILD_SA has no KE: a rekeys it at once with qkd
for _ in $(seq 50); do
	[ "$(nlines a 'keyed with a QKD key')" -ge 1 ] && [ "$(nlines b 'keyed with a QKD key')" -ge 1 ] && break
	sleep 0.1
done
grep -q "was created without a key exchange, rekeying it" "$T/a/charon.log"
ok $? "first CHILD_SA rekeyed at once (rekey_first_child)"
[ "$(count_keys a initiator)" = 2 ] && [ "$(count_keys b responder)" = 2 ]
ok $? "that rekey took exactly one key per side (a initiator, b responder)"
[ "$(nlines a 'keyed with a QKD key')" = 1 ] && [ "$(nlines b 'keyed with a QKD key')" = 1 ]
ok $? "both sides report the CHILD_SA keyed with a QKD key"
sleep 1
ping_ok
ok $? "traffic flows through the QKD-keyed CHILD_SA (same keys on both sides)"
sw a --list-sas > "$T/list-sas.out" 2>&1
awk '/INSTALLED.*ESP:AES_GCM_16-256\/\(64242\)/ { i = 1 } i && $1 == "in" { print; exit }' "$T/list-sas.out" | grep -q ' [1-9][0-9]* packets'
ok $? "the INSTALLED CHILD_SA (ESP:AES_GCM_16-256/(64242)) counted the inbound packets"
grep -q "annotate aa000000.* spis [0-9a-f]\{8\} [0-9a-f]\{8\} usage CHILD_SA net" "$T/a/keys/qkdlink/audit.log" &&
grep -q "annotate aa000000.* spis [0-9a-f]\{8\} [0-9a-f]\{8\} usage CHILD_SA net" "$T/b/keys/qkdlink/audit.log"
ok $? "audit records of that key annotated with both SPIs on both sides"
s1=$(spis a)
ina=$(echo "$s1" | sed -n 's/^\([0-9a-f]*\)_i.*/\1/p')
grep -q "annotate aa000000.* spis $ina" "$T/a/keys/qkdlink/audit.log"
ok $? "a's annotation names the installed inbound SPI $ina"

# rekey from a
sw a --rekey --child net >/dev/null 2>&1
sleep 1
s2=$(spis a)
[ -n "$s2" ] && [ "$s1" != "$s2" ]
ok $? "rekey from a: SPIs changed ($s1 -> $s2)"
[ "$(count_keys a initiator)" = 1 ] && [ "$(count_keys b responder)" = 1 ]
ok $? "rekey from a took exactly one key per side"
ping_ok
ok $? "traffic flows after rekey from a"

# rekey from b
sw b --rekey --child net >/dev/null 2>&1
sleep 1
s3=$(spis a)
[ -n "$s3" ] && [ "$s2" != "$s3" ]
ok $? "rekey from b: SPIs changed"
[ "$(count_keys b initiator)" = 2 ] && [ "$(count_keys a responder)" = 2 ]
ok $? "rekey from b took exactly one key per side (b initiator, a responder)"
ping_ok
ok $? "traffic flows after rekey from b"

# key confirmation mismatch: next a->b key differs
rm -f "$T"/a/keys/qkdlink/initiator/* "$T"/b/keys/qkdlink/responder/*
add_keys a b 1 cc 1
sw a --rekey --child net >/dev/null 2>&1
sleep 1
grep -q "key confirmation FAILED for key cc000000" "$T/a/charon.log"
ok $? "mismatching key material: initiator logs key confirmation failure"
s4=$(spis a)
[ "$s3" = "$s4" ]
ok $? "mismatch: the old CHILD_SA stays (SPIs unchanged)"
# (traffic over the old SA after a failed rekey is checked in the guest with
# the kernel's XFRM: kernel-libipsec 5.9.8 drops inbound packets "due to
# policy" after any failed rekey until the next successful one)
grep -q "annotate cc000000.* usage unused: confirmation failed" "$T/a/keys/qkdlink/audit.log"
ok $? "mismatch: audit record says the key was unused"
# the responder installed the new CHILD_SA before a's confirmation failed:
# a deletes it, b keeps exactly the old one (its SPIs mirror a's)
for _ in $(seq 30); do
	[ "$(sw b --list-sas 2>/dev/null | grep -Ec ': #[0-9]+, reqid')" = 1 ] && break
	sleep 0.1
done
sw b --list-sas > "$T/list-sas-b-mismatch.out" 2>&1
# (b marks its old SA REKEYED when it installs the new one, and leaves it so)
sb=$(awk '$1 == "in" { i = $2 } $1 == "out" { o = $2 } END { print i, o }' "$T/list-sas-b-mismatch.out" | tr -d ,)
ia=$(echo "$s4" | sed -n 's/^\([0-9a-f]*\)_i \([0-9a-f]*\)_o.*/\1 \2/p')
ib=$(echo "$sb" | awk '{ print $2, $1 }')
[ "$(sw b --list-sas 2>/dev/null | grep -Ec ': #[0-9]+, reqid')" = 1 ] &&
	[ -n "$ia" ] && [ "$ia" = "$ib" ]
ok $? "mismatch: the responder removed its new CHILD_SA, only the old one ($sb) is left"

# prefer: a has no key -> X25519 alone, warning, counted
sw a --rekey --child net >/dev/null 2>&1
sleep 1
s5=$(spis a)
[ -n "$s5" ] && [ "$s4" != "$s5" ]
ok $? "prefer, empty pool: rekey still succeeds (X25519 alone)"
grep -q "WARNING: no QKD key from link 'qkdlink': no key .* falling back to X25519 alone (fallback #1;" "$T/a/charon.log"
ok $? "prefer, empty pool: initiator warns and counts the fallback"
grep -q "WARNING: peer sent no QKD key ID" "$T/b/charon.log"
ok $? "prefer, empty pool: responder warns too"
ping_ok
ok $? "prefer fallback: traffic flows"

# keys are back: QKD resumes
add_keys a b 1 dd
sw a --rekey --child net >/dev/null 2>&1
sleep 1
grep -q "took key dd000000" "$T/a/charon.log" && [ "$(count_keys a initiator)" = 0 ]
ok $? "keys back: QKD resumes on the next rekey"

# responder cannot get the ID (not delivered to b), prefer -> fallback
add_keys a b 1 ee
rm -f "$T"/b/keys/qkdlink/responder/ee000000*
sw a --rekey --child net >/dev/null 2>&1
sleep 1.5
grep -q "could not get QKD key ee000000.*waited up to 300 ms): key of that ID did not arrive" "$T/b/charon.log"
ok $? "ID never arrives: responder waits wait_ms, then falls back (prefer)"
grep -q "WARNING: peer could not get QKD key ee000000" "$T/a/charon.log"
ok $? "ID never arrives: initiator learns it from the flags and falls back"
ping_ok
ok $? "ID never arrives: traffic flows (both used X25519 alone)"

# require on a: empty pool -> refuse, old SA stays
write_conf a require "rekey_first_child = yes"
sw a --reload-settings >/dev/null 2>&1
s6=$(spis a)
sw a --rekey --child net >/dev/null 2>&1
sleep 1
grep -q "policy require, refusing the key exchange" "$T/a/charon.log"
ok $? "require, empty pool: initiator refuses"
[ "$s6" = "$(spis a)" ]
ok $? "require, empty pool: old SA stays"

# require on b, a (prefer) has no key: b refuses
write_conf a prefer "rekey_first_child = yes"
write_conf b require
sw a --reload-settings >/dev/null 2>&1
sw b --reload-settings >/dev/null 2>&1
sw a --rekey --child net >/dev/null 2>&1
sleep 1
grep -q "peer sent no QKD key ID (it had no key) for .*policy require, refusing" "$T/b/charon.log"
ok $? "require on responder: refuses initiator without key"
[ "$s6" = "$(spis a)" ]
ok $? "require on responder: old SA stays"

# rate limited (EBUSY) under prefer on a
write_conf b prefer
sw b --reload-settings >/dev/null 2>&1
add_keys a b 1 ff
touch "$T/a/keys/qkdlink/busy"
sw a --rekey --child net >/dev/null 2>&1
sleep 1
grep -q "no QKD key from link 'qkdlink': rate limited: token bucket empty (test)" "$T/a/charon.log"
ok $? "rate limited: logged with the reason and the extended error text"
s7=$(spis a)
[ -n "$s7" ] && [ "$s7" != "$s6" ] && [ "$(count_keys a initiator)" = 1 ] &&
	[ "$(count_keys b responder)" = 1 ]
ok $? "rate limited (prefer): rekey with X25519 alone, SPIs changed, no key taken on either side"
rm -f "$T/a/keys/qkdlink/busy"

# qkd in the IKE proposals: IKE_SA_INIT carries X25519 alone inside the
# method (no QKD key, no key ID before the peer is authenticated);
# rekey_first_ike keys the IKE_SA with QKD in an authenticated
# CREATE_CHILD_SA right after IKE_AUTH
sw a --terminate --ike gw >/dev/null 2>&1
write_conf a prefer "rekey_first_child = yes
			rekey_first_ike = yes"
sw a --reload-settings >/dev/null 2>&1
swconf a 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 aes256-sha256-qkd
swconf b 192.0.2.2 192.0.2.1 10.2.0.1/32 10.1.0.1/32 aes256-sha256-qkd
sw a --load-conns >/dev/null 2>&1
sw b --load-conns >/dev/null 2>&1
add_keys a b 2 11
before_a=$(count_keys a initiator)
before_b=$(count_keys b responder)
sw a --initiate --child net >/dev/null 2>&1
ok $? "qkd in the IKE proposals: tunnel up"
sleep 1.5
grep -q "qkd: IKE_SA_INIT with gw\[[0-9]*\] (192.0.2.2, %any): the qkd method carries X25519 alone (no QKD key before the peer is authenticated" "$T/a/charon.log" &&
	grep -q "qkd: IKE_SA_INIT with [^ ]* (192.0.2.1, %any): the qkd method carries X25519 alone" "$T/b/charon.log" &&
	! grep -q "took key .*, %any)$" "$T/a/charon.log" "$T/b/charon.log"
ok $? "IKE_SA_INIT: X25519 alone on both sides, no QKD key taken for the unauthenticated peer"
grep -q "qkd: gw\[[0-9]*\] (192.0.2.2, %any) uses link 'peer' (module link 'qkdlink', matched by address" "$T/a/charon.log"
ok $? "IKE_SA_INIT: link matched by address (identity unknown)"
ikespi=$(sed -n 's/^annotate 11000000.* usage IKE_SA gw\[[0-9]*\] \([0-9a-f]*_i [0-9a-f]*_r\)$/\1/p' "$T/a/keys/qkdlink/audit.log")
grep -q "qkd: IKE_SA gw\[[0-9]*\] was created without a QKD key, rekeying it now to key it with QKD" "$T/a/charon.log" &&
	[ -n "$ikespi" ] && grep -q "annotate 11000000.* usage IKE_SA .* $ikespi" "$T/b/keys/qkdlink/audit.log" &&
	sw a --list-sas 2>/dev/null | grep -q "${ikespi%%_i*}_i"
ok $? "rekey_first_ike: the IKE_SA rekeyed right after IKE_AUTH with a QKD key, the new IKE SPIs annotated on both sides"
sw a --list-sas > "$T/list-sas-ike.out" 2>/dev/null
# the IKE proposal line only (the CHILD_SA line also ends in /(64242))
grep -Eq '^  [A-Z].*/PRF_[A-Z0-9_]+/\(64242\)$' "$T/list-sas-ike.out" &&
	[ "$(count_keys a initiator)" = $((before_a - 2)) ] && [ "$(count_keys b responder)" = $((before_b - 2)) ]
ok $? "IKE_SA keyed with the qkd method; one key per side for it and one for the first CHILD_SA"
ping_ok
ok $? "traffic flows after the IKE_SA and first-child rekeys"

# IKE_SA rekey with qkd: one more key per side, new IKE SPIs annotated
add_keys a b 1 22
sw a --rekey --ike gw >/dev/null 2>&1
sleep 1.5
newspi=$(sed -n 's/^annotate 22000000.* usage IKE_SA gw\[[0-9]*\] \([0-9a-f]*_i [0-9a-f]*_r\)$/\1/p' "$T/a/keys/qkdlink/audit.log")
[ -n "$newspi" ] && [ "$newspi" != "$ikespi" ] &&
	grep -q "annotate 22000000.* usage IKE_SA .* $newspi" "$T/b/keys/qkdlink/audit.log" &&
	sw a --list-sas 2>/dev/null | grep -q "${newspi%%_i*}_i"
ok $? "IKE_SA rekey with qkd: one key per side, the new IKE_SA's SPIs annotated"
ping_ok
ok $? "traffic flows after the IKE_SA rekey"

# positive control of the log check, in a separate log file: at ike=4
# strongSwan logs the shared secret (X25519 || QKD key); the plugin warns
# about such a logger at load/reload, and key_leaked finds the key
write_conf a prefer "rekey_first_child = yes" 4 "$T/a/charon-ike4.log"
sw a --reload-settings >/dev/null 2>&1
add_keys a b 1 33
sw a --rekey --child net >/dev/null 2>&1
sleep 1
grep -q "qkd: WARNING: filelog logger 'log' logs group ike at level 4" "$T/a/charon-ike4.log"
ok $? "a logger at ike=4 makes the plugin warn (one line)"
grep -q "took key 33000000" "$T/a/charon-ike4.log" && key_leaked "$KEYPFX" "$T/a/charon-ike4.log"
ok $? "positive control: at ike=4 the key check finds the QKD key in strongSwan's own %B dump"
write_conf a prefer "rekey_first_child = yes"
sw a --reload-settings >/dev/null 2>&1

sw a --terminate --ike gw >/dev/null 2>&1
kill "$(cat "$T/a.pid")" "$(cat "$T/b.pid")"
rm -f "$T/a.pid" "$T/b.pid"
sleep 1
grep -q "qkd: keys taken as initiator" "$T/a/charon.log"
ok $? "counters logged at shutdown"
# "AUTH = prf(...)" with its octets is an ike level 3 line
grep -q "^[0-9:]* [0-9]*\[IKE\] AUTH = prf(prf(secret, keypad), octets)" "$T/a/charon.log" &&
	grep -q "^[0-9:]* [0-9]*\[IKE\] qkd: took key" "$T/a/charon.log" &&
	[ "$(wc -l < "$KEYPFX")" -ge 15 ]
ok $? "logs at ike=3 cover the rekeys; $(wc -l < "$KEYPFX") keys recorded"
! key_leaked "$KEYPFX" "$T/a/charon.log" "$T/b/charon.log" "$T/a/charon.out" "$T/b/charon.out" &&
	! grep -Eiq '[0-9a-f]{64}' "$T/a/charon.log" "$T/b/charon.log"
ok $? "no key material in the logs (first 8 bytes of every key: hex, %B dump, base64)"
grep "qkd: keys taken" "$T/a/charon.log" "$T/b/charon.log" | tail -2 | sed 's/^/# /'

# ---------------------------------------------------------------------------
# 3. protocol v2: peers without the plugin, a v1 build of this project,
# require without a QKD key exchange.  Each scenario: fresh charons and
# key directories (the section 2 logs stay in a-s2/ and b-s2/)
mv "$T/a" "$T/a-s2"
mv "$T/b" "$T/b-s2"
scen() {	# scen NAME: new directories for a and b
	local s
	for s in a b; do
		[ -d "$T/$s" ] && mv "$T/$s" "$T/$s-$SCEN"
		mkdir -p "$T/$s/swanctl" "$T/$s/keys/qkdlink/initiator" \
			"$T/$s/keys/qkdlink/responder"
	done
	SCEN=$1
}
stop_pair() {
	local p
	for p in a b; do
		[ -f "$T/$p.pid" ] && kill "$(cat "$T/$p.pid")" 2>/dev/null
		rm -f "$T/$p.pid"
	done
	sleep 1
}
start_pair() {	# start_pair SO_A SO_B (SO_B empty: plain charon)
	start_charon a "$NS_A" "$1" && start_charon b "$NS_B" "$2" &&
		sw a --load-all >/dev/null 2>&1 && sw b --load-all >/dev/null 2>&1
}
ike_of() {	# ike_of NAME: "count spi_i-spi_r" of the IKE_SAs
	echo "$(sw "$1" --list-sas 2>/dev/null | grep -c '^gw: #') $(ike_spis "$1")"
}
nchild() {	# number of INSTALLED CHILD_SAs of NAME (rekeyed and deleted
	# ones are listed for a while)
	sw "$1" --list-sas 2>/dev/null | grep -Ec ': #[0-9]+, reqid [0-9]+, INSTALLED'
}
keys_left() {	# keys_left NAME: "initiator responder" files left
	echo "$(count_keys "$1" initiator) $(count_keys "$1" responder)"
}
counters() {	# counters NAME: reload, print the counter line
	sw "$1" --reload-settings >/dev/null 2>&1
	sleep 0.3
	grep "qkd: keys taken" "$T/$1/charon.log" | tail -1
}
wait_change() {	# wait_change NAME OLD_SPIS: the new ones (or nothing)
	local i s
	for i in $(seq 40); do
		s=$(spis "$1")
		[ -n "$s" ] && [ "$s" != "$2" ] && { echo "$s"; return 0; }
		sleep 0.1
	done
	return 1
}
V2_ESP="aes256gcm16-qkd, aes256gcm16-x25519"
SCEN=s2

# --- 3a. a (v2, prefer, qkd first + x25519) with a plain strongSwan peer
scen s3a
write_conf a prefer "rekey_first_child = yes"
CONF_PLUGIN=no write_conf b prefer
SW_ESP=$V2_ESP swconf a 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 aes256-sha256-x25519
SW_ESP=aes256gcm16-x25519 swconf b 192.0.2.2 192.0.2.1 10.2.0.1/32 10.1.0.1/32 aes256-sha256-x25519
add_keys a b 2 3a
start_pair "$TPLUGIN" "" && ! grep -q "loaded plugins: .* qkd" "$T/b/charon.log"
ok $? "3a: a with the plugin (prefer, esp = $V2_ESP), b plain charon (no plugin, no accept_private_algs)"
sw a --initiate --child net >/dev/null 2>&1
ok $? "3a: tunnel up"
sleep 1
grep -q "qkd: gw\[1\] (gw-b) did not announce the qkd plugin: no QKD key is taken for it" "$T/a/charon.log"
ok $? "3a: a logs that b did not announce the plugin (one line per IKE_SA)"
grep -q "qkd: rekeys of CHILD_SA net{1} with gw\[1\] use CURVE_25519" "$T/a/charon.log" &&
	! grep -q "rekeying it now" "$T/a/charon.log"
ok $? "3a: the IKE_AUTH CHILD_SA's rekeys use CURVE_25519, no immediate rekey (rekey_first_child is for QKD peers)"
ike0=$(ike_of a)
s0=$(spis a)
changed=0
for who in a b a a; do
	sw $who --rekey --child net >/dev/null 2>&1
	s1=$(wait_change a "$s0") && changed=$((changed + 1))
	s0=$s1
done
[ "$changed" = 4 ]
ok $? "3a: a rekeyed first (right after IKE_AUTH), then b, then a twice: SPIs changed every time ($changed of 4)"
! grep -Eq "peer didn't accept DH group|DH group .* unacceptable|INVALID_KE_PAYLOAD|INVALID_SYNTAX|NO_PROPOSAL_CHOSEN" "$T/a/charon.log" "$T/b/charon.log"
ok $? "3a: no INVALID_KE_PAYLOAD, INVALID_SYNTAX or NO_PROPOSAL_CHOSEN in either log (no failed exchange)"
[ "$(grep -c "did not announce the qkd plugin: removed the qkd method from the CREATE_CHILD_SA proposals (1 proposal dropped, 1 left)" "$T/a/charon.log")" -ge 3 ]
ok $? "3a: a's CREATE_CHILD_SA requests carried no qkd proposal"
[ "$(ike_of a)" = "$ike0" ] && [ "$(ike_of b | cut -d' ' -f1)" = 1 ]
ok $? "3a: the IKE_SA was kept ($ike0)"
sw a --list-sas > "$T/a/list-sas.out" 2>&1
grep -q "INSTALLED, TUNNEL[^,]*, ESP:AES_GCM_16-256/CURVE_25519" "$T/a/list-sas.out" && [ "$(nchild a)" = 1 ]
ok $? "3a: one CHILD_SA, keyed with CURVE_25519"
ping_ok
ok $? "3a: traffic flows"
[ "$(keys_left a)" = "2 0" ] && [ "$(keys_left b)" = "0 2" ] && ! grep -q "took key" "$T/a/charon.log"
ok $? "3a: no QKD key taken for the peer without the plugin"
c=$(counters a)
echo "$c" | grep -q "keys taken as initiator 0, as responder 0, .*classical CHILD_SAs (prefer) [5-9]" &&
	grep -q "WARNING: CHILD_SA net{[0-9]*} with gw\[1\] (gw-b) keyed without QKD (key exchange CURVE_25519: peer did not announce the qkd plugin .*policy prefer (classical CHILD_SA #" "$T/a/charon.log"
ok $? "3a: every classical CHILD_SA warned about and counted ($c)"

# --- 3b. the same plain peer, a now require
write_conf a require "rekey_first_child = yes"
sw a --reload-settings >/dev/null 2>&1
sleep 0.3
grep -q "qkd: rekeys of CHILD_SA net{5} with gw\[1\] use (64242) (peer did not announce" "$T/a/charon.log"
ok $? "3b: on reload the CHILD_SA's rekey group follows the new policy (require: qkd, refused locally)"
s0=$(spis a)
nb=$(grep -c "parsed CREATE_CHILD_SA request" "$T/b/charon.log")
sw a --rekey --child net >/dev/null 2>&1
sleep 1
grep -q "qkd: gw\[1\] (192.0.2.2, gw-b): peer did not announce the qkd plugin in IKE_AUTH .*not sending the qkd method to it and taking no QKD key (policy require)" "$T/a/charon.log"
ok $? "3b: require: a refuses its own rekey with one clear line"
[ "$(spis a)" = "$s0" ] && [ "$(grep -c "parsed CREATE_CHILD_SA request" "$T/b/charon.log")" = "$nb" ] &&
	[ "$(ike_of a)" = "$ike0" ]
ok $? "3b: nothing was sent, the old CHILD_SA and the IKE_SA stay"
sw b --rekey --child net >/dev/null 2>&1
sleep 1
grep -q "qkd: refusing CHILD_SA net{[0-9]*} with gw\[1\] (gw-b): policy require and it would be keyed without QKD (key exchange CURVE_25519; peer did not announce" "$T/a/charon.log"
ok $? "3b: b's classical rekey: a (responder) refuses it with one clear line"
[ "$(spis a)" = "$s0" ] && [ "$(nchild a)" = 1 ] && [ "$(nchild b)" = 1 ] && [ "$(ike_of a)" = "$ike0" ]
ok $? "3b: no classical CHILD_SA installed, the old one and the IKE_SA stay"
# a new IKE_SA: the IKE_AUTH CHILD_SA (no key exchange) is refused by a,
# the initiator, after b installed it: a deletes b's at once
sw a --terminate --ike gw >/dev/null 2>&1
sleep 0.5
sw a --initiate --child net >/dev/null 2>&1
sleep 1.5
grep -q "qkd: refusing CHILD_SA net{[0-9]*} with gw\[2\] (gw-b): policy require and it would be keyed without QKD (no key exchange: created in IKE_AUTH (use childless = force)" "$T/a/charon.log"
ok $? "3b: require: the IKE_AUTH CHILD_SA (no key exchange) is refused by the initiator"
grep -q "received DELETE for ESP CHILD_SA" "$T/b/charon.log" && [ "$(nchild b)" = 0 ] && [ "$(nchild a)" = 0 ] &&
	[ "$(ike_of a | cut -d' ' -f1)" = 1 ]
ok $? "3b: the veto came after b installed its SA: a deleted it at once, no CHILD_SA on either side, IKE_SA up"
c=$(counters a)
echo "$c" | grep -q "keys taken as initiator 0, as responder 0, .*CHILD_SAs refused (require) 2" && [ "$(keys_left a)" = "2 0" ]
ok $? "3b: refusals counted, still no key taken ($c)"
stop_pair

# --- 3c. a v1 build of this project (before the announcement) as b
V1_REV=${V1_REV:-c2fc99a}
V1SO=$T/v1build/test/libstrongswan-qkd.so
if git -C "$HERE/../.." cat-file -e "$V1_REV^{commit}" 2>/dev/null &&
	mkdir -p "$T/v1src" &&
	git -C "$HERE/../.." archive "$V1_REV" charon-plugin include |
		tar -x -C "$T/v1src" &&
	make -s -C "$T/v1src/charon-plugin" REPO="$T/v1src" O="$T/v1build" \
		SS_SRC="$HERE/../../build/strongswan-src" "$V1SO" > "$T/v1build.log" 2>&1; then
	scen s3c
	write_conf a prefer "rekey_first_child = yes"
	write_conf b prefer "rekey_first_child = yes"
	SW_ESP=$V2_ESP swconf a 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 aes256-sha256-x25519
	SW_ESP=$V2_ESP swconf b 192.0.2.2 192.0.2.1 10.2.0.1/32 10.1.0.1/32 aes256-sha256-x25519
	add_keys a b 2 3c
	add_keys b a 3 c3
	start_pair "$TPLUGIN" "$V1SO" && ! grep -q "QKD_NOTIFY\|announced" "$T/b/charon.log"
	ok $? "3c: a v2 (prefer), b the v1 build of $V1_REV (prefer), both esp = $V2_ESP"
	sw b --initiate --child net >/dev/null 2>&1
	ok $? "3c: tunnel up, initiated by the v1 side"
	sleep 1.5
	s0=$(spis a)
	grep -q "qkd: gw\[1\] (gw-b) did not announce the qkd plugin" "$T/a/charon.log" &&
		grep -q "was created without a key exchange, rekeying it now" "$T/b/charon.log" &&
		grep -q "peer did not announce the qkd plugin in IKE_AUTH .*: not taking QKD key c3000000.*policy prefer, falling back to X25519 alone" "$T/a/charon.log"
	ok $? "3c: v1's rekey of its first CHILD_SA (qkd, with a key ID): a takes no key and answers UNAVAILABLE (prefer)"
	grep -q "WARNING: peer could not get QKD key c3000000.*falling back to X25519 alone" "$T/b/charon.log" &&
		[ -n "$s0" ] && [ "$(nchild a)" = 1 ]
	ok $? "3c: the v1 side falls back to X25519 alone (its own warning): one CHILD_SA, no failed exchange"
	ike0=$(ike_of a)
	sw a --rekey --child net >/dev/null 2>&1
	s1=$(wait_change a "$s0")
	ok $? "3c: a's rekey: SPIs changed ($s0 -> $s1)"
	sw a --list-sas > "$T/a/list-sas.out" 2>&1
	grep -q "INSTALLED, TUNNEL[^,]*, ESP:AES_GCM_16-256/CURVE_25519" "$T/a/list-sas.out"
	ok $? "3c: a's rekey used CURVE_25519 (qkd removed from its proposals)"
	sw b --rekey --child net >/dev/null 2>&1
	s2=$(wait_change a "$s1")
	ok $? "3c: v1's second rekey (CURVE_25519, the group of the CHILD_SA a made): SPIs changed"
	! grep -Eq "peer didn't accept DH group|DH group .* unacceptable|INVALID_KE_PAYLOAD|NO_PROPOSAL_CHOSEN" "$T/a/charon.log" "$T/b/charon.log" &&
		[ "$(grep -c "took key" "$T/b/charon.log")" = 1 ]
	ok $? "3c: no INVALID_KE round trip in either direction (a did not pick qkd from v1's offer): v1 took one key, for its first rekey only"
	[ "$(keys_left a)" = "2 3" ] && [ "$(ike_of a)" = "$ike0" ]
	ok $? "3c: a took no QKD key at all (the v1 side spent its own initiator keys, as v1 does); IKE_SA kept"
	ping_ok
	ok $? "3c: traffic flows"
	write_conf a require "rekey_first_child = yes"
	sw a --reload-settings >/dev/null 2>&1
	sw a --rekey --child net >/dev/null 2>&1
	sleep 1
	sw b --rekey --child net >/dev/null 2>&1
	sleep 1.5
	grep -q "peer did not announce the qkd plugin in IKE_AUTH .*not sending the qkd method to it and taking no QKD key (policy require)" "$T/a/charon.log" &&
		grep -q "qkd: refusing CHILD_SA net{[0-9]*} with gw\[1\] (gw-b): policy require and it would be keyed without QKD (key exchange CURVE_25519; peer did not announce" "$T/a/charon.log"
	ok $? "3c: a require: its own rekey and v1's are refused, one line each"
	[ "$(spis a)" = "$s2" ] && [ "$(ike_of a)" = "$ike0" ] && [ "$(keys_left a)" = "2 3" ]
	ok $? "3c: require: the old CHILD_SA and the IKE_SA stay, no key taken"
	stop_pair
else
	ok 1 "3c: building the v1 plugin of $V1_REV failed (see $T/v1build.log)"
fi

# --- 3d. two v2 gateways, require on both
scen s3d
write_conf a require "rekey_first_child = yes"
write_conf b require
swconf a 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 aes256-sha256-x25519
swconf b 192.0.2.2 192.0.2.1 10.2.0.1/32 10.1.0.1/32 aes256-sha256-x25519
add_keys a b 2 3d
start_pair "$TPLUGIN" "$TPLUGIN"
sw a --initiate --child net >/dev/null 2>&1
sleep 1
grep -q "qkd: gw\[1\] (gw-b) announced qkd protocol v2, a link for us, require; CHILD_SAs are keyed with QKD, policy require" "$T/a/charon.log" &&
	grep -q "qkd: gw\[1\] (gw-a) announced qkd protocol v2, a link for us, require; CHILD_SAs are keyed with QKD" "$T/b/charon.log"
ok $? "3d: both sides log the peer's announcement (v2, link, require)"
grep -q "qkd: refusing CHILD_SA net{1} with gw\[1\] (gw-a): policy require and it would be keyed without QKD (no key exchange: created in IKE_AUTH (use childless = force)" "$T/b/charon.log" &&
	[ "$(nchild a)" = 0 ] && [ "$(nchild b)" = 0 ] && [ "$(keys_left a)" = "2 0" ]
ok $? "3d: require without childless: the IKE_AUTH CHILD_SA is refused (b, responder), none installed, no key taken"
sw a --terminate --ike gw >/dev/null 2>&1
sleep 0.5
SW_CHILDLESS=force swconf a 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 aes256-sha256-x25519
sw a --load-conns >/dev/null 2>&1
sw a --initiate --child net >/dev/null 2>&1
ok $? "3d: childless = force: IKE_SA without CHILD_SA, then the CHILD_SA in CREATE_CHILD_SA"
sleep 1
[ "$(nlines a 'keyed with a QKD key')" = 1 ] && [ "$(nlines b 'keyed with a QKD key')" = 1 ] &&
	[ "$(keys_left a)" = "1 0" ] && [ "$(keys_left b)" = "0 1" ] && [ "$(nchild a)" = 1 ]
ok $? "3d: the first CHILD_SA is QKD-keyed from the start (one key per side), none classical"
ping_ok
ok $? "3d: traffic flows"
s0=$(spis a)
sw b --rekey --child net >/dev/null 2>&1
sleep 1
[ "$(spis a)" = "$s0" ] && grep -q "no QKD key from link 'qkdlink': no key .*policy require, refusing" "$T/b/charon.log"
ok $? "3d: b without initiator keys refuses its rekey (require), the old SA stays"
stop_pair

# --- 3e. a require, b v2 whose CHILD_SA config has no qkd: the first
# CHILD_SA (childless) offers qkd, b selects CURVE_25519 and, honouring a's
# announced require, refuses the retry; the key a took is left unused
scen s3e
write_conf a require
write_conf b prefer
SW_ESP=$V2_ESP SW_CHILDLESS=force swconf a 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 aes256-sha256-x25519
SW_ESP=aes256gcm16-x25519 swconf b 192.0.2.2 192.0.2.1 10.2.0.1/32 10.1.0.1/32 aes256-sha256-x25519
add_keys a b 2 3e
start_pair "$TPLUGIN" "$TPLUGIN"
sw a --initiate --child net >/dev/null 2>&1
sleep 1.5
grep -q "peer didn't accept DH group (64242), it requested CURVE_25519" "$T/a/charon.log" &&
	grep -q "qkd: refusing CHILD_SA net{[0-9]*} with gw\[1\] (gw-a): policy require (the peer announced require) and it would be keyed without QKD (key exchange CURVE_25519" "$T/b/charon.log"
ok $? "3e: b (prefer, no qkd configured) answered INVALID_KE_PAYLOAD, then refused the CURVE_25519 retry: it honours a's announced require"
[ "$(nchild a)" = 0 ] && [ "$(nchild b)" = 0 ] && [ "$(ike_of b | cut -d' ' -f1)" = 1 ] &&
	grep -q "annotate 3e000000.* usage unused: exchange not completed" "$T/a/keys/qkdlink/audit.log" && [ "$(keys_left b)" = "0 2" ]
ok $? "3e: no CHILD_SA, IKE_SA kept; a's key of the first attempt annotated unused, b took none"
stop_pair

# --- 3f. a require with classical first (esp = x25519, qkd), plain peer:
# the CHILD_SA is negotiated with CURVE_25519, b installs it, a vetoes as
# initiator and deletes b's SA at once
scen s3f
write_conf a require
CONF_PLUGIN=no write_conf b prefer
SW_ESP="aes256gcm16-x25519, aes256gcm16-qkd" SW_CHILDLESS=force swconf a 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 aes256-sha256-x25519
SW_ESP=aes256gcm16-x25519 swconf b 192.0.2.2 192.0.2.1 10.2.0.1/32 10.1.0.1/32 aes256-sha256-x25519
add_keys a b 1 3f
start_pair "$TPLUGIN" ""
sw a --initiate --child net >/dev/null 2>&1
sleep 1.5
grep -q "qkd: refusing CHILD_SA net{[0-9]*} with gw\[1\] (gw-b): policy require and it would be keyed without QKD (key exchange CURVE_25519; peer did not announce .*the peer's new SA is deleted" "$T/a/charon.log"
ok $? "3f: CREATE_CHILD_SA with CURVE_25519: a (initiator, require) refuses the CHILD_SA b selected"
grep -q "CHILD_SA net{[0-9]*} established" "$T/b/charon.log" && grep -q "received DELETE for ESP CHILD_SA" "$T/b/charon.log" &&
	[ "$(nchild a)" = 0 ] && [ "$(nchild b)" = 0 ] && [ "$(ike_of b | cut -d' ' -f1)" = 1 ] && [ "$(keys_left a)" = "1 0" ]
ok $? "3f: b had installed it; a deleted b's SA at once: none left, IKE_SA kept, no key taken"
stop_pair
for s in a b; do mv "$T/$s" "$T/$s-$SCEN"; done
grep -h "^[0-9:]* [0-9]*\[IKE\] qkd: keys taken" "$T"/[ab]-s3*/charon.log > /dev/null
! key_leaked "$KEYPFX" "$T"/[ab]-s3*/charon.log "$T"/[ab]-s3*/charon.out
ok $? "3: no key material in the logs of section 3"

# ---------------------------------------------------------------------------
# 4. protocol v3: every CREATE_CHILD_SA carries each side's next key ID,
# reserved in its key store; the receiver asks its store for that key ahead
# (test key files: "want held" when the file is there already)
uuid() {	# uuid PREFIX N: the key ID of add_keys as qkd_wire_id_str prints it
	printf '%s%030x' "$1" "$2" |
		sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)/\1-\2-\3-\4-/'
}
aud() {	# aud NAME LINE-START: count of audit lines
	grep -c "^$2" "$T/$1/keys/qkdlink/audit.log"
}
scen s4a
HT_NEXT=yes write_conf a require "rekey_first_child = yes"
HT_NEXT=yes write_conf b require
# require: the first CHILD_SA in CREATE_CHILD_SA, with a QKD key
SW_CHILDLESS=force swconf a 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 aes256-sha256-x25519
SW_CHILDLESS=force swconf b 192.0.2.2 192.0.2.1 10.2.0.1/32 10.1.0.1/32 aes256-sha256-x25519
add_keys a b 6 4a
add_keys b a 4 4b
start_pair "$TPLUGIN" "$TPLUGIN"
sw a --initiate --child net >/dev/null 2>&1
for _ in $(seq 50); do
	[ "$(nlines a 'keyed with a QKD key')" -ge 1 ] && [ "$(nlines b 'keyed with a QKD key')" -ge 1 ] && break
	sleep 0.1
done
grep -q "announced qkd protocol v3" "$T/a/charon.log" &&
	grep -q "announced qkd protocol v3" "$T/b/charon.log"
ok $? "4a: both announce protocol v3"
[ "$(aud a "take initiator $(uuid 4a 1)")" = 1 ] &&
	[ "$(aud a "reserve $(uuid 4a 2)")" = 1 ] &&
	[ "$(aud b "want held $(uuid 4a 2)")" = 1 ] &&
	[ "$(aud b "reserve $(uuid 4b 1)")" = 1 ] &&
	[ "$(aud a "want held $(uuid 4b 1)")" = 1 ] &&
	[ "$(count_keys a reserved)" = 1 ] && [ "$(count_keys b reserved)" = 1 ]
ok $? "4a: first CHILD_SA (childless, a): a took 4a..1, reserved and announced 4a..2; b reserved and announced 4b..1; each asked its store for the other's next key ahead (held)"
s0=$(spis a)
sw a --rekey --child net >/dev/null 2>&1
s1=$(wait_change a "$s0")
[ -n "$s1" ] && [ "$(nlines a "taking key $(uuid 4a 2), the one announced")" = 1 ] &&
	[ "$(aud a "take initiator $(uuid 4a 2)")" = 1 ] &&
	[ "$(aud b "take responder $(uuid 4a 2)")" = 1 ] &&
	[ "$(nlines b "uses key $(uuid 4a 2), the one it announced")" = 1 ] &&
	[ "$(aud a "reserve $(uuid 4a 3)")" = 1 ] && [ "$(aud b "want held $(uuid 4a 3)")" = 1 ] &&
	[ "$(aud b "reserve")" = 1 ] && [ "$(aud a "want")" = 1 ]
ok $? "4a: rekey from a used the announced key 4a..2 (by ID on both sides), announced 4a..3; b announced its reservation again, not asked for twice"
sw b --rekey --child net >/dev/null 2>&1
s2=$(wait_change a "$s1")
[ -n "$s2" ] && [ "$(nlines b "taking key $(uuid 4b 1), the one announced")" = 1 ] &&
	[ "$(aud a "take responder $(uuid 4b 1)")" = 1 ] &&
	[ "$(aud b "reserve $(uuid 4b 2)")" = 1 ] && [ "$(aud a "want held $(uuid 4b 2)")" = 1 ] &&
	[ "$(aud a "reserve")" = 2 ]
ok $? "4a: rekey from b used its announced key 4b..1, announced 4b..2"
ping_ok
ok $? "4a: traffic flows"
# the announced key is flushed before a's next rekey
rm -f "$T/a/keys/qkdlink/reserved/$(printf '4a%030x' 3)"
sw a --rekey --child net >/dev/null 2>&1
s3=$(wait_change a "$s2")
[ -n "$s3" ] && [ "$(nlines a "key $(uuid 4a 3) announced to .* is gone from link 'qkdlink'")" = 1 ] &&
	[ "$(aud a "take initiator $(uuid 4a 4)")" = 1 ] &&
	[ "$(nlines b "uses key $(uuid 4a 4), not the one it announced")" = 1 ] &&
	[ "$(aud b "take responder $(uuid 4a 4)")" = 1 ] &&
	[ "$(nlines a 'keyed with a QKD key')" = 4 ] && [ "$(nlines b 'keyed with a QKD key')" = 4 ]
ok $? "4a: announced key flushed on a: a's rekey takes the oldest (4a..4), b takes what the INIT names; QKD-keyed on both sides"
ping_ok
ok $? "4a: traffic flows after it"
sw a --terminate --ike gw >/dev/null 2>&1
sleep 1
[ "$(aud a "release $(uuid 4a 5)")" = 1 ] && [ "$(aud b "release $(uuid 4b 2)")" = 1 ] &&
	[ "$(count_keys a reserved)" = 0 ] && [ "$(count_keys b reserved)" = 0 ] &&
	[ "$(keys_left a)" = "2 3" ] && [ "$(keys_left b)" = "3 3" ]
ok $? "4a: IKE_SA deleted: each side released its reservation (a: 4a..5, 4a..6 left; b: 4b..2-4; b also keeps the copy of the flushed 4a..3)"
stop_pair

# --- 4b. a v3 and a v2 build of this project (main before v3): both use
# v2, no next key IDs, QKD-keyed rekeys from both sides
V2_REV=${V2_REV:-e65a848}
V2SO=$T/v2build/test/libstrongswan-qkd.so
if git -C "$HERE/../.." cat-file -e "$V2_REV^{commit}" 2>/dev/null &&
	mkdir -p "$T/v2src" &&
	git -C "$HERE/../.." archive "$V2_REV" charon-plugin include |
		tar -x -C "$T/v2src" &&
	make -s -C "$T/v2src/charon-plugin" REPO="$T/v2src" O="$T/v2build" \
		SS_SRC="$HERE/../../build/strongswan-src" "$V2SO" > "$T/v2build.log" 2>&1; then
	for first in a b; do
		scen s4b$first
		HT_NEXT=yes write_conf a require "rekey_first_child = yes"
		write_conf b require "rekey_first_child = yes"
		sed -i '/next_key_ids/d' "$T/b/strongswan.conf"
		SW_CHILDLESS=force swconf a 192.0.2.1 192.0.2.2 10.1.0.1/32 10.2.0.1/32 aes256-sha256-x25519
		SW_CHILDLESS=force swconf b 192.0.2.2 192.0.2.1 10.2.0.1/32 10.1.0.1/32 aes256-sha256-x25519
		add_keys a b 3 4c
		add_keys b a 3 c4
		start_pair "$TPLUGIN" "$V2SO"
		sw "$first" --initiate --child net >/dev/null 2>&1
		sleep 1.5
		grep -q "announced qkd protocol v2" "$T/a/charon.log" &&
			grep -q "announced qkd protocol v3" "$T/b/charon.log"
		ok $? "4b ($first first): a v3, b the v2 build of $V2_REV: each logs the other's version"
		s0=$(spis a)
		sw a --rekey --child net >/dev/null 2>&1
		s1=$(wait_change a "$s0")
		sw b --rekey --child net >/dev/null 2>&1
		s2=$(wait_change a "$s1")
		[ -n "$s1" ] && [ -n "$s2" ] && [ "$(nlines a 'keyed with a QKD key')" = 3 ] &&
			[ "$(nlines b 'keyed with a QKD key')" = 3 ] &&
			[ "$(aud a reserve)" = 0 ] && [ "$(aud a want)" = 0 ] &&
			[ "$(count_keys a reserved)" = 0 ] && ka=$(keys_left a) &&
			[ "$(keys_left b)" = "${ka#* } ${ka% *}" ] &&
			[ $((${ka% *} + ${ka#* })) = 3 ] && ! grep -q "invalid KE data" "$T/a/charon.log" "$T/b/charon.log"
		ok $? "4b ($first first): first CHILD_SA, a's and b's rekeys QKD-keyed (one key per side each), no next key IDs, nothing reserved or wanted"
		ping_ok
		ok $? "4b ($first first): traffic flows"
		stop_pair
	done
else
	ok 1 "4b: building the v2 plugin of $V2_REV failed (see $T/v2build.log)"
fi
for s in a b; do [ -d "$T/$s" ] && mv "$T/$s" "$T/$s-$SCEN"; done
! key_leaked "$KEYPFX" "$T"/[ab]-s4*/charon.log "$T"/[ab]-s4*/charon.out
ok $? "4: no key material in the logs of section 4"

echo "1..$n"
exit $((failed != 0))
