#!/usr/bin/env bash
# plugins/grpc-bridge/tests/hung.sh - a plugin that never answers traffic
# calls in time (it sleeps in ProcessTunnelData; its health checks answer):
#
#  1. each chunk waits the deadline (--grpc-plugin-timeout 300ms) and then
#     passes unchanged: the reply is intact, >= 2 deadlines later (one per
#     direction) and well before the plugin would have answered;
#  2. each miss is logged (DEADLINE_EXCEEDED) and published as an error
#     event;
#  3. after three misses in a row the plugin is disabled, and traffic no
#     longer waits for it.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/grpc-bridge/tests/common.sh" || exit 99
export FAULT_DISABLE_HTTP_PROXY=1

start_echo
start_rplugin "$E2E_TMP/plugin.log" --mode hang --name Sleepy
LOG=$E2E_TMP/fault.log
EV=$E2E_TMP/events
P=$(free_port)
start_fault --log-file "$LOG" run --proxy "127.0.0.1:$P=127.0.0.1:$ECHO_PORT" \
	--grpc-plugin "http://127.0.0.1:$RP_PORT" --grpc-plugin-timeout 300ms --events "$EV"
wait_for_line "$LOG" "Sleepy .*: enabled for" "$FAULT_PID"

# ---- 1. deadline, data untouched
read -r ms reply <<<"$(roundtrip "$P" "hello hung plugin")"
[ "$reply" = "hello hung plugin" ] || fail "reply '$reply'"
[ "$ms" -ge 600 ] || fail "reply after $ms ms: the deadlines (2 x 300 ms) were not waited for"
[ "$ms" -lt 3000 ] || fail "reply after $ms ms: traffic hung with the plugin"
note "reply intact after $ms ms (two 300 ms deadlines)"

# ---- 2. logged and published
wait_for_line "$LOG" "ProcessTunnelData failed: DEADLINE_EXCEEDED.*data passed unchanged" "$FAULT_PID"
wait_count "$EV" '"type":"error".*DEADLINE_EXCEEDED' 2 "$FAULT_PID" 5
note "deadline misses logged and published as error events"

# ---- 3. three misses: disabled
read -r ms2 reply <<<"$(roundtrip "$P" "second")"
[ "$reply" = "second" ] || fail "second reply '$reply'"
wait_for_line "$LOG" "remote plugin 1 .*: disabled \(missed its deadline 3 times in a row\)" "$FAULT_PID"
misses=$(grep -c '"type":"error".*DEADLINE_EXCEEDED' "$EV")
read -r ms3 reply <<<"$(roundtrip "$P" "third")"
[ "$reply" = "third" ] || fail "third reply '$reply'"
# A disabled plugin is not called: no new miss. Had it been called, the
# reply would wait two deadlines (600 ms): below that, with a loaded
# machine's tolerance, it did not wait.
[ "$(grep -c '"type":"error".*DEADLINE_EXCEEDED' "$EV")" = "$misses" ] ||
	fail "the third exchange missed a deadline: a disabled plugin was still called"
[ "$ms3" -lt 600 ] || fail "third reply after $ms3 ms: a disabled plugin still delays traffic"
note "disabled after 3 misses: second reply $ms2 ms, third $ms3 ms"
