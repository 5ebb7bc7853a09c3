# SPDX-License-Identifier: GPL-2.0
# TAP helpers for shell selftests: source this, then call tap_ok/tap_fail
# or tap_check "description" command...; tap_done prints the plan.
TAP_N=0
TAP_FAILED=0

tap_ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
tap_fail() {
	TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $*"
}
tap_skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1 # SKIP ${2:-}"; }

# tap_check DESC CMD...: runs CMD, ok if it exits 0.
tap_check() {
	local desc=$1; shift
	if "$@"; then tap_ok "$desc"; else tap_fail "$desc"; fi
}

# tap_eq DESC EXPECTED ACTUAL
tap_eq() {
	if [ "$2" = "$3" ]; then tap_ok "$1"
	else echo "# $1: expected '$2', got '$3'"; tap_fail "$1"; fi
}

tap_done() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
