#!/usr/bin/env bash
# plugins/blackhole/tests/schedule.sh - a scheduled blackhole holds traffic
# for its period, then lets it flow: curl -> fault -> nginx on loopback,
# synchronised on the --tail lines "blackhole on" / "blackhole off".
#
# Run 1: --duration 6s --blackhole-sched "start:1s,duration:2s" (ingress):
#  - a request made during the period (1 MiB body) completes only after
#    the "blackhole off" line's time (>= it, to the millisecond of the
#    line), and within 1 s of it (the host wakes held chunks itself), with
#    the body byte-identical: bytes are held, never dropped;
#  - another request made during the period with --max-time 0.5 hangs:
#    curl times out (exit 28) having received nothing;
#  - --tail has one blackhole event for the held connection;
#  - after the period a request takes < 0.5 s; fault ends by itself at
#    --duration with status 0.
# Run 2: --blackhole-direction egress, "start:0s,duration:2s": the request
# is held before the upstream: nginx has not logged it when the period
# ends, and it completes after.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

start_nginx
printf 'hello\n' >"$WWW/index.html"
make_file "$WWW/body.bin" $((1024 * 1024))
LOG=$E2E_TMP/nginx-access.log

# tod - local time of day in seconds, as the --tail lines print it.
tod() { date +%H:%M:%S.%N | awk -F: '{ printf "%.6f\n", $1 * 3600 + $2 * 60 + $3 }'; }
# line_tod RE - time of day of the first --tail line matching RE.
line_tod() {
	grep -m1 -E -- "$1" "$FAULT_OUT" | awk '{ split($1, t, ":"); printf "%.3f\n", t[1] * 3600 + t[2] * 60 + t[3] }'
}
# secs_after A B - B - A in seconds, across midnight.
secs_after() { awk -v a="$1" -v b="$2" 'BEGIN { d = b - a; if (d < -43200) d += 86400; if (d > 43200) d -= 86400; printf "%.3f\n", d }'; }

# ---- run 1: ingress
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --duration 6s \
	--with-blackhole --blackhole-sched "start:1s,duration:2s"
wait_for_line "$FAULT_OUT" ' blackhole on$' "$FAULT_PID"
(
	curl -sS --fail --max-time 10 -o "$E2E_TMP/a.body" "http://127.0.0.1:$P/body.bin" \
		>"$E2E_TMP/a.err" 2>&1
	echo $? >"$E2E_TMP/a.rc"
	tod >"$E2E_TMP/a.end"
) &
A=$!
track_pid $A
# The request of A is in: the held response says so.
wait_for_line "$FAULT_OUT" ' #[0-9]+ blackhole side=server direction=ingress' "$FAULT_PID"
curl -sS --max-time 0.5 -o /dev/null -w '%{size_download}\n' "http://127.0.0.1:$P/index.html" \
	>"$E2E_TMP/b.out" 2>/dev/null
rc=$?
[ $rc = 28 ] || fail "a request during the blackhole did not hang: curl exit $rc (want 28, timeout)"
[ "$(cat "$E2E_TMP/b.out")" = 0 ] || fail "a request during the blackhole received $(cat "$E2E_TMP/b.out") bytes"
[ -e "$E2E_TMP/a.rc" ] && fail "the request made during the blackhole completed before its end"
note "during the period: requests hang"
wait_for_line "$FAULT_OUT" ' blackhole off$' "$FAULT_PID" 5
wait "$A"
untrack_pid $A
[ "$(cat "$E2E_TMP/a.rc")" = 0 ] || fail "the held request failed: $(cat "$E2E_TMP/a.err")"
cmp -s "$E2E_TMP/a.body" "$WWW/body.bin" || fail "the held response differs from the file"
off=$(line_tod ' blackhole off$')
after=$(secs_after "$off" "$(cat "$E2E_TMP/a.end")")
note "the held request completed ${after}s after 'blackhole off'"
awk -v d="$after" 'BEGIN { exit !(d >= 0 && d < 1) }' ||
	fail "held request completed ${after}s after the period ended (want 0..1)"
n=$(grep -c ' blackhole side=' "$FAULT_OUT")
[ "$n" = 2 ] || fail "$n blackhole events (want 2: the held request and the one that hung)"
t=$(curl -sS --fail --max-time 5 -o /dev/null -w '%{time_total}' "http://127.0.0.1:$P/index.html") ||
	fail "request after the period failed"
awk -v t="$t" 'BEGIN { exit !(t < 0.5) }' || fail "request after the period took ${t}s"
# --duration 6s ends the run.
for ((i = 0; i < 500; i++)); do
	kill -0 "$FAULT_PID" 2>/dev/null || break
	sleep 0.01
done
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS at the end of --duration"

# ---- run 2: egress, from the start
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --duration 5s \
	--with-blackhole --blackhole-direction egress --blackhole-sched "start:0s,duration:2s"
before=$(grep -c '/index.html?egress' "$LOG")
(
	curl -sS --fail --max-time 10 -o "$E2E_TMP/c.body" "http://127.0.0.1:$P/index.html?egress" \
		>"$E2E_TMP/c.err" 2>&1
	echo $? >"$E2E_TMP/c.rc"
) &
C=$!
track_pid $C
wait_for_line "$FAULT_OUT" ' #[0-9]+ blackhole side=server direction=egress' "$FAULT_PID"
[ -e "$E2E_TMP/c.rc" ] && fail "egress: the request completed during the blackhole"
# Still inside the period (the off line is not there yet): nginx saw nothing.
grep -q ' blackhole off$' "$FAULT_OUT" && note "egress: the period ended before the check (slow machine)"
grep -q ' blackhole off$' "$FAULT_OUT" ||
	[ "$(grep -c '/index.html?egress' "$LOG")" = "$before" ] ||
	fail "egress: the request reached nginx during the blackhole"
wait_for_line "$FAULT_OUT" ' blackhole off$' "$FAULT_PID" 5
wait "$C"
untrack_pid $C
[ "$(cat "$E2E_TMP/c.rc")" = 0 ] || fail "egress: the held request failed: $(cat "$E2E_TMP/c.err")"
cmp -s "$E2E_TMP/c.body" "$WWW/index.html" || fail "egress: response differs"
note "egress: request held until the end of the period, then served"
stop_pid "$FAULT_PID"
note "ok"
