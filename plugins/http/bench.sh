#!/usr/bin/env bash
# plugins/http/bench.sh - throughput of the HTTP plugin (no fault enabled)
# against HAProxy in HTTP mode and a direct connection, all to one local
# nginx, in one run.
#
#   req/s:  wrk -t1 -c50 -d${BENCH_SECONDS}s, keep-alive, GET /small (100 B)
#           - forward proxy: wrk cannot use a proxy, so a Lua script makes
#             it send absolute-form request lines ("GET http://nginx/small
#             HTTP/1.1") to the proxy port, which is what a client with
#             HTTP_PROXY sends; HAProxy gets the same requests;
#           - reverse mapping: plain wrk to --proxy PORT=http://nginx and to
#             an HAProxy frontend;
#           - the forward proxies again at 1,000 connections (wrk -t2
#             -c1000, BENCH_C1000=0 skips it), where a pool of upstream
#             connections smaller than the demand shows in p99;
#           - HTTP/2 (h2c prior knowledge): h2load -t1 -c10 -m10 to the
#             mapping and to an HAProxy frontend with `proto h2`
#             (BENCH_H2=0 skips it);
#   bulk:   curl GET /big (100 MiB) to /dev/null, best of BENCH_BULK_RUNS:
#           direct, through each forward proxy (curl -x) and each mapping.
#
# Beside req/s, each row gives the CPU time the proxy (or nginx, for
# "direct") spent per request, from /proc/PID/stat around each run: on a
# shared machine req/s swings with what else runs, CPU per request much
# less.
#
# HAProxy runs with nbthread 1 (fault runs one loop thread), mode http,
# keep-alive both sides, http-reuse always. All servers run for the whole
# benchmark; paths are measured in interleaved rounds, req/s is the median
# over the rounds, bulk the best download. CPU pinning for req/s as in
# tests/bench/proxy-bench.sh (on two CPUs: nginx alone on one, the proxy
# and the load generator share the other, so the proxy's cost per request
# shows directly). Bulk runs are not pinned (BENCH_BULK_PIN=1 pins them
# too): a download through a proxy is three busy processes where the direct
# one is two, and pinning the proxy with the client would leave the proxied
# download half a CPU where the direct one has a whole one; unpinned, each
# path gets what the machine can give it.
#
# Run from the build dir after `make`:  bash plugins/http/bench.sh
# Environment: FAULT, BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_WARMUP (1),
# BENCH_BULK_RUNS (3), BENCH_PIN (1), BENCH_BULK_PIN (0), BENCH_H2 (1), BENCH_C1000 (1), BENCH_STRICT (0: report
# only; 1: exit 1 when a target printed under "ratios" is missed: forward
# req/s < 1.1x HAProxy's, at c1000 < 1.0x or p99 worse, forward bulk < 0.6x
# direct), BENCH_KEEP_TMP.
# shellcheck disable=SC2046,SC2059
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../tests/bench/lib.sh
. "$HERE/../../tests/bench/lib.sh"

SECONDS_RUN=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-1}
BULK_RUNS=${BENCH_BULK_RUNS:-3}
PIN=${BENCH_PIN:-1}
BULK_PIN=${BENCH_BULK_PIN:-0}
H2=${BENCH_H2:-1}
C1000=${BENCH_C1000:-1}
# A thousand connections through a proxy need more descriptors than 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
BIG_BYTES=$((100 * 1024 * 1024))

for tool in nginx haproxy wrk curl python3 taskset; do
	command -v "$tool" >/dev/null 2>&1 || bench_die "$tool not found"
done
[[ $H2 == 1 ]] && ! command -v h2load >/dev/null 2>&1 && { bench_log "h2load not found: no HTTP/2 rows"; H2=0; }
bench_find_fault || bench_die "no fault binary (build first, or set FAULT=...)"
bench_load_check

NCPU=$(nproc)
if [[ $PIN == 1 && $NCPU -ge 3 ]]; then
	CPU_SERVER=0 CPU_PROXY=1 CPU_CLIENT=2
	PIN_NOTE="nginx on CPU 0, proxy on CPU 1, load generator on CPU 2"
