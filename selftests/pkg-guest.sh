#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest half of selftests/pkg-test.sh (run inside the VM as root):
#   selftests/vm/run -- selftests/pkg-guest.sh ROOT [--demo PKI DURATION]
# ROOT is the Debian root the packages were installed into.  The module
# DKMS built there loads into Debian's kernel, and the installed
# qkd-kms-sim, qkd-agent and qkdctl, run in ROOT, fill a link of it from
# the simulated KME over mutual TLS.  Nothing from the source tree runs
# except the test PKI script (openssl).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
R=$1
. "$HERE/lib/tap.sh"
KVER=$(uname -r)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap cleanup EXIT
wait_for() { # COND TIMEOUT_S
	local i
	for i in $(seq $(($2 * 10))); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}
ip link set lo up

ko=$(ls "$R/lib/modules/$KVER/updates/dkms/"qkd.ko* 2>/dev/null | head -1)
tap_check "package's module for the guest kernel $KVER" test -n "$ko"
tap_check "modprobe -d ROOT qkd (the package's modules.dep)" modprobe -d "$R" qkd
tap_check "qkd is loaded" grep -q '^qkd ' /proc/modules
echo "# module signer: $(modinfo -F signer "$ko" 2>/dev/null); taint $(cat /proc/sys/kernel/tainted)"

# ROOT a mount point of its own: `ip netns exec` remounts / (rslave)
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
in_root() { chroot "$R" "$@"; }

tap_check "installed qkdctl talks to the module (link show)" \
	bash -c "chroot '$R' qkdctl link show >/dev/null"

P=$R/etc/qkd/pki
"$REPO/userspace/tests/mkcerts.sh" "$P" >/dev/null 2>&1
tap_check "test PKI in ROOT/etc/qkd/pki" test -s "$P/SAE_A.crt"
in_root qkd-kms-sim --cert-a /etc/qkd/pki/kme.crt --key-a /etc/qkd/pki/kme.key \
	--ca /etc/qkd/pki/ca.crt --listen-a 127.0.0.1:8443 --listen-b 127.0.0.1:8444 \
	--initial-keys 200 >"$R/tmp/sim.out" 2>"$R/tmp/sim.log" &
pids+=($!)
tap_check "installed qkd-kms-sim is up" wait_for "grep -q ready '$R/tmp/sim.out'" 15

cat >"$R/etc/qkd/qkd-agent.conf" <<'EOF'
[agent]
stats_interval = 2
[link to-b]
kme_url = https://localhost:8443
local_sae_id = SAE_A
remote_sae_id = SAE_B
role = master
client_cert = /etc/qkd/pki/SAE_A.crt
client_key = /etc/qkd/pki/SAE_A.key
ca_cert = /etc/qkd/pki/ca.crt
low_watermark = 8
high_watermark = 32
EOF
tap_check "installed qkd-agent --check on it" in_root qkd-agent --check -c /etc/qkd/qkd-agent.conf
in_root qkd-agent -c /etc/qkd/qkd-agent.conf 2>"$R/tmp/agent.log" &
pids+=($!)
initiator() { in_root qkdctl link show to-b 2>/dev/null |
	sed -n 's/.*buffered: [0-9]* keys (\([0-9]*\) initiator).*/\1/p'; }
if wait_for '[ "$(initiator)" = 32 ]' 20; then
	tap_ok "the agent filled link to-b to its high watermark (32 initiator keys)"
else
	in_root qkdctl link show to-b 2>&1 | sed 's/^/# /'
	tail -n 20 "$R/tmp/agent.log" | sed 's/^/# agent: /'
	tap_fail "the agent filled link to-b to its high watermark"
fi
in_root qkdctl link show to-b 2>&1 | grep -E 'buffered|taken' | sed 's/^/# /'
cleanup
pids=()
in_root qkdctl link del to-b >/dev/null 2>&1
rm -f "$R/etc/qkd/qkd-agent.conf"

# --demo PKI DURATION: the two-site demo (demo/guest.sh) run in ROOT with
# DEMO_INSTALLED=1: Debian's charon and swanctl, the package's plugin,
# module, agent, simulator and qkdctl.  Only the demo's scripts come from
# the source tree (bound to ROOT/opt/qkd-demo/demo).
if [ "${2:-}" = --demo ]; then
	modprobe -a veth xfrm_user esp4 xfrm4_tunnel tunnel4
	D=$R/opt/qkd-demo
	mkdir -p "$D/demo" "$D/results"
	mount --bind "$REPO/demo" "$D/demo"
	cp -a "$3" "$D/pki"
	if [ -n "${QKD_VM_RESULTS:-}" ]; then mount --bind "$QKD_VM_RESULTS" "$D/results"; fi
	in_root env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb \
		DEMO_INSTALLED=1 DEMO_PKI=/opt/qkd-demo/pki DEMO_DURATION="$4" \
		QKD_VM_RESULTS=/opt/qkd-demo/results \
		bash /opt/qkd-demo/demo/guest.sh 2>&1 | sed 's/^/demo| /'
	rc=${PIPESTATUS[0]}
	tap_eq "two-site demo from the installed packages passes its checks" 0 "$rc"
fi

tap_check "rmmod qkd" rmmod qkd
tap_done
