# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers of the interop tests (selftests/interop/*.sh, in the guest): our
# gateway "a" (netns $NS_A: Debian's charon + the qkd plugin + the qkd
# module) against a peer "b" (netns $NS_B) that does not run our plugin.
# Sources selftests/charon/lib.sh for TAP, cleanup, module/netns/pki setup,
# strongswan.conf/swanctl.conf writers, charon start/stop and the SPI,
# xfrm and stats helpers; adds IPv6 addressing, libreswan (pluto from the
# tree selftests/interop/fetch-libreswan.sh unpacked) and the rekey rounds
# that both test scripts run.
#
# A script sets PEER (its name: netns interop-$PEER, logs and $T tagged
# interop-$PEER), sources this file, defines the peer hooks, then calls
# interop_setup once and run_scenario per address family.  Peer hooks:
#   peer_start TAG    write the peer's configuration and start it
#   peer_rekey TAG R  rekey the CHILD_SA from the peer (round R)
#   peer_ike_count    established IKE SAs the peer holds
#   peer_logs         the peer's log files of this scenario
#   peer_bad_lines F  the peer's log lines that show a failed exchange
#                     (written to F)
#
# Environment: REKEYS (rekeys per side over IPv4, default 10), REKEYS6 (over
# IPv6, default 3), FAMILIES (default "4 6"), LSW_DIR (default
# build/libreswan), OURS_ESP (ours' esp_proposals), plus lib.sh's.

NS_A=interop-ours
NS_B=interop-$PEER
LIB_TAG=interop-$PEER
# shellcheck source=../charon/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../charon" && pwd)/lib.sh"
trap cleanup EXIT
REKEYS=${REKEYS:-10}
REKEYS6=${REKEYS6:-3}
FAMILIES=${FAMILIES:-4 6}
LSW_DIR=${LSW_DIR:-$REPO/build/libreswan}
START=$(date +%s)
# what ours offers: qkd first, the classical group second
OURS_ESP=${OURS_ESP:-aes256gcm16-qkd, aes256gcm16-x25519}
# keys our module holds for the peer (none may be taken)
OURS_KEYS=4

# ---------------------------------------------------------------- setup
interop_setup() {
	check_prereqs
	setup_module
	diag "module loaded ($(($(date +%s) - START)) s)"
	modprobe -a esp6 xfrm6_tunnel tunnel6 2>/dev/null
	setup_netns &&
		ip -n "$NS_A" addr add 2001:db8::1/64 dev qkdva nodad &&
		ip -n "$NS_B" addr add 2001:db8::2/64 dev qkdvb nodad &&
		ip -n "$NS_A" addr add 2001:db8:1::1/128 dev lo &&
		ip -n "$NS_B" addr add 2001:db8:2::1/128 dev lo
	ok $? "two netns ($NS_A = ours, $NS_B = peer) joined by veth, IPv4 and IPv6"
	diag "netns ($(($(date +%s) - START)) s)"
	make_pki
	ok $? "pki: one CA, certificates gw-a (ours) and gw-b (peer)"
	[ "$failed" = 0 ] || bail "setup failed"
}

# the addresses lib.sh's writers and ping_ok use
use_family() {	# use_family 4|6
	if [ "$1" = 6 ]; then
		ADDR_A=2001:db8::1 ADDR_B=2001:db8::2 NET_A=2001:db8:1::1 NET_B=2001:db8:2::1
	else
		ADDR_A=192.0.2.1 ADDR_B=192.0.2.2 NET_A=10.1.0.1 NET_B=10.2.0.1
	fi
}

# ours: the plugin loaded (accept_private_algs = yes, as for peers that run
# it), a prefer link for the peer's identity with keys in the module,
# esp_proposals = aes256gcm16-qkd, aes256gcm16-x25519
start_ours() {	# start_ours TAG
	CONF_PLUGIN=yes CONF_PRIV=yes CONF_LOAD='' CONF_CHARON='' CONF_RTO=''
	CONF_QKD=$(qkd_link_by_id a "${OURS_POLICY:-prefer}" 2000)
	write_conf a
	SW_PROPOSALS='' SW_REMOTE='' SW_ESP=$OURS_ESP
	write_swanctl a
	{ reset_links && inject a b "$2" "$OURS_KEYS"; } > "$L/$1-links.out" 2>&1 &&
		start_charon a && sw a --load-all > "$L/$1-load-a.out" 2>&1 &&
		grep -q "loaded plugins: .* qkd" "$L/a-charon.log"
}

