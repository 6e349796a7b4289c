#!/bin/bash
# plugins/scenario/tests/run_pg.sh - a postgres fault in a scenario: the
# database cases act on the item's psql:// mapping in the faulted runs
# (not the baseline), as the application under test (app.py /sql) sees
# them through its driver (psycopg2), against a real PostgreSQL server;
# the injected errors are attributed to the calls they happened in.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/postgres/tests/common.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_pg
PGX=$(free_port)
APP_PYTHON=$PY start_app "http://127.0.0.1:1/" # the python3 with psycopg2
APP=http://127.0.0.1:$APP_PORT

fixture pg.yaml <<EOF
title: Database faults
items:
  - call: {method: GET, url: "$APP/sql/$PGX"}
    context:
      proxy:
        proxies: ["127.0.0.1:$PGX=psql://127.0.0.1:$PGPORT"]
      faults:
        - {type: postgres, case: error-injection, error_code: "40001", statement: victim}
      # 100 ms apart: events of the application's own connections are
      # placed on calls by time.
      strategy: {mode: repeat, count: 2, add_baseline_call: true, wait: 100}
    expect: {status: 200}
EOF

scenario run -s pg.yaml
[ "$SCEN_RC" = 1 ] || fail "exit status $SCEN_RC, expected 1 (failed expectations): $(cat "$SCEN_ERR" "$SCEN_OUT")"
json "$E2E_TMP/results.json" '
calls = d["results"][0]["results"][0]["results"]
got = [c["expect"]["got"]["status_code"] for c in calls]
# The baseline runs the statement, the faulted runs get 40001.
assert got == [200, 503, 503], got
applied = []
for i, c in enumerate(calls):
    for g in c["metrics"]["faults"]:
        for a in g["applied"]:
            applied.append((i, a["event"].get("case"), a["event"].get("sqlstate")))
assert applied == [(1, "error-injection", "40001"), (2, "error-injection", "40001")], applied
'
stop_pg
note "postgres fault: baseline 200, faulted 503 (40001) with its events"
