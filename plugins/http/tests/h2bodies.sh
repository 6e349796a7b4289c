#!/usr/bin/env bash
# plugins/http/tests/h2bodies.sh - bodies for HTTP hooks (SDK 1.2) on
# HTTP/2 client streams: bodies.sh for clients speaking h2c with prior
# knowledge (curl --http2-prior-knowledge, nghttp), on two reverse mappings
# of one fault: one to the test upstream in HTTP/1.1, one to nginx `listen
# ssl http2` (which proxies to the same upstream), so both upstream legs of
# a client stream are covered. hookprobe runs with --hookprobe-body-limit
# 4096; a second fault with a 1 MB limit checks the flow control of held
# bodies (larger than the 256 KiB stream window). For each upstream kind:
#
#  1. a request body (with content-length, without: curl's chunked TE over
#     h2, nghttp -d) reaches on_request whole: the hook's hash matches;
#  2. bodies over the limit are not held: the hook gets none; without an
#     answer they reach the upstream intact (sha256);
#  3. on_request changes method, path and body: the upstream sees PUT
#     /echo?rewritten with the new body and a matching length;
#  4. invalid paths and methods are refused by the setters;
#  5. a response body (content-length, chunked, close-delimited) reaches
#     on_response whole, its replacement goes out with a content-length; a
#     response over the limit streams intact with the hook told none;
#  6. on_body: response pieces upper-cased (no content-length then),
#     request pieces lower-cased (held or streamed, 3 MiB), a piece doubled,
#     a piece delayed 300 ms, a reset from the hook; the proxy still serves;
#     on_body_end (SDK 1.3) adds final bytes to a response in DATA frames;
#  7. (1 MB limit) a 700 kB request body and a 600 kB response body are
#     held whole: the windows open as they are read.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99
command -v nghttp >/dev/null 2>&1 || skip "nghttp (nghttp2-client) is not installed"
curl -V | grep -q HTTP2 || skip "curl has no HTTP/2"

probe="$top_builddir/plugins/http/tests/.libs/hookprobe.so"
[ -f "$probe" ] || fail "$probe was not built (make check builds it)"
export FAULT_PLUGIN_PATH="$FAULT_PLUGIN_PATH:$top_builddir/plugins/http/tests/.libs"

start_upstream
start_nginx --tls
H2_EXTRA="client_max_body_size 0; location / { proxy_pass http://127.0.0.1:$UP_PORT; proxy_http_version 1.1; proxy_request_buffering off; proxy_buffering off; }"
start_nginx_h2 || skip "nginx has no HTTP/2 module"

P1=$(free_port)
P2=$(free_port)
start_fault --log-file "$E2E_TMP/fault.log" run --disable-http-proxy --tls-ca-file "$CERT" \
	--proxy "127.0.0.1:$P1=http://127.0.0.1:$UP_PORT" --proxy "127.0.0.1:$P2=https://127.0.0.1:$H2_PORT" \
	--with-hookprobe --hookprobe-body-limit 4096
C=(curl -sS --noproxy '*' --max-time 10 --http2-prior-knowledge)

fnv() { python3 -c '
import sys
h = 1469598103934665603
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 1099511628211) % (1 << 64)
print("%016x" % h)' "$1"; }
upper() { tr a-z A-Z <<<"$1"; }

printf 'hello, hooks' >"$E2E_TMP/small"
head -c 4000 /dev/urandom >"$E2E_TMP/mid"
head -c 50000 /dev/urandom >"$E2E_TMP/big"
head -c 5000 /dev/urandom >"$E2E_TMP/5000"
head -c 20000 /dev/urandom | tr -d 'A-Z' >"$E2E_TMP/lower"
head -c $((3 * 1024 * 1024)) /dev/urandom | tr -d 'A-Z' >"$E2E_TMP/lower3m"
sha() { sha256sum "$1" | cut -d' ' -f1; }

