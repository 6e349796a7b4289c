#!/usr/bin/env bash
# tests/bench/idle-conns.sh - fault's memory per idle proxied connection.
#
# Opens BENCH_CONNS (default 10000) TCP connections through a fault mapping
# with no fault to a python3 backend that accepts and holds them, and reads
# fault's VmRSS (/proc/PID/status) before and after. Reports KiB per
# connection for connections that never carried data ("idle") and for the
# same connections after one byte went each way and they fell idle again
# ("echoed"); the target applies to the larger of the two. Also checks that
# fault holds two descriptors per connection and gives the memory back once
# the connections close.
#
# Run from the build dir after `make`:  bash ../tests/bench/idle-conns.sh
# Environment:
#   FAULT           fault binary (default ./core/fault, then fault on PATH)
#   BENCH_CONNS     number of connections (default 10000)
#   BENCH_TARGET_KIB  target KiB per connection (default 16)
#   BENCH_STRICT    1: exit 1 when the target is missed (default 0)
#   BENCH_KEEP_TMP  1: keep the temp dir (fault log) for inspection
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${BENCH_CONNS:-10000}
TARGET=${BENCH_TARGET_KIB:-16}

command -v python3 >/dev/null 2>&1 || bench_die "python3 not found"
if ! bench_find_fault; then
	bench_log "fault binary not found (build it, or set FAULT=...): skipping"
	exit 77
fi
bench_load_check

# fault holds 2N descriptors (client side + upstream side) and inherits this
# limit; the python client and backend hold N each. Where the hard limit
# cannot be raised (no CAP_SYS_RESOURCE), use as many connections as it
# allows, keeping 64 descriptors of headroom for fault.
WANT_FDS=$((2 * N + 64))
N_NOTE=
hard=$(ulimit -Hn)
if [[ $hard != unlimited && $hard -lt $WANT_FDS ]] && ! (ulimit -Hn "$WANT_FDS") 2>/dev/null; then
	N_REQ=$N
	N=$(((hard - 64) / 2))
	((N > 0)) || bench_die "open files hard limit $hard is too low"
	N_NOTE="(asked for $N_REQ; the open-files hard limit $hard allows $N)"
	bench_log "open-files hard limit is $hard and cannot be raised: measuring $N connections instead of $N_REQ"
	WANT_FDS=$hard
fi
bench_raise_nofile "$WANT_FDS"
bench_log "open files limit: $(ulimit -Sn); fault: $FAULT_BIN"

BENCH_PIDFILES=$BENCH_TMP/fault.pid
: >"$BENCH_PIDFILES"
python3 "$BENCH_DIR/idle_conns.py" --fault "$FAULT_BIN" --count "$N" \
	--pidfile "$BENCH_TMP/fault.pid" --log "$BENCH_TMP/fault.log" \
	>"$BENCH_TMP/result" || {
	rc=$?
	bench_log "idle_conns.py failed (status $rc); fault log:"
	tail -n 20 "$BENCH_TMP/fault.log" >&2 || true
	exit 1
}

declare -A R
while IFS='=' read -r k v; do
	[[ -n $k ]] && R[$k]=$v
done <"$BENCH_TMP/result"

per_conn() { awk -v a="$1" -v b="$2" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }'; }
IDLE_PER=$(per_conn "${R[rss_before_kib]}" "${R[rss_idle_kib]}")
ECHO_PER=$(per_conn "${R[rss_before_kib]}" "${R[rss_echoed_kib]}")
WORST=$(awk -v a="$IDLE_PER" -v b="$ECHO_PER" 'BEGIN { print (a > b ? a : b) }')
FD_PER=$(awk -v a="${R[fds_before]}" -v b="${R[fds_idle]}" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / n }')
if awk -v w="$WORST" -v t="$TARGET" 'BEGIN { exit !(w <= t) }'; then V=ok; else V=MISSED; fi

echo
echo "== fault idle connections =="
echo "fault:       $FAULT_BIN$([[ $FAULT_IS_WRAPPER == 1 ]] && echo ' (libtool wrapper)') pid ${R[pid]}, run --proxy ... --no-ui, no fault"
echo "connections: $N through fault to a python3 backend holding them, opened in ${R[open_seconds]} s $N_NOTE"
echo "load:        1-min load average $BENCH_LOAD before starting"
[[ ${R[sanitizers]:-none} == none ]] ||
	echo "warning:     fault is built with sanitizers (${R[sanitizers]}): its memory use is not representative"
echo
printf '%-40s %10s %8s %8s\n' "phase" "VmRSS KiB" "fds" "threads"
printf '%-40s %10s %8s %8s\n' "-----" "---------" "---" "-------"
printf '%-40s %10s %8s %8s\n' "before (listening, no connection)" "${R[rss_before_kib]}" "${R[fds_before]}" "${R[threads_before]}"
printf '%-40s %10s %8s %8s\n' "idle ($N open, no data yet)" "${R[rss_idle_kib]}" "${R[fds_idle]}" "${R[threads_idle]}"
printf '%-40s %10s %8s %8s\n' "echoed (1 byte each way, idle again)" "${R[rss_echoed_kib]}" "${R[fds_echoed]}" "${R[threads_echoed]}"
printf '%-40s %10s %8s %8s\n' "closed (all connections closed)" "${R[rss_closed_kib]}" "${R[fds_closed]}" "${R[threads_closed]}"
echo "peak VmHWM: ${R[hwm_kib]} KiB"
echo
echo "per connection:"
echo "  RSS, idle:    $IDLE_PER KiB"
echo "  RSS, echoed:  $ECHO_PER KiB"
echo "  descriptors:  $FD_PER (2 expected: client side + upstream side)"
echo "  target: <= $TARGET KiB per idle connection at $N: $V (worst of idle/echoed: $WORST KiB)"

[[ ${BENCH_STRICT:-0} == 1 && $V != ok ]] && exit 1
exit 0
