#!/bin/bash
# plugins/scenario/tests/interrupt.sh - Ctrl-C in the middle of a run: the
# calls in flight are dropped, the proxy child is stopped, and what has
# run so far is written (results, report, JUnit with the rest skipped),
# atomically; the exit status is 130 (143 for SIGTERM).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_nginx
echo hi >"$WWW/index.html"
URL="http://127.0.0.1:$NGINX_PORT/index.html"
fixture long.yaml <<EOF
title: A long load
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: ["127.0.0.1:$NGINX_PORT"]
      faults: [{type: latency, mean: 20, stddev: 0}]
      strategy: {mode: load, duration: 60s, clients: 1, rps: 20}
  - call: {method: GET, url: "$URL"}
EOF

# requests_seen N - bounded poll (<= 10 s) until nginx has served N requests.
requests_seen() {
	local i
	for ((i = 0; i < 1000; i++)); do
		[ "$(wc -l <"$E2E_TMP/nginx-access.log")" -ge "$1" ] && return 0
		kill -0 "$RUN_PID" 2>/dev/null || fail "the run ended early: $(cat "$E2E_TMP/run.err")"
		sleep 0.01
	done
	fail "nginx did not see $1 requests within 10 s"
}

for sig in INT TERM; do
	: >"$E2E_TMP/nginx-access.log"
	rm -f "$E2E_TMP/results.json" "$E2E_TMP/report.md" "$E2E_TMP/junit.xml"
	(cd "$E2E_TMP" && exec "$FAULT" scenario run -s long.yaml --junit junit.xml) \
		>"$E2E_TMP/run.out" 2>"$E2E_TMP/run.err" &
	RUN_PID=$!
	track_pid "$RUN_PID"
	requests_seen 10
	kill -s "$sig" "$RUN_PID"
	wait "$RUN_PID"
	rc=$?
	untrack_pid "$RUN_PID"
	want=$([ $sig = INT ] && echo 130 || echo 143)
	[ "$rc" = "$want" ] || fail "SIG$sig: exit status $rc, expected $want: $(cat "$E2E_TMP/run.err")"
	grep -q 'stopping and writing what has run so far' "$E2E_TMP/run.err" ||
		fail "no message: $(cat "$E2E_TMP/run.err")"
	grep -q '^Total time: .* (interrupted)$' "$E2E_TMP/run.out" || fail "summary: $(cat "$E2E_TMP/run.out")"
	json "$E2E_TMP/results.json" '
assert d["interrupted"] is True
assert len(d["results"]) == 1 and len(d["results"][0]["results"]) == 1
ir = d["results"][0]["results"][0]
# nginx saw 10; the last may still have been in flight, and is dropped.
assert ir["interrupted"] is True and ir["requests_count"] >= 8, ir["requests_count"]
assert ir["requests_count"] == len(ir["results"]) < 1200
'
	grep -q 'The run was interrupted' "$E2E_TMP/report.md" || fail "report.md does not say it was interrupted"
	python3 - "$E2E_TMP/junit.xml" <<'PY' || fail "junit.xml"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall("./testsuite/testcase")
assert len(cases) == 2 and all(c.find("skipped") is not None for c in cases), ET.tostring(root)
PY
	ls "$E2E_TMP"/*.tmp >/dev/null 2>&1 && fail "a temporary file was left behind"
	# The proxy child is gone: nothing listens on its port any more.
	python3 - "$PROXY_PORT" <<'PY' || fail "the proxy still listens after SIG$sig"
import socket, sys
s = socket.socket()
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0 else 1)
PY
	note "SIG$sig: exit $rc, partial results written"
done
note "ok"
