# SPDX-License-Identifier: GPL-2.0
#
# qkd-ipsec: QKD-keyed IPsec for strongSwan gateways.
#
#   make deps      install every Debian package the build and tests need
#   make           build the module, the charon plugin and the programs
#   make netlink-gen  write kmod/netlink-gen.[ch] from docs/netlink/qkd.yaml
#   make check     build, then run host tests, static checks and the guest
#                  tests; ends with "N passed, N failed"
#   make check-interop  our gateway against libreswan 4.10 and plain
#                  strongSwan in the guest, long mode (check: short mode)
#   make demo      the two-site demo on a simulated QKD link (see README)
#   make bench     every performance figure in one guest run: table, JSON,
#                  plots (bench/README.md); bench-quick: small counts (CI)
#   make fuzz      libFuzzer on every parser harness (FUZZ_SECONDS each)
#   make fuzz-kmod the netlink fuzzer in the guest: FUZZ_KMOD_COUNT messages
#                  (default 10^6) under slub_debug, module reloaded every
#                  FUZZ_KMOD_RELOAD_MS (selftests/kmod/README.md)
#   make faults    the fault matrix with the real daemons in the guest and a
#                  STORM_SECONDS (default 60) rekey storm (CI: 20 s)
#   make ramscan   the fault matrix, then all guest RAM searched from the
#                  host for every key handed out, with and without
#                  init_on_free=1 (selftests/ramscan/README.md; CI: with)
#   make install   install everything (DESTDIR, PREFIX) incl. DKMS source
#   make deb       Debian packages (dpkg-buildpackage -us -uc -b) in build/deb/
#   make pkg-test  install them into a clean Debian 12 root and check them
#                  (PKG_TEST_ARGS=--demo: and run the demo from them)
#
#   make debug-kernel  build Debian's linux-source-6.1 once, with lockdep,
#                  KASAN, DEBUG_ATOMIC_SLEEP, kmemleak (build/debug-kernel/;
#                  cached: a second run does nothing; about an hour on 2 cores)
#   make debug-module  qkd.ko against it: build/debug/qkd.ko (kmod/ untouched)
#   make check-debug   the guest suites on that kernel with that module; fails
#                  on any lockdep, KASAN, might_sleep or kmemleak report.
#                  Not part of `make check` (see selftests/vm/README.md)
#
# The module builds against KDIR (default: the Debian 6.1 headers that
# `make deps` installs, which is also the kernel the guest tests boot).

VERSION  := 0.1.0
REPO     := $(CURDIR)
KVER     ?= $(shell ls -d /lib/modules/6.1.*-amd64/build 2>/dev/null | sort -V | tail -1 | cut -d/ -f4)
KDIR     ?= /lib/modules/$(KVER)/build
LINUXSRC := $(REPO)/build/linux-src
DESTDIR  ?=
PREFIX   ?= /usr

# Parts that exist in this tree; each has its own Makefile and a
# debian-packages list.
SUBDIRS := $(wildcard userspace/Makefile charon-plugin/Makefile)
SUBDIRS := $(patsubst %/Makefile,%,$(SUBDIRS))

