#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module's guest suite: the kselftest_harness tests (the family, then
# the memory caps and cgroup charge), then the lifecycle shell test, then
# the netlink fuzzer's short mode (QKD_NLFUZZ_COUNT messages, default
# 10^5, module reloaded every 10 s; `make fuzz-kmod` is the long mode).
# Run by selftests/run-all inside the VM.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
KO=${QKD_KO:-$HERE/../../kmod/qkd.ko}
rc=0
grep -q '^qkd ' /proc/modules || insmod "$KO" || exit 1
"$HERE/qkd_test" || rc=1
"$HERE/qkd_caps_test" || rc=1
rmmod qkd || rc=1
"$HERE/lifecycle.sh" || rc=1
"$HERE/qkd_nlfuzz" --ko "$KO" --count "${QKD_NLFUZZ_COUNT:-100000}" \
	--reload-ms 10000 --unpriv-count 2000 --userns-count 1000 || rc=1
exit $rc
