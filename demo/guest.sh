#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qkd-ipsec demo, in-guest part (started by demo/run through selftests/vm/run;
# needs the guest: the qkd module and the kernel's ESP).
#
# Two sites, each a gateway netns with a LAN netns behind it, joined by a
# "WAN" veth; a fifth netns holds the simulated QKD link (qkd-kms-sim: KME A
# and KME B), reachable from each gateway over its own veth.  Each gateway
# runs its own qkd module store (the module is per netns), a qkd-agent and
# charon with the qkd plugin.  A ping stream crosses the tunnel while the
# script rekeys the child SA from alternating sides, cuts the QKD link,
# restores it, and checks what it showed.  Exit status 0 only if every check
# passed.  See demo/README.md.
#
# Environment: DEMO_DURATION (seconds of traffic, default 60), DEMO_KEEP=1,
# DEMO_SELFTEST_LEAK=1 (leaks part of the canary key into a log on purpose:
# the key-material check must then fail; a test of the test).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PATH=$PATH:/usr/sbin:/sbin
DURATION=${DEMO_DURATION:-60}
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 30 ]] || { echo "DEMO_DURATION must be >= 30"; exit 2; }

QKD_KO=$REPO/kmod/qkd.ko
PLUGIN=$REPO/build/charon-plugin/libstrongswan-qkd.so
QKDCTL=$REPO/userspace/qkdctl/qkdctl
AGENT=$REPO/userspace/agent/qkd-agent
SIM=$REPO/userspace/kms-sim/qkd-kms-sim
# DEMO_INSTALLED=1: the module, plugin and programs as the Debian packages
# install them (selftests/pkg-test.sh --demo runs this script in a root
# with the packages installed and the module loaded).
if [[ ${DEMO_INSTALLED:-0} == 1 ]]; then
	QKD_KO=$(modinfo -n qkd 2>/dev/null || echo "/lib/modules/$(uname -r)/updates/dkms/qkd.ko")
	PLUGIN=/usr/lib/ipsec/plugins/libstrongswan-qkd.so
	QKDCTL=/usr/sbin/qkdctl AGENT=/usr/sbin/qkd-agent SIM=/usr/sbin/qkd-kms-sim
fi

T=$(mktemp -d /tmp/qkd-demo.XXXXXX)	# configs, certificates, private keys
chmod 700 "$T"
L=$T/logs				# logs (copied to the results share)
mkdir -p "$L"
RES=${QKD_VM_RESULTS:-}

NS_GA=qd-gw-a NS_GB=qd-gw-b NS_LA=qd-lan-a NS_LB=qd-lan-b NS_K=qd-qkdlink
# the simulator's admin endpoint (plain HTTP, no authentication): on a
# management veth that only the guest's root netns (this script) reaches
ADMIN_IP=10.99.0.2 ADMIN_PORT=8445
KEY_RATE=1024			# bit/s: 4 keys of 256 bits per second
pids=()

# Under TCG every exec costs (dynamic linking is emulated): the loops below
# use bash builtins where they can (EPOCHREALTIME, read -t as sleep, read
# from the log files' descriptors instead of grep).
us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
T0=$(us)
ts() { local d=$(( ($(us) - T0) / 100000 )); printf '%02d:%02d.%d' $((d / 600)) $((d / 10 % 60)) $((d % 10)); }
now() { echo $(( ($(us) - T0) / 1000000 )); }
say() { echo "[$(ts)] $*"; }
hdr() { echo; echo "=== $* ==="; }
die() { say "FAILED: $*"; exit 1; }

