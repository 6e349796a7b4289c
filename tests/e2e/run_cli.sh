#!/usr/bin/env bash
# tests/e2e/run_cli.sh - the command line of `fault` and the lifecycle of
# `fault run`:
#
#  1. bad input (malformed mappings, schedules, values, unknown flag,
#     missing value, missing required option, bad environment variable):
#     exit status exactly 2 (never a crash, >= 128), exactly one line on
#     stderr naming the flag (or variable), nothing on stdout (nothing
#     started listening);
#  2. fault --version, fault plugins (tcp and latency loaded), fault run
#     --help (mentions --latency-mean);
#  3. --duration 1s ends the run by itself with status 0, after >= 0.95 s
#     and within `timeout 10`; SIGINT and SIGTERM end it with status 0;
#  4. a listen port already in use: non-zero exit, one clear message;
#  5. a scheduled latency (--duration 4s, start:1s,duration:1s, 300 ms):
#     --tail prints "latency on" then "latency off" about 1 s apart
#     (accepted: 900..1500 ms), a request made after the "on" line is
#     delayed (>= 295 ms: the delay never ends early), one made after the
#     "off" line is not (< 150 ms: loopback requests take a few ms; the
#     rest is slack for a loaded machine); the run then ends with status 0.
#     Requests are synchronised on the printed lines, never on sleeps;
#  6. --proxy PORT=... listens on 127.0.0.1 and, where the host has it, on
#     [::1] (the startup line says both; curl reaches the upstream through
#     each), nowhere else (/proc/net/tcp agrees); --proxy 0.0.0.0:PORT=...
#     on 0.0.0.0 only (no [::1] twin).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

# A port nothing listens on, for mappings that must never get that far.
NOPORT=$(free_port)
UP=127.0.0.1:$NOPORT

# bad FLAG_REGEX ARGS... - `fault ARGS...` must reject its input.
nbad=0
bad() {
	local want=$1 rc=0 lines
	shift
	nbad=$((nbad + 1))
	timeout 10 "$FAULT" "$@" >"$E2E_TMP/bad.out" 2>"$E2E_TMP/bad.err" || rc=$?
	[ "$rc" = 124 ] && fail "fault $* did not exit within 10 s (it should reject its input)"
	[ "$rc" -lt 128 ] || fail "fault $* crashed (status $rc): $(cat "$E2E_TMP/bad.err")"
	[ "$rc" = 2 ] || fail "fault $*: exit status $rc, want 2 ($(cat "$E2E_TMP/bad.err"))"
	lines=$(wc -l <"$E2E_TMP/bad.err")
	[ "$lines" = 1 ] || fail "fault $*: $lines lines on stderr, want 1: $(cat "$E2E_TMP/bad.err")"
	grep -Eq -- "$want" "$E2E_TMP/bad.err" ||
		fail "fault $*: stderr does not match '$want': $(cat "$E2E_TMP/bad.err")"
	[ -s "$E2E_TMP/bad.out" ] && fail "fault $*: printed on stdout: $(head -c 200 "$E2E_TMP/bad.out")"
	return 0
}

# ---- 1. bad input
# Mappings.
bad '^fault: --proxy: .abc.:' run --proxy abc
bad '^fault: --proxy: .99999=127\.0\.0\.1:1.: .*port' run --proxy 99999=127.0.0.1:1
bad '^fault: --proxy: .9000=.: .*upstream' run --proxy 9000=
bad '^fault: --proxy: .9000=host.: .*port' run --proxy 9000=host
bad "^fault: --proxy: .9000=ftp://h:1.: no protocol plugin serves scheme ftp" run --proxy 9000=ftp://h:1
bad "^fault: --proxy: .9000=f_p://h:1.: invalid scheme 'f_p'" run --proxy 9000=f_p://h:1
bad '^fault: --proxy: .=h:1.: .*listen port' run --proxy =h:1
bad '^fault: --proxy: .*missing' run --proxy "[::1:$NOPORT=$UP"
bad '^fault: --proxy: .*already mapped' run --proxy "127.0.0.1:$NOPORT=$UP" --proxy "127.0.0.1:$NOPORT=$UP"
# Schedules.
LAT=(--proxy "127.0.0.1:$NOPORT=$UP" --with-latency --latency-mean 5)
bad "^fault: --latency-sched: 'start:3x': .*unit" run "${LAT[@]}" --latency-sched start:3x
bad "^fault: --latency-sched: 'start:10%': .*--duration" run "${LAT[@]}" --latency-sched start:10%
bad "^fault: --latency-sched: 'bogus': " run "${LAT[@]}" --latency-sched bogus
bad "^fault: --latency-sched: 'start:1s,start:2s': a second start in one period" run "${LAT[@]}" \
	--latency-sched start:1s,start:2s
