#!/bin/bash
# plugins/scenario/tests/summary.sh - the summary of `fault scenario run`
# adds up and says what failed (issue 14, item 6):
#
#  1. six documents of one single shot each (one with an SLO, one whose
#     status expectation fails): "Tests run: 6, Tests failed: 1", and the
#     failure is a call that missed its expectation;
#  2. a load ("duration: 1 second", a duration in words: item 4) whose
#     calls all meet their (absent) expectation but whose
#     latency SLO breaks: its line says "0 failed, 1 of 1 SLO broken", the
#     summary "Tests run: 1, Tests failed: 1" and "1 of 1 SLO broken";
#  3. the same files when no proxy can start (its address is taken):
#     every item is a failed test, never more failures than tests, and the
#     summary says the items could not run.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_nginx
echo hello >"$WWW/index.html"
URL="http://127.0.0.1:$NGINX_PORT/index.html"
UPS="upstreams: [\"127.0.0.1:$NGINX_PORT\"]"

mkdir "$E2E_TMP/six"
for i in 1 2 3 4 5; do
	cat <<EOF
---
title: shot $i
items:
  - call: {method: GET, url: "$URL"}
    context: {$UPS, faults: []}
    expect: {status: 200}
EOF
done >"$E2E_TMP/six/a.yaml"
cat >"$E2E_TMP/six/b.yaml" <<EOF
title: shot with an SLO that holds, and a wrong status
items:
  - call: {method: GET, url: "$URL"}
    context:
      $UPS
      faults: []
      slo:
        - {slo_type: latency, title: "P95 < 5s", objective: 95, threshold: 5000}
    expect: {status: 201}
EOF

cat >"$E2E_TMP/load.yaml" <<EOF
title: load that breaks its SLO only
items:
  - call: {method: GET, url: "$URL"}
    context:
      $UPS
      faults:
        - {type: latency, mean: 60, stddev: 0}
      strategy: {mode: load, duration: 1 second, clients: 1, rps: 5}
      slo:
        - {slo_type: latency, title: "P95 < 10ms", objective: 95, threshold: 10}
    expect: {all_slo_are_valid: true}
EOF

# ---- 1. six documents
scenario run -s six
[ "$SCEN_RC" = 1 ] || fail "six: exit status $SCEN_RC: $(cat "$SCEN_ERR" "$SCEN_OUT")"
grep -q '^Tests run: 6, Tests failed: 1$' "$SCEN_OUT" || fail "six: $(cat "$SCEN_OUT")"
[ "$(grep -c '^Tests run: ' "$SCEN_OUT")" = 1 ] || fail "six: more than one summary: $(cat "$SCEN_OUT")"
grep -q '^Failed: 1 of 6 calls missed their expectation, 0 of 1 SLO broken$' "$SCEN_OUT" ||
	fail "six: what failed: $(cat "$SCEN_OUT")"
note "six documents: $(grep -E '^(Tests run|Failed):' "$SCEN_OUT" | tr '\n' ' ')"

# ---- 2. a load failed by its SLO alone
scenario run -s load.yaml
[ "$SCEN_RC" = 1 ] || fail "load: exit status $SCEN_RC: $(cat "$SCEN_ERR" "$SCEN_OUT")"
grep -Eq '\] FAILED: [0-9]+ calls, 0 failed, 1 of 1 SLO broken, ' "$SCEN_OUT" ||
	fail "load: the item line does not say the SLO failed it: $(cat "$SCEN_OUT")"
grep -q '^Tests run: 1, Tests failed: 1$' "$SCEN_OUT" || fail "load: $(cat "$SCEN_OUT")"
grep -Eq '^Failed: 0 of [0-9]+ calls missed their expectation, 1 of 1 SLO broken$' "$SCEN_OUT" ||
	fail "load: what failed: $(cat "$SCEN_OUT")"
note "load: $(grep 'FAILED' "$SCEN_OUT")"

# ---- 3. no proxy can start
python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("ready", flush=True)
time.sleep(120)' "$PROXY_PORT" >"$E2E_TMP/hold.out" 2>&1 &
HOLD=$!
track_pid "$HOLD"
wait_for_line "$E2E_TMP/hold.out" '^ready$' "$HOLD"
cp "$E2E_TMP/load.yaml" "$E2E_TMP/six/c.yaml"
scenario run -s six
[ "$SCEN_RC" = 1 ] || fail "no proxy: exit status $SCEN_RC: $(cat "$SCEN_ERR" "$SCEN_OUT")"
grep -q '^Tests run: 7, Tests failed: 7$' "$SCEN_OUT" || fail "no proxy: $(cat "$SCEN_OUT")"
grep -q '^Failed: 7 items could not run$' "$SCEN_OUT" || fail "no proxy: what failed: $(cat "$SCEN_OUT")"
grep -q 'address already in use' "$SCEN_OUT" "$SCEN_ERR" || fail "no proxy: the reason is not given: $(cat "$SCEN_OUT" "$SCEN_ERR")"
stop_pid "$HOLD"
note "no proxy: $(grep -E '^(Tests run|Failed):' "$SCEN_OUT" | tr '\n' ' ')"
