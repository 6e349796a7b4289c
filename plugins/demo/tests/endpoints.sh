#!/usr/bin/env bash
# plugins/demo/tests/endpoints.sh - `fault demo run 127.0.0.1 PORT` with
# nginx as the upstream of /ping, checked with curl:
#
#  1. the first line says where it listens; GET / and HEAD / (exact body,
#     type, length);
#  2. /ping: 200 JSON with the upstream's status, body (a string: nginx
#     serves it as octet-stream), URL and duration, and nginx saw the call;
#     /ping/myself: 200 with the body of /;
#  3. POST /uppercase: UTF-8 upper-cased, chunked bodies, a 300 KB body
#     sent after "Expect: 100-continue" (answered at once: curl is told to
#     wait 5 s for the 100), 400 on bad JSON / no string "content", 413
#     above 1 MiB;
#  4. 404 on an unknown path, 405 with Allow on a known one;
#  5. keep-alive (two requests, one connection) and pipelining (three
#     requests in one write, answered in order, then closed as asked);
#  6. an upstream answering 404 still gives /ping 200 (status 404 inside),
#     and an upstream that refuses gives /ping and /multi 502 JSON errors;
#  7. one log line per request, "METHOD TARGET STATUS N.Nms", as many as
#     requests were made; SIGINT stops it with status 0.
if ! . "$top_srcdir/tests/e2e/lib.sh"; then exit 99; fi
. "$top_srcdir/plugins/demo/tests/common.sh" || exit 99

start_nginx
printf 'upstream says hi\n' >"$WWW/hello.txt"

# ---- 1. listening line, /
P=$(free_port)
start_demo 127.0.0.1 "$P" --upstream-url "http://127.0.0.1:$NGINX_PORT/hello.txt"
[ "$(head -n1 "$DEMO_OUT")" = "fault: listening on http://127.0.0.1:$P (demo)" ] ||
	fail "first line: $(head -n1 "$DEMO_OUT")"
[ "$DEMO_URL" = "http://127.0.0.1:$P" ] || fail "DEMO_URL=$DEMO_URL"
nreq=0

get /
nreq=$((nreq + 1))
[ "$CODE" = 200 ] || fail "GET /: $CODE"
[ "$(cat "$BODY")" = '<h1>Hello, World!</h1>' ] || fail "GET / body: $(cat "$BODY")"
grep -qi '^Content-Type: text/html' "$HDRS" || fail "GET /: $(cat "$HDRS")"
get / -I
nreq=$((nreq + 1))
[ "$CODE" = 200 ] || fail "HEAD /: $CODE"
grep -qi '^Content-Length: 22' "$HDRS" || fail "HEAD / headers: $(cat "$HDRS")"
note "GET / and HEAD / answer"

# ---- 2. /ping, /ping/myself
get /ping
nreq=$((nreq + 1))
[ "$CODE" = 200 ] || fail "GET /ping: $CODE $(cat "$BODY")"
check_json "$BODY" "j['status'] == 200 and j['body'] == 'upstream says hi\n' and \
j['url'] == 'http://127.0.0.1:$NGINX_PORT/hello.txt' and \
isinstance(j['duration_ms'], (int, float)) and 0 <= j['duration_ms'] < 5000" "/ping"
grep -q '"GET /hello.txt HTTP/1.1" 200' "$E2E_TMP/nginx-access.log" || fail "nginx saw no /hello.txt"
get /ping/myself
nreq=$((nreq + 2)) # its own call to / is a request too
[ "$CODE" = 200 ] || fail "GET /ping/myself: $CODE $(cat "$BODY")"
[ "$(cat "$BODY")" = '<h1>Hello, World!</h1>' ] || fail "/ping/myself body: $(cat "$BODY")"
note "/ping relays nginx's answer; /ping/myself gets /"

# ---- 3. /uppercase
get /uppercase -H 'Content-Type: application/json' --data-binary '{"content": "hello, wörld ç"}'
nreq=$((nreq + 1))
[ "$CODE" = 200 ] || fail "POST /uppercase: $CODE $(cat "$BODY")"
check_json "$BODY" "j == {'content': 'HELLO, WÖRLD Ç'}" "/uppercase"
get /uppercase -H 'Transfer-Encoding: chunked' --data-binary '{"content": "chunked"}'
nreq=$((nreq + 1))
[ "$CODE" = 200 ] || fail "chunked POST /uppercase: $CODE"
check_json "$BODY" "j == {'content': 'CHUNKED'}" "chunked /uppercase"
python3 -c 'import json; print(json.dumps({"content": "x" * 300000}))' >"$E2E_TMP/big.json"
t0=$(date +%s.%N)
get /uppercase -H 'Expect: 100-continue' --expect100-timeout 5 --data-binary "@$E2E_TMP/big.json"
t1=$(date +%s.%N)
nreq=$((nreq + 1))
[ "$CODE" = 200 ] || fail "300 KB POST /uppercase: $CODE"
check_json "$BODY" "j == {'content': 'X' * 300000}" "300 KB /uppercase"
ms=$(ms_diff "$t0" "$t1")
# Without "100 Continue" curl would wait its 5 s before sending the body.
[ "$ms" -lt 2500 ] || fail "300 KB POST with Expect took $ms ms: no 100 Continue?"
for bad in '{"content": ' '[1, 2]' '{"content": 42}' '{"other": "x"}' ''; do
	get /uppercase --data-binary "$bad"
	nreq=$((nreq + 1))
	[ "$CODE" = 400 ] || fail "POST /uppercase '$bad': $CODE"
	check_json "$BODY" "isinstance(j.get('error'), str)" "400 body for '$bad'"
