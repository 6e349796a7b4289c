#!/usr/bin/env bash
# tests/bench/proxy-bench.sh - throughput of fault's plain TCP mapping
# against HAProxy (mode tcp) and a direct connection, all to one local nginx.
#
#   (a) requests/s: wrk -d${BENCH_SECONDS}s keep-alive GET /small (100 B), at
#       each concurrency of BENCH_CONNS (default "50 1000"; wrk -t1 up to
#       100 connections, -t2 above), with latency percentiles
#   (b) bulk MB/s:  curl GET /big (100 MiB) to /dev/null, best of 3
#
# Paths: direct to nginx; HAProxy mode tcp with nbthread 1; HAProxy mode tcp
# with its default thread count (unpinned); when pinned, also HAProxy with one
# thread per CPU pinned to the proxy CPU (fault's CPU budget); fault run
# --proxy with no fault; the same with FAULT_NO_SPLICE=1 (the relay without
# splice at all, for comparison).
#
# All servers run for the whole benchmark; the paths are measured in
# interleaved rounds (direct, haproxy x2, fault, then again) so that a slow
# moment of a shared machine does not land on one path only. req/s is the
# median over the rounds, bulk is the best download over the rounds.
# us/req is the CPU time (user + system, /proc/PID/stat) the proxy process
# (nginx's worker for the direct path) spent per request during the run,
# median over the rounds: on a shared machine it moves far less than req/s.
#
# Run from the build dir after `make`:  bash ../tests/bench/proxy-bench.sh
# Environment:
#   FAULT            fault binary (default ./core/fault, then fault on PATH;
#                    if none is found the fault row is skipped)
#   BENCH_SECONDS    wrk duration of one run (default 10)
#   BENCH_CONNS      wrk concurrencies to measure (default "50 1000")
#   BENCH_ROUNDS     wrk runs per path, median kept (default 3)
#   BENCH_WARMUP     wrk warm-up seconds per path before round 1 (default 1)
#   BENCH_BULK_RUNS  curl downloads per path, best kept (default 3)
#   BENCH_PIN        1 (default) pin processes with taskset, 0 to not pin
#   BENCH_CPU_SERVER, BENCH_CPU_PROXY, BENCH_CPU_CLIENT  override the CPUs
#   BENCH_STRICT     1: exit 1 when a target is missed (default 0: report only)
#   BENCH_KEEP_TMP   1: keep the temp dir (configs, logs) for inspection

# $(pin CPU) is meant to split into "taskset -c CPU" (or nothing); the
# table's printf format is a variable on purpose.
# shellcheck disable=SC2046,SC2059
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECONDS_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-1}
BULK_RUNS=${BENCH_BULK_RUNS:-3}
PIN=${BENCH_PIN:-1}
CONNS=${BENCH_CONNS:-"50 1000"}
# A thousand connections through a proxy need more descriptors than 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
BIG_BYTES=$((100 * 1024 * 1024))
NGINX_WORKERS=1

for tool in nginx haproxy wrk curl python3 taskset; do
	command -v "$tool" >/dev/null 2>&1 || bench_die "$tool not found"
done

HAVE_FAULT=1
bench_find_fault || HAVE_FAULT=0
bench_load_check

# ---------------------------------------------------------------- CPU layout
NCPU=$(nproc)
if [[ $PIN == 1 && $NCPU -ge 3 ]]; then
	CPU_SERVER=${BENCH_CPU_SERVER:-0}
	CPU_PROXY=${BENCH_CPU_PROXY:-1}
	CPU_CLIENT=${BENCH_CPU_CLIENT:-2}
	PIN_NOTE="nginx on CPU $CPU_SERVER, proxy on CPU $CPU_PROXY, wrk/curl on CPU $CPU_CLIENT"
elif [[ $PIN == 1 && $NCPU -eq 2 ]]; then
	# Two CPUs: nginx alone on one, the proxy and the client share the
	# other, which is then the saturated one, so the proxy's cost per
	# request shows directly in req/s. (Putting the client with nginx
	# instead leaves the proxy CPU partly idle and the result noisy.)
	CPU_SERVER=${BENCH_CPU_SERVER:-0}
	CPU_PROXY=${BENCH_CPU_PROXY:-1}
	CPU_CLIENT=${BENCH_CPU_CLIENT:-1}
	PIN_NOTE="nginx on CPU $CPU_SERVER; proxy and wrk/curl share CPU $CPU_PROXY (direct: wrk/curl on CPU $CPU_CLIENT)"
