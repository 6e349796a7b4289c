#!/usr/bin/env bash
# plugins/http/tests/h2.sh - HTTP/2 toward clients and upstreams.
#
#  1. h2c with prior knowledge on a reverse mapping: curl
#     --http2-prior-knowledge gets nginx's files (9 B and 2 MiB) identical;
#     h2load's 20 requests (4 at a time) share one connection; nghttp -nv
#     sees ":status: 200";
#  2. concurrent streams on one connection with http-response at
#     probability 0.5: a per-stream mix of 200 (nginx) and 500 (the fault);
#  3. request bodies through HTTP/2 to an HTTP/1.1 upstream: with and
#     without content-length (then sent chunked), digests identical;
#  4. upstream failures per stream: refused -> 502, /reset mid-body -> the
#     stream is reset (curl sees an unclean close), /slow with
#     --http-upstream-timeout 1s -> 504; the connection still serves;
#  5. latency (a stream fault) applies to an h2c mapping;
#  6. backpressure: a 64 MiB download read at 8 MiB/s over HTTP/2 arrives
#     identical, and fault's peak RSS stays bounded (< 48 MiB);
#  7. h2 over TLS: curl --http2 --cacert to a TLS-accepting mapping
#     speaks HTTP/2 (ALPN); an upstream offering h2 (nginx `listen ssl
#     http2`) is spoken to in HTTP/2 (its log says HTTP/2.0), an HTTP/1.1
#     upstream in HTTP/1.1;
#  8. the forward proxy: h2c with :authority naming the origin (nghttp
#     -H ':authority: ...');
#  9. interception with HTTP/2 on both legs: curl -x PROXY --cacert ca.pem
#     https://127.0.0.1:H2/ is HTTP/2 to the client and to nginx; the
#     http-response fault answers it (418 over HTTP/2).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99
command -v nghttp >/dev/null 2>&1 || skip "nghttp (nghttp2-client) is not installed"
curl -V | grep -q HTTP2 || skip "curl has no HTTP/2"

start_nginx --tls
printf 'hello h2\n' >"$WWW/index.html"
make_file "$WWW/2m.bin" $((2 * 1024 * 1024))
start_upstream
C=(curl -sS --max-time 20 --noproxy '*')
H2C=("${C[@]}" --http2-prior-knowledge)

# ---- 1. h2c on a mapping
P=$(free_port)
start_fault run --disable-http-proxy --tail --proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT"
# One request per curl: curl 7.88 cannot reuse an h2c prior-knowledge
# connection (curl/curl#10634); reuse is nghttp's and h2load's part.
for f in index.html 2m.bin; do
	v=$("${H2C[@]}" --fail -o "$E2E_TMP/$f" -w '%{http_version}' "http://127.0.0.1:$P/$f") ||
		fail "curl h2c $f"
	[ "$v" = 2 ] || fail "curl h2c: HTTP/$v"
	cmp -s "$E2E_TMP/$f" "$WWW/$f" || fail "h2c: $f differs"
done
wait_for_line "$FAULT_OUT" '#2 close' "$FAULT_PID"
h2load -n 20 -c 1 -m 4 "http://127.0.0.1:$P/index.html" >"$E2E_TMP/h2load" 2>&1 ||
	fail "h2load: $(tail -5 "$E2E_TMP/h2load")"
grep -q '20 succeeded' "$E2E_TMP/h2load" || fail "h2load: $(grep requests: "$E2E_TMP/h2load")"
wait_for_line "$FAULT_OUT" '#3 close' "$FAULT_PID"
[ "$(grep -c ' open ' "$FAULT_OUT")" = 3 ] || fail "h2load's 20 requests did not share one connection"
nghttp -nv "http://127.0.0.1:$P/index.html" >"$E2E_TMP/ng" 2>&1 || fail "nghttp: $(tail -5 "$E2E_TMP/ng")"
grep -q ':status: 200' "$E2E_TMP/ng" || fail "nghttp: no :status 200"
note "h2c prior knowledge on a mapping: curl, h2load (20 requests, 1 connection), nghttp ok"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"

