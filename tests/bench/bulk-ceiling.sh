#!/usr/bin/env bash
# tests/bench/bulk-ceiling.sh - how fast can any relay carry a bulk download
# on this machine, next to fault's TCP mapping?
#
# One nginx (sendfile) serves a file; curl downloads it to /dev/null
#   - directly,
#   - through `fault run --proxy` (no fault),
#   - through minrelay (tests/bench/minrelay.c, compiled here): the least a
#     user-space relay can do, with recv/send (1 MiB) and with splice (1 MiB
#     pipe).
# For each download it reads the whole machine's busy CPU time from
# /proc/stat (every process, softirqs and kernel threads included). A relay
# adds a second TCP connection over loopback, and that work is done by
# somebody: with N CPUs a download that needs B CPU-seconds cannot take less
# than B/N seconds, so no relay with that cost can beat
#     ceiling = (direct download time) / (B / N)
# times direct. The table prints each path's speed, its CPU-seconds per GiB,
# its ratio to direct and that ceiling.
#
# Environment: FAULT (binary, as proxy-bench.sh), BENCH_MIB (file size,
# default 1024), BENCH_ROUNDS (downloads per path, interleaved, median kept;
# default 5), BENCH_KEEP_TMP.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MIB=${BENCH_MIB:-1024}
ROUNDS=${BENCH_ROUNDS:-5}
NCPU=$(nproc)
for tool in nginx curl cc python3; do
	command -v "$tool" >/dev/null 2>&1 || bench_die "$tool not found"
done
bench_find_fault || bench_die "no fault binary (set FAULT or run from the build dir)"

cc -O2 -o "$BENCH_TMP/minrelay" "$BENCH_DIR/minrelay.c" || bench_die "cannot compile minrelay.c"
read -r P_NGINX P_FAULT P_RW P_SP < <(bench_free_ports 4)
mkdir -p "$BENCH_TMP/www" "$BENCH_TMP/nginx-temp"
chmod 755 "$BENCH_TMP/www"
bench_log "generating a $MIB MiB file"
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$BENCH_TMP/www/big"
chmod 644 "$BENCH_TMP/www/big"
cat >"$BENCH_TMP/nginx.conf" <<CONF
worker_processes 1;
pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx-error.log warn;
daemon off;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $BENCH_TMP/nginx-temp/body;
    proxy_temp_path $BENCH_TMP/nginx-temp/proxy;
    fastcgi_temp_path $BENCH_TMP/nginx-temp/fastcgi;
    uwsgi_temp_path $BENCH_TMP/nginx-temp/uwsgi;
    scgi_temp_path $BENCH_TMP/nginx-temp/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    server {
        listen 127.0.0.1:$P_NGINX;
        root $BENCH_TMP/www;
        location / { }
    }
}
CONF
bench_start nginx nginx -p "$BENCH_TMP" -e "$BENCH_TMP/nginx-error.log" -c "$BENCH_TMP/nginx.conf"
bench_wait_port "$P_NGINX" "$BENCH_LAST_PID" nginx || bench_die "nginx did not start"
bench_start fault "$FAULT_BIN" run --proxy "127.0.0.1:$P_FAULT=127.0.0.1:$P_NGINX" --no-ui
bench_wait_port "$P_FAULT" "$BENCH_LAST_PID" fault || bench_die "fault did not start"
bench_start minrelay-rw "$BENCH_TMP/minrelay" "$P_RW" "$P_NGINX" rw 1048576
bench_wait_port "$P_RW" "$BENCH_LAST_PID" minrelay-rw || bench_die "minrelay rw did not start"
bench_start minrelay-splice "$BENCH_TMP/minrelay" "$P_SP" "$P_NGINX" splice 1048576
bench_wait_port "$P_SP" "$BENCH_LAST_PID" minrelay-splice || bench_die "minrelay splice did not start"

KEYS=("direct (nginx)" "fault (no fault)" "minrelay recv/send" "minrelay splice")
declare -A PORT=(["direct (nginx)"]=$P_NGINX ["fault (no fault)"]=$P_FAULT
	["minrelay recv/send"]=$P_RW ["minrelay splice"]=$P_SP)
declare -A WALLS BUSYS

busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# download KEY - one download; appends its wall seconds and busy CPU-seconds
download() {
	local b0 b1 out code size secs
	b0=$(busy_ticks)
	out=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code} %{size_download} %{time_total}' \
		"http://127.0.0.1:${PORT[$1]}/big")
	b1=$(busy_ticks)
	read -r code size secs <<<"$out"
	[[ $code == 200 && $size == $((MIB * 1024 * 1024)) ]] ||
		bench_die "download through $1: status $code, $size bytes"
	WALLS[$1]+="$secs "
	BUSYS[$1]+="$(awk -v t=$((b1 - b0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }') "
}
bench_load_check
for ((r = 1; r <= ROUNDS; r++)); do
	bench_log "round $r/$ROUNDS"
	for k in "${KEYS[@]}"; do download "$k"; done
done

med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
gib=$(awk -v m="$MIB" 'BEGIN { print m / 1024 }')
DW=$(med "${WALLS["direct (nginx)"]}")
echo "bulk ceiling: curl GET of $MIB MiB to /dev/null, median of $ROUNDS interleaved downloads; $NCPU CPU(s)"
echo "busy = CPU-seconds of the whole machine during the download (/proc/stat), per GiB"
printf '%-22s %10s %10s %14s %10s %12s\n' path MB/s wall-s busy-s/GiB "x direct" "ceiling"
for k in "${KEYS[@]}"; do
	w=$(med "${WALLS[$k]}")
	b=$(med "${BUSYS[$k]}")
	awk -v k="$k" -v w="$w" -v b="$b" -v g="$gib" -v m="$MIB" -v dw="$DW" -v n="$NCPU" 'BEGIN {
		printf "%-22s %10.0f %10.3f %14.2f %10.2f %12.2f\n", k, m * 1048576 / w / 1e6, w, b / g, dw / w, dw / (b / n) }'
done
echo "ceiling: the best ratio to direct a path with that CPU cost could reach with every CPU busy"
