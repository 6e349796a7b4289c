#!/usr/bin/env bash
# plugins/grpc-bridge/bench.sh - what a remote plugin costs (run by hand,
# never by make check):
#
#   (a) added latency per HTTP request: sequential keep-alive GETs through
#       the HTTP forward proxy to a local upstream, without a plugin and
#       with an echo plugin (ProcessHttpRequest + ProcessHttpResponse per
#       request); median and p99 per request, and the difference of the
#       medians. Skipped when the http plugin is not built.
#   (b) tunnel throughput: one TCP-mapping connection downloading
#       BENCH_MB MiB from a local source, without a plugin and with a
#       pass-through plugin (one ProcessTunnelData call per chunk).
#
# The plugin is tests/rplugin.py (Python grpcio, as plugin authors write
# them); its per-call cost dominates the "with plugin" rows.
#
# Run from the build dir after make:  bash plugins/grpc-bridge/bench.sh
# (out of tree: bash ../plugins/grpc-bridge/bench.sh)
# Environment: FAULT (default ./core/fault), BENCH_REQUESTS (default 500),
# BENCH_MB (default 256), BENCH_KEEP_TMP=1 keeps the temp dir.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FAULT=${FAULT:-./core/fault}
[ -x "$FAULT" ] || { echo "bench: $FAULT not found (run from the build dir, or set FAULT)" >&2; exit 1; }
BUILD=$(cd "$(dirname "$FAULT")/.." && pwd)
PY=/usr/bin/python3
REQUESTS=${BENCH_REQUESTS:-500}
MB=${BENCH_MB:-256}
if [ -z "${FAULT_PLUGIN_PATH:-}" ]; then
	FAULT_PLUGIN_PATH=$(ls -d "$BUILD"/plugins/*/.libs | tr '\n' ':')
fi
export FAULT_PLUGIN_PATH FAULT_NO_DEFAULT_PLUGINS=1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fault-gb-bench.XXXXXX")
PIDS=()

cleanup() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill "${PIDS[i]}" 2>/dev/null || true
		wait "${PIDS[i]}" 2>/dev/null || true
	done
	if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then echo "bench: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT

port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_file F - bounded poll for F to be non-empty.
wait_file() {
	local i
	for ((i = 0; i < 1000; i++)); do [ -s "$1" ] && return 0; sleep 0.01; done
	echo "bench: $1 did not appear" >&2
	exit 1
}

"$PY" -m grpc_tools.protoc -I "$SRC/proto" --python_out="$TMP" --grpc_python_out="$TMP" \
	"$SRC/proto/plugin.proto"
"$PY" "$SRC/plugins/grpc-bridge/tests/rplugin.py" --stubs "$TMP" --log /dev/null \
	--port-file "$TMP/plugin.port" --mode echo --name BenchEcho >"$TMP/plugin.out" 2>&1 &
PIDS+=($!)
wait_file "$TMP/plugin.port"
PLUGIN=http://127.0.0.1:$(cat "$TMP/plugin.port")

# Upstreams: an HTTP/1.1 keep-alive server, and a source that sends MB MiB
# on every connection.
"$PY" - "$TMP/http.port" "$TMP/src.port" "$MB" <<'PYEOF' >"$TMP/up.out" 2>&1 &
import http.server, os, socket, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        # Head and body are separate writes: no Nagle wait between them.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_GET(self):
        body = b"hello bench\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
hs = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
src = socket.socket()
src.bind(("127.0.0.1", 0))
src.listen(16)
mb = int(sys.argv[3])
def source():
    block = os.urandom(1 << 20)
    while True:
        c, _ = src.accept()
        def send(c=c):
            try:
                for _ in range(mb):
                    c.sendall(block)
            finally:
                c.close()
        threading.Thread(target=send, daemon=True).start()
threading.Thread(target=source, daemon=True).start()
for path, p in ((sys.argv[1], hs.server_address[1]), (sys.argv[2], src.getsockname()[1])):
    with open(path + ".tmp", "w") as f:
        f.write("%d\n" % p)
    os.rename(path + ".tmp", path)
hs.serve_forever()
PYEOF
PIDS+=($!)
wait_file "$TMP/http.port"
wait_file "$TMP/src.port"
HTTP_UP=127.0.0.1:$(cat "$TMP/http.port")
SRC_UP=127.0.0.1:$(cat "$TMP/src.port")

# run_fault NAME ARGS... - fault in the background until the next
# run_fault; waits for its "listening" lines and the plugin's listing.
run_fault() {
	local name=$1 i
	shift
	if [ -n "${FPID:-}" ]; then kill "$FPID"; wait "$FPID" 2>/dev/null || true; fi
	"$FAULT" --log-file "$TMP/$name.log" run "$@" >"$TMP/$name.out" 2>&1 &
	FPID=$!
	PIDS+=("$FPID")
	for ((i = 0; i < 1000; i++)); do
		grep -q '^fault: listening' "$TMP/$name.out" 2>/dev/null &&
			{ [[ " $* " != *" --grpc-plugin "* ]] || grep -q 'enabled for' "$TMP/$name.log"; } && return 0
		kill -0 "$FPID" 2>/dev/null || { cat "$TMP/$name.out" >&2; exit 1; }
		sleep 0.01
	done
	echo "bench: fault $name did not start" >&2
	exit 1
}

http_latency() {
	"$PY" - "$1" "$HTTP_UP" "$REQUESTS" <<'PYEOF'
import http.client, statistics, sys, time
proxy_port, up, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", proxy_port)
t = []
for i in range(n + 20):
    t0 = time.perf_counter()
    c.request("GET", "http://%s/r%d" % (up, i))
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("status %d" % r.status)
    if i >= 20:  # warm-up
        t.append((time.perf_counter() - t0) * 1000)
t.sort()
print("%.3f %.3f" % (statistics.median(t), t[int(len(t) * 0.99) - 1]))
PYEOF
}

tunnel_mbs() {
	"$PY" - "$1" "$MB" <<'PYEOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
want = int(sys.argv[2]) << 20
buf = bytearray(1 << 20)
got = 0
t0 = time.perf_counter()
while got < want:
    n = s.recv_into(buf)
    if not n:
        break
    got += n
dt = time.perf_counter() - t0
if got != want:
    sys.exit("got %d of %d bytes" % (got, want))
print("%.1f" % (got / dt / 1e6))
PYEOF
}

printf '%-44s %s\n' "case" "result"
if "$FAULT" run --help 2>/dev/null | grep -q -- '--proxy-address'; then
	PP=$(port)
	run_fault http-none --proxy-address "127.0.0.1:$PP"
	read -r med0 p990 <<<"$(http_latency "$PP")"
	PP=$(port)
	run_fault http-echo --proxy-address "127.0.0.1:$PP" --grpc-plugin "$PLUGIN"
	read -r med1 p991 <<<"$(http_latency "$PP")"
	printf '%-44s median %s ms, p99 %s ms\n' "HTTP request, no plugin ($REQUESTS)" "$med0" "$p990"
	printf '%-44s median %s ms, p99 %s ms\n' "HTTP request, echo plugin ($REQUESTS)" "$med1" "$p991"
	printf '%-44s %s ms\n' "added latency per request (median)" \
		"$(awk -v a="$med0" -v b="$med1" 'BEGIN { printf "%.3f", b - a }')"
else
	echo "(HTTP rows skipped: the http plugin is not built)"
fi
TP=$(port)
run_fault tcp-none --disable-http-proxy --proxy "127.0.0.1:$TP=$SRC_UP"
mbs0=$(tunnel_mbs "$TP")
TP=$(port)
run_fault tcp-pass --disable-http-proxy --proxy "127.0.0.1:$TP=$SRC_UP" --grpc-plugin "$PLUGIN"
mbs1=$(tunnel_mbs "$TP")
printf '%-44s %s MB/s\n' "tunnel ${MB} MiB, no plugin" "$mbs0"
printf '%-44s %s MB/s\n' "tunnel ${MB} MiB, pass-through plugin" "$mbs1"
