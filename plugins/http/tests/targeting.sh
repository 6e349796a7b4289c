#!/usr/bin/env bash
# plugins/http/tests/targeting.sh - which HTTP traffic faults apply to, and
# how latency adds up on the forward path.
#
#  1. no --upstream: every host is targeted (a 300 ms latency on server
#     ingress delays requests to both upstreams);
#  2. --upstream 127.0.0.1:NGINX: requests to nginx take >= 300 ms, those
#     to the other upstream stay fast (< 150 ms); the same through
#     FAULT_UPSTREAMS (comma-separated), and with a URL pattern
#     (http://127.0.0.1:NGINX/some/path);
#  3. one client connection carrying a targeted request, then an untargeted
#     one, with client-side egress latency on every read: only the
#     targeted request is delayed (labels are per request, not per
#     connection);
#  4. latency adds to the upstream's own time: an upstream that answers
#     after 300 ms plus 200 ms of server-ingress latency gives >= 500 ms
#     (at most 800 ms on a loaded machine);
#  5. a bad pattern is refused at start with exit status 2.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_nginx
printf 'nginx\n' >"$WWW/index.html"
start_upstream
NG=http://127.0.0.1:$NGINX_PORT/index.html
UP=http://127.0.0.1:$UP_PORT/fast
LAT=(--with-latency --latency-mean 300 --latency-stddev 0 --latency-side server
	--latency-direction ingress)

# ms URL - time of one request through the proxy, in ms.
ms() {
	local t
	t=$(curl -sS --fail --max-time 10 --noproxy '' -x "$PROXY" -o /dev/null -w '%{time_total}' "$1") ||
		fail "curl $1"
	ms_diff 0 "$t"
}

# ---- 1. default: everything
start_proxy "${LAT[@]}"
a=$(ms "$NG")
b=$(ms "$UP")
note "no --upstream: nginx $a ms, other $b ms"
[ "$a" -ge 295 ] && [ "$b" -ge 295 ] || fail "without --upstream both must be delayed ($a, $b ms)"
stop_pid "$FAULT_PID"

# ---- 2. one host selected, three ways
check_selected() {
	local a b
	a=$(ms "$NG")
	b=$(ms "$UP")
	note "$1: nginx $a ms, other $b ms"
	[ "$a" -ge 295 ] || fail "$1: targeted nginx request took $a ms, want >= 295"
	[ "$b" -lt 150 ] || fail "$1: untargeted request took $b ms, want < 150"
	grep -q 'latency' "$FAULT_OUT" || fail "$1: no latency event"
}
start_proxy "${LAT[@]}" --tail --upstream "127.0.0.1:$NGINX_PORT"
check_selected "--upstream 127.0.0.1:$NGINX_PORT"
stop_pid "$FAULT_PID"
FAULT_UPSTREAMS="example.com,127.0.0.1:$NGINX_PORT" start_proxy "${LAT[@]}" --tail
check_selected "FAULT_UPSTREAMS=example.com,127.0.0.1:$NGINX_PORT"
stop_pid "$FAULT_PID"
start_proxy "${LAT[@]}" --tail --upstream "http://127.0.0.1:$NGINX_PORT/some/path"
check_selected "--upstream http://127.0.0.1:$NGINX_PORT/some/path"
stop_pid "$FAULT_PID"

# ---- 3. labels per request on one connection
start_proxy --with-latency --latency-mean 300 --latency-stddev 0 --latency-side client \
	--latency-direction egress --latency-per-read-write --upstream "127.0.0.1:$NGINX_PORT"
python3 - "$PP" "$NGINX_PORT" "$UP_PORT" <<'PY' || fail "mixed connection"
import socket, sys, time
pp, ng, up = (int(a) for a in sys.argv[1:4])
s = socket.create_connection(("127.0.0.1", pp), timeout=10)
def fetch(port, path):
    t0 = time.monotonic()
    s.sendall(b"GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (port, path, port))
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, body = buf.split(b"\r\n\r\n", 1)
    n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0]
    while len(body) < n:
        body += s.recv(65536)
    return (time.monotonic() - t0) * 1000
a = fetch(ng, b"/index.html")
b = fetch(up, b"/fast")
c = fetch(ng, b"/index.html")
print("targeted %.0f ms, untargeted %.0f ms, targeted again %.0f ms" % (a, b, c))
if a < 295 or c < 295:
    sys.exit("targeted requests not delayed: %.0f, %.0f ms" % (a, c))
if b >= 150:
    sys.exit("untargeted request on the same connection delayed: %.0f ms" % b)
PY
note "one connection, per-request labels: ok"
stop_pid "$FAULT_PID"

# ---- 4. latency adds to the upstream's time
start_proxy --with-latency --latency-mean 200 --latency-stddev 0 --latency-side server \
	--latency-direction ingress
t=$(ms "http://127.0.0.1:$UP_PORT/slow?s=0.3")
note "upstream 300 ms + latency 200 ms: $t ms"
[ "$t" -ge 495 ] && [ "$t" -le 800 ] || fail "upstream 300 ms + latency 200 ms took $t ms, want 495..800"
stop_pid "$FAULT_PID"

# ---- 5. bad pattern
rc=0
"$FAULT" run --proxy-address "127.0.0.1:$(free_port)" --upstream 'http://[::1' >"$E2E_TMP/bad.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad --upstream: exit $rc, want 2: $(cat "$E2E_TMP/bad.out")"
grep -q -- '--upstream' "$E2E_TMP/bad.out" || fail "bad --upstream: message: $(cat "$E2E_TMP/bad.out")"
note "bad pattern: $(head -1 "$E2E_TMP/bad.out")"
