#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host test: the module's DKMS source tree installs into a DESTDIR with the
# expected layout, and `dkms add/build` builds it for Debian's 6.1 kernel.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
. "$HERE/lib/tap.sh"
VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$REPO/dkms.conf")
KVER=$(ls -d /lib/modules/6.1.*-amd64/build | sort -V | tail -1 | cut -d/ -f4)
DEST=$(mktemp -d)
cleanup() {
	dkms remove -m qkd -v "$VERSION" --all >/dev/null 2>&1 || true
	rm -rf "$DEST"
}
trap cleanup EXIT

make -s -C "$REPO" install-dkms-src DESTDIR="$DEST"
SRC=$DEST/usr/src/qkd-$VERSION
for f in dkms.conf Kbuild kmod/Kbuild kmod/main.c kmod/netlink.c kmod/store.c \
	 kmod/ratelimiter.c kmod/audit.c kmod/qkd.h include/uapi/linux/qkd.h; do
	tap_check "DKMS source has $f" test -f "$SRC/$f"
done
tap_check "DKMS source has no build products" \
	bash -c "! find '$SRC' -name '*.o' -o -name '*.ko' -o -name '*.mod*' | grep -q ."

dkms remove -m qkd -v "$VERSION" --all >/dev/null 2>&1 || true
tap_check "dkms add" dkms add -m qkd -v "$VERSION" --sourcetree "$DEST/usr/src"
tap_check "dkms build for $KVER" dkms build -m qkd -v "$VERSION" -k "$KVER" \
	--sourcetree "$DEST/usr/src"
tap_check "dkms built qkd.ko" \
	bash -c "dkms status -m qkd -v '$VERSION' -k '$KVER' | grep -q built"
ko=$(find /var/lib/dkms/qkd/"$VERSION"/"$KVER" -name 'qkd.ko*' | head -1)
tap_check "built module is for $KVER" \
	bash -c "modinfo -F vermagic '$ko' | grep -q '^$KVER '"
tap_done
