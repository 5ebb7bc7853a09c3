#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Obtain the source of Debian's strongSwan 5.9.8 (the version the plugin is
# built against), unpack it with Debian's patches and run ./configure with
# exactly Debian's flags (debian/rules override_dh_auto_configure), so that
# config.h matches the ABI of the installed libstrongswan/libcharon (ME,
# USE_IKEV1, HAVE_GCC_SYNC_OPERATIONS, ... change struct layouts).
#
# Idempotent and cached: a second run returns at once.
#
# Environment:
#   SS_SRC_DIR   where to unpack (default: $REPO/build/strongswan-src)
#   SS_UPSTREAM  upstream version required (default: 5.9.8)
#   SS_DEBVER    force one Debian source version (default: newest 5.9.8-*
#                whose .dsc is downloadable, the installed one first)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
DEST=${SS_SRC_DIR:-$REPO/build/strongswan-src}
UPSTREAM=${SS_UPSTREAM:-5.9.8}
STAMP=$DEST/.qkd-configured
SRCLIST=/etc/apt/sources.list.d/qkd-ipsec-deb-src.sources
APT="apt-get -o DPkg::Lock::Timeout=600"

log() { echo "fetch-strongswan-src: $*" >&2; }

if [ -f "$STAMP" ] && [ -f "$DEST/config.h" ]; then
	log "cached: $(cat "$STAMP") in $DEST"
	exit 0
fi

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null && SUDO=sudo
fi

# 1. deb-src entries for the bookworm suites, in a file of our own.
want_src=$(cat <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
)
if [ ! -f "$SRCLIST" ] || [ "$(cat "$SRCLIST")" != "$want_src" ]; then
	log "adding $SRCLIST"
	printf '%s\n' "$want_src" | $SUDO tee "$SRCLIST" >/dev/null
	$SUDO $APT update -qq
elif ! apt-cache showsrc strongswan 2>/dev/null | grep -q "^Version: $UPSTREAM-"; then
	$SUDO $APT update -qq
fi

# 2. Download a source package of the wanted upstream version.  The
#    security suite's Sources index may list versions whose .dsc is not on
#    the mirror: try the installed version first, then newest to oldest.
installed=$(dpkg-query -W -f '${Version}' libstrongswan 2>/dev/null || true)
versions=$(apt-cache showsrc strongswan | sed -n "s/^Version: \($UPSTREAM-.*\)/\1/p" | sort -Vru)
[ -n "${SS_DEBVER:-}" ] && versions=$SS_DEBVER
case " $(echo $versions) " in
	*" $installed "*) versions="$installed $(echo "$versions" | grep -vxF "$installed" || true)";;
esac
[ -n "$versions" ] || { log "no strongswan $UPSTREAM-* source in apt"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ss-src.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
got=
for v in $versions; do
	log "trying apt-get source --download-only strongswan=$v"
	if (cd "$TMP" && $APT source -qq --download-only "strongswan=$v" >/dev/null 2>&1) &&
	   ls "$TMP"/strongswan_*.dsc >/dev/null 2>&1; then
		got=$v
		break
	fi
	rm -f "$TMP"/strongswan_*
done
[ -n "$got" ] || { log "could not download any of: $versions"; exit 1; }
dsc=$(ls "$TMP"/strongswan_*.dsc | head -n1)
log "unpacking $(basename "$dsc")"
(cd "$TMP" && dpkg-source --no-check -x "$dsc" src >/dev/null)

# 3. Build dependencies (configure checks for them).
if ! (cd "$TMP/src" && dpkg-checkbuilddeps >/dev/null 2>&1); then
	log "installing build dependencies (apt-get build-dep strongswan=$got)"
	(cd "$TMP/src" && DEBIAN_FRONTEND=noninteractive $SUDO $APT build-dep -y -qq "strongswan=$got" >/dev/null)
fi

# 4. Configure with Debian's flags, exactly as debian/rules does.
log "configuring with Debian's flags (debian/rules override_dh_auto_configure)"
if ! (cd "$TMP/src" && ./debian/rules override_dh_auto_configure >"$TMP/configure.log" 2>&1); then
	tail -n 30 "$TMP/configure.log" >&2
	exit 1
fi
grep -q "^#define VERSION \"$UPSTREAM\"" "$TMP/src/config.h" ||
	{ log "config.h is not for $UPSTREAM"; exit 1; }
grep -q '^#define ME ' "$TMP/src/config.h" ||
	{ log "config.h lacks ME (mediation): not Debian's flags?"; exit 1; }

rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$TMP/src" "$DEST"
cp "$TMP/configure.log" "$DEST/.qkd-configure.log"
echo "strongswan $got" > "$STAMP"
log "ready: strongswan $got in $DEST"
