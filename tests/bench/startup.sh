#!/usr/bin/env bash
# tests/bench/startup.sh - time from exec of
#   fault run --proxy 127.0.0.1:P=127.0.0.1:Q --no-ui
# to 127.0.0.1:P accepting a connection: median of BENCH_RUNS (default 20)
# runs after one untimed warm-up, connect attempted every 0.5 ms, in ms.
#
# When fault is a libtool wrapper script (core/fault in the build tree), the
# timed runs exec the binary the wrapper execs, with the LD_LIBRARY_PATH it
# sets, so the wrapper's shell start is not counted; the wrapper is timed too
# and shown for reference. The clock starts just before the spawn, so each
# time also holds the fork/exec cost, shown as "spawn overhead".
#
# Run from the build dir after `make`:  bash ../tests/bench/startup.sh
# Environment:
#   FAULT           fault binary (default ./core/fault, then fault on PATH)
#   BENCH_RUNS      timed runs (default 20)
#   BENCH_TARGET_MS target median in ms (default 20)
#   BENCH_STRICT    1: exit 1 when the target is missed (default 0)
#   BENCH_KEEP_TMP  1: keep the temp dir (fault log) for inspection
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${BENCH_RUNS:-20}
TARGET=${BENCH_TARGET_MS:-20}

command -v python3 >/dev/null 2>&1 || bench_die "python3 not found"
if ! bench_find_fault; then
	bench_log "fault binary not found (build it, or set FAULT=...): skipping"
	exit 77
fi
bench_load_check

BENCH_PIDFILES=$BENCH_TMP/fault.pid
: >"$BENCH_PIDFILES"
python3 "$BENCH_DIR/startup_time.py" --fault "$FAULT_BIN" --runs "$RUNS" --poll 0.0005 \
	--pidfile "$BENCH_TMP/fault.pid" --log "$BENCH_TMP/fault.log" >"$BENCH_TMP/result" || {
	rc=$?
	bench_log "startup_time.py failed (status $rc); fault log:"
	tail -n 20 "$BENCH_TMP/fault.log" >&2 || true
	exit 1
}

declare -A R
while IFS='=' read -r k v; do
	[[ -n $k ]] && R[$k]=$v
done <"$BENCH_TMP/result"

MED=${R[binary_median_ms]}
if awk -v m="$MED" -v t="$TARGET" 'BEGIN { exit !(m <= t) }'; then V=ok; else V=MISSED; fi

echo
echo "== fault startup time =="
echo "command:   ${R[binary]} run --proxy 127.0.0.1:P=127.0.0.1:Q --no-ui"
echo "measure:   spawn -> port accepts a connection (connect every ${R[poll_ms]} ms), $RUNS runs after 1 warm-up"
echo "load:      1-min load average $BENCH_LOAD before starting"
[[ ${R[sanitizers]} == none || ${R[sanitizers]} == "?" ]] ||
	echo "warning:   fault is built with sanitizers (${R[sanitizers]}): times are not representative"
echo "runs (ms): ${R[binary_all_ms]}"
echo
printf '%-28s %9s %9s %9s %9s\n' "" "median" "min" "p90" "max"
printf '%-28s %9s %9s %9s %9s\n' "fault binary (ms)" "$MED" "${R[binary_min_ms]}" "${R[binary_p90_ms]}" "${R[binary_max_ms]}"
if [[ -n ${R[wrapper]:-} ]]; then
	printf '%-28s %9s %9s %9s %9s\n' "via libtool wrapper (ms)" "${R[wrapper_median_ms]}" "${R[wrapper_min_ms]}" "${R[wrapper_p90_ms]}" "${R[wrapper_max_ms]}"
fi
echo "spawn overhead (/bin/true): ${R[spawn_overhead_ms]} ms median"
if [[ ${R[term_ignored]} != 0 ]]; then
	echo "note: ${R[term_ignored]} of ${R[spawned]} fault processes were still running 1 s after SIGTERM"
	echo "      (sent right after the port accepted) and were killed with SIGKILL"
fi
echo
echo "target: listening within $TARGET ms of exec (median): $V ($MED ms)"

[[ ${BENCH_STRICT:-0} == 1 && $V != ok ]] && exit 1
exit 0
