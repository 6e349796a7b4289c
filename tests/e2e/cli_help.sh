#!/usr/bin/env bash
# tests/e2e/cli_help.sh - `fault help COMMAND` is `fault COMMAND --help`
# (issue 14, item 5), for the built-in `run` and for commands that come
# from plugins (scenario, demo): same output, same status 0. `fault help`
# alone is the top-level help; `fault help NOSUCH` is refused (status 2,
# one line naming it).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

same() {
	local cmd=$1 rc=0
	"$FAULT" help "$cmd" >"$E2E_TMP/help.out" 2>"$E2E_TMP/help.err" || rc=$?
	[ "$rc" = 0 ] || fail "fault help $cmd: status $rc: $(cat "$E2E_TMP/help.err")"
	"$FAULT" "$cmd" --help >"$E2E_TMP/dash.out" 2>&1 || fail "fault $cmd --help: status $?"
	cmp -s "$E2E_TMP/help.out" "$E2E_TMP/dash.out" ||
		fail "fault help $cmd differs from fault $cmd --help: $(diff "$E2E_TMP/dash.out" "$E2E_TMP/help.out" | head -5)"
	grep -q "^Usage: fault $cmd " "$E2E_TMP/help.out" ||
		fail "fault help $cmd: no 'Usage: fault $cmd' line: $(head -3 "$E2E_TMP/help.out")"
	note "fault help $cmd: $(head -1 "$E2E_TMP/help.out")"
}

same run
grep -q -- '--latency-mean' "$E2E_TMP/help.out" || fail "fault help run does not list --latency-mean"
grep -q '^Commands:' "$E2E_TMP/help.out" && fail "fault help run printed the top-level help"
"$FAULT" plugins | grep -Eq '^scenario +command .* loaded' && same scenario
"$FAULT" plugins | grep -Eq '^demo +command .* loaded' && same demo

"$FAULT" help >"$E2E_TMP/top.out" 2>&1 || fail "fault help: status $?"
grep -q '^Commands:' "$E2E_TMP/top.out" || fail "fault help: no command list"

rc=0
"$FAULT" help nosuch >"$E2E_TMP/bad.out" 2>"$E2E_TMP/bad.err" || rc=$?
[ "$rc" = 2 ] || fail "fault help nosuch: status $rc, want 2"
[ "$(wc -l <"$E2E_TMP/bad.err")" = 1 ] && grep -q "'nosuch' is not a command" "$E2E_TMP/bad.err" ||
	fail "fault help nosuch: $(cat "$E2E_TMP/bad.err")"
note "fault help nosuch: $(cat "$E2E_TMP/bad.err")"
