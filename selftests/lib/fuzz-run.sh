#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# fuzz-run.sh BINARY CORPUS_DIR SECONDS NAME [DICT]: run a libFuzzer binary
# for SECONDS on a scratch copy of its seed corpus and report one TAP line.
# DICT: a libFuzzer dictionary (-dict=), for parsers whose grammar lives
# in an uninstrumented library (jansson) the fuzzer cannot learn it from.
# Any crash, leak, sanitizer report or timeout is "not ok" with the log's
# tail; the run's figures are printed as comments.
set -u
bin=$1 corpus=$2 secs=$3 name=$4 dict=${5:-}
work=$(dirname "$bin")/$name.run
rm -rf "$work" && mkdir -p "$work/corpus" && cp "$corpus"/* "$work/corpus/"
if (cd "$work" && "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 \
	-print_final_stats=1 ${dict:+-dict="$dict"} corpus > log 2>&1); then
	grep -E 'stat::(number_of_executed_units|new_units_added)' "$work/log" | sed 's/^/# /'
	echo "ok 1 - $name: $secs s of libFuzzer, no crash"
	echo "1..1"
else
	tail -40 "$work/log" | sed 's/^/# /'
	echo "not ok 1 - $name (reproducer and log in $work)"
	echo "1..1"
	exit 1
fi
