#!/bin/bash
# plugins/scenario/tests/limits.sh - inputs that are unbounded or slow to
# parse are refused at once: one message naming the file, exit status 2,
# within 5 s each (the time bound; they took a minute or never ended):
#
#  1. scenario run -s /dev/zero and generate --spec-file /dev/zero (and a
#     FIFO): not a regular file;
#  2. a 17 MiB scenario file: larger than 16 MiB;
#  3. YAML nested 100,000 deep (flow "[[[...", and block "- - - ...") as a
#     scenario file and as an OpenAPI document: nested too deep, with its
#     line and column; a document 60 deep is not refused for its depth.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

# refused FRAGMENT ARGS... - `fault scenario ARGS...` exits 2 within 5 s
# with one line on stderr containing FRAGMENT.
refused() {
	local frag=$1 t0 ms n
	shift
	t0=$(date +%s%N)
	SCEN_N=$((SCEN_N + 1))
	SCEN_OUT=$E2E_TMP/scen$SCEN_N.out
	SCEN_ERR=$E2E_TMP/scen$SCEN_N.err
	SCEN_RC=0
	(cd "$E2E_TMP" && timeout 5 "$FAULT" scenario "$@" >"$SCEN_OUT" 2>"$SCEN_ERR") || SCEN_RC=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$SCEN_RC" != 124 ] || fail "scenario $*: still running after 5 s"
	[ "$SCEN_RC" = 2 ] || fail "scenario $*: exit status $SCEN_RC, want 2: $(cat "$SCEN_ERR")"
	n=$(wc -l <"$SCEN_ERR")
	[ "$n" = 1 ] || fail "scenario $*: $n lines on stderr, want 1: $(cat "$SCEN_ERR")"
	grep -qF -- "$frag" "$SCEN_ERR" || fail "scenario $*: want '$frag' in: $(cat "$SCEN_ERR")"
	note "scenario $(cut -c1-60 <<<"$*"): ${ms} ms: $(cat "$SCEN_ERR")"
}

# ---- 1. not regular files
refused '/dev/zero: not a regular file' run -s /dev/zero
refused '/dev/zero: not a regular file' generate -s out.yaml --spec-file /dev/zero
mkfifo "$E2E_TMP/fifo.yaml"
refused 'fifo.yaml: not a regular file' run -s "$E2E_TMP/fifo.yaml"

# ---- 2. too large
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' '#' >"$E2E_TMP/big.yaml"
refused 'big.yaml: larger than 16 MiB' run -s "$E2E_TMP/big.yaml"

# ---- 3. deep nesting
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$E2E_TMP/flow.yaml"
python3 -c 'print("- " * 100000 + "x")' >"$E2E_TMP/block.yaml"
for f in flow block; do
	refused "$f.yaml:1:" run -s "$E2E_TMP/$f.yaml"
	grep -q 'nested more than 65 levels deep' "$SCEN_ERR" || fail "$f.yaml: $(cat "$SCEN_ERR")"
	refused "$f.yaml:1:" generate -s out.yaml --spec-file "$E2E_TMP/$f.yaml"
	grep -q 'nested more than 65 levels deep' "$SCEN_ERR" || fail "$f.yaml: $(cat "$SCEN_ERR")"
done
# 60 levels: refused for what it is (not a scenario), not for its depth.
python3 -c 'print("[" * 60 + "]" * 60)' >"$E2E_TMP/sixty.yaml"
SCEN_RC=0
(cd "$E2E_TMP" && timeout 5 "$FAULT" scenario run -s "$E2E_TMP/sixty.yaml" >/dev/null 2>"$E2E_TMP/sixty.err") ||
	SCEN_RC=$?
[ "$SCEN_RC" = 2 ] || fail "sixty.yaml: exit $SCEN_RC: $(cat "$E2E_TMP/sixty.err")"
grep -q 'nested more than' "$E2E_TMP/sixty.err" && fail "60 levels refused for depth: $(cat "$E2E_TMP/sixty.err")"
note "60 levels: $(cat "$E2E_TMP/sixty.err")"
