#!/usr/bin/env bash
# plugins/http/tests/h2up.sh - HTTP/1.1 clients, HTTP/2 upstreams: an
# https:// upstream that chooses h2 by ALPN (nginx `listen ssl http2`) is
# spoken to in HTTP/2 whatever the client speaks.
#
#  1. curl --http1.1 through a reverse https:// mapping: nginx logs
#     HTTP/2.0; a 5 MiB download is identical (sha256), a HEAD keeps its
#     Content-Length, a 404 comes through;
#  2. request bodies: a 3 MiB POST with Content-Length and a chunked one
#     go to nginx over HTTP/2 (logged HTTP/2.0), which passes them on to
#     upstream.py: length and sha256 identical;
#  3. keep-alive: several requests on one client connection share one
#     upstream HTTP/2 connection (nginx sees one TLS connection);
#  4. the HTTP hooks still run (http-response answers 418 without asking
#     nginx) and stream faults apply to the upstream leg (300 ms latency
#     on --http-upstream-override https://...);
#  5. an https:// upstream that does not offer h2 is still spoken to in
#     HTTP/1.1;
#  6. HTTP/1.1 inside an intercepted CONNECT tunnel (curl --http1.1 -x
#     with the local CA) reaches nginx in HTTP/2;
#  7. backpressure: 48 MiB read at 16 MiB/s by the HTTP/1.1 client arrive
#     identical and fault's peak RSS stays bounded (< 48 MiB).
#  8. bodies for hooks: a held request body rewritten by a hook (method,
#     path, body) and a watched one changed by on_body, both over HTTP/2.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_upstream
start_nginx --tls
H2_EXTRA="client_max_body_size 0; add_header X-Conn \$connection always; location /echo { proxy_pass http://127.0.0.1:$UP_PORT; proxy_request_buffering off; }"
start_nginx_h2 || skip "nginx has no HTTP/2 module"
printf 'hello h2\n' >"$WWW/index.html"
make_file "$WWW/5m.bin" $((5 * 1024 * 1024 + 3))
C=(curl -sS --max-time 20 --noproxy '*' --http1.1)
U=https://127.0.0.1:$H2_PORT

# ---- 1. downloads
P=$(free_port)
start_fault run --disable-http-proxy --tls-ca-file "$CERT" --proxy "127.0.0.1:$P=$U"
v=$("${C[@]}" --fail -o "$E2E_TMP/5m" -w '%{http_version}' "http://127.0.0.1:$P/5m.bin") || fail "GET 5m.bin"
[ "$v" = 1.1 ] || fail "the client should speak HTTP/1.1, not $v"
[ "$(sha256_of "$E2E_TMP/5m")" = "$(sha256_of "$WWW/5m.bin")" ] || fail "5m.bin differs"
wait_for_line "$H2_LOG" '^GET /5m.bin 200 HTTP/2.0$' "" 10 || fail "nginx did not get HTTP/2: $(cat "$H2_LOG")"
hdrs=$("${C[@]}" -I "http://127.0.0.1:$P/5m.bin" | tr -d '\r')
grep -q '^HTTP/1.1 200' <<<"$hdrs" && grep -qi "^content-length: $((5 * 1024 * 1024 + 3))$" <<<"$hdrs" ||
	fail "HEAD: $hdrs"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/nothing-here")
[ "$code" = 404 ] || fail "404 became $code"
wait_for_line "$H2_LOG" '^GET /nothing-here 404 HTTP/2.0$' "" 10 || fail "404 not over HTTP/2"
note "HTTP/1.1 client, HTTP/2 upstream: 5 MiB identical, HEAD, 404"

