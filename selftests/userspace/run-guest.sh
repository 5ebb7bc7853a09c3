#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# qkd-agent's guest suite (run inside the VM as root):
#   selftests/vm/run -- selftests/userspace/run-guest.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export QKD_KO=${QKD_KO:-$HERE/../../kmod/qkd.ko}
exec "$HERE/agent_guest_test.sh"
