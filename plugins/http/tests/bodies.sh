#!/usr/bin/env bash
# plugins/http/tests/bodies.sh - whole bodies for HTTP hooks (SDK 1.2:
# fault_http_want_body, fault_http_body, fault_http_set_body,
# fault_http_set_method/_path), through the forward proxy with curl and the
# test upstream, driven by hookprobe with --hookprobe-body-limit 4096:
#
#  1. a request body (Content-Length, then chunked, then with Expect:
#     100-continue) reaches on_request whole: the hook's hash of it matches;
#  2. bodies over the limit (Content-Length and chunked) are not held: the
#     hook gets none, and without an answer they reach the upstream intact;
#  3. on_request changes method, path and body: the upstream sees PUT
#     /echo with the new body and a matching length;
#  4. invalid paths and methods are refused by the setters;
#  5. a response body (Content-Length, chunked, close-delimited) reaches
#     on_response whole and its replacement goes out with a Content-Length;
#     a response over the limit streams, intact, with the hook told none;
#  6. on_body hooks: response pieces upper-cased (sent chunked), request
#     pieces lower-cased (held or streamed), a piece doubled in length, a
#     piece delayed 300 ms, a reset from the hook; on_body_end (SDK 1.3)
#     told the end of a response (with its length) and of a request, and
#     its final bytes sent before the end.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

probe="$top_builddir/plugins/http/tests/.libs/hookprobe.so"
[ -f "$probe" ] || fail "$probe was not built (make check builds it)"
export FAULT_PLUGIN_PATH="$FAULT_PLUGIN_PATH:$top_builddir/plugins/http/tests/.libs"

start_upstream
UP=http://127.0.0.1:$UP_PORT
PP=$(free_port)
start_fault --log-file "$E2E_TMP/fault.log" run --proxy-address "127.0.0.1:$PP" --with-hookprobe \
	--hookprobe-body-limit 4096
C=(curl -sS --noproxy '' -x "http://127.0.0.1:$PP" --max-time 10)

fnv() { python3 -c '
import sys
h = 1469598103934665603
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 1099511628211) % (1 << 64)
print("%016x" % h)' "$1"; }

