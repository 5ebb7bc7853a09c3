#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Provide Debian's libreswan 4.10 for the interop tests WITHOUT installing it:
# `apt-get install libreswan` removes strongswan-charon (the packages
# conflict), so its .deb and the few libraries it needs that a strongSwan
# host usually lacks are downloaded with `apt-get download` and unpacked with
# `dpkg-deb -x` into a private tree:
#
#   selftests/interop/fetch-libreswan.sh [DIR]     (default build/libreswan)
#
#   DIR/debs/   the downloaded .deb files
#   DIR/root/   their contents (usr/libexec/ipsec/{pluto,addconn,whack,...},
#               usr/bin/{certutil,pk12util}, usr/lib/x86_64-linux-gnu/*.so.*)
#   DIR/env     LSW_ROOT and LD_LIBRARY_PATH for running them
#
# Idempotent: nothing is downloaded when DIR/root holds the candidate
# versions apt knows (runs `apt-get update` once if apt knows none).  The
# guest tests (selftests/interop/*.sh) only read DIR/root: the guest has no
# network, so this runs on the host first (`make check-interop`, `make deps`).
# The shared libraries libreswan links that apt may install safely are in
# selftests/interop/debian-packages.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DIR=${1:-$REPO/build/libreswan}
# libevent-pthreads wants libevent-core of exactly its own version: both
# come from the same download, whatever the host has installed
PKGS=(libreswan libnss3-tools libldns3 libevent-pthreads-2.1-7 libevent-core-2.1-7)

candidates() {	# "pkg=version" for every package, or fail
	apt-cache policy "${PKGS[@]}" 2>/dev/null | awk -v n=${#PKGS[@]} '
		/^[^ ].*:$/ { p = $1; sub(/:$/, "", p) }
		$1 == "Candidate:" && $2 != "(none)" { print p "=" $2; k++ }
		END { exit k != n }'
}

want=$(candidates) || {
	echo "fetch-libreswan: apt knows no candidate for ${PKGS[*]}: apt-get update" >&2
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	want=$(candidates) || { echo "fetch-libreswan: ${PKGS[*]} not in the apt sources" >&2; exit 1; }
}
if [ -f "$DIR/root/.complete" ] && [ "$(cat "$DIR/root/.complete")" = "$want" ]; then
	echo "fetch-libreswan: $DIR/root up to date ($(echo "$want" | head -1))"
	exit 0
fi

rm -rf "$DIR/debs.new" "$DIR/root.new"
mkdir -p "$DIR/debs.new" "$DIR/root.new"
# shellcheck disable=SC2086
(cd "$DIR/debs.new" && apt-get -o DPkg::Lock::Timeout=600 download $want) 2>&1 |
	grep -v "Download is performed unsandboxed" >&2 || true
for p in "${PKGS[@]}"; do
	ls "$DIR/debs.new/${p}_"*.deb > /dev/null 2>&1 ||
		{ echo "fetch-libreswan: download of $p failed" >&2; exit 1; }
done
for d in "$DIR"/debs.new/*.deb; do
	dpkg-deb -x "$d" "$DIR/root.new"
done

# everything the tests run must find its libraries
lib=$DIR/root/usr/lib/x86_64-linux-gnu
missing=$(for b in usr/libexec/ipsec/pluto usr/libexec/ipsec/addconn usr/libexec/ipsec/whack \
		usr/bin/certutil usr/bin/pk12util; do
	LD_LIBRARY_PATH=$DIR/root.new/usr/lib/x86_64-linux-gnu ldd "$DIR/root.new/$b" |
		awk '/not found/ { print $1 }'
done | sort -u)
if [ -n "$missing" ]; then
	echo "fetch-libreswan: libraries missing on this host: $missing" >&2
	echo "fetch-libreswan: apt-get install the packages in $HERE/debian-packages (never libreswan itself)" >&2
	exit 1
fi
LD_LIBRARY_PATH=$DIR/root.new/usr/lib/x86_64-linux-gnu "$DIR/root.new/usr/libexec/ipsec/pluto" --version |
	grep -q '^Libreswan 4\.' || { echo "fetch-libreswan: pluto --version is not Libreswan 4" >&2; exit 1; }

rm -rf "$DIR/debs" "$DIR/root"
mv "$DIR/debs.new" "$DIR/debs"
mv "$DIR/root.new" "$DIR/root"
cat > "$DIR/env" <<EOE
LSW_ROOT=$DIR/root
LD_LIBRARY_PATH=$lib
EOE
echo "$want" > "$DIR/root/.complete"
echo "fetch-libreswan: $(LD_LIBRARY_PATH=$lib "$DIR/root/usr/libexec/ipsec/pluto" --version | cut -d' ' -f1-2) unpacked in $DIR/root"
