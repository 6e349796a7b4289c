#!/usr/bin/env bash
# plugins/http/tests/forward.sh - the HTTP forward proxy with real clients:
#
#  1. curl -x: GET from nginx (small and 5 MiB, byte-identical), POST with a
#     body, and a chunked upload of 3 MiB (-H 'Transfer-Encoding: chunked')
#     checked by length and SHA-256 at the upstream;
#  2. keep-alive: two URLs in one curl, then a second curl, all served by
#     ONE upstream connection (pooled between client connections); with
#     --http-upstream-idle-timeout 300ms the pooled connection is closed
#     after 300 ms (tolerance +2 s) and the next request opens another;
#  3. pipelining: two requests written at once on one socket, both
#     answered, in order;
#  4. applications with HTTP_PROXY: curl (http_proxy) and python urllib;
#  5. hop-by-hop headers are not forwarded (Connection-listed, Keep-Alive,
#     Proxy-Authorization, TE) and Host is the URL's authority; --http-via
#     adds Via;
#  6. IPv6: the forward proxy listening on [::1];
#  7. --tail shows the request and response events.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_nginx
printf 'hello through the proxy\n' >"$WWW/index.html"
make_file "$WWW/5m.bin" $((5 * 1024 * 1024))
start_upstream
NG=http://127.0.0.1:$NGINX_PORT
UP=http://127.0.0.1:$UP_PORT

start_proxy --tail

# ---- 1. GET, POST, chunked upload
curl -sS --fail --max-time 20 --noproxy '' -x "$PROXY" -o "$E2E_TMP/idx" "$NG/index.html" || fail "GET index.html"
cmp -s "$E2E_TMP/idx" "$WWW/index.html" || fail "index.html differs"
curl -sS --fail --max-time 20 --noproxy '' -x "$PROXY" -o "$E2E_TMP/5m" "$NG/5m.bin" || fail "GET 5m.bin"
cmp -s "$E2E_TMP/5m" "$WWW/5m.bin" || fail "5m.bin differs"
got=$(curl -sS --fail --max-time 20 --noproxy '' -x "$PROXY" --data-binary 'name=fault&x=1' "$UP/echo") ||
	fail "POST failed"
want="len=14 sha256=$(printf 'name=fault&x=1' | sha256sum | cut -d' ' -f1)"
case $got in "$want "*) ;; *) fail "POST body: upstream saw '$got', want '$want'" ;; esac
make_file "$E2E_TMP/up.bin" $((3 * 1024 * 1024))
got=$(curl -sS --fail --max-time 20 --noproxy '' -x "$PROXY" -H 'Transfer-Encoding: chunked' \
	--data-binary "@$E2E_TMP/up.bin" "$UP/echo") || fail "chunked upload failed"
want="len=$((3 * 1024 * 1024)) sha256=$(sha256_of "$E2E_TMP/up.bin")"
case $got in "$want "*) ;; *) fail "chunked upload: upstream saw '$got', want '$want'" ;; esac
note "GET, POST, chunked upload: ok"

# ---- 2. keep-alive and pooling, on a fresh upstream
UP1_PORT=$UP_PORT
start_upstream
UP2=http://127.0.0.1:$UP_PORT
out=$(curl -sS --fail --max-time 20 --noproxy '' -x "$PROXY" "$UP2/conn" "$UP2/conn") || fail "two URLs"
out2=$(curl -sS --fail --max-time 20 --noproxy '' -x "$PROXY" "$UP2/conn") || fail "third request"
n=$(upstream_conns)
[ "$n" = 1 ] ||
	fail "3 requests (2 client connections) opened $n upstream connections, want 1 ($out / $out2)"
[ "$(printf '%s\n%s\n' "$out" "$out2" | sort -u)" = "conn=1" ] || fail "not one connection: $out / $out2"
note "keep-alive: 3 requests over 2 client connections, 1 upstream connection"
# Bytes after a complete response: that upstream connection is closed, not
# pooled (the HTTP/2 side's check is in h2.sh).
k=$(curl -sS --fail --max-time 20 --noproxy '' -x "$PROXY" "$UP2/extra") || fail "/extra"
[[ $k =~ ^conn=([0-9]+)$ ]] || fail "/extra: $k"
wait_for_line "$UP_LOG" "^close ${BASH_REMATCH[1]}\$" "$FAULT_PID"
stop_pid "$FAULT_PID"
start_proxy --http-upstream-idle-timeout 300ms
CX=(curl -sS --fail --max-time 20 --noproxy '' -x "$PROXY")
t0=$(date +%s.%N)
"${CX[@]}" -o /dev/null "$UP2/conn" || fail "request before the idle timeout"
wait_for_line "$UP_LOG" '^close 2$' "$FAULT_PID"
t1=$(date +%s.%N)
idle=$(ms_diff "$t0" "$t1")
[ "$idle" -ge 290 ] && [ "$idle" -le 2300 ] || fail "idle upstream connection closed after $idle ms, want 300 (+2 s)"
out=$("${CX[@]}" "$UP2/conn") || fail "request after the idle timeout"
[ "$out" = conn=3 ] || fail "after the idle timeout: $out, want a new connection (conn=3)"
note "idle pooled connection closed after $idle ms (--http-upstream-idle-timeout 300ms)"
stop_pid "$FAULT_PID"
# The pool's size: two waves of three overlapping requests (each held 1 s
# by the upstream) reuse all three connections by default, and only two
# with --http-upstream-pool-max 2 (one more connection for the 2nd wave).
for max in "" 2; do
	start_upstream
	UP3=http://127.0.0.1:$UP_PORT
	start_proxy ${max:+--http-upstream-pool-max "$max"}
	for wave in 1 2; do
		pids=()
		for i in 1 2 3; do
			curl -sS --fail --max-time 20 --noproxy '' -x "$PROXY" -o /dev/null "$UP3/slow?s=1" &
			pids+=($!)
		done
		for j in "${pids[@]}"; do wait "$j" || fail "a slow request failed (wave $wave, pool max '${max:-default}')"; done
	done
	n=$(upstream_conns)
	want=$([ -n "$max" ] && echo 4 || echo 3)
	[ "$n" = "$want" ] || fail "pool max ${max:-default}: two waves of 3 opened $n upstream connections, want $want"
	stop_pid "$FAULT_PID"
