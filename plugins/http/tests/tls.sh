#!/usr/bin/env bash
# plugins/http/tests/tls.sh - TLS toward clients, HTTP/1.1.
#
#  1. --http-tls-cert/--http-tls-key on an http:// mapping: curl --cacert
#     https://127.0.0.1:P/ gets nginx's file; plain http:// on the same
#     port still works; the mapping's faults apply (http-response answers
#     over TLS); a TLS mapping to an https:// upstream (TLS on both legs);
#  2. the forward proxy accepts TLS too (an HTTPS proxy: curl -x https://);
#  3. bad input: a key without a certificate, a missing file, a key that
#     is not the certificate's: exit 2 with one line;
#  4. fault ca generate writes a CA (ca.pem 0644, ca-key.pem 0600) and
#     refuses to overwrite it; fault ca path prints it;
#  5. --http-intercept: curl -x PROXY --cacert ca.pem https://127.0.0.1:TLS/
#     is intercepted (the leaf is issued by the fault CA for 127.0.0.1) and
#     the http-response fault answers it; without the fault the file comes
#     from nginx (upstream TLS verified with --tls-ca-file); a name (SNI)
#     gets its own certificate; an upstream that cannot be verified gives
#     502 inside the tunnel; a tunnel that is not TLS is relayed as before;
#     --upstream elsewhere: not intercepted (nginx's own certificate);
#  6. --http-intercept-ca without --http-intercept is bad input.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_nginx --tls
printf 'over tls\n' >"$WWW/index.html"
make_file "$WWW/1m.bin" $((1024 * 1024))
start_upstream
# The certificate clients see from fault (not nginx's).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=fault-test \
	-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout "$E2E_TMP/fkey.pem" \
	-out "$E2E_TMP/fcert.pem" >"$E2E_TMP/openssl2.log" 2>&1 || fail "openssl: $(cat "$E2E_TMP/openssl2.log")"
FCERT=$E2E_TMP/fcert.pem
FKEY=$E2E_TMP/fkey.pem
C=(curl -sS --max-time 10 --noproxy '*')

# ---- 1. TLS mapping
P=$(free_port)
Q=$(free_port)
start_fault run --disable-http-proxy --http-tls-cert "$FCERT" --http-tls-key "$FKEY" \
	--tls-ca-file "$CERT" --proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT" \
	--proxy "127.0.0.1:$Q=https://127.0.0.1:$NGINX_TLS_PORT"
"${C[@]}" --fail --http1.1 --cacert "$FCERT" -o "$E2E_TMP/a" "https://127.0.0.1:$P/1m.bin" ||
	fail "curl --cacert https:// to the TLS mapping"
cmp -s "$E2E_TMP/a" "$WWW/1m.bin" || fail "TLS mapping: body differs"
"${C[@]}" --fail -o "$E2E_TMP/b" "http://127.0.0.1:$P/index.html" || fail "plain http on the TLS mapping"
cmp -s "$E2E_TMP/b" "$WWW/index.html" || fail "plain http: body differs"
"${C[@]}" --fail --http1.1 --cacert "$FCERT" -o "$E2E_TMP/c" "https://localhost:$Q/index.html" ||
	fail "TLS on both legs"
cmp -s "$E2E_TMP/c" "$WWW/index.html" || fail "TLS on both legs: body differs"
out=$("${C[@]}" --http1.1 --cacert "$E2E_TMP/cert.pem" "https://127.0.0.1:$P/" 2>&1) &&
	fail "a client that does not trust the certificate got through: $out"
note "TLS mapping: curl --cacert ok, plain http on the same port ok, TLS both legs ok"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"

P=$(free_port)
start_fault run --disable-http-proxy --http-tls-cert "$FCERT" --http-tls-key "$FKEY" \
	--proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT" --with-http-response \
	--http-response-status 503 --http-response-body 'from fault'
code=$("${C[@]}" --http1.1 --cacert "$FCERT" -o "$E2E_TMP/d" -w '%{http_code}' "https://127.0.0.1:$P/") ||
	fail "curl with the fault"