DEB_LISTS := $(wildcard debian-packages */debian-packages* */*/debian-packages*)

all: module selftests $(SUBDIRS)

# libqkd, the one client of the family: every userspace part links it.
lib:
	$(MAKE) -C lib

$(SUBDIRS): lib

module:
	$(MAKE) -C $(KDIR) M=$(REPO) modules

module-clean:
	$(MAKE) -C $(KDIR) M=$(REPO) clean

# W=1 and sparse (C=1 checks every file, even unchanged ones).
module-checks:
	$(MAKE) -C $(KDIR) M=$(REPO) W=1 C=2 modules

# kmod/netlink-gen.[ch] from the spec (they are committed; spec-check.py
# fails the tests when they are not what the spec gives).
netlink-gen:
	/usr/bin/python3 tools/nlgen.py $(REPO)

$(LINUXSRC)/scripts/checkpatch.pl:
	selftests/vm/kselftest-headers.sh $(LINUXSRC)

checkpatch: $(LINUXSRC)/scripts/checkpatch.pl
	perl $(LINUXSRC)/scripts/checkpatch.pl --strict --no-tree --terse \
		--ignore FILE_PATH_CHANGES \
		-f $(filter-out kmod/qkd.mod.c,$(wildcard kmod/*.c)) kmod/*.h \
		include/uapi/linux/qkd.h

selftests: $(LINUXSRC)/scripts/checkpatch.pl lib $(SUBDIRS)
	$(MAKE) -C selftests/kmod
	$(MAKE) -C selftests/userspace
	$(MAKE) -C selftests/ramscan

$(SUBDIRS):
	$(MAKE) -C $@

deps:
	selftests/install-deps $(DEB_LISTS)
	selftests/interop/fetch-libreswan.sh || \
		echo "deps: warning: libreswan not unpacked (the guest-interop suite will fail)"

check: all
	selftests/run-all

check-host: all
	selftests/run-all --host-only

# Peers without our plugin (selftests/interop/README.md); fetches libreswan
# into build/libreswan (never installs it).  INTEROP="libreswan strongswan".
check-interop: all
	selftests/interop/run $(INTEROP)

# Every performance figure in one guest boot (bench/README.md): one table,
# bench/results/<date>-<host>.json and a PNG per figure.  Figures 5-7 are
# qkd_bench's (kernel memory per buffered key at 10^3..10^6 keys, inject
# and take throughput; BENCH_ARGS: MAX_KEYS [SPEED_KEYS] as before, see
# selftests/kmod/qkd_bench.c); the guest boots without slab debugging.
# bench-quick: small counts, results in build/bench/quick, TAP checks that
# every figure produced numbers (CI; no timing is judged).
bench-progs: module selftests $(SUBDIRS)
	$(MAKE) -C bench

bench: bench-progs
	bench/run

bench-quick: bench-progs
	bench/check

# libFuzzer harnesses (clang) of every parser that reads untrusted bytes:
# libqkd's replies, the plugin's KE data, qkdctl's key input, the agent's
# ETSI replies and config, the simulator's requests (userspace/tests).
FUZZ_SECONDS ?= 300
fuzz:
	$(MAKE) -s -C lib fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)
	$(MAKE) -s -C charon-plugin fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)
	$(MAKE) -s -C userspace/qkdctl fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)
	$(MAKE) -s -C userspace/tests fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

# qkd_nlfuzz in the guest (selftests/kmod/README.md): the guest's default
# command line has slub_debug=FZPU, which the fuzzer's memory oracles use.
FUZZ_KMOD_COUNT     ?= 1000000
FUZZ_KMOD_RELOAD_MS ?= 3000
FUZZ_KMOD_ARGS      ?=
fuzz-kmod: module selftests
	selftests/vm/run --timeout 5400 -- $(REPO)/selftests/kmod/qkd_nlfuzz \
		--ko $(REPO)/kmod/qkd.ko --count $(FUZZ_KMOD_COUNT) \
		--reload-ms $(FUZZ_KMOD_RELOAD_MS) $(FUZZ_KMOD_ARGS)

# selftests/charon/faults.sh: one boot, every fault, then the storm
STORM_SECONDS ?= 60
faults: all
	STORM_SECONDS=$(STORM_SECONDS) QKD_VM_PASS_ENV=STORM_SECONDS \
		selftests/vm/run --timeout 3600 -- $(REPO)/selftests/charon/faults.sh

# The full-RAM scan after the fault matrix (selftests/ramscan/README.md):
# once with init_on_free=1 (judged: 0 copies), once without (reported);
# both run, the status is the first failure.
ramscan: all
	@st=0; for z in "" --no-init-on-free; do \
		STORM_SECONDS=20 QKD_VM_PASS_ENV=STORM_SECONDS selftests/ramscan/run $$z \
			--timeout 3600 -- $(REPO)/selftests/charon/faults.sh || st=$$?; \
	done; exit $$st

# The debug guest kernel and the module built against it (selftests/vm/README.md).
debug-kernel:
	selftests/vm/debug-kernel/build -j2

debug-module: debug-kernel
	selftests/vm/debug-kernel/build-module

check-debug: all debug-module
	selftests/vm/debug-kernel/check $(SUITES)

demo: all
	demo/run $(DEMO_ARGS)

# The module's source for DKMS, as /usr/src/qkd-VERSION.
install-dkms-src:
	install -d $(DESTDIR)/usr/src/qkd-$(VERSION)/kmod \
		$(DESTDIR)/usr/src/qkd-$(VERSION)/include/uapi/linux
	install -m 0644 Kbuild dkms.conf $(DESTDIR)/usr/src/qkd-$(VERSION)/
	install -m 0644 kmod/Kbuild kmod/*.c kmod/*.h \
		$(DESTDIR)/usr/src/qkd-$(VERSION)/kmod/
	rm -f $(DESTDIR)/usr/src/qkd-$(VERSION)/kmod/*.mod.c
	install -m 0644 include/uapi/linux/qkd.h \
		$(DESTDIR)/usr/src/qkd-$(VERSION)/include/uapi/linux/

install: all install-dkms-src
	install -D -m 0644 include/uapi/linux/qkd.h \
		$(DESTDIR)$(PREFIX)/include/linux/qkd.h
	for d in $(SUBDIRS); do $(MAKE) -C $$d install DESTDIR=$(DESTDIR) \
		PREFIX=$(PREFIX) || exit 1; done

# Debian packages.  dpkg-buildpackage runs in a copy of the source
# (build/deb/qkd-ipsec-VERSION: it writes its results next to the source
# tree and cleans the tree first), against the configured strongSwan source
# that fetch-strongswan-src.sh prepares (QKD_SS_SRC).  DEB_BUILD_OPTIONS
# (e.g. nocheck) is passed through.
DEB_DIR    := $(REPO)/build/deb
DEB_SRC    := $(DEB_DIR)/qkd-ipsec-$(VERSION)
QKD_SS_SRC ?= $(REPO)/build/strongswan-src

deb:
	SS_SRC_DIR=$(QKD_SS_SRC) charon-plugin/fetch-strongswan-src.sh
	rm -rf $(DEB_SRC) $(DEB_DIR)/*.deb $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
	mkdir -p $(DEB_SRC)
	if git -C $(REPO) rev-parse --git-dir >/dev/null 2>&1; then \
		git -C $(REPO) ls-files -z -co --exclude-standard | \
			(cd $(REPO) && xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh) | \
			tar -C $(REPO) --null -T - -cf - | tar -C $(DEB_SRC) -xf -; \
	else \
		tar -C $(REPO) --exclude=./build -cf - . | tar -C $(DEB_SRC) -xf -; \
	fi
	cd $(DEB_SRC) && QKD_SS_SRC=$(abspath $(QKD_SS_SRC)) QKD_LINUX_SRC=$(LINUXSRC) \
		dpkg-buildpackage -us -uc -b
	ls -l $(DEB_DIR)/*.deb

# PKG_TEST_ARGS=--demo: also the two-site demo from the packages' files.
pkg-test: deb
	selftests/pkg-test.sh $(PKG_TEST_ARGS)

clean: module-clean
	$(MAKE) -C selftests/kmod clean
	$(MAKE) -C selftests/userspace clean
	$(MAKE) -C bench clean
	for d in lib $(SUBDIRS); do $(MAKE) -C $$d clean; done

.PHONY: all module module-clean module-checks netlink-gen checkpatch selftests deps \
	check check-host check-interop bench bench-quick bench-progs fuzz fuzz-kmod demo install install-dkms-src deb \
	pkg-test clean lib $(SUBDIRS) debug-kernel debug-module check-debug faults ramscan
