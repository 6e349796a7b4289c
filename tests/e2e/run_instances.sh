#!/usr/bin/env bash
# tests/e2e/run_instances.sh - several instances of one fault in a run
# (`fault run --instance PLUGIN`): curl -> fault --proxy -> nginx.
#
#  1. latency (100 ms, server ingress) and, after --instance latency, a
#     second instance (300 ms, client egress) both act on one request:
#     the events name "latency" and "latency#2" as source and fault, each
#     with its own settings (delay, side, direction), and a third instance
#     scheduled an hour from now never acts. The request is >= 395 ms
#     slower than direct (the two delays add up; delays never end early,
#     5 ms absorbs noise of the direct baseline) and < 1 s (so the third
#     instance's 5 s did not apply);
#  2. instances draw from their own streams: with --seed 5 and a stddev,
#     the first instance draws the same delay with or without a second
#     instance, and the second draws another;
#  3. bad use exits 2 with one line naming --instance: an unknown plugin,
#     a plugin that is not a fault, no value; an instance's own
#     configuration errors name it ("latency#2");
#  4. 33 instances attach to one connection, and the last one acts;
#  5. --instance is out of `fault run --help` but in fault-run(1).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

start_nginx
printf 'hello from nginx\n' >"$WWW/index.html"
DIRECT=http://127.0.0.1:$NGINX_PORT
curl -sS --fail -o /dev/null "$DIRECT/index.html" || fail "nginx does not serve index.html"
base=
for _ in 1 2 3 4 5; do
	t=$(curl -sS --fail -o /dev/null -w '%{time_total}' "$DIRECT/index.html") || fail "direct curl"
	if [ -z "$base" ] || awk -v a="$t" -v b="$base" 'BEGIN { exit !(a < b) }'; then
		base=$t
	fi
done
note "direct baseline ${base}s"

# events FILE PYTHON - runs PYTHON with ev = the list of events in FILE.
events() {
	python3 - "$1" "$2" <<'EOF' || fail "events check failed"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
applied = [e for e in ev if e["type"] == "fault_applied"]
exec(sys.argv[2])
EOF
}

# ---- 1. two acting instances with their own settings, a third scheduled away
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --no-ui --seed 1 \
	--events "$E2E_TMP/ev1.jsonl" \
	--with-latency --latency-mean 100 --latency-stddev 0 \
	--instance latency --latency-mean 300 --latency-stddev 0 --latency-side client \
	--latency-direction egress \
	--instance latency --latency-mean 5000 --latency-stddev 0 --latency-sched start:1h
t=$(curl -sS --fail --max-time 10 -o "$E2E_TMP/body1" -w '%{time_total}' "http://127.0.0.1:$P/index.html") ||
	fail "curl through two latency instances"
cmp -s "$E2E_TMP/body1" "$WWW/index.html" || fail "index.html differs through the instances"
d=$(ms_diff "$base" "$t")
note "through latency + latency#2: ${t}s, +${d} ms"
[ "$d" -ge 395 ] || fail "100 ms + 300 ms: response only ${d} ms slower than direct (want >= 395)"
[ "$d" -lt 1000 ] || fail "response ${d} ms slower than direct (want < 1000: latency#3 must be off)"
wait_for_line "$E2E_TMP/ev1.jsonl" '"fault":"latency#2"' "$FAULT_PID"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
events "$E2E_TMP/ev1.jsonl" '
by = {}
for e in applied:
    assert e["source"] == e["fault"], e
    by.setdefault(e["fault"], []).append(e)
assert sorted(by) == ["latency", "latency#2"], sorted(by)
a, = by["latency"]
b, = by["latency#2"]
assert (a["side"], a["direction"], a["params"]["delay_ms"]) == ("server", "ingress", 100), a
assert (b["side"], b["direction"], b["params"]["delay_ms"]) == ("client", "egress", 300), b
# The request crossed latency#2 (egress) before latency (ingress).
assert b["time_us"] < a["time_us"], (a, b)
'
note "events: latency delayed 100 ms (server ingress), latency#2 300 ms (client egress), latency#3 nothing"

# ---- 2. each instance its own random stream
draws() { # FILE -> "latency-delay latency#2-delay"
	python3 - "$1" <<'EOF'
import json, sys
d = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "fault_applied":
        d[e["fault"]] = e["params"]["delay_ms"]
print(d.get("latency", "-"), d.get("latency#2", "-"))
EOF
}
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --no-ui --seed 5 \
	--events "$E2E_TMP/ev2.jsonl" --with-latency --latency-mean 100 --latency-stddev 30
