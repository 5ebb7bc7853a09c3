#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# qkdctl against the real qkd module, every subcommand, exact counters.
# Needs root, the module (insmod'ed from $QKD_KO if not loaded), jq, xxd,
# iproute2.  The host kernel cannot load modules, so run it in the guest:
#
#   selftests/vm/run -- selftests/qkdctl/qkdctl-test.sh
#
# Everything happens in a fresh network namespace (the module's state is
# per namespace), so counters start at zero and are asserted exactly.
# Output is TAP; the exit status is non-zero if any test failed.
#
# Environment: QKDCTL (default userspace/qkdctl/qkdctl), QKD_KO (default
# kmod/qkd.ko), QKDCTL_TEST_KEEP=1 to keep the temporary directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
QKDCTL=${QKDCTL:-$REPO/userspace/qkdctl/qkdctl}
QKD_KO=${QKD_KO:-$REPO/kmod/qkd.ko}
PATH=$PATH:/usr/sbin:/sbin

NS=qkdctl-test-$$
COMM=$(basename "$QKDCTL" | cut -c1-15)	# the taker's comm in audit records
T=$(mktemp -d /tmp/qkdctl-test.XXXXXX)
MON_PID=
LOADED_BY_US=0
n=0
failed=0

cleanup() {
	set +e
	[[ -n $MON_PID ]] && kill "$MON_PID" 2>/dev/null && wait "$MON_PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	[[ $LOADED_BY_US = 1 ]] && rmmod qkd 2>/dev/null
	[[ ${QKDCTL_TEST_KEEP:-0} = 1 ]] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
	for f in "$T/out" "$T/err"; do [[ -s $f ]] && sed 's/^/#   /' "$f"; done
	return 0
}
skip() { n=$((n + 1)); echo "ok $n - # SKIP $1"; }
bail() { echo "Bail out! $*"; exit 1; }

# q ARGS...: qkdctl in the test namespace; sets $rc, output in $T/out, $T/err
q() {
	set +e
	"$QKDCTL" -n "$NS" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
}
# q_in FILE ARGS...: the same with FILE on stdin
q_in() {
	local in=$1; shift
	set +e
	"$QKDCTL" -n "$NS" "$@" <"$in" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
}
# expect RC NAME: check $rc of the last q
expect() {
	if [[ $rc = "$1" ]]; then ok "$2"; else not_ok "$2 (exit $rc, want $1)"; fi
}
# expect_err TEXT NAME: the last q's stderr contains TEXT
expect_err() {
	if grep -qF -- "$1" "$T/err"; then ok "$2"; else not_ok "$2 (stderr lacks \"$1\")"; fi
}
expect_out() {
	if grep -qF -- "$1" "$T/out"; then ok "$2"; else not_ok "$2 (stdout lacks \"$1\")"; fi
}
# jqt [JQ ARGS...] FILTER NAME: jq -e FILTER over the last q's stdout
jqt() {
	local args=("${@:1:$#-2}") filter=${*: -2:1} name=${*: -1}
	if jq -e "${args[@]}" "$filter" "$T/out" >/dev/null 2>&1; then ok "$name"
	else not_ok "$name: jq '$filter'"; fi
}
# stats_is LINK JSON NAME: `stats LINK` has exactly these counter values
stats_is() {
	q -j stats "$1"
	jqt "$(printf '. as $s | (%s | to_entries | all(.value == $s[.key]))' "$2")" "$3"
}
sha() { xxd -r -p | sha256sum | cut -d' ' -f1; }
# show: the last q's stdout as TAP comments, so a log shows what admins see
show() { sed 's/^/#   | /' "$T/out"; }

# ------------------------------------------------------------------ setup
[[ $(id -u) = 0 ]] || bail "needs root"
for t in jq xxd ip sha256sum; do command -v $t >/dev/null || bail "$t missing"; done
[[ -x $QKDCTL ]] || bail "no $QKDCTL (make -C userspace/qkdctl)"
if ! grep -q '^qkd ' /proc/modules 2>/dev/null; then
	[[ -r $QKD_KO ]] || bail "module not loaded and no $QKD_KO"
	insmod "$QKD_KO" || bail "insmod $QKD_KO failed"
	LOADED_BY_US=1
