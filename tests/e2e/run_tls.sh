#!/usr/bin/env bash
# tests/e2e/run_tls.sh - the TCP plugin originates TLS toward a tls://
# upstream: plain bytes from curl to fault, TLS from fault to nginx
# (self-signed certificate for IP:127.0.0.1, its own CA). (https://
# mappings are the HTTP plugin's when it is installed; tls:// is always a
# byte relay.)
#
#  1. --tls-ca-file cert.pem: verification on and passing; the file comes
#     back byte-identical (a small one and 1 MiB);
#  2. no CA (system store only): the handshake fails, curl gets no
#     response (connection closed or reset), --tail reports the close with
#     "TLS handshake failed" and the log file says why; fault keeps
#     running and still serves the next (verified) mapping;
#  3. --tls-no-verify: works without the CA;
#  4. a certificate for another name: --tls-ca-file with --tcp-tls-sni
#     wrong.example fails verification (host name checked, not only the
#     chain).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

start_nginx --tls
printf 'hello over tls\n' >"$WWW/index.html"
make_file "$WWW/big.bin" $((1024 * 1024))
UP=tls://127.0.0.1:$NGINX_TLS_PORT

# nginx really speaks TLS with that certificate.
curl -sS --fail --cacert "$CERT" -o "$E2E_TMP/direct.idx" "https://127.0.0.1:$NGINX_TLS_PORT/index.html" ||
	fail "nginx TLS server does not answer with the test certificate"
cmp -s "$E2E_TMP/direct.idx" "$WWW/index.html" || fail "direct TLS fetch differs"

# ---- 1. verification on, with the CA
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=$UP" --tls-ca-file "$CERT" --tail
grep -q "^fault: listening on 127.0.0.1:$P -> 127.0.0.1:$NGINX_TLS_PORT" "$FAULT_OUT" ||
	fail "listening line: $(head -n1 "$FAULT_OUT")"
curl -sS --fail --max-time 10 -o "$E2E_TMP/v.idx" "http://127.0.0.1:$P/index.html" ||
	fail "curl through fault with --tls-ca-file failed"
cmp -s "$E2E_TMP/v.idx" "$WWW/index.html" || fail "--tls-ca-file: index.html differs"
curl -sS --fail --max-time 10 -o "$E2E_TMP/v.big" "http://127.0.0.1:$P/big.bin" ||
	fail "curl big.bin through fault with --tls-ca-file failed"
cmp -s "$E2E_TMP/v.big" "$WWW/big.bin" || fail "--tls-ca-file: big.bin differs"
wait_for_line "$FAULT_OUT" ' #2 close sent=[1-9][0-9]* received=[1-9][0-9]*$' "$FAULT_PID"
grep -q 'error=' "$FAULT_OUT" && fail "a verified TLS exchange was reported with an error"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "verified TLS upstream: ok"

# ---- 2. verification on, without the CA: handshake fails
P=$(free_port)
P2=$(free_port)
LOG=$E2E_TMP/fault-noca.log
start_fault --log-file "$LOG" run --tail \
	--proxy "127.0.0.1:$P=$UP" \
	--proxy "127.0.0.1:$P2=127.0.0.1:$NGINX_PORT"
rc=0
curl -sS --max-time 10 -o "$E2E_TMP/n.idx" -w '%{http_code}' "http://127.0.0.1:$P/index.html" \
	>"$E2E_TMP/n.code" 2>"$E2E_TMP/n.err" || rc=$?
[ "$rc" != 0 ] || fail "curl succeeded through an unverifiable upstream (HTTP $(cat "$E2E_TMP/n.code"))"
[ "$rc" != 28 ] || fail "curl timed out instead of seeing the connection closed"
[ -s "$E2E_TMP/n.idx" ] && fail "a body came back through an unverifiable upstream"
note "no CA: curl exit $rc ($(tr -d '\n' <"$E2E_TMP/n.err"))"
wait_for_line "$FAULT_OUT" ' #1 close sent=0 received=0 error=TLS handshake failed' "$FAULT_PID"
wait_for_line "$LOG" 'TLS handshake with 127\.0\.0\.1:[0-9]+ failed: .*(certificate|verify)' "$FAULT_PID"
note "log: $(grep -m1 'TLS handshake' "$LOG" | cut -c1-160)"
# Still running, and the other mapping still works.
kill -0 "$FAULT_PID" 2>/dev/null || fail "fault died after a failed handshake"
curl -sS --fail --max-time 10 -o "$E2E_TMP/n2.idx" "http://127.0.0.1:$P2/index.html" ||
	fail "plain mapping broken after a failed TLS handshake"
cmp -s "$E2E_TMP/n2.idx" "$WWW/index.html" || fail "plain mapping: body differs"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "unverified upstream refused: ok"

# ---- 3. --tls-no-verify
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=$UP" --tls-no-verify --no-ui
curl -sS --fail --max-time 10 -o "$E2E_TMP/nv.idx" "http://127.0.0.1:$P/index.html" ||
	fail "curl through fault with --tls-no-verify failed"
cmp -s "$E2E_TMP/nv.idx" "$WWW/index.html" || fail "--tls-no-verify: index.html differs"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "--tls-no-verify: ok"

# ---- 4. right CA, wrong name
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=$UP" --tls-ca-file "$CERT" --tcp-tls-sni wrong.example --tail
rc=0
curl -sS --max-time 10 -o "$E2E_TMP/w.idx" "http://127.0.0.1:$P/index.html" 2>/dev/null || rc=$?
[ "$rc" != 0 ] || fail "curl succeeded although the certificate does not name wrong.example"
wait_for_line "$FAULT_OUT" ' #1 close .*error=TLS handshake failed' "$FAULT_PID"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "host name verified: ok"