# established IKE SAs
ike_count() {	# ike_count NAME|-
	list_sas "$1" | grep -c '^[^ ].*: #[0-9]*, ESTABLISHED, IKEv2'
}

# until both kernels hold the same two ESP SAs, other than OLD's (polled in
# the kernels: every swanctl start costs seconds under TCG), and ours lists
# one installed CHILD_SA with them; prints its SPIs ("in out").  Leaves
# ours' last listing in $T/sas-a.
wait_new_pair() {	# wait_new_pair OLD TIMEOUT_S
	local cur='' k old end=$((SECONDS + $2))
	# shellcheck disable=SC2086
	old=$([ -n "$1" ] && printf '0x%s\n' $1 | sort | tr '\n' ' ')
	while :; do
		k=$(xfrm_spis a)
		if [ "$(echo "$k" | wc -w)" = 2 ] && [ "$k" != "$old" ] && [ "$k" = "$(xfrm_spis b)" ]; then
			list_sas a > "$T/sas-a"
			cur=$(child_spis - < "$T/sas-a")
			if [ -n "$cur" ] && [ "$cur" != "$1" ] && [ "$(child_count - < "$T/sas-a")" = 1 ]; then
				echo "$cur"
				return 0
			fi
		fi
		[ $SECONDS -ge $end ] && break
		sleep 0.3
	done
	list_sas a > "$T/sas-a"
	child_spis - < "$T/sas-a"
	return 1
}

# 3 pings; the 4 ESP SAs of the pair ("in out" as ours names them) each
# counted exactly 3 packets.  Sets pk to "a-out/a-in/b-in/b-out".
traffic_on() {	# traffic_on "IN OUT"
	local i o rc
	read -r i o <<< "$1"
	ip netns exec "$NS_A" busybox ping -c 3 -i 0.2 -W 3 -I "$NET_A" "$NET_B" >> "$L/ping.out" 2>&1
	rc=$?
	ip -n "$NS_A" -s xfrm state > "$T/xfrm-a" 2>&1
	ip -n "$NS_B" -s xfrm state > "$T/xfrm-b" 2>&1
	pk="$(xfrm_packets - "$o" < "$T/xfrm-a")/$(xfrm_packets - "$i" < "$T/xfrm-a")"
	pk="$pk/$(xfrm_packets - "$o" < "$T/xfrm-b")/$(xfrm_packets - "$i" < "$T/xfrm-b")"
	[ $rc = 0 ] && [ "$pk" = 3/3/3/3 ]
}

# the installed CHILD_SA of a listing uses the classical group (X25519)
child_classical() {	# child_classical < LISTING
	grep -q 'INSTALLED, TUNNEL, ESP:AES_GCM_16-256/CURVE_25519'
}

# ours' log lines that show a failed or refused exchange with the peer
ours_bad_lines() {	# ours_bad_lines OUT
	grep -E "N\((INVAL_KE|INVAL_SYN|NO_PROP|TS_UNACCEPT)\)|didn't accept DH group|no acceptable proposal|deleting IKE_SA|received (AUTHENTICATION_FAILED|INVALID_SYNTAX|INVALID_KE_PAYLOAD)|CHILD_SA rekeying failed|failed to establish CHILD_SA" \
		"$L/a-charon.log" | grep -v ' checking for ' > "$1"
}

