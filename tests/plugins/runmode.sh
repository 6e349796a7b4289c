#!/bin/bash
# tests/plugins/runmode.sh - a mode of `fault run` from a plugin (ABI 1.3):
# `fault run relay-to HOST:PORT` works with the mode's options and run's,
# the mode's options exist only after its word, help lists the mode and
# shows its options, and bad words are one line with status 2.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

mkdir -p "$E2E_TMP/extra"
cp "$top_builddir/tests/plugins/.libs/runmode.so" "$E2E_TMP/extra/"
export FAULT_PLUGIN_PATH="$FAULT_PLUGIN_PATH:$E2E_TMP/extra"


"$FAULT" run --help >"$E2E_TMP/help.out" || fail "fault run --help"
grep -Eq '^  relay-to HOST:PORT +Relay a local port' "$E2E_TMP/help.out" || fail "run --help does not list the mode"
grep -q -- '--relay-to-port' "$E2E_TMP/help.out" && fail "run --help shows a mode's option"
"$FAULT" run relay-to --help >"$E2E_TMP/mhelp.out" || fail "fault run relay-to --help"
grep -q '^Usage: fault run relay-to HOST:PORT' "$E2E_TMP/mhelp.out" || fail "mode help usage"
grep -q -- '--relay-to-port' "$E2E_TMP/mhelp.out" || fail "mode help lacks its option"
grep -q -- '--with-latency' "$E2E_TMP/mhelp.out" || fail "mode help lacks the faults' options"

bad_input "unknown option .*--relay-to-port|--relay-to-port.*unknown" run --relay-to-port 5 --proxy 1=127.0.0.1:2
bad_input "'nosuchmode' is neither a mode of run nor an option" run nosuchmode
bad_input "^fault: run relay-to: expected one HOST:PORT" run relay-to
bad_input "^fault: run relay-to: 'nohost': " run relay-to nohost

start_nginx
echo "through a mode" >"$WWW/index.html"
port=$(free_port)
start_fault run relay-to "127.0.0.1:$NGINX_PORT" --relay-to-port "$port" --relay-to-tag hello \
	--with-latency --latency-mean 1
body=$(curl -s --max-time 5 "http://127.0.0.1:$port/") || fail "request through the mode's mapping"
[ "$body" = "through a mode" ] || fail "unexpected body '$body'"
grep -q '^relay-to: hello$' "$FAULT_ERR" || fail "the mode's option did not reach select()"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS: $(tail -3 "$FAULT_ERR")"
note "ok"
