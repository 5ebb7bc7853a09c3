#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The interop suite of selftests/run-all (guest-interop): both peers in one
# guest boot, libreswan 4.10 then plain strongSwan, in a short mode by
# default (REKEYS=2 over IPv4, REKEYS6=1 over IPv6 per side, plus the
# require scenario); `make check-interop` runs the long mode (10 + 3
# rekeys per side, one guest per peer).  Each script cleans up its netns,
# charons and pluto on exit (selftests/charon/lib.sh's trap), so the second
# starts from the same state as the first.  Needs
# selftests/interop/fetch-libreswan.sh on the host first (`make deps`).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export REKEYS=${REKEYS:-2} REKEYS6=${REKEYS6:-1}
rc=0
"$HERE/libreswan.sh" || rc=1
"$HERE/strongswan.sh" || rc=1
exit $rc