done
note "pool: 3 connections reused by default, 2 with --http-upstream-pool-max 2"
start_proxy --tail
UP_PORT=$UP1_PORT

# ---- 3. pipelining
python3 - "$PP" "$UP_PORT" <<'PY' || fail "pipelining"
import socket, sys
pp, up = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", pp), timeout=10)
reqs = b"".join(b"GET http://127.0.0.1:%d/p%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (up, i, up)
                for i in (1, 2, 3))
s.sendall(reqs)
buf = b""
bodies = []
while len(bodies) < 3:
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed after %d responses" % len(bodies))
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    cl = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    if not cl:
        sys.exit("no content-length in %r" % head)
    while len(buf) < cl[0]:
        buf += s.recv(65536)
    bodies.append(buf[:cl[0]])
    buf = buf[cl[0]:]
want = [b"path=/p%d\n" % i for i in (1, 2, 3)]
if bodies != want:
    sys.exit("got %r, want %r" % (bodies, want))
PY
note "pipelining: 3 requests at once, answered in order"

# ---- 4. HTTP_PROXY for applications
out=$(env -u NO_PROXY -u no_proxy http_proxy="$PROXY" HTTP_PROXY="$PROXY" \
	curl -sS --fail --max-time 20 "$UP/via-env") || fail "curl with http_proxy"
[ "$out" = "path=/via-env" ] || fail "curl with http_proxy: '$out'"
n=$(grep -c "GET $UP/via-env" "$FAULT_OUT")
[ "$n" = 1 ] || fail "the http_proxy request did not go through fault ($n)"
out=$(env -u NO_PROXY -u no_proxy HTTP_PROXY="$PROXY" http_proxy="$PROXY" python3 -c '
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode().strip())' "$UP/py-env") ||
	fail "python urllib with HTTP_PROXY"
[ "$out" = "path=/py-env" ] || fail "urllib: '$out'"
grep -q "GET $UP/py-env" "$FAULT_OUT" || fail "the urllib request did not go through fault"
note "HTTP_PROXY: curl and python urllib go through fault"

# ---- 5. hop-by-hop headers, Host
python3 - "$PP" "$UP_PORT" "$E2E_TMP/seen" <<'PY' || fail "header test client"
import socket, sys
pp, up, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
# A listener that records what the proxy sends it.
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
port = l.getsockname()[1]
c = socket.create_connection(("127.0.0.1", pp), timeout=10)
c.sendall(b"GET http://127.0.0.1:%d/h HTTP/1.1\r\nHost: wrong.example\r\n"
          b"Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n"
          b"Proxy-Authorization: Basic Zm9vOmJhcg==\r\nTE: trailers\r\nX-End: kept\r\n\r\n" % port)
s, _ = l.accept()
s.settimeout(10)
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(65536)
open(out, "wb").write(data)
s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Resp\r\nX-Resp: hop\r\nX-Keep: yes\r\n\r\nok")
resp = b""
while not resp.endswith(b"ok"):
    resp += c.recv(65536)
open(out + ".resp", "wb").write(resp)
PY
seen=$(tr -d '\r' <"$E2E_TMP/seen")
for h in 'X-Hop' 'Keep-Alive' 'Proxy-Authorization' 'TE:' 'Connection'; do
	grep -qi "^$h" <<<"$seen" && fail "hop-by-hop header $h was forwarded: $seen"
done
grep -q '^X-End: kept$' <<<"$seen" || fail "end-to-end header lost: $seen"
grep -Eq '^Host: 127\.0\.0\.1:[0-9]+$' <<<"$seen" || fail "Host is not the URL's authority: $seen"
resp=$(tr -d '\r' <"$E2E_TMP/seen.resp")
grep -qi '^X-Resp' <<<"$resp" && fail "hop-by-hop response header forwarded: $resp"
grep -q '^X-Keep: yes$' <<<"$resp" || fail "response header lost: $resp"
note "hop-by-hop headers dropped both ways, Host rewritten"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"

start_proxy --http-via
hdrs=$(curl -sS --fail --max-time 10 --noproxy '' -x "$PROXY" -D - -o /dev/null "$NG/index.html") || fail "--http-via"
grep -qi '^Via: 1.1 fault' <<<"$(tr -d '\r' <<<"$hdrs")" || fail "--http-via: no Via in $hdrs"
stop_pid "$FAULT_PID"
note "--http-via: ok"

# ---- 6. IPv6 listener
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	P6=$(free_port)
	start_fault run --proxy-address "[::1]:$P6"
	grep -q "^fault: listening on \[::1\]:$P6 -> forward proxy" "$FAULT_OUT" ||
		fail "IPv6 listening line: $(cat "$FAULT_OUT")"
	curl -sS --fail --max-time 10 --noproxy '' -x "http://[::1]:$P6" -o "$E2E_TMP/v6" "$NG/index.html" ||
		fail "curl through [::1]:$P6"
	cmp -s "$E2E_TMP/v6" "$WWW/index.html" || fail "IPv6: body differs"
	stop_pid "$FAULT_PID"
	[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
	note "IPv6 forward proxy on [::1]: ok"
else
	note "no IPv6 loopback here: IPv6 part skipped"
fi
