#!/usr/bin/env bash
# plugins/http/tests/hooks.sh - the HTTP hooks as a fault plugin sees them,
# driven by the test plugin hookprobe (plugins/http/tests/hookprobe.c):
#
#  1. on_request PENDING then CONTINUE 200 ms later: the upstream answers,
#     >= 200 ms after the request;
#  2. PENDING then RESPOND: the plugin's 299, the upstream never sees it;
#  3. RESPOND at once: 298, keep-alive kept (a second request on the same
#     connection is served);
#  4. on_response changes the status (297) and adds a header;
#  5. on_response answers instead (296 and its body);
#  6. the client leaves while a hook is PENDING: on_end ends the exchange
#     (logged with its pending timer cancelled) and fault keeps serving;
#  7. the stream's scheme (fault_stream_scheme) as a hook sees it:
#     "http-forward" on the forward proxy, "http" on an http:// mapping,
#     "connect" inside an intercepted CONNECT tunnel; and 3000-byte URLs
#     reach hooks whole (fault_http_url).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

probe="$top_builddir/plugins/http/tests/.libs/hookprobe.so"
[ -f "$probe" ] || fail "$probe was not built (make check builds it)"
export FAULT_PLUGIN_PATH="$FAULT_PLUGIN_PATH:$top_builddir/plugins/http/tests/.libs"

start_upstream
UP=http://127.0.0.1:$UP_PORT
LOG=$E2E_TMP/fault.log
PP=$(free_port)
start_fault --log-file "$LOG" run --proxy-address "127.0.0.1:$PP" --with-hookprobe
PROXY=http://127.0.0.1:$PP
C=(curl -sS --noproxy '' -x "$PROXY" --max-time 10)

# ---- 1. PENDING, CONTINUE
read -r code t <<<"$("${C[@]}" -H 'X-Probe: pending' -o "$E2E_TMP/b1" -w '%{http_code} %{time_total}' "$UP/p1")"
ms=$(ms_diff 0 "$t")
[ "$code" = 200 ] && [ "$(cat "$E2E_TMP/b1")" = "path=/p1" ] || fail "pending/continue: $code $(cat "$E2E_TMP/b1")"
[ "$ms" -ge 195 ] || fail "pending/continue answered after $ms ms, want >= 200"
grep -q 'req [0-9]* GET /p1$' "$UP_LOG" || fail "pending/continue: upstream did not see /p1"
note "PENDING then CONTINUE: upstream answered after $ms ms"

# ---- 2. PENDING, RESPOND
out=$("${C[@]}" -H 'X-Probe: pending-respond' -w ' %{http_code}' "$UP/p2")
[ "$out" = "probe
 299" ] || fail "pending/respond: '$out'"
grep -q 'GET /p2$' "$UP_LOG" && fail "pending/respond: the upstream saw /p2"
note "PENDING then RESPOND: 299, upstream untouched"

# ---- 3. RESPOND, then the same connection again
out=$("${C[@]}" -H 'X-Probe: respond' -w '%{http_code} %{num_connects}\n' -o /dev/null -o /dev/null "$UP/p3" \
	-H 'X-Probe: respond' "$UP/p3b")
[ "$out" = "298 1
298 0" ] || fail "respond: '$out'"
note "RESPOND: 298 twice on one connection"

# ---- 4 and 5. response hooks
hdrs=$("${C[@]}" -H 'X-Probe: status' -D - -o /dev/null "$UP/p4" | tr -d '\r')
grep -q '^HTTP/1.1 297 ' <<<"$hdrs" || fail "status change: $hdrs"
grep -q '^X-Probed: yes$' <<<"$hdrs" || fail "header added by on_response missing: $hdrs"
out=$("${C[@]}" -H 'X-Probe: replace' -w ' %{http_code}' "$UP/p5")
[ "$out" = "replaced
 296" ] || fail "on_response RESPOND: '$out'"
grep -q 'GET /p5$' "$UP_LOG" || fail "on_response RESPOND: the upstream should have been asked"
note "on_response: status 297 with a header; answer 296 instead of the upstream's"

# ---- 6. client leaves while PENDING
python3 - "$PP" "$UP_PORT" <<'PY' || fail "leaving client"
import socket, sys
pp, up = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", pp), timeout=5)
s.sendall(b"GET http://127.0.0.1:%d/p6 HTTP/1.1\r\nHost: x\r\nX-Probe: pending\r\n\r\n" % up)
s.close()
PY
wait_for_line "$LOG" 'probe: end #[0-9]+ pending=1' "$FAULT_PID"
out=$("${C[@]}" "$UP/after") || fail "request after a client left during PENDING"
[ "$out" = "path=/after" ] || fail "after: '$out'"
grep -q 'GET /p6$' "$UP_LOG" && fail "the exchange of a client that left was still forwarded"
note "client gone while PENDING: on_end ran, timer cancelled, fault still serving"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"

# ---- 7. the stream's scheme
start_nginx --tls
"$FAULT" ca generate --ca-dir "$E2E_TMP/ca" >/dev/null 2>&1 || fail "fault ca generate"
M=$(free_port)
start_fault --log-file "$LOG" run --proxy-address "127.0.0.1:$PP" --with-hookprobe \
	--proxy "127.0.0.1:$M=http://127.0.0.1:$UP_PORT" --http-intercept \
	--http-intercept-ca "$E2E_TMP/ca/ca.pem" --http-intercept-ca-key "$E2E_TMP/ca/ca-key.pem" \
	--tls-ca-file "$CERT"
out=$("${C[@]}" -H 'X-Probe: scheme' "$UP/s1") || fail "scheme, forward"
[ "$out" = scheme=http-forward ] || fail "scheme on the forward proxy: '$out'"
out=$(curl -sS --noproxy '*' --max-time 10 -H 'X-Probe: scheme' "http://127.0.0.1:$M/s2") || fail "scheme, mapping"
[ "$out" = scheme=http ] || fail "scheme on an http:// mapping: '$out'"
out=$("${C[@]}" --cacert "$E2E_TMP/ca/ca.pem" -H 'X-Probe: scheme' "https://127.0.0.1:$NGINX_TLS_PORT/s3") ||
	fail "scheme, intercepted CONNECT"
[ "$out" = scheme=connect ] || fail "scheme inside a CONNECT tunnel: '$out'"
# A long URL reaches hooks whole (forward proxy and mapping).
long=$(printf 'x%.0s' $(seq 1 3000))
out=$("${C[@]}" -H 'X-Probe: url' "$UP/$long?q=1") || fail "long URL, forward"
[ "$out" = "$UP/$long?q=1" ] || fail "long URL on the forward proxy: ${#out} bytes"
out=$(curl -sS --noproxy '*' --max-time 10 -H 'X-Probe: url' "http://127.0.0.1:$M/$long") || fail "long URL, mapping"
[ "$out" = "http://127.0.0.1:$UP_PORT/$long" ] || fail "long URL on a mapping: ${#out} bytes"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "stream schemes: http-forward, http (mapping), connect (tunnel); 3000-byte URLs whole"
