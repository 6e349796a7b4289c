#!/usr/bin/env bash
# plugins/grpc-bridge/tests/restart.sh - a remote plugin killed and
# restarted mid-run, under steady traffic (a new connection every ~20 ms
# through a TCP mapping, each sending "hello N"):
#
#  1. while the plugin runs, replies come back replaced ("HOWDY N");
#  2. killed (SIGKILL), it is disabled and the traffic goes on untouched:
#     "hello N" comes back, no connection fails;
#  3. restarted on the same port, the next health check (interval 300 ms)
#     finds it: info and capabilities are asked again, it is listed
#     enabled again, and replies are replaced again;
#  4. no connection failed at any time, and every reply was either the
#     request or its replacement.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/grpc-bridge/tests/common.sh" || exit 99
export FAULT_DISABLE_HTTP_PROXY=1

start_echo
PL=$E2E_TMP/plugin.log
start_rplugin "$PL" --mode replace --name Replacer
RP=$RP_PORT
LOG=$E2E_TMP/fault.log
P=$(free_port)
start_fault --log-file "$LOG" --log-level debug run --proxy "127.0.0.1:$P=127.0.0.1:$ECHO_PORT" \
	--grpc-plugin "http://127.0.0.1:$RP" --grpc-plugin-health-interval 300ms \
	--grpc-plugin-timeout 500ms --events "$E2E_TMP/events"
wait_for_line "$LOG" "remote plugin 1 .*Replacer .*: enabled for" "$FAULT_PID"

# The client: one connection after another until STOP exists; one line per
# connection: "ok N howdy|hello MS" or "bad N <what happened>".
OUT=$E2E_TMP/client.out
STOP=$E2E_TMP/stop
python3 - "$P" "$OUT" "$STOP" <<'PYEOF' &
import os, socket, sys, time
port, out, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
f = open(out, "a", buffering=1)
n = 0
deadline = time.monotonic() + 80
while not os.path.exists(stop) and time.monotonic() < deadline:
    n += 1
    msg = b"hello %d" % n
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(msg)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            x = s.recv(4096)
            if not x:
                break
            got += x
        s.close()
        ms = (time.monotonic() - t0) * 1000
        if got == msg:
            f.write("ok %d hello %d\n" % (n, ms))
        elif got == msg.replace(b"hello", b"HOWDY"):
            f.write("ok %d howdy %d\n" % (n, ms))
        else:
            f.write("bad %d got %r\n" % (n, got))
    except OSError as e:
        f.write("bad %d %s\n" % (n, e))
    time.sleep(0.02)
PYEOF
CLIENT=$!
track_pid "$CLIENT"

# ---- 1. plugin up
wait_count "$OUT" '^ok .* howdy ' 5 "$CLIENT"
note "plugin up: replies replaced"

# ---- 2. plugin killed
kill -KILL "$RP_PID"
wait "$RP_PID" 2>/dev/null
untrack_pid "$RP_PID"
killed_at=$(wc -l <"$OUT")
wait_for_line "$LOG" "remote plugin 1 .*: disabled" "$FAULT_PID"
before=$(count_lines "$OUT" '^ok .* hello ')
wait_count "$OUT" '^ok .* hello ' $((before + 10)) "$CLIENT"
note "plugin killed: disabled, traffic flows untouched ($(count_lines "$OUT" '^ok .* hello ') untouched replies)"

# ---- 3. plugin back, on the same port
: >"$PL"
start_rplugin "$PL" --mode replace --name Replacer --port "$RP"
t0=$EPOCHREALTIME # it listens from here on
wait_for_line "$LOG" "remote plugin 1 .*Replacer .*: enabled again for" "$FAULT_PID" 10
t1=$EPOCHREALTIME
back_ms=$(ms_diff "$t0" "$t1")
grep -qx info "$PL" && grep -qx caps "$PL" ||
	fail "info and capabilities were not asked again: $(cat "$PL")"
howdy=$(count_lines "$OUT" '^ok .* howdy ')
wait_count "$OUT" '^ok .* howdy ' $((howdy + 5)) "$CLIENT"
[ "$back_ms" -lt 1500 ] || fail "re-enabled $back_ms ms after the plugin listened again (health interval 300 ms)"
note "plugin restarted: enabled again $back_ms ms after it listened, replies replaced again"

# ---- 4. nothing failed
: >"$STOP"
wait "$CLIENT"
untrack_pid "$CLIENT"
total=$(wc -l <"$OUT")
bad=$(count_lines "$OUT" '^bad ')
[ "$bad" = 0 ] || fail "$bad of $total connections failed: $(grep -m5 '^bad ' "$OUT")"
[ "$total" -gt "$killed_at" ] || fail "no traffic after the kill"
grep -q '"type":"fault_state"' "$E2E_TMP/events" || fail "no fault_state event for the plugin going away"
note "$total connections, none failed"
