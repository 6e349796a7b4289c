#!/bin/bash
# tests/bench/stealth-bench.sh - what stealth mode costs: requests/s of a
# captured client (wrk, `fault run --stealth --capture-process wrk`, no
# fault) against the same client talking to nginx directly, and, for
# reference, through a plain `--proxy` mapping.
#
#   keep-alive   wrk -t1 -c50 GET /small (100 B): capture acts once per
#                connection, so this is the relay's cost
#   per-request  wrk -t1 -c10 with "Connection: close": a new connection
#                per request, so every request pays the connect hook, the
#                sockops hook, the map lookup and the upstream connect
#
# The direct and mapping runs use a copy of wrk named wrk-direct, which
# the programs do not capture, so every path runs with the same servers
# up, in interleaved rounds (median of BENCH_ROUNDS). Pinned like
# proxy-bench.sh on two CPUs: nginx on CPU 0, fault and wrk on CPU 1.
# Needs root (eBPF), a cgroup v2 hierarchy, wrk and nginx; wrk runs in a
# cgroup of its own, removed at exit.
# Run by hand from the build dir: bash tests/bench/stealth-bench.sh
# Environment: BENCH_SECONDS (5 per run), BENCH_ROUNDS (3), FAULT,
# BENCH_STEALTH_DEBUG=1 (log each capture and count them: a check that
# wrk really was captured; the logging slows the per-request runs).
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"

SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
[ "$(id -u)" = 0 ] || bench_die "stealth mode needs root"
bench_find_fault || bench_die "no fault binary (build first, or set FAULT)"
WRK=$(command -v wrk) || bench_die "wrk is required"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || bench_die "nginx is required"
CG_ROOT=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CG_ROOT" ] || bench_die "no cgroup v2 hierarchy mounted"
CG=$CG_ROOT/fault-bench-$$
mkdir "$CG"
cleanup_cg() { rmdir "$CG" 2>/dev/null || true; }
trap 'rc=$?; bench_stop_name stealth; cleanup_cg; (exit $rc); bench_cleanup' EXIT
cp "$WRK" "$BENCH_TMP/wrk-direct"

read -r NPORT PMAP < <(bench_free_ports 2)
mkdir -p "$BENCH_TMP/www"
head -c 100 /dev/zero >"$BENCH_TMP/www/small"
cat >"$BENCH_TMP/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000;
  server { listen 127.0.0.1:$NPORT; root $BENCH_TMP/www; } }
CONF
bench_start nginx taskset -c 0 "$NGINX" -p "$BENCH_TMP" -c "$BENCH_TMP/nginx.conf"
bench_wait_port "$NPORT" "$BENCH_LAST_PID" nginx

bench_start mapping taskset -c 1 "$FAULT_BIN" run --no-ui --proxy "127.0.0.1:$PMAP=127.0.0.1:$NPORT"
bench_wait_port "$PMAP" "$BENCH_LAST_PID" mapping
bench_start stealth taskset -c 1 "$FAULT_BIN" run --stealth --capture-process wrk \
	--ebpf-cgroup "$CG" --disable-http-proxy --log-file "$BENCH_TMP/stealth.log" ${BENCH_STEALTH_DEBUG:+--log-level debug}
for _ in $(seq 500); do
	grep -q 'stealth listener on 127' "$BENCH_TMP/stealth.log" 2>/dev/null && break
	kill -0 "$BENCH_LAST_PID" 2>/dev/null || bench_die "fault --stealth exited: $(cat "$BENCH_TMP/stealth.log")"
	sleep 0.01
done
bench_load_check

# run WRK PORT MODE - requests/s of one wrk run in the cgroup.
run() {
	local extra=()
	[ "$3" = close ] && extra=(-c10 -H 'Connection: close') || extra=(-c50)
	bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" taskset -c 1 "$1" -t1 "${extra[@]}" \
		-d"${SECS}s" "http://127.0.0.1:$2/small" | awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }'
}

declare -A R
for ((i = 1; i <= ROUNDS; i++)); do
	for mode in keepalive close; do
		R[direct-$mode]+="$(run "$BENCH_TMP/wrk-direct" "$NPORT" $mode) "
		R[stealth-$mode]+="$(run "$WRK" "$NPORT" $mode) "
		R[mapping-$mode]+="$(run "$BENCH_TMP/wrk-direct" "$PMAP" $mode) "
	done
done
captured=$(grep -c 'captured, to' "$BENCH_TMP/stealth.log" || true)

echo "== stealth mode cost (wrk -t1, ${SECS}s runs, median of $ROUNDS; 100 B; nginx CPU 0, fault+wrk CPU 1; load before: $BENCH_LOAD) =="
printf '%-12s %10s %10s %10s %15s %16s\n' workload direct stealth mapping stealth/direct stealth/mapping
for mode in keepalive close; do
	d=$(tr ' ' '\n' <<<"${R[direct-$mode]}" | grep . | bench_median)
	s=$(tr ' ' '\n' <<<"${R[stealth-$mode]}" | grep . | bench_median)
	m=$(tr ' ' '\n' <<<"${R[mapping-$mode]}" | grep . | bench_median)
	printf '%-12s %10s %10s %10s %15s %16s\n' "$([ $mode = close ] && echo per-request || echo keep-alive)" \
		"$d" "$s" "$m" "$(bench_ratio "$s" "$d")" "$(bench_ratio "$s" "$m")"
done
if [ -n "${BENCH_STEALTH_DEBUG:-}" ]; then
	echo "(captures logged: $captured, one per connection the stealth runs opened)"
fi