# ------------------------------------------------------------------ cleanup
cleanup() {
	local rc=$? p ns alive
	set +e
	# logs first: they are what is left to look at if anything below hangs
	if [[ -n $RES && -d $RES ]]; then
		mkdir -p "$RES/demo-logs" && cp -a "$L"/. "$RES/demo-logs/" 2>/dev/null
	fi
	: >"$T/stop-ping" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	# up to 5 s for all of them together, then SIGKILL
	for _ in $(seq 25); do
		alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.2
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	# only our own children: a bare `wait` would also wait for the tee below
	[[ ${#pids[@]} -gt 0 ]] && wait "${pids[@]}" 2>/dev/null
	for ns in $NS_LA $NS_LB $NS_GA $NS_GB $NS_K qd-warm; do ip netns del "$ns" 2>/dev/null; done
	if [[ -n $RES && -d $RES ]]; then
		cp -a "$L"/. "$RES/demo-logs/" 2>/dev/null
	fi
	if [[ ${DEMO_KEEP:-0} == 1 ]]; then echo "# kept $T (guest tmpfs)"; else rm -rf "$T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# all output also goes to a log, so that the key-material check covers it
exec > >(tee "$L/demo-output.log") 2>&1

gw_ns() { [[ $1 == a ]] && echo $NS_GA || echo $NS_GB; }
other() { [[ $1 == a ]] && echo b || echo a; }
UP() { echo "$1" | tr a-z A-Z; }
sw() {	# sw SITE swanctl-args... (vici is a unix socket: no netns needed)
	local s=$1; shift
	STRONGSWAN_CONF="$T/$s/strongswan.conf" SWANCTL_DIR="$T/$s/swanctl" timeout 120 swanctl "$@"
}
qctl() { local s=$1; shift; "$QKDCTL" -n "$(gw_ns "$s")" "$@"; }
sim() {	# sim PATH: GET /admin/PATH from the simulator; body in SIM
	local fd line
	SIM=
	exec {fd}<>"/dev/tcp/$ADMIN_IP/$ADMIN_PORT" 2>/dev/null || return 1
	printf 'GET /admin/%s HTTP/1.0\r\nHost: kms-sim\r\n\r\n' "$1" >&"$fd"
	while IFS= read -r -t 10 line <&"$fd"; do SIM=$line; done
	[[ -n $line ]] && SIM=$line
	exec {fd}>&-
	[[ $SIM == "{"* ]]
}
mkfifo "$T/nap"
exec {NAP}<>"$T/nap"
nap() { read -r -t "$1" -u "$NAP" _ || true; }	# sleep without a fork
wait_for() {	# wait_for SECONDS CMD...
	local n=$(($1 * 5)); shift
	while ((n-- > 0)); do "$@" && return 0; nap 0.2; done
	return 1
}

# ------------------------------------------------------------------ checks
for f in "$QKD_KO" "$PLUGIN" "$QKDCTL" "$AGENT" "$SIM"; do
	[[ -e $f ]] || die "$f missing: run 'make' first"
done
for t in pki swanctl perl busybox; do
	command -v $t >/dev/null || die "$t not found: run 'make deps'"
done
[[ -f /proc/modules ]] || die "no module support: run demo/run (it boots the guest)"

hdr "qkd-ipsec demo: two sites keyed by a simulated QKD link (${DURATION} s of traffic)"
say "guest kernel $(uname -r); loading the qkd module, veth, XFRM, ESP"
grep -q '^qkd ' /proc/modules || insmod "$QKD_KO"
modprobe -a veth xfrm_user esp4 xfrm4_tunnel tunnel4 2>/dev/null || true
[[ $PLUGIN -ef /usr/lib/ipsec/plugins/libstrongswan-qkd.so ]] ||
	install -m 0644 "$PLUGIN" /usr/lib/ipsec/plugins/libstrongswan-qkd.so

# The first GCM SA loads and self-tests the crypto modules (seconds under
# TCG): do it in the background now, not during the first IKE exchange.
(
	ip netns add qd-warm
	ip -n qd-warm xfrm state add src 192.0.2.9 dst 192.0.2.8 proto esp spi 0x100 reqid 1 \
		mode tunnel aead 'rfc4106(gcm(aes))' "0x$(od -An -tx1 -N36 /dev/urandom | tr -d ' \n')" 128
	ip netns del qd-warm
) >/dev/null 2>&1 &
WARM_PID=$!

# ------------------------------------------------------------------ network
say "network: gateways A, B (WAN 198.51.100.0/24), LANs 10.1.0.0/24, 10.2.0.0/24, QKD link netns"
for ns in $NS_GA $NS_GB $NS_LA $NS_LB $NS_K; do ip netns add "$ns"; done
# one ip process per namespace (every exec costs under TCG)
ip -b - <<EOF
link add wan0 netns $NS_GA type veth peer name wan0 netns $NS_GB
link add lan0 netns $NS_GA type veth peer name eth0 netns $NS_LA
link add lan0 netns $NS_GB type veth peer name eth0 netns $NS_LB
link add qkd0 netns $NS_GA type veth peer name kme-a netns $NS_K
link add qkd0 netns $NS_GB type veth peer name kme-b netns $NS_K
link add qd-mgmt type veth peer name mgmt netns $NS_K
EOF
ip -n $NS_K -b - <<EOF
link set lo up
addr add 10.99.1.1/30 dev kme-a
link set kme-a up
addr add 10.99.2.1/30 dev kme-b
link set kme-b up
addr add 10.99.0.2/30 dev mgmt
link set mgmt up
EOF
ip addr add 10.99.0.1/30 dev qd-mgmt
ip link set qd-mgmt up

# ------------------------------------------------------------------ PKI
P=$T/pki
if [[ -n ${DEMO_PKI:-} && -f ${DEMO_PKI}/ipsec-ca.crt ]]; then
	cp -a "$DEMO_PKI" "$P"	# made on the host by demo/run (demo/mkpki.sh)
	say "PKI: demo CAs and certificates, made with pki for this run (demo/mkpki.sh)"
else
	say "PKI: making the demo CAs and certificates with pki (slow under TCG)"
	"$HERE/mkpki.sh" "$P" >"$L/pki.log" 2>&1 || die "pki failed (see pki.log)"
fi

# ------------------------------------------------------------------ QKD link
# started first: it takes the longest to come up under TCG
say "QKD link: qkd-kms-sim (own netns): KME A on 10.99.1.1, KME B on 10.99.2.1, $KEY_RATE bit/s"
ip netns exec $NS_K "$SIM" --cert-a "$P/kme-a.crt" --key-a "$P/kme-a.key" \
	--cert-b "$P/kme-b.crt" --key-b "$P/kme-b.key" --ca "$P/kms-ca.crt" \
	--listen-a 10.99.1.1:8443 --listen-b 10.99.2.1:8443 --admin $ADMIN_IP:$ADMIN_PORT \
	--sae-a SAE_A --sae-b SAE_B --key-rate $KEY_RATE --max-key-count 2 \
	--initial-keys 2 >"$L/kms-sim.out" 2>"$L/kms-sim.log" </dev/null &
pids+=($!)

for s in a b; do
	n=1; [[ $s == b ]] && n=2
	ip -n "$(gw_ns $s)" -b - <<EOF
link set lo up
addr add 198.51.100.$n/24 dev wan0
link set wan0 up
addr add 10.$n.0.1/24 dev lan0
link set lan0 up
addr add 10.99.$n.2/30 dev qkd0
link set qkd0 up
EOF
	ip -n "$([[ $s == a ]] && echo $NS_LA || echo $NS_LB)" -b - <<EOF
link set lo up
addr add 10.$n.0.10/24 dev eth0
link set eth0 up
route add default via 10.$n.0.1
EOF
	echo 1 | ip netns exec "$(gw_ns $s)" tee /proc/sys/net/ipv4/ip_forward >/dev/null
done

# ------------------------------------------------------------------ agents
# started at once: they retry (backoff <= 1 s) until the simulator is up
for s in a b; do
	o=$(other "$s"); S=$(UP "$s"); O=$(UP "$o")
	n=1; [[ $s == b ]] && n=2
	mkdir -p "$T/$s"
	cat >"$T/$s/qkd-agent.conf" <<EOF
# qkd-agent of gateway $s: feeds link site-$o of this netns' qkd module
[agent]
metrics_listen = 127.0.0.1:9464
log_level = info
stats_interval = 2

[link site-$o]
kme_url = https://10.99.$n.1:8443
local_sae_id = SAE_$S
remote_sae_id = SAE_$O
client_cert = $P/SAE_$S.crt
client_key = $P/SAE_$S.key
ca_cert = $P/kms-ca.crt
role = both
key_size = 256
# tiny pools so that an outage shows within seconds
low_watermark = 1
high_watermark = 2
poll_interval = 1
backoff_base_ms = 100
backoff_max_ms = 1000
EOF
	ip netns exec "$(gw_ns "$s")" "$AGENT" -c "$T/$s/qkd-agent.conf" >/dev/null 2>"$L/agent-$s.log" </dev/null &
	pids+=($!)
done

# ------------------------------------------------------------------ charon
for s in a b; do
	o=$(other "$s")
	l=198.51.100.1 r=198.51.100.2 lts=10.1.0.0/24 rts=10.2.0.0/24
	[[ $s == b ]] && { l=198.51.100.2 r=198.51.100.1 lts=10.2.0.0/24 rts=10.1.0.0/24; }
	first=; [[ $s == a ]] && first="rekey_first_child = yes"
	mkdir -p "$T/$s/swanctl/x509ca" "$T/$s/swanctl/x509" "$T/$s/swanctl/ecdsa"
	cp "$P/ipsec-ca.crt" "$T/$s/swanctl/x509ca/"
	cp "$P/gw-$s.crt" "$T/$s/swanctl/x509/"
	cp "$P/gw-$s.key" "$T/$s/swanctl/ecdsa/"
	cat >"$T/$s/strongswan.conf" <<EOF
charon {
	load = random nonce openssl hmac sha2 kdf pem pkcs1 pkcs8 pubkey x509 revocation constraints socket-default vici kernel-netlink updown qkd
	# the qkd method (64242) is a private-use number: both peers must accept it
	accept_private_algs = yes
	retransmit_timeout = 10
	retransmit_tries = 3
	filelog {
		log {
			path = $L/charon-$s.log
			default = 1
			ike = 1
			flush_line = yes
			time_format = %T
		}
	}
	plugins {
		vici { socket = unix://$T/$s/charon.vici }
		qkd {
			policy = require
			$first
			links {
				site-$o {
					link = site-$o
					remote_id = "C=CH, O=qkd-demo, CN=gw-$o"
					policy = prefer
					# generous: under a loaded TCG host the agent's dec_keys can take seconds
					wait_ms = 8000
				}
			}
		}
	}
}
swanctl {
	socket = unix://$T/$s/charon.vici
	load = pem pkcs1 pkcs8 x509 revocation constraints pubkey openssl random
}
EOF
	cat >"$T/$s/swanctl/swanctl.conf" <<EOF
connections {
	site-$o {
		local_addrs = $l
		remote_addrs = $r
		proposals = aes256-sha256-x25519
		rekey_time = 0
		local {
			auth = pubkey
			certs = gw-$s.crt
			id = "C=CH, O=qkd-demo, CN=gw-$s"
		}
		remote {
			auth = pubkey
			id = "C=CH, O=qkd-demo, CN=gw-$o"
		}
		children {
			net {
				mode = tunnel
				local_ts = $lts
				remote_ts = $rts
				# every rekey: X25519 + one QKD key (hybrid)
				esp_proposals = aes256gcm16-qkd
				# rekeys are driven by this script (swanctl --rekey)
				rekey_time = 20h
				life_time = 24h
			}
		}
	}
}
EOF
	ns=$(gw_ns "$s")
	ip netns exec "$ns" sh -c "mount -t tmpfs tmpfs /run && exec env \
		STRONGSWAN_CONF=$T/$s/strongswan.conf /usr/lib/ipsec/charon" >"$L/charon-$s.out" 2>&1 </dev/null &
	pids+=($!)
done
for s in a b; do
	wait_for 60 test -S "$T/$s/charon.vici" || die "charon $s did not start"
	sw "$s" --load-all >"$L/swanctl-load-$s.log" 2>&1 || die "swanctl --load-all ($s)"
done
# one long-running vici client per gateway for the rekeys (swanctl takes
# seconds to start under TCG)
declare -A VW VR
for s in a b; do
	mkfifo "$T/vici-$s.in" "$T/vici-$s.out"
	perl "$HERE/vici-rekey.pl" "$T/$s/charon.vici" <"$T/vici-$s.in" >"$T/vici-$s.out" 2>>"$L/vici-$s.log" &
	pids+=($!)
	exec {fd}>"$T/vici-$s.in"; VW[$s]=$fd
	exec {fd}<"$T/vici-$s.out"; VR[$s]=$fd
done
vici_rekey() {	# vici_rekey SITE: ask charon of SITE to rekey CHILD_SA net
	local r
	echo net >&"${VW[$1]}"
	IFS= read -r -t 30 r <&"${VR[$1]}" || r="fail: no answer"
	echo "$(ts) $1 rekey: $r" >>"$L/rekey.log"
	[[ $r == ok ]]
}
say "charon $(/usr/lib/ipsec/charon --version 2>/dev/null | tail -n 1) with the qkd plugin on both gateways; configs loaded"

# ------------------------------------------------------------------ state
# Follow the charon logs through open descriptors (no grep per poll).
declare -A FD PART EST QK FB CIN COUT KEY AUTHL
for s in a b; do
	exec {fd}<"$L/charon-$s.log"
	FD[$s]=$fd PART[$s]= EST[$s]=0 QK[$s]=0 FB[$s]=0 CIN[$s]= COUT[$s]= KEY[$s]= AUTHL[$s]=
done
re_est='CHILD_SA net\{[0-9]+\} established with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o'
re_key='qkd: took key ([0-9a-f-]{36})'
drain() {	# drain SITE: read the new lines of its charon log
	local s=$1 line
	while :; do
		if IFS= read -r line <&"${FD[$s]}"; then
			line=${PART[$s]}$line PART[$s]=
		else
			PART[$s]+=$line	# EOF, maybe inside a line
			return 0
		fi
		case $line in
		*"established with SPIs"*)
			if [[ $line =~ $re_est ]]; then
				CIN[$s]=${BASH_REMATCH[1]} COUT[$s]=${BASH_REMATCH[2]} EST[$s]=$((EST[$s] + 1))
			fi ;;
		*"qkd: took key"*) [[ $line =~ $re_key ]] && KEY[$s]=${BASH_REMATCH[1]} ;;
		*"keyed with a QKD key"*) QK[$s]=$((QK[$s] + 1)) ;;
		*"falling back to X25519 alone"*) FB[$s]=$((FB[$s] + 1)) ;;
		*"authentication of '"*"' with "*" successful"*) AUTHL[$s]+="    gw ${s^^}: ${line#*\[IKE\] }"$'\n' ;;
		esac
	done
}
# ping replies so far, also from a descriptor
REPLIES=0 PING_PART=
exec {PFD}</dev/null	# until the traffic starts
drain_ping() {
	local line
	while :; do
		if IFS= read -r line <&"$PFD"; then
			line=$PING_PART$line PING_PART=
			[[ $line == *"bytes from"* ]] && REPLIES=$((REPLIES + 1))
		else
			PING_PART+=$line
			return 0
		fi
	done
}
re_ikeys='"initiator_keys": *([0-9]+)'
re_up='"link_up": *(true|false)'
re_store='"stored_key_count": *([0-9]+)'
re_rate='"effective_key_rate": *([0-9]+)'
pool() {	# initiator keys in the module link of gateway $1
	local j
	j=$(qctl "$1" -j stats "site-$(other "$1")" 2>/dev/null) || true
	[[ $j =~ $re_ikeys ]] && echo "${BASH_REMATCH[1]}" || echo "?"
}
pools_full() { local x y; x=$(pool a) y=$(pool b); [[ $x =~ ^[0-9]+$ && $y =~ ^[0-9]+$ && $x -ge 2 && $y -ge 2 ]]; }
pools_line() {
	local st up=? store=? rate=?
	sim status || true
	st=$SIM
	[[ $st =~ $re_up ]] && { up=DOWN; [[ ${BASH_REMATCH[1]} == true ]] && up=UP; }
	[[ $st =~ $re_store ]] && store=${BASH_REMATCH[1]}
	[[ $st =~ $re_rate ]] && rate=${BASH_REMATCH[1]}
	printf 'key pools: A %s B %s | QKD link %s %s bit/s, KMS store %s | ping replies %s' \
		"$(pool a)" "$(pool b)" "$up" "$rate" "$store" "$REPLIES"
}
# keying of the SA with SPI $2 on gateway $1 according to `qkdctl xfrm`
# (the module's audit): "qkd KEYID", "classical" or "unknown"
re_keying='keying (qkd|classical|unknown)( link [^ ]+ key ([0-9a-f-]{36}))?'
sa_keying() {
	local line cur=0
	while IFS= read -r line; do
		[[ $line == *"proto esp spi 0x$2 "* ]] && { cur=1; continue; }
		[[ $line == *"proto esp spi "* ]] && cur=0
		if ((cur)) && [[ $line =~ $re_keying ]]; then
			echo "${BASH_REMATCH[1]} ${BASH_REMATCH[3]}"
			return 0
		fi
	done < <(qctl "$1" xfrm 2>/dev/null)
	echo "?"
}
xfrm_view() {	# ip -s xfrm state of gateway $1, keys not shown, one line per SA
	ip -n "$(gw_ns "$1")" -s xfrm state list nokeys | awk '
		$1 == "src" { src = $2; dst = $4 }
		$1 == "proto" && $2 == "esp" { spi = $4; sub(/\(.*/, "", spi) }
		/lifetime current:/ { cur = 1; next }
		cur && /packets/ { p = $2; sub(/\(packets\)/, "", p); printf "    esp spi %s  %s -> %s  %6d packets\n", spi, src, dst, p; cur = 0 }'
}
# Test-only path for the no-key-material check: the ESP keys of gateway
# $1's SAs, read as root, appended to a private file (never printed).
collect_esp_keys() {
	local a b c d
	while read -r a b c d; do
		case $a in aead|enc|auth|auth-trunc) [[ $c == 0x* ]] && echo "${c#0x}" ;; esac
	done < <(ip -n "$(gw_ns "$1")" xfrm state 2>/dev/null) >>"$T/secrets-hex"

}
show_views() {
	collect_esp_keys a	# at each view: every exec counts under TCG
	echo "  ip -s xfrm state list nokeys (gateway A):"
	xfrm_view a
	echo "  qkdctl xfrm (gateway A; the module's audit names the QKD key behind each SA):"
	qctl a xfrm 2>&1 | grep -E '^src |spi|keying|SAs' |
		sed -e 's/^\t/      /' -e 's/^src/    src/' -e 's/^\([0-9]* SAs\)/    \1/'
}

