#!/bin/bash
# tests/plugins/oldminor.sh - a plugin that declares ABI 1.0 gets what 1.0
# promised, not only a successful load: its NULL detach() leaves conn_state
# alone (1.1 and later free it). The plugin's conn_state pointers point into
# a static array: a host that called free() on one would abort the process.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

mkdir -p "$E2E_TMP/extra"
cp "$top_builddir/tests/plugins/.libs/oldminor.so" "$E2E_TMP/extra/"
export FAULT_PLUGIN_PATH="$FAULT_PLUGIN_PATH:$E2E_TMP/extra"

start_nginx
echo "old minor" >"$WWW/index.html"
port=$(free_port)
start_fault run --proxy "127.0.0.1:$port=127.0.0.1:$NGINX_PORT" --with-oldminor
for i in 1 2 3; do
	body=$(curl -s --max-time 5 "http://127.0.0.1:$port/") || fail "request $i through fault failed"
	[ "$body" = "old minor" ] || fail "unexpected body '$body'"
done
stop_pid "$FAULT_PID" INT
[ "$STOP_STATUS" = 0 ] || fail "fault exited with status $STOP_STATUS (freed a 1.0 plugin's conn_state?): $(tail -5 "$FAULT_ERR")"
grep -q '^oldminor: 3 attached, 3 conn_state intact$' "$FAULT_ERR" ||
	fail "the 1.0 plugin did not see its three streams intact: $(grep oldminor "$FAULT_ERR")"
note "ok"
