#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/guest.sh: every figure of bench/ in one guest boot (bench/run boots
# it: selftests/vm/run -- bench/guest.sh).  Writes raw results (timings,
# counts, no key material) to $QKD_VM_RESULTS/bench/raw, which
# bench/report.py turns into the table and the JSON on the host.
#
#   figures 5, 6, 7  selftests/kmod/qkd_bench (take vs genetlink floor,
#                    inject by batch, bytes per buffered key)
#   figure 4         bench/etsi_bench: one take vs one ETSI 014 enc_keys
#                    to qkd-kms-sim over HTTPS keep-alive
#   figure 1         two charons (selftests/charon/lib.sh), one IKE_SA, three
#                    CHILD_SAs: net (qkd), x (x25519), e (ecp256), rekeyed
#                    interleaved from a; times from a's log (ms stamps)
#   figure 3         an ICMP echo stream at PPS across N rekeys of net from
#                    both sides; ESP packet counters of every SA, both ways
#   figure 2         qkd-agent on both gateways with qkd-kms-sim (KME A, KME
#                    B): a's keys from enc_keys, b's fetched by ID (dec_keys)
#                    during each rekey; rekeys of net and x interleaved
#
# BENCH_MODE=quick|full (bench/lib.sh bench_counts).  A figure that fails
# writes "failed REASON" into its raw file and the others still run.
# set -u only, as the other guest tests that source selftests/charon/lib.sh
# (its helpers are not written for set -e: stop_charon's kill of a charon
# that already exited fails, and ends a set -e script); failures are
# checked where they happen.
set -u

NS_A=qkdbench-a
NS_B=qkdbench-b
LIB_TAG=bench
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../selftests/charon/lib.sh
. "$HERE/../selftests/charon/lib.sh"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
trap cleanup EXIT

MODE=${BENCH_MODE:-quick}
bench_counts "$MODE" || bail "BENCH_MODE must be quick or full"
RAW=$L/raw
rm -rf "$RAW"
mkdir -p "$RAW"
SIM=$REPO/userspace/kms-sim/qkd-kms-sim
ETSI_BENCH=$BENCH/etsi_bench
QKD_BENCH=$REPO/selftests/kmod/qkd_bench
step() { echo "bench: $(date +%T) $*"; }

guest_info() {
	local f=$RAW/guest.kv
	put "$f" guest_kernel "$(uname -r)"
	put "$f" guest_cpus "$(nproc)"
	put "$f" guest_cpu_model "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	put "$f" mode "$MODE"
	put "$f" cmdline_slub "$(grep -o 'slub_debug=[^ ]*' /proc/cmdline | tail -n 1)"
}

# ------------------------------------------------------------ figures 5-7
fig_kmod() {
	step "figures 5, 6, 7: qkd_bench $QB_ARGS"
	# shellcheck disable=SC2086
	"$QKD_BENCH" $QB_ARGS > "$RAW/qkd_bench.out" 2> "$RAW/qkd_bench.err" ||
		{ put "$RAW/qkd_bench.out" "failed qkd_bench exit $?"; return 1; }
	sed 's/^/bench:   /' "$RAW/qkd_bench.out"
}