# Values.
bad "^fault: --latency-mean: 'abc' is not a number" run --proxy "127.0.0.1:$NOPORT=$UP" --with-latency --latency-mean abc
bad '^fault: --latency-mean: -5 is outside' run --proxy "127.0.0.1:$NOPORT=$UP" --with-latency --latency-mean -5
bad '^fault: --latency-stddev: -1 is outside' run "${LAT[@]}" --latency-stddev -1
bad "^fault: --latency-distribution: 'weird' is not one of" run "${LAT[@]}" --latency-distribution weird
bad "^fault: --duration: '5parsecs': " run --proxy "127.0.0.1:$NOPORT=$UP" --duration 5parsecs
bad "^fault: --seed: 'x' is not an integer" run --proxy "127.0.0.1:$NOPORT=$UP" --seed x
bad "^fault: --log-level: 'loud'" run --proxy "127.0.0.1:$NOPORT=$UP" --log-level loud
# Unknown flag, missing value, missing required option.
bad '^fault: --nope: unknown option' run --proxy "127.0.0.1:$NOPORT=$UP" --nope
bad '^fault: --nope: unknown global option' --nope run
bad "^fault: 'nosuch' is not a command" nosuch
bad '^fault: --latency-mean: needs a value' run --proxy "127.0.0.1:$NOPORT=$UP" --with-latency --latency-mean
bad '^fault: latency: --latency-mean is required' run --proxy "127.0.0.1:$NOPORT=$UP" --with-latency
bad '^fault: latency: --latency-max is required' run "${LAT[@]}" --latency-distribution uniform
bad '^fault: latency: --latency-mean has no effect with --latency-distribution uniform' run \
	"${LAT[@]}" --latency-distribution uniform --latency-min 1 --latency-max 2
# Options that contradict each other, or name what cannot serve (issue 13).
bad '^fault: --tail and --no-ui contradict' run --proxy "127.0.0.1:$NOPORT=$UP" --tail --no-ui
bad '^fault: --duration: must be at least 1ms' run --proxy "127.0.0.1:$NOPORT=$UP" --duration 0
bad '^fault: --duration: must be at least 1ms' run --proxy "127.0.0.1:$NOPORT=$UP" --duration 999ns
bad '^fault: --seed' run --proxy "127.0.0.1:$NOPORT=$UP" --seed -1
bad '^fault: --tls-no-verify and --tls-ca-file contradict' run --proxy "127.0.0.1:$NOPORT=$UP" \
	--tls-no-verify --tls-ca-file /etc/hostname
bad '^fault: --tls-ca-file: /nonexistent.pem: No such file' run --proxy "127.0.0.1:$NOPORT=$UP" \
	--tls-ca-file /nonexistent.pem
bad '^fault: --tls-ca-file: /etc/hostname: no PEM certificate' run --proxy "127.0.0.1:$NOPORT=$UP" \
	--tls-ca-file /etc/hostname
bad '^fault: --plugin-dir: /nonexistent-dir: not a directory' --plugin-dir /nonexistent-dir run \
	--proxy "127.0.0.1:$NOPORT=$UP"
