#!/usr/bin/env bash
# tests/e2e/run_relay.sh - relay semantics of a plain --proxy mapping (no
# fault enabled), with the python peers of tests/e2e/relay.py:
#
#  1. half-close: the client sends 1 MiB then shutdown(SHUT_WR); the
#     server, which answers only after EOF, returns the sha256 of what it
#     got; the client checks it and then sees EOF. The other way round too:
#     the server sends 1 MiB and FIN first, the client keeps sending 1 MiB
#     afterwards and the server gets all of it;
#  2. reset: the server closes with SO_LINGER 0 (RST); the client must see
#     ECONNRESET (EOF without data is tolerated, and reported). A client RST
#     reaches the server as a reset or EOF, and fault reports the close;
#  3. backpressure: a server that does not read; the client writes
#     non-blocking until its writes make no progress for 1 s. The bytes
#     taken must stay below a bound made of the kernel buffers on both
#     legs plus fault's relay buffer:
#         client send buffer + fault's client-leg receive buffer
#       + fault's relay buffer (1 MiB without fault stages + one 64 KiB read)
#       + fault's upstream-leg send buffer + server receive buffer
#       <= 2 * tcp_wmem max + 2 * tcp_rmem max + 1088 KiB  (sysctls),
#     with 32 MiB as the floor (what the usual 4 MiB/6 MiB maxima give).
#     Tighter: the kernel's queues of those four sockets are read from
#     /proc/net/tcp, and what remains - the bytes fault holds itself - must
#     be within LOW_WATER (64 KiB) .. 1 MiB + 64 KiB: reading
#     paused above the 1 MiB budget and did not resume. fault's VmRSS must stay
#     under 64 MiB. Releasing the server then delivers everything intact
#     (reading resumed below LOW_WATER);
#  4. large transfer: 50 MB from nginx through fault, sha256 identical to
#     the file and to a direct download; fault's RSS stays under 64 MiB;
#  5. IPv6: listen on [::1] toward an IPv4 upstream; curl -g
#     'http://[::1]:PORT/' works (skipped with a message without ::1).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

HELPER=$top_srcdir/tests/e2e/relay.py
MAX_RSS_KIB=$((64 * 1024))

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# ---- the python server
python3 "$HELPER" server "$E2E_TMP/srv.port" >"$E2E_TMP/srv.out" 2>&1 &
SRV_PID=$!
track_pid "$SRV_PID"
wait_for_line "$E2E_TMP/srv.port" '^[0-9]+$' "$SRV_PID"
SRV_PORT=$(cat "$E2E_TMP/srv.port")

P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$SRV_PORT" --tail
case $(readlink "/proc/$FAULT_PID/exe") in
*fault*) ;;
*) fail "PID $FAULT_PID is not the fault binary ($(readlink "/proc/$FAULT_PID/exe")): cannot read its RSS" ;;
esac

# ---- 1. half-close, both ways
python3 "$HELPER" halfclose "$P" || fail "half-close (client first)"
python3 "$HELPER" servfirst "$P" || fail "half-close (server first)"
wait_for_line "$E2E_TMP/srv.port.log" '^first ' "$SRV_PID"
grep -q '^first ok' "$E2E_TMP/srv.port.log" ||
	fail "half-close (server first): $(grep '^first' "$E2E_TMP/srv.port.log")"
# Both connections ended gracefully, without an error.
wait_for_line "$FAULT_OUT" ' #2 close ' "$FAULT_PID"
grep -E ' #[12] close .*error=' "$FAULT_OUT" && fail "a half-closed connection ended with an error"
note "half-close: ok"

# ---- 2. reset propagation
rc=0
python3 "$HELPER" reset "$P" || rc=$?
case $rc in
0) ;;
3) note "reset: the client saw EOF without data, not an RST (tolerated)" ;;
*) fail "reset: server RST not propagated" ;;
esac
wait_for_line "$FAULT_OUT" ' #3 close .*error=' "$FAULT_PID"
python3 "$HELPER" clientreset "$P" || fail "client reset"
wait_for_line "$E2E_TMP/srv.port.log" '^peer-rst ' "$SRV_PID"
grep -Eq '^peer-rst (reset|eof)' "$E2E_TMP/srv.port.log" ||
	fail "client reset: server saw $(grep '^peer-rst' "$E2E_TMP/srv.port.log")"
