#!/usr/bin/env bash
# plugins/reset-peer/tests/reset_peer.sh - the reset-peer fault between
# python clients (rp_client.py) or curl and nginx:
#
#  1. --reset-peer-timeout 800, an idle client: the client sees ECONNRESET
#     after 800 ms (measured from before its connect(), so at least 800: the
#     timer never fires early) and at most 800 + 300 ms (slack for a loaded
#     machine). While it waits, nginx holds an established connection from
#     fault; after the reset nginx has none left (polled <= 5 s).
#  2. --reset-peer-timeout 800, a busy keep-alive client (a request every
#     20 ms): the timeout counts from the open whatever flows, so the reset
#     comes in the same 800..1100 ms window, after several full responses.
#  3. timeout 0, default direction ingress: a request reaches nginx (it is
#     in the access log) but the client is reset before any response byte;
#     curl reports "reset by peer" (exit 56); --tail has a reset-peer line.
#  4. timeout 0, --reset-peer-direction egress: a client that sends nothing
#     for 300 ms is not reset; its request then is, and never reaches
#     nginx (the access log does not grow).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

HELPER=$top_srcdir/plugins/reset-peer/tests/rp_client.py

start_nginx
printf 'hello from nginx\n' >"$WWW/index.html"

# nginx_conns - established connections on nginx's side of its port.
nginx_conns() { ss -Htn state established "( sport = :$NGINX_PORT )" | wc -l; }
# wait_nginx_conns N - poll (<= 5 s) until nginx has N established.
wait_nginx_conns() {
	local i
	for ((i = 0; i < 500; i++)); do
		[ "$(nginx_conns)" = "$1" ] && return 0
		sleep 0.01
	done
	fail "nginx has $(nginx_conns) established connections after 5 s, want $1"
}
access_lines() { wc -l <"$E2E_TMP/nginx-access.log"; }
# in_window MS LO HI - MS (a decimal) within [LO, HI].
in_window() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# ---- 1. timeout, idle client
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail \
	--with-reset-peer --reset-peer-timeout 800
[ "$(nginx_conns)" = 0 ] || fail "nginx has connections before the test"
python3 "$HELPER" idle "$P" >"$E2E_TMP/idle.out" 2>&1 &
CLI=$!
track_pid "$CLI"
wait_nginx_conns 1
wait "$CLI" || fail "idle: $(cat "$E2E_TMP/idle.out")"
ms=$(awk '{print $3}' "$E2E_TMP/idle.out")
note "idle client: $(cat "$E2E_TMP/idle.out")"
in_window "$ms" 800 1100 || fail "idle: reset after $ms ms, want 800..1100"
wait_nginx_conns 0
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #1 reset-peer side=any direction=both timeout_ms=800 age_ms=' "$FAULT_PID"
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #1 close ' "$FAULT_PID"

# ---- 2. timeout, busy client
out=$(python3 "$HELPER" busy "$P") || fail "busy: $out"
note "busy client: $out"
ms=$(awk '{print $3}' <<<"$out")
n=$(awk '{print $5}' <<<"$out")
in_window "$ms" 800 1100 || fail "busy: reset after $ms ms, want 800..1100"
[ "$n" -ge 5 ] || fail "busy: only $n responses before the reset"
wait_nginx_conns 0
stop_pid "$FAULT_PID"

# ---- 3. timeout 0, ingress
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --with-reset-peer
before=$(access_lines)
out=$(python3 "$HELPER" request "$P") || fail "ingress: $out"
note "ingress, timeout 0: $out"
wait_for_line "$E2E_TMP/nginx-access.log" '"GET /index.html HTTP/1.1"'
[ "$(access_lines)" -gt "$before" ] || fail "ingress: the request did not reach nginx"
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #1 reset-peer side=server direction=ingress timeout_ms=0 ' "$FAULT_PID"
curl -sS --max-time 10 -o "$E2E_TMP/c.out" "http://127.0.0.1:$P/index.html" 2>"$E2E_TMP/c.err"
rc=$?
[ "$rc" = 56 ] || fail "curl exit $rc, want 56 (reset): $(cat "$E2E_TMP/c.err")"
[ -s "$E2E_TMP/c.out" ] && fail "curl received bytes before the reset"
note "curl: $(cat "$E2E_TMP/c.err")"
wait_nginx_conns 0
stop_pid "$FAULT_PID"

# ---- 4. timeout 0, egress
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --with-reset-peer \
	--reset-peer-direction egress
before=$(access_lines)
out=$(python3 "$HELPER" quiet-then-request "$P" 300) || fail "egress: $out"
note "egress, timeout 0: $out"
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #1 close ' "$FAULT_PID"
grep -Eq '^[0-9:.]+ #1 reset-peer side=client direction=egress ' "$FAULT_OUT" ||
	fail "egress: no reset-peer line for the client side"
wait_nginx_conns 0
[ "$(access_lines)" = "$before" ] || fail "egress: the reset request reached nginx"
stop_pid "$FAULT_PID"

# ---- 5. a deadline that passes while the fault is off: --reset-peer-sched
# 'start:2s' with a 200 ms timeout. An idle client connected right after
# the start is not reset at 200 ms but when the fault comes on: its reset
# line is printed within 20 ms of the "reset-peer on" line, with an age of
# at least 400 ms (well past the timeout: the client connects well before
# 1.6 s into the run) and below 2000 ms.
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --with-reset-peer \
	--reset-peer-timeout 200 --reset-peer-sched 'start:2s'
out=$(python3 "$HELPER" idle "$P") || fail "sched: $out"
note "sched: idle client $out"
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #1 reset-peer side=any ' "$FAULT_PID"
on=$(sed -n 's/^\([0-9:.]*\) reset-peer on$/\1/p' "$FAULT_OUT")
line=$(grep -E '^[0-9:.]+ #1 reset-peer side=any ' "$FAULT_OUT")
at=${line%% *}
age=$(sed -n 's/.* age_ms=\([0-9.]*\).*/\1/p' <<<"$line")
[ -n "$on" ] || fail "sched: no 'reset-peer on' line"
tsec() { awk -F: '{ printf "%.3f", $1 * 3600 + $2 * 60 + $3 }' <<<"$1"; }
d=$(ms_diff "$(tsec "$on")" "$(tsec "$at")")
[ "$d" -lt -43200000 ] && d=$((d + 86400000)) # the two lines straddle midnight
note "sched: on at $on, reset at $at (+$d ms), age $age ms"
[ "$d" -ge 0 ] && [ "$d" -le 20 ] || fail "sched: reset $d ms after the fault came on, want 0..20"
in_window "$age" 400 2000 || fail "sched: reset at age $age ms, want 400..2000"