bad '^fault: http: --http-intercept needs the forward proxy' run --proxy "127.0.0.1:$NOPORT=$UP" \
	--disable-http-proxy --http-intercept
# A fault's settings without its --with-X would do nothing: refused, for
# every fault plugin (the core checks), a schedule included.
bad '^fault: --latency-mean: the latency fault is off: give --with-latency' run \
	--proxy "127.0.0.1:$NOPORT=$UP" --latency-mean 300
bad '^fault: --latency-sched: the latency fault is off' run --proxy "127.0.0.1:$NOPORT=$UP" \
	--latency-sched start:1s
bad '^fault: --bandwidth-rate: the bandwidth fault is off: give --with-bandwidth' run \
	--proxy "127.0.0.1:$NOPORT=$UP" --bandwidth-rate 1000
bad '^fault: --latency-mean: the latency fault is off' run --proxy "127.0.0.1:$NOPORT=$UP" \
	--with-latency=false --latency-mean 300
# Environment variables.
FAULT_LATENCY_MEAN=abc bad '^fault: FAULT_LATENCY_MEAN \(environment, for --latency-mean\): .abc.' \
	run --proxy "127.0.0.1:$NOPORT=$UP" --with-latency
FAULT_PROXY_DURATION=soon bad '^fault: FAULT_PROXY_DURATION \(environment, for --duration\)' \
	run --proxy "127.0.0.1:$NOPORT=$UP"
FAULT_PROXIES=abc bad "^fault: --proxy: 'abc'" run
note "$nbad bad inputs rejected with status 2 and one line on stderr"
# The same setting from the environment is let be (a shell may keep it for
# the runs that enable the fault): the run goes on.
rc=0
FAULT_LATENCY_MEAN=300 timeout 10 "$FAULT" run --disable-http-proxy --proxy "127.0.0.1:$(free_port)=$UP" \
	--duration 1ms --no-ui >"$E2E_TMP/envoff.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "FAULT_LATENCY_MEAN without --with-latency: status $rc: $(cat "$E2E_TMP/envoff.out")"

# ---- 2. version, plugins, help
out=$("$FAULT" --version) || fail "fault --version: status $?"
echo "$out" | grep -Eq '^fault [0-9]+\.[0-9]+' || fail "fault --version printed '$out'"
"$FAULT" plugins >"$E2E_TMP/plugins.out" 2>&1 || fail "fault plugins: status $?"
for p in tcp latency; do
	grep -Eq "^$p +[a-z]+ .* loaded \(" "$E2E_TMP/plugins.out" ||
		fail "fault plugins does not list $p as loaded: $(cat "$E2E_TMP/plugins.out")"
done
"$FAULT" run --help >"$E2E_TMP/help.out" 2>&1 || fail "fault run --help: status $?"
grep -q -- '--latency-mean' "$E2E_TMP/help.out" || fail "fault run --help does not mention --latency-mean"
grep -q -- '--proxy' "$E2E_TMP/help.out" || fail "fault run --help does not mention --proxy"
note "version, plugins, help: ok"

# ---- 3. --duration, SIGINT, SIGTERM
P=$(free_port)
t0=$(date +%s%N)
rc=0
timeout 10 "$FAULT" run --proxy "127.0.0.1:$P=$UP" --duration 1s >"$E2E_TMP/dur.out" 2>&1 || rc=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ "$rc" != 124 ] || fail "--duration 1s: still running after 10 s"
[ "$rc" = 0 ] || fail "--duration 1s: exit status $rc: $(cat "$E2E_TMP/dur.out")"
[ "$ms" -ge 950 ] || fail "--duration 1s: ended after only $ms ms"
grep -q "^fault: listening on 127.0.0.1:$P " "$E2E_TMP/dur.out" || fail "--duration 1s: no listening line"
note "--duration 1s: status 0 after $ms ms"

