# plugins/grpc-bridge/tests/common.sh - helpers shared by the grpc-bridge
# tests (sourced after tests/e2e/lib.sh).
#
#   PY                      /usr/bin/python3, which has grpcio and grpc_tools
#   STUBS                   plugin_pb2*.py generated from proto/plugin.proto
#                           for this test, as a plugin author would
#   start_rplugin LOG [ARGS...]
#                           rplugin.py (see its header) logging to LOG; sets
#                           RP_PORT and RP_PID; ARGS may give --port N to
#                           come back on a known port
#   start_echo              echo_server.py; sets ECHO_PORT
#   roundtrip PORT DATA     connects to 127.0.0.1:PORT, sends DATA, closes
#                           its write side, reads to EOF; prints "MS REPLY"
#                           (MS: milliseconds from send to EOF), or
#                           "MS ERROR text" when the connection failed
#   count_lines FILE ERE    lines of FILE matching ERE
#   wait_count FILE ERE N [PID] [TIMEOUT_S]
#                           bounded poll (10 s by default) until FILE has at
#                           least N lines matching ERE, else fail
#
# Skips (77) when the bridge was not built or the Python gRPC packages are
# missing: both are optional dependencies.

PY=/usr/bin/python3
GB_TESTS=$top_srcdir/plugins/grpc-bridge/tests

[ -f "$top_builddir/plugins/grpc-bridge/.libs/grpc-bridge.so" ] ||
	skip "the grpc-bridge plugin was not built (configure found no grpc, protobuf-c or protoc-c)"
[ -x "$PY" ] || skip "$PY is missing"
"$PY" -c 'import grpc, grpc_tools' 2>/dev/null ||
	skip "$PY lacks grpcio or grpc_tools (Debian: python3-grpcio python3-grpc-tools)"

STUBS=$E2E_TMP/stubs
mkdir -p "$STUBS"
"$PY" -m grpc_tools.protoc -I "$top_srcdir/proto" --python_out="$STUBS" \
	--grpc_python_out="$STUBS" "$top_srcdir/proto/plugin.proto" >"$E2E_TMP/protoc.log" 2>&1 ||
	fail "grpc_tools.protoc rejected proto/plugin.proto: $(cat "$E2E_TMP/protoc.log")"

# The plugins are test doubles with nothing to save: at exit they get
# SIGKILL and are waited for, before lib.sh's cleanup. (stop_pid's polling
# now and then saw an exited Python gRPC server as alive for its whole 5 s
# and said it "did not stop"; wait(1) knows when a child is gone.)
GB_RP_PIDS=
_gb_cleanup() {
	local p
	for p in $GB_RP_PIDS; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		untrack_pid "$p"
	done
}
trap '_gb_rc=$?; _gb_cleanup; (exit $_gb_rc); _e2e_cleanup' EXIT

start_rplugin() {
	local log=$1 i
	shift
	rm -f "$log.port"
	"$PY" "$GB_TESTS/rplugin.py" --stubs "$STUBS" --log "$log" --port-file "$log.port" "$@" \
		>>"$log.out" 2>&1 &
	RP_PID=$!
	track_pid "$RP_PID"
	GB_RP_PIDS="$RP_PID $GB_RP_PIDS"
	for ((i = 0; i < 1000; i++)); do
		[ -s "$log.port" ] && break
		kill -0 "$RP_PID" 2>/dev/null || fail "rplugin.py exited: $(cat "$log.out")"
		sleep 0.01
	done
	[ -s "$log.port" ] || fail "rplugin.py did not start within 10 s: $(cat "$log.out")"
	RP_PORT=$(cat "$log.port")
}

start_echo() {
	local pf=$E2E_TMP/echo.port i
	python3 "$GB_TESTS/echo_server.py" "$pf" >"$E2E_TMP/echo.out" 2>&1 &
	track_pid $!
	for ((i = 0; i < 500; i++)); do
		[ -s "$pf" ] && break
		sleep 0.01
	done
	[ -s "$pf" ] || fail "echo_server.py did not start: $(cat "$E2E_TMP/echo.out")"
	ECHO_PORT=$(cat "$pf")
}

roundtrip() {
	python3 - "$1" "$2" <<'PYEOF'
import socket, sys, time
port, data = int(sys.argv[1]), sys.argv[2].encode()
t0 = time.monotonic()
try:
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        x = s.recv(65536)
        if not x:
            break
        got += x
    s.close()
    print("%d %s" % ((time.monotonic() - t0) * 1000, got.decode(errors="replace")))
except OSError as e:
    print("%d ERROR %s" % ((time.monotonic() - t0) * 1000, e))
PYEOF
}

count_lines() {
	local n
	n=$(grep -Ec -- "$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}

wait_count() {
	local file=$1 re=$2 n=$3 pid=${4:-} secs=${5:-10} i
	for ((i = 0; i < secs * 100; i++)); do
		[ "$(count_lines "$file" "$re")" -ge "$n" ] && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			fail "process $pid exited before $(basename "$file") had $n lines matching '$re'"
		fi
		sleep 0.01
	done
	fail "$(basename "$file") has $(count_lines "$file" "$re") lines matching '$re' after $secs s, want $n"
}
