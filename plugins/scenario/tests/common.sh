# plugins/scenario/tests/common.sh - helpers for the scenario tests (sourced
# after tests/e2e/lib.sh, whose FAULT, E2E_TMP, fail, note, free_port,
# wait_for_line, track_pid and start_nginx they use).
#
# Provides:
#   SCEN_DIR               this directory (fixtures, app.py)
#   PROXY_PORT             a free port for the proxies the runner starts;
#                          FAULT_SCENARIO_PROXY_ADDR points at it
#   start_app UPSTREAM [SPEC...]
#                          tests/app.py on a free port, its downstream calls
#                          going to UPSTREAM through the runner's proxy;
#                          sets APP_PORT, APP_PID, APP_LOG (requests it
#                          answered, one JSON line each); APP_PYTHON
#                          names the interpreter (default python3)
#   scenario ARGS...       `fault scenario ARGS...` from $E2E_TMP; sets
#                          SCEN_RC, SCEN_OUT, SCEN_ERR (files)
#   json FILE PYTHON       runs PYTHON with `d` the parsed JSON of FILE;
#                          the test fails if it raises (use assert)

SCEN_DIR="$top_srcdir/plugins/scenario/tests"
PROXY_PORT=$(free_port)
export FAULT_SCENARIO_PROXY_ADDR="127.0.0.1:$PROXY_PORT"
SCEN_N=0

start_app() {
	local upstream=$1
	shift
	APP_PORT=$(free_port)
	APP_LOG=$E2E_TMP/app-requests.log
	: >"$APP_LOG"
	# The app's downstream calls must go through the proxy: lib.sh's
	# NO_PROXY='*' would make urllib bypass it.
	env -u NO_PROXY -u no_proxy "${APP_PYTHON:-python3}" "$SCEN_DIR/app.py" "$APP_PORT" "$upstream" \
		"http://$FAULT_SCENARIO_PROXY_ADDR" "$APP_LOG" "$@" >"$E2E_TMP/app.out" 2>&1 &
	APP_PID=$!
	track_pid "$APP_PID"
	wait_for_line "$E2E_TMP/app.out" '^listening' "$APP_PID"
}

scenario() {
	SCEN_N=$((SCEN_N + 1))
	SCEN_OUT=$E2E_TMP/scenario$SCEN_N.out
	SCEN_ERR=$E2E_TMP/scenario$SCEN_N.err
	(cd "$E2E_TMP" && "$FAULT" scenario "$@") >"$SCEN_OUT" 2>"$SCEN_ERR"
	SCEN_RC=$?
	return 0
}

json() {
	python3 - "$1" "$2" <<'EOF' || fail "check on $(basename "$1") failed: $2"
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
exec(sys.argv[2])
EOF
}

# Writes a scenario file from stdin into $E2E_TMP/NAME.
fixture() {
	cat >"$E2E_TMP/$1"
}
