# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Shared helpers for the end-to-end tests of the strongSwan qkd plugin
# (sourced by e2e.sh and e2e-more.sh in the guest, and by the host test
# charon-plugin/tests/host-test.sh for TAP, cleanup, netns and the log
# check).  Bash only.
#
# Before sourcing, a test may set NS_A, NS_B (netns names) and LIB_TAG (name
# of the log directory in the results share and of $T).  Provides: TAP (ok,
# bail), cleanup trap, module/netns/pki setup, strongswan.conf and
# swanctl.conf writers, charon start/stop, key injection and query helpers,
# the key-material-in-logs check.
#
# Environment: QKD_KO (default kmod/qkd.ko), QKD_CLI (selftests/kmod/qkd-cli),
# QKD_PLUGIN (build/charon-plugin/libstrongswan-qkd.so), KEEP=1.

LIB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LIB_HERE/../.." && pwd)
QKD_KO=${QKD_KO:-$REPO/kmod/qkd.ko}
QKD_CLI=${QKD_CLI:-$REPO/selftests/kmod/qkd-cli}
QKD_PLUGIN=${QKD_PLUGIN:-$REPO/build/charon-plugin/libstrongswan-qkd.so}
PATH=$PATH:/usr/sbin:/sbin
LIB_TAG=${LIB_TAG:-charon-e2e}
T=$(mktemp -d "/tmp/qkd-$LIB_TAG.XXXXXX")
RES=${QKD_VM_RESULTS:-}
# charon logs and command outputs (in the results share inside the guest,
# so they survive a timeout)
L=$T
if [ -n "$RES" ] && [ -d "$RES" ]; then
	L=$RES/$LIB_TAG
	mkdir -p "$L"