elif [[ $PIN == 1 && $NCPU -eq 2 ]]; then
	CPU_SERVER=0 CPU_PROXY=1 CPU_CLIENT=1
	PIN_NOTE="nginx on CPU 0; proxy and load generator share CPU 1"
else
	PIN=0 CPU_SERVER=all CPU_PROXY=all CPU_CLIENT=all
	PIN_NOTE="not pinned"
fi
pin() { [[ $PIN == 1 && $1 != all ]] && echo "taskset -c $1" || true; }

read -r P_NGINX P_HAF P_HAR P_HA2 P_FF P_FR < <(bench_free_ports 6)

WWW=$BENCH_TMP/www
mkdir -p "$WWW" "$BENCH_TMP/nginx-temp"
chmod 755 "$WWW"
printf '%099d\n' 0 >"$WWW/small"
bench_log "generating 100 MiB /big in $BENCH_TMP"
head -c "$BIG_BYTES" /dev/urandom >"$WWW/big"
chmod 644 "$WWW/small" "$WWW/big"
temp_paths="client_body_temp_path $BENCH_TMP/nginx-temp/body;"
nginx_v=$(nginx -V 2>&1)
for m in proxy fastcgi uwsgi scgi; do
	[[ $nginx_v == *"--without-http_${m}_module"* ]] || temp_paths+=$'\n'"    ${m}_temp_path $BENCH_TMP/nginx-temp/$m;"
done
cat >"$BENCH_TMP/nginx.conf" <<EOF
worker_processes 1;
pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx-error.log warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    $temp_paths
    server {
        listen 127.0.0.1:$P_NGINX;
        root $WWW;
    }
}
EOF
h2bind=
[[ $H2 == 1 ]] && h2bind="
frontend h2
    bind 127.0.0.1:$P_HA2 proto h2
    default_backend be"
cat >"$BENCH_TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
frontend fwd
    bind 127.0.0.1:$P_HAF
    default_backend be
frontend rev
    bind 127.0.0.1:$P_HAR
    default_backend be$h2bind
backend be
    http-reuse always
    server nginx 127.0.0.1:$P_NGINX
EOF
haproxy -c -q -f "$BENCH_TMP/haproxy.cfg" || bench_die "haproxy config check failed"
# Absolute-form requests for the forward proxies (built once by wrk).
cat >"$BENCH_TMP/absolute.lua" <<EOF
wrk.path = "http://127.0.0.1:$P_NGINX/small"
wrk.headers["Host"] = "127.0.0.1:$P_NGINX"
EOF

bench_start nginx $(pin "$CPU_SERVER") nginx -p "$BENCH_TMP" -e "$BENCH_TMP/nginx-error.log" -c "$BENCH_TMP/nginx.conf"
bench_wait_port "$P_NGINX" "$BENCH_LAST_PID" nginx || bench_die "nginx did not start"
bench_start haproxy $(pin "$CPU_PROXY") haproxy -db -f "$BENCH_TMP/haproxy.cfg"
bench_wait_port "$P_HAF" "$BENCH_LAST_PID" haproxy || bench_die "haproxy did not start"
bench_log "fault binary: $FAULT_BIN"
bench_start fault $(pin "$CPU_PROXY") "$FAULT_BIN" run --proxy-address "127.0.0.1:$P_FF" \
	--proxy "127.0.0.1:$P_FR=http://127.0.0.1:$P_NGINX" --no-ui
FAULT_PID=$BENCH_LAST_PID
bench_wait_port "$P_FF" "$FAULT_PID" fault || bench_die "fault did not start"
bench_wait_port "$P_FR" "$FAULT_PID" fault || bench_die "fault's mapping did not start"
FAULT_SAN=$(bench_sanitizers "$FAULT_PID")

ok_get() { # ok_get CURL_ARGS... - 200 for /small
	[[ $(curl -s --noproxy '' --max-time 10 -o /dev/null -w '%{http_code}' "$@" || true) == 200 ]]
}
ok_get "http://127.0.0.1:$P_NGINX/small" || bench_die "nginx does not serve /small"
for p in "$P_HAF" "$P_FF"; do
	ok_get -x "http://127.0.0.1:$p" "http://127.0.0.1:$P_NGINX/small" || bench_die "forward proxy on $p fails"
