#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Interop: our gateway (Debian's charon + the qkd plugin + the qkd module,
# esp_proposals = aes256gcm16-qkd, aes256gcm16-x25519, a prefer link for the
# peer) against plain Debian strongSwan 5.9.8: a second charon whose
# strongswan.conf does not load qkd, default settings (no
# accept_private_algs), esp_proposals = aes256gcm16-x25519.  In the guest:
#
#   selftests/vm/run --timeout 1800 -- selftests/interop/strongswan.sh
#
# For IPv4 and IPv6 (outer and inner): ours initiates, then REKEYS (10;
# over IPv6 REKEYS6, 3) CHILD_SA rekeys by each side, alternating, the first
# by ours right after IKE_AUTH (swanctl --rekey on either side); each must change the SPIs in
# both kernels, keep the IKE_SA and carry ping traffic counted on all four
# ESP SAs; no QKD key may be taken from ours' module and no exchange may
# fail (no INVALID_KE_PAYLOAD round trip either).  See README.md.
# Output: TAP.
set -u

PEER=strongswan
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

peer_start() {	# peer_start TAG
	CONF_PLUGIN=no CONF_PRIV=no CONF_QKD='' CONF_LOAD='' CONF_CHARON='' CONF_RTO=''
	write_conf b
	SW_PROPOSALS='' SW_REMOTE='' SW_ESP=aes256gcm16-x25519
	write_swanctl b
	start_charon b && sw b --load-all > "$L/$1-load-b.out" 2>&1 &&
		! grep -q "loaded plugins: .* qkd" "$L/b-charon.log"
}
peer_rekey() {	# peer_rekey TAG ROUND
	sw b --rekey --child net
}
# bring the CHILD_SA up from the peer (a new IKE_SA if it has none)
peer_initiate() {	# peer_initiate TAG
	sw b --initiate --child net --timeout 60
}
peer_ike_count() {
	ike_count b
}
peer_bad_lines() {	# peer_bad_lines OUT
	grep -E "N\((INVAL_KE|INVAL_SYN|NO_PROP|TS_UNACCEPT)\)|no acceptable proposal|deleting IKE_SA|DH group .* unacceptable|CHILD_SA rekeying failed|failed to establish CHILD_SA" \
		"$L/b-charon.log" > "$1"
}

interop_setup
k=0
for f in $FAMILIES; do
	k=$((k + 1))
	run_scenario "sw$f" "$f" "b$k" "$(rekeys_for "$f")"
	end_scenario "sw$f"
done
run_require sw-req 4 b9
end_scenario sw-req
finish
