#!/usr/bin/env bash
# plugins/demo/tests/concurrency.sh - outbound calls never block the
# server. The upstream is demo_peers.py upstream, which answers JSON after
# ?delay_ms=N and logs each request as it arrives.
#
#  1. /ping to a 300 ms upstream: 200, duration_ms >= 300, and the
#     upstream's JSON body comes back parsed (an object, not a string);
#  2. /multi: two 300 ms calls made concurrently. Tolerance: the whole
#     request takes < 550 ms as curl measures it (one call 300 ms, the two
#     in sequence >= 600 ms), each call >= 300 ms, the reported total below
#     550 ms and at least the slower call;
#  3. while a /ping is in flight (the upstream has logged its arrival), GET
#     / is answered in < 150 ms and logged before the /ping finishes; a
#     client that gives up (curl --max-time 0.1) is logged as 499;
#  4. --upstream-timeout 500ms against a 5 s upstream: /ping gives 502
#     after about 0.5 s (< 3 s);
#  5. SIGTERM while a /ping waits on that upstream: the waiting client
#     gets 503 {"error": "... stopping"} (logged) and the demo exits 0
#     (stop_pid allows 5 s).
if ! . "$top_srcdir/tests/e2e/lib.sh"; then exit 99; fi
. "$top_srcdir/plugins/demo/tests/common.sh" || exit 99

UP=$(free_port)
ULOG=$E2E_TMP/upstream.log
start_peer upstream upstream "$UP" "$ULOG"
arrived() { grep -c "^GET $1\$" "$ULOG"; }

# ---- 1. /ping, 300 ms
start_demo 127.0.0.1 "$(free_port)" --upstream-url "http://127.0.0.1:$UP/slow?delay_ms=300"
get /ping
[ "$CODE" = 200 ] || fail "/ping: $CODE $(cat "$BODY")"
check_json "$BODY" "j['status'] == 200 and j['body'] == {'path': '/slow'} and \
j['content_type'] == 'application/json' and 300 <= j['duration_ms'] < 2000" "/ping 300 ms"
note "/ping: $(cat "$BODY")"

# ---- 2. /multi
t=$(curl -sS --max-time 10 -o "$BODY" -w '%{time_total}' "$DEMO_URL/multi") || fail "curl /multi"
ms=$(awk -v t="$t" 'BEGIN { printf "%d", t * 1000 }')
check_json "$BODY" "len(j['calls']) == 2 and all(c['status'] == 200 and c['duration_ms'] >= 300 \
for c in j['calls']) and max(c['duration_ms'] for c in j['calls']) <= j['duration_ms'] < 550" "/multi"
[ "$ms" -lt 550 ] || fail "/multi took $ms ms (two 300 ms calls in sequence would take >= 600)"
note "/multi: $ms ms for two 300 ms calls: $(cat "$BODY")"

# ---- 3. the loop keeps serving during a call
n0=$(arrived "/slow?delay_ms=300")
curl -sS --max-time 10 -o "$E2E_TMP/ping-bg" "$DEMO_URL/ping" &
bg=$!
for ((i = 0; i < 500; i++)); do
	[ "$(arrived "/slow?delay_ms=300")" -gt "$n0" ] && break
	sleep 0.01
done
[ "$(arrived "/slow?delay_ms=300")" -gt "$n0" ] || fail "the upstream never saw the /ping call"
t=$(curl -sS --max-time 10 -o "$BODY" -w '%{time_total}' "$DEMO_URL/") || fail "curl / during /ping"
ms=$(awk -v t="$t" 'BEGIN { printf "%d", t * 1000 }')
wait "$bg" || fail "background /ping failed"
[ "$ms" -lt 150 ] || fail "GET / took $ms ms while /ping was in flight"
last_two=$(request_lines "$DEMO_OUT" | tail -n2 | awk '{print $1, $2}' | tr '\n' ,)
[ "$last_two" = "GET /,GET /ping," ] || fail "log order while /ping was in flight: $last_two"
note "GET / answered in $ms ms while /ping waited on the upstream"
# A client that gives up before the answer is logged as 499.
curl -sS --max-time 0.1 -o /dev/null "$DEMO_URL/ping" 2>/dev/null && fail "/ping answered in 0.1 s"
wait_for_line "$DEMO_OUT" '^GET /ping 499 [0-9]+\.[0-9]ms$' "$DEMO_PID"
note "a client giving up after 0.1 s: $(grep '^GET /ping 499 ' "$DEMO_OUT")"
stop_pid "$DEMO_PID" INT
[ "$STOP_STATUS" = 0 ] || fail "SIGINT: exit status $STOP_STATUS"

# ---- 4. upstream timeout
start_demo 127.0.0.1 "$(free_port)" --upstream-url "http://127.0.0.1:$UP/stuck?delay_ms=5000" \
	--upstream-timeout 500ms
t0=$(date +%s.%N)
get /ping
t1=$(date +%s.%N)
ms=$(ms_diff "$t0" "$t1")
[ "$CODE" = 502 ] || fail "timeout: /ping $CODE $(cat "$BODY")"
check_json "$BODY" "'timed out' in j['error'].lower() or 'timeout' in j['error'].lower()" "timeout"
[ "$ms" -ge 450 ] && [ "$ms" -lt 3000 ] || fail "timeout: /ping took $ms ms"
note "--upstream-timeout 500ms: 502 after $ms ms"
stop_pid "$DEMO_PID" INT

# ---- 5. SIGTERM with a call in flight (the default timeout is 10 s)
start_demo 127.0.0.1 "$(free_port)" --upstream-url "http://127.0.0.1:$UP/stuck?delay_ms=5000"
n0=$(arrived "/stuck?delay_ms=5000")
curl -sS --max-time 20 -o "$E2E_TMP/bg.json" -w '%{http_code}' "$DEMO_URL/ping" \
	>"$E2E_TMP/bg.code" 2>"$E2E_TMP/curl-bg.err" &
bg=$!
for ((i = 0; i < 500; i++)); do
	[ "$(arrived "/stuck?delay_ms=5000")" -gt "$n0" ] && break
	sleep 0.01
done
[ "$(arrived "/stuck?delay_ms=5000")" -gt "$n0" ] || fail "the upstream never saw the call"
t0=$(date +%s.%N)
stop_pid "$DEMO_PID" TERM
t1=$(date +%s.%N)
[ "$STOP_STATUS" = 0 ] || fail "SIGTERM: exit status $STOP_STATUS"
grep -q 'terminated, stopping' "$DEMO_OUT" || fail "no stopping line"
wait "$bg" || fail "the waiting client: $(cat "$E2E_TMP/curl-bg.err")"
[ "$(cat "$E2E_TMP/bg.code")" = 503 ] || fail "the waiting client got $(cat "$E2E_TMP/bg.code")"
check_json "$E2E_TMP/bg.json" "'stopping' in j['error']" "503 at SIGTERM"
grep -Eq '^GET /ping 503 [0-9]+\.[0-9]ms$' "$DEMO_OUT" || fail "no 503 log line"
note "SIGTERM with a call in flight: the client gets 503, exit 0 after $(ms_diff "$t0" "$t1") ms"
exit 0
