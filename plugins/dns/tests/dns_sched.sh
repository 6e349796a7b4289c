#!/usr/bin/env bash
# plugins/dns/tests/dns_sched.sh - a schedule switches the dns fault on and
# off: --duration 6s --dns-sched "start:33%,duration:33%" (a relative
# schedule, so --duration is required), with --dns-rate 1 toward the
# upstream name "localhost".
#
# A python client makes connections back to back (2 ms apart) from the
# moment fault listens until 1.5 s after the fault went off (so it stops
# before the run's end at 6 s, where connections are closed by the
# shutdown rather than by the fault), noting the wall-clock start and end
# of each. Then, against the "dns on" / "dns off" lines of --tail:
#   - no connection failed outside the window (5 ms tolerance: the tail's
#     millisecond truncation and the two clocks' reads);
#   - no connection that lay entirely inside it succeeded;
#   - there were successes before it, failures in it and successes after;
#   - the window lasted 33% of 6 s = 1980 ms, within +-20 ms by the tail's
#     timestamps (the schedule timer fires within a loop iteration);
#   - fault exited 0 at the end of its duration.
# Without --duration, the relative schedule is refused with exit status 2.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

HELPER=$top_srcdir/plugins/dns/tests/dns_client.py

start_nginx
printf 'hello from nginx\n' >"$WWW/index.html"

P=$(free_port)
"$FAULT" run --proxy "127.0.0.1:$P=localhost:$NGINX_PORT" --with-dns --dns-rate 1 \
	--dns-sched 'start:33%,duration:33%' >"$E2E_TMP/nodur.out" 2>&1 &&
	fail "a relative --dns-sched without --duration was accepted"
rc=$?
[ "$rc" = 2 ] || fail "relative --dns-sched without --duration: exit status $rc, want 2"
grep -q 'dns-sched' "$E2E_TMP/nodur.out" || fail "the message does not name --dns-sched: $(cat "$E2E_TMP/nodur.out")"

P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=localhost:$NGINX_PORT" --tail --duration 6s \
	--with-dns --dns-rate 1 --dns-sched 'start:33%,duration:33%'
out=$(python3 "$HELPER" sched "$P" "$WWW/index.html" "$FAULT_OUT" 20) || fail "$out"
note "$out"
# The run ends by itself at 6 s: poll (<= 5 s) until it has exited.
for ((i = 0; i < 500; i++)); do
	kill -0 "$FAULT_PID" 2>/dev/null || break
	[ "$(awk '{print $3}' "/proc/$FAULT_PID/stat" 2>/dev/null)" = Z ] && break
	sleep 0.01
done
kill -0 "$FAULT_PID" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$FAULT_PID/stat" 2>/dev/null)" != Z ] &&
	fail "fault still runs 5 s after its --duration"
wait "$FAULT_PID"
rc=$?
[ "$rc" = 0 ] || fail "fault exited $rc at the end of --duration"
read -r w b f a <<<"$(sed -n 's/^window_ms=\([0-9]*\) before_ok=\([0-9]*\) failed=\([0-9]*\) after_ok=\([0-9]*\).*/\1 \2 \3 \4/p' <<<"$out")"
[ -n "$w" ] || fail "unexpected helper output: $out"
[ "$b" -ge 5 ] || fail "only $b successful connections before the window"
[ "$f" -ge 5 ] || fail "only $f failed connections inside the window"
[ "$a" -ge 5 ] || fail "only $a successful connections after the window"
[ "$w" -ge 1960 ] && [ "$w" -le 2000 ] || fail "the window lasted $w ms, want 1980 +- 20"
n=$(grep -c ' dns side=server ' "$FAULT_OUT")
[ "$n" = "$f" ] || fail "$f failed connections but $n dns events"
