#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host test: `make install` lays everything out as a Debian admin expects,
# the module's DKMS source tree is complete, and `dkms add/build` builds it
# for Debian's 6.1 kernel.  Expects `make all` to have run.
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

# The whole install, into a second DESTDIR.
FULL=$DEST/full
make -s -C "$REPO" install DESTDIR="$FULL" PREFIX=/usr >/dev/null
for f in usr/lib/ipsec/plugins/libstrongswan-qkd.so \
	 etc/strongswan.d/charon/qkd.conf \
	 usr/sbin/qkdctl usr/sbin/qkd-agent usr/sbin/qkd-kms-sim \
	 usr/share/man/man8/qkdctl.8 usr/share/man/man8/qkd-agent.8 \
	 usr/share/man/man8/qkd-kms-sim.8 usr/share/man/man5/qkd-agent.conf.5 \
	 lib/systemd/system/qkd-agent.service \
	 usr/include/linux/qkd.h usr/src/qkd-$VERSION/dkms.conf; do
	tap_check "install has /$f" test -s "$FULL/$f"
done
for p in qkdctl qkd-agent qkd-kms-sim; do
	tap_check "installed $p answers --help" \
		bash -c "'$FULL/usr/sbin/$p' --help >/dev/null 2>&1"
	tap_check "man page of $p renders without warnings" \
		bash -c "! groff -man -ww -z '$FULL/usr/share/man/man8/$p.8' 2>&1 | grep -q ."
done
# The units name /usr/sbin paths that exist only in DESTDIR here.
for u in qkd-agent.service qkd-agent@.service qkd-kms-sim.service; do
	out=$(systemd-analyze verify --man=no "$FULL/lib/systemd/system/$u" 2>&1 |
		grep -v 'is not executable' || true)
	tap_eq "systemd unit $u verifies" "" "$out"
done

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