# ------------------------------------------------------------------ keys
say "qkd-agents fill the key pools of the module links (ETSI enc_keys as master)"
wait_for 90 pools_full || die "agents did not fill the key pools (agent-a.log, agent-b.log)"
drain_ping; say "$(pools_line)"
qctl a link show 2>&1 | sed 's/^/    /'

# A canary QKD key (test-only path): one key whose material this script
# knows, injected like the agents inject theirs (A: initiator, B:
# responder, same ID).  A takes it within its first rekeys; at the end its
# material must appear in no log and not in this output.
CANARY_ID=$(cat /proc/sys/kernel/random/uuid)
canary_hex=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
printf '%s\n' "$canary_hex" >>"$T/secrets-hex"
# Also its first 8 bytes spaced or colon-separated (strongSwan's %B dumps,
# other tools), and base64 of 12 bytes at each of the three alignments (so
# any base64 encoding of a stream holding the key contains one of them).
perl -MMIME::Base64 -e '
	my $k = pack("H*", $ARGV[0]);
	my @b = unpack("(A2)*", unpack("H16", $k));
	print join(" ", @b), "\n", join(":", @b), "\n";
	print STDERR encode_base64(substr($k, $_, 12), ""), "\n" for 0 .. 2;
' "$canary_hex" >>"$T/secrets-hex" 2>"$T/secrets-b64"
printf 'initiator %s %s\n' "$CANARY_ID" "$canary_hex" | qctl a key inject site-b >/dev/null &&
	printf 'responder %s %s\n' "$CANARY_ID" "$canary_hex" | qctl b key inject site-a >/dev/null ||
	die "injecting the canary key"
