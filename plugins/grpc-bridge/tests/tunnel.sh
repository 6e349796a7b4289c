#!/usr/bin/env bash
# plugins/grpc-bridge/tests/tunnel.sh - what ProcessTunnelData answers do to
# the bytes of a TCP mapping (a Python echo server upstream):
#
#  1. Replace: "hello" leaves the proxy as "HOWDY";
#  2. chaining, in the order given: plugin A (hello -> HOWDY) then plugin B
#     (PassThrough with HOWDY -> BONJOUR) gives BONJOUR; B then A gives
#     HOWDY (B saw no HOWDY);
#  3. Buffer 200 ms: the bytes arrive intact, >= 200 ms later (the original
#     stalled forever);
#  4. Close: the connection ends without the chunk, the reason is logged
#     and published; other connections are served;
#  5. a plugin that lists POSTGRESQL (and not can_handle_tunnel) sees the
#     bytes of a psql:// mapping, not those of a plain one;
#  6. a plugin whose ProcessTunnelData fails (raises) is skipped for the
#     chunk: the next plugin in the chain still acts, the failure is logged
#     once (not once per chunk) and published;
#  7. traffic that arrives while the start-up handshake is still running
#     (GetPluginInfo takes 1.5 s) waits for it and is then replaced, not
#     let through untouched.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/grpc-bridge/tests/common.sh" || exit 99
export FAULT_DISABLE_HTTP_PROXY=1

start_echo
UP=127.0.0.1:$ECHO_PORT
start_rplugin "$E2E_TMP/a.log" --mode replace --name A
A=http://127.0.0.1:$RP_PORT
start_rplugin "$E2E_TMP/b.log" --mode chain --name B
B=http://127.0.0.1:$RP_PORT

# run_bridge LOG PLUGIN-URL... - fault with one mapping (port P) and these
# plugins; waits until every plugin is listed.
run_bridge() {
	local log=$1 u args=() n=0
	shift
	for u in "$@"; do
		args+=(--grpc-plugin "$u")
		n=$((n + 1))
	done
	P=$(free_port)
	start_fault --log-file "$log" --log-level debug run --proxy "127.0.0.1:$P=$UP" \
		--events "$log.events" "${args[@]}"
	wait_count "$log" 'remote plugin [0-9]+ .*: (enabled|disabled)' "$n" "$FAULT_PID"
}

# ---- 1. Replace
run_bridge "$E2E_TMP/f1.log" "$A"
read -r _ reply <<<"$(roundtrip "$P" "hello there")"
[ "$reply" = "HOWDY there" ] || fail "replace: got '$reply'"
grep -q '"type":"fault_applied".*"action","str":"replace"\|"action":"replace"' "$E2E_TMP/f1.log.events" ||
	note "(replace event format: $(grep -m1 fault_applied "$E2E_TMP/f1.log.events"))"
grep -q 'fault_applied' "$E2E_TMP/f1.log.events" || fail "no fault_applied event for the replace"
note "Replace: 'hello there' -> 'HOWDY there'"

# ---- 2. chaining order
run_bridge "$E2E_TMP/f2.log" "$A" "$B"
read -r _ reply <<<"$(roundtrip "$P" "hello")"
[ "$reply" = "BONJOUR" ] || fail "A then B: got '$reply'"
run_bridge "$E2E_TMP/f3.log" "$B" "$A"
read -r _ reply <<<"$(roundtrip "$P" "hello")"
[ "$reply" = "HOWDY" ] || fail "B then A: got '$reply'"
note "chained in order: A,B -> BONJOUR; B,A -> HOWDY"

# ---- 3. Buffer
start_rplugin "$E2E_TMP/c.log" --mode buffer --name Buffering
run_bridge "$E2E_TMP/f4.log" "http://127.0.0.1:$RP_PORT"
payload=$(head -c 3000 /dev/urandom | base64 -w0)
read -r ms reply <<<"$(roundtrip "$P" "$payload")"
[ "$reply" = "$payload" ] || fail "buffer: the bytes came back changed (${#reply} of ${#payload} chars)"
[ "$ms" -ge 200 ] || fail "buffer: the bytes came back after $ms ms, want >= 200"
[ "$ms" -lt 5000 ] || fail "buffer: $ms ms: the buffer was not released"
note "Buffer 200 ms: ${#payload} bytes back intact after $ms ms"