else
	PIN=0
	CPU_SERVER=all CPU_PROXY=all CPU_CLIENT=all
	PIN_NOTE="not pinned ($NCPU CPU(s) or BENCH_PIN=0)"
fi

# pin CPU - words to put before a command to pin it to CPU (none when
# unpinned), used unquoted: $(pin 1) cmd... Not a wrapper function, so that
# a background command's $! is the real process (taskset execs it).
pin() {
	if [[ $PIN == 1 && $1 != all ]]; then
		echo "taskset -c $1"
	fi
}

# ---------------------------------------------------------------- files
read -r P_NGINX P_HA1 P_HAD P_HAP P_FAULT P_FAULTNS < <(bench_free_ports 6)

WWW=$BENCH_TMP/www
mkdir -p "$WWW" "$BENCH_TMP/nginx-temp"
chmod 755 "$WWW"
printf '%099d\n' 0 >"$WWW/small" # exactly 100 bytes
bench_log "generating 100 MiB /big in $BENCH_TMP"
head -c "$BIG_BYTES" /dev/urandom >"$WWW/big"
chmod 644 "$WWW/small" "$WWW/big"

# Point every compiled-in temp path into the temp dir (the packaged defaults
# under /var/lib/nginx may not exist or be writable).
temp_paths="client_body_temp_path $BENCH_TMP/nginx-temp/body;"
nginx_v=$(nginx -V 2>&1)
for m in proxy fastcgi uwsgi scgi; do
	if [[ $nginx_v != *"--without-http_${m}_module"* ]]; then
		temp_paths+=$'\n'"    ${m}_temp_path $BENCH_TMP/nginx-temp/$m;"
	fi
done
cat >"$BENCH_TMP/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx-error.log warn;
daemon off;
events {
    worker_connections 4096;
}
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
        location / { }
    }
}
EOF

haproxy_cfg() { # haproxy_cfg FILE PORT NBTHREAD_LINE
	cat >"$1" <<EOF
global
    $3
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend fe
    bind 127.0.0.1:$2
    default_backend be
backend be
    server nginx 127.0.0.1:$P_NGINX
EOF
}
haproxy_cfg "$BENCH_TMP/haproxy-1.cfg" "$P_HA1" "nbthread 1"
haproxy_cfg "$BENCH_TMP/haproxy-default.cfg" "$P_HAD" "# nbthread: default (one per CPU)"
haproxy -c -q -f "$BENCH_TMP/haproxy-1.cfg" || bench_die "haproxy config check failed"

# ---------------------------------------------------------------- servers
# check_path PORT - GET /small through PORT answers 200
check_path() {
	[[ $(curl -s --noproxy '*' --max-time 10 -o /dev/null -w '%{http_code}' \
		"http://127.0.0.1:$1/small" || true) == 200 ]]
}
threads_of() { awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }

bench_start nginx $(pin "$CPU_SERVER") nginx -p "$BENCH_TMP" -e "$BENCH_TMP/nginx-error.log" -c "$BENCH_TMP/nginx.conf"
bench_wait_port "$P_NGINX" "$BENCH_LAST_PID" nginx || bench_die "nginx did not start"
check_path "$P_NGINX" || bench_die "nginx does not serve /small"

# HAProxy nbthread 1 is pinned to the proxy CPU; HAProxy with its default
# thread count is not pinned (pinned to one CPU it would start one thread).
bench_start haproxy-1 $(pin "$CPU_PROXY") haproxy -db -f "$BENCH_TMP/haproxy-1.cfg"
HA1_PID=$BENCH_LAST_PID
bench_wait_port "$P_HA1" "$BENCH_LAST_PID" haproxy-1 || bench_die "haproxy (nbthread 1) did not start"
check_path "$P_HA1" || bench_die "haproxy (nbthread 1) does not proxy /small"