if [[ ${DEMO_SELFTEST_LEAK:-0} == 1 ]]; then
	# positive control of the key-material check: leak the canary's first
	# 8 bytes, strongSwan-dump style, into a log; the demo must then fail
	sed -n 2p "$T/secrets-hex" | tr a-f A-F >"$L/selftest-leak.log"
	say "DEMO_SELFTEST_LEAK=1: part of the canary key written to selftest-leak.log on purpose"
fi
canary_hex=
say "canary QKD key $CANARY_ID injected on both gateways (test-only path for the key-material check)"

# ------------------------------------------------------------------ tunnel
hdr "IKE_SA: the gateways authenticate with X.509 certificates"
wait "$WARM_PID" 2>/dev/null || true
say "gateway A initiates IKE_SA site-b to 198.51.100.2"
if ! sw a --initiate --child net --timeout 90 >"$L/initiate.log" 2>&1; then
	tail -n 25 "$L/charon-a.log" | sed 's/^/    charon-a: /'
	die "IKE_SA not established (initiate.log, charon-a.log)"
fi
sw a --list-sas 2>/dev/null | sed -n '1,4p' | sed 's/^/    /'
drain a; drain b
printf '%s%s' "${AUTHL[a]}" "${AUTHL[b]}"
auth_ok=0
[[ ${AUTHL[a]} == *"CN=gw-b' with "* && ${AUTHL[b]} == *"CN=gw-a' with "* ]] &&
	grep -q 'received end entity cert "C=CH, O=qkd-demo, CN=gw-b"' "$L/charon-a.log" &&
	grep -q 'received end entity cert "C=CH, O=qkd-demo, CN=gw-a"' "$L/charon-b.log" &&
	auth_ok=1
