#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Package test: installs the .debs that `make deb` left in build/deb/ into a
# clean Debian 12 root and checks what an admin gets: every file in its
# place, conffiles, units present but neither enabled nor started, the
# programs run, the plugin's dependencies are met by Debian's strongSwan
# and Debian's charon loads it, DKMS builds (and signs) the module for
# Debian's kernel headers, nothing loads the module, and purge cleans up
# but keeps the admin's files.  In a QEMU guest (selftests/vm/run,
# selftests/pkg-guest.sh) the module DKMS built loads into Debian's kernel
# and the installed qkd-kms-sim, qkd-agent and qkdctl fill a link with keys.
#
# The root: debootstrap --variant=minbase bookworm from Debian's mirror,
# plus the packages the .debs depend on, the kernel headers, systemd and
# strongSwan's daemon, installed with apt in it; cached in
# build/pkg-test/base-HASH (HASH of that package list), so a rerun
# downloads nothing.  Each run installs into a fresh overlay on top of it
# (a copy where overlayfs is not available), in a private mount namespace.
#
#   selftests/pkg-test.sh [--demo] [DEB_DIR]       (root; default build/deb)
# --demo: in the guest, also run the two-site demo (demo/guest.sh, 30 s of
# traffic) with the packages' files (a few minutes more under TCG).
# Environment: QKD_PKG_MIRROR (default: the host's Debian mirror),
# QKD_PKG_CACHE (default build/pkg-test).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
DEMO=0
if [ "${1:-}" = --demo ]; then DEMO=1; shift; fi
DEBS=$(cd "${1:-$REPO/build/deb}" && pwd)
CACHE=${QKD_PKG_CACHE:-$REPO/build/pkg-test}

# A private mount namespace: every mount below goes away with the test.
if [ -z "${QKD_PKG_TEST_NS:-}" ]; then
	export QKD_PKG_TEST_NS=1
	[ "$DEMO" = 1 ] && set -- --demo "$@"
	exec unshare --mount --propagation private "$0" "$@"
fi
. "$HERE/lib/tap.sh"
T0=$SECONDS