# ------------------------------------------------------------ figure 4
# the ETSI side's certificates (figures 4 and 2): mkcerts.sh's CA, KME
# (127.0.0.1) and SAE certificates, and one more KME certificate for
# 192.0.2.1, where agent B reaches the simulator over the veth
etsi_pki() {	# etsi_pki DIR
	"$REPO/userspace/tests/mkcerts.sh" "$1" > "$L/mkcerts.out" 2>&1 || return 1
	(
		cd "$1" || exit 1
		printf 'subjectAltName=IP:192.0.2.1\nextendedKeyUsage=serverAuth\n' > kme-b.ext
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj /CN=kme-b -keyout kme-b.key -out kme-b.csr &&
			openssl x509 -req -in kme-b.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
				-days 2 -out kme-b.crt -extfile kme-b.ext && chmod 600 kme-b.key
	) >> "$L/mkcerts.out" 2>&1
}
fig_etsi() {
	local p=$T/etsi-pki port=18543 i
	step "figure 4: $N_ETSI takes vs $N_ETSI enc_keys (HTTPS keep-alive)"
	etsi_pki "$p" || { put "$RAW/fig4.kv" "failed making the ETSI certificates"; return 1; }
	"$SIM" --cert-a "$p/kme.crt" --key-a "$p/kme.key" --ca "$p/ca.crt" \
		--listen-a 127.0.0.1:$port --listen-b 127.0.0.1:$((port + 1)) \
		--key-rate 10000000 --initial-keys $((N_ETSI + 10)) \
		--max-key-count $((N_ETSI + 100)) -q > "$L/sim.out" 2> "$L/sim.log" &
	echo $! > "$T/sim.pid"
	for i in $(seq 100); do
		grep -q ready "$L/sim.out" 2>/dev/null && break
		sleep 0.1
	done
	"$ETSI_BENCH" "$N_ETSI" "https://localhost:$port" "$p/SAE_A.crt" "$p/SAE_A.key" \
		"$p/ca.crt" SAE_B > "$RAW/fig4.kv" 2> "$L/etsi_bench.err" ||
		put "$RAW/fig4.kv" "failed etsi_bench exit $? ($(tail -n 1 "$L/etsi_bench.err"))"
	kill "$(cat "$T/sim.pid")" 2>/dev/null
	rm -f "$T/sim.pid"
	sed 's/^/bench:   /' "$RAW/fig4.kv"
	! grep -q '^failed' "$RAW/fig4.kv"
}

# ------------------------------------------------------------ gateways
declare -A VW VR
vici_open() {	# vici_open NAME: a long-running vici client (demo/vici-rekey.pl)
	local fd
	mkfifo "$T/vici-$1.in" "$T/vici-$1.out"
	perl "$REPO/demo/vici-rekey.pl" "$T/$1/charon.vici" < "$T/vici-$1.in" \
		> "$T/vici-$1.out" 2>> "$L/vici-$1.log" &
	echo $! > "$T/vici-$1.pid"
	exec {fd}> "$T/vici-$1.in"; VW[$1]=$fd
	exec {fd}< "$T/vici-$1.out"; VR[$1]=$fd
}
# ask NAME's charon to rekey CHILD, wait until its log shows one more
# "outbound CHILD_SA CHILD{..} established" (charon 5.9.8 logs the inbound
# and then the outbound SA; the initiator installs both on the answer)
rekey_wait() {	# rekey_wait NAME CHILD
	local r c
	c=$(logcount "$1" "outbound CHILD_SA $2{[0-9]*} established")
	echo "$2" >&"${VW[$1]}"
	IFS= read -r -t 60 r <&"${VR[$1]}" || r="fail: no answer"
	[ "$r" = ok ] || { diag "rekey $2 from $1: $r"; return 1; }
	wait_log "$1" "outbound CHILD_SA $2{[0-9]*} established" $((c + 1)) 60
}

