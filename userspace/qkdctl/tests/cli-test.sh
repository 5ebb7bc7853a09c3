#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Host CLI tests of qkdctl: exit codes, help, usage errors, key input
# errors, and (when the qkd module is absent, as on a build host) the
# "module not loaded" path.  TAP output; exits non-zero on any failure.
# QKDCTL: the binary to test (default ./qkdctl).

QKDCTL=${QKDCTL:-./qkdctl}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }

# expect RC NAME ARGS... : run qkdctl, check its exit code; output in $T/out, $T/err
expect() {
	want=$1; name=$2; shift 2
	"$QKDCTL" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$name (exit $rc)"
	else
		not_ok "$name: exit $rc, want $want"
		sed 's/^/#   /' "$T/err"
	fi
}

# expect_in RC NAME INPUT ARGS... : same with INPUT on stdin
expect_in() {
	want=$1; name=$2; input=$3; shift 3
	printf '%b' "$input" | "$QKDCTL" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$name (exit $rc)"
	else
		not_ok "$name: exit $rc, want $want"
		sed 's/^/#   /' "$T/err"
	fi
}

grep_file() { # FILE PATTERN NAME
	if grep -q -- "$2" "$1"; then ok "$3"; else not_ok "$3: no \"$2\" in $(cat "$1")"; fi
}

UUID1=0b6f2c3e-3d63-4c3f-9d7e-6a6c1b9e2f10
SECRET=5ec7e75ec7e75ec7e75ec7e75ec7e75e

# --- global options and help ------------------------------------------------
expect 2 "no arguments is a usage error"
expect 0 "--help" --help
grep_file "$T/out" "Exit codes" "--help lists exit codes"
expect 0 "help object" help
expect 0 "-V" -V
expect 2 "unknown option" -z link show
grep_file "$T/err" 'unknown option "-z"' "unknown option is named"
expect 2 "unknown object" frobnicate
expect 2 "-n without a name" -n

for obj in link key flush stats audit monitor xfrm; do
	expect 0 "$obj help" "$obj" help
	grep_file "$T/out" "Usage: qkdctl" "$obj help prints usage on stdout"
	expect 0 "$obj --help" "$obj" --help
done
expect 0 "link add --help" link add --help
expect 0 "link set -h" link set -h
expect 0 "key inject --help" key inject --help
expect 0 "key take --help" key take --help
expect 0 "audit annotate --help" audit annotate --help
expect 0 "audit show help" audit show help

# --- usage errors: exit 2, nothing sent ----------------------------------------
expect 2 "link add without SAE IDs" link add x
expect 2 "link add bad number" link add x local a remote b max-keys 12k
grep_file "$T/err" 'bad max-keys "12k"' "bad number is named"
expect 2 "link add out of range" link add x local a remote b ttl 604801
expect 2 "link add unknown option" link add x local a remote b --force
expect 2 "link set nothing" link set x
expect 2 "link del without name" link del
expect 2 "link unknown command" link frob
expect 2 "flush without target" flush
expect 2 "flush bad role" flush all role master
expect 2 "key without command" key
expect 2 "key unknown command" key bogus
expect 2 "key inject without link" key inject
expect 2 "key take wait without id" key take l wait 10
expect 2 "audit annotate without id" audit annotate l spi 1
expect 2 "monitor count 0" monitor count 0
expect 2 "xfrm extra argument" xfrm show all
expect 2 "stats two names" stats a b

# --- key input errors: exit 3, nothing sent ------------------------------------
expect 3 "key inject missing file" key inject l file "$T/nonexistent"
expect 2 "key inject - twice" key inject l - -
expect_in 3 "key inject - bad stdin line" "initiator $UUID1 $SECRET\nresponder zz $SECRET\n" key inject l -
grep_file "$T/err" "stdin:2: bad key ID" "key inject l -: bad line is named stdin:2"
expect_in 3 "key inject - material in the ID column" "initiator $SECRET $UUID1\n" key inject l -
if grep -q "$SECRET" "$T/err" "$T/out"; then
	not_ok "misplaced key material is not echoed"
else
	ok "misplaced key material is not echoed"
fi
expect_in 3 "key inject bad line" "initiator $UUID1 $SECRET\nresponder zz $SECRET\n" key inject l
grep_file "$T/err" "stdin:2: bad key ID" "bad line is named stdin:2"
expect_in 3 "key inject short key" "initiator $UUID1 00112233\n" key inject l
grep_file "$T/err" "stdin:1: key material too short" "short key is named"
expect_in 3 "key inject empty input" "" key inject l
grep_file "$T/err" "no keys" "empty input is reported"
expect_in 3 "key inject bad material" "initiator $UUID1 ${SECRET}zz\n" key inject l
if grep -q "$SECRET" "$T/err" "$T/out"; then
	not_ok "key material is never echoed"
else
	ok "key material is never echoed"
fi
printf 'initiator %s %s\nbogus\n' "$UUID1" "$SECRET" >"$T/keys"
chmod 600 "$T/keys"
expect 3 "key inject bad file line" key inject l file "$T/keys"
grep_file "$T/err" "$T/keys:2: expected 3 fields" "file:line is named"

# --- netns option ---------------------------------------------------------------
expect 1 "-n nonexistent namespace" -n qkdctl-no-such-ns link show

# --- without the module (a build host) --------------------------------------------
"$QKDCTL" stats >/dev/null 2>&1
if [ $? = 4 ]; then
	expect 4 "link show without module" link show
	grep_file "$T/err" "qkd module not loaded" "module absence is explained"
	expect 4 "stats without module" stats
	expect 4 "audit without module" audit
	expect 4 "monitor without module" monitor
	expect 4 "flush without module" flush all
	printf 'initiator %s %s\n' "$UUID1" "$SECRET" >"$T/good"
	expect 4 "key inject (valid input) without module" key inject l file "$T/good"
	# qkdctl(8): "key inject NAME -" reads standard input
	expect_in 4 "key inject l - (valid stdin) without module" "initiator $UUID1 $SECRET\n" key inject l -
	# xfrm still lists SAs; their keying is unknown without the module
	expect 0 "xfrm without module" xfrm
	grep_file "$T/out" "SAs\{0,1\}: " "xfrm prints a summary"
	expect 0 "xfrm -j without module" -j xfrm
	if command -v jq >/dev/null 2>&1; then
		if jq -e 'type == "array"' "$T/out" >/dev/null; then ok "xfrm -j is a JSON array"
		else not_ok "xfrm -j is a JSON array"; fi
	fi
else
	n=$((n + 1)); echo "ok $n - # SKIP qkd module present: no-module tests"
fi

echo "1..$n"
[ "$failed" = 0 ]