fi
ip netns add "$NS" || bail "ip netns add"
ip -n "$NS" link set lo up

U() { printf '00000000-0000-4000-8000-%012x' "$1"; }	# key ID number N
I1=$(U 1) I2=$(U 2) I3=$(U 3) I4=$(U 4) I5=$(U 5) R1=$(U 11) R2=$(U 12)
H16=00112233445566778899aabbccddeeff
H32A=$(printf 'a1%.0s' {1..32}) H32B=$(printf 'b2%.0s' {1..32})
H32C=$(printf 'c3%.0s' {1..32}) H32D=$(printf 'd4%.0s' {1..32})
H64=$(printf 'e5%.0s' {1..64})
B32=$(printf '%s' "$H32B" | xxd -r -p | base64 -w0)
cat >"$T/k1" <<KEYS
# 5 initiator and 2 responder keys, 240 bytes
initiator $I1 $H16
initiator $I2 $H32A
initiator $I3 base64:$B32
initiator $I4 $H32D
responder $R1 $H32C
responder $R2 $H32C
initiator $I5 $H64
KEYS

# ------------------------------------------------------------- link add/show
q -j link show
expect 0 "link show in an empty namespace"
jqt '. == []' "no links yet"
q -j stats
jqt '.link_count == 0 and .injected == 0' "namespace stats start at zero"

q link add dc-east local SAE_A remote SAE_B max-keys 8 max-bytes 1024 ttl 600 burst 4 low-watermark 2
expect 0 "link add dc-east"
q link add dc-east local SAE_A remote SAE_B
expect 1 "link add of an existing name fails"
expect_err "qkdctl: link add dc-east: File exists: qkd: a link of that name exists" "EEXIST is reported as: command: strerror: extack"
q link add dc:x local A remote B max-keys 2 low-watermark 3
expect 2 "low-watermark above max-keys is a usage error"
q link set dc-east low-watermark 9
expect 1 "link set low-watermark above the link's max-keys fails in the kernel"
expect_err "Invalid argument: low watermark exceeds max_keys" "the kernel's extack message is printed"

q -j link show dc-east
expect 0 "link show dc-east"
jqt '.[0] | .name == "dc-east" and .local_sae_id == "SAE_A" and .remote_sae_id == "SAE_B"
    and .max_keys == 8 and .max_bytes == 1024 and .ttl == 600 and .rate == 0
    and .burst == 4 and .low_watermark == 2 and .stats.keys_buffered == 0' \
    "link show -j has the configuration and stats"
q link show dc-east
expect_out "dc-east: local SAE_A remote SAE_B" "link show text"
show
q link show dc-nowhere
expect 1 "link show of a missing link fails"
expect_err "No such device: no link of that name" "ENODEV with extack"

q link set dc-east rate 100 ttl 1200
expect 0 "link set"
q -j link show dc-east
jqt '.[0] | .rate == 100 and .ttl == 1200 and .max_keys == 8' "link set changed only what it named"
q link set dc-east rate 0 ttl 600
expect 0 "link set back"

# ---------------------------------------------------------------- key inject
q -j key inject dc-east file "$T/k1"
expect 0 "key inject 7 keys from a file"
jqt '.injected == 7 and .initiator == 5 and .responder == 2' "inject reports counts"
if grep -qF -e "$H16" -e "$H32A" -e "$B32" "$T/out" "$T/err"; then
	not_ok "inject never echoes key material"
else
	ok "inject never echoes key material"
fi
stats_is dc-east '{"injected":7,"keys_buffered":7,"initiator_keys":5,"bytes_buffered":240,"bytes_high_water":240}' \
	"stats after inject"

printf 'initiator %s %s\n' "$I1" "$H32A" >"$T/dup"
q_in "$T/dup" key inject dc-east
expect 1 "inject of a held key ID fails"
expect_err "File exists: key ID already held" "duplicate reported with extack"
printf 'initiator %s %s\ninitiator %s %s\n' "$(U 21)" "$H16" "$(U 22)" "$H16" >"$T/cap"
q key inject dc-east file "$T/cap"
expect 1 "inject beyond max-keys fails"
expect_err "No space left on device" "ENOSPC reported"
printf 'initiator %s %s\nresponder %s 00\n' "$(U 23)" "$H16" "$(U 24)" >"$T/bad"
q_in "$T/bad" key inject dc-east
expect 3 "bad key input: exit 3"
expect_err "stdin:2: key material" "bad line is named"
stats_is dc-east '{"injected":7,"keys_buffered":7,"rejected_duplicate":1,"rejected_cap":2}' \
	"rejections counted exactly, bad input sent nothing"