# ---- 2. per-stream faults
P=$(free_port)
start_fault run --disable-http-proxy --tail --seed 7 --proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT" \
	--with-http-response --http-response-trigger-probability 0.5
urls=()
for i in $(seq 1 24); do urls+=("http://127.0.0.1:$P/index.html?$i"); done
nghttp -n -s "${urls[@]}" >"$E2E_TMP/mix" 2>&1 || fail "nghttp 24 streams: $(tail -5 "$E2E_TMP/mix")"
ok=$(grep -cE '^ *[0-9]+ .* 200 +9 /index.html' "$E2E_TMP/mix")
bad=$(grep -cE '^ *[0-9]+ .* 500 +0 /index.html' "$E2E_TMP/mix")
[ $((ok + bad)) = 24 ] || fail "24 streams: $ok x 200 + $bad x 500: $(cat "$E2E_TMP/mix")"
[ "$ok" -ge 1 ] && [ "$bad" -ge 1 ] || fail "no per-stream mix: $ok x 200, $bad x 500"
wait_for_line "$FAULT_OUT" '#1 close' "$FAULT_PID"
[ "$(grep -c ' open ' "$FAULT_OUT")" = 1 ] || fail "the 24 streams used more than one connection"
note "24 concurrent streams on one connection, probability 0.5: $ok x 200, $bad x 500"
stop_pid "$FAULT_PID"

# ---- 3. request bodies, 4. failures
P=$(free_port)
R=$(free_port)
start_fault run --disable-http-proxy --http-upstream-timeout 1s \
	--proxy "127.0.0.1:$P=http://127.0.0.1:$UP_PORT" --proxy "127.0.0.1:$R=http://127.0.0.1:$(free_port)"
