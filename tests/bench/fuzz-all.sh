#!/bin/sh
# tests/bench/fuzz-all.sh - the fuzzing benchmark: every libFuzzer target of
# the tree (tests/fuzz/run.sh lists them) runs for N executions, one target
# at a time, at the lowest CPU priority, and the result is one table:
# executions, seconds, executions per second and findings per target.
#
# Usage: tests/bench/fuzz-all.sh [TARGET ...]
# Environment:
#   FUZZ_RUNS     executions per target (default 10000000)
#   FUZZ_SECONDS  optional cap on the time per target: a target that does
#                 not reach FUZZ_RUNS in that time stops there, and the table
#                 says how many it did
#   FUZZ_WORKDIR  build and scratch directory (default a fresh one); the
#                 logs, the table (summary.txt) and any reproducer stay there
#   FUZZ_APPEND   1: keep the rows summary.txt already has (the table shows
#                 them too), so that a benchmark can be run in several
#                 sittings, e.g. with a different FUZZ_SECONDS per target
# Exits 1 when a target found something, 2 when one does not build.
#
# ASan's quarantine of freed memory is set to 16 MiB (from 256) unless
# ASAN_OPTIONS says otherwise: the HTTP/2 target allocates a session per
# input, and with the default quarantine most of its time went to page
# faults (about 3 times slower). Use-after-free is still found for memory
# freed within the last 16 MiB of frees, which spans many inputs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
FUZZ_RUNS=${FUZZ_RUNS:-10000000}
FUZZ_WORKDIR=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/fault-fuzz-all.XXXXXX")}
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}
FUZZ_SUMMARY=$FUZZ_WORKDIR/summary.txt
export FUZZ_RUNS FUZZ_WORKDIR ASAN_OPTIONS FUZZ_SUMMARY
mkdir -p "$FUZZ_WORKDIR" || exit 2
[ "${FUZZ_APPEND:-0}" = 1 ] || : >"$FUZZ_SUMMARY"

rc=0
nice -n 19 sh "$top/tests/fuzz/run.sh" "$@" >"$FUZZ_WORKDIR/run.log" 2>&1 || rc=$?

echo "fuzz-all: $FUZZ_RUNS executions asked per target${FUZZ_SECONDS:+, at most ${FUZZ_SECONDS}s each}"
printf '%-10s %12s %8s %10s  %s\n' target executions seconds exec/s result
sed -n 's/^== fuzz_\([a-z0-9]*\): \([0-9]*\) executions in \([0-9]*\) s (\([0-9]*\) exec\/s), \(.*\)$/\1 \2 \3 \4 \5/p' \
	"$FUZZ_SUMMARY" | while read -r t n s r result; do
	printf '%-10s %12s %8s %10s  %s\n' "$t" "$n" "$s" "$r" "$result"
done
[ "$rc" = 2 ] && echo "fuzz-all: a target did not build, see $FUZZ_WORKDIR/run.log"
echo "work directory: $FUZZ_WORKDIR"
exit "$rc"