bench_start haproxy-default haproxy -db -f "$BENCH_TMP/haproxy-default.cfg"
HAD_PID=$BENCH_LAST_PID
bench_wait_port "$P_HAD" "$HAD_PID" haproxy-default || bench_die "haproxy (default) did not start"
check_path "$P_HAD" || bench_die "haproxy (default) does not proxy /small"
HA_THREADS=$(threads_of "$HAD_PID")

# Pinned runs confine fault to the proxy CPU, while HAProxy with its default
# thread count runs unpinned on every CPU: not the same CPU budget. So pinned
# runs also measure HAProxy with as many threads as CPUs, pinned to the proxy
# CPU like fault (pinned without nbthread it would start one thread).
HAP_PID=
if [[ $PIN == 1 ]]; then
	haproxy_cfg "$BENCH_TMP/haproxy-pinned.cfg" "$P_HAP" "nbthread $NCPU"
	bench_start haproxy-pinned $(pin "$CPU_PROXY") haproxy -db -f "$BENCH_TMP/haproxy-pinned.cfg"
	HAP_PID=$BENCH_LAST_PID
	bench_wait_port "$P_HAP" "$HAP_PID" haproxy-pinned || bench_die "haproxy (nbthread $NCPU, pinned) did not start"
	check_path "$P_HAP" || bench_die "haproxy (nbthread $NCPU, pinned) does not proxy /small"
fi

K_DIRECT="direct (nginx)"
K_HA1="haproxy tcp nbthread 1"
K_HAD="haproxy tcp default ($HA_THREADS thr)"
K_HAP="haproxy tcp nbthread $NCPU"
K_FAULT="fault (no fault)"
K_FAULTNS="fault FAULT_NO_SPLICE=1"
declare -A PORT CPU PINS RPS_LIST LAT_LIST P99_LIST CPU_LIST ERR BEST STATUS WHO
KEYS=()
add_path() { # add_path KEY PORT CLIENT_CPU PIN_DESC PID (the process whose CPU is counted)
	local c
	KEYS+=("$1")
	PORT[$1]=$2 CPU[$1]=$3 PINS[$1]=$4 BEST[$1]=0 WHO[$1]=$(bench_real_pid "$5")
	for c in $CONNS; do
		RPS_LIST[$1@$c]='' LAT_LIST[$1@$c]='' P99_LIST[$1@$c]='' CPU_LIST[$1@$c]='' ERR[$1@$c]=0
	done
	STATUS[$1]=ok
}
if [[ $PIN == 1 ]]; then pdesc="proxy CPU $CPU_PROXY"; cdesc="client CPU $CPU_CLIENT"; else pdesc=-; cdesc=-; fi
add_path "$K_DIRECT" "$P_NGINX" "$CPU_CLIENT" "$cdesc" "$(cat "$BENCH_TMP/nginx.pid")"
add_path "$K_HA1" "$P_HA1" "$CPU_CLIENT" "$pdesc" "$HA1_PID"
add_path "$K_HAD" "$P_HAD" "$CPU_CLIENT" "unpinned" "$HAD_PID"
[[ -z $HAP_PID ]] || add_path "$K_HAP" "$P_HAP" "$CPU_CLIENT" "$pdesc" "$HAP_PID"

FAULT_NOTE=
if [[ $HAVE_FAULT == 1 ]]; then
	bench_log "fault binary: $FAULT_BIN"
	bench_start fault $(pin "$CPU_PROXY") "$FAULT_BIN" run --proxy "127.0.0.1:$P_FAULT=127.0.0.1:$P_NGINX" --no-ui
	FAULT_PID=$BENCH_LAST_PID
	if ! bench_wait_port "$P_FAULT" "$FAULT_PID" fault; then
		FAULT_NOTE="failed to start"
	elif ! check_path "$P_FAULT"; then
		bench_log "GET /small through fault failed; fault log:"
		tail -n 20 "$BENCH_TMP/fault.log" >&2 || true
		FAULT_NOTE="broken"
	else
		FAULT_THREADS=$(threads_of "$FAULT_PID")
		FAULT_SAN=$(bench_sanitizers "$FAULT_PID")
		add_path "$K_FAULT" "$P_FAULT" "$CPU_CLIENT" "$pdesc" "$FAULT_PID"
	fi
	FAULT_NO_SPLICE=1 bench_start fault-nosplice $(pin "$CPU_PROXY") "$FAULT_BIN" run \
		--proxy "127.0.0.1:$P_FAULTNS=127.0.0.1:$P_NGINX" --no-ui
	if bench_wait_port "$P_FAULTNS" "$BENCH_LAST_PID" fault-nosplice && check_path "$P_FAULTNS"; then
		add_path "$K_FAULTNS" "$P_FAULTNS" "$CPU_CLIENT" "$pdesc" "$BENCH_LAST_PID"
	fi
