#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Module and namespace lifetime with keys buffered: unload, unload while a
# taker waits for a key by ID, namespace deletion, reload.  Runs in the
# guest as root (selftests/vm/run); the VM runner fails the run on any
# kernel warning, slub_debug report or oops these provoke.
set -euo pipefail
[ -n "${QKD_TRACE:-}" ] && set -x
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$REPO/selftests/lib/tap.sh"
KO=${QKD_KO:-$REPO/kmod/qkd.ko}
CLI=$HERE/qkd-cli

cleanup() {
	ip netns del qkd-t1 2>/dev/null || true
	ip netns del qkd-t2 2>/dev/null || true
}
trap cleanup EXIT

# keys FIRST COUNT ROLE: COUNT key lines with IDs FIRST.. and random
# material, in one pipeline (forks are slow under TCG).
keys() {
	od -An -tx1 -v -N$(($2 * 32)) /dev/urandom | tr -d ' \n' | fold -w64 |
		awk -v first="$1" -v role="$3" \
			'{ printf "%s %032x %s\n", role, first + NR - 1, $0 }'
}

stat() { "$CLI" stats ${2:+"$2"} | awk -v k="$1" '$1 == k { print $2 }'; }
# until counter COUNTER of link LINK reads VALUE (at most 10 s)
wait_stat() {	# wait_stat COUNTER LINK VALUE
	for _ in $(seq 100); do
		[ "$(stat "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

lsmod | grep -q '^qkd ' && rmmod qkd
insmod "$KO"
tap_check "module loads" grep -q '^qkd ' /proc/modules

# Unload with keys buffered in two links of the initial namespace.
"$CLI" link-add a sae-1 sae-2 max_keys 5000
"$CLI" link-add b sae-1 sae-3
keys 0 1000 initiator | "$CLI" inject a
keys 1000 200 responder | "$CLI" inject a
keys 0 50 initiator | "$CLI" inject b
tap_eq "1250 keys buffered before unload" 1250 "$(stat keys_buffered)"
tap_check "unload with keys buffered" rmmod qkd
tap_check "module gone" bash -c '! grep -q "^qkd " /proc/modules'

# Reload: a fresh, empty store.
insmod "$KO"
tap_eq "reloaded store has no links" 0 "$(stat links)"
tap_eq "reloaded store has no keys" 0 "$(stat keys_buffered)"

# Unload while a taker waits for a key by ID: it must be told and the
# unload must not wait out the 10 s timeout.
"$CLI" link-add a sae-1 sae-2
modprobe -r fou 2>/dev/null || true
"$CLI" take a 000000000000000000000000000000ff 10000 > /tmp/qkd-take1.out 2>&1 &
taker=$!
# The take is pending in the module once the link counts it.  As little
# as possible runs between this and the checks below: on the debug kernel
# every process start costs a second or more, and the taker gives up after
# 10 s (QKD_TAKE_WAIT_MAX_MS).
wait_stat pending a 1 || true
t0=$(date +%s%N)
# The wait is in userspace, not in a netlink handler holding genetlink's
# lock: a module that registers a genetlink family loads, and another
# family's request completes, while the taker still waits.
tap_check "a genetlink family registers while a take waits" modprobe fou
tap_check "another family's request completes meanwhile" ip fou show
tap_check "the taker still waits after both" kill -0 "$taker"
echo "# modprobe fou and ip fou show took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
tap_eq "taker is waiting for its key" 1 "$(stat wanted a)"
tap_eq "the module keeps its take pending" 1 "$(stat pending a)"
modprobe -r fou || true
# A fresh taker for the unload: on a slow (debug) kernel the steps above
# can outlast the first one's 10 s wait (QKD_TAKE_WAIT_MAX_MS).
"$CLI" take a 000000000000000000000000000000fe 10000 > /tmp/qkd-take.out 2>&1 &
taker2=$!
wait_stat wanted a 2 || true
tap_eq "a second taker waits for its key" 2 "$(stat wanted a)"
start=$(date +%s%N)
rmmod qkd
wait "$taker" || true
wait "$taker2" && rc=0 || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
tap_check "waiting taker fails when the module unloads" test "$rc" -ne 0
tap_check "taker was told the module is unloading" grep -q "unloading" /tmp/qkd-take.out
echo "# taker said: $(cat /tmp/qkd-take.out)"
tap_check "the taker learnt of the unload at once, not at its timeout (${ms} ms)" test "$ms" -lt 8000

# Namespaces: keys in two namespaces, one deleted, the other untouched.
insmod "$KO"
ip netns add qkd-t1
ip netns add qkd-t2
ip netns exec qkd-t1 "$CLI" link-add x s1 s2
ip netns exec qkd-t2 "$CLI" link-add x s1 s2
keys 0 100 initiator | ip netns exec qkd-t1 "$CLI" inject x
keys 0 7 initiator | ip netns exec qkd-t2 "$CLI" inject x
tap_eq "namespace 1 holds its 100 keys" 100 "$(ip netns exec qkd-t1 "$CLI" stats x | awk '$1=="keys_buffered"{print $2}')"
tap_eq "namespace 2 holds its 7 keys" 7 "$(ip netns exec qkd-t2 "$CLI" stats x | awk '$1=="keys_buffered"{print $2}')"
tap_eq "initial namespace sees neither" 0 "$(stat links)"
ip netns del qkd-t1
sleep 1	# netns cleanup runs from a workqueue
tap_eq "namespace 2 unaffected by deleting namespace 1" 7 "$(ip netns exec qkd-t2 "$CLI" stats x | awk '$1=="keys_buffered"{print $2}')"
tap_check "unload with a namespace holding keys" rmmod qkd
ip netns del qkd-t2

tap_done