say "the CHILD_SA made in IKE_AUTH has no key exchange: the plugin rekeys it at once, with QKD"
first_ok() { drain a; ((QK[a] >= 1 && EST[a] >= 2)); }
wait_for 60 first_ok || die "first CHILD_SA not QKD-keyed"
cur_in=${CIN[a]} cur_out=${COUT[a]}

# ------------------------------------------------------------------ traffic
say "traffic: 10.1.0.10 (LAN A) pings 10.2.0.10 (LAN B) every 0.2 s through the tunnel, until the end"
: >"$L/ping.log"
exec {PFD}<"$L/ping.log"
# In rounds of 25 packets (5 s), each waiting for its last replies, so
# that stopping the stream loses nothing in flight: the counts are exact.
# The LAN host's namespace runs the loop (no process outside it).
ip netns exec $NS_LA bash -c '
	while [ ! -e "$1" ]; do busybox ping -i 0.2 -c 25 -W 5 10.2.0.10; done
' ping-loop "$T/stop-ping" >>"$L/ping.log" 2>&1 </dev/null &
PING_PID=$!
pids+=($PING_PID)
TRAFFIC_T0=$(now)

# ------------------------------------------------------------------ timeline
# One CSV row per rekey and per QKD link change, for the picture of the run
# (demo/timeline.gp): seconds since the demo started, initiator keys in
# each gateway's module link, QKD link state, what happened, ping replies
# so far.  Counts only, nothing secret.  The pools come from the line the
# rekey already printed (no extra qkdctl exec: each costs under TCG).
TIMELINE=$L/timeline.csv
TIMELINE_REKEYS=0
echo "t_s,pool_a,pool_b,link_up,event,replies" >"$TIMELINE"
re_pools='key pools: A ([^ ]+) B ([^ ]+) \| QKD link ([A-Z?]+)'
TIMELINE_POOLS=		# the last pools line: link changes repeat it
timeline() {	# timeline EVENT [POOLS_LINE]
	local a=NaN b=NaN up=NaN d m
	[[ -n ${2:-} ]] && TIMELINE_POOLS=$2
	if [[ $TIMELINE_POOLS =~ $re_pools ]]; then
		m=("${BASH_REMATCH[@]}")	# the tests below overwrite BASH_REMATCH
		[[ ${m[1]} =~ ^[0-9]+$ ]] && a=${m[1]}
		[[ ${m[2]} =~ ^[0-9]+$ ]] && b=${m[2]}
		case ${m[3]} in UP) up=1 ;; DOWN) up=0 ;; esac
	fi
	case $1 in cut) up=0 ;; restore) up=1 ;; esac
	d=$(( ($(us) - T0) / 100000 ))
	printf '%d.%d,%s,%s,%s,%s,%s\n' $((d / 10)) $((d % 10)) "$a" "$b" "$up" "$1" \
		"$REPLIES" >>"$TIMELINE"
}