# x25519 and ecp256 children next to lib.sh's "net" (qkd): same IKE_SA,
# traffic selectors of their own (no traffic on them)
extra_children() {	# extra_children NAME
	local me=10.1 peer=10.2 c g i=2
	[ "$1" = b ] && { me=10.2; peer=10.1; }
	for c in x:x25519 e:ecp256; do
		g=${c#*:}
		cat <<EOC
			${c%%:*} {
				mode = tunnel
				esp_proposals = aes256gcm16-$g
				local_ts = $me.0.$i/32
				remote_ts = $peer.0.$i/32
				rekey_time = 20h
				life_time = 24h
			}
EOC
		i=$((i + 1))
	done
}

gateways_up() {
	step "gateways: netns, pki, charons, keys, three CHILD_SAs"
	setup_netns || return 1
	# made on the host by bench/run (BENCH_PKI), else here (slow under TCG)
	if [ -f "${BENCH_PKI:-/nonexistent}/ca.crt" ]; then
		cp -a "$BENCH_PKI" "$T/pki" || return 1
	else
		make_pki || return 1
	fi
	CONF_IKE=1 CONF_LOG_MS=yes
	CONF_QKD=$(qkd_link_by_id a prefer 8000); write_conf a
	CONF_QKD=$(qkd_link_by_id b prefer 8000); write_conf b
	SW_CHILDLESS=force
	SW_CHILDREN=$(extra_children a); write_swanctl a
	SW_CHILDREN=$(extra_children b); write_swanctl b
	reset_links > "$L/links.out" 2>&1 || return 1
	# every rekey a or b initiates takes one of its initiator keys
	inject a b aa $((N_REKEY + N_LOSS / 2 + 4)) && inject b a bb $((N_LOSS / 2 + 4)) ||
		return 1
	start_charon a && start_charon b || return 1
	sw a --load-all > "$L/load-a.out" 2>&1 && sw b --load-all > "$L/load-b.out" 2>&1 ||
		return 1
	local c
	for c in net x e; do
		sw a --initiate --child $c --timeout 120 > "$L/initiate-$c.out" 2>&1 || return 1
	done
	wait_log a "keyed with a QKD key" 1 30 || return 1
	vici_open a && vici_open b
}

# ------------------------------------------------------------ figure 1
# initiator a: "generating CREATE_CHILD_SA request" to the next "outbound
# CHILD_SA NAME{N} established" (the new SA carries traffic from then on;
# the inbound one is logged a few ms before), lines after FROM; "method ms"
# lines
rekey_times() {	# rekey_times LOG FROM
	awk -v from="$2" 'BEGIN { m["net"] = "qkd"; m["x"] = "x25519"; m["e"] = "ecp256" }
		NR <= from { next }
		{ split($1, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3] }
		/generating CREATE_CHILD_SA request/ { t0 = s; have = 1; next }
		have && match($0, /outbound CHILD_SA [^ {]+\{[0-9]+\} established/) {
			c = substr($0, RSTART + 18, RLENGTH - 18); sub(/\{.*/, "", c)
			d = s - t0; if (d < 0) d += 86400
			printf "%s %.1f\n", (c in m ? m[c] : c), d * 1000; have = 0 }' "$1"
}

fig_rekey() {
	local f=$RAW/fig1.kv from i c bad=0 log=$L/a-charon.log
	step "figure 1: $N_REKEY rekeys each of qkd, x25519, ecp256, interleaved"
	from=$(wc -l < "$log")
	for i in $(seq "$N_REKEY"); do
		for c in net x e; do
			rekey_wait a $c || bad=$((bad + 1))
			sleep 0.2
		done
	done
	sleep 1
	rekey_times "$log" "$from" > "$RAW/fig1.samples"
	put "$f" rekeys_failed "$bad"
	put "$f" qkd_keyed "$(tail -n +$((from + 1)) "$log" | grep -c 'CHILD_SA net{[0-9]*} keyed with a QKD key')"
	put "$f" x25519_proposals "$(tail -n +$((from + 1)) "$log" | grep -c 'selected proposal: ESP:.*CURVE_25519')"
	put "$f" ecp256_proposals "$(tail -n +$((from + 1)) "$log" | grep -c 'selected proposal: ESP:.*ECP_256')"
	put "$f" fallbacks "$(tail -n +$((from + 1)) "$log" | grep -c 'falling back to X25519 alone')"
	sed 's/^/bench:   /' "$f"
	awk '{ n[$1]++ } END { for (k in n) printf "bench:   %s samples %d\n", k, n[k] }' "$RAW/fig1.samples"
	[ "$bad" = 0 ]
}

# ------------------------------------------------------------ figure 3
# where packets can be dropped outside the SA counters, "key value" lines:
# each gateway's /proc/net/xfrm_stat (per netns) and veth drops, and the
# receive backlog drops of all CPUs (/proc/net/softnet_stat, column 2)
net_drops() {
	local g d=0 x y
	for g in a b; do
		ip netns exec "$(ns_of $g)" cat /proc/net/xfrm_stat | awk -v p="${g}_" '{ print p $1, $2 }'
		ip -s -n "$(ns_of $g)" link show dev "qkdv$g" | awk -v p="${g}_" '
			/RX:/ { getline; print p "veth_rx_dropped", $4 }
			/TX:/ { getline; print p "veth_tx_dropped", $4 }'
	done
	while read -r x y _; do d=$((d + 0x$y)); done < /proc/net/softnet_stat
	echo "backlog_dropped $d"
}
fig_loss() {
	local f=$RAW/fig3.kv i who bad=0 t0 t1 sent serr recv ao ai as bo bi bs
	step "figure 3: $N_LOSS rekeys of net (from a and b in turn) under $PPS pps"
	xfrm_watch a "$T/snap-a"; xfrm_watch b "$T/snap-b"
	sleep 0.5
	rm -f "$T/stop-stream"
	ip netns exec "$NS_A" python3 "$LIB_HERE/icmpstream.py" "$NET_A" "$NET_B" 100000000 \
		"$(awk -v p="$PPS" 'BEGIN { printf "%.6f", 1 / p }')" "$T/stop-stream" \
		> "$RAW/fig3-stream.out" 2>&1 &
	echo $! > "$T/stream.pid"
	t0=$(date +%s.%N)
	net_drops > "$RAW/fig3-drops-before"
	sleep 2
	for i in $(seq "$N_LOSS"); do
		who=a; [ $((i % 2)) = 0 ] && who=b
		rekey_wait $who net || bad=$((bad + 1))
		sleep 0.3
	done
	sleep 1
	touch "$T/stop-stream"
	wait "$(cat "$T/stream.pid")"
	t1=$(date +%s.%N)
	net_drops > "$RAW/fig3-drops-after"
	rm -f "$T/stream.pid"
	sleep 0.5
	xfrm_unwatch a; xfrm_unwatch b
	sleep 0.5
	# "src SPI packets" per SA event and at the end (bench/report.py pairs
	# each SA's counters on the two gateways)
	{ cat "$T/snap-a"; xfrm_snapshot a; } > "$RAW/fig3-snap-a"
	{ cat "$T/snap-b"; xfrm_snapshot b; } > "$RAW/fig3-snap-b"
	read -r _ sent _ serr _ recv _ < "$RAW/fig3-stream.out"
	read -r ao ai as <<< "$(sums "$RAW/fig3-snap-a" "$ADDR_A")"
	read -r bo bi bs <<< "$(sums "$RAW/fig3-snap-b" "$ADDR_B")"
	put "$f" rekeys "$N_LOSS"
	put "$f" rekeys_failed "$bad"
	put "$f" pps_asked "$PPS"
	# the stream ran from t0 until 5 s (its last drain) before t1
	put "$f" stream_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a - 5 }')"
	put "$f" sent "${sent:-0}"
	put "$f" send_errors "${serr:-0}"
	put "$f" received "${recv:-0}"
	put "$f" a_out "$ao"; put "$f" b_in "$bi"; put "$f" b_out "$bo"; put "$f" a_in "$ai"
	put "$f" sas_with_packets_a "$as"; put "$f" sas_with_packets_b "$bs"
	sed 's/^/bench:   /' "$f"
	[ "$bad" = 0 ]
}

# ------------------------------------------------------------ figure 2
AGENT=$REPO/userspace/agent/qkd-agent
# agent's configuration: link "peer" (the module link the plugin uses)
agent_conf() {	# agent_conf NAME ROLE KME_URL
	local me=A peer=B p=$T/etsi-pki
	[ "$1" = b ] && { me=B; peer=A; }
	cat > "$T/agent-$1.conf" <<EOC
[agent]
metrics_listen = 127.0.0.1:9464
stats_interval = 2
[link peer]
kme_url = $3
local_sae_id = SAE_$me
remote_sae_id = SAE_$peer
role = $2
client_cert = $p/SAE_$me.crt
client_key = $p/SAE_$me.key
ca_cert = $p/ca.crt
low_watermark = 4
high_watermark = $((N_REKEY + 8))
poll_interval = 1
backoff_base_ms = 100
backoff_max_ms = 1000
EOC
}
agent_metric() {	# agent_metric NAME METRIC_WITH_LABELS
	ip netns exec "$(ns_of "$1")" curl -s --max-time 10 http://127.0.0.1:9464/metrics 2>/dev/null |
		awk -v k="$2" '$1 == k { print $2 }'
}
# the simulator in a's netns: KME A on 127.0.0.1 for agent A, KME B on
# 192.0.2.1 (over the veth) for agent B; both agents started; a's pool
# filled by agent A (enc_keys), b's left empty: b's key comes by ID
agents_up() {
	local p=$T/etsi-pki i
	# fresh links with the SAE IDs the agents have (an agent does not
	# adopt a link of other SAE IDs); the pre-injected keys go with them
	cli a link-del peer > /dev/null && cli b link-del peer > /dev/null &&
		cli a link-add peer SAE_A SAE_B > /dev/null &&
		cli b link-add peer SAE_B SAE_A > /dev/null || return 1
	ip netns exec "$NS_A" "$SIM" --cert-a "$p/kme.crt" --key-a "$p/kme.key" \
		--cert-b "$p/kme-b.crt" --key-b "$p/kme-b.key" --ca "$p/ca.crt" \
		--listen-a 127.0.0.1:18643 --listen-b 192.0.2.1:18644 --key-rate 10000000 \
		--initial-keys 200 --max-key-count 2000 -q > "$L/sim2.out" 2> "$L/sim2.log" &
	echo $! > "$T/sim2.pid"
	agent_conf a master https://localhost:18643
	agent_conf b slave https://192.0.2.1:18644
	ip netns exec "$NS_A" "$AGENT" -c "$T/agent-a.conf" 2> "$L/agent-a.log" &
	echo $! > "$T/agent-a.pid"
	ip netns exec "$NS_B" "$AGENT" -c "$T/agent-b.conf" 2> "$L/agent-b.log" &
	echo $! > "$T/agent-b.pid"
	for i in $(seq 120); do
		[ "$(stat_of a initiator_keys)" -ge $((N_REKEY + 2)) ] 2>/dev/null && return 0
		sleep 1
	done
	return 1
}
agents_down() {
	local x
	for x in agent-a agent-b sim2; do
		[ -f "$T/$x.pid" ] && kill "$(cat "$T/$x.pid")" 2>/dev/null
		rm -f "$T/$x.pid"
	done
}
fig_agent() {
	local f=$RAW/fig2.kv from fromb i bad=0 log=$L/a-charon.log
	step "figure 2: $N_REKEY rekeys of net with the agents (b's key by ID from KME B), x25519 between"
	agents_up || { put "$f" "failed the agents did not fill a's pool (agent-a.log)"; agents_down; return 1; }
	from=$(wc -l < "$log")
	fromb=$(wc -l < "$L/b-charon.log")
	for i in $(seq "$N_REKEY"); do
		for c in net x; do
			rekey_wait a $c || bad=$((bad + 1))
			sleep 0.2
		done
	done
	sleep 1
	rekey_times "$log" "$from" > "$RAW/fig2.samples"
	put "$f" rekeys_failed "$bad"
	put "$f" qkd_keyed "$(tail -n +$((from + 1)) "$log" | grep -c 'CHILD_SA net{[0-9]*} keyed with a QKD key')"
	put "$f" b_took_by_id "$(tail -n +$((fromb + 1)) "$L/b-charon.log" | grep -c 'qkd: took key .* by ID')"
	put "$f" agent_b_wanted "$(agent_metric b 'qkd_agent_key_wanted_total{link="peer",outcome="received"}')"
	put "$f" agent_b_injected "$(agent_metric b 'qkd_agent_keys_injected_total{link="peer",role="responder"}')"
	put "$f" fallbacks "$(tail -n +$((from + 1)) "$log" | grep -c 'falling back to X25519 alone')"
	agents_down
	sed 's/^/bench:   /' "$f"
	[ "$bad" = 0 ]
}

# ------------------------------------------------------------ main
check_prereqs
[ -x "$ETSI_BENCH" ] || bail "$ETSI_BENCH missing (make -C bench)"
[ -x "$QKD_BENCH" ] || bail "$QKD_BENCH missing (make -C selftests/kmod qkd_bench)"
guest_info
step "mode $MODE; module, plugin, crypto warm-up"
setup_module
fig_kmod || step "figures 5-7 failed"
fig_etsi || step "figure 4 failed"
if gateways_up; then
	fig_rekey || step "figure 1: some rekeys failed"
	fig_loss || step "figure 3: some rekeys failed"
	fig_agent || step "figure 2 failed"
	cli a stats peer > "$L/stats-a.out" 2>&1 || true
	cli b stats peer > "$L/stats-b.out" 2>&1 || true
else
	step "gateways failed: no figure 1 or 3 (logs in $L)"
	put "$RAW/fig1.kv" "failed gateways did not come up"
	put "$RAW/fig3.kv" "failed gateways did not come up"
	put "$RAW/fig2.kv" "failed gateways did not come up"
fi
stop_charon a
stop_charon b
# no trace of an injected key in anything this run leaves behind
if key_leaked "$T/injected.keys" "$L"/*.log "$L"/*.out "$RAW"/*; then
	put "$RAW/guest.kv" key_material_found yes
	step "KEY MATERIAL FOUND in the results"
else
	put "$RAW/guest.kv" key_material_found no
fi
step "done"