done
for p in "$P_HAR" "$P_FR"; do
	ok_get "http://127.0.0.1:$p/small" || bench_die "reverse proxy on $p fails"
done

# Paths: KEY -> "kind port client_cpu"
declare -A KIND PORT RPS_LIST BEST ERRS CPU_LIST P99_LIST WHO
KEYS=()
add() { KEYS+=("$1"); KIND[$1]=$2 PORT[$1]=$3 WHO[$1]=$4 RPS_LIST[$1]='' BEST[$1]=0 ERRS[$1]=0 CPU_LIST[$1]='' P99_LIST[$1]=''; }
NGINX_PID=$(cat "$BENCH_TMP/nginx.pid")
# The worker does the work (the master only watches it).
NGINX_PID=$(bench_real_pid "$NGINX_PID")
HA_PID=
for ((i = 0; i < ${#BENCH_NAMES[@]}; i++)); do
	[[ ${BENCH_NAMES[i]} == haproxy ]] && HA_PID=${BENCH_PIDS[i]}
done
# The real fault process (a libtool wrapper forks it).
F_REAL=$(bench_real_pid "$FAULT_PID")
add "direct (nginx)" direct "$P_NGINX" "$NGINX_PID"
add "haproxy http, forward" fwd "$P_HAF" "$HA_PID"
add "fault, forward proxy" fwd "$P_FF" "$F_REAL"
add "haproxy http, reverse" rev "$P_HAR" "$HA_PID"
add "fault, reverse mapping" rev "$P_FR" "$F_REAL"
if [[ $C1000 == 1 ]]; then
	add "haproxy http, forward c1000" fwd1k "$P_HAF" "$HA_PID"
	add "fault, forward proxy c1000" fwd1k "$P_FF" "$F_REAL"
fi
if [[ $H2 == 1 ]]; then
	add "haproxy h2c, reverse" h2 "$P_HA2" "$HA_PID"
	add "fault h2c, reverse mapping" h2 "$P_FR" "$F_REAL"
fi

run_load() { # run_load KEY SECONDS [quiet]
	local k=$1 secs=$2 out rps errs t0 t1 nreq p99
	t0=$(bench_cpu_ticks "${WHO[$k]}")
	case ${KIND[$k]} in
	fwd) out=$($(pin "$CPU_CLIENT") wrk -t1 -c50 -d"${secs}s" --latency -s "$BENCH_TMP/absolute.lua" \
		"http://127.0.0.1:${PORT[$k]}/" 2>&1) || true ;;
	fwd1k) out=$($(pin "$CPU_CLIENT") wrk -t2 -c1000 -d"${secs}s" --latency -s "$BENCH_TMP/absolute.lua" \
		"http://127.0.0.1:${PORT[$k]}/" 2>&1) || true ;;
	direct | rev) out=$($(pin "$CPU_CLIENT") wrk -t1 -c50 -d"${secs}s" --latency \
		"http://127.0.0.1:${PORT[$k]}/small" 2>&1) || true ;;
	h2) out=$($(pin "$CPU_CLIENT") h2load -t1 -c10 -m10 -D "$secs" \
		"http://127.0.0.1:${PORT[$k]}/small" 2>&1) || true ;;
	esac
	t1=$(bench_cpu_ticks "${WHO[$k]}")
	[[ ${3:-} == quiet ]] && return 0
	printf '### %s\n%s\n' "$k" "$out" >>"$BENCH_TMP/load.log"
	if [[ ${KIND[$k]} == h2 ]]; then
		rps=$(awk '/^finished in/ {for (i = 1; i <= NF; i++) if ($i == "req/s,") print $(i - 1)}' <<<"$out")
		errs=$(awk '/^requests:/ {print $10 + $12}' <<<"$out")
		errs=$((errs + $(awk '/^status codes:/ {print $5 + $7 + $9}' <<<"$out")))
	else
		rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
		errs=$(awk '/Socket errors:|Non-2xx/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i} END {print s + 0}' <<<"$out")
		p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
		[[ -z $p99 ]] || P99_LIST[$k]+="$(bench_ms "$p99") "
	fi
	if [[ -z $rps ]]; then
		bench_log "$k: no result: $(tail -n 3 <<<"$out")"
		return 0
	fi
	if [[ ${KIND[$k]} == h2 ]]; then
		nreq=$(awk '/^requests:/ {print $8}' <<<"$out")
	else
		nreq=$(awk '/requests in/ {print $1}' <<<"$out")
	fi
	RPS_LIST[$k]+="$rps "
	CPU_LIST[$k]+="$(bench_us_per_req "$t0" "$t1" "$nreq") "
	ERRS[$k]=$((${ERRS[$k]} + errs))
	bench_log "  $k: $rps req/s"
}