# ------------------------------------------------------------------ rekeys
REKEYS=0 FAILED_REKEYS=0 SPI_CHANGES=0 MISMATCH=0
QKD_BEFORE=0 QKD_OUTAGE=0 CLASSICAL_OUTAGE=0 QKD_AFTER=0 CLASSICAL_OTHER=0
PHASE=before
side=a
declare -A seen_spi=([$cur_in]=1 [$cur_out]=1)

rekey() {	# rekey SIDE: one CHILD_SA rekey initiated by SIDE, one line of output
	local s=$1 in0 out0 e0 q0 f0 k kind what dl
	drain a; drain b
	in0=${CIN[$s]} out0=${COUT[$s]} e0=${EST[$s]} q0=${QK[$s]} f0=${FB[$s]}
	vici_rekey "$s" || true
	# done when the initiator logs a CHILD_SA with new SPIs
	dl=$(($(now) + 60))
	while drain "$s"; [[ ${CIN[$s]} == "$in0" ]] && (($(now) < dl)); do nap 0.1; done
	REKEYS=$((REKEYS + 1))
	drain_ping
	if [[ ${CIN[$s]} == "$in0" ]]; then
		FAILED_REKEYS=$((FAILED_REKEYS + 1))
		say "rekey #$REKEYS by ${s^^}: FAILED (no new CHILD_SA within 60 s)"
		timeline failed
		TIMELINE_REKEYS=$((TIMELINE_REKEYS + 1))
		return 0
	fi
	local in1=${CIN[$s]} out1=${COUT[$s]}
	if [[ -z ${seen_spi[$in1]:-} && -z ${seen_spi[$out1]:-} ]]; then
		SPI_CHANGES=$((SPI_CHANGES + 1))
	fi
	seen_spi[$in1]=1 seen_spi[$out1]=1
	k=$(sa_keying "$s" "$out1")
	if ((QK[$s] > q0)); then
		kind=qkd what="QKD key ${KEY[$s]}"
		[[ $k == "qkd ${KEY[$s]}" ]] || { MISMATCH=$((MISMATCH + 1)); what+=" (qkdctl xfrm says: $k)"; }
	elif ((FB[$s] > f0)); then
		kind=classical what="X25519 only: no QKD key (policy prefer)"
		[[ $k == classical* ]] || { MISMATCH=$((MISMATCH + 1)); what+=" (qkdctl xfrm says: $k)"; }
	else
		kind=unknown what="keying unknown (qkdctl xfrm: $k)"
	fi
	case $PHASE/$kind in
	before/qkd) QKD_BEFORE=$((QKD_BEFORE + 1)) ;;
	outage/qkd) QKD_OUTAGE=$((QKD_OUTAGE + 1)) ;;
	after/qkd) QKD_AFTER=$((QKD_AFTER + 1)) ;;
	outage/classical) CLASSICAL_OUTAGE=$((CLASSICAL_OUTAGE + 1)) ;;
	*) CLASSICAL_OTHER=$((CLASSICAL_OTHER + 1)) ;;
	esac
	say "rekey #$REKEYS by ${s^^}: SPIs $in0/$out0 -> $in1/$out1  $what"
	drain_ping
	local pl
	pl=$(pools_line)
	echo "           $pl"
	timeline "$kind" "$pl"
	TIMELINE_REKEYS=$((TIMELINE_REKEYS + 1))
}