# ---------------------------------------------------------------- monitor
"$QKDCTL" -n "$NS" -j monitor count 5 >"$T/monitor" 2>"$T/monitor.err" &
MON_PID=$!
# wait_subscribed PID: until PID's netlink socket joined a group (or 5 s)
wait_subscribed() {
	for _ in $(seq 50); do
		if ip netns exec "$NS" awk -v p="$1" \
		    '$2 == 16 && $3 == p && $4 != "00000000" { f = 1 } END { exit !f }' \
		    /proc/net/netlink 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
}
wait_subscribed "$MON_PID"

# ---------------------------------------------------------------- key take
q -j key take dc-east
expect 0 "key take (oldest initiator key)"
jqt --arg id "$I1" --arg d "$(printf %s "$H16" | sha)" \
    '.key_id == $id and .role == "initiator" and .length == 16 and .sha256 == $d' \
    "take prints ID, role, length and the SHA-256 of the key"
if grep -qF "$H16" "$T/out"; then not_ok "take never prints key material"
else ok "take never prints key material"; fi
q key take dc-east id "$R1"
expect 0 "key take by ID (responder key)"
expect_out "key $R1 role responder length 32 sha256 $(printf %s "$H32C" | sha)" "take text output"
q key take dc-east id "$I2"
expect 1 "take by ID never hands out an initiator key"
expect_err "key take dc-east: No such file or directory: qkd: key ID names one of this side's initiator keys" "ENOENT at once with extack (no key-wanted)"
q key take dc-east id "$(U 99)" wait 300
expect 1 "take by ID waits and times out"
expect_err "key take dc-east: Connection timed out: key ID did not arrive in time" "ETIMEDOUT with the reason"
q -j key take dc-east
jqt --arg id "$I2" '.key_id == $id' "second initiator take is the next oldest"
q -j key take dc-east
jqt --arg id "$I3" --arg d "$(printf %s "$H32B" | sha)" '.key_id == $id and .sha256 == $d' \
    "base64-injected key has the right digest"
q -j key take dc-east
jqt --arg id "$I4" '.key_id == $id' "take I4 (drops below the low watermark)"

q flush link dc-east role responder
expect 0 "flush link dc-east role responder"
stats_is dc-east '{"injected":7,"taken":5,"expired":0,"flushed":1,"rejected_duplicate":1,
	"rejected_cap":2,"rejected_not_found":2,"rate_limited":0,"keys_buffered":1,
	"initiator_keys":1,"bytes_buffered":64,"bytes_high_water":240,"wanted_ntf":1,
	"low_watermark_ntf":1}' "every dc-east counter is exact"
q stats dc-east
expect_out "keys: injected 7 taken 5 expired 0 flushed 1" "stats text"
show

# ------------------------------------------------------ expiry, link del
q link add dc-exp local A remote B ttl 1
expect 0 "link add dc-exp ttl 1"
printf 'initiator %s %s\n' "$(U 31)" "$H16" | { set +e; "$QKDCTL" -n "$NS" key inject dc-exp >/dev/null; }
for _ in $(seq 60); do
	q -j stats dc-exp
	jq -e '.expired == 1' "$T/out" >/dev/null 2>&1 && break
	sleep 0.1
done
stats_is dc-exp '{"injected":1,"expired":1,"keys_buffered":0}' "the key expired after its TTL"
q link del dc-exp
expect 0 "link del dc-exp"
q link del dc-exp
expect 1 "link del of a missing link fails"
expect_err "qkdctl: link del dc-exp: No such device" "ENODEV on del"