run_bulk() { # run_bulk KEY
	local k=$1 args=() out speed code size
	case ${KIND[$k]} in
	direct | rev) args=("http://127.0.0.1:${PORT[$k]}/big") ;;
	fwd) args=(-x "http://127.0.0.1:${PORT[$k]}" "http://127.0.0.1:$P_NGINX/big") ;;
	fwd1k) return 0 ;; # the c1000 rows measure requests only
	h2) args=(--http2-prior-knowledge "http://127.0.0.1:${PORT[$k]}/big") ;;
	esac
	out=$($(pin "$CPU_CLIENT") curl -s --noproxy '' --max-time 120 -o /dev/null \
		-w '%{speed_download} %{http_code} %{size_download}' "${args[@]}") || true
	read -r speed code size <<<"$out"
	if [[ ${code:-} != 200 || ${size:-0} != "$BIG_BYTES" ]]; then
		bench_log "bulk on $k: code=${code:-?} size=${size:-?}"
		return 0
	fi
	BEST[$k]=$(awk -v a="${BEST[$k]}" -v b="$speed" 'BEGIN { print (b + 0 > a + 0 ? b : a) }')
}

if [[ $WARMUP != 0 ]]; then
	bench_log "warm-up: ${WARMUP}s per path"
	for k in "${KEYS[@]}"; do run_load "$k" "$WARMUP" quiet; done
fi
for ((r = 1; r <= ROUNDS; r++)); do
	bench_log "req/s round $r/$ROUNDS (${SECONDS_RUN}s per path)"
	for k in "${KEYS[@]}"; do run_load "$k" "$SECONDS_RUN"; done
done
BULK_NOTE="pinned as for req/s"
if [[ $PIN == 1 && $BULK_PIN != 1 ]]; then
	# Every process started here (and nginx's workers) may now run anywhere.
	for pid in "${BENCH_PIDS[@]}"; do
		[[ -n $pid ]] || continue
		for p in $pid $(pgrep -P "$pid" || true); do
			taskset -a -p -c "0-$((NCPU - 1))" "$p" >/dev/null 2>&1 || true
		done
	done
	PIN=0
	BULK_NOTE="not pinned"
elif [[ $PIN == 0 ]]; then
	BULK_NOTE="not pinned"
fi
for ((r = 1; r <= BULK_RUNS; r++)); do
	bench_log "bulk round $r/$BULK_RUNS"
	for k in "${KEYS[@]}"; do run_bulk "$k"; done
done

