#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Guest side of the full-RAM scan: which process maps each physical page.

    owners.py DIR TAG

writes DIR/owners-TAG.txt ("PFN PID COMM" for every present page of every
process, from /proc/PID/pagemap, which gives PFNs to root) and
DIR/kpageflags-TAG.bin (a copy of /proc/kpageflags: slab, free, page
cache...), so that the host can name the owner of every copy it finds
in the dump (selftests/ramscan/dump-and-scan).  Taken just before the
dump: a page that changes hands in between is misnamed.
"""
import os
import struct
import sys

PRESENT = 1 << 63
PFN_MASK = (1 << 55) - 1


def pages_of(pid):
    """(pfn, ...) of the present pages of pid."""
    with open(f"/proc/{pid}/maps") as f:
        vmas = [line.split()[0].split("-") for line in f]
    pfns = []
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        for lo, hi in vmas:
            lo, hi = int(lo, 16) >> 12, int(hi, 16) >> 12
            if lo >= (1 << 47) >> 12:	# [vsyscall]: not in the pagemap
                continue
            pm.seek(lo * 8)
            data = pm.read((hi - lo) * 8)
            for (e,) in struct.iter_unpack("=Q", data):
                if e & PRESENT and e & PFN_MASK:
                    pfns.append(e & PFN_MASK)
    return pfns


def main():
    out, tag = sys.argv[1], sys.argv[2]
    me = os.getpid()
    lines = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                comm = f.read().strip().replace(" ", "_")
            for pfn in pages_of(d):
                lines.append(f"{pfn} {d} {comm}\n")
        except (OSError, ValueError):
            continue	# gone, or a kernel thread
    with open(os.path.join(out, f"owners-{tag}.txt"), "w") as f:
        f.writelines(lines)
    with open("/proc/kpageflags", "rb") as src, \
            open(os.path.join(out, f"kpageflags-{tag}.bin"), "wb") as dst:
        while True:
            b = src.read(1 << 20)
            if not b:
                break
            dst.write(b)
    print(f"owners: {len(lines)} mapped pages")


if __name__ == "__main__":
    main()