fi
NS_A=${NS_A:-qkde2e-a}
NS_B=${NS_B:-qkde2e-b}
ADDR_A=192.0.2.1
ADDR_B=192.0.2.2
NET_A=10.1.0.1
NET_B=10.2.0.1
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
diag() {
	echo "# $*"
}
# trap cleanup EXIT; with keep-failed, $T is also kept when a test failed
cleanup() {	# cleanup [keep-failed]
	local p
	for p in "$T"/*.pid; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	sleep 1
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ] || { [ "${1:-}" = keep-failed ] && [ "$failed" -ne 0 ]; }; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}

ns_of() {	# ns_of a|b
	if [ "$1" = b ]; then echo "$NS_B"; else echo "$NS_A"; fi
}
other_of() {
	if [ "$1" = b ]; then echo a; else echo b; fi
}
addr_of() {	# addr_of a|b: the gateway's outer address
	if [ "$1" = b ]; then echo "$ADDR_B"; else echo "$ADDR_A"; fi
}
cli() {	# cli NAME ARGS...
	local ns
	ns=$(ns_of "$1")
	shift
	ip netns exec "$ns" "$QKD_CLI" "$@"
}
sw() {	# sw NAME swanctl-args...
	local name=$1 ns
	ns=$(ns_of "$1")
	shift
	timeout 150 ip netns exec "$ns" env STRONGSWAN_CONF="$T/$name/strongswan.conf" \
		SWANCTL_DIR="$T/$name/swanctl" swanctl "$@"
}
stat_of() {	# stat_of NAME COUNTER
	cli "$1" stats peer > "$L/stats-$1.out" 2>&1
	awk -v k="$2" '$1 == k { print $2 }' "$L/stats-$1.out"
}
# swanctl --list-sas of NAME; NAME "-": the listing on stdin (to parse one
# listing several times: every swanctl start costs seconds under TCG)
list_sas() {	# list_sas NAME|-
	if [ "$1" = - ]; then cat; else sw "$1" --list-sas 2>/dev/null; fi
}
# in/out SPIs of the CHILD_SA in state INSTALLED, as "in out"
child_spis() {	# child_spis NAME|- [CHILD]: "IN OUT" of the (named) installed CHILD_SA
	list_sas "$1" | awk -v c="${2:-}" '
		/^  [^ ].*: #[0-9]+, reqid/ { inst = ($0 ~ /INSTALLED/) && (c == "" || $1 == c ":") }
		inst && $1 == "in" { sub(",", "", $2); i = $2 }
		inst && $1 == "out" { sub(",", "", $2); o = $2 }
		END { if (i != "") print i, o }'
}
swapped() {	# swapped "X Y" -> "Y X"
	echo "$2 $1"
}
# number of CHILD_SAs in state INSTALLED
child_count() {	# child_count NAME|-
	list_sas "$1" | grep -c '^  [^ ].*: #[0-9]*, reqid.*INSTALLED'
}
# IKE SPIs of the established IKE_SA, as "spi_i_spi_r"
ike_spis() {	# ike_spis NAME|-
	list_sas "$1" | awk '
		/^[^ ].*: #[0-9]+, ESTABLISHED, IKEv2, / {
			s = $0; sub(/.*IKEv2, /, "", s); gsub(/\*/, "", s); sub(/ /, "-", s); print s; exit }'
}
# packets counted by the kernel on the SA with that SPI; NAME "-": the
# output of `ip -s xfrm state` on stdin
xfrm_packets() {	# xfrm_packets NAME|- SPI
	if [ "$1" = - ]; then cat; else ip -n "$(ns_of "$1")" -s xfrm state; fi | awk -v spi="0x$2" '
		$1 == "proto" && $2 == "esp" { s = $4; sub(/\(.*/, "", s); cur = (s == spi) }
		cur && /\(bytes\),/ && /\(packets\)/ { for (i = 1; i <= NF; i++) if ($i ~ /\(packets\)/) { split($i, a, "("); print a[1] + 0; exit } }'
}
# one line per ESP SA: "SRC SPI PACKETS" (no key material)
xfrm_snapshot() {	# xfrm_snapshot NAME
	ip -n "$(ns_of "$1")" -s xfrm state 2>/dev/null | awk '
		$1 == "src" { src = $2 }
		$1 == "proto" && $2 == "esp" { spi = $4 }
		spi != "" && /\(bytes\),/ && /\(packets\)/ {
			for (i = 1; i <= NF; i++) if ($i ~ /\(packets\)/) { split($i, a, "("); print src, spi, a[1] + 0 }
			spi = "" }'
}
# the same lines for every SA the kernel reports (new, updated, deleted: a
# deleted SA's message carries its final counters); runs until killed.
# Only the SA group: "all" would also subscribe to async events, which the
# kernel then sends every few packets per SA (net.core.xfrm_aevent_rseqth);
# at 1000 packets/s they overran the socket and SA deletions were lost.
# Only src/SPI/packets leave awk: the messages also hold key material.
xfrm_watch() {	# xfrm_watch NAME OUTFILE (stop with xfrm_unwatch NAME)
	ip -s -n "$(ns_of "$1")" xfrm monitor SA 2>/dev/null > >(awk '
		match($0, /src [^ ]+ dst /) { split(substr($0, RSTART), f, " "); src = f[2] }
		$1 == "proto" && $2 == "esp" { spi = $4 }
		spi != "" && /\(bytes\),/ && /\(packets\)/ {
			for (i = 1; i <= NF; i++) if ($i ~ /\(packets\)/) { split($i, a, "("); if (spi !~ /^0x0+\(/) print src, spi, a[1] + 0 }
			spi = ""; fflush() }' > "$2") &
	echo $! > "$T/watch-$1.pid"
}
xfrm_unwatch() {	# xfrm_unwatch NAME
	[ -f "$T/watch-$1.pid" ] && kill "$(cat "$T/watch-$1.pid")" 2>/dev/null
	rm -f "$T/watch-$1.pid"
}
# highest counter per SA of xfrm_watch/xfrm_snapshot lines, summed per
# direction: "OUT IN SAS_WITH_PACKETS"
sums() {	# sums FILE LOCAL_ADDR
	awk -v me="$2" '{ k = $1 " " $2; if (!(k in m) || $3 > m[k]) m[k] = $3 }
		END { for (k in m) { split(k, a, " "); if (a[1] == me) o += m[k]; else i += m[k]; if (m[k] > 0) s++ }
			print o + 0, i + 0, s + 0 }' "$1"
}
# ESP SPIs installed in the kernel, sorted, one line
xfrm_spis() {	# xfrm_spis NAME
	ip -n "$(ns_of "$1")" xfrm state 2>/dev/null |
		awk '$1 == "proto" && $2 == "esp" { print $4 }' | sort | tr '\n' ' '
}
ping_ok() {
	ip netns exec "$NS_A" busybox ping -c "${1:-3}" -W 3 -I "$NET_A" "$NET_B" \
		>> "$L/ping.out" 2>&1
}
# ping COUNT times, then P = the packets the kernel counted on a's ESP SA
# SPI; succeeds if every ping was answered and P is COUNT (at-least: at
# least COUNT, when other traffic may share the SA)
ping_counted() {	# ping_counted SPI COUNT [at-least]
	local r=0
	ping_ok "$2" || r=1
	P=$(xfrm_packets a "$1")
	[ $r = 0 ] && [ -n "$P" ] || return 1
	if [ "${3:-}" = at-least ]; then [ "$P" -ge "$2" ]; else [ "$P" = "$2" ]; fi
}
# (all waits use wall-clock deadlines: under a loaded TCG guest every
# process start costs a lot, so iteration counts are no measure of time)
wait_log() {	# wait_log NAME PATTERN COUNT TIMEOUT_S
	local end=$((SECONDS + $4))
	while :; do
		[ "$(grep -c -- "$2" "$L/$1-charon.log" 2>/dev/null)" -ge "$3" ] && return 0
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
logcount() {	# logcount NAME PATTERN
	grep -c -- "$2" "$L/$1-charon.log" 2>/dev/null
}
keyline() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
# inject one key into one side (recorded for the final log check)
inject1() {	# inject1 NAME ROLE ID [KEY]
	local k=${4:-$(keyline)}
	echo "$k" >> "$T/injected.keys"
	echo "$2 $3 $k" | cli "$1" inject peer > /dev/null
}
keyid() {	# keyid PREFIX N
	printf '%s%030x' "$1" "$2"
}
inject() {	# inject FROM TO PREFIX COUNT: keys FROM takes as initiator
	local from=$1 to=$2 k=$T/inj-keys
	# one od and one awk for all keys (every process start costs under TCG);
	# IDs as keyid makes them
	od -An -v -tx1 -N$((32 * $4)) /dev/urandom | tr -d ' \n' | fold -w 64 > "$k" &&
		echo >> "$k" &&
		awk -v p="$3" -v f="$T/inj-$from" -v t="$T/inj-$to" 'NF {
			id = sprintf("%s%030x", p, NR)
			print "initiator", id, $1 > f; print "responder", id, $1 > t }' "$k" &&
		grep . "$k" >> "$T/injected.keys" &&
		cli "$from" inject peer < "$T/inj-$from" >/dev/null &&
		cli "$to" inject peer < "$T/inj-$to" >/dev/null
	local rc=$?
	rm -f "$T/inj-$from" "$T/inj-$to" "$k"
	return $rc
}
# key_leaked KEYLIST FILES...: succeeds if the first 8 bytes of any key in
# KEYLIST (hex, one a line, as in $T/injected.keys) appear in the files as
# contiguous hex, as strongSwan's %B dump ("AA BB CC ..."), or in base64
# (every 3-byte alignment)
key_leaked() {
	local list=$1 p a pat=$T/key-patterns
	shift
	: > "$pat"
	while read -r p; do
		p=${p:0:16}
		[ -n "$p" ] || continue
		echo "$p" >> "$pat"
		echo "$p" | sed 's/../& /g; s/ $//' >> "$pat"
		for a in 0 1 2; do
			printf '%s' "${p:$((2 * a)):12}" | xxd -r -p | base64 >> "$pat"
		done
	done < "$list"
	[ -s "$pat" ] && grep -Fiq -f "$pat" "$@"
}
# fresh module links (counters start at 0) in both namespaces
reset_links() {
	cli a link-del peer > /dev/null 2>&1
	cli b link-del peer > /dev/null 2>&1
	cli a link-add peer sae-a sae-b && cli b link-add peer sae-b sae-a
}
# audit lines of the link, only those whose key ID starts with a prefix
audit_of() {	# audit_of NAME PREFIX
	cli "$1" audit peer 2>/dev/null | grep -E " id=($2)"
}

# ---------------------------------------------------------------- setup
check_prereqs() {
	[ "$(id -u)" = 0 ] || bail "needs root"
	[ -f "$QKD_KO" ] || bail "$QKD_KO missing"
	[ -x "$QKD_CLI" ] || bail "$QKD_CLI missing (make -C selftests/kmod qkd-cli)"
	[ -f "$QKD_PLUGIN" ] || bail "$QKD_PLUGIN missing (make -C charon-plugin)"
	[ -f /proc/modules ] || bail "no module support (run in the guest: selftests/vm/run)"
}

setup_module() {
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
}

setup_netns() {
	ip netns add "$NS_A" && ip netns add "$NS_B" &&
	ip link add qkdva netns "$NS_A" type veth peer name qkdvb netns "$NS_B" &&
	ip -n "$NS_A" addr add $ADDR_A/24 dev qkdva &&
	ip -n "$NS_B" addr add $ADDR_B/24 dev qkdvb &&
	ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up &&
	ip -n "$NS_A" link set qkdva up && ip -n "$NS_B" link set qkdvb up &&
	ip -n "$NS_A" addr add $NET_A/32 dev lo &&
	ip -n "$NS_B" addr add $NET_B/32 dev lo
}

# CA and gateway certificates (ECDSA: fast under TCG) in $T/pki
make_pki() {
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
}

# strongswan.conf of one instance.  Globals read:
#   CONF_PLUGIN  yes: load the qkd plugin (default yes)
#   CONF_PRIV    accept_private_algs (default yes)
#   CONF_QKD     text inside plugins.qkd {} (links etc.)
#   CONF_LOAD    extra plugins to load (e.g. "stroke")
#   CONF_CHARON  extra charon settings
#   CONF_IKE     filelog level of group ike (default 2; 3 is the most
#                verbose level at which strongSwan logs no secrets)
#   CONF_LOG_MS  yes: log time stamps with milliseconds (HH:MM:SS.mmm)
write_conf() {	# write_conf NAME
	local name=$1 qkd=qkd
	[ "${CONF_PLUGIN:-yes}" = yes ] || qkd=
	mkdir -p "$T/$name"
	cat > "$T/$name/strongswan.conf" <<EOC
charon {
	load = random nonce openssl hmac sha2 kdf pem pkcs1 pkcs8 pubkey x509 revocation constraints socket-default vici kernel-netlink updown ${CONF_LOAD:-} $qkd
	accept_private_algs = ${CONF_PRIV:-yes}
	retransmit_tries = 4
	retransmit_timeout = ${CONF_RTO:-4}
	${CONF_CHARON:-}
	filelog {
		log {
			path = $L/$name-charon.log
			default = 1
			ike = ${CONF_IKE:-2}
			flush_line = yes
			time_format = %T
			time_add_ms = ${CONF_LOG_MS:-no}
		}
	}
	plugins {
		vici { socket = unix://$T/$name/charon.vici }
		stroke { socket = unix://$T/$name/charon.ctl }
		qkd {
			${CONF_QKD:-}
		}
	}
}
swanctl {
	socket = unix://$T/$name/charon.vici
	load = pem pkcs1 pkcs8 x509 revocation constraints pubkey openssl random
}
EOC
}
# qkd { } text: one link to the other gateway, by identity
qkd_link_by_id() {	# qkd_link_by_id NAME POLICY WAIT_MS [EXTRA]
	local o
	o=$(other_of "$1")
	cat <<EOC
${4:-}
			links {
				to-$o {
					link = peer
					remote_id = "C=CH, O=qkd-test, CN=gw-$o"
					policy = $2
					wait_ms = $3
				}
			}
EOC
}
# qkd { } text: one link to the other gateway, by address
qkd_link_by_addr() {	# qkd_link_by_addr NAME POLICY WAIT_MS [EXTRA]
	local o r=$ADDR_B
	o=$(other_of "$1")
	[ "$1" = b ] && r=$ADDR_A
	cat <<EOC
${4:-}
			links {
				to-$o {
					link = peer
					remote_addrs = $r
					policy = $2
					wait_ms = $3
				}
			}
EOC
}

# ADDR/32 or ADDR/128 (IPv4 or IPv6 host prefix)
host_net() {	# host_net ADDR
	case $1 in
	*:*) echo "$1/128" ;;
	*) echo "$1/32" ;;
	esac
}

# swanctl.conf and credentials of one instance (ADDR_A/B, NET_A/B may be
# IPv4 or IPv6).  Globals read:
#   SW_PROPOSALS  IKE proposals (default aes256-sha256-x25519)
#   SW_ESP        esp_proposals (default aes256gcm16-qkd)
#   SW_REMOTE     extra lines in remote {}
#   SW_CHILDLESS  childless (force: the first CHILD_SA in CREATE_CHILD_SA,
#                 with a key exchange; policy require refuses the IKE_AUTH one)
#   SW_CHILDREN   more sections inside children {} (besides "net")
write_swanctl() {	# write_swanctl NAME
	local g=$1 o l=$ADDR_A r=$ADDR_B lts rts
	lts=$(host_net "$NET_A") rts=$(host_net "$NET_B")
	o=$(other_of "$g")
	[ "$g" = b ] && { l=$ADDR_B; r=$ADDR_A; lts=$(host_net "$NET_B"); rts=$(host_net "$NET_A"); }
	rm -rf "$T/$g/swanctl"
	mkdir -p "$T/$g/swanctl/x509ca" "$T/$g/swanctl/x509" "$T/$g/swanctl/ecdsa" \
		"$T/$g/swanctl/x509crl"
	cp "$T/pki/ca.crt" "$T/$g/swanctl/x509ca/"
	cp "$T/pki/$g.crt" "$T/$g/swanctl/x509/"
	cp "$T/pki/$g.key" "$T/$g/swanctl/ecdsa/"
	cat > "$T/$g/swanctl/swanctl.conf" <<EOC
connections {
	gw {
		${SW_CHILDLESS:+childless = $SW_CHILDLESS}
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
			${SW_REMOTE:-}
		}
		children {
			net {
				mode = tunnel
				esp_proposals = ${SW_ESP:-aes256gcm16-qkd}
				local_ts = $lts
				remote_ts = $rts
				# no automatic rekeys during the test (rekey_time = 0 with a
				# life_time makes the kernel's soft expiry fire at once)
				rekey_time = 20h
				life_time = 24h
			}
			${SW_CHILDREN:-}
		}
		proposals = ${SW_PROPOSALS:-aes256-sha256-x25519}
		rekey_time = 20h
		over_time = 4h
	}
}
EOC
}

wait_socket() {	# wait_socket PATH TIMEOUT_S
	local end=$((SECONDS + $2))
	until [ -S "$1" ]; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}
start_charon() {	# start_charon NAME
	local ns
	ns=$(ns_of "$1")
	rm -f "$T/$1/charon.vici"
	ip netns exec "$ns" sh -c "mount -t tmpfs tmpfs /run && exec env \
		STRONGSWAN_CONF=$T/$1/strongswan.conf /usr/lib/ipsec/charon" \
		> "$L/$1.out" 2>&1 &
	echo $! > "$T/$1.pid"
	wait_socket "$T/$1/charon.vici" 60
}
# starter (ipsec.conf) in a private mount namespace of the gateway's netns:
# /etc/ipsec.conf, /etc/ipsec.secrets, /etc/ipsec.d and /etc/strongswan.conf
# are bind mounts of the instance's own files; /run is private
start_starter() {	# start_starter NAME
	local ns d=$T/$1/etc
	ns=$(ns_of "$1")
	rm -f "$T/$1/charon.vici"
	ip netns exec "$ns" sh -c "mount -t tmpfs tmpfs /run &&
		mount --bind $d/ipsec.conf /etc/ipsec.conf &&
		mount --bind $d/ipsec.secrets /etc/ipsec.secrets &&
		mount --bind $d/ipsec.d /etc/ipsec.d &&
		mount --bind $T/$1/strongswan.conf /etc/strongswan.conf &&
		exec env STRONGSWAN_CONF=$T/$1/strongswan.conf ipsec start --nofork" \
		> "$L/$1.out" 2>&1 &
	echo $! > "$T/$1.pid"
	wait_socket "$T/$1/charon.vici" 60
}
# run a command in the mount namespace and netns of NAME's starter
in_starter() {	# in_starter NAME CMD...
	local pid name=$1
	pid=$(cat "$T/$name.pid")
	shift
	nsenter -t "$pid" -m -n env STRONGSWAN_CONF="$T/$name/strongswan.conf" "$@"
}
stop_charon() {	# stop_charon NAME
	local pid
	[ -f "$T/$1.pid" ] || return 0
	pid=$(cat "$T/$1.pid")
	kill "$pid" 2>/dev/null
	local end=$((SECONDS + 15))
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$T/$1.pid"
	# charon removes its SAs and policies on exit; make sure
	ip -n "$(ns_of "$1")" xfrm state flush 2>/dev/null
	ip -n "$(ns_of "$1")" xfrm policy flush 2>/dev/null
}
# keep the logs of a finished scenario under its own name
rotate_logs() {	# rotate_logs TAG
	local g
	for g in a b; do
		[ -f "$L/$g-charon.log" ] && mv "$L/$g-charon.log" "$L/$1-$g-charon.log"
		[ -f "$L/$g.out" ] && mv "$L/$g.out" "$L/$1-$g.out"
	done
}

# ------------------------------------------------------------------------
# The real key path: qkd-kms-sim plays KME A and KME B (each on two
# replica endpoints over one key store) in a's netns, one qkd-agent per
# gateway (role both) feeds its module.  Their pid files in $T: cleanup
# stops them.  QKD_AGENT, QKD_SIM override the binaries.
AGENT=${QKD_AGENT:-$REPO/userspace/agent/qkd-agent}
SIM=${QKD_SIM:-$REPO/userspace/kms-sim/qkd-kms-sim}
SIM_ADMIN_PORT=18447
wait_cond() {	# wait_cond TIMEOUT_S CMD...: CMD until it succeeds
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.3
	done
}
# responder keys held by a link (the peer's, fetched by ID)
resp_keys() {	# resp_keys NAME
	local kb ik
	kb=$(stat_of "$1" keys_buffered) ik=$(stat_of "$1" initiator_keys)
	echo $((${kb:-0} - ${ik:-0}))
}
pool_ge() { [ "$(stat_of "$1" initiator_keys)" -ge "$2" ] 2>/dev/null; }
resp_is() { [ "$(resp_keys "$1")" = "$2" ]; }
# KME and SAE certificates in $T/kpki (userspace/tests/mkcerts.sh)
make_kme_pki() {
	"$REPO/userspace/tests/mkcerts.sh" "$T/kpki" > "$L/mkcerts.out" 2>&1
}
start_sim() {	# start_sim [EXTRA_ARGS...]: KME A on :18443/:18445, B on :18444/:18446
	local P=$T/kpki
	ip netns exec "$NS_A" "$SIM" --cert-a "$P/kme.crt" --key-a "$P/kme.key" \
		--ca "$P/ca.crt" --listen-a "$ADDR_A:18443" --listen-b "$ADDR_A:18444" \
		--listen-a2 "$ADDR_A:18445" --listen-b2 "$ADDR_A:18446" \
		--admin "$ADDR_A:$SIM_ADMIN_PORT" "$@" > "$L/sim.out" 2> "$L/sim.log" &
	echo $! > "$T/sim.pid"
	wait_cond 30 grep -q ready "$L/sim.out"
}
# the simulator's admin endpoint: prints the HTTP status
adm() {	# adm PATH?QUERY
	ip netns exec "$NS_A" curl -s -o /dev/null -w '%{http_code}' \
		"http://$ADDR_A:$SIM_ADMIN_PORT/admin/$1"
}
# $T/agent-NAME.conf: link "peer", both replicas of the gateway's KME;
# AGENT_EXTRA: more [link peer] lines
write_agent_conf() {	# write_agent_conf NAME
	local g=$1 S O port=18443 P=$T/kpki
	S=${g^^} O=$(other_of "$g"); O=${O^^}
	[ "$g" = b ] && port=18444
	cat > "$T/agent-$g.conf" <<EOC
[agent]
stats_interval = 2
metrics_listen = $(addr_of "$g"):19464
plugin_metrics = $T/$g-plugin.prom
[link peer]
kme_url = https://$ADDR_A:$port, https://$ADDR_A:$((port + 2))
kme_failback = 3
local_sae_id = SAE_$S
remote_sae_id = SAE_$O
role = both
key_size = 256
client_cert = $P/SAE_$S.crt
client_key = $P/SAE_$S.key
ca_cert = $P/ca.crt
low_watermark = 3
high_watermark = 6
poll_interval = 1
backoff_base_ms = 100
backoff_max_ms = 1000
${AGENT_EXTRA:-}
EOC
}
start_agent() {	# start_agent NAME: appends to $L/agent-NAME.log
	ip netns exec "$(ns_of "$1")" "$AGENT" -c "$T/agent-$1.conf" -v \
		> /dev/null 2>> "$L/agent-$1.log" &
	echo $! > "$T/agent-$1.pid"
}
