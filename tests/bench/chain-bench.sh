#!/bin/bash
# tests/bench/chain-bench.sh - what a chain of faults costs: requests/s,
# CPU time per request and bulk throughput of fault with no fault, and with
# latency + bandwidth + jitter all enabled but set so that they do not slow
# the traffic down (latency 0 ms per read/write, a 10 GBps bandwidth,
# jitter of amplitude 0 at 1000 Hz): what remains is the machinery.
# Run by hand from the build dir: bash tests/bench/chain-bench.sh
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"

SECS=${BENCH_SECONDS:-8}
bench_find_fault || bench_die "no fault binary (build first, or set FAULT)"
command -v wrk >/dev/null || bench_die "wrk is required"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || bench_die "nginx is required"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

read -r NPORT P1 P2 < <(bench_free_ports 3)
mkdir -p "$BENCH_TMP/www"
head -c 100 /dev/zero >"$BENCH_TMP/www/small"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$BENCH_TMP/www/big"
cat >"$BENCH_TMP/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; keepalive_requests 100000;
  server { listen 127.0.0.1:$NPORT; root $BENCH_TMP/www; } }
CONF
bench_start nginx taskset -c 0 "$NGINX" -p "$BENCH_TMP" -c "$BENCH_TMP/nginx.conf"
bench_wait_port "$NPORT" "$BENCH_LAST_PID" nginx

CHAIN="--with-latency --latency-per-read-write --latency-mean 0 --latency-stddev 0
 --with-bandwidth --bandwidth-rate 10 --bandwidth-unit GBps
 --with-jitter --jitter-amplitude 0 --jitter-frequency 1000"
# shellcheck disable=SC2086
bench_start plain taskset -c 1 "$FAULT_BIN" run --no-ui --proxy "127.0.0.1:$P1=127.0.0.1:$NPORT"
PLAIN=$BENCH_LAST_PID
bench_wait_port "$P1" "$PLAIN" plain
# shellcheck disable=SC2086
bench_start chain taskset -c 1 "$FAULT_BIN" run --no-ui --proxy "127.0.0.1:$P2=127.0.0.1:$NPORT" $CHAIN
CHAINED=$BENCH_LAST_PID
bench_wait_port "$P2" "$CHAINED" chain

# The real process behind a libtool wrapper is the child.
real_pid() { local c; c=$(pgrep -P "$1" | head -1); echo "${c:-$1}"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

measure() { # NAME PORT PID
	local pid ticks0 ticks1 reqs rps bulk
	pid=$(real_pid "$3")
	ticks0=$(cpu_ticks "$pid")
	reqs=$(taskset -c 1 wrk -t1 -c50 -d"${SECS}s" "http://127.0.0.1:$2/small" |
		awk '/requests in/ { print $1 }')
	ticks1=$(cpu_ticks "$pid")
	rps=$(awk -v r="$reqs" -v s="$SECS" 'BEGIN { printf "%.0f", r / s }')
	local cpu_us
	cpu_us=$(awk -v t=$((ticks1 - ticks0)) -v hz="$HZ" -v r="$reqs" 'BEGIN { printf "%.1f", t / hz * 1e6 / r }')
	bulk=0
	for _ in 1 2 3; do
		b=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$2/big")
		bulk=$(awk -v a="$bulk" -v b="$b" 'BEGIN { print (b > a) ? b : a }')
	done
	printf '%-28s %10s req/s %8s us CPU/request %10.1f MB/s\n' "$1" "$rps" "$cpu_us" \
		"$(awk -v b="$bulk" 'BEGIN { print b / 1e6 }')"
}

echo "== fault chain cost (wrk -t1 -c50 -d${SECS}s, 100 B; bulk: 100 MiB, best of 3) =="
echo "pinning: nginx CPU 0; fault and the client CPU 1; load: $(cut -d' ' -f1 /proc/loadavg)"
measure "no fault" "$P1" "$PLAIN"
measure "latency+bandwidth+jitter" "$P2" "$CHAINED"