[ "$code" = 503 ] && grep -q 'from fault' "$E2E_TMP/d" || fail "fault over TLS: $code $(cat "$E2E_TMP/d")"
stop_pid "$FAULT_PID"
note "http-response fault answers over TLS"

# ---- 2. HTTPS forward proxy
start_proxy --http-tls-cert "$FCERT" --http-tls-key "$FKEY"
"${C[@]}" --fail --noproxy '' -x "https://127.0.0.1:$PP" --proxy-cacert "$FCERT" \
	-o "$E2E_TMP/e" "http://127.0.0.1:$NGINX_PORT/index.html" || fail "curl -x https://"
cmp -s "$E2E_TMP/e" "$WWW/index.html" || fail "HTTPS proxy: body differs"
"${C[@]}" --fail --noproxy '' -x "http://127.0.0.1:$PP" -o "$E2E_TMP/e2" \
	"http://127.0.0.1:$NGINX_PORT/index.html" || fail "curl -x http:// with TLS on"
stop_pid "$FAULT_PID"
note "forward proxy: TLS (curl -x https://) and plain on one port"

# ---- 3. bad input
bad() { # EXPECTED_RE ARGS...
	local re=$1
	shift
	"$FAULT" run --disable-http-proxy --proxy "127.0.0.1:$(free_port)=http://127.0.0.1:$NGINX_PORT" \
		"$@" >"$E2E_TMP/bad.out" 2>"$E2E_TMP/bad.err"
	local rc=$?
	[ $rc = 2 ] || fail "$* exited $rc, want 2: $(cat "$E2E_TMP/bad.err")"
	[ "$(wc -l <"$E2E_TMP/bad.err")" = 1 ] || fail "$*: want one line: $(cat "$E2E_TMP/bad.err")"
	grep -Eq -- "$re" "$E2E_TMP/bad.err" || fail "$*: $(cat "$E2E_TMP/bad.err")"
}
bad 'needs --http-tls-cert' --http-tls-key "$FKEY"
bad 'cannot load the certificate chain' --http-tls-cert "$E2E_TMP/nothing.pem" --http-tls-key "$FKEY"
bad 'does not match' --http-tls-cert "$FCERT" --http-tls-key "$CERT_KEY"
bad 'only matters with --http-intercept' --http-intercept-ca "$FCERT"
note "bad TLS input: exit 2, one line"

# ---- 4. fault ca
CADIR=$E2E_TMP/ca
"$FAULT" ca generate --ca-dir "$CADIR" >"$E2E_TMP/ca.out" 2>"$E2E_TMP/ca.err" ||
	fail "fault ca generate: $(cat "$E2E_TMP/ca.err")"
[ "$(cat "$E2E_TMP/ca.out")" = "$CADIR/ca.pem" ] || fail "ca generate printed $(cat "$E2E_TMP/ca.out")"
[ "$(stat -c %a "$CADIR/ca-key.pem")" = 600 ] || fail "ca-key.pem is not 0600"
openssl x509 -in "$CADIR/ca.pem" -noout -text | grep -q 'CA:TRUE' || fail "ca.pem is not a CA"
"$FAULT" ca generate --ca-dir "$CADIR" >/dev/null 2>&1 && fail "ca generate overwrote a CA"
[ "$(FAULT_CA_DIR=$CADIR "$FAULT" ca path)" = "$CADIR/ca.pem" ] || fail "fault ca path"
note "fault ca generate: ca.pem, ca-key.pem 0600, no overwrite"

# ---- 5. interception
TLS=https://127.0.0.1:$NGINX_TLS_PORT
start_proxy --tail --http-intercept --http-intercept-ca "$CADIR/ca.pem" \
	--http-intercept-ca-key "$CADIR/ca-key.pem" --tls-ca-file "$CERT"
"${C[@]}" --fail --http1.1 --noproxy '' -x "$PROXY" --cacert "$CADIR/ca.pem" -o "$E2E_TMP/f" \
	"$TLS/1m.bin" || fail "intercepted request"
