#!/bin/bash
# plugins/scenario/tests/run_basic.sh - `fault scenario run` against nginx:
# a single shot and a repeat (baseline, then latency growing by `step`)
# through the proxy the runner starts. Checks results.json field by field
# (the original tool's results layout), the stepped latency the proxy reported for each call, the
# Markdown report's tables, masking of Authorization, YAML results by
# extension, and the environment variables of the original tool.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_nginx
echo hello >"$WWW/index.html"
URL="http://127.0.0.1:$NGINX_PORT/index.html"

fixture basic.yaml <<EOF
---
title: Latency Increase By 25ms Steps
description: Each call is slower than the one before.
items:
  - call:
      method: GET
      url: $URL
      headers:
        Authorization: bearer very-secret-token
        X-Test: visible
    context:
      upstreams:
        - http://127.0.0.1:$NGINX_PORT
      faults:
        - type: latency
          mean: 50
          stddev: 0
      strategy:
        mode: Repeat
        step: 25
        count: 3
        add_baseline_call: true
    expect:
      status: 200
      response_time_under: 1000
---
title: Single shot
scenarios:
  - call:
      method: GET
      url: $URL
      timeout: 2000
    context:
      upstreams: ["127.0.0.1:$NGINX_PORT"]
      faults: []
      strategy: null
    expect:
      status: 200
EOF

note "repeat with a baseline, and a single shot"
scenario run -s basic.yaml --junit junit.xml
[ "$SCEN_RC" = 0 ] || fail "exit status $SCEN_RC, expected 0: $(cat "$SCEN_ERR" "$SCEN_OUT")"
grep -q '^Tests run: 5, Tests failed: 0$' "$SCEN_OUT" || fail "summary: $(cat "$SCEN_OUT")"
grep -q '^Report saved as report.md$' "$SCEN_OUT" || fail "no report line: $(cat "$SCEN_OUT")"
grep -Eq '^\[1/2\] [0-9:]+ Latency Increase By 25ms Steps \[GET http://127\.0\.0\.1:[0-9]+/index\.html\]' \
	"$SCEN_OUT" || fail "no progress line for item 1: $(cat "$SCEN_OUT")"

note "results.json has the fields of the original's"
json "$E2E_TMP/results.json" '
assert isinstance(d["start"], (int, float)) and isinstance(d["end"], (int, float))
assert d["end"] >= d["start"]
assert len(d["results"]) == 2
first = d["results"][0]
sc = first["scenario"]
assert sc["title"] == "Latency Increase By 25ms Steps"
item = sc["items"][0]
assert item["call"]["method"] == "GET"
assert item["call"]["headers"]["Authorization"] == "xxxxxx", item["call"]["headers"]
assert item["call"]["headers"]["X-Test"] == "visible"
assert item["context"]["strategy"]["mode"] == "repeat"
assert item["context"]["faults"][0]["type"] == "latency"
ir = first["results"][0]
assert ir["target"]["address"].endswith("/index.html")
assert ir["requests_count"] == 4, ir["requests_count"]
assert ir["failure_counts"] == 0
assert set(ir["total_time"]) == {"secs", "nanos"}
assert ir["passed"] is True
calls = ir["results"]
assert len(calls) == 4
for c in calls:
    assert c["start"] > 1e15, c["start"]          # unix microseconds
    e = c["expect"]
    assert e["type"] == "http"
    assert e["wanted"] == {"status_code": 200, "response_time_under": 1000, "all_slo_are_valid": None}
    assert e["got"]["status_code"] == 200
    assert e["got"]["decision"] == "success"
    assert e["got"]["response_time"] == c["metrics"]["total_time"]
    m = c["metrics"]
    assert m["dns"][0]["host"] == "127.0.0.1" and m["dns"][0]["resolved"] is True
    assert isinstance(m["dns"][0]["duration"], (int, float))
    assert m["protocol"] == {"type": "http", "code": 200, "body_length": 6}, m["protocol"]
    assert m["ttfb"] > 0 and m["ttfb"] <= m["total_time"]
    assert m["errored"] is False and m["timed_out"] is False
    assert c["errors"] == []