done
head -c $((1024 * 1024 + 1)) /dev/zero >"$E2E_TMP/huge"
get /uppercase --data-binary "@$E2E_TMP/huge"
nreq=$((nreq + 1))
[ "$CODE" = 413 ] || fail "POST /uppercase 1 MiB + 1: $CODE"
note "/uppercase: UTF-8, chunked, 100-continue ($ms ms for 300 KB), 400s, 413"

# ---- 4. 404, 405
get /nope
nreq=$((nreq + 1))
[ "$CODE" = 404 ] || fail "GET /nope: $CODE"
check_json "$BODY" "'error' in j" "404 body"
get /uppercase
nreq=$((nreq + 1))
[ "$CODE" = 405 ] || fail "GET /uppercase: $CODE"
grep -qi '^Allow: POST' "$HDRS" || fail "405 without Allow: $(cat "$HDRS")"
note "404 and 405 (with Allow)"

# ---- 5. keep-alive, pipelining
conns=$(curl -sS --max-time 10 -o /dev/null -o /dev/null -w '%{num_connects} ' \
	"$DEMO_URL/" "$DEMO_URL/ping")
nreq=$((nreq + 2))
[ "$conns" = "1 0 " ] || fail "keep-alive: connections per request '$conns' (want '1 0 ')"
python3 "$PEERS" pipeline "$P" || fail "pipelining"
nreq=$((nreq + 4)) # with the call /ping/myself makes
note "keep-alive reuses the connection; pipelined requests answered in order"

# ---- 7. log lines (checked before the other instances add theirs)
wait_for_line "$DEMO_OUT" '^GET /ping/myself 200 ' "$DEMO_PID"
n=$(request_lines "$DEMO_OUT" | wc -l)
[ "$n" = "$nreq" ] || fail "$n request log lines for $nreq requests: $(cat "$DEMO_OUT")"
for re in '^GET / 200 ' '^HEAD / 200 ' '^GET /ping 200 ' '^GET /ping/myself 200 ' \
	'^POST /uppercase 200 ' '^POST /uppercase 400 ' '^POST /uppercase 413 ' \
	'^GET /nope 404 ' '^GET /uppercase 405 '; do
	grep -Eq "$re[0-9]+\.[0-9]ms\$" "$DEMO_OUT" || fail "no log line matching '$re'"
done
# Every other line is the banner (first line, indented endpoint lines).
others=$(grep -Ev '^[A-Z]+ /[^ ]* [0-9]{3} [0-9]+\.[0-9]ms$|^  |^fault: listening on ' "$DEMO_OUT")
[ -z "$others" ] || fail "unexpected lines on stdout: $others"
note "$n log lines, one per request"
stop_pid "$DEMO_PID" INT
[ "$STOP_STATUS" = 0 ] || fail "SIGINT: exit status $STOP_STATUS"
grep -q 'stopping' "$DEMO_OUT" || fail "no stopping line"
note "SIGINT: exit status 0"

# ---- 6. upstream 404, upstream refusing
P=$(free_port)
start_demo 127.0.0.1 "$P" --upstream-url "http://127.0.0.1:$NGINX_PORT/missing"
get /ping
[ "$CODE" = 200 ] || fail "/ping to a 404: $CODE"
check_json "$BODY" "j['status'] == 404" "/ping to a 404"
stop_pid "$DEMO_PID" INT
DEAD=$(free_port)
P=$(free_port)
start_demo 127.0.0.1 "$P" --upstream-url "http://127.0.0.1:$DEAD/"
get /ping
[ "$CODE" = 502 ] || fail "/ping to a closed port: $CODE"
check_json "$BODY" "isinstance(j['error'], str) and j['url'] == 'http://127.0.0.1:$DEAD/'" "502"
get /multi
[ "$CODE" = 502 ] || fail "/multi to a closed port: $CODE"
check_json "$BODY" "len(j['calls']) == 2 and all('error' in c for c in j['calls'])" "/multi 502"
grep -Eq '^GET /ping 502 [0-9]+\.[0-9]ms$' "$DEMO_OUT" || fail "no 502 log line"
stop_pid "$DEMO_PID" INT
[ "$STOP_STATUS" = 0 ] || fail "SIGINT: exit status $STOP_STATUS"
note "upstream 404 -> 200 with status 404; refused -> 502"
exit 0