hdr "Phase 1: every rekey is keyed by X25519 + a fresh QKD key"
show_views
# Each phase lasts until its planned end (a share of DURATION) and until it
# has enough rekeys of its kind, but at most CAP s past the later of its
# planned end and its start (a slow phase does not eat the next one).
cap_of() { local e=$1 t; t=$(now); ((t > e)) && e=$t; echo $((e + $2)); }
P1_END=$((TRAFFIC_T0 + DURATION * 3 / 10))
P1_CAP=$(cap_of $P1_END 90)
while :; do
	rekey $side; side=$(other $side)
	(($(now) >= P1_END && QKD_BEFORE >= 3)) && break
	(($(now) >= P1_CAP)) && break
	nap 1
done

hdr "Phase 2: QKD link outage (qkd-kms-sim /admin/link?up=0)"
sim 'link?up=0' >/dev/null
timeline cut
PHASE=outage
say "QKD link CUT: no new key. Keys already delivered are used up, then policy prefer rekeys with X25519 alone"
P2_END=$((TRAFFIC_T0 + DURATION * 65 / 100))
P2_CAP=$(cap_of $P2_END 150)
while :; do
	rekey $side; side=$(other $side)
	(($(now) >= P2_END && CLASSICAL_OUTAGE >= 2)) && break
	(($(now) >= P2_CAP)) && break
	((CLASSICAL_OUTAGE > 0)) && nap 1
done
grep -h "falling back to X25519" "$L/charon-a.log" "$L/charon-b.log" | tail -n 2 |
	sed 's/^[0-9:]* [0-9]*\[IKE\] /    charon: /'
show_views

hdr "Phase 3: QKD link restored (/admin/link?up=1)"
sim 'link?up=1' >/dev/null
timeline restore
PHASE=after
say "QKD link UP: key accumulates again at $KEY_RATE bit/s; the agents refill the pools"
wait_for 30 pools_full || true
drain_ping; say "$(pools_line)"
P3_END=$((TRAFFIC_T0 + DURATION - 3))
P3_CAP=$(cap_of $P3_END 90)
while :; do
	rekey $side; side=$(other $side)
	(($(now) >= P3_END && QKD_AFTER >= 3)) && break
	(($(now) >= P3_CAP)) && break
	nap 1
done
show_views

# ------------------------------------------------------------------ traffic end
say "stopping the ping stream (the current round of 25 packets ends first)"
: >"$T/stop-ping"
wait "$PING_PID" || true
read -r sent recv < <(awk '/packets transmitted/ { s += $1; r += $4 } END { print s + 0, r + 0 }' "$L/ping.log")
traffic_s=$(($(now) - TRAFFIC_T0))

# ------------------------------------------------------------------ key material
# Test-only path: the ESP keys of the SAs still in the kernel, read as root
# into a private file.  None may appear in any log or in this output.
collect_esp_keys a; collect_esp_keys b
nkeys=$(($(sort -u "$T/secrets-hex" | wc -l) - 3))	# minus the canary's 3 lines
# every secret also by its first 8 bytes (a truncated leak)
awk '{ print; if (length($0) > 16 && $0 ~ /^[0-9a-f]+$/) print substr($0, 1, 16) }' \
	"$T/secrets-hex" | sort -u >"$T/secrets-hex.all"
