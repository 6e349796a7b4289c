#!/usr/bin/env bash
# plugins/grpc-bridge/tests/http.sh - remote plugins on the HTTP forward
# proxy (curl -x, nginx upstream), two plugins chained: H (http mode, see
# rplugin.py) then E (echo), both logging what they are asked:
#
#  1. ProcessHttpRequest sees the method, the path with its query and the
#     headers; H's added request header reaches E (the exchange is what is
#     forwarded);
#  2. ProcessHttpResponse: H turns 200 into 203 with a header, E sees 203,
#     the client gets 203, the header and nginx's body;
#  3. a response rewritten with a body: nginx's 404 becomes H's 200 and
#     body;
#  4. ABORT on a request: 418 with H's headers and body, nginx never sees
#     the request, E is not asked;
#  5. CONNECT tunnels go to ProcessTunnelData, forwarded requests never do.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/grpc-bridge/tests/common.sh" || exit 99

"$FAULT" run --help 2>/dev/null | grep -q -- '--proxy-address' ||
	skip "the http plugin (HTTP forward proxy, --proxy-address) is not built"

start_nginx
echo "hello from nginx" >"$WWW/index.html"
H=$E2E_TMP/h.log
E=$E2E_TMP/e.log
start_rplugin "$H" --mode http --name H
HP=$RP_PORT
start_rplugin "$E" --mode echo --name E
EP=$RP_PORT
LOG=$E2E_TMP/fault.log
PP=$(free_port)
start_fault --log-file "$LOG" run --proxy-address "127.0.0.1:$PP" \
	--grpc-plugin "http://127.0.0.1:$HP" --grpc-plugin "http://127.0.0.1:$EP" --events "$E2E_TMP/events"
wait_count "$LOG" 'remote plugin [12] .*: enabled for' 2 "$FAULT_PID"
C=(curl -sS --noproxy '' -x "http://127.0.0.1:$PP" --max-time 20)
UP=http://127.0.0.1:$NGINX_PORT

# ---- 1 and 2. request and response hooks
hdrs=$("${C[@]}" -D - -o "$E2E_TMP/body" -H 'X-Client: yes' "$UP/index.html?q=1" | tr -d '\r')
grep -q '^HTTP/1.1 203 ' <<<"$hdrs" || fail "status: $hdrs"
grep -qi '^X-Plugin: seen$' <<<"$hdrs" || fail "response header from the plugin missing: $hdrs"
[ "$(cat "$E2E_TMP/body")" = "hello from nginx" ] || fail "body: $(cat "$E2E_TMP/body")"
grep -q '^http_req GET /index.html?q=1 .*x-client' "$H" || fail "H's request: $(cat "$H")"
grep -q '^http_req GET /index.html?q=1 .*x-client.*x-plugin-req' "$E" ||
	fail "E did not see H's request header: $(cat "$E")"
grep -qx 'http_resp 200' "$H" || fail "H's response: $(cat "$H")"
grep -qx 'http_resp 203' "$E" || fail "E did not see H's status: $(cat "$E")"
# nginx logs a request just after answering it: a bounded wait for the line.
wait_for_line "$E2E_TMP/nginx-access.log" 'GET /index\.html\?q=1 ' "" 10 ||
	fail "nginx did not serve the request"
note "request hooks chained (header added by H seen by E), response 200 -> 203 with X-Plugin"

# ---- 3. response rewritten with a body
out=$("${C[@]}" -w ' %{http_code}' "$UP/missing.html")
[ "$out" = "rewritten by plugin
 200" ] || fail "404 rewrite: '$out'"
note "nginx 404 answered as the plugin's 200 and body"

# ---- 4. ABORT
hdrs=$("${C[@]}" -D - -o "$E2E_TMP/tea" "$UP/teapot" | tr -d '\r')
grep -q '^HTTP/1.1 418 ' <<<"$hdrs" || fail "abort: $hdrs"
grep -qi '^X-Teapot: short and stout$' <<<"$hdrs" || fail "abort headers: $hdrs"
[ "$(cat "$E2E_TMP/tea")" = "I'm a teapot" ] || fail "abort body: $(cat "$E2E_TMP/tea")"
grep -q '/teapot' "$E2E_TMP/nginx-access.log" && fail "nginx saw the aborted request"
grep -q '/teapot' "$E" && fail "E was asked about an aborted request"
note "ABORT: 418 with the plugin's headers and body, upstream never contacted"

# ---- 5. tunnels
grep -q '^tunnel ' "$H" "$E" && fail "forwarded requests went to ProcessTunnelData"
out=$("${C[@]}" -p "$UP/index.html")
[ "$out" = "hello from nginx" ] || fail "CONNECT: '$out'"
wait_count "$E" '^tunnel .* SERVER EGRESS ' 1 "$FAULT_PID" 5
wait_count "$E" '^tunnel .* SERVER INGRESS ' 1 "$FAULT_PID" 5
note "CONNECT tunnel bytes went to ProcessTunnelData (both ways)"