median_of() { tr ' ' '\n' <<<"$1" | grep . | bench_median; }
declare -A RPS BULK CPUR P99
for k in "${KEYS[@]}"; do
	if [[ -n ${RPS_LIST[$k]// /} ]]; then RPS[$k]=$(median_of "${RPS_LIST[$k]}"); else RPS[$k]=n/a; fi
	if [[ -n ${CPU_LIST[$k]// /} ]]; then CPUR[$k]=$(median_of "${CPU_LIST[$k]}"); else CPUR[$k]=n/a; fi
	if [[ -n ${P99_LIST[$k]// /} ]]; then P99[$k]=$(median_of "${P99_LIST[$k]}"); else P99[$k]=n/a; fi
	if [[ ${BEST[$k]} == 0 ]]; then BULK[$k]=n/a; else BULK[$k]=$(awk -v b="${BEST[$k]}" 'BEGIN { printf "%.1f", b / 1e6 }'); fi
done

echo
echo "== fault HTTP plugin benchmark =="
echo "host:     $NCPU CPU(s), Linux $(uname -r), $(nginx -v 2>&1 | sed 's|.*: ||'), $(haproxy -v | awk 'NR == 1 {print "haproxy/" $3}')"
echo "load:     1-min load average $BENCH_LOAD before starting"
echo "pinning:  $PIN_NOTE"
echo "haproxy:  mode http, nbthread 1, keep-alive, http-reuse always"
echo "req/s:    wrk -t1 -c50 -d${SECONDS_RUN}s GET /small (100 B) (c1000: wrk -t2 -c1000; h2: h2load -t1 -c10 -m10); median of $ROUNDS rounds"
echo "bulk:     curl GET /big (100 MiB); best of $BULK_RUNS; MB = 10^6 bytes; $BULK_NOTE"
[[ $FAULT_SAN == none ]] || echo "warning:  fault is built with sanitizers ($FAULT_SAN): not representative"
echo
fmt='%-30s %12s %12s %14s %8s %11s\n'
printf "$fmt" "path" "req/s" "p99 ms" "CPU us/req" "errors" "bulk MB/s"
printf "$fmt" "----" "-----" "------" "----------" "------" "---------"
for k in "${KEYS[@]}"; do printf "$fmt" "$k" "${RPS[$k]}" "${P99[$k]}" "${CPUR[$k]}" "${ERRS[$k]}" "${BULK[$k]}"; done
R_F=$(bench_ratio "${RPS[fault, forward proxy]}" "${RPS[haproxy http, forward]}")
R_R=$(bench_ratio "${RPS[fault, reverse mapping]}" "${RPS[haproxy http, reverse]}")
B_F=$(bench_ratio "${BULK[fault, forward proxy]}" "${BULK[direct (nginx)]}")
B_R=$(bench_ratio "${BULK[fault, reverse mapping]}" "${BULK[direct (nginx)]}")
verdict() { if bench_ge "$1" "$2"; then echo ok; elif [[ $1 == n/a ]]; then echo "not measured"; else echo MISSED; fi; }
echo
echo "ratios:"
printf '  fault / haproxy  forward req/s : %-6s target >= 1.10: %s\n' "$R_F" "$(verdict "$R_F" 1.1)"
if [[ $C1000 == 1 ]]; then
	R_K=$(bench_ratio "${RPS[fault, forward proxy c1000]}" "${RPS[haproxy http, forward c1000]}")
	printf '  fault / haproxy  forward req/s at c1000 : %-6s target >= 1.00: %s\n' "$R_K" "$(verdict "$R_K" 1.0)"
	if [[ ${P99[fault, forward proxy c1000]} != n/a ]] &&
		awk -v a="${P99[fault, forward proxy c1000]}" -v b="${P99[haproxy http, forward c1000]}" 'BEGIN { exit !(a <= b) }'; then
		V=ok
	else
		V=MISSED
	fi
	printf '  forward p99 at c1000: fault %s ms, haproxy %s ms: %s\n' "${P99[fault, forward proxy c1000]}" "${P99[haproxy http, forward c1000]}" "$V"
fi
printf '  fault / haproxy  reverse req/s : %s\n' "$R_R"
printf '  haproxy / fault  forward CPU per request : %s (>= 1: fault cheaper)\n' \
	"$(bench_ratio "${CPUR[haproxy http, forward]}" "${CPUR[fault, forward proxy]}")"
printf '  haproxy / fault  reverse CPU per request : %s\n' \
	"$(bench_ratio "${CPUR[haproxy http, reverse]}" "${CPUR[fault, reverse mapping]}")"
if [[ $H2 == 1 ]]; then
	printf '  fault / haproxy  h2c     req/s : %s\n' "$(bench_ratio "${RPS[fault h2c, reverse mapping]}" "${RPS[haproxy h2c, reverse]}")"
fi
printf '  fault / direct   forward bulk  : %-6s target >= 0.60: %s\n' "$B_F" "$(verdict "$B_F" 0.6)"
printf '  fault / direct   reverse bulk  : %s\n' "$B_R"
if [[ ${BENCH_STRICT:-0} == 1 ]] && ! { bench_ge "$R_F" 1.1 && bench_ge "$B_F" 0.6 &&
	{ [[ $C1000 != 1 ]] || { bench_ge "$R_K" 1.0 && [[ $V == ok ]]; }; }; }; then
	exit 1
fi
exit 0
