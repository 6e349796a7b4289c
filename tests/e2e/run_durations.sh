#!/usr/bin/env bash
# tests/e2e/run_durations.sh - durations written as the original tool's
# users write them (issue 14, item 4): "1 second", "2 hours", "1h 30min",
# "1 minute", "500 milliseconds", in --duration, FAULT_PROXY_DURATION and
# schedules (--latency-sched).
#
#  1. --duration "1 second" ends the run by itself (status 0, >= 0.95 s);
#  2. the length read is the one written: a scheduled latency of 0.01% of
#     --duration "2 hours" (0.72 s), of "1h 30min" (0.54 s) and of
#     FAULT_PROXY_DURATION="1 minute" at 1% (0.6 s) goes on then off that
#     far apart by the --tail lines (accepted: -30 ms .. +600 ms);
#  3. schedule clauses in words ("start:200 millis,duration:500
#     milliseconds") turn the fault on and off 0.5 s apart;
#  4. a misspelt unit is still refused, naming the flag (status 2).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

UP=127.0.0.1:$(free_port)
MAP=(--disable-http-proxy)

# ---- 1. --duration "1 second"
P=$(free_port)
t0=$(date +%s%N)
rc=0
timeout 10 "$FAULT" run "${MAP[@]}" --proxy "127.0.0.1:$P=$UP" --duration "1 second" \
	>"$E2E_TMP/one.out" 2>&1 || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 0 ] || fail "--duration '1 second': exit status $rc: $(cat "$E2E_TMP/one.out")"
[ "$ms" -ge 950 ] || fail "--duration '1 second': ended after only $ms ms"
note "--duration '1 second': status 0 after $ms ms"

# on_off_gap FILE - milliseconds between the 'latency on' and 'off' lines.
on_off_gap() {
	grep -E ' latency (on|off)$' "$1" | awk '
	{ split($1, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3] }
	$3 == "on" { on = s } $3 == "off" { off = s }
	END { d = off - on; if (d < 0) d += 86400; printf "%d", d * 1000 }'
}

# window WANT_MS ARGS... - `fault run ARGS` with --tail: the latency goes
# on, then off about WANT_MS later.
window() {
	local want=$1 gap
	shift
	P=$(free_port)
	start_fault run "${MAP[@]}" --proxy "127.0.0.1:$P=$UP" --tail --with-latency \
		--latency-mean 10 "$@"
	wait_for_line "$FAULT_OUT" '^[0-9:.]+ latency off$' "$FAULT_PID" 10
	gap=$(on_off_gap "$FAULT_OUT")
	stop_pid "$FAULT_PID"
	[ "$STOP_STATUS" = 0 ] || fail "fault run $*: status $STOP_STATUS"
	[ "$gap" -ge $((want - 30)) ] && [ "$gap" -le $((want + 600)) ] ||
		fail "fault run $*: on for $gap ms, want about $want"
	note "fault run $*: on for $gap ms (want $want)"
}

# ---- 2. long durations in words
window 720 --duration "2 hours" --latency-sched "start:0.01%,duration:0.01%"
window 540 --duration "1h 30min" --latency-sched "start:0.01%,duration:0.01%"
FAULT_PROXY_DURATION="1 minute" window 600 --latency-sched "start:1%,duration:1%"

# ---- 3. schedule clauses in words
window 500 --latency-sched "start:200 millis,duration:500 milliseconds"

# ---- 4. still refused
rc=0
"$FAULT" run "${MAP[@]}" --proxy "127.0.0.1:$(free_port)=$UP" --duration "1 minutess" \
	>"$E2E_TMP/bad.out" 2>"$E2E_TMP/bad.err" || rc=$?
[ "$rc" = 2 ] || fail "--duration '1 minutess': status $rc, want 2"
grep -q "^fault: --duration: '1 minutess': unknown time unit 'minutess' at column 3" "$E2E_TMP/bad.err" ||
	fail "--duration '1 minutess': $(cat "$E2E_TMP/bad.err")"
note "--duration '1 minutess': $(cat "$E2E_TMP/bad.err")"