else
	bench_log "fault binary not found (set FAULT=...): skipping the fault row"
	FAULT_NOTE="not found"
fi

# ---------------------------------------------------------------- measures

# run_wrk KEY CONNS - one wrk run on the path, appends to its lists
run_wrk() {
	local path=$1 key="$1@$2" conns=$2 out rps lat p99 errs non2xx threads=1 t0 t1 nreq
	local url="http://127.0.0.1:${PORT[$path]}/small"
	[[ $conns -le 100 ]] || threads=2
	t0=$(bench_cpu_ticks "${WHO[$path]}")
	out=$($(pin "${CPU[$path]}") wrk -t$threads -c"$conns" -d"${SECONDS_RUN}s" --latency "$url" 2>&1) || {
		bench_log "wrk on $key failed: $out"
		STATUS[$path]="wrk failed"
		return 0
	}
	t1=$(bench_cpu_ticks "${WHO[$path]}")
	printf '### %s\n%s\n' "$key" "$out" >>"$BENCH_TMP/wrk.log"
	nreq=$(awk '/requests in/ {print $1}' <<<"$out")
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	lat=$(awk '$1 == "Latency" && NF >= 3 {print $2; exit}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	non2xx=$(awk -F': *' '/Non-2xx/ {print $2}' <<<"$out")
	errs=$(awk '/Socket errors:/ {
		s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s }' <<<"$out")
	if [[ -z $rps ]]; then
		bench_log "wrk on $key printed no Requests/sec"
		STATUS[$path]="wrk failed"
		return 0
	fi
	RPS_LIST[$key]+="$rps "
	LAT_LIST[$key]+="$(bench_ms "${lat:-0}") "
	P99_LIST[$key]+="$(bench_ms "${p99:-0}") "
	CPU_LIST[$key]+="$(bench_us_per_req "$t0" "$t1" "$nreq") "
	ERR[$key]=$((${ERR[$key]} + ${errs:-0} + ${non2xx:-0}))
	bench_log "  $key: $rps req/s"
}

# run_bulk KEY - one curl download of /big; keeps the best speed (bytes/s)
run_bulk() {
	local key=$1 out speed code size
	out=$($(pin "${CPU[$key]}") curl -s --noproxy '*' --max-time 120 -o /dev/null \
		-w '%{speed_download} %{http_code} %{size_download}' \
		"http://127.0.0.1:${PORT[$key]}/big") || true
	read -r speed code size <<<"$out"
	if [[ ${code:-} != 200 || ${size:-0} != "$BIG_BYTES" ]]; then
		bench_log "bulk download on $key: code=${code:-?} size=${size:-?} (want 200, $BIG_BYTES)"
		STATUS[$key]="bulk failed"
		return 0
	fi
	bench_log "  $key: $(awk -v b="$speed" 'BEGIN { printf "%.1f", b / 1e6 }') MB/s"
	BEST[$key]=$(awk -v a="${BEST[$key]}" -v b="$speed" 'BEGIN { print (b + 0 > a + 0 ? b : a) }')
}

if [[ $WARMUP != 0 ]]; then
	bench_log "warm-up: wrk ${WARMUP}s per path"
	for k in "${KEYS[@]}"; do
		$(pin "${CPU[$k]}") wrk -t1 -c50 -d"${WARMUP}s" "http://127.0.0.1:${PORT[$k]}/small" >/dev/null 2>&1 || true
	done
fi
for c in $CONNS; do
	for ((r = 1; r <= ROUNDS; r++)); do
		bench_log "req/s at $c connections, round $r/$ROUNDS (wrk ${SECONDS_RUN}s per path)"
		for k in "${KEYS[@]}"; do run_wrk "$k" "$c"; done
	done
done
for ((r = 1; r <= BULK_RUNS; r++)); do
	bench_log "bulk round $r/$BULK_RUNS"
	for k in "${KEYS[@]}"; do run_bulk "$k"; done
done

# ---------------------------------------------------------------- report
median_of() { tr ' ' '\n' <<<"$1" | grep . | bench_median; }
spread_of() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {
	if (NR) printf "%.0f-%.0f", lo, hi; else print "n/a" }'; }
declare -A RPS LAT P99 BULK SPREAD CPUR
for k in "${KEYS[@]}"; do
	for c in $CONNS; do
		kc="$k@$c"
		if [[ -n ${RPS_LIST[$kc]// /} ]]; then
			RPS[$kc]=$(median_of "${RPS_LIST[$kc]}")
			LAT[$kc]="$(median_of "${LAT_LIST[$kc]}") ms"
			P99[$kc]=$(median_of "${P99_LIST[$kc]}")
			SPREAD[$kc]=$(spread_of "${RPS_LIST[$kc]}")
			CPUR[$kc]=$(median_of "${CPU_LIST[$kc]}")
		else
			RPS[$kc]=n/a LAT[$kc]=n/a P99[$kc]=n/a SPREAD[$kc]=n/a CPUR[$kc]=n/a
		fi
	done
	if [[ ${BEST[$k]} == 0 ]]; then BULK[$k]=n/a; else BULK[$k]=$(awk -v b="${BEST[$k]}" 'BEGIN { printf "%.1f", b / 1e6 }'); fi
done
if [[ -n $FAULT_NOTE ]]; then
	KEYS+=("$K_FAULT")
	PINS[$K_FAULT]=$FAULT_NOTE BULK[$K_FAULT]=n/a STATUS[$K_FAULT]=$FAULT_NOTE
	for c in $CONNS; do
		RPS[$K_FAULT@$c]=n/a SPREAD[$K_FAULT@$c]=- LAT[$K_FAULT@$c]=n/a P99[$K_FAULT@$c]=n/a ERR[$K_FAULT@$c]=- CPUR[$K_FAULT@$c]=n/a
	done
fi

verdict() { if bench_ge "$1" "$2"; then echo "ok"; elif [[ $1 == n/a ]]; then echo "not measured"; else echo "MISSED"; fi; }
R_FD=$(bench_ratio "${BULK[$K_FAULT]}" "${BULK[$K_DIRECT]}")
R_HD=$(bench_ratio "${BULK[$K_HA1]}" "${BULK[$K_DIRECT]}")
V_BULK=$(verdict "$R_FD" 0.8)
MISSED=0
[[ $V_BULK == ok ]] || MISSED=1

echo
echo "== fault proxy benchmark =="
echo "host:     $NCPU CPU(s), Linux $(uname -r), $(nginx -v 2>&1 | sed 's|.*: ||'), $(haproxy -v | awk 'NR == 1 {print "haproxy/" $3}')"
echo "load:     1-min load average $BENCH_LOAD before starting (other work on the machine skews results)"
echo "nginx:    worker_processes $NGINX_WORKERS, access_log off, sendfile on, keep-alive"
echo "haproxy:  mode tcp, default buffers, no splicing"
echo "pinning:  $PIN_NOTE (taskset)"
echo "req/s:    wrk keep-alive GET /small (100 B) at $CONNS connections (-t1 up to 100, -t2 above); median of $ROUNDS interleaved rounds"
echo "bulk:     curl GET /big (100 MiB) -> /dev/null; best of $BULK_RUNS; MB = 10^6 bytes"
if [[ $HAVE_FAULT == 1 ]]; then
	echo "fault:    $FAULT_BIN$([[ $FAULT_IS_WRAPPER == 1 ]] && echo ' (libtool wrapper)'), threads ${FAULT_THREADS:-?}"
	[[ ${FAULT_SAN:-none} == none ]] ||
		echo "warning:  fault is built with sanitizers ($FAULT_SAN): its numbers are not representative"
fi
fmt='%-32s %-16s %6s %11s %13s %10s %10s %7s %6s\n'
echo
printf "$fmt" "path" "pinning" "conns" "req/s" "(min-max)" "lat avg" "lat p99" "us/req" "errors"
printf "$fmt" "----" "-------" "-----" "-----" "---------" "-------" "-------" "------" "------"
for c in $CONNS; do
	for k in "${KEYS[@]}"; do
		kc="$k@$c"
		printf "$fmt" "$k" "${PINS[$k]}" "$c" "${RPS[$kc]}" "${SPREAD[$kc]}" "${LAT[$kc]}" "${P99[$kc]} ms" "${CPUR[$kc]}" "${ERR[$kc]}"
	done
done
echo
printf '%-32s %10s\n' "path" "bulk MB/s"
for k in "${KEYS[@]}"; do printf '%-32s %10s\n' "$k" "${BULK[$k]}"; done
for k in "${KEYS[@]}"; do
	[[ ${STATUS[$k]} == ok ]] || echo "note: $k: ${STATUS[$k]}"
done
echo
echo "ratios (targets: fault >= 1.1x HAProxy default threads at every concurrency, p99 no worse"
echo "than HAProxy's at the highest, bulk >= 0.8x direct):"
last=${CONNS##* }
for c in $CONNS; do
	R_FHD=$(bench_ratio "${RPS[$K_FAULT@$c]}" "${RPS[$K_HAD@$c]}")
	R_FH1=$(bench_ratio "${RPS[$K_FAULT@$c]}" "${RPS[$K_HA1@$c]}")
	R_FNS=$(bench_ratio "${RPS[$K_FAULT@$c]}" "${RPS[$K_FAULTNS@$c]:-n/a}")
	V=$(verdict "$R_FHD" 1.1)
	[[ $V == ok ]] || MISSED=1
	printf '  c%-5s fault / haproxy(default)     req/s : %-6s target >= 1.10: %s\n' "$c" "$R_FHD" "$V"
	printf '  c%-5s fault / haproxy(nbthread 1)  req/s : %s\n' "$c" "$R_FH1"
	[[ -z $HAP_PID ]] || printf '  c%-5s fault / haproxy(nbthread %s, same CPU as fault) req/s : %s\n' "$c" "$NCPU" \
		"$(bench_ratio "${RPS[$K_FAULT@$c]}" "${RPS[$K_HAP@$c]}")"
	printf '  c%-5s fault / FAULT_NO_SPLICE=1    req/s : %s\n' "$c" "$R_FNS"
	printf '  c%-5s CPU per request, haproxy(nbthread 1) / fault : %s, haproxy(default) / fault : %s\n' "$c" \
		"$(bench_ratio "${CPUR[$K_HA1@$c]}" "${CPUR[$K_FAULT@$c]}")" "$(bench_ratio "${CPUR[$K_HAD@$c]}" "${CPUR[$K_FAULT@$c]}")"
	if [[ $c == "$last" ]]; then
		if [[ ${P99[$K_FAULT@$c]} != n/a && ${P99[$K_HAD@$c]} != n/a ]] &&
			awk -v a="${P99[$K_FAULT@$c]}" -v b="${P99[$K_HAD@$c]}" 'BEGIN { exit !(a <= b) }'; then
			V=ok
		else
			V=MISSED
			MISSED=1
		fi
		printf '  c%-5s fault p99 %s ms vs haproxy(default) %s ms: %s\n' "$c" "${P99[$K_FAULT@$c]}" "${P99[$K_HAD@$c]}" "$V"
	fi
done
printf '  fault / direct                bulk  : %-6s target >= 0.80: %s\n' "$R_FD" "$V_BULK"
printf '  haproxy(nbthread 1) / direct  bulk  : %s (reference)\n' "$R_HD"

if [[ ${BENCH_STRICT:-0} == 1 && $MISSED == 1 ]]; then
	exit 1
fi
exit 0