note "client reset seen by the server as: $(grep '^peer-rst' "$E2E_TMP/srv.port.log")"
wait_for_line "$FAULT_OUT" ' #4 close ' "$FAULT_PID"
kill -0 "$FAULT_PID" 2>/dev/null || fail "fault died"

# ---- 3. backpressure
read -r _ _ wmax </proc/sys/net/ipv4/tcp_wmem
read -r _ _ rmax </proc/sys/net/ipv4/tcp_rmem
BOUND=$((2 * wmax + 2 * rmax + 1088 * 1024))
[ "$BOUND" -ge $((32 * 1024 * 1024)) ] || BOUND=$((32 * 1024 * 1024))
# The zero-copy relay (splice): in flight bytes sit in a kernel pipe.
RELAY_MIN_HELD=0 python3 "$HELPER" backpressure "$P" "$SRV_PORT" "$FAULT_PID" "$BOUND" "$MAX_RSS_KIB" ||
	fail "backpressure (zero-copy relay)"
kill -0 "$FAULT_PID" 2>/dev/null || fail "fault died"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
# The user-space relay (what carries bytes whenever a fault is attached):
# between LOW_WATER and its 1 MiB budget + one read held by fault itself.
P=$(free_port)
FAULT_NO_SPLICE=1 start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$SRV_PORT" --tail
python3 "$HELPER" backpressure "$P" "$SRV_PORT" "$FAULT_PID" "$BOUND" "$MAX_RSS_KIB" ||
	fail "backpressure (user-space relay)"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"

# ---- 4. large transfer from nginx
start_nginx
make_file "$WWW/big.bin" 50000000
want=$(sha256_of "$WWW/big.bin")
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --no-ui
curl -sS --fail --max-time 30 -o "$E2E_TMP/direct.bin" "http://127.0.0.1:$NGINX_PORT/big.bin" ||
	fail "direct download"
curl -sS --fail --max-time 30 -o "$E2E_TMP/proxied.bin" "http://127.0.0.1:$P/big.bin" ||
	fail "download through fault"
[ "$(sha256_of "$E2E_TMP/direct.bin")" = "$want" ] || fail "direct download differs from the file"
got=$(sha256_of "$E2E_TMP/proxied.bin")
[ "$got" = "$want" ] || fail "50 MB through fault: sha256 $got, want $want ($(stat -c %s "$E2E_TMP/proxied.bin") bytes)"
rss=$(rss_kib "$FAULT_PID")
[ "$rss" -lt "$MAX_RSS_KIB" ] || fail "fault RSS $rss KiB after 50 MB (bound $MAX_RSS_KIB KiB)"
note "50 MB through fault: identical; fault RSS $rss KiB"
rm -f "$E2E_TMP/direct.bin" "$E2E_TMP/proxied.bin"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"

# ---- 5. IPv6 listener, IPv4 upstream
P6=$(python3 -c 'import socket
s = socket.socket(socket.AF_INET6)
s.bind(("::1", 0))
print(s.getsockname()[1])' 2>/dev/null) || P6=
if [ -z "$P6" ]; then
	note "SKIP IPv6 part: ::1 is not available here"
else
	printf 'v6 ok\n' >"$WWW/v6.txt"
	start_fault run --proxy "[::1]:$P6=127.0.0.1:$NGINX_PORT" --tail
	grep -q "^fault: listening on \[::1\]:$P6 -> 127.0.0.1:$NGINX_PORT" "$FAULT_OUT" ||
		fail "IPv6 listening line: $(head -n1 "$FAULT_OUT")"
	curl -sS --fail --max-time 10 -g -o "$E2E_TMP/v6.txt" "http://[::1]:$P6/v6.txt" ||
		fail "curl http://[::1]:$P6/ failed"
	cmp -s "$E2E_TMP/v6.txt" "$WWW/v6.txt" || fail "IPv6: body differs"
	wait_for_line "$FAULT_OUT" ' #1 open \[::1\]:[0-9]+ -> 127\.0\.0\.1:' "$FAULT_PID"
	stop_pid "$FAULT_PID"
	[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
	note "IPv6: ok"
fi
note "ok"