# The monitor saw exactly these five events, in order.
set +e
timeout 10 tail --pid="$MON_PID" -f /dev/null
wait "$MON_PID"
mon_rc=$?
set -e
MON_PID=
cp "$T/monitor" "$T/out"
: >"$T/err"
if [[ $mon_rc = 0 ]]; then ok "monitor count 5 exits 0"; else not_ok "monitor exit $mon_rc"; fi
jqt --slurp --arg u "$(U 99)" --arg e "$(U 31)" \
    '[.[].event] == ["key-wanted","low-watermark","link-new","key-expired","link-del"]
     and .[0].link == "dc-east" and .[0].key_id == $u and .[0].remote_sae_id == "SAE_B"
     and .[1].key_count == 1 and .[1].low_watermark == 2
     and .[2].link == "dc-exp" and .[2].remote_sae_id == "B"
     and .[3].link == "dc-exp" and .[3].key_id == $e and .[3].role == "initiator"
     and .[4].link == "dc-exp"' "monitor -j: one JSON line per event, with attributes"

# A monitor without count runs until interrupted, and exits 0 on SIGINT.
"$QKDCTL" -n "$NS" monitor >"$T/out" 2>"$T/err" &
pid=$!
wait_subscribed "$pid"
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
expect 0 "monitor exits 0 on SIGINT"

# ---------------------------------------------------------------- batching
q link add dc-big local A remote B max-keys 600 max-bytes 65536
for i in $(seq 1000 1299); do printf 'initiator %s %s\n' "$(U "$i")" "$H32A"; done >"$T/k300"
q key inject dc-big file "$T/k300"
expect 0 "inject 300 keys (two messages)"
expect_out "injected 300 keys into dc-big (300 initiator, 0 responder)" "inject summary"
stats_is dc-big '{"injected":300,"keys_buffered":300,"bytes_buffered":9600}' "all 300 keys arrived"
q link add dc-small local A remote B max-keys 260 max-bytes 65536
q key inject dc-small file "$T/k300"
expect 1 "inject over the cap in the second batch fails"
expect_err "256 of 300 keys (input lines 1-256) were injected before the failure" \
	"partial injection is reported"
stats_is dc-small '{"injected":256,"rejected_cap":44}' "first batch in, second refused whole"

# ---------------------------------------------------------------- rate limit
# rate 1 burst 1: one take per second.  A qkdctl run can take over a second
# in a loaded TCG guest, so race four takes at once rather than in a row.
q link add dc-rate local A remote B rate 1 burst 1
for i in 41 42 43 44; do printf 'initiator %s %s\n' "$(U $i)" "$H16"; done >"$T/k4"
q key inject dc-rate file "$T/k4"
for i in 1 2 3 4; do
	"$QKDCTL" -n "$NS" key take dc-rate >"$T/rate.$i.out" 2>"$T/rate.$i.err" &
done
RATE_OK=0 RATE_BUSY=0
for job in $(jobs -p); do
	if wait "$job"; then RATE_OK=$((RATE_OK + 1)); else RATE_BUSY=$((RATE_BUSY + 1)); fi
done
echo "# rate limit: $RATE_OK taken, $RATE_BUSY refused"
cat "$T"/rate.*.err >"$T/err"
: >"$T/out"
if [[ $RATE_OK -ge 1 && $RATE_BUSY -ge 1 ]]; then ok "concurrent takes: some taken, some rate limited"
else not_ok "concurrent takes: $RATE_OK taken, $RATE_BUSY refused"; fi
if [[ $(grep -c "key take dc-rate: Device or resource busy: qkd: rate limit" "$T/err") = "$RATE_BUSY" ]]
then ok "every refusal is EBUSY with extack"; else not_ok "every refusal is EBUSY with extack"; fi
stats_is dc-rate "{\"injected\":4,\"taken\":$RATE_OK,\"rate_limited\":$RATE_BUSY}" \
	"rate_limited counts every refusal"

# ---------------------------------------------------------------- audit
q -j audit
expect 0 "audit"
jqt --arg comm "$COMM" --arg a "$I1" --arg b "$R1" --arg c "$I2" --arg d "$I3" --arg e "$I4" \
    --argjson n $((5 + RATE_OK)) '
    length == $n and ([.[].seq] == [range(1; $n + 1)])
    and ([.[0:5][].key_id] == [$a,$b,$c,$d,$e])
    and ([.[0:5][].link] | unique == ["dc-east"]) and ([.[5:][].link] | unique == ["dc-rate"])
    and ([.[].comm] | unique == [$comm]) and .[1].role == "responder"
    and all(.[]; .spis == [] and (.pid | type) == "number")' \
    "audit lists every take, oldest first"
