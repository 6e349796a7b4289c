#!/usr/bin/env bash
# tests/e2e/run_listen.sh - `fault run` when a listener cannot be opened
# (issue 14, item 1). Every such listener is named on standard error with
# the system's reason; a run left with nothing listening ends with status
# 1 (a runtime failure), while a run given nothing to listen on at all is
# bad input (status 2):
#
#  1. --proxy-address (flag or FAULT_PROXY_ADDRESS) on a busy port: 1, one
#     line "cannot listen on ... address already in use";
#  2. a --proxy mapping on a busy port (forward proxy disabled): the same;
#  3. --disable-http-proxy and no mapping: 2, "nothing to proxy";
#  4. the default forward proxy address 127.0.0.1:3180 busy: alone, status
#     1 and one line naming 127.0.0.1:3180 and the reason (never "nothing
#     to proxy"); beside a mapping, the same line, and the mapping works.
#
# Part 4 needs 127.0.0.1:3180 itself, which other programs on this machine
# may use: the whole test runs in a private network namespace (unshare -rn)
# when the system allows one; otherwise part 4 is skipped.
if [ "${E2E_NETNS:-}" != 1 ] && command -v unshare >/dev/null 2>&1 &&
	command -v ip >/dev/null 2>&1 && unshare -rn ip link set lo up 2>/dev/null; then
	E2E_NETNS=1 exec unshare -rn bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

# hold PORT - a process listening on 127.0.0.1:PORT (sets HOLD_PID).
hold() {
	: >"$E2E_TMP/hold.out"
	python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("ready", flush=True)
time.sleep(60)' "$1" >"$E2E_TMP/hold.out" 2>&1 &
	HOLD_PID=$!
	track_pid "$HOLD_PID"
	wait_for_line "$E2E_TMP/hold.out" '^ready$' "$HOLD_PID"
}

# expect STATUS REGEX ARGS... - `fault ARGS...` ends with STATUS and one
# line on stderr matching REGEX, without claiming to listen.
expect() {
	local want=$1 re=$2 rc=0
	shift 2
	timeout 10 "$FAULT" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || rc=$?
	[ "$rc" = "$want" ] || fail "fault $*: exit status $rc, want $want ($(cat "$E2E_TMP/err"))"
	[ "$(wc -l <"$E2E_TMP/err")" = 1 ] || fail "fault $*: stderr is not one line: $(cat "$E2E_TMP/err")"
	grep -Eq -- "$re" "$E2E_TMP/err" || fail "fault $*: stderr does not match '$re': $(cat "$E2E_TMP/err")"
	grep -q 'listening on' "$E2E_TMP/out" && fail "fault $*: claims to listen: $(cat "$E2E_TMP/out")"
	note "fault $*: status $rc: $(cat "$E2E_TMP/err")"
}

UP=127.0.0.1:$(free_port)
P=$(free_port)
hold "$P"

# ---- 1. --proxy-address on a busy port
expect 1 "^fault: http: --proxy-address: cannot listen on 127\.0\.0\.1 port $P: address already in use$" \
	run --proxy-address "127.0.0.1:$P" --with-latency --latency-mean 300
FAULT_PROXY_ADDRESS=127.0.0.1:$P expect 1 \
	"^fault: http: --proxy-address: cannot listen on 127\.0\.0\.1 port $P: address already in use$" \
	run --with-latency --latency-mean 300

# ---- 2. a mapping on a busy port
expect 1 "^fault: tcp: --proxy '127\.0\.0\.1:$P=$UP': cannot listen on 127\.0\.0\.1 port $P: address already in use$" \
	run --disable-http-proxy --proxy "127.0.0.1:$P=$UP"

# ---- 3. nothing to listen on at all
expect 2 '^fault: run: nothing to proxy' run --disable-http-proxy
FAULT_DISABLE_HTTP_PROXY=true expect 2 '^fault: run: nothing to proxy' run --with-latency --latency-mean 300
stop_pid "$HOLD_PID"

# ---- 4. the default forward proxy address is busy
if [ "${E2E_NETNS:-}" != 1 ]; then
	note "SKIP part 4: no private network namespace (unshare -rn) to own 127.0.0.1:3180 in"
	exit 0
fi
hold 3180
busy='^fault: http: forward proxy not started: cannot listen on 127\.0\.0\.1:3180: address already in use'
expect 1 "$busy" run --with-latency --latency-mean 300
grep -q 'nothing to proxy' "$E2E_TMP/err" && fail "the busy default address is reported as 'nothing to proxy'"

# Beside a mapping the run goes on, and says once why there is no forward proxy.
# (python's server: nginx cannot switch users inside the namespace)
mkdir -p "$E2E_TMP/www"
printf 'mapped\n' >"$E2E_TMP/www/index.html"
WEB_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$E2E_TMP/www" "$WEB_PORT" \
	>"$E2E_TMP/web.log" 2>&1 &
track_pid $!
wait_port 127.0.0.1 "$WEB_PORT" $!
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$WEB_PORT" --with-latency --latency-mean 1
body=$(curl -sS --fail --max-time 10 "http://127.0.0.1:$P/index.html") || fail "curl through the mapping failed"
[ "$body" = mapped ] || fail "curl through the mapping got '$body'"
[ "$(wc -l <"$FAULT_ERR")" = 1 ] || fail "stderr is not one line: $(cat "$FAULT_ERR")"
grep -Eq "$busy" "$FAULT_ERR" || fail "no line about the forward proxy: $(cat "$FAULT_ERR")"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "the run with a mapping ended with status $STOP_STATUS"
note "default address busy: $(cat "$FAULT_ERR"); the mapping worked"
