#!/usr/bin/env bash
# plugins/demo/tests/proxy.sh - the demo's outbound calls honour the proxy
# environment. A python forward proxy (demo_peers.py proxy) logs one line
# per request it serves; nginx is the upstream.
#
#  1. HTTP_PROXY (upper case, which libcurl alone ignores): /ping goes
#     through the proxy (one proxy line, nginx's body comes back), /multi
#     adds two lines, /ping/myself one;
#  2. NO_PROXY=127.0.0.1 with the same HTTP_PROXY: no proxy line;
#  3. http_proxy (lower case) wins over HTTP_PROXY (which points at a
#     closed port here);
#  4. HTTP_PROXY at a closed port: /ping answers 502 (the call is not
#     quietly made directly);
#  5. HTTPS_PROXY for an https:// upstream (nginx with a self-signed
#     certificate): the proxy sees a CONNECT to nginx's TLS port, and
#     /ping answers 502 naming the certificate problem (the demo verifies
#     certificates against the system store).
if ! . "$top_srcdir/tests/e2e/lib.sh"; then exit 99; fi
. "$top_srcdir/plugins/demo/tests/common.sh" || exit 99

start_nginx --tls
printf 'upstream says hi\n' >"$WWW/hello.txt"
PP=$(free_port)
PLOG=$E2E_TMP/proxy.log
start_peer proxy proxy "$PP" "$PLOG"
proxied() { wc -l <"$PLOG"; }
UP=http://127.0.0.1:$NGINX_PORT/hello.txt
DEAD=$(free_port)

# lib.sh exports NO_PROXY='*' for its own curls: the demo must not see it.
NOPX=(-u NO_PROXY -u no_proxy -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY)

# ---- 1. HTTP_PROXY
DEMO_ENV=("${NOPX[@]}" "HTTP_PROXY=http://127.0.0.1:$PP")
start_demo 127.0.0.1 "$(free_port)" --upstream-url "$UP"
get /ping
[ "$CODE" = 200 ] || fail "HTTP_PROXY: /ping $CODE $(cat "$BODY")"
check_json "$BODY" "j['status'] == 200 and j['body'] == 'upstream says hi\n'" "/ping via proxy"
[ "$(proxied)" = 1 ] || fail "HTTP_PROXY: proxy saw $(proxied) requests, want 1"
grep -qx "GET $UP" "$PLOG" || fail "proxy log: $(cat "$PLOG")"
get /multi
[ "$CODE" = 200 ] || fail "HTTP_PROXY: /multi $CODE $(cat "$BODY")"
[ "$(proxied)" = 3 ] || fail "HTTP_PROXY: proxy saw $(proxied) requests after /multi, want 3"
get /ping/myself
[ "$CODE" = 200 ] || fail "HTTP_PROXY: /ping/myself $CODE $(cat "$BODY")"
[ "$(proxied)" = 4 ] || fail "HTTP_PROXY: /ping/myself did not go through the proxy"
grep -qx "GET $DEMO_URL/" "$PLOG" || fail "proxy log: $(cat "$PLOG")"
stop_pid "$DEMO_PID" INT
note "HTTP_PROXY: /ping, /multi (2) and /ping/myself went through the proxy"

# ---- 2. NO_PROXY
DEMO_ENV=("${NOPX[@]}" "HTTP_PROXY=http://127.0.0.1:$PP" NO_PROXY=127.0.0.1)
start_demo 127.0.0.1 "$(free_port)" --upstream-url "$UP"
get /ping
[ "$CODE" = 200 ] || fail "NO_PROXY: /ping $CODE"
[ "$(proxied)" = 4 ] || fail "NO_PROXY=127.0.0.1: the proxy saw the call"
stop_pid "$DEMO_PID" INT
note "NO_PROXY=127.0.0.1: direct"

# ---- 3. http_proxy beats HTTP_PROXY
DEMO_ENV=("${NOPX[@]}" "http_proxy=http://127.0.0.1:$PP" "HTTP_PROXY=http://127.0.0.1:$DEAD")
start_demo 127.0.0.1 "$(free_port)" --upstream-url "$UP"
get /ping
[ "$CODE" = 200 ] || fail "http_proxy: /ping $CODE $(cat "$BODY")"
[ "$(proxied)" = 5 ] || fail "http_proxy: proxy saw $(proxied) requests, want 5"
stop_pid "$DEMO_PID" INT
note "http_proxy wins over HTTP_PROXY"

# ---- 4. a dead proxy fails the call
DEMO_ENV=("${NOPX[@]}" "HTTP_PROXY=http://127.0.0.1:$DEAD")
start_demo 127.0.0.1 "$(free_port)" --upstream-url "$UP"
get /ping
[ "$CODE" = 502 ] || fail "dead proxy: /ping $CODE $(cat "$BODY")"
check_json "$BODY" "isinstance(j['error'], str)" "dead proxy"
stop_pid "$DEMO_PID" INT
note "a dead HTTP_PROXY gives 502: $(cat "$BODY")"

# ---- 5. HTTPS_PROXY
DEMO_ENV=("${NOPX[@]}" "HTTPS_PROXY=http://127.0.0.1:$PP")
start_demo 127.0.0.1 "$(free_port)" --upstream-url "https://127.0.0.1:$NGINX_TLS_PORT/hello.txt"
get /ping
[ "$CODE" = 502 ] || fail "HTTPS_PROXY: /ping $CODE $(cat "$BODY")"
grep -qx "CONNECT 127.0.0.1:$NGINX_TLS_PORT" "$PLOG" || fail "no CONNECT in $(cat "$PLOG")"
check_json "$BODY" "'certificate' in j['error'].lower()" "HTTPS_PROXY error"
stop_pid "$DEMO_PID" INT
[ "$STOP_STATUS" = 0 ] || fail "SIGINT: exit status $STOP_STATUS"
note "HTTPS_PROXY: CONNECT through the proxy, then $(cat "$BODY")"
exit 0