for sig in INT TERM; do
	P=$(free_port)
	# Without the forward proxy: its default address may be another
	# program's, which is worth a line on stderr (tests/e2e/run_listen.sh).
	start_fault run --disable-http-proxy --proxy "127.0.0.1:$P=$UP"
	stop_pid "$FAULT_PID" "$sig"
	[ "$STOP_STATUS" = 0 ] || fail "SIG$sig: exit status $STOP_STATUS, want 0"
	[ -s "$FAULT_ERR" ] && fail "SIG$sig: stderr: $(cat "$FAULT_ERR")"
	# The port is free again.
	python3 -c 'import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))' "$P" 2>/dev/null || fail "SIG$sig: port $P still taken"
done
note "SIGINT, SIGTERM: status 0"

# ---- 4. port already in use
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=$UP" --no-ui
rc=0
timeout 10 "$FAULT" run --proxy "127.0.0.1:$P=$UP" >"$E2E_TMP/busy.out" 2>"$E2E_TMP/busy.err" || rc=$?
[ "$rc" != 124 ] || fail "port in use: still running after 10 s"
[ "$rc" != 0 ] || fail "port in use: exit status 0"
[ "$rc" -lt 128 ] || fail "port in use: crashed (status $rc)"
[ "$(wc -l <"$E2E_TMP/busy.err")" = 1 ] || fail "port in use: stderr is not one line: $(cat "$E2E_TMP/busy.err")"
grep -Eq "cannot listen on 127\.0\.0\.1 port $P: address already in use" "$E2E_TMP/busy.err" ||
	fail "port in use: unclear message: $(cat "$E2E_TMP/busy.err")"
grep -q 'listening on' "$E2E_TMP/busy.out" && fail "port in use: claims to be listening"
kill -0 "$FAULT_PID" 2>/dev/null || fail "the first fault died"
stop_pid "$FAULT_PID"
note "port in use: status $rc, $(cat "$E2E_TMP/busy.err")"

# ---- 5. scheduled latency
start_nginx
printf 'scheduled\n' >"$WWW/index.html"
curl -sS --fail -o /dev/null "http://127.0.0.1:$NGINX_PORT/index.html" || fail "nginx"
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --duration 4s \
	--with-latency --latency-mean 300 --latency-stddev 0 --latency-sched start:1s,duration:1s
URL=http://127.0.0.1:$P/index.html
fetch() {
	curl -sS --fail --max-time 10 -o "$E2E_TMP/sched.body" -w '%{time_total}' "$URL" ||
		fail "curl through the scheduled proxy failed"
	cmp -s "$E2E_TMP/sched.body" "$WWW/index.html" || fail "scheduled latency: body differs"
}
wait_for_line "$FAULT_OUT" '^[0-9:.]+ latency on$' "$FAULT_PID"
t_on=$(fetch)
grep -q ' latency off$' "$FAULT_OUT" && fail "the fault went off before the 'on' request finished (slow machine?)"
wait_for_line "$FAULT_OUT" '^[0-9:.]+ latency off$' "$FAULT_PID"
t_off=$(fetch)
ms_on=$(ms_diff 0 "$t_on")
ms_off=$(ms_diff 0 "$t_off")
note "request while on: $ms_on ms, while off: $ms_off ms"
[ "$ms_on" -ge 295 ] || fail "request after 'latency on' took $ms_on ms, want >= 295"
[ "$ms_off" -lt 150 ] || fail "request after 'latency off' took $ms_off ms, want < 150"
grep -Eq ' #1 latency .*delay_ms=300' "$FAULT_OUT" || fail "no latency line for the first connection"
grep -q ' #2 latency ' "$FAULT_OUT" && fail "latency applied to a connection made after 'off'"
# The "on" and "off" lines are about the scheduled 1 s apart.
gap=$(grep -E ' latency (on|off)$' "$FAULT_OUT" | awk '
	{ split($1, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3] }
	$3 == "on" { on = s } $3 == "off" { off = s }
	END { d = off - on; if (d < 0) d += 86400; printf "%d", d * 1000 }')
[ "$gap" -ge 900 ] && [ "$gap" -le 1500 ] || fail "'latency on' to 'latency off' took $gap ms, want about 1000"
n_on=$(grep -c ' latency on$' "$FAULT_OUT")
n_off=$(grep -c ' latency off$' "$FAULT_OUT")
[ "$n_on" = 1 ] && [ "$n_off" = 1 ] || fail "$n_on 'on' and $n_off 'off' lines, want 1 each"
# --duration 4s ends the run by itself.
for ((i = 0; i < 1000; i++)); do
	kill -0 "$FAULT_PID" 2>/dev/null || break
	[ "$(awk '{print $3}' "/proc/$FAULT_PID/stat" 2>/dev/null)" = Z ] && break
	sleep 0.01
done
kill -0 "$FAULT_PID" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$FAULT_PID/stat")" != Z ] &&
	fail "--duration 4s: still running 10 s after 'latency off'"
