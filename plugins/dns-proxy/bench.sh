#!/bin/bash
# plugins/dns-proxy/bench.sh - queries per second through `fault run dns`
# with no case active, against dnsmasq asked directly, in one run (not
# part of `make check`). Uses dnsperf when installed (UDP, and TCP with
# -m tcp), else the Python load tool of tests/dnsclient.py (UDP only).
#
# Usage: plugins/dns-proxy/bench.sh [SECONDS (default 10)]
# Run from a built tree (or set top_builddir and top_srcdir).
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/plugins/dns-proxy/tests/common.sh" || exit 1
secs=${1:-10}

start_dnsmasq
# dnsmasq logging every query would measure the log: a quiet one.
stop_pid "$DNSMASQ_PID"
"$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts --listen-address=127.0.0.1 \
	--bind-interfaces --port="$DNSMASQ_PORT" --pid-file="$E2E_TMP/dnsmasq.pid" \
	--user="$(id -un)" --group="$(id -gn)" --local-ttl=300 --dns-forward-max=1000 \
	--host-record=www.example.test,192.0.2.10,2001:db8::10 >"$E2E_TMP/dnsmasq.out" 2>&1 &
DNSMASQ_PID=$!
track_pid "$DNSMASQ_PID"
for ((n = 0; n < 500; n++)); do
	dig @127.0.0.1 -p "$DNSMASQ_PORT" +short +tries=1 +timeout=1 www.example.test A 2>/dev/null |
		grep -q 192.0.2.10 && break
	sleep 0.01
done
# The proxy as a user runs it: no --events file (start_dns writes one, and
# two event lines per query would be measured too).
DNS_PORT=$(free_dns_port)
start_fault run dns --resolver "127.0.0.1:$DNSMASQ_PORT" --dns-listen "127.0.0.1:$DNS_PORT" \
	--disable-http-proxy
wait_listen "$DNS_PORT" "$FAULT_PID"

load() { # load PORT MODE: prints "qps lost"
	if command -v dnsperf >/dev/null 2>&1; then
		printf 'www.example.test A\nwww.example.test AAAA\n' >"$E2E_TMP/queries"
		dnsperf -s 127.0.0.1 -p "$1" -m "$2" -d "$E2E_TMP/queries" -l "$secs" -c 8 -q 200 \
			-t 2 2>&1 | awk '/Queries per second:/ {q=$4} /Queries lost:/ {l=$3} END {printf "%d %s\n", q, l}'
	else
		[ "$2" = udp ] || { echo "- -"; return; }
		python3 "$DNSCLIENT" bench "$1" "$secs" 200 | sed 's/qps=\([0-9]*\) lost=\([0-9]*\)/\1 \2/'
	fi
}

tool=python3
command -v dnsperf >/dev/null 2>&1 && tool=dnsperf
printf '%-6s %-10s %12s %10s\n' proto target qps lost
for mode in udp tcp; do
	read -r dq dl < <(load "$DNSMASQ_PORT" "$mode")
	read -r pq pl < <(load "$DNS_PORT" "$mode")
	printf '%-6s %-10s %12s %10s\n' "$mode" dnsmasq "$dq" "$dl" "$mode" fault "$pq" "$pl"
	[ "$dq" != - ] && [ "$dq" -gt 0 ] &&
		note "$mode: through fault $(awk -v a="$pq" -v b="$dq" 'BEGIN {printf "%.2f", a / b}')x dnsmasq direct ($tool, ${secs}s each)"
done
stop_pid "$FAULT_PID"