# The baseline has no fault; then 50, 75 and 100 ms, as the proxy drew them.
assert calls[0]["iteration"] == -1 and calls[0]["faults"] == [] and calls[0]["metrics"]["faults"] == []
for k, want in ((1, 50), (2, 75), (3, 100)):
    c = calls[k]
    assert c["faults"][0]["mean"] == want, c["faults"]
    groups = c["metrics"]["faults"]
    assert len(groups) == 1 and groups[0]["url"].startswith("127.0.0.1:"), groups
    ev = groups[0]["applied"][0]["event"]
    assert ev["type"] == "latency" and ev["side"] == "server" and ev["direction"] == "ingress", ev
    assert abs(ev["delay"] - want) < 0.5, ev
    assert c["metrics"]["total_time"] >= want, (c["metrics"]["total_time"], want)
single = d["results"][1]["results"][0]
assert single["requests_count"] == 1 and single["results"][0]["metrics"]["faults"] == []
'

note "report.md: overview, percentiles, calls, masked Authorization"
R=$E2E_TMP/report.md
grep -q '^# Scenarios Report$' "$R" || fail "report title"
grep -q '^## Scenario: Latency Increase By 25ms Steps (items: 1)$' "$R" || fail "scenario heading"
grep -q '^### 🎯 `GET` http://127.0.0.1:[0-9]*/index.html | Passed$' "$R" || fail "item heading"
grep -q '^\*\*Strategy\*\*: repeat 3 times with a step of 25' "$R" || fail "strategy line"
grep -q '^| Num. Requests | Num. Errors | Min. Response Time | Max Response Time | Mean Latency (ms) | Expectation Failures | Total Time |$' "$R" ||
	fail "overview header"
grep -Eq '^\| 4 \| 0 \(0\.0%\) \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| 0 \| ' "$R" || fail "overview row"
for p in 25 50 75 95 99; do
	grep -Eq "^\| p$p \| [0-9.]+ \| [0-9]+ \([0-9.]+%\) \|$" "$R" || fail "percentile p$p row"
done
grep -q 'Authorization: xxxxxx' "$R" || fail "Authorization is not masked"
grep -q 'very-secret-token' "$R" "$E2E_TMP/results.json" && fail "the token leaked into a report"
grep -Eq '^\| 2 \| 1 \| 200 \| [0-9.]+ \| latency 50\.0ms on 127\.0\.0\.1:[0-9]+ \| ✅ \|$' "$R" ||
	fail "per-call row of iteration 1: $(grep '^| 2 |' "$R")"

note "JUnit: one testcase per item"
python3 - "$E2E_TMP/junit.xml" <<'EOF' || fail "junit.xml"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "0"
cases = root.findall("./testsuite/testcase")
assert len(cases) == 2 and all(c.find("failure") is None for c in cases)
EOF
if command -v xmllint >/dev/null 2>&1; then
	xmllint --noout "$E2E_TMP/junit.xml" || fail "xmllint refuses junit.xml"
fi

note "YAML results by extension; environment variables of the original"
# FAULT_SCENARIO_REPORT_PATH is the scenario (as documented), not the report.
FAULT_SCENARIO_REPORT_PATH=basic.yaml FAULT_SCENARIO_REPORT_FILE=env-report.md \
	FAULT_SCENARIO_RESULTS_PATH=results.yaml scenario run --quiet
[ "$SCEN_RC" = 0 ] || fail "env run: exit status $SCEN_RC: $(cat "$SCEN_ERR")"
[ -s "$SCEN_OUT" ] && fail "--quiet printed: $(cat "$SCEN_OUT")"
[ -s "$E2E_TMP/env-report.md" ] || fail "FAULT_SCENARIO_REPORT_FILE was not used"
head -1 "$E2E_TMP/results.yaml" | grep -Eq '^start: [0-9]+$' || fail "results.yaml: $(head -3 "$E2E_TMP/results.yaml")"
grep -q '^- scenario:$' "$E2E_TMP/results.yaml" || fail "results.yaml has no scenario list"
if python3 -c 'import yaml' 2>/dev/null; then
	python3 - "$E2E_TMP/results.yaml" <<'EOF' || fail "results.yaml does not parse"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert d["results"][0]["results"][0]["requests_count"] == 4
EOF
fi
ls "$E2E_TMP"/*.tmp >/dev/null 2>&1 && fail "a temporary file was left behind"
note "ok"