wait "$FAULT_PID"
rc=$?
untrack_pid "$FAULT_PID"
[ "$rc" = 0 ] || fail "--duration 4s: exit status $rc"
note "scheduled latency: on/off ${gap} ms apart; run ended with status 0"

# ---- 6. where mappings listen: loopback unless an address is given
# listen_addrs PORT - the local addresses of the sockets listening on PORT
# (from /proc/net/tcp, as dotted quads).
listen_addrs() {
	python3 - "$1" <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
with open("/proc/net/tcp") as f:
    next(f)
    for line in f:
        local, st = line.split()[1], line.split()[3]
        addr, p = local.split(":")
        if st == "0A" and int(p, 16) == port:
            print(socket.inet_ntoa(struct.pack("<I", int(addr, 16))))
PY
}
P=$(free_port)
P2=$(free_port)
P3=$(free_port)
start_fault run --proxy "$P=$UP" --proxy "0.0.0.0:$P2=$UP" --proxy "$P3=127.0.0.1:$NGINX_PORT"
# Where the host has IPv6 loopback, a mapping without an address listens
# on [::1] too, and says so; elsewhere on 127.0.0.1 alone, silently.
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	V6=" and \\[::1\\]:$P"
else
	V6=
	note "no IPv6 loopback here: [::1] not checked"
fi
grep -q "^fault: listening on 127.0.0.1:$P$V6 -> " "$FAULT_OUT" ||
	fail "no address: the startup line should name 127.0.0.1:$P${V6:+ and [::1]:$P}: $(cat "$FAULT_OUT")"
if [ -n "$V6" ]; then
	grep -q "^fault: listening on 0.0.0.0:$P2 and" "$FAULT_OUT" && fail "0.0.0.0 given: a twin on [::1]"
	for url in "http://[::1]:$P3/index.html" "http://127.0.0.1:$P3/index.html"; do
		out=$(curl -sS --fail --max-time 10 "$url") || fail "curl $url through the mapping failed"
		[ "$out" = scheduled ] || fail "curl $url: '$out'"
	done
	curl -sS --max-time 5 -o /dev/null "http://[::1]:$P2/" 2>/dev/null &&
		fail "0.0.0.0:$P2 given: [::1]:$P2 answers"
	note "--proxy PORT=...: [::1] and 127.0.0.1 both reach the upstream"
fi
grep -q "^fault: listening on 0.0.0.0:$P2 -> " "$FAULT_OUT" ||
	fail "0.0.0.0 given: the startup line should name 0.0.0.0:$P2: $(cat "$FAULT_OUT")"
got=$(listen_addrs "$P")
[ "$got" = 127.0.0.1 ] || fail "--proxy $P=...: listening on '$got', want 127.0.0.1 only"
got=$(listen_addrs "$P2")
[ "$got" = 0.0.0.0 ] || fail "--proxy 0.0.0.0:$P2=...: listening on '$got', want 0.0.0.0"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
note "--proxy PORT=... listens on 127.0.0.1, --proxy 0.0.0.0:PORT=... on 0.0.0.0"
