#!/bin/bash
# plugins/scenario/tests/env.sh - the scenario command's environment
# variables as the original tool documents them (issue 14, item 3):
#
#  1. FAULT_SCENARIO_REPORT_PATH is the scenario file to run (despite its
#     name), or a directory of them; the file is never written to, and the
#     report goes to its own default, report.md;
#  2. an output named like a scenario file of the run (-r, --result, or
#     the report's own variable FAULT_SCENARIO_REPORT_FILE) is refused with
#     status 2, one line naming the flag, and the file is left as it was;
#  3. FAULT_SCENARIO_PROXY_ADDR is where the item's proxy listens: the
#     application's downstream call, sent to that address, is slowed down
#     by the scenario's latency;
#  4. FAULT_SCENARIO_RESULTS_PATH names the results file;
#  5. `generate` writes into the directory FAULT_SCENARIO_REPORT_PATH names,
#     and never over the OpenAPI document it reads.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_nginx
echo upstream >"$WWW/index.html"
start_app "http://127.0.0.1:$NGINX_PORT/index.html"

fixture scenario.yaml <<EOF
title: downstream slowed down
items:
  - call: {method: GET, url: "http://127.0.0.1:$APP_PORT/ping"}
    context:
      upstreams: ["http://127.0.0.1:$NGINX_PORT"]
      faults:
        - {type: latency, mean: 200, stddev: 0, side: server, direction: ingress}
    expect: {status: 200}
EOF
sum=$(sha256_of "$E2E_TMP/scenario.yaml")

# ---- 1, 3, 4
FAULT_SCENARIO_REPORT_PATH=scenario.yaml FAULT_SCENARIO_RESULTS_PATH=out.json scenario run
[ "$SCEN_RC" = 0 ] || fail "FAULT_SCENARIO_REPORT_PATH=scenario.yaml: exit status $SCEN_RC: $(cat "$SCEN_ERR" "$SCEN_OUT")"
[ "$(sha256_of "$E2E_TMP/scenario.yaml")" = "$sum" ] || fail "the scenario file was written to"
grep -q '^Report saved as report.md$' "$SCEN_OUT" && [ -s "$E2E_TMP/report.md" ] ||
	fail "the report is not report.md: $(cat "$SCEN_OUT")"
grep -q '^# Scenarios Report' "$E2E_TMP/report.md" || fail "report.md: $(head -3 "$E2E_TMP/report.md")"
[ -e "$E2E_TMP/results.json" ] && fail "FAULT_SCENARIO_RESULTS_PATH=out.json: results.json written"
json "$E2E_TMP/out.json" '
assert d["results"][0]["scenario"]["title"] == "downstream slowed down"'
note "FAULT_SCENARIO_REPORT_PATH: the scenario ran, untouched; FAULT_SCENARIO_RESULTS_PATH: out.json"
ms=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(d["results"][0]["results"][0]["results"][0]["metrics"]["total_time"]))' "$E2E_TMP/out.json")
[ "$ms" -ge 195 ] || fail "FAULT_SCENARIO_PROXY_ADDR: the downstream call was not slowed down ($ms ms)"
note "FAULT_SCENARIO_PROXY_ADDR=$FAULT_SCENARIO_PROXY_ADDR: the app's downstream call took $ms ms through it"

mkdir "$E2E_TMP/dir"
cp "$E2E_TMP/scenario.yaml" "$E2E_TMP/dir/one.yaml"
sed 's/^title: .*/title: second file/' "$E2E_TMP/scenario.yaml" >"$E2E_TMP/dir/two.yaml"
FAULT_SCENARIO_REPORT_PATH=dir scenario run
[ "$SCEN_RC" = 0 ] || fail "FAULT_SCENARIO_REPORT_PATH=dir: exit status $SCEN_RC: $(cat "$SCEN_ERR")"
json "$E2E_TMP/results.json" '
assert sorted(r["scenario"]["title"] for r in d["results"]) == ["downstream slowed down", "second file"]'
note "FAULT_SCENARIO_REPORT_PATH=dir: both files ran"

# ---- 2. outputs over inputs
refused() {
	local what=$1
	shift
	[ "$SCEN_RC" = 2 ] || fail "$what: exit status $SCEN_RC, want 2: $(cat "$SCEN_ERR")"
	[ "$(wc -l <"$SCEN_ERR")" = 1 ] && grep -q "$1" "$SCEN_ERR" || fail "$what: $(cat "$SCEN_ERR")"
	[ "$(sha256_of "$E2E_TMP/scenario.yaml")" = "$sum" ] || fail "$what: the scenario file was written to"
	[ "$(sha256_of "$E2E_TMP/dir/one.yaml")" = "$sum" ] || fail "$what: dir/one.yaml was written to"
	note "$what: $(cat "$SCEN_ERR")"
}
scenario run -s scenario.yaml -r scenario.yaml
refused "-r over the scenario" "^fault: scenario: --report: 'scenario.yaml' is a scenario file of this run"
FAULT_SCENARIO_REPORT_PATH=scenario.yaml FAULT_SCENARIO_REPORT_FILE=scenario.yaml scenario run
refused "FAULT_SCENARIO_REPORT_FILE over the scenario" "^fault: scenario: --report: 'scenario.yaml'"
scenario run -s dir --result dir/one.yaml
refused "--result over a file of the directory" "^fault: scenario: --result: 'dir/one.yaml' is a scenario file of this run"

# ---- 5. generate
mkdir "$E2E_TMP/gen"
sed "s/@PORT@/$APP_PORT/" "$SCEN_DIR/openapi-30.json" >"$E2E_TMP/openapi.json"
FAULT_SCENARIO_REPORT_PATH=gen scenario generate --spec-file openapi.json
[ "$SCEN_RC" = 0 ] || fail "generate: exit status $SCEN_RC: $(cat "$SCEN_ERR")"
ls "$E2E_TMP"/gen/*.yaml >/dev/null 2>&1 || fail "generate wrote nothing into gen/: $(cat "$SCEN_OUT")"
note "generate: $(ls "$E2E_TMP/gen" | tr '\n' ' ')"
spec=$(sha256_of "$E2E_TMP/openapi.json")
scenario generate -s openapi.json --spec-file openapi.json
[ "$SCEN_RC" = 2 ] && grep -q "^fault: scenario: --scenario: 'openapi.json' is the OpenAPI document read" "$SCEN_ERR" ||
	fail "generate over its spec: $SCEN_RC $(cat "$SCEN_ERR")"
[ "$(sha256_of "$E2E_TMP/openapi.json")" = "$spec" ] || fail "generate wrote over its OpenAPI document"
note "generate over its spec: $(cat "$SCEN_ERR")"
