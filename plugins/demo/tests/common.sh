# plugins/demo/tests/common.sh - helpers for the demo tests (sourced after
# tests/e2e/lib.sh, not run).
#
#   PEERS                   the python peers (demo_peers.py)
#   start_demo ARGS...      `fault demo run ARGS...` in the background, with
#                           the environment changes in the array DEMO_ENV
#                           (NAME=VALUE or -u NAME, as env(1) takes them);
#                           waits for its listening line. Sets DEMO_PID,
#                           DEMO_OUT, DEMO_ERR and DEMO_URL (http://HOST:PORT)
#   start_peer NAME MODE PORT [ARG]
#                           demo_peers.py MODE PORT [ARG] in the background,
#                           waits until PORT accepts; sets PEER_PID
#   get PATH [CURL ARGS...] curl $DEMO_URL$PATH: body in $BODY (a file),
#                           status in $CODE, headers in $HDRS (a file)
#   check_json FILE EXPR    FILE is JSON and the Python EXPR (on j) holds
#   request_lines FILE      the per-request log lines of a demo's stdout

PEERS=$top_srcdir/plugins/demo/tests/demo_peers.py
DEMO_N=0
DEMO_ENV=()
BODY=$E2E_TMP/body
HDRS=$E2E_TMP/headers

start_demo() {
	DEMO_N=$((DEMO_N + 1))
	# Named fault*.out/err so that lib.sh shows them when a test fails.
	DEMO_OUT=$E2E_TMP/fault-demo$DEMO_N.out
	DEMO_ERR=$E2E_TMP/fault-demo$DEMO_N.err
	env "${DEMO_ENV[@]}" "$FAULT" demo run "$@" >"$DEMO_OUT" 2>"$DEMO_ERR" &
	DEMO_PID=$!
	track_pid "$DEMO_PID"
	wait_for_line "$DEMO_OUT" '^fault: listening on http://[^ ]+ \(demo\)$' "$DEMO_PID"
	DEMO_URL=$(sed -n 's/^fault: listening on \(http:[^ ]*\) (demo)$/\1/p' "$DEMO_OUT")
	return 0
}

start_peer() {
	local name=$1 mode=$2 port=$3
	shift 3
	python3 "$PEERS" "$mode" "$port" "$@" >"$E2E_TMP/$name.out" 2>&1 &
	PEER_PID=$!
	track_pid "$PEER_PID"
	wait_port 127.0.0.1 "$port" "$PEER_PID"
}

get() {
	local path=$1
	shift
	CODE=$(curl -sS --max-time 20 -o "$BODY" -D "$HDRS" -w '%{http_code}' "$@" "$DEMO_URL$path") ||
		fail "curl $* $DEMO_URL$path failed"
}

check_json() {
	python3 "$PEERS" json "$1" "$2" || fail "${3:-JSON check}: $(cat "$1")"
}

request_lines() {
	grep -E '^[A-Z-]+ [^ ]+ [0-9]{3} [0-9]+\.[0-9]ms$' "$1"
}
