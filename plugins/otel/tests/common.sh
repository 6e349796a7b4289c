# plugins/otel/tests/common.sh - what the otel tests share (sourced after
# tests/e2e/lib.sh): no OTEL_* variable from the caller's environment,
# nginx serving index.html ($WWW, $NGINX_PORT), the collector double
# (collector.py) recording into $GOT and listening on $CP, and:
#   check          runs a Python assertion script (stdin) over $GOT's lines
#   start_mute     a collector that accepts connections and never answers;
#                  sets MUTE to its port
for _v in $(env | sed -n 's/^\(OTEL_[A-Z0-9_]*\)=.*/\1/p'); do unset "$_v"; done
HERE=$top_srcdir/plugins/otel/tests
start_nginx
printf 'hello otel\n' >"$WWW/index.html"

GOT=$E2E_TMP/got.jsonl
: >"$GOT"
python3 "$HERE/collector.py" "$GOT" >"$E2E_TMP/collector.out" 2>&1 &
track_pid $!
wait_for_line "$E2E_TMP/collector.out" '^listening [0-9]+$' $!
CP=$(awk '{print $2}' "$E2E_TMP/collector.out")

# check PYTHON - runs an assertion script over the received lines ($GOT).
check() {
	python3 - "$GOT" "$@" >"$E2E_TMP/check.out" 2>&1 || fail "$(cat "$E2E_TMP/check.out")"
	note "$(cat "$E2E_TMP/check.out")"
}

start_mute() {
	python3 -c 'import signal, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print("listening %d" % s.getsockname()[1], flush=True)
signal.pause()' >"$E2E_TMP/mute.out" 2>&1 &
	track_pid $!
	wait_for_line "$E2E_TMP/mute.out" '^listening [0-9]+$' $!
	MUTE=$(awk '{print $2}' "$E2E_TMP/mute.out")
}
