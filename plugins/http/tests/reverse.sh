#!/usr/bin/env bash
# plugins/http/tests/reverse.sh - reverse mappings and the upstream
# override.
#
#  1. --proxy P=http://127.0.0.1:NGINX (served by this plugin, not the tcp
#     relay): origin-form requests reach nginx, keep-alive works, Host is
#     rewritten to the upstream's;
#  2. --proxy P=https://127.0.0.1:TLS with --tls-ca-file: TLS originated
#     and verified, files identical; the same upstream without the CA: 502
#     saying the TLS handshake failed; with --tls-no-verify: works;
#  3. --http-upstream-override http://127.0.0.1:UP: a forward-proxy request
#     for http://app.example/x goes to that upstream, Host kept as
#     app.example; an https:// override (with the CA) reaches nginx TLS;
#  4. a latency fault applies to the mapping.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_nginx --tls
printf 'reverse\n' >"$WWW/index.html"
make_file "$WWW/2m.bin" $((2 * 1024 * 1024))
start_upstream

# ---- 1. http:// mapping
P=$(free_port)
Q=$(free_port)
start_fault run --disable-http-proxy --tail --proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT" \
	--proxy "127.0.0.1:$Q=http://127.0.0.1:$UP_PORT"
grep -q "^fault: listening on 127.0.0.1:$P -> 127.0.0.1:$NGINX_PORT (http)" "$FAULT_OUT" ||
	wait_for_line "$FAULT_OUT" "^fault: listening on 127.0.0.1:$P -> 127.0.0.1:$NGINX_PORT \(http\)" "$FAULT_PID"
curl -sS --fail --max-time 10 -o "$E2E_TMP/a" -o "$E2E_TMP/b" "http://127.0.0.1:$P/index.html" \
	"http://127.0.0.1:$P/2m.bin" || fail "curl through the http mapping"
cmp -s "$E2E_TMP/a" "$WWW/index.html" && cmp -s "$E2E_TMP/b" "$WWW/2m.bin" || fail "bodies differ"
wait_for_line "$FAULT_OUT" '#1 close' "$FAULT_PID"
[ "$(grep -c ' open ' "$FAULT_OUT")" = 1 ] || fail "two requests did not share one client connection"
host=$(curl -sS --fail --max-time 10 -H 'Host: client.example' "http://127.0.0.1:$Q/host") ||
	fail "curl /host"
[ "$host" = "host=127.0.0.1:$UP_PORT" ] || fail "Host sent upstream: '$host'"
note "http:// mapping: ok, keep-alive, $host"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"

# ---- 2. https:// mapping
P=$(free_port)
start_fault run --disable-http-proxy --tls-ca-file "$CERT" \
	--proxy "127.0.0.1:$P=https://127.0.0.1:$NGINX_TLS_PORT"
curl -sS --fail --max-time 10 -o "$E2E_TMP/c" "http://127.0.0.1:$P/2m.bin" || fail "https mapping"
cmp -s "$E2E_TMP/c" "$WWW/2m.bin" || fail "https mapping: body differs"
stop_pid "$FAULT_PID"
P=$(free_port)
start_fault run --disable-http-proxy --proxy "127.0.0.1:$P=https://localhost:$NGINX_TLS_PORT"
code=$(curl -sS --max-time 10 -o "$E2E_TMP/d" -w '%{http_code}' "http://127.0.0.1:$P/index.html") ||
	fail "curl (no CA)"
[ "$code" = 502 ] || fail "unverifiable upstream: HTTP $code, want 502"
grep -q 'TLS handshake' "$E2E_TMP/d" || fail "502 body: $(cat "$E2E_TMP/d")"
stop_pid "$FAULT_PID"
P=$(free_port)
start_fault run --disable-http-proxy --tls-no-verify --proxy "127.0.0.1:$P=https://localhost:$NGINX_TLS_PORT"
curl -sS --fail --max-time 10 -o "$E2E_TMP/e" "http://127.0.0.1:$P/index.html" || fail "--tls-no-verify"
cmp -s "$E2E_TMP/e" "$WWW/index.html" || fail "--tls-no-verify: body differs"
stop_pid "$FAULT_PID"
note "https:// mapping: verified with the CA, 502 without it, --tls-no-verify works"

# ---- 3. override
start_proxy --http-upstream-override "http://127.0.0.1:$UP_PORT"
host=$(curl -sS --fail --max-time 10 --noproxy '' -x "$PROXY" "http://app.example/host") ||
	fail "override"
[ "$host" = "host=app.example" ] || fail "override: '$host'"
stop_pid "$FAULT_PID"
start_proxy --http-upstream-override "https://127.0.0.1:$NGINX_TLS_PORT" --tls-ca-file "$CERT"
curl -sS --fail --max-time 10 --noproxy '' -x "$PROXY" -o "$E2E_TMP/f" "http://app.example/index.html" ||
	fail "https override"
cmp -s "$E2E_TMP/f" "$WWW/index.html" || fail "https override: body differs"
stop_pid "$FAULT_PID"
note "--http-upstream-override: http and https"

# ---- 4. faults on a mapping
P=$(free_port)
start_fault run --disable-http-proxy --proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT" \
	--with-latency --latency-mean 300 --latency-stddev 0
t=$(curl -sS --fail --max-time 10 -o /dev/null -w '%{time_total}' "http://127.0.0.1:$P/index.html") ||
	fail "curl with latency"
ms=$(ms_diff 0 "$t")
[ "$ms" -ge 295 ] || fail "mapping with 300 ms latency: $ms ms"
stop_pid "$FAULT_PID"
note "latency on a mapping: $ms ms"
