# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers of bench/run (host), bench/guest.sh (guest) and bench/check
# (the bench-quick suite).  The guest side also sources
# selftests/charon/lib.sh for the two-gateway topology (netns, pki, charon
# configs and start, key injection, xfrm counters).  Bash only.
#
# Raw results: one directory (RAW) of small text files, "key value" lines
# or one sample a line; bench/report.py turns them into the table and the
# JSON.  Nothing in them is secret: counts, timings, SPIs at most.

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BREPO=$(cd "$BENCH/.." && pwd)
PY=/usr/bin/python3	# Debian's own (the PATH one may be a pyenv build)

# bench_counts MODE: the sizes of a run (quick: proves it works; full: the
# figures the README shows)
bench_counts() {	# bench_counts quick|full
	case $1 in
	quick)
		N_REKEY=3	# figure 1: rekeys per method
		N_LOSS=2	# figure 3: rekeys under traffic
		N_ETSI=50	# figure 4: operations of each kind
		QB_ARGS="1000 1024" ;;	# figures 5-7: qkd_bench MAX_KEYS SPEED_KEYS
	full)
		N_REKEY=30
		N_LOSS=100
		N_ETSI=500
		QB_ARGS="1000000 8192" ;;
	*) return 1 ;;
	esac
	PPS=1000	# figure 3: echo requests per second
	# make bench BENCH_ARGS="MAX_KEYS [SPEED_KEYS]": qkd_bench's own arguments
	QB_ARGS=${BENCH_ARGS:-$QB_ARGS}
}

put() {	# put FILE KEY VALUE...: one "key value" line of a raw result
	local f=$1
	shift
	echo "$*" >> "$f"
}

# first 8 bytes are the PNG signature
is_png() {	# is_png FILE
	[ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# the machine a run is on (host side), "key value" lines
machine_info() {	# machine_info FILE
	local f=$1 q
	put "$f" host "$(hostname)"
	put "$f" cpu_model "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	put "$f" cores "$(nproc)"
	put "$f" host_kernel "$(uname -r)"
	q=$(qemu-system-x86_64 --version 2>/dev/null | head -n 1)
	put "$f" qemu "$q"
	put "$f" accel "tcg (QEMU software emulation, -accel tcg,thread=multi, 2 vCPUs)"
}
