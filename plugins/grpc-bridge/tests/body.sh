#!/usr/bin/env bash
# plugins/grpc-bridge/tests/body.sh - HTTP bodies and request changes through
# a remote plugin (rplugin.py --mode body), with curl through the forward
# proxy and the http plugin's test upstream (which answers /echo with the
# length and SHA-256 of the body it got, and logs "req K METHOD PATH"),
# --grpc-plugin-body-limit 4096:
#
#  1. ProcessHttpRequest gets the request body (the hash it logs matches),
#     ProcessHttpResponse the response body, whose upper-case copy the
#     client receives with a matching Content-Length;
#  2. modified_request with another method, path and body: the upstream
#     gets PUT /echo and the plugin's body;
#  3. a body over the limit reaches the upstream intact and the plugin gets
#     an empty one;
#  4. the same through a reverse mapping spoken to in HTTP/2 (h2c, curl
#     --http2-prior-knowledge): bodies both ways per stream.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/grpc-bridge/tests/common.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

"$FAULT" run --help 2>/dev/null | grep -q -- '--proxy-address' ||
	skip "the http plugin (HTTP forward proxy, --proxy-address) is not built"

start_upstream
UP=http://127.0.0.1:$UP_PORT
B=$E2E_TMP/b.log
start_rplugin "$B" --mode body --name B --caps http
LOG=$E2E_TMP/fault.log
PP=$(free_port)
MP=$(free_port)
start_fault --log-file "$LOG" run --proxy-address "127.0.0.1:$PP" \
	--proxy "127.0.0.1:$MP=http://127.0.0.1:$UP_PORT" \
	--grpc-plugin "http://127.0.0.1:$RP_PORT" --grpc-plugin-body-limit 4096
wait_count "$LOG" 'remote plugin 1 .*: enabled for' 1 "$FAULT_PID"
C=(curl -sS --noproxy '' -x "http://127.0.0.1:$PP" --max-time 20)
upper() { tr 'a-z' 'A-Z'; }

# ---- 1. bodies both ways
head -c 3000 /dev/urandom >"$E2E_TMP/req"
sha=$(sha256sum "$E2E_TMP/req" | cut -d' ' -f1)
hdrs=$("${C[@]}" -D - -o "$E2E_TMP/resp" --data-binary @"$E2E_TMP/req" "$UP/echo" | tr -d '\r')
grep -qx "http_req_body 3000 $sha" "$B" || fail "ProcessHttpRequest body: $(grep body "$B")"
got=$(cat "$E2E_TMP/resp")
[[ "$got" = "LEN=3000 SHA256=$(upper <<<"$sha") CONN="* ]] || fail "response body: '$got'"
grep -qx "http_resp_body $(wc -c <"$E2E_TMP/resp")" "$B" ||
	fail "ProcessHttpResponse body: $(grep resp_body "$B")"
grep -qix "content-length: $(wc -c <"$E2E_TMP/resp")" <<<"$hdrs" || fail "Content-Length: $hdrs"
note "request body (3000 bytes) and response body reached the plugin; its upper-case body reached curl"

# ---- 2. method, path and body changed by the plugin
got=$("${C[@]}" --data-binary 'original' "$UP/rewrite-me")
nsha=$(printf 'body from plugin' | sha256sum | cut -d' ' -f1)
[[ "$got" = "LEN=16 SHA256=$(upper <<<"$nsha") "* ]] || fail "rewritten request: '$got'"
grep -q '^req [0-9]* PUT /echo$' "$UP_LOG" || fail "upstream did not get PUT /echo: $(cat "$UP_LOG")"
grep -q 'rewrite-me' "$UP_LOG" && fail "the upstream saw the original path"
note "modified_request: PUT /echo with the plugin's 16-byte body"

# ---- 3. over the limit
head -c 20000 /dev/urandom >"$E2E_TMP/big"
bsha=$(sha256sum "$E2E_TMP/big" | cut -d' ' -f1)
got=$("${C[@]}" --data-binary @"$E2E_TMP/big" "$UP/echo")
[[ "$got" = "LEN=20000 SHA256=$(upper <<<"$bsha") "* ]] || fail "large body: '$got'"
grep -qx "http_req_body 0 $(sha256sum </dev/null | cut -d' ' -f1)" "$B" ||
	fail "the plugin should have got an empty body: $(grep req_body "$B")"
note "a 20000-byte body streamed past the plugin (which got none) intact"

# ---- 4. HTTP/2 client streams
head -c 2500 /dev/urandom >"$E2E_TMP/req2"
sha2=$(sha256sum "$E2E_TMP/req2" | cut -d' ' -f1)
got=$(curl -sS --noproxy '*' --max-time 20 --http2-prior-knowledge --data-binary @"$E2E_TMP/req2" \
	"http://127.0.0.1:$MP/echo")
grep -qx "http_req_body 2500 $sha2" "$B" || fail "h2c: ProcessHttpRequest body: $(grep req_body "$B")"
[[ "$got" = "LEN=2500 SHA256=$(upper <<<"$sha2") CONN="* ]] || fail "h2c: response body: '$got'"
got=$(curl -sS --noproxy '*' --max-time 20 --http2-prior-knowledge --data-binary 'x' \
	"http://127.0.0.1:$MP/rewrite-h2")
[[ "$got" = "LEN=16 SHA256=$(upper <<<"$nsha") "* ]] || fail "h2c: rewritten request: '$got'"
[ "$(grep -c '^req [0-9]* PUT /echo$' "$UP_LOG")" = 2 ] || fail "h2c: upstream did not get PUT /echo"
note "HTTP/2 client streams: bodies to and from the plugin, request rewritten"
