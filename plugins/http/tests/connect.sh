#!/usr/bin/env bash
# plugins/http/tests/connect.sh - CONNECT tunnels on the forward proxy.
#
#  1. curl -p (HTTPS through the proxy) to nginx over TLS, verified with
#     the test's certificate (--cacert): the file comes back identical;
#  2. stream faults apply to tunnels: with 300 ms of server-ingress latency
#     the HTTPS request takes >= 300 ms; with --upstream naming another
#     host, the tunnel is not delayed (< 150 ms, no fault event);
#  3. bytes a client sends right behind the CONNECT head (before our 200)
#     reach the upstream first, on both tunnel paths (with faults: the
#     core relay; without: the plain one);
#  4. CONNECT to a port where nothing listens: 502, connection closed;
#  5. --tail shows the tunnel's open and close with byte counts.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_nginx --tls
printf 'secret over tls\n' >"$WWW/index.html"
make_file "$WWW/1m.bin" $((1024 * 1024))
start_upstream
TLS=https://127.0.0.1:$NGINX_TLS_PORT

# tls_ms PATH - an HTTPS request through the tunnel; prints its time in ms.
tls_ms() {
	local t
	t=$(curl -sS --fail --max-time 10 --noproxy '' -p -x "$PROXY" --cacert "$CERT" \
		-o "$E2E_TMP/out" -w '%{time_total}' "$TLS/$1") || fail "curl -p $TLS/$1"
	cmp -s "$E2E_TMP/out" "$WWW/$1" || fail "$1 through the tunnel differs"
	ms_diff 0 "$t"
}

# early PROXYPORT - CONNECT with a request right behind it, in one write.
early() {
	python3 - "$1" "$UP_PORT" <<'PY'
import socket, sys
pp, up = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", pp), timeout=10)
s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
          b"GET /early HTTP/1.1\r\nHost: x\r\n\r\n" % (up, up))
buf = b""
while b"path=/early\n" not in buf:
    d = s.recv(65536)
    if not d:
        sys.exit("closed; got %r" % buf)
    buf += d
if not buf.startswith(b"HTTP/1.1 200 "):
    sys.exit("not a 200 first: %r" % buf[:80])
PY
}

# ---- 1 and 2: targeted (default: every host)
start_proxy --tail
t=$(tls_ms index.html)
tls_ms 1m.bin >/dev/null
note "curl -p to nginx over TLS: ok ($t ms)"
wait_for_line "$FAULT_OUT" '#1 close sent=[1-9][0-9]* received=[1-9][0-9]*' "$FAULT_PID"
early "$PP" || fail "early bytes (no fault)"
stop_pid "$FAULT_PID"

start_proxy --tail --with-latency --latency-mean 300 --latency-stddev 0 --latency-side server \
	--latency-direction ingress
t=$(tls_ms index.html)
note "tunnel with 300 ms latency: $t ms"
[ "$t" -ge 295 ] || fail "tunnel with 300 ms latency took $t ms"
grep -q ' latency side=server direction=ingress' "$FAULT_OUT" || fail "no latency event for the tunnel"
early "$PP" || fail "early bytes through the relay (targeted)"
note "bytes behind the CONNECT head, faults applied: delivered first"
stop_pid "$FAULT_PID"

start_proxy --tail --with-latency --latency-mean 300 --latency-stddev 0 --latency-side server \
	--latency-direction ingress --upstream elsewhere.example
t=$(tls_ms index.html)
note "untargeted tunnel: $t ms"
[ "$t" -lt 150 ] || fail "untargeted tunnel took $t ms"
early "$PP" || fail "early bytes through the plain tunnel"
grep -q ' latency ' "$FAULT_OUT" && fail "a fault acted on an untargeted tunnel"
note "untargeted tunnel: not delayed, early bytes delivered"
stop_pid "$FAULT_PID"

# ---- 4. refused
start_proxy
RP=$(free_port)
python3 - "$PP" "$RP" <<'PY' || fail "CONNECT to a closed port"
import socket, sys, time
pp, rp = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", pp), timeout=5)
s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (rp, rp))
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
if not data.startswith(b"HTTP/1.1 502 "):
    sys.exit("answer %r" % data[:80])
PY
note "CONNECT to a closed port: 502, closed"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
