#!/usr/bin/env bash
# plugins/http/tests/errors.sh - what the forward proxy answers when the
# upstream or the request is at fault:
#
#  1. nothing listens at the upstream port: 502, body says "refused";
#  2. the host name does not resolve: 502, body says "resolve";
#  3. an upstream that answers after 5 s with --http-upstream-timeout 1s:
#     504 after 1 s (tolerance: 0.9 s to 3.5 s, for a loaded machine);
#  4. an upstream that resets the connection in the middle of a body: the
#     client sees an incomplete transfer (curl exit 18 or 56, fewer bytes
#     than announced), never a success;
#  5. a body delimited by the upstream closing: delivered whole (re-framed
#     chunked for the HTTP/1.1 client);
#  6. a malformed request: 400, then the proxy closes the connection; a
#     head over 64 KiB: 431;
#  7. an upstream answering 101 unasked, or with a head over 64 KiB
#     (ending exactly where llhttp's field-complete callback refuses it):
#     502 whose body says so in words, never an llhttp callback's name;
#  8. the proxy still serves normal requests after all that.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_upstream
UP=http://127.0.0.1:$UP_PORT
start_proxy --http-upstream-timeout 1s --tail
C=(curl -sS --noproxy '' -x "$PROXY" --max-time 20)

# ---- 1. refused
RP=$(free_port)
code=$("${C[@]}" -o "$E2E_TMP/b1" -w '%{http_code}' "http://127.0.0.1:$RP/x") || fail "curl (refused)"
[ "$code" = 502 ] || fail "refused upstream: HTTP $code, want 502"
grep -qi refused "$E2E_TMP/b1" || fail "refused upstream: body does not say why: $(cat "$E2E_TMP/b1")"
note "refused: 502, '$(cat "$E2E_TMP/b1")'"

# ---- 2. unresolvable
code=$("${C[@]}" -o "$E2E_TMP/b2" -w '%{http_code}' "http://no-such-host.invalid/x") ||
	fail "curl (unresolvable)"
[ "$code" = 502 ] || fail "unresolvable host: HTTP $code, want 502"
grep -qi resolve "$E2E_TMP/b2" || fail "unresolvable: body does not say why: $(cat "$E2E_TMP/b2")"
note "unresolvable: 502, '$(cat "$E2E_TMP/b2")'"

# ---- 3. slow upstream
read -r code t <<<"$("${C[@]}" -o "$E2E_TMP/b3" -w '%{http_code} %{time_total}' "$UP/slow?s=5")" ||
	fail "curl (slow)"
[ "$code" = 504 ] || fail "slow upstream: HTTP $code, want 504"
ms=$(ms_diff 0 "$t")
[ "$ms" -ge 900 ] && [ "$ms" -le 3500 ] || fail "slow upstream: 504 after $ms ms, want 900..3500"
note "slow upstream: 504 after $ms ms ('$(cat "$E2E_TMP/b3")')"

# ---- 4. reset in the middle of the body
rc=0
"${C[@]}" -o "$E2E_TMP/b4" -w '%{http_code} %{size_download}' "$UP/reset" >"$E2E_TMP/r4" 2>"$E2E_TMP/e4" || rc=$?
case $rc in 18 | 56) ;; *) fail "reset mid-body: curl exit $rc ($(cat "$E2E_TMP/e4")), want 18 or 56" ;; esac
size=$(stat -c %s "$E2E_TMP/b4")
[ "$size" -lt 1000000 ] || fail "reset mid-body: got all $size bytes"
note "reset mid-body: curl exit $rc after $size of 1000000 bytes"

# ---- 5. body delimited by the upstream's close
out=$("${C[@]}" --fail "$UP/eofbody") || fail "eof-delimited body"
[ "$out" = until-eof ] || fail "eof-delimited body: '$out'"
note "close-delimited body: delivered"

# ---- 6. malformed requests
python3 - "$PP" <<'PY' || fail "malformed request"
import socket, sys, time
pp = int(sys.argv[1])
for req, want in ((b"THIS IS NOT HTTP\r\n\r\n", b"HTTP/1.1 400 "),
                  (b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
                   b"HTTP/1.1 431 ")):
    s = socket.create_connection(("127.0.0.1", pp), timeout=5)
    s.sendall(req)
    data = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            sys.exit("connection reset instead of an answer (got %r)" % data[:60])
        if not d:
            break
        data += d
    else:
        sys.exit("connection still open 5 s after the answer: %r" % data[:80])
    if not data.startswith(want):
        sys.exit("answer %r, want %r" % (data[:60], want))
    print(data.split(b"\r\n", 1)[0].decode())
PY
note "malformed request: 400 and closed; huge head: 431 and closed"

# ---- 7. bad responses, said in words
for path in switch bighead; do
	code=$("${C[@]}" -o "$E2E_TMP/b7" -w '%{http_code}' "$UP/$path") || fail "curl ($path)"
	[ "$code" = 502 ] || fail "/$path: HTTP $code, want 502"
	grep -qi 'callback' "$E2E_TMP/b7" && fail "/$path: the body names a callback: $(cat "$E2E_TMP/b7")"
	case $path in
	switch) want='switched protocols' ;;
	bighead) want='response head too large' ;;
	esac
	grep -q "$want" "$E2E_TMP/b7" || fail "/$path: body '$(cat "$E2E_TMP/b7")' does not say '$want'"
	note "/$path: 502, '$(cat "$E2E_TMP/b7")'"
done

# ---- 8. still fine
out=$("${C[@]}" --fail "$UP/after") || fail "request after the errors"
[ "$out" = "path=/after" ] || fail "request after the errors: '$out'"
kill -0 "$FAULT_PID" || fail "fault died"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "still serving after errors; clean exit"
