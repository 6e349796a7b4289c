#!/bin/bash
# tests/bench/soak.sh - fault under steady load with scheduled faults: 1000
# concurrent keep-alive connections for 10 minutes through latency,
# bandwidth, jitter and blackhole faults that switch on and off on their
# schedules. Every 30 s it prints fault's open descriptors and RSS; the
# target is no crash, and both flat within +-10% once the connections are
# up. Run by hand: bash tests/bench/soak.sh  (SOAK_SECONDS, SOAK_CONNS).
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"

SECS=${SOAK_SECONDS:-600}
CONNS=${SOAK_CONNS:-1000}
bench_find_fault || bench_die "no fault binary (build first, or set FAULT)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || bench_die "nginx is required"
bench_raise_nofile $((CONNS * 3 + 100))

read -r NPORT FPORT < <(bench_free_ports 2)
mkdir -p "$BENCH_TMP/www"
head -c 512 /dev/urandom >"$BENCH_TMP/www/small"
cat >"$BENCH_TMP/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx-error.log; worker_rlimit_nofile $((CONNS * 2 + 100));
events { worker_connections $((CONNS * 2 + 100)); }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 600s;
  server { listen 127.0.0.1:$NPORT backlog=4096; root $BENCH_TMP/www; } }
CONF
bench_start nginx "$NGINX" -p "$BENCH_TMP" -c "$BENCH_TMP/nginx.conf"
bench_wait_port "$NPORT" "$BENCH_LAST_PID" nginx

# Each fault is on for part of every minute, so every transition happens
# about ten times over the run.
sched() { # OFFSET_S LENGTH_S: periods repeating every 60 s over the run
	local out= t
	for ((t = $1; t < SECS; t += 60)); do out+="${out:+;}start:${t}s,duration:${2}s"; done
	echo "${out:-start:${SECS}s}"
}
bench_start fault "$FAULT_BIN" run --no-ui --duration "$((SECS + 30))s" \
	--proxy "127.0.0.1:$FPORT=127.0.0.1:$NPORT" \
	--with-latency --latency-mean 20 --latency-stddev 5 --latency-per-read-write \
	--latency-sched "$(sched 0 20)" \
	--with-bandwidth --bandwidth-rate 100 --bandwidth-unit KBps --bandwidth-sched "$(sched 15 15)" \
	--with-jitter --jitter-amplitude 30 --jitter-frequency 20 --jitter-sched "$(sched 30 20)" \
	--with-blackhole --blackhole-sched "$(sched 50 5)"
FPID=$BENCH_LAST_PID
bench_wait_port "$FPORT" "$FPID" fault
REAL=$(pgrep -P "$FPID" | head -1 || true)
echo "== soak: $CONNS connections for $SECS s through scheduled latency, bandwidth, jitter, blackhole =="
python3 "$(dirname "$0")/soak.py" "$FPORT" "$CONNS" "$SECS" "${REAL:-$FPID}" 30
kill -0 "$FPID" 2>/dev/null && echo "soak: fault still running: no crash" || bench_die "fault died"
