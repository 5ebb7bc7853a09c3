#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Interop: our gateway (Debian's charon + the qkd plugin + the qkd module,
# esp_proposals = aes256gcm16-qkd, aes256gcm16-x25519, a prefer link for the
# peer) against Debian's libreswan 4.10 (pluto), which knows nothing of QKD.
# In the guest, after selftests/interop/fetch-libreswan.sh ran on the host:
#
#   selftests/vm/run --timeout 1800 -- selftests/interop/libreswan.sh
#
# pluto runs in the peer's netns from the unpacked tree (certificate auth
# from an NSS db made with certutil/pk12util, ike=aes256-sha2_256-dh31,
# esp=aes_gcm256-null-dh31, pfs=yes).  For IPv4 and IPv6 (outer and inner):
# ours initiates, then REKEYS (10; over IPv6 REKEYS6, 3) CHILD_SA rekeys by
# each side, alternating, the first by ours right after IKE_AUTH (swanctl
# --rekey, whack --rekey-ipsec); each must change the SPIs in both kernels, keep the
# IKE_SA and carry ping traffic counted on all four ESP SAs; no QKD key may
# be taken from ours' module and no exchange may fail.  Then policy
# require (IPv4): no CHILD_SA installed in ours' kernel, whoever
# initiates, the peer's IKE_AUTH CHILD_SA deleted at once.  See README.md.
# Output: TAP.
set -u

PEER=libreswan
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

peer_start() {	# peer_start TAG
	lsw_start "$1"
}
peer_rekey() {	# peer_rekey TAG ROUND
	whack --rekey-ipsec --name gw
}
# IKE SAs pluto holds established ("#N: "gw"... ESTABLISHED_IKE_SA")
peer_ike_count() {
	whack --showstates 2>/dev/null | grep -c 'ESTABLISHED_IKE_SA'
}
# bring the CHILD_SA up from the peer (a new IKE_SA if it has none)
peer_initiate() {	# peer_initiate TAG
	whack --initiate --name gw --asynchronous
}
PEER_LOG=
peer_bad_lines() {	# peer_bad_lines OUT
	grep -E 'INVALID_SYNTAX|INVALID_KE_PAYLOAD|NO_PROPOSAL_CHOSEN|unknown value|no acceptable|dropping|deleting IKE SA|deleting state #[0-9]+ \(STATE_V2_ESTABLISHED_IKE' \
		"$PEER_LOG" > "$1"
}

interop_setup
lsw_install
ok $? "libreswan 4.10 from $LSW_DIR/root (pluto --version: $(head -c 60 "$L/pluto-version.out"))"
[ "$failed" = 0 ] || bail "no libreswan"

k=0
for f in $FAMILIES; do
	k=$((k + 1))
	PEER_LOG=$L/lsw$f-pluto.log
	run_scenario "lsw$f" "$f" "a$k" "$(rekeys_for "$f")"
	end_scenario "lsw$f"
done
PEER_LOG=$L/lsw-req-pluto.log
run_require lsw-req 4 a9
end_scenario lsw-req
finish