MIRROR=${QKD_PKG_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' \
	/etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${MIRROR%/debian}/debian-security

mapfile -t PKGS < <(ls "$DEBS"/*.deb 2>/dev/null | grep -v -- '-dbgsym_' || true)
ours="qkd-dkms strongswan-plugin-qkd qkd-agent qkd-kms-sim qkd-tools"
for p in $ours; do
	tap_check "built package $p" bash -c "ls '$DEBS'/${p}_*.deb >/dev/null 2>&1"
done
[ "${#PKGS[@]}" -eq 5 ] || { echo "# run make deb first"; tap_done; exit 1; }

# What the root needs beyond minbase: the .debs' Depends and Recommends
# that are Debian's (first alternative, no versions), the kernel headers
# for DKMS, systemd for the unit checks, openssl for DKMS's signing key,
# strongSwan's daemon to load the plugin.
deps=$(for d in "${PKGS[@]}"; do dpkg-deb -f "$d" Depends Recommends; done |
	sed 's/^[A-Za-z]*: //' | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' |
	grep -v '^$' | grep -vxF -f <(tr ' ' '\n' <<<"$ours") || true)
# The demo (--demo) also needs swanctl, pki, iproute2, perl, busybox and
# gnuplot (the picture of its run) and python3 (its audit-trail check).
NEED=$(printf '%s\n' $deps linux-headers-amd64 systemd openssl strongswan-charon \
	strongswan-libcharon libstrongswan-standard-plugins kmod ca-certificates \
	strongswan-swanctl strongswan-pki iproute2 perl busybox gnuplot-nox python3 |
	sort -u | tr '\n' ' ')
KEY=$(echo "$NEED $MIRROR" | sha256sum | cut -c1-12)
BASE=$CACHE/base-$KEY

# --- the cached base root ---------------------------------------------------
if [ ! -f "$BASE/.qkd-pkg-test-ready" ]; then
	echo "# building the base root $BASE (debootstrap from $MIRROR)"
	rm -rf "$BASE"
	mkdir -p "$CACHE"
	t=$SECONDS
	if ! debootstrap --variant=minbase bookworm "$BASE" "$MIRROR" \
		>"$CACHE/debootstrap.log" 2>&1; then
		tail -20 "$CACHE/debootstrap.log" | sed 's/^/# /'
		tap_fail "debootstrap bookworm minbase"; tap_done; exit 1
	fi
	cat > "$BASE/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECMIRROR bookworm-security main
EOF
	cp /etc/resolv.conf "$BASE/etc/resolv.conf"
	mount -t proc proc "$BASE/proc"
	if ! (chroot "$BASE" apt-get -o APT::Sandbox::User=root update -qq &&
	      DEBIAN_FRONTEND=noninteractive chroot "$BASE" apt-get -qq -y \
		--no-install-recommends install $NEED) >"$CACHE/apt.log" 2>&1; then
		umount "$BASE/proc"
		tail -20 "$CACHE/apt.log" | sed 's/^/# /'
		tap_fail "apt-get install in the base root"; tap_done; exit 1
	fi
	chroot "$BASE" apt-get clean
	umount "$BASE/proc"
	echo "$NEED" > "$BASE/.qkd-pkg-test-ready"
	echo "# base root ready in $((SECONDS - t)) s"
	# older bases (other package lists) are not needed any more
	find "$CACHE" -maxdepth 1 -name 'base-*' ! -name "base-$KEY" \
		-exec rm -rf {} +
fi
tap_ok "clean bookworm root (minbase + dependencies), cached"

# --- a fresh root on top of it ---------------------------------------------
R=$CACHE/root
rm -rf "$CACHE/upper" "$CACHE/work" "$R"
mkdir -p "$CACHE/upper" "$CACHE/work" "$R"
if ! mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$CACHE/upper,workdir=$CACHE/work" "$R" 2>/dev/null; then
	echo "# no overlayfs: copying the base root"
	cp -a "$BASE/." "$R/"
fi
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
in_root() { chroot "$R" "$@"; }
# Maintainer scripts see a running systemd (/run/systemd/system) and ask
# policy-rc.d before any start or restart: it records and refuses.
mkdir -p "$R/run/systemd/system"
cat > "$R/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
echo "$*" >> /tmp/policy-rc.d.log
exit 101
EOF
chmod 0755 "$R/usr/sbin/policy-rc.d"
: > "$R/tmp/policy-rc.d.log"
mkdir -p "$R/tmp/debs"
cp "${PKGS[@]}" "$R/tmp/debs/"

# --- install ------------------------------------------------------------------
if in_root sh -c 'dpkg -i /tmp/debs/*.deb' > "$CACHE/dpkg-install.log" 2>&1; then
	tap_ok "dpkg -i of the five packages (their Depends met by Debian's packages)"
else
	sed 's/^/# /' "$CACHE/dpkg-install.log" | tail -30
	tap_fail "dpkg -i of the five packages"
fi
for p in $ours; do
	tap_eq "$p is installed" "install ok installed" \
		"$(in_root dpkg-query -W -f '${Status}' "$p" 2>&1)"
done
tap_check "apt-get check: no broken dependencies" in_root apt-get -qq check
ssver=$(in_root dpkg-query -W -f '${Version}' strongswan-libcharon)
echo "# Debian's strongswan-libcharon in the root: $ssver"
tap_check "plugin's strongSwan dependency is met by Debian's $ssver" \
	in_root dpkg --compare-versions "$ssver" lt 5.9.9~

VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$REPO/dkms.conf")
for f in usr/src/qkd-$VERSION/dkms.conf usr/src/qkd-$VERSION/Kbuild \
	 usr/src/qkd-$VERSION/kmod/Kbuild usr/src/qkd-$VERSION/kmod/main.c \
	 usr/src/qkd-$VERSION/include/uapi/linux/qkd.h \
	 usr/lib/ipsec/plugins/libstrongswan-qkd.so etc/strongswan.d/charon/qkd.conf \
	 usr/sbin/qkdctl usr/sbin/qkd-agent usr/sbin/qkd-kms-sim \
	 usr/share/man/man8/qkdctl.8.gz usr/share/man/man8/qkd-agent.8.gz \
	 usr/share/man/man8/qkd-kms-sim.8.gz usr/share/man/man5/qkd-agent.conf.5.gz \
	 lib/systemd/system/qkd-agent.service lib/systemd/system/qkd-agent@.service \
	 lib/systemd/system/qkd-kms-sim.service etc/qkd/qkd-agent.conf.example \
	 usr/share/doc/qkd-dkms/README.Debian; do
	tap_check "/$f" test -s "$R/$f"
done
tap_check "no module source build products in /usr/src" \
	bash -c "! find '$R/usr/src/qkd-$VERSION' -name '*.o' -o -name '*.ko' | grep -q ."
conff=$(in_root dpkg-query -W -f '${Conffiles}\n' qkd-agent strongswan-plugin-qkd | awk '{print $1}' | sort | tr '\n' ' ')
tap_eq "conffiles" "/etc/qkd/qkd-agent.conf.example /etc/strongswan.d/charon/qkd.conf " "$conff"
tap_check "no /etc/qkd/qkd-agent.conf shipped (the agent stays unconfigured)" \
	test ! -e "$R/etc/qkd/qkd-agent.conf"

# --- units: present, not enabled, not started --------------------------------
for u in qkd-agent.service qkd-kms-sim.service; do
	tap_eq "$u is disabled" disabled \
		"$(systemctl --root="$R" is-enabled "$u" 2>&1 || true)"
done
tap_check "no qkd unit linked into any .wants directory" \
	bash -c "! find '$R/etc/systemd/system' -name 'qkd*' | grep -q ."
tap_check "systemd-analyze verify of the installed units" \
	in_root systemd-analyze verify --man=no /lib/systemd/system/qkd-agent.service \
		/lib/systemd/system/qkd-kms-sim.service
tap_eq "maintainer scripts asked to start nothing" "" \
	"$(grep -E 'qkd' "$R/tmp/policy-rc.d.log" || true)"
tap_check "no maintainer script loads the module" \
	bash -c "! grep -lE 'modprobe|insmod' '$R'/var/lib/dpkg/info/qkd*.postinst \
		'$R'/var/lib/dpkg/info/strongswan-plugin-qkd.* 2>/dev/null | grep -q ."

# --- the programs --------------------------------------------------------------
tap_check "qkdctl --help" bash -c "chroot '$R' qkdctl --help >/dev/null"
tap_check "qkd-kms-sim --help" bash -c "chroot '$R' qkd-kms-sim --help >/dev/null"
# The example names /etc/qkd/sae-a.{crt,key} and kme-ca.crt: make them.
in_root sh -c 'cd /etc/qkd &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=KME-CA -keyout /tmp/ca.key -out kme-ca.crt &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=SAE_A -keyout sae-a.key -out /tmp/sae-a.csr &&
	openssl x509 -req -in /tmp/sae-a.csr -CA kme-ca.crt -CAkey /tmp/ca.key \
		-CAcreateserial -days 2 -out sae-a.crt && chmod 0600 sae-a.key' \
	>"$CACHE/openssl.log" 2>&1
out=$(in_root qkd-agent -t -c /etc/qkd/qkd-agent.conf.example 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] || echo "$out" | sed 's/^/# /'
tap_eq "qkd-agent -t on the example configuration" 0 "$rc"

# Debian's charon loads the installed plugin (its own configuration from
# /etc/strongswan.d, a file log, in a network namespace of its own).
cat > "$R/etc/strongswan.d/zz-pkg-test.conf" <<'EOF'
charon {
	filelog {
		pkgtest {
			path = /tmp/charon.log
			default = 1
			flush_line = yes
		}
	}
}
EOF
unshare --net chroot "$R" /usr/lib/ipsec/charon > "$CACHE/charon.out" 2>&1 &
cpid=$!
for _ in $(seq 100); do
	grep -q 'loaded plugins' "$R/tmp/charon.log" 2>/dev/null && break
	sleep 0.1
done
kill "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
cp "$R/tmp/charon.log" "$CACHE/charon.log" 2>/dev/null || : > "$CACHE/charon.log"
plugins=$(grep 'loaded plugins' "$CACHE/charon.log" || true)
[ -n "$plugins" ] || sed 's/^/# /' "$CACHE/charon.log" "$CACHE/charon.out" | tail -20
grep -i qkd "$CACHE/charon.log" | sed 's/^/# /'
tap_check "Debian's charon loads the qkd plugin" grep -qw qkd <<<"$plugins"
tap_check "the plugin's version check accepts Debian's charon" \
	bash -c "! grep -q 'refusing to load' '$CACHE/charon.log'"
rm -f "$R/etc/strongswan.d/zz-pkg-test.conf"

# --- DKMS ------------------------------------------------------------------------
KVER=$(ls "$R/lib/modules" | sort -V | tail -1)
st=$(in_root dkms status qkd 2>&1 || true)
echo "# dkms status: $st"
tap_check "dkms knows qkd/$VERSION" grep -q "^qkd/$VERSION" <<<"$st"
tap_check "dkms built and installed it for $KVER" grep -q "$KVER.*: installed" <<<"$st"
ko=$(ls "$R/lib/modules/$KVER/updates/dkms/"qkd.ko* 2>/dev/null | head -1)
tap_check "module in /lib/modules/$KVER/updates/dkms" test -n "$ko"
if [ -n "$ko" ]; then
	tap_check "module is for $KVER" \
		bash -c "modinfo -F vermagic '$ko' | grep -q '^$KVER '"
	tap_eq "module signed with the DKMS MOK key" "DKMS module signing key" \
		"$(modinfo -F signer "$ko" 2>/dev/null)"
	tap_check "modules.dep names it" grep -q 'updates/dkms/qkd.ko' "$R/lib/modules/$KVER/modules.dep"
fi

# --- in the guest: the module loads, the programs work together ----------------
# QEMU, started in this mount namespace, shares / over 9p with the root's
# overlay in it.  QKD_PKG_GUEST=0 skips this part.
if [ "${QKD_PKG_GUEST:-1}" = 0 ]; then
	tap_skip "guest: package's module and programs" "QKD_PKG_GUEST=0"
elif ! command -v qemu-system-x86_64 >/dev/null || [ ! -f "/boot/vmlinuz-$KVER" ]; then
	tap_skip "guest: package's module and programs" \
		"needs qemu-system-x86_64 and /boot/vmlinuz-$KVER (the kernel of the root's headers)"
else
	t=$SECONDS
	demo_args=()
	if [ "$DEMO" = 1 ]; then
		rm -rf "$CACHE/pki"
		"$REPO/demo/mkpki.sh" "$CACHE/pki" > "$CACHE/pki.log" 2>&1
		demo_args=(--demo "$CACHE/pki" 30)
	fi
	QKD_VM_KERNEL=/boot/vmlinuz-$KVER "$REPO/selftests/vm/run" --timeout 1500 \
		--keep-results "$CACHE/guest-results" \
		-- "$HERE/pkg-guest.sh" "$R" "${demo_args[@]}" > "$CACHE/guest.log" 2>&1 && grc=0 || grc=$?
	rm -rf "$CACHE/pki"
	grep '^demo| ' "$CACHE/guest.log" | grep -E 'PASS|FAIL' | sed 's/^demo| /# demo:/' || true
	while IFS= read -r l; do
		case $l in
		"ok "*) tap_ok "guest: ${l#ok * - }" ;;
		"not ok "*) tap_fail "guest: ${l#not ok * - }" ;;
		"# "*) echo "# guest: ${l#\# }" ;;
		esac
	done < <(tr -d '\r' < "$CACHE/guest.log")
	[ "$grc" = 0 ] || tail -n 15 "$CACHE/guest.log" | sed 's/^/# vm: /'
	tap_eq "guest run exits 0 (clean kernel log; $((SECONDS - t)) s)" 0 "$grc"
fi

# --- upgrade (same version again) and purge --------------------------------------
: > "$R/tmp/policy-rc.d.log"
tap_check "reinstall (upgrade path of the maintainer scripts)" \
	bash -c "chroot '$R' sh -c 'dpkg -i /tmp/debs/*.deb' > '$CACHE/dpkg-upgrade.log' 2>&1"
tap_eq "upgrade only try-restarts units (that run)" \
	"qkd-agent.service try-restart|qkd-agent@*.service try-restart|qkd-kms-sim.service try-restart" \
	"$(grep qkd "$R/tmp/policy-rc.d.log" | sort | paste -sd'|')"
tap_check "dkms status after the upgrade" bash -c "chroot '$R' dkms status qkd | grep -q ': installed'"
echo "# admin's config" > "$R/etc/qkd/qkd-agent.conf"
: > "$R/tmp/policy-rc.d.log"
tap_check "dpkg --purge of the five packages" \
	bash -c "chroot '$R' dpkg --purge $ours > '$CACHE/dpkg-purge.log' 2>&1"
tap_eq "dkms forgot the module" "" "$(in_root dkms status qkd 2>&1)"
tap_check "module and source are gone" bash -c "! ls '$R/lib/modules/$KVER/updates/dkms/'qkd.ko* \
	'$R/usr/src/qkd-$VERSION' >/dev/null 2>&1"
tap_check "package files and conffiles are gone" bash -c "! ls '$R/usr/sbin/qkdctl' \
	'$R/lib/systemd/system/qkd-agent.service' '$R/etc/qkd/qkd-agent.conf.example' \
	'$R/etc/strongswan.d/charon/qkd.conf' >/dev/null 2>&1"
tap_check "the admin's /etc/qkd files stay" test -f "$R/etc/qkd/qkd-agent.conf"
tap_eq "removal stops the units" \
	"qkd-agent.service stop|qkd-agent@*.service stop|qkd-kms-sim.service stop" \
	"$(grep qkd "$R/tmp/policy-rc.d.log" | sort | paste -sd'|')"

echo "# pkg-test took $((SECONDS - T0)) s"
tap_done
