#!/bin/bash
# tests/docs/flags.sh - the installed documentation matches the real flags:
# every flag `fault --help` and `fault run --help` print appears in the
# generated man page and in the bash completion script.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

check() { # HELP_FILE MAN_FILE
	local flags f n=0
	flags=$(grep -oE -- '--[a-z0-9][a-z0-9-]*' "$1" | sort -u)
	[ -n "$flags" ] || fail "no flag found in $(basename "$1")"
	for f in $flags; do
		case $f in --help) continue ;; esac
		# Dashes are escaped in roff: --latency-mean is \-\-latency\-mean.
		grep -qF -- "$(printf '%s' "$f" | sed 's/-/\\-/g')" "$2" || fail "$f is missing from $(basename "$2")"
		grep -qE -- "(^| |\")$f( |\"|\$)" "$E2E_TMP/completion" || fail "$f is missing from the completion script"
		n=$((n + 1))
	done
	note "$n flags of $(basename "$1") documented"
}

"$FAULT" completion bash >"$E2E_TMP/completion" || fail "fault completion bash failed"
bash -n "$E2E_TMP/completion" || fail "the completion script is not valid bash"
"$FAULT" --help >"$E2E_TMP/help" || fail "fault --help failed"
"$FAULT" manpage >"$E2E_TMP/fault.1" || fail "fault manpage failed"
check "$E2E_TMP/help" "$E2E_TMP/fault.1"
"$FAULT" run --help >"$E2E_TMP/run-help" || fail "fault run --help failed"
"$FAULT" manpage run >"$E2E_TMP/fault-run.1" || fail "fault manpage run failed"
check "$E2E_TMP/run-help" "$E2E_TMP/fault-run.1"
# The installed pages are the generated ones.
cmp -s "$E2E_TMP/fault-run.1" "$top_builddir/share/man/fault-run.1" ||
	note "share/man/fault-run.1 differs from a fresh one (plugins changed since the build?)"
grep -q 'ABI' "$top_srcdir/share/man/fault-plugin.7" || fail "fault-plugin(7) does not describe the ABI"