# ---- 1. held request bodies
printf 'hello, hooks' >"$E2E_TMP/small"
want="held=12 fnv=$(fnv "$E2E_TMP/small")"
out=$("${C[@]}" -H 'X-Probe: body-echo' --data-binary @"$E2E_TMP/small" "$UP/a")
[ "$out" = "$want" ] || fail "Content-Length body: '$out', want '$want'"
out=$("${C[@]}" -H 'X-Probe: body-echo' -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/small" "$UP/a")
[ "$out" = "$want" ] || fail "chunked body: '$out', want '$want'"
head -c 4000 /dev/urandom >"$E2E_TMP/mid"
want="held=4000 fnv=$(fnv "$E2E_TMP/mid")"
out=$("${C[@]}" -H 'X-Probe: body-echo' -H 'Expect: 100-continue' --data-binary @"$E2E_TMP/mid" "$UP/a")
[ "$out" = "$want" ] || fail "100-continue body: '$out', want '$want'"
note "request bodies held whole (Content-Length, chunked, 100-continue)"

# ---- 2. over the limit
head -c 50000 /dev/urandom >"$E2E_TMP/big"
sha=$(sha256sum "$E2E_TMP/big" | cut -d' ' -f1)
out=$("${C[@]}" -H 'X-Probe: body-echo' --data-binary @"$E2E_TMP/big" "$UP/a")
[ "$out" = "held=none" ] || fail "Content-Length over the limit: '$out'"
out=$("${C[@]}" -H 'X-Probe: body-echo' -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/big" "$UP/a")
[ "$out" = "held=none" ] || fail "chunked over the limit: '$out'"
out=$("${C[@]}" --data-binary @"$E2E_TMP/big" "$UP/echo")
[[ "$out" = "len=50000 sha256=$sha "* ]] || fail "Content-Length over the limit, upstream got '$out'"
out=$("${C[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/big" "$UP/echo")
[[ "$out" = "len=50000 sha256=$sha "* ]] || fail "chunked over the limit, upstream got '$out'"
# A chunked body that crosses the limit in a later read than its head, and
# goes on in reads after that: three writes, 50 ms apart so that the proxy
# reads them separately (whatever the split, the body must arrive whole;
# an empty piece sent as a chunk used to end it at the crossing).
out=$(python3 - "$PP" "$UP_PORT" "$E2E_TMP/big" <<'PY'
import socket, sys, time
pp, up, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
head = b"POST http://127.0.0.1:%d/echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nTransfer-Encoding: chunked\r\n\r\n" % (up, up)
msg = head + b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n"
s = socket.create_connection(("127.0.0.1", pp), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for a, b in ((0, 300), (300, 5000), (5000, len(msg))):
    s.sendall(msg[a:b])
    time.sleep(0.05)
r = b""
while not (b"\r\n\r\n" in r and r.endswith(b"\n")):
    d = s.recv(65536)
    if not d:
        break
    r += d
print(r.split(b"\r\n\r\n", 1)[-1].decode().strip())
PY
)
[[ "$out" = "len=50000 sha256=$sha "* ]] || fail "chunked over the limit in three reads, upstream got '$out'"
# A held body that needs no change goes on with its own bytes.
out=$("${C[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/mid" "$UP/echo")
[[ "$out" = "len=4000 sha256=$(sha256sum "$E2E_TMP/mid" | cut -d' ' -f1) "* ]] ||
	fail "held chunked body, upstream got '$out'"
note "bodies over the limit stream to the upstream intact; the hook is told none"

# ---- 3. method, path and body changed by the hook
out=$("${C[@]}" -H 'X-Probe: body-rewrite' --data-binary 'original' "$UP/orig")
nsha=$(printf 'rewritten body' | sha256sum | cut -d' ' -f1)
[[ "$out" = "len=14 sha256=$nsha "* ]] || fail "rewritten request: upstream answered '$out'"
grep -q 'req [0-9]* PUT /echo$' "$UP_LOG" || fail "the upstream did not see PUT /echo: $(cat "$UP_LOG")"
grep -q ' /orig$' "$UP_LOG" && fail "the upstream saw the original path"
note "on_request changed method, path and body: the upstream saw PUT /echo, 14 bytes"

# ---- 4. setters refuse what would break the request line
out=$("${C[@]}" -H 'X-Probe: bad-path' "$UP/x")
[ "$out" = "einval" ] || fail "invalid path or method accepted: '$out'"

# ---- 5. response bodies
hdrs=$("${C[@]}" -H 'X-Probe: resp-body' -D - -o "$E2E_TMP/r1" "$UP/p6" | tr -d '\r')
[ "$(cat "$E2E_TMP/r1")" = "PATH=/P6" ] || fail "Content-Length response: '$(cat "$E2E_TMP/r1")'"
grep -qi '^x-held-len: 9$' <<<"$hdrs" || fail "X-Held-Len: $hdrs"
grep -qi '^content-length: 9$' <<<"$hdrs" || fail "no Content-Length on the held response: $hdrs"
out=$("${C[@]}" -H 'X-Probe: resp-body' "$UP/bytes?n=3000")
want=$(python3 -c 'print(("0123456789" * 300)[:3000], end="")')
[ "$out" = "$want" ] || fail "chunked response held: ${#out} bytes"
out=$("${C[@]}" -H 'X-Probe: resp-body' "$UP/eofbody")
[ "$out" = "UNTIL-EOF" ] || fail "close-delimited response held: '$out'"
hdrs=$("${C[@]}" -H 'X-Probe: resp-body' -D - -o "$E2E_TMP/r2" "$UP/bytes?n=100000" | tr -d '\r')
grep -qi '^x-held-len: none$' <<<"$hdrs" || fail "large response: X-Held-Len: $hdrs"
python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(d != (b"0123456789" * 10000))' \
	"$E2E_TMP/r2" || fail "large response not intact ($(wc -c <"$E2E_TMP/r2") bytes)"
note "response bodies held whole and replaced; a large one streams intact"

# The proxy is still healthy.
out=$("${C[@]}" "$UP/last")
[ "$out" = "path=/last" ] || fail "proxy unhealthy after the body tests: '$out'"

# ---- 6. streamed bodies through on_body (hookprobe has the hook)
hdrs=$("${C[@]}" -H 'X-Probe: body-upper' -D - -o "$E2E_TMP/r3" "$UP/bytes?n=100000" | tr -d '\r')
grep -qi '^transfer-encoding: chunked$' <<<"$hdrs" || fail "on_body response not chunked: $hdrs"
python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(d != (b"0123456789" * 10000))' \
	"$E2E_TMP/r3" || fail "on_body response changed digits ($(wc -c <"$E2E_TMP/r3") bytes)"
out=$("${C[@]}" -H 'X-Probe: body-upper' "$UP/p7")
[ "$out" = "PATH=/P7" ] || fail "on_body upper-case response: '$out'"
out=$("${C[@]}" -H 'X-Probe: body-upper' --data-binary 'MiXeD CaSe' "$UP/echo")
want=$(printf 'mixed case' | sha256sum | cut -d' ' -f1)
[[ "$out" = "LEN=10 SHA256=$(tr a-z A-Z <<<"$want") "* ]] || fail "on_body request lower-case: '$out'"
head -c 20000 /dev/urandom | tr -d 'A-Z' >"$E2E_TMP/lower"
want=$(sha256sum "$E2E_TMP/lower" | cut -d' ' -f1)
out=$("${C[@]}" -H 'X-Probe: body-upper' -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/lower" "$UP/echo")
[[ "$out" = "LEN=$(wc -c <"$E2E_TMP/lower") SHA256=$(tr a-z A-Z <<<"$want") "* ]] ||
	fail "on_body on a streamed (over the limit) request: '$out'"
out=$("${C[@]}" -H 'X-Probe: body-grow' "$UP/p8")
[ "$out" = "path=/p8
path=/p8" ] || fail "on_body doubling: '$out'"
# on_body_end (SDK 1.3): the end of each body, after its last piece, with
# its length, and room for final bytes.
out=$("${C[@]}" -H 'X-Probe: body-end' "$UP/p8")
[ "$out" = "path=/p8
end at 9" ] || fail "on_body_end on a response: '$out'"
out=$("${C[@]}" -H 'X-Probe: body-end' --data-binary 'abc' "$UP/echo")
[[ "$out" = "len=7 sha256=$(printf 'abcend\n' | sha256sum | cut -d' ' -f1) "*$'\n'"end at "* ]] ||
	fail "on_body_end on a request: '$out'"
# 300 ms per piece: the one-piece body of /p9 arrives >= 300 ms late
# (tolerance: the timer may fire late, never early).
t=$("${C[@]}" -H 'X-Probe: body-delay' -o /dev/null -w '%{time_total}' "$UP/p9")
ms=$(ms_diff 0 "$t")
[ "$ms" -ge 295 ] || fail "on_body delay: answered in $ms ms, want >= 300"
code=$("${C[@]}" -H 'X-Probe: body-cut' -o /dev/null -w '%{http_code}' "$UP/p10" 2>/dev/null) &&
	fail "on_body reset: curl succeeded ($code)"
out=$("${C[@]}" "$UP/after-cut")
[ "$out" = "path=/after-cut" ] || fail "proxy unhealthy after an on_body reset: '$out'"
note "on_body: pieces changed in place both ways, doubled, delayed ($ms ms), reset; on_body_end adds final bytes to both"