q -j audit link dc-big
jqt '. == []' "audit link with no takes is empty"
q audit annotate dc-east id "$I4" spi 0xc0000004 spi 0xc0000005 usage "test child"
expect 0 "audit annotate"
q -j audit link dc-east
jqt '.[4].spis == ["0xc0000004","0xc0000005"] and .[4].usage == "test child"' \
    "annotation shows in the record"
q audit
expect_out "link dc-east key $I4 role initiator by $COMM[" "audit text"
expect_out "spi 0xc0000004,0xc0000005 usage \"test child\"" "audit text shows SPIs and usage"
show
q audit annotate dc-east id "$(U 98)" spi 1
expect 1 "annotate of a key never taken fails"
expect_err "no take record of that key ID on that link" "ENOENT with extack"

# ---------------------------------------------------------------- xfrm
modprobe -q xfrm_user 2>/dev/null || true
modprobe -q esp4 2>/dev/null || true
EK=$(printf '7e%.0s' {1..16}) AK=$(printf '8f%.0s' {1..32})
if ip -n "$NS" xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0xc0000004 reqid 7 \
	mode tunnel enc 'cbc(aes)' "0x$EK" auth-trunc 'hmac(sha256)' "0x$AK" 128 2>"$T/err" &&
   ip -n "$NS" xfrm state add src 10.0.0.2 dst 10.0.0.1 proto esp spi 0x00001234 reqid 8 \
	mode transport enc 'cbc(aes)' "0x$EK" auth-trunc 'hmac(sha256)' "0x$AK" 128 2>"$T/err"; then
	q -j xfrm
	expect 0 "xfrm -j"
	jqt --arg k "$I4" 'length == 2
	    and (.[] | select(.spi == "0xc0000004") | .keying == "qkd" and .qkd.link == "dc-east"
	         and .qkd.key_id == $k and .qkd.audit_seq == 5 and .mode == "tunnel"
	         and .reqid == 7 and .proto == "esp" and .src == "10.0.0.1"
	         and .enc.name == "cbc(aes)" and .enc.key_bits == 128
	         and .auth.name == "hmac(sha256)" and .auth.trunc_bits == 128 and .age_s >= 0)
	    and (.[] | select(.spi == "0x00001234") | .keying == "classical" and .qkd == null
	         and .mode == "transport")' "xfrm annotates the QKD-keyed SA and marks the other classical"
	q xfrm
	expect_out "2 SAs: 1 qkd, 1 classical, 0 unknown" "xfrm text summary"
	show
	expect_out "keying qkd link dc-east key $I4" "xfrm text names link and key"
	if grep -qiF -e "$EK" -e "$AK" "$T/out"; then not_ok "xfrm never prints SA keys"
	else ok "xfrm never prints SA keys"; fi
else
	skip "xfrm: cannot add ESP SAs here ($(head -c 100 "$T/err"))"
fi

# ---------------------------------------------------------------- misc
# A copy anyone may execute: the repository may sit in a private directory.
install -m 0755 "$QKDCTL" "$T/qkdctl-nobody"
chmod 0755 "$T"
set +e
ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$T/qkdctl-nobody" link show >"$T/out" 2>"$T/err"
rc=$?
set -e
expect 1 "without CAP_NET_ADMIN: exit 1"
expect_err "Operation not permitted" "EPERM reported"

set +e
ip netns exec "$NS" "$QKDCTL" -j stats dc-east >"$T/out" 2>"$T/err"
rc=$?
set -e
jqt '.taken == 5' "ip netns exec and -n see the same namespace"

q -j stats
jqt --argjson t $((5 + RATE_OK)) '.link_count == 4 and .injected == 568 and .taken == $t
    and .rate_limited == '"$RATE_BUSY"' and .flushed == 1' "namespace totals"
q flush all
expect 0 "flush all"
q -j link show
jqt 'length == 4 and all(.[]; .stats.keys_buffered == 0)' "flush all emptied every link"
for l in dc-east dc-big dc-small dc-rate; do q link del "$l"; done
q link del dc-east
expect 1 "deleted links are gone"
q -j link show
jqt '. == []' "no links left"

echo "1..$n"
[[ $failed = 0 ]]