# ---- 2. request bodies
make_file "$E2E_TMP/up.bin" $((3 * 1024 * 1024 + 17))
h2_mark
want="len=$((3 * 1024 * 1024 + 17)) sha256=$(sha256_of "$E2E_TMP/up.bin")"
got=$("${C[@]}" --fail --data-binary @"$E2E_TMP/up.bin" "http://127.0.0.1:$P/echo") || fail "POST"
[ "${got% conn=*}" = "$want" ] || fail "POST with Content-Length: $got"
got=$("${C[@]}" --fail -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/up.bin" \
	"http://127.0.0.1:$P/echo") || fail "chunked POST"
[ "${got% conn=*}" = "$want" ] || fail "chunked POST: $got"
h2_log_wait $((H2_MARK + 2))
[ "$(grep -c '^POST /echo 200 HTTP/2.0$' "$H2_LOG")" = 2 ] || fail "POSTs not over HTTP/2: $(cat "$H2_LOG")"
note "request bodies (length and chunked) over HTTP/2: identical"

# ---- 3. one upstream connection for a keep-alive client
h2_mark
"${C[@]}" --fail -D "$E2E_TMP/ka" -o /dev/null -o /dev/null -o /dev/null \
	"http://127.0.0.1:$P/index.html?a" "http://127.0.0.1:$P/index.html?b" "http://127.0.0.1:$P/index.html?c" ||
	fail "three requests"
h2_log_wait $((H2_MARK + 3))
[ "$(grep -c '^GET /index.html 200 HTTP/2.0$' "$H2_LOG")" = 3 ] || fail "keep-alive: $(cat "$H2_LOG")"
[ "$(grep -ci '^x-conn:' "$E2E_TMP/ka")" = 3 ] && [ "$(grep -i '^x-conn:' "$E2E_TMP/ka" | sort -u | wc -l)" = 1 ] ||
	fail "three requests of one client connection, not one upstream connection: $(grep -i x-conn "$E2E_TMP/ka")"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
note "keep-alive client: three requests, one upstream HTTP/2 connection"

# ---- 4. hooks and stream faults
n0=$(wc -l <"$H2_LOG")
P=$(free_port)
start_fault run --disable-http-proxy --tls-ca-file "$CERT" --proxy "127.0.0.1:$P=$U" \
	--with-http-response --http-response-status 418
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/index.html")
[ "$code" = 418 ] || fail "http-response: $code"
stop_pid "$FAULT_PID"
[ "$(wc -l <"$H2_LOG")" = "$n0" ] || fail "http-response answered, yet nginx was asked"
start_proxy --tls-ca-file "$CERT" --http-upstream-override "$U" \
	--with-latency --latency-mean 300 --latency-stddev 0
h2_mark
t=$("${C[@]}" --fail --noproxy "" -x "$PROXY" -o "$E2E_TMP/lat" -w '%{time_total}' "http://origin.test/index.html") ||
	fail "override with latency"
ms=$(ms_diff 0 "$t")
[ "$(cat "$E2E_TMP/lat")" = "hello h2" ] || fail "override: $(cat "$E2E_TMP/lat")"
[ "$ms" -ge 295 ] || fail "300 ms latency on the upstream leg: $ms ms"
line=$(h2_next)
[ "$line" = "GET /index.html 200 HTTP/2.0" ] || fail "override: not HTTP/2: $line"
stop_pid "$FAULT_PID"
note "hooks answer (418, nginx not asked); 300 ms latency on the HTTP/2 leg: $ms ms"

# ---- 5. an https:// upstream without h2; 6. inside an intercepted tunnel
P=$(free_port)
start_fault run --disable-http-proxy --tls-ca-file "$CERT" --proxy "127.0.0.1:$P=https://127.0.0.1:$NGINX_TLS_PORT"
"${C[@]}" --fail -o /dev/null "http://127.0.0.1:$P/index.html" || fail "https upstream without h2"
wait_tail "$E2E_TMP/nginx-access.log" 1 '"GET /index.html HTTP/1.1" 200' ||
	fail "upstream without h2: $(tail -n 1 "$E2E_TMP/nginx-access.log")"
stop_pid "$FAULT_PID"
"$FAULT" ca generate --ca-dir "$E2E_TMP/ca" >/dev/null 2>&1 || fail "fault ca generate"
start_proxy --http-intercept --http-intercept-ca "$E2E_TMP/ca/ca.pem" \
	--http-intercept-ca-key "$E2E_TMP/ca/ca-key.pem" --tls-ca-file "$CERT"
h2_mark
"${C[@]}" --fail --noproxy "" -x "$PROXY" --cacert "$E2E_TMP/ca/ca.pem" -o "$E2E_TMP/i" "$U/5m.bin" || fail "intercepted"
cmp -s "$E2E_TMP/i" "$WWW/5m.bin" || fail "intercepted: 5m.bin differs"
line=$(h2_next)
[ "$line" = "GET /5m.bin 200 HTTP/2.0" ] || fail "intercepted: not HTTP/2: $line"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
note "HTTP/1.1 to an upstream without h2; HTTP/2 from inside an intercepted tunnel"

# ---- 7. backpressure
make_file "$WWW/48m.bin" $((48 * 1024 * 1024))
P=$(free_port)
start_fault run --disable-http-proxy --tls-ca-file "$CERT" --proxy "127.0.0.1:$P=$U"
"${C[@]}" --max-time 60 --fail --limit-rate 16M -o "$E2E_TMP/48m" "http://127.0.0.1:$P/48m.bin" ||
	fail "slow download"
cmp -s "$E2E_TMP/48m" "$WWW/48m.bin" || fail "slow download differs"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$FAULT_PID/status")
rm -f "$E2E_TMP/48m" "$WWW/48m.bin"
if asan_build; then
	note "built with AddressSanitizer: peak RSS $hwm KiB not checked"
else
	[ "$hwm" -lt $((48 * 1024)) ] || fail "peak RSS $hwm KiB for a 48 MiB download read slowly"
fi
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
note "48 MiB from HTTP/2 to a slow HTTP/1.1 reader: identical, peak RSS $hwm KiB"

# ---- 8. bodies for hooks (SDK 1.2) on the HTTP/2 upstream path, with the
# hookprobe test plugin (plugins/http/tests/hookprobe.c)
export FAULT_PLUGIN_PATH="$FAULT_PLUGIN_PATH:$top_builddir/plugins/http/tests/.libs"
P=$(free_port)
start_fault run --disable-http-proxy --tls-ca-file "$CERT" --proxy "127.0.0.1:$P=$U" \
	--with-hookprobe --hookprobe-body-limit 4096
h2_mark
got=$("${C[@]}" --fail -H 'X-Probe: body-rewrite' --data-binary 'original' "http://127.0.0.1:$P/orig") ||
	fail "held body rewritten"
[ "${got% conn=*}" = "len=14 sha256=$(printf 'rewritten body' | sha256sum | cut -d' ' -f1)" ] ||
	fail "held request body rewritten by the hook, over HTTP/2: $got"
line=$(h2_next)
[ "$line" = "PUT /echo 200 HTTP/2.0" ] || fail "rewritten request: $line"
make_file "$E2E_TMP/w.bin" 100000
got=$("${C[@]}" --fail -H 'X-Probe: body-upper' -H 'Transfer-Encoding: chunked' \
	--data-binary @"$E2E_TMP/w.bin" "http://127.0.0.1:$P/echo") || fail "watched body"
want=$(tr 'A-Z' 'a-z' <"$E2E_TMP/w.bin" | sha256sum | cut -d' ' -f1)
[ "${got% CONN=*}" = "LEN=100000 SHA256=$(tr a-z A-Z <<<"$want")" ] ||
	fail "watched request body (lower-cased by on_body) and response (upper-cased): $got"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
note "held and watched bodies on the HTTP/2 upstream path"
