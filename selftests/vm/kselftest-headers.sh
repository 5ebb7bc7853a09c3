#!/bin/bash
# Extract the few kernel-tree files the project uses from Debian's
# linux-source-6.1 tarball (package linux-source-6.1):
#   tools/testing/selftests/kselftest.h, kselftest_harness.h
#   scripts/checkpatch.pl, spelling.txt, const_structs.checkpatch
# usage: selftests/vm/kselftest-headers.sh [OUTDIR]   (default $REPO/build/linux-src)
# The files keep their tree paths under OUTDIR, e.g.
#   OUTDIR/tools/testing/selftests/kselftest_harness.h  (use -I OUTDIR/tools/testing/selftests)
#   OUTDIR/scripts/checkpatch.pl --no-tree -f FILE
# Idempotent: does nothing when all files are present. Override the tarball
# with $LINUX_SOURCE_TARBALL.
# shellcheck disable=SC2012
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$REPO/build/linux-src}

FILES=(
	tools/testing/selftests/kselftest.h
	tools/testing/selftests/kselftest_harness.h
	scripts/checkpatch.pl
	scripts/spelling.txt
	scripts/const_structs.checkpatch
)

missing=0
for f in "${FILES[@]}"; do
	[[ -s $OUT/$f ]] || missing=1
done
if [[ $missing -eq 0 ]]; then
	echo "kselftest-headers: $OUT is up to date"
	exit 0
fi

TARBALL=${LINUX_SOURCE_TARBALL:-}
if [[ -z $TARBALL ]]; then
	TARBALL=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1) || true
fi
[[ -n $TARBALL && -r $TARBALL ]] ||
	{ echo "kselftest-headers: no /usr/src/linux-source-6.1.tar.*: install linux-source-6.1" >&2; exit 1; }

# The members live under one top directory (linux-source-6.1/).
first=$(tar -tf "$TARBALL" 2>/dev/null | head -n 1) || true
prefix=${first%%/*}
[[ -n $prefix ]] || { echo "kselftest-headers: cannot list $TARBALL" >&2; exit 1; }

members=()
for f in "${FILES[@]}"; do
	members+=("$prefix/$f")
done

mkdir -p "$OUT"
tmp=$(mktemp -d "$OUT/.extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "kselftest-headers: extracting ${#FILES[@]} files from $TARBALL into $OUT"
tar -xf "$TARBALL" -C "$tmp" --strip-components=1 --wildcards "${members[@]}"
for f in "${FILES[@]}"; do
	[[ -s $tmp/$f ]] || { echo "kselftest-headers: $f missing from $TARBALL" >&2; exit 1; }
done
cp -a "$tmp"/. "$OUT"/
echo "kselftest-headers: done"
