#!/usr/bin/env bash
# plugins/http/tests/h2limits.sh - HTTP/2 header lists are bounded each
# way (64 KiB decoded, as an HTTP/1 head), however small the frames that
# carry them: HPACK lets a 16 KB HEADERS frame refer 16,000 times to one
# 4,000-byte table entry, 64 MB once decoded (h2bomb.py).
#
#  1. h2c bombs toward an h2c mapping (one HEADERS frame; then a HEADERS
#     and 8 CONTINUATIONs, 147 KB sent, 590 MB if decoded): the stream is
#     reset (or answered 431), fault's peak RSS (VmHWM) grows by less than
#     16 MiB (it grew by ~100 MiB and ~750 MiB before the bound) and each
#     bomb is dealt with in under 2 s; a request after the bomb on the same
#     connection, and curl on another connection, are answered by nginx;
#  2. 80 KB of plain literal headers (no table tricks): 431;
#  3. an HTTP/2 upstream (TLS, ALPN h2) that answers with a bomb: the
#     client gets 502, the peak RSS stays as bounded, the warning names
#     the upstream.
# The RSS bounds are skipped under AddressSanitizer (its quarantine keeps
# freed memory resident).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99
PY=
for p in python3 /usr/bin/python3; do
	"$p" -c 'import hpack' 2>/dev/null && PY=$p && break
done
[ -n "$PY" ] || skip "python3-hpack is not installed"
BOMB=("$PY" "$HTTP_TESTS/h2bomb.py")
C=(curl -sS --max-time 20 --noproxy '*')
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# Growth allowed over the baseline, in KiB, with a stated tolerance: the
# bound keeps at most 64 KiB of fields per stream, the rest is allocator
# slack and nghttp2's buffers.
GROWTH=$((16 * 1024))
check_rss() {
	local now grown
	now=$(hwm "$FAULT_PID")
	grown=$((now - BASE))
	note "$1: VmHWM $BASE -> $now KiB (+$grown KiB)"
	asan_build && return 0
	[ "$grown" -lt "$GROWTH" ] || fail "$1: peak RSS grew by $grown KiB (bound $GROWTH KiB)"
}

start_nginx
printf 'hello h2\n' >"$WWW/index.html"

# ---- 1. bombs from an h2c client
P=$(free_port)
start_fault run --disable-http-proxy --tail --log-file "$E2E_TMP/log" \
	--proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT"
v=$("${C[@]}" --http2-prior-knowledge --fail -o /dev/null -w '%{http_version}' "http://127.0.0.1:$P/") ||
	fail "h2c before the bomb"
[ "$v" = 2 ] || fail "curl spoke HTTP/$v"
BASE=$(hwm "$FAULT_PID")
for n in 0 8; do
	out=$(timeout 30 "${BOMB[@]}" client "$P" --continuations "$n") || fail "bomb ($n CONTINUATIONs): $out"
	grep -Eq '^bomb=(rst:[0-9]+|status:431) next=status:200 ' <<<"$out" ||
		fail "bomb ($n CONTINUATIONs): $out"
	secs=$(sed -n 's/.*secs=//p' <<<"$out")
	python3 -c "import sys; sys.exit(0 if float('$secs') < 2 else 1)" ||
		fail "bomb ($n CONTINUATIONs) took $secs s"
	check_rss "bomb with $n CONTINUATIONs ($out)"
done
code=$("${C[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/")
[ "$code" = 200 ] || fail "h2c on another connection after the bombs: $code"
wait_for_line "$E2E_TMP/log" 'request header list over 65536 bytes' "$FAULT_PID"

# ---- 2. plainly large headers: 431
out=$(timeout 30 "${BOMB[@]}" client "$P" --large) || fail "80 KB of headers: $out"
grep -Eq '^bomb=status:431 next=status:200 ' <<<"$out" || fail "80 KB of headers: $out"
# The refused request has no exchange, yet its 431 is an HTTP event (--tail).
wait_for_line "$FAULT_OUT" ' #[0-9]+ 431 \?$' "$FAULT_PID"
note "80 KB of literal headers: 431 (an HTTP event), the connection still serves"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"

# ---- 3. an HTTP/2 upstream answering with a bomb
CERT=$E2E_TMP/up-cert.pem
KEY=$E2E_TMP/up-key.pem
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$KEY" -out "$CERT" >"$E2E_TMP/openssl.log" 2>&1 ||
	fail "openssl: $(cat "$E2E_TMP/openssl.log")"
"${BOMB[@]}" upstream "$E2E_TMP/up.port" "$CERT" "$KEY" --continuations 8 >"$E2E_TMP/up.out" 2>&1 &
UPID=$!
track_pid "$UPID"
for ((i = 0; i < 500; i++)); do
	[ -s "$E2E_TMP/up.port" ] && break
	kill -0 "$UPID" 2>/dev/null || fail "h2bomb.py upstream exited: $(cat "$E2E_TMP/up.out")"
	sleep 0.01
done
U=$(cat "$E2E_TMP/up.port") || fail "h2bomb.py upstream did not start"
P=$(free_port)
start_fault run --disable-http-proxy --tail --log-file "$E2E_TMP/log3" --tls-ca-file "$CERT" \
	--proxy "127.0.0.1:$P=https://127.0.0.1:$U"
BASE=$(hwm "$FAULT_PID")
for proto in --http1.1 --http2-prior-knowledge; do
	code=$("${C[@]}" "$proto" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/") || true
	[ "$code" = 502 ] || fail "upstream bomb, client $proto: $code"
done
check_rss "two responses with a bomb from an HTTP/2 upstream"
wait_for_line "$E2E_TMP/log3" "upstream 127.0.0.1:$U: response header list over 65536 bytes" "$FAULT_PID"
note "an upstream's bomb: 502"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