# ---------------------------------------------------------------- scenario
# One address family: ours and the peer start, ours initiates (IKE_SA and
# the first CHILD_SA in IKE_AUTH), then 2*REKEYS_PER_SIDE CHILD_SA rekeys
# alternating ours, peer, ours, ... (the first by ours right after
# IKE_AUTH), each checked for new SPIs on both kernels, the IKE_SA kept and
# ESP counted on all four SAs.  If the IKE_SA is lost, ours initiates again
# so the later rounds still test something (counted as a failure).
run_scenario() {	# run_scenario TAG FAMILY KEY_PREFIX REKEYS_PER_SIDE
	local t=$1 nr=$((2 * $4)) r who c nc i0 ike lost=0 classical=0 spis_before
	local fam="IPv$2 outer and inner"
	diag "---- $t: $fam ($(($(date +%s) - START)) s)"
	use_family "$2"
	start_ours "$t" "$3"
	ok $? "$t: ours started (plugin loaded, prefer link for gw-b, $OURS_KEYS keys in the module, esp_proposals = $OURS_ESP)"
	peer_start "$t"
	ok $? "$t: peer started and its connection loaded"
	# the control of run_require's watcher: here it must see every SA
	xfrm_keyed_watch a "$T/$t-watch-a"
	sleep 0.5
	sw a --initiate --child net --timeout 60 > "$L/$t-initiate.out" 2>&1
	c=$(wait_new_pair "" 30)
	ok $? "$t: ours initiated ($fam): IKE_SA and first CHILD_SA up, SPIs $c on both kernels"
	i0=$(ike_spis - < "$T/sas-a")
	[ -n "$i0" ] && [ "$(peer_ike_count)" = 1 ]
	ok $? "$t: one IKE_SA ($i0) on each side"
	traffic_on "$c"
	ok $? "$t: ping over the first CHILD_SA, ESP packets a-out/a-in/b-in/b-out: $pk"
	if [ -z "$c" ]; then
		ok 1 "$t: no tunnel, rekeys skipped"
		return
	fi

	for r in $(seq 1 $nr); do
		if [ $((r % 2)) = 1 ]; then who=ours; else who=peer; fi
		spis_before=$c
		if [ $who = ours ]; then
			sw a --rekey --child net > "$L/$t-rekey-$r.out" 2>&1
		else
			peer_rekey "$t" "$r" > "$L/$t-rekey-$r.out" 2>&1
		fi
		nc=$(wait_new_pair "$c" 30)
		local rc=$? ikes
		ike=$(ike_spis - < "$T/sas-a")
		ikes=$(ike_count - < "$T/sas-a")
		local what="SPIs $spis_before -> $nc"
		[ "$r" = 1 ] && what="first rekey, right after IKE_AUTH: $what"
		if [ $rc = 0 ] && [ "$ike" = "$i0" ] && [ "$ikes" = 1 ]; then
			ok 0 "$t: rekey $r/$nr by $who: $what, IKE_SA $i0 kept"
		else
			ok 1 "$t: rekey $r/$nr by $who: $what, IKE_SA $i0 kept (now '$ike', ours holds $ikes, peer $(peer_ike_count))"
		fi
		[ $rc = 0 ] && child_classical < "$T/sas-a" && classical=$((classical + 1))
		if [ -z "$ike" ]; then
			# lost: ours brings the tunnel up again for the next rounds
			lost=$((lost + 1))
			diag "$t: IKE_SA lost in round $r; ours initiates again"
			stop_peer_sas
			sw a --initiate --child net --timeout 60 > "$L/$t-reinitiate-$r.out" 2>&1
			nc=$(wait_new_pair "" 30)
			i0=$(ike_spis - < "$T/sas-a")
		fi
		local over="the new CHILD_SA"
		[ -z "$ike" ] && over="the CHILD_SA of the IKE_SA initiated again"
		traffic_on "$nc"
		ok $? "$t: rekey $r by $who: ping over $over, ESP packets a-out/a-in/b-in/b-out: $pk"
		c=$nc
	done

	xfrm_unwatch a
	sleep 0.3
	local keyed
	keyed=$(grep -cE '^(new|updated) [^ ]+ 1$' "$T/$t-watch-a")
	[ "$keyed" = $((2 * (nr + 1))) ] && [ ! -s "$T/watch-a.err" ]
	ok $? "$t: xfrm monitor saw each CHILD_SA's two keyed SAs being installed in ours' kernel ($keyed for $((nr + 1)) CHILD_SAs)"
	local pikes
	pikes=$(peer_ike_count)
	[ $lost = 0 ] && [ "$pikes" = 1 ] && [ "$(ike_spis a)" = "$i0" ]
	ok $? "$t: the IKE_SA was never lost over $nr rekeys (lost $lost times; now one on each side: peer holds $pikes)"
	[ $classical = $nr ]
	ok $? "$t: every rekeyed CHILD_SA uses X25519 ($classical of $nr)"
	local tk wn rs kb
	tk=$(stat_of a taken); wn=$(stat_of a wanted); rs=$(stat_of a reserved)
	kb=$(stat_of a keys_buffered)
	[ "$tk" = 0 ] && [ "$wn" = 0 ] && [ "${rs:-0}" = 0 ] && [ "$kb" = "$OURS_KEYS" ]
	ok $? "$t: no QKD key taken from ours' module for this peer (taken=$tk wanted=$wn reserved=${rs:-?} keys_buffered=$kb of $OURS_KEYS)"
	[ "$(logcount a 'qkd: .*took key')" = 0 ] && [ "$(logcount a 'keyed with a QKD key')" = 0 ]
	ok $? "$t: ours' log: no key taken, no SA claims a QKD key"
	ours_bad_lines "$T/bad-a"
	[ ! -s "$T/bad-a" ]
	ok $? "$t: ours' log shows no failed exchange (INVALID_KE_PAYLOAD, INVALID_SYNTAX, NO_PROPOSAL_CHOSEN, deleted IKE_SA)"
	sed 's/^/#   ours: /' "$T/bad-a" | head -8
	peer_bad_lines "$T/bad-b"
	[ ! -s "$T/bad-b" ]
	ok $? "$t: the peer's log shows no failed exchange"
	sed 's/^/#   peer: /' "$T/bad-b" | head -8
	sw a --terminate --ike gw > /dev/null 2>&1
}

