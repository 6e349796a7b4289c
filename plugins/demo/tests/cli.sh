#!/usr/bin/env bash
# plugins/demo/tests/cli.sh - how `fault demo` takes its address and port,
# and how it refuses bad input:
#
#  1. bad input exits 2 with exactly one line on stderr and nothing
#     listening: a port that is not a number or above 65535 (positional),
#     FAULT_DEMO_PORT=abc, --port 70000, no "run", a fourth word, an
#     --upstream-url that is not http(s);
#  2. a busy port exits 1 with one line naming it;
#  3. where it listens: FAULT_DEMO_ADDR / FAULT_DEMO_PORT, --address /
#     --port, a lone numeric word (the port), positional words winning over
#     flags, port 0 (any free port, printed), and [::1] when the host has
#     IPv6 loopback (/ping/myself then calls [::1] too);
#  4. SIGTERM and SIGINT both end it with status 0; `fault demo --help`
#     lists the options and their environment variables.
if ! . "$top_srcdir/tests/e2e/lib.sh"; then exit 99; fi
. "$top_srcdir/plugins/demo/tests/common.sh" || exit 99

# refuse WANT_STATUS PATTERN ARGS... - `fault ARGS...` exits WANT_STATUS
# at once with one stderr line matching PATTERN, and prints nothing.
refuse() {
	local want=$1 re=$2 rc
	shift 2
	"$FAULT" "$@" >"$E2E_TMP/r.out" 2>"$E2E_TMP/r.err" </dev/null
	rc=$?
	[ "$rc" = "$want" ] || fail "'$*': exit status $rc, want $want ($(cat "$E2E_TMP/r.err"))"
	[ "$(wc -l <"$E2E_TMP/r.err")" = 1 ] || fail "'$*': stderr is not one line: $(cat "$E2E_TMP/r.err")"
	grep -Eq -- "$re" "$E2E_TMP/r.err" || fail "'$*': stderr '$(cat "$E2E_TMP/r.err")' !~ $re"
	[ ! -s "$E2E_TMP/r.out" ] || fail "'$*': printed $(cat "$E2E_TMP/r.out")"
	note "'$*' -> $rc: $(cat "$E2E_TMP/r.err")"
}

# ---- 1. bad input
P=$(free_port)
refuse 2 "invalid port 'notaport'" demo run 127.0.0.1 notaport
refuse 2 "invalid port '70000'" demo run 127.0.0.1 70000
refuse 2 "invalid port '-1'" demo run 127.0.0.1 -- -1
FAULT_DEMO_PORT=abc refuse 2 'FAULT_DEMO_PORT' demo run
refuse 2 'port.*70000' demo run --port 70000
refuse 2 "subcommand" demo
refuse 2 "subcommand" demo start
refuse 2 "unexpected argument 'extra'" demo run 127.0.0.1 "$P" extra
refuse 2 'upstream-url' demo run 127.0.0.1 "$P" --upstream-url ftp://127.0.0.1/x

# ---- 2. busy port
BUSY=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("ready", flush=True); time.sleep(60)' "$BUSY" >"$E2E_TMP/busy.out" &
busy_pid=$!
track_pid "$busy_pid"
wait_for_line "$E2E_TMP/busy.out" '^ready$' "$busy_pid"
refuse 1 "cannot listen on 127.0.0.1 port $BUSY" demo run 127.0.0.1 "$BUSY"
stop_pid "$busy_pid"

# ---- 3. address and port sources
check_listen() {
	[ "$DEMO_URL" = "$1" ] || fail "$2: listens on $DEMO_URL, want $1"
	get /
	[ "$CODE" = 200 ] || fail "$2: GET / $CODE"
	stop_pid "$DEMO_PID" INT
	[ "$STOP_STATUS" = 0 ] || fail "$2: SIGINT exit status $STOP_STATUS"
	note "$2: $DEMO_URL"
}
P=$(free_port)
DEMO_ENV=(FAULT_DEMO_ADDR=127.0.0.1 "FAULT_DEMO_PORT=$P")
start_demo
check_listen "http://127.0.0.1:$P" "FAULT_DEMO_ADDR/FAULT_DEMO_PORT"
DEMO_ENV=()
P=$(free_port)
start_demo --address 127.0.0.1 --port "$P"
check_listen "http://127.0.0.1:$P" "--address/--port"
P=$(free_port)
start_demo "$P"
check_listen "http://127.0.0.1:$P" "lone numeric word"
P=$(free_port)
Q=$(free_port)
DEMO_ENV=("FAULT_DEMO_PORT=$Q")
start_demo 127.0.0.1 "$P" --port "$Q"
check_listen "http://127.0.0.1:$P" "positional words over --port and FAULT_DEMO_PORT"
DEMO_ENV=()
start_demo 127.0.0.1 0
case $DEMO_URL in http://127.0.0.1:0 | http://127.0.0.1:) fail "port 0: $DEMO_URL" ;; esac
check_listen "$DEMO_URL" "port 0"
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	P=$(free_port)
	start_demo ::1 "$P"
	[ "$DEMO_URL" = "http://[::1]:$P" ] || fail "::1: listens on $DEMO_URL"
	get /ping/myself -g
	[ "$CODE" = 200 ] || fail "::1: /ping/myself $CODE $(cat "$BODY")"
	grep -q "^GET / 200 " "$DEMO_OUT" || fail "::1: /ping/myself did not call [::1]"
	check_listen "http://[::1]:$P" "IPv6 loopback"
else
	note "no IPv6 loopback here: [::1] not tested"
fi

# ---- 4. signals, help
start_demo 127.0.0.1 "$(free_port)"
stop_pid "$DEMO_PID" TERM
[ "$STOP_STATUS" = 0 ] || fail "SIGTERM: exit status $STOP_STATUS"
grep -q '^fault: demo: terminated, stopping$' "$DEMO_OUT" || fail "SIGTERM: $(cat "$DEMO_OUT")"
[ ! -s "$DEMO_ERR" ] || fail "stderr after SIGTERM: $(cat "$DEMO_ERR")"
"$FAULT" demo --help >"$E2E_TMP/help" 2>&1 || fail "fault demo --help failed"
for w in 'run \[ADDRESS\] \[PORT\]' '--address' 'FAULT_DEMO_ADDR' '--port' 'FAULT_DEMO_PORT' \
	'--upstream-url' 'FAULT_DEMO_UPSTREAM_URL'; do
	grep -q -- "$w" "$E2E_TMP/help" || fail "demo --help lacks $w: $(cat "$E2E_TMP/help")"
done
note "SIGTERM exits 0; --help lists the options"
exit 0