canary_used=0
qctl a audit link site-b 2>/dev/null | grep -q "$CANARY_ID" && canary_used=1
# stop the daemons now (SIGTERM: charon deletes its SAs), so that their last
# log lines are in the files searched below
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
nap 1
# the audit trail: every take record of each module that keyed an SA (two
# SPIs) is in that gateway's agent log (no journald in the guest: the
# agent's audit lines) with its key ID and both SPIs
audit_recs=0 audit_missing=0
for s in a b; do
	read -r n m < <(qctl "$s" -j audit 2>/dev/null | python3 -c '
import json, sys
log = open(sys.argv[1]).read().splitlines()
lines = [l for l in log if " audit: QKD key " in l]
n = m = 0
for r in json.load(sys.stdin):
    if len(r.get("spis", [])) < 2:
        continue
    n += 1
    want = ["QKD_KEY_ID=" + r["key_id"]] + ["QKD_SPI=" + x for x in r["spis"]]
    if not any(all(w in l for w in want) for l in lines):
        m += 1
print(n, m)' "$L/agent-$s.log" || echo "0 1")
	audit_recs=$((audit_recs + n)) audit_missing=$((audit_missing + m))
done
leak=0
grep -rqiF -f "$T/secrets-hex.all" "$L" && leak=1
grep -rqF -f "$T/secrets-b64" "$L" && leak=1
# and no long hex or base64 run anywhere (key IDs are UUIDs with dashes)
# and no hex dump of 16 bytes (strongSwan's %B format)
long='[0-9a-fA-F]{32,}|[A-Za-z0-9+/]{42,}={0,2}|([0-9a-fA-F]{2}[ :]){15}[0-9a-fA-F]{2}'
if grep -rqE "$long" "$L" --exclude=pki.log; then
	# where, never what
	grep -rnoE "$long" "$L" --exclude=pki.log | head -n 3 |
		cut -d: -f1,2 | sed 's/^/    suspicious string in /'
	leak=1
fi

# ------------------------------------------------------------------ summary
hdr "Summary"
CLASSICAL=$((CLASSICAL_OUTAGE + CLASSICAL_OTHER))
QKD=$((QKD_BEFORE + QKD_OUTAGE + QKD_AFTER))
echo "  rekeys:                $REKEYS ($FAILED_REKEYS failed), alternating gateway A / gateway B"
echo "  QKD-keyed:             $QKD (before the outage $QKD_BEFORE, during it from keys already delivered $QKD_OUTAGE, after it $QKD_AFTER)"
echo "  classical (X25519):    $CLASSICAL ($CLASSICAL_OUTAGE during the outage)"
echo "  new SPIs:              $SPI_CHANGES of $REKEYS rekeys"
echo "  packets sent/received: $sent / $recv ($((sent - recv)) lost) in ${traffic_s} s"
echo
fails=0
check() {	# check DESCRIPTION CONDITION...
	local d=$1; shift
	if "$@"; then echo "  PASS  $d"; else echo "  FAIL  $d"; fails=$((fails + 1)); fi
}
MIN_REKEYS=8
check "IKE_SA authenticated with certificates, both ways" test $auth_ok = 1
check ">= $MIN_REKEYS rekeys, none failed ($REKEYS, $FAILED_REKEYS failed)" test $REKEYS -ge $MIN_REKEYS -a $FAILED_REKEYS = 0
check "SPIs changed at every rekey ($SPI_CHANGES of $REKEYS)" test $SPI_CHANGES = $REKEYS
check "QKD-keyed rekeys before the outage (>= 2: $QKD_BEFORE)" test $QKD_BEFORE -ge 2
check "classical rekeys during the outage (>= 1: $CLASSICAL_OUTAGE)" test $CLASSICAL_OUTAGE -ge 1
check "QKD-keyed rekeys after the outage (>= 2: $QKD_AFTER)" test $QKD_AFTER -ge 2
check "no classical rekey outside the outage ($CLASSICAL_OTHER)" test $CLASSICAL_OTHER = 0
check "charon log and qkdctl xfrm agree on every SA's keying ($MISMATCH mismatches)" test $MISMATCH = 0
check "0 packets lost ($sent sent, $recv received)" test $sent -gt 0 -a $sent = $recv
check "canary QKD key taken for an SA (module audit)" test $canary_used = 1
check "audit trail: the agents wrote each of the modules' $audit_recs SA-keying take records, key ID and SPIs ($audit_missing missing)" \
	test $audit_recs -ge 2 -a $audit_missing = 0
# the picture of the run, next to the logs in the results
picture=$T/demo-run.png
timeline end
gnuplot -e "in='$TIMELINE'; out='$picture'" "$HERE/timeline.gp" >"$L/gnuplot.log" 2>&1 || true
[[ -n $RES && -s $picture ]] && cp "$picture" "$RES/demo-run.png"
png_magic=$(od -An -tx1 -N8 "$picture" 2>/dev/null | tr -d ' \n')
rows=$(grep -cE ',(qkd|classical|unknown|failed),' "$TIMELINE")
check "picture of the run written (demo-run.png, $(stat -c %s "$picture" 2>/dev/null || echo 0) bytes; timeline: $rows rekey rows for $REKEYS rekeys)" \
	test "$png_magic" = 89504e470d0a1a0a -a "$rows" = "$REKEYS" -a "$TIMELINE_REKEYS" = "$REKEYS"
check "no key material in logs or output ($nkeys ESP keys and the canary QKD key looked for; no long hex, base64 or hex-dump run)" test $leak = 0
echo
if ((fails == 0)); then
	echo "DEMO PASSED"
else
	echo "DEMO FAILED: $fails check(s); logs in demo-logs/ of the results"
	exit 1
fi