curl -sS --fail --max-time 10 -o /dev/null "http://127.0.0.1:$P/index.html" || fail "curl (one instance)"
wait_for_line "$E2E_TMP/ev2.jsonl" '"fault":"latency"' "$FAULT_PID"
stop_pid "$FAULT_PID"
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --no-ui --seed 5 \
	--events "$E2E_TMP/ev3.jsonl" --with-latency --latency-mean 100 --latency-stddev 30 \
	--instance latency --latency-mean 100 --latency-stddev 30
curl -sS --fail --max-time 10 -o /dev/null "http://127.0.0.1:$P/index.html" || fail "curl (two instances)"
wait_for_line "$E2E_TMP/ev3.jsonl" '"fault":"latency"' "$FAULT_PID"
wait_for_line "$E2E_TMP/ev3.jsonl" '"fault":"latency#2"' "$FAULT_PID"
stop_pid "$FAULT_PID"
read -r one _ <<<"$(draws "$E2E_TMP/ev2.jsonl")"
read -r first second <<<"$(draws "$E2E_TMP/ev3.jsonl")"
note "seed 5: latency alone drew $one ms; with latency#2: $first ms and $second ms"
[ "$one" != - ] && [ "$one" = "$first" ] || fail "latency drew $one ms alone but $first ms beside latency#2"
[ "$second" != - ] && [ "$second" != "$first" ] || fail "latency#2 drew $second ms, latency $first ms: not independent"

# ---- 3. bad use: exit 2, one line
bad() { # EXPECTED_RE ARGS...
	local re=$1 rc
	shift
	"$FAULT" run --proxy "127.0.0.1:$(free_port)=127.0.0.1:$NGINX_PORT" --no-ui "$@" \
		>"$E2E_TMP/bad.out" 2>"$E2E_TMP/bad.err"
	rc=$?
	[ "$rc" = 2 ] || fail "fault run $*: exit status $rc, want 2 ($(cat "$E2E_TMP/bad.err"))"
	[ "$(wc -l <"$E2E_TMP/bad.err")" = 1 ] || fail "fault run $*: not one line: $(cat "$E2E_TMP/bad.err")"
	grep -Eq -- "$re" "$E2E_TMP/bad.err" || fail "fault run $*: '$(cat "$E2E_TMP/bad.err")' does not match '$re'"
	note "$* -> $(cat "$E2E_TMP/bad.err")"
}
bad "^fault: --instance: 'nope': no plugin of that name is loaded" --instance nope
bad "^fault: --instance: 'tcp' is a protocol plugin: only faults can have several instances" --instance=tcp
bad "^fault: --instance: needs a value" --with-latency --latency-mean 1 --instance
bad "^fault: latency#2: --latency-mean is required" --with-latency --latency-mean 1 --instance latency
bad "^fault: latency#2: --latency-sched: 'start:10%'" --instance latency --latency-mean 1 --latency-sched start:10%

# ---- 4. many instances on one connection: 16 bandwidth and 16 jitter
# instances (scheduled an hour away: attached, idle) come before latency in
# load order; latency, the 33rd, still acts (a stream once attached at most 32).
many=(--with-bandwidth --bandwidth-sched start:1h --with-jitter --jitter-sched start:1h)
for _ in $(seq 15); do
	many+=(--instance bandwidth --bandwidth-sched start:1h --instance jitter --jitter-sched start:1h)
done
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --no-ui --events "$E2E_TMP/ev4.jsonl" \
	"${many[@]}" --with-latency --latency-mean 50 --latency-stddev 0
curl -sS --fail --max-time 10 -o /dev/null "http://127.0.0.1:$P/index.html" || fail "curl through 33 instances"
wait_for_line "$E2E_TMP/ev4.jsonl" '"fault":"latency"' "$FAULT_PID"
stop_pid "$FAULT_PID"
note "33 instances on one connection: the last one (latency) acts"

# ---- 5. documentation
"$FAULT" run --help >"$E2E_TMP/help" || fail "fault run --help"
grep -q -- '--instance' "$E2E_TMP/help" && fail "--instance is listed by fault run --help"
"$FAULT" manpage run | grep -q 'SEVERAL INSTANCES' || fail "fault-run(1) does not describe --instance"
note "ok"