# Every XFRM state message of ours' kernel as "EVENT SPI KEYED": EVENT new,
# updated or deleted, KEYED 1 if it carries an algorithm (aead/enc/auth
# line: an SA that was keyed), 0 for the larval SA charon's SPI allocation
# makes (XFRM_MSG_ALLOCSPI; deleted again when the CHILD_SA is refused).
# Only these words leave awk: a keyed SA's message holds key material.
xfrm_keyed_watch() {	# xfrm_keyed_watch NAME OUTFILE (stop with xfrm_unwatch NAME)
	ip -n "$(ns_of "$1")" xfrm monitor SA 2>"$T/watch-$1.err" > >(awk '
		function out() { if (spi != "") print ev, spi, keyed; spi = ""; fflush() }
		/^(Deleted |Updated )?src / { out(); ev = "new"; keyed = 0
			if ($1 == "Deleted") ev = "deleted"; if ($1 == "Updated") ev = "updated" }
		$1 == "proto" && $2 == "esp" { spi = $4 }
		$1 == "aead" || $1 == "enc" || $1 == "auth-trunc" || $1 == "auth" { keyed = 1 }
		END { out() }' > "$2") &
	echo $! > "$T/watch-$1.pid"
}

# ---------------------------------------------------------------- require
# Policy require for a peer without the plugin: no CHILD_SA may ever be
# installed in ours' kernel (watched with xfrm monitor, so an SA installed
# and deleted between two polls is seen), the IKE_AUTH CHILD_SA the peer
# installed as responder is deleted at once, a CHILD_SA the peer then
# initiates is refused before anything is installed, and no key is taken.
# Peer hook: peer_initiate TAG (the peer brings the CHILD_SA up itself).
run_require() {	# run_require TAG FAMILY KEY_PREFIX
	local t=$1 w
	diag "---- $t: policy require, IPv$2 ($(($(date +%s) - START)) s)"
	use_family "$2"
	OURS_POLICY=require start_ours "$t" "$3"
	ok $? "$t: ours started (require link for gw-b, $OURS_KEYS keys in the module)"
	peer_start "$t"
	ok $? "$t: peer started and its connection loaded"
	xfrm_keyed_watch a "$T/$t-watch-a"
	xfrm_keyed_watch b "$T/$t-watch-b"
	sleep 0.5
	sw a --initiate --child net --timeout 60 > "$L/$t-initiate.out" 2>&1
	wait_log a 'qkd: refusing CHILD_SA net.*policy require.*no key exchange: created in IKE_AUTH' 1 60
	ok $? "$t: ours refused the IKE_AUTH CHILD_SA (no key exchange; policy require): one line"
	w=0
	until [ -z "$(xfrm_spis b)" ] || [ $w -ge 60 ]; do sleep 0.5; w=$((w + 1)); done
	[ -z "$(xfrm_spis b)" ] && [ -z "$(xfrm_spis a)" ]
	ok $? "$t: no ESP SA left in either kernel after the refusal (waited $((w / 2)) s)"
	peer_initiate "$t" > "$L/$t-peer-initiate.out" 2>&1
	wait_log a 'qkd: refusing CHILD_SA net.*policy require' 2 90
	ok $? "$t: the CHILD_SA the peer then initiated was refused by ours too (second refusal line)"
	sleep 2
	[ -z "$(xfrm_spis b)" ] && [ -z "$(xfrm_spis a)" ]
	ok $? "$t: no ESP SA in either kernel after the peer's attempt (ours: '$(xfrm_spis a)', peer: '$(xfrm_spis b)')"
	xfrm_unwatch a
	xfrm_unwatch b
	sleep 0.3
	# the larval SAs of the SPI allocations are all the kernel may report
	[ -f "$T/$t-watch-a" ] && [ ! -s "$T/watch-a.err" ] &&
		! grep -qv '^deleted [^ ]* 0$' "$T/$t-watch-a"
	ok $? "$t: ours' kernel never installed an ESP SA (xfrm monitor: $(grep -c . "$T/$t-watch-a") messages, all deletions of unkeyed larval SAs: $(grep -c '^deleted [^ ]* 0$' "$T/$t-watch-a"))"
	sed 's/^/#   xfrm: /' "$T/$t-watch-a" | head -8
	# the peer installed the IKE_AUTH CHILD_SA as responder before ours
	# could refuse it; ours' Delete removed both of its SAs, and the peer's
	# own attempt installed nothing (read after the watcher stopped: awk
	# prints a message when the next one starts or at its end)
	local pin pdel
	pin=$(awk '$1 != "deleted" && $3 == 1 { print $2 }' "$T/$t-watch-b" | sort -u | tr '\n' ' ')
	pdel=$(awk '$1 == "deleted" && $3 == 1 { print $2 }' "$T/$t-watch-b" | sort -u | tr '\n' ' ')
	[ "$(echo "$pin" | wc -w)" = 2 ] && [ "$pin" = "$pdel" ] && [ ! -s "$T/watch-b.err" ]
	ok $? "$t: the peer had installed the IKE_AUTH CHILD_SA (keyed SPIs: $pin) and deleted both after ours' refusal (deleted: $pdel), nothing after"
	local tk wn kb
	tk=$(stat_of a taken); wn=$(stat_of a wanted); kb=$(stat_of a keys_buffered)
	[ "$tk" = 0 ] && [ "$wn" = 0 ] && [ "$kb" = "$OURS_KEYS" ] &&
		[ "$(logcount a 'qkd: ERROR')" = 0 ]
	ok $? "$t: no QKD key taken (taken=$tk wanted=$wn keys_buffered=$kb of $OURS_KEYS), no 'installed despite require' error"
	sw a --terminate --ike gw > /dev/null 2>&1
}

# after ours lost the IKE_SA: the peer's leftovers must not count
stop_peer_sas() {
	local end=$((SECONDS + 10))
	until [ -z "$(xfrm_spis b)" ] || [ $SECONDS -ge $end ]; do
		sleep 0.3
	done
}

rekeys_for() {	# rekeys_for FAMILY: rekeys per side
	if [ "$1" = 6 ]; then echo "$REKEYS6"; else echo "$REKEYS"; fi
}

# stop both, keep this scenario's logs under its tag
end_scenario() {	# end_scenario TAG
	stop_charon a
	stop_charon b
	rotate_logs "$1"
}

finish() {
	diag "runtime $(($(date +%s) - START)) s"
	echo "1..$n"
	exit $((failed != 0))
}

# ---------------------------------------------------------------- libreswan
# pluto, addconn and whack from the unpacked tree; pluto execs
# /usr/libexec/ipsec/addconn, so the tree's libexec is bind-mounted there
# (a directory made in the guest's overlay: the host is not touched)
lsw_install() {
	[ -f "$LSW_DIR/root/.complete" ] ||
		bail "$LSW_DIR/root missing: run selftests/interop/fetch-libreswan.sh on the host"
	[ -f /proc/modules ] || bail "not in the guest: /usr/libexec/ipsec is only written in its overlay"
	LSW_LIB=$LSW_DIR/root/usr/lib/x86_64-linux-gnu
	LSW_BIN=$LSW_DIR/root/usr/bin
	mkdir -p /usr/libexec/ipsec &&
		mount --bind "$LSW_DIR/root/usr/libexec/ipsec" /usr/libexec/ipsec &&
		lsw /usr/libexec/ipsec/pluto --version > "$L/pluto-version.out" 2>&1 &&
		grep -q '^Libreswan 4\.10' "$L/pluto-version.out"
}
lsw() {	# lsw CMD ARGS...: in the peer's netns, with the tree's libraries
	ip netns exec "$NS_B" env LD_LIBRARY_PATH="$LSW_LIB" "$@"
}
whack() {
	timeout 120 ip netns exec "$NS_B" env LD_LIBRARY_PATH="$LSW_LIB" \
		/usr/libexec/ipsec/whack --ctlsocket "$T/b/run/pluto.ctl" "$@"
}

# NSS database with the CA and gw-b's certificate and key (from lib.sh's
# pki), ipsec.conf for the current address family
lsw_write() {	# lsw_write TAG
	local d=$T/b l=$ADDR_B r=$ADDR_A
	rm -rf "$d/nss" "$d/run" "$d/ipsec.d"
	mkdir -p "$d/nss" "$d/run" "$d/ipsec.d"
	: > "$d/ipsec.secrets"
	{
		openssl pkcs12 -export -in "$T/pki/b.crt" -inkey "$T/pki/b.key" -name gw-b \
			-passout pass: -out "$d/b.p12" &&
		lsw "$LSW_BIN/certutil" -N -d "sql:$d/nss" --empty-password &&
		lsw "$LSW_BIN/certutil" -A -d "sql:$d/nss" -n qkd-ca -t 'CT,,' -a -i "$T/pki/ca.crt" &&
		lsw "$LSW_BIN/pk12util" -i "$d/b.p12" -d "sql:$d/nss" -W '' &&
		lsw "$LSW_BIN/certutil" -L -d "sql:$d/nss"
	} > "$L/$1-nss.out" 2>&1 || return 1
	cat > "$d/ipsec.conf" <<EOC
config setup
	uniqueids=no

conn gw
	ikev2=insist
	authby=ecdsa
	left=$l
	leftid="C=CH, O=qkd-test, CN=gw-b"
	leftcert=gw-b
	leftsendcert=always
	leftsubnet=$(host_net "$NET_B")
	leftupdown=/bin/true
	right=$r
	rightid="C=CH, O=qkd-test, CN=gw-a"
	rightsubnet=$(host_net "$NET_A")
	ike=aes256-sha2_256-dh31
	esp=aes_gcm256-null-dh31
	pfs=yes
	ikelifetime=24h
	salifetime=24h
	auto=add
EOC
}

lsw_start() {	# lsw_start TAG
	local d=$T/b
	lsw_write "$1" || return 1
	# leftupdown=/bin/true adds no route (charon adds its own, table 220):
	# without one the replies never reach the XFRM policy
	ip -n "$NS_B" route replace "$(host_net "$NET_A")" dev qkdvb src "$NET_B" || return 1
	lsw /usr/libexec/ipsec/pluto --nofork --config "$d/ipsec.conf" --nssdir "$d/nss" \
		--rundir "$d/run" --secretsfile "$d/ipsec.secrets" --ipsecdir "$d/ipsec.d" \
		--logfile "$L/$1-pluto.log" ${LSW_DEBUG:+--debug-all} > "$L/$1-pluto.out" 2>&1 &
	echo $! > "$T/b.pid"
	local end=$((SECONDS + 60))
	until [ -S "$d/run/pluto.ctl" ]; do
		kill -0 "$(cat "$T/b.pid")" 2>/dev/null && [ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
	# pluto's own addconn --autoall may race with this one: either loads it
	end=$((SECONDS + 30))
	until whack --status 2>/dev/null | grep -q '"gw":.*===.*\.\.\.'; do
		lsw /usr/libexec/ipsec/addconn --config "$d/ipsec.conf" --ctlsocket "$d/run/pluto.ctl" gw \
			>> "$L/$1-addconn.out" 2>&1
		[ $SECONDS -ge $end ] && return 1
		sleep 0.5
	done
}
