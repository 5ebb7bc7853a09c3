#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of the zeroization test: selftests/run-all boots this guest
# without slab poisoning (which would hide a missing wipe) and with less
# memory (the test reads all of RAM through /proc/kcore).
HERE=$(cd "$(dirname "$0")" && pwd)
KO=${QKD_KO:-$HERE/../../kmod/qkd.ko}
grep -q '^qkd ' /proc/modules || insmod "$KO" || exit 1
"$HERE/qkd_zeroize"