# ---- 4. Close
start_rplugin "$E2E_TMP/d.log" --mode close --name Closer
run_bridge "$E2E_TMP/f5.log" "http://127.0.0.1:$RP_PORT"
read -r ms reply <<<"$(roundtrip "$P" "please close-me now")"
[ -z "$reply" ] || fail "close: got '$reply', want nothing"
wait_for_line "$E2E_TMP/f5.log" "closed by remote plugin Closer: asked to close" "$FAULT_PID"
grep -q '"reason","str":"asked to close"\|asked to close' "$E2E_TMP/f5.log.events" ||
	fail "close: no event with the reason: $(cat "$E2E_TMP/f5.log.events")"
read -r _ reply <<<"$(roundtrip "$P" "still there?")"
[ "$reply" = "still there?" ] || fail "after close: got '$reply'"
note "Close: connection ended with no bytes ($ms ms), reason logged; next connection served"

# ---- 5. POSTGRESQL
start_rplugin "$E2E_TMP/pg.log" --mode uuid --caps pg --name PostgreSQLPlugin
PG=$E2E_TMP/pg.log
PSQL_PORT=$(free_port)
PLAIN_PORT=$(free_port)
start_fault --log-file "$E2E_TMP/f6.log" run --proxy "127.0.0.1:$PSQL_PORT=psql://$UP" \
	--proxy "127.0.0.1:$PLAIN_PORT=$UP" --grpc-plugin "http://127.0.0.1:$RP_PORT"
wait_for_line "$E2E_TMP/f6.log" "PostgreSQLPlugin .*: enabled for postgresql" "$FAULT_PID"
read -r _ reply <<<"$(roundtrip "$PLAIN_PORT" "not postgres at all")"
[ "$reply" = "not postgres at all" ] || fail "plain mapping: '$reply'"
python3 - "$PSQL_PORT" <<'PYEOF' || fail "psql mapping: the startup message did not come back"
import socket, struct, sys
params = b"user\x00demo\x00database\x00demo\x00\x00"
msg = struct.pack(">ii", 8 + len(params), 196608) + params
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(msg)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    x = s.recv(65536)
    if not x:
        break
    got += x
sys.exit(0 if got == msg else 1)
PYEOF
wait_count "$PG" '^tunnel .* SERVER INGRESS 33$' 1
grep -q '^tunnel .* EGRESS 33$' "$PG" || fail "the PostgreSQL plugin did not see the startup message: $(cat "$PG")"
grep -q '^tunnel .* 19$' "$PG" && fail "the PostgreSQL plugin saw the plain mapping's bytes"
grep -q '^badid' "$PG" && fail "the id is not a UUID: $(grep '^badid' "$PG")"
note "POSTGRESQL plugin: sees the psql:// connection (both ways), not the plain one"

# ---- 6. a failing plugin in the chain
start_rplugin "$E2E_TMP/r.log" --mode raise --name Buggy
run_bridge "$E2E_TMP/f8.log" "http://127.0.0.1:$RP_PORT" "$A"
read -r _ reply <<<"$(roundtrip "$P" "hello bug")"
[ "$reply" = "HOWDY bug" ] || fail "after a failing plugin: got '$reply'"
read -r _ reply <<<"$(roundtrip "$P" "hello again")"
[ "$reply" = "HOWDY again" ] || fail "after a failing plugin, second time: got '$reply'"
[ "$(count_lines "$E2E_TMP/f8.log" 'WARN .*ProcessTunnelData failed: UNKNOWN')" = 1 ] ||
	fail "the failure should be logged once at WARN: $(grep 'failed' "$E2E_TMP/f8.log")"
[ "$(count_lines "$E2E_TMP/f8.log.events" '"type":"error".*ProcessTunnelData failed: UNKNOWN')" -ge 4 ] ||
	fail "every failure should be published: $(grep -c error "$E2E_TMP/f8.log.events") error events"
grep -q 'remote plugin 1 .*disabled' "$E2E_TMP/f8.log" && fail "an application error disabled the plugin"
note "failing plugin skipped per chunk (the next one still replaced), logged once, published each time"

# ---- 7. traffic during the start-up handshake
start_rplugin "$E2E_TMP/slow.log" --mode replace --name Slow --slow-info 1500
P=$(free_port)
start_fault --log-file "$E2E_TMP/f7.log" run --proxy "127.0.0.1:$P=$UP" \
	--grpc-plugin "http://127.0.0.1:$RP_PORT" --grpc-plugin-timeout 3s
grep -q 'remote plugin 1 .*enabled' "$E2E_TMP/f7.log" && note "(the handshake was already over)"
read -r ms reply <<<"$(roundtrip "$P" "hello early")"
[ "$reply" = "HOWDY early" ] || fail "during the handshake: got '$reply' after $ms ms"
note "traffic during the handshake waited $ms ms for it, then went through the plugin"