make_file "$E2E_TMP/up.bin" $((3 * 1024 * 1024 + 17))
want="len=$((3 * 1024 * 1024 + 17)) sha256=$(sha256_of "$E2E_TMP/up.bin")"
got=$("${H2C[@]}" --fail --data-binary @"$E2E_TMP/up.bin" "http://127.0.0.1:$P/echo") || fail "h2 POST"
[ "${got% conn=*}" = "$want" ] || fail "h2 POST with content-length: $got"
got=$("${H2C[@]}" --fail -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/up.bin" \
	"http://127.0.0.1:$P/echo") || fail "h2 POST without length"
[ "${got% conn=*}" = "$want" ] || fail "h2 POST without content-length: $got"
note "request bodies over HTTP/2 to an HTTP/1.1 upstream: identical (length and chunked)"

code=$("${H2C[@]}" -o "$E2E_TMP/r" -w '%{http_code}' "http://127.0.0.1:$R/x")
[ "$code" = 502 ] && grep -q 'connection refused' "$E2E_TMP/r" || fail "refused upstream: $code $(cat "$E2E_TMP/r")"
"${H2C[@]}" -o /dev/null "http://127.0.0.1:$P/reset" 2>"$E2E_TMP/rs" && fail "a reset mid-body looked complete"
grep -qiE 'stream|closed|transfer' "$E2E_TMP/rs" || fail "reset mid-body: $(cat "$E2E_TMP/rs")"
code=$("${H2C[@]}" -o "$E2E_TMP/s" -w '%{http_code}' "http://127.0.0.1:$P/slow?s=5")
[ "$code" = 504 ] || fail "slow upstream: $code $(cat "$E2E_TMP/s")"
# One connection, three streams: the bad one does not spoil the others.
nghttp -n -s "http://127.0.0.1:$P/conn" "http://127.0.0.1:$P/reset" "http://127.0.0.1:$P/host" \
	>"$E2E_TMP/codes" 2>&1
grep -qE ' 200 +[0-9]+ /conn$' "$E2E_TMP/codes" && grep -qE ' 200 +[0-9]+ /host$' "$E2E_TMP/codes" ||
	fail "streams beside a reset one: $(cat "$E2E_TMP/codes")"
# An upstream that sends bytes after a complete response is not given
# another request on that connection: fault closes it.
k=$("${H2C[@]}" --fail "http://127.0.0.1:$P/extra") || fail "h2c /extra"
[[ $k =~ ^conn=([0-9]+)$ ]] || fail "h2c /extra: $k"
wait_for_line "$UP_LOG" "^close ${BASH_REMATCH[1]}\$" "$FAULT_PID"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
note "per-stream failures: refused 502, reset mid-body resets the stream, slow 504; bytes after a response close the upstream connection"

# ---- 5. a stream fault on an h2c mapping
P=$(free_port)
start_fault run --disable-http-proxy --proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT" \
	--with-latency --latency-mean 300 --latency-stddev 0
t=$("${H2C[@]}" --fail -o /dev/null -w '%{time_total}' "http://127.0.0.1:$P/index.html") || fail "h2c with latency"
ms=$(ms_diff 0 "$t")
[ "$ms" -ge 295 ] || fail "h2c with 300 ms latency: $ms ms"
stop_pid "$FAULT_PID"
note "latency on an h2c mapping: $ms ms"

# ---- 6. backpressure
make_file "$WWW/64m.bin" $((64 * 1024 * 1024))
P=$(free_port)
start_fault run --disable-http-proxy --proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT"
"${H2C[@]}" --max-time 60 --fail --limit-rate 8M -o "$E2E_TMP/64m" "http://127.0.0.1:$P/64m.bin" ||
	fail "slow h2 download"
cmp -s "$E2E_TMP/64m" "$WWW/64m.bin" || fail "slow h2 download differs"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$FAULT_PID/status")
rm -f "$E2E_TMP/64m" "$WWW/64m.bin"
# AddressSanitizer keeps freed memory in quarantine: no bound to check then.
if asan_build; then
	note "built with AddressSanitizer: peak RSS $hwm KiB not checked"
else
	[ "$hwm" -lt $((48 * 1024)) ] || fail "peak RSS $hwm KiB for a 64 MiB download read slowly"
fi
stop_pid "$FAULT_PID"
note "64 MiB over HTTP/2 to a slow reader: identical, peak RSS $hwm KiB"

# ---- 7. h2 over TLS (ALPN), both legs
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=fault-test \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$E2E_TMP/fkey.pem" -out "$E2E_TMP/fcert.pem" \
	>/dev/null 2>&1 || fail "openssl"
H2_OK=1
start_nginx_h2 || H2_OK=0
P=$(free_port)
Q=$(free_port)
args=(--disable-http-proxy --tls-ca-file "$CERT" --http-tls-cert "$E2E_TMP/fcert.pem"
	--http-tls-key "$E2E_TMP/fkey.pem" --proxy "127.0.0.1:$P=https://127.0.0.1:$NGINX_TLS_PORT")
[ $H2_OK = 1 ] && args+=(--proxy "127.0.0.1:$Q=https://127.0.0.1:$H2_PORT")
start_fault run "${args[@]}"
v=$("${C[@]}" --fail --http2 --cacert "$E2E_TMP/fcert.pem" -o "$E2E_TMP/c" -w '%{http_version}' \
	"https://127.0.0.1:$P/2m.bin") || fail "curl --http2 to a TLS mapping"
[ "$v" = 2 ] && cmp -s "$E2E_TMP/c" "$WWW/2m.bin" || fail "TLS mapping: HTTP/$v, or the body differs"
wait_tail "$E2E_TMP/nginx-access.log" 1000 'GET /2m.bin HTTP/1.1' || fail "an HTTP/1.1-only upstream was not spoken to in HTTP/1.1"
note "curl --http2 --cacert to a TLS mapping: HTTP/2 by ALPN; HTTP/1.1 toward an HTTP/1.1 upstream"
if [ $H2_OK = 1 ]; then
	v=$("${C[@]}" --fail --http2 --cacert "$E2E_TMP/fcert.pem" -o "$E2E_TMP/d" -o "$E2E_TMP/d2" \
		-w '%{http_version}' "https://127.0.0.1:$Q/2m.bin" "https://127.0.0.1:$Q/index.html") ||
		fail "curl --http2 through to an h2 upstream"
	cmp -s "$E2E_TMP/d" "$WWW/2m.bin" && cmp -s "$E2E_TMP/d2" "$WWW/index.html" || fail "h2 upstream: bodies differ"
	wait_for_line "$H2_LOG" '^GET /index.html 200 HTTP/2.0$'
	grep -q '^GET /2m.bin 200 HTTP/2.0$' "$H2_LOG" || fail "the h2 upstream was not spoken to in HTTP/2: $(cat "$H2_LOG")"
	note "an upstream offering h2 (nginx ssl http2) is spoken to in HTTP/2"
else
	note "SKIP h2 upstream: this nginx has no HTTP/2 module"
fi
stop_pid "$FAULT_PID"

# ---- 8. h2c to the forward proxy
start_proxy
nghttp -nv -H ":authority: 127.0.0.1:$NGINX_PORT" "http://127.0.0.1:$PP/index.html" >"$E2E_TMP/fw" 2>&1 ||
	fail "nghttp to the forward proxy: $(tail -5 "$E2E_TMP/fw")"
grep -q ':status: 200' "$E2E_TMP/fw" || fail "forward h2c: $(tail -5 "$E2E_TMP/fw")"
wait_tail "$E2E_TMP/nginx-access.log" 3 'GET /index.html HTTP/1.1" 200 9' || fail "forward h2c did not reach nginx"
stop_pid "$FAULT_PID"
note "h2c to the forward proxy (:authority names the origin)"

# ---- 9. interception, HTTP/2 on both legs
if [ $H2_OK = 1 ]; then
	"$FAULT" ca generate --ca-dir "$E2E_TMP/ca" >/dev/null 2>&1 || fail "fault ca generate"
	start_proxy --http-intercept --http-intercept-ca "$E2E_TMP/ca/ca.pem" \
		--http-intercept-ca-key "$E2E_TMP/ca/ca-key.pem" --tls-ca-file "$CERT"
	v=$("${C[@]}" --fail --http2 --noproxy '' -x "$PROXY" --cacert "$E2E_TMP/ca/ca.pem" -o "$E2E_TMP/e" \
		-w '%{http_version}' "https://127.0.0.1:$H2_PORT/2m.bin") || fail "intercepted h2"
	[ "$v" = 2 ] && cmp -s "$E2E_TMP/e" "$WWW/2m.bin" || fail "intercepted: HTTP/$v or the body differs"
	[ "$(grep -c '^GET /2m.bin 200 HTTP/2.0$' "$H2_LOG")" = 2 ] || fail "intercepted: not HTTP/2 upstream"
	stop_pid "$FAULT_PID"
	start_proxy --http-intercept --http-intercept-ca "$E2E_TMP/ca/ca.pem" \
		--http-intercept-ca-key "$E2E_TMP/ca/ca-key.pem" --tls-ca-file "$CERT" \
		--with-http-response --http-response-status 418
	r=$("${C[@]}" --http2 --noproxy '' -x "$PROXY" --cacert "$E2E_TMP/ca/ca.pem" -o /dev/null \
		-w '%{http_code} %{http_version}' "https://127.0.0.1:$H2_PORT/index.html") || fail "intercepted h2 with the fault"
	[ "$r" = "418 2" ] || fail "intercepted h2 with the fault: $r"
	stop_pid "$FAULT_PID"
	note "interception with HTTP/2 on both legs; http-response answers (418 over HTTP/2)"
fi
