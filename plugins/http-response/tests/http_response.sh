#!/usr/bin/env bash
# plugins/http-response/tests/http_response.sh - the HTTP error fault on
# the forward proxy and on a mapping, against nginx.
#
#  1. probability 1 (the default): 20 requests all answered 500 and none
#     reaches nginx (its access log does not grow); --tail shows one
#     http-response event per request, with the status;
#  2. --http-response-status 503 --http-response-body '{"error": "true"}':
#     that status and body, as application/json; a POST body is dropped
#     and the connection stays usable (keep-alive);
#  3. probability 0.3 with --seed 7 over 1000 requests on one keep-alive
#     connection: the error count lies in the binomial 99% interval
#     [263, 337] (n = 1000, p = 0.3: 300 +- 2.576 * 14.49), nginx saw
#     exactly the other requests, and a second run with the same seed gives
#     the same sequence of statuses;
#  4. --upstream naming another host: nothing is answered by the fault;
#  5. on an http:// mapping: answered too;
#  6. a status outside 100..599 is refused with exit status 2.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99
[ -f "$top_builddir/plugins/http-response/.libs/http-response.so" ] ||
	skip "the http-response plugin is not built"

start_nginx
printf 'from nginx\n' >"$WWW/index.html"
NG=http://127.0.0.1:$NGINX_PORT
ACCESS=$E2E_TMP/nginx-access.log
hits() { if [ -f "$ACCESS" ]; then wc -l <"$ACCESS"; else echo 0; fi; }

# many N PROXYPORT - N GETs on one keep-alive connection through the proxy;
# prints the statuses, one per line.
many() {
	python3 - "$1" "$2" "$NGINX_PORT" <<'PY'
import http.client, sys
n, pp, ng = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", pp, timeout=10)
for i in range(n):
    c.request("GET", "http://127.0.0.1:%d/index.html" % ng)
    r = c.getresponse()
    r.read()
    print(r.status)
PY
}

# ---- 1. always
start_proxy --with-http-response --tail
before=$(hits)
codes=$(many 20 "$PP") || fail "20 requests"
[ "$(sort -u <<<"$codes")" = 500 ] || fail "probability 1: statuses $(sort <<<"$codes" | uniq -c)"
# A request straight to nginx marks the log: once its line is there, any
# request that had reached nginx before it would be there too.
curl -sS --fail --max-time 10 -o /dev/null "$NG/index.html?marker" || fail "direct request"
wait_for_line "$ACCESS" 'GET /index.html\?marker '
[ "$(hits)" = $((before + 1)) ] || fail "requests reached nginx: access log grew from $before to $(hits) (1 expected)"
n=$(grep -c ' http-response side=server direction=ingress status=500 ' "$FAULT_OUT")
[ "$n" = 20 ] || fail "$n http-response events for 20 requests"
note "probability 1: 20 x 500, nginx untouched, 20 events"
stop_pid "$FAULT_PID"

# ---- 2. status and body
start_proxy --with-http-response --http-response-status 503 --http-response-body '{"error": "true"}'
out=$(curl -sS --noproxy '' -x "$PROXY" --max-time 10 -D "$E2E_TMP/h" -w '\n%{http_code} %{num_connects}' \
	--data-binary 'dropped' "$NG/index.html" "$NG/index.html") || fail "curl 503"
grep -q '^{"error": "true"}$' <<<"$out" || fail "body: $out"
[ "$(tail -n1 <<<"$out")" = "503 0" ] || fail "second request: status/new connections: $(tail -n1 <<<"$out")"
grep -qi '^content-type: application/json' "$E2E_TMP/h" || fail "content type: $(cat "$E2E_TMP/h")"
note "status 503 with a JSON body, connection kept"
stop_pid "$FAULT_PID"

# ---- 3. probability 0.3, seeded
start_proxy --with-http-response --http-response-trigger-probability 0.3 --seed 7
before=$(hits)
many 1000 "$PP" >"$E2E_TMP/run1" || fail "1000 requests"
stop_pid "$FAULT_PID"
errors=$(grep -c '^500$' "$E2E_TMP/run1")
oks=$(grep -c '^200$' "$E2E_TMP/run1")
note "probability 0.3, seed 7: $errors errors, $oks successes out of 1000"
[ $((errors + oks)) = 1000 ] || fail "statuses other than 200/500: $(sort "$E2E_TMP/run1" | uniq -c)"
[ "$errors" -ge 263 ] && [ "$errors" -le 337 ] || fail "$errors errors: outside [263, 337]"
curl -sS --fail --max-time 10 -o /dev/null "$NG/index.html?marker2" || fail "direct request"
wait_for_line "$ACCESS" 'GET /index.html\?marker2 '
[ $(($(hits) - before - 1)) = "$oks" ] || fail "nginx saw $(($(hits) - before - 1)) requests, want $oks"
FAULT_HTTP_FAULT_PROBABILITY=0.3 start_proxy --with-http-response --seed 7
many 1000 "$PP" >"$E2E_TMP/run2" || fail "1000 requests (second run)"
stop_pid "$FAULT_PID"
cmp -s "$E2E_TMP/run1" "$E2E_TMP/run2" || fail "same seed, different sequence of statuses"
note "same seed (flag, then environment variable): same sequence"

# ---- 4. not targeted
start_proxy --with-http-response --upstream other.example
codes=$(many 5 "$PP") || fail "untargeted requests"
[ "$(sort -u <<<"$codes")" = 200 ] || fail "untargeted: statuses $(sort <<<"$codes" | uniq -c)"
stop_pid "$FAULT_PID"
note "--upstream other.example: requests to nginx untouched"

# ---- 5. mapping
P=$(free_port)
start_fault run --disable-http-proxy --proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT" \
	--with-http-response --http-response-status 418
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/index.html") ||
	fail "curl mapping"
[ "$code" = 418 ] || fail "mapping: HTTP $code"
stop_pid "$FAULT_PID"
note "http:// mapping: 418"

# ---- 6. bad status
rc=0
"$FAULT" run --proxy-address "127.0.0.1:$(free_port)" --with-http-response \
	--http-response-status 42 >"$E2E_TMP/bad.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "--http-response-status 42: exit $rc"
grep -q -- '--http-response-status' "$E2E_TMP/bad.out" || fail "message: $(cat "$E2E_TMP/bad.out")"
note "bad status refused: $(head -1 "$E2E_TMP/bad.out")"