for kind in h1 h2; do
	if [ "$kind" = h1 ]; then P=$P1; else P=$P2; fi
	U=http://127.0.0.1:$P
	n0=$(wc -l <"$H2_LOG")

	# ---- 1. held request bodies
	want="held=12 fnv=$(fnv "$E2E_TMP/small")"
	out=$("${C[@]}" -H 'X-Probe: body-echo' --data-binary @"$E2E_TMP/small" "$U/a")
	[ "$out" = "$want" ] || fail "$kind: body with content-length: '$out', want '$want'"
	out=$("${C[@]}" -H 'X-Probe: body-echo' -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/small" "$U/a")
	[ "$out" = "$want" ] || fail "$kind: body without content-length: '$out', want '$want'"
	want="held=4000 fnv=$(fnv "$E2E_TMP/mid")"
	nghttp -d "$E2E_TMP/mid" -H 'x-probe: body-echo' "$U/a" >"$E2E_TMP/ng1" 2>"$E2E_TMP/ng1.err" ||
		fail "$kind: nghttp -d: $(tail -3 "$E2E_TMP/ng1.err")"
	[ "$(cat "$E2E_TMP/ng1")" = "$want" ] || fail "$kind: nghttp -d body: '$(cat "$E2E_TMP/ng1")', want '$want'"
	note "$kind: request bodies held whole (content-length, none, nghttp -d)"

	# ---- 2. over the limit
	s=$(sha "$E2E_TMP/big")
	# The hook answers before the request ended, then RST_STREAM NO_ERROR
	# (RFC 9113 8.1), which curl 7.88 may report as an error while still
	# uploading: nghttp for the large body; curl's 5000 bytes (over the
	# limit, no content-length) go in one DATA frame with END_STREAM.
	nghttp -d "$E2E_TMP/big" -H 'x-probe: body-echo' "$U/a" >"$E2E_TMP/ng2" 2>"$E2E_TMP/ng2.err" ||
		fail "$kind: nghttp -d big: $(tail -3 "$E2E_TMP/ng2.err")"
	[ "$(cat "$E2E_TMP/ng2")" = "held=none" ] || fail "$kind: content-length over the limit: '$(cat "$E2E_TMP/ng2")'"
	out=$("${C[@]}" -H 'X-Probe: body-echo' -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/5000" "$U/a")
	[ "$out" = "held=none" ] || fail "$kind: no content-length, over the limit: '$out'"
	out=$("${C[@]}" -H 'X-Probe: none' --data-binary @"$E2E_TMP/big" "$U/echo")
	[[ "$out" = "len=50000 sha256=$s "* ]] || fail "$kind: content-length over the limit, upstream got '$out'"
	out=$("${C[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/big" "$U/echo")
	[[ "$out" = "len=50000 sha256=$s "* ]] || fail "$kind: over the limit without length, upstream got '$out'"
	out=$("${C[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/mid" "$U/echo")
	[[ "$out" = "len=4000 sha256=$(sha "$E2E_TMP/mid") "* ]] || fail "$kind: held body unchanged, upstream got '$out'"
	note "$kind: bodies over the limit stream intact; the hook is told none"

	# ---- 3. method, path and body changed by the hook
	if [ "$kind" = h2 ]; then h2_mark; fi
	out=$("${C[@]}" -H 'X-Probe: body-rewrite' --data-binary 'original' "$U/orig")
	[[ "$out" = "len=14 sha256=$(printf 'rewritten body' | sha256sum | cut -d' ' -f1) "* ]] ||
		fail "$kind: rewritten request: upstream answered '$out'"
	[ "$(grep "^req " "$UP_LOG" | tail -n 1 | cut -d' ' -f3-)" = "PUT /echo" ] ||
		fail "$kind: the upstream did not see PUT /echo: $(tail -n 3 "$UP_LOG")"
	grep -q ' /orig$' "$UP_LOG" && fail "$kind: the upstream saw the original path"
	if [ "$kind" = h2 ]; then
		line=$(h2_next)
		[ "$line" = "PUT /echo 200 HTTP/2.0" ] || fail "h2: nginx got $line"
	fi

	# ---- 4. setters refuse what would break the request
	out=$("${C[@]}" -H 'X-Probe: bad-path' "$U/x")
	[ "$out" = "einval" ] || fail "$kind: invalid path or method accepted: '$out'"
	note "$kind: on_request changed method, path and body; bad ones refused"

	# ---- 5. response bodies
	hdrs=$("${C[@]}" -H 'X-Probe: resp-body' -D - -o "$E2E_TMP/r1" "$U/p6" | tr -d '\r')
	[ "$(cat "$E2E_TMP/r1")" = "PATH=/P6" ] || fail "$kind: held response: '$(cat "$E2E_TMP/r1")'"
	grep -qi '^x-held-len: 9$' <<<"$hdrs" || fail "$kind: x-held-len: $hdrs"
	grep -qi '^content-length: 9$' <<<"$hdrs" || fail "$kind: no content-length on the held response: $hdrs"
	out=$("${C[@]}" -H 'X-Probe: resp-body' "$U/bytes?n=3000")
	[ "$out" = "$(python3 -c 'print(("0123456789" * 300)[:3000], end="")')" ] ||
		fail "$kind: chunked response held: ${#out} bytes"
	out=$("${C[@]}" -H 'X-Probe: resp-body' "$U/eofbody")
	[ "$out" = "UNTIL-EOF" ] || fail "$kind: close-delimited response held: '$out'"
	hdrs=$("${C[@]}" -H 'X-Probe: resp-body' -D - -o "$E2E_TMP/r2" "$U/bytes?n=100000" | tr -d '\r')
	grep -qi '^x-held-len: none$' <<<"$hdrs" || fail "$kind: large response: $hdrs"
	python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(d != (b"0123456789" * 10000))' \
		"$E2E_TMP/r2" || fail "$kind: large response not intact ($(wc -c <"$E2E_TMP/r2") bytes)"
	note "$kind: response bodies held whole and replaced; a large one streams intact"

	# ---- 6. streamed bodies through on_body
	hdrs=$("${C[@]}" -H 'X-Probe: body-upper' -D - -o "$E2E_TMP/r3" "$U/bytes?n=100000" | tr -d '\r')
	grep -qi '^content-length:' <<<"$hdrs" && fail "$kind: on_body response kept a content-length: $hdrs"
	python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(d != (b"0123456789" * 10000))' \
		"$E2E_TMP/r3" || fail "$kind: on_body response changed ($(wc -c <"$E2E_TMP/r3") bytes)"
	out=$("${C[@]}" -H 'X-Probe: body-upper' "$U/p7")
	[ "$out" = "PATH=/P7" ] || fail "$kind: on_body upper-case response: '$out'"
	out=$("${C[@]}" -H 'X-Probe: body-upper' --data-binary 'MiXeD CaSe' "$U/echo")
	want=$(printf 'mixed case' | sha256sum | cut -d' ' -f1)
	[[ "$out" = "LEN=10 SHA256=$(upper "$want") "* ]] || fail "$kind: on_body request lower-case: '$out'"
	out=$("${C[@]}" -H 'X-Probe: body-upper' -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/lower" "$U/echo")
	[[ "$out" = "LEN=$(wc -c <"$E2E_TMP/lower") SHA256=$(upper "$(sha "$E2E_TMP/lower")") "* ]] ||
		fail "$kind: on_body on a streamed request: '$out'"
	out=$("${C[@]}" --max-time 30 -H 'X-Probe: body-upper' --data-binary @"$E2E_TMP/lower3m" "$U/echo")
	[[ "$out" = "LEN=$(wc -c <"$E2E_TMP/lower3m") SHA256=$(upper "$(sha "$E2E_TMP/lower3m")") "* ]] ||
		fail "$kind: on_body on a 3 MiB request: '$out'"
	out=$("${C[@]}" -H 'X-Probe: body-grow' "$U/p8")
	[ "$out" = "path=/p8
path=/p8" ] || fail "$kind: on_body doubling: '$out'"
	out=$("${C[@]}" -H 'X-Probe: body-end' "$U/p8")
	[ "$out" = "path=/p8
end at 9" ] || fail "$kind: on_body_end on a response: '$out'"
	t=$("${C[@]}" -H 'X-Probe: body-delay' -o /dev/null -w '%{time_total}' "$U/p9")
	ms=$(ms_diff 0 "$t")
	[ "$ms" -ge 295 ] || fail "$kind: on_body delay: answered in $ms ms, want >= 300"
	code=$("${C[@]}" -H 'X-Probe: body-cut' -o /dev/null -w '%{http_code}' "$U/p10" 2>/dev/null) &&
		fail "$kind: on_body reset: curl succeeded ($code)"
	out=$("${C[@]}" "$U/after-cut")
	[ "$out" = "path=/after-cut" ] || fail "$kind: proxy unhealthy after an on_body reset: '$out'"
	# The reset ends that stream alone: its neighbour on the same
	# connection (hookprobe spares /keep paths) is answered. (nghttp: curl
	# 7.88 cannot reuse a connection after a stream error.)
	out=$(nghttp -H 'x-probe: body-cut' "$U/p11" "$U/keep1" 2>&1)
	grep -q '^path=/keep1$' <<<"$out" && grep -q 'processed=1' <<<"$out" ||
		fail "$kind: an on_body reset ended more than its stream: $out"
	note "$kind: on_body: pieces changed both ways (3 MiB up), doubled, delayed ($ms ms), reset"

	if [ "$kind" = h2 ]; then
		h2_log_wait $((n0 + 15))
		n1=$(wc -l <"$H2_LOG")
		[ $((n1 - n0)) -ge 15 ] || fail "h2: nginx saw $((n1 - n0)) requests over HTTP/2"
		sed -n "$((n0 + 1)),\$p" "$H2_LOG" | grep -v ' HTTP/2.0$' && fail "h2: requests not over HTTP/2"
	fi
done
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"

# ---- 7. held bodies larger than the stream window
start_fault --log-file "$E2E_TMP/fault2.log" run --disable-http-proxy --tls-ca-file "$CERT" \
	--proxy "127.0.0.1:$P1=http://127.0.0.1:$UP_PORT" --proxy "127.0.0.1:$P2=https://127.0.0.1:$H2_PORT" \
	--with-hookprobe --hookprobe-body-limit 1000000
head -c 700000 /dev/urandom >"$E2E_TMP/700k"
for P in $P1 $P2; do
	want="held=700000 fnv=$(fnv "$E2E_TMP/700k")"
	out=$("${C[@]}" -H 'X-Probe: body-echo' -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/700k" \
		"http://127.0.0.1:$P/a")
	[ "$out" = "$want" ] || fail "700 kB request body held (port $P): '$out'"
	hdrs=$("${C[@]}" -H 'X-Probe: resp-body' -D - -o "$E2E_TMP/r4" "http://127.0.0.1:$P/bytes?n=600000" | tr -d '\r')
	grep -qi '^x-held-len: 600000$' <<<"$hdrs" || fail "600 kB response (port $P): $hdrs"
	python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(d != (b"0123456789" * 60000))' \
		"$E2E_TMP/r4" || fail "600 kB held response not intact ($(wc -c <"$E2E_TMP/r4") bytes)"
done
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
note "bodies larger than the stream window held whole, both upstream kinds"
