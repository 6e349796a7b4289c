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
#     chain);
#  5. an empty --tcp-tls-sni (or FAULT_TCP_TLS_SNI=) is bad input (exit
#     2, the flag named), not "check no name"; without the flag, the
#     mapping's host is what is checked (openssl s_server with a
#     certificate for other.example: refused for 127.0.0.1, accepted with
#     --tcp-tls-sni other.example).
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

# ---- 5. an empty server name is refused; the name checked is never empty
# An upstream whose certificate (its own CA) names only other.example.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other.example \
	-addext subjectAltName=DNS:other.example -keyout "$E2E_TMP/other.key" \
	-out "$E2E_TMP/other.pem" >"$E2E_TMP/openssl-other.log" 2>&1 ||
	fail "openssl: $(cat "$E2E_TMP/openssl-other.log")"
O=$(free_port)
openssl s_server -quiet -accept "127.0.0.1:$O" -cert "$E2E_TMP/other.pem" -key "$E2E_TMP/other.key" \
	-www >"$E2E_TMP/s_server.out" 2>&1 &
track_pid $!
wait_listen "$O" $!
for how in flag env; do
	rc=0
	if [ $how = flag ]; then
		timeout 10 "$FAULT" run --no-ui --proxy "127.0.0.1:$(free_port)=tls://127.0.0.1:$O" \
			--tls-ca-file "$E2E_TMP/other.pem" --tcp-tls-sni '' >"$E2E_TMP/empty.out" 2>&1 || rc=$?
	else
		FAULT_TCP_TLS_SNI= timeout 10 "$FAULT" run --no-ui --proxy "127.0.0.1:$(free_port)=tls://127.0.0.1:$O" \
			--tls-ca-file "$E2E_TMP/other.pem" >"$E2E_TMP/empty.out" 2>&1 || rc=$?
	fi
	[ "$rc" = 2 ] || fail "an empty server name ($how) gave exit status $rc: $(cat "$E2E_TMP/empty.out")"
	grep -q -- '--tcp-tls-sni' "$E2E_TMP/empty.out" ||
		fail "the message does not name --tcp-tls-sni: $(cat "$E2E_TMP/empty.out")"
done
note "empty --tcp-tls-sni / FAULT_TCP_TLS_SNI=: exit 2 ($(head -n1 "$E2E_TMP/empty.out"))"
# Without a name given, the mapping's host (127.0.0.1) is checked: the
# certificate for other.example fails; with that name, it passes.
for sni in - other.example; do
	P=$(free_port)
	extra=()
	[ "$sni" = - ] || extra=(--tcp-tls-sni "$sni")
	start_fault run --proxy "127.0.0.1:$P=tls://127.0.0.1:$O" --tls-ca-file "$E2E_TMP/other.pem" \
		"${extra[@]}" --tail
	rc=0
	out=$(curl -sS --max-time 10 "http://127.0.0.1:$P/" 2>&1) || rc=$?
	if [ "$sni" = - ]; then
		[ "$rc" != 0 ] || fail "a certificate for other.example was accepted for 127.0.0.1: $out"
		wait_for_line "$FAULT_OUT" ' #1 close .*error=TLS handshake failed' "$FAULT_PID"
	else
		[ "$rc" = 0 ] && grep -qi 's_server' <<<"$out" ||
			fail "--tcp-tls-sni other.example should pass verification (curl $rc): $out"
	fi
	stop_pid "$FAULT_PID"
done
note "the mapping's host is checked when no name is given: ok"
