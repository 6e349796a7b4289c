#!/usr/bin/env bash
# tests/e2e/run_files.sh - files fault writes are never written through a
# link someone planted at their path (a shared /tmp, a writable report
# directory): the link's target keeps its content and mode.
#
#  1. fault ca generate --force, with symbolic links planted at ca-key.pem
#     and ca.pem pointing to other files: those files are unchanged, the
#     key is a regular file of mode 0600 holding a private key, the
#     certificate a regular file; nothing else is left in the directory
#     (no temporary file);
#  2. fault scenario generate -s OUT, a link planted at OUT: replaced by
#     the scenario, the target unchanged;
#  3. --events FILE and --log-file FILE that are links to a regular file:
#     refused (exit 2, the flag named), the target unchanged; a link to
#     /dev/null is still fine (fault run --duration 1s exits 0).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

# victim NAME - a file with known content and mode 0644, as someone else's.
victim() {
	printf 'precious %s\n' "$1" >"$E2E_TMP/$1"
	chmod 644 "$E2E_TMP/$1"
	VICTIM_SUM=$(sha256sum <"$E2E_TMP/$1")
}
unchanged() {
	[ "$(sha256sum <"$E2E_TMP/$1")" = "$2" ] || fail "$3: $1 was written through the link"
	[ "$(stat -c %a "$E2E_TMP/$1")" = 644 ] || fail "$3: the mode of $1 changed"
}

# ---- 1. fault ca generate --force
if [ -f "$top_builddir/plugins/http/.libs/ca.so" ]; then
	CADIR=$E2E_TMP/ca
	"$FAULT" ca generate --ca-dir "$CADIR" >/dev/null 2>"$E2E_TMP/ca.err" ||
		fail "fault ca generate: $(cat "$E2E_TMP/ca.err")"
	victim key-target
	key_sum=$VICTIM_SUM
	victim cert-target
	cert_sum=$VICTIM_SUM
	ln -sf "$E2E_TMP/key-target" "$CADIR/ca-key.pem"
	ln -sf "$E2E_TMP/cert-target" "$CADIR/ca.pem"
	"$FAULT" ca generate --ca-dir "$CADIR" --force >/dev/null 2>"$E2E_TMP/ca.err" ||
		fail "fault ca generate --force: $(cat "$E2E_TMP/ca.err")"
	unchanged key-target "$key_sum" "ca generate --force"
	unchanged cert-target "$cert_sum" "ca generate --force"
	[ -f "$CADIR/ca-key.pem" ] && [ ! -L "$CADIR/ca-key.pem" ] || fail "ca-key.pem is not a regular file"
	[ -f "$CADIR/ca.pem" ] && [ ! -L "$CADIR/ca.pem" ] || fail "ca.pem is not a regular file"
	[ "$(stat -c %a "$CADIR/ca-key.pem")" = 600 ] || fail "ca-key.pem is not 0600"
	openssl pkey -in "$CADIR/ca-key.pem" -noout 2>/dev/null || fail "ca-key.pem holds no key"
	openssl x509 -in "$CADIR/ca.pem" -noout 2>/dev/null || fail "ca.pem holds no certificate"
	left=$(ls -A "$CADIR" | tr '\n' ' ')
	[ "$left" = "ca-key.pem ca.pem " ] || fail "the CA directory holds: $left"
	# Without --force a link there still counts as an existing CA.
	rm "$CADIR/ca.pem" "$CADIR/ca-key.pem"
	ln -s "$E2E_TMP/nowhere" "$CADIR/ca-key.pem"
	"$FAULT" ca generate --ca-dir "$CADIR" >/dev/null 2>&1 && fail "ca generate replaced a link without --force"
	note "ca generate --force: links at ca-key.pem and ca.pem replaced, targets untouched, key 0600"
else
	note "the ca plugin is not built: part 1 skipped"
fi

# ---- 2. fault scenario generate
if [ -f "$top_builddir/plugins/scenario/.libs/scenario.so" ]; then
	victim scenario-target
	ln -s "$E2E_TMP/scenario-target" "$E2E_TMP/out.yaml"
	"$FAULT" scenario generate -s "$E2E_TMP/out.yaml" \
		--spec-file "$top_srcdir/plugins/scenario/tests/openapi-30.json" >"$E2E_TMP/gen.out" 2>&1 ||
		fail "scenario generate: $(cat "$E2E_TMP/gen.out")"
	unchanged scenario-target "$VICTIM_SUM" "scenario generate"
	[ -f "$E2E_TMP/out.yaml" ] && [ ! -L "$E2E_TMP/out.yaml" ] && [ -s "$E2E_TMP/out.yaml" ] ||
		fail "scenario generate did not write out.yaml as a file of its own"
	note "scenario generate: the link at its output replaced, the target untouched"
else
	note "the scenario plugin is not built: part 2 skipped"
fi

# ---- 3. files written as the run goes
victim stream-target
P=$(free_port)
for flag in --events --log-file; do
	ln -sf "$E2E_TMP/stream-target" "$E2E_TMP/link$flag"
	rc=0
	if [ $flag = --events ]; then
		timeout 10 "$FAULT" run --no-ui --duration 1s --events "$E2E_TMP/link$flag" \
			--proxy "127.0.0.1:$P=127.0.0.1:9" >"$E2E_TMP/stream.out" 2>&1 || rc=$?
	else
		timeout 10 "$FAULT" --log-file "$E2E_TMP/link$flag" run --no-ui --duration 1s \
			--proxy "127.0.0.1:$P=127.0.0.1:9" >"$E2E_TMP/stream.out" 2>&1 || rc=$?
	fi
	[ "$rc" = 2 ] || fail "$flag through a link to a file: exit $rc: $(cat "$E2E_TMP/stream.out")"
	grep -q -- "$flag" "$E2E_TMP/stream.out" || fail "$flag not named: $(cat "$E2E_TMP/stream.out")"
	unchanged stream-target "$VICTIM_SUM" "$flag"
done
ln -sf /dev/null "$E2E_TMP/to-null"
timeout 10 "$FAULT" run --no-ui --duration 1s --events "$E2E_TMP/to-null" \
	--proxy "127.0.0.1:$P=127.0.0.1:9" >"$E2E_TMP/null.out" 2>&1 ||
	fail "--events through a link to /dev/null: $(cat "$E2E_TMP/null.out")"
note "--events/--log-file: links to files refused ($(head -n1 "$E2E_TMP/stream.out")), to /dev/null fine"