cmp -s "$E2E_TMP/f" "$WWW/1m.bin" || fail "intercepted: body differs"
issuer=$(echo | openssl s_client -proxy "127.0.0.1:$PP" -connect "127.0.0.1:$NGINX_TLS_PORT" \
	-CAfile "$CADIR/ca.pem" 2>/dev/null | sed -n 's/^issuer=//p' | head -1)
echo "$issuer" | grep -q 'fault local CA' || fail "intercepted certificate issuer: '$issuer'"
# A name: its own leaf (SNI), and the Host the client sent reaches nginx.
"${C[@]}" --fail --http1.1 --noproxy '' -x "$PROXY" --cacert "$CADIR/ca.pem" -o "$E2E_TMP/g" \
	"https://localhost:$NGINX_TLS_PORT/index.html" || fail "intercepted request by name"
cmp -s "$E2E_TMP/g" "$WWW/index.html" || fail "intercepted by name: body differs"
grep -q "GET https://localhost:$NGINX_TLS_PORT/index.html" "$FAULT_OUT" ||
	wait_for_line "$FAULT_OUT" "GET https://localhost:$NGINX_TLS_PORT/index.html" "$FAULT_PID"
# Not TLS inside the tunnel: relayed (curl -p to a plain HTTP upstream).
"${C[@]}" --fail --noproxy '' -p -x "$PROXY" -o "$E2E_TMP/h" "http://127.0.0.1:$UP_PORT/plain" ||
	fail "a non-TLS tunnel with interception on"
[ "$(cat "$E2E_TMP/h")" = "path=/plain" ] || fail "non-TLS tunnel: $(cat "$E2E_TMP/h")"
stop_pid "$FAULT_PID"
note "interception: leaf from the fault CA, file identical, SNI names, non-TLS tunnels relayed"

start_proxy --http-intercept --http-intercept-ca "$CADIR/ca.pem" \
	--http-intercept-ca-key "$CADIR/ca-key.pem" --tls-ca-file "$CERT" \
	--with-http-response --http-response-status 418 --http-response-body 'intercepted'
code=$("${C[@]}" --http1.1 --noproxy '' -x "$PROXY" --cacert "$CADIR/ca.pem" -o "$E2E_TMP/i" \
	-w '%{http_code}' "$TLS/index.html") || fail "curl through interception with the fault"
[ "$code" = 418 ] && grep -q intercepted "$E2E_TMP/i" || fail "fault through interception: $code"
stop_pid "$FAULT_PID"
note "http-response answers an intercepted HTTPS request (418)"

# The upstream's certificate is verified: without --tls-ca-file, 502.
start_proxy --http-intercept --http-intercept-ca "$CADIR/ca.pem" \
	--http-intercept-ca-key "$CADIR/ca-key.pem"
code=$("${C[@]}" --http1.1 --noproxy '' -x "$PROXY" --cacert "$CADIR/ca.pem" -o "$E2E_TMP/j" \
	-w '%{http_code}' "$TLS/index.html") || fail "curl through interception, unverifiable upstream"
[ "$code" = 502 ] && grep -q 'TLS handshake' "$E2E_TMP/j" || fail "unverifiable upstream: $code $(cat "$E2E_TMP/j")"
stop_pid "$FAULT_PID"
note "unverifiable upstream behind interception: 502"

# Untargeted hosts are not intercepted: nginx's own certificate.
start_proxy --http-intercept --http-intercept-ca "$CADIR/ca.pem" \
	--http-intercept-ca-key "$CADIR/ca-key.pem" --upstream elsewhere.example
"${C[@]}" --fail --http1.1 --noproxy '' -x "$PROXY" --cacert "$CERT" -o "$E2E_TMP/k" "$TLS/index.html" ||
	fail "untargeted tunnel with interception on"
stop_pid "$FAULT_PID"
note "untargeted tunnel: not intercepted"
