#!/bin/bash
# plugins/scenario/tests/run_tcp.sh - items whose context defines TCP
# mappings (`context.proxy.proxies`, the HTTP proxy disabled): the call
# goes to the mapping's port, the faults apply on the mapping, and each
# fault event is attributed to the call whose connection it hit. A
# blackhole makes the call time out: errored, timed_out, a failed
# expectation and exit status 1.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_nginx
echo mapped >"$WWW/index.html"
MAP_PORT=$(free_port)

fixture tcp.yaml <<EOF
title: Through a TCP mapping
items:
  - call:
      method: GET
      url: http://127.0.0.1:$MAP_PORT/index.html
    context:
      proxy:
        disable_http_proxies: true
        proxies: ["127.0.0.1:$MAP_PORT=127.0.0.1:$NGINX_PORT"]
      faults:
        - {type: latency, mean: 80, stddev: 0}
      strategy: {mode: repeat, count: 2, step: 40, wait: 50}
    expect: {status: 200}
  - call:
      method: GET
      url: http://127.0.0.1:$MAP_PORT/index.html
      timeout: 300
    context:
      proxy:
        disable_http_proxies: true
        proxies: ["127.0.0.1:$MAP_PORT=127.0.0.1:$NGINX_PORT"]
      faults:
        - {type: blackhole, direction: egress}
    expect: {status: 200}
EOF

scenario run -s tcp.yaml
[ "$SCEN_RC" = 1 ] || fail "exit status $SCEN_RC, expected 1: $(cat "$SCEN_ERR" "$SCEN_OUT")"
json "$E2E_TMP/results.json" '
rep = d["results"][0]["results"][0]
assert rep["passed"] and rep["requests_count"] == 2
for c, want in zip(rep["results"], (80, 120)):
    g = c["metrics"]["faults"]
    assert len(g) == 1 and g[0]["url"] == "127.0.0.1:'"$NGINX_PORT"'", g
    assert abs(g[0]["applied"][0]["event"]["delay"] - want) < 0.5, g
    assert c["metrics"]["total_time"] >= want
    assert c["metrics"]["dns"][0]["host"] == "127.0.0.1"
# wait: 50 ms between the calls
a, b = rep["results"]
assert b["start"] - (a["start"] + a["metrics"]["total_time"] * 1000) >= 50000
bh = d["results"][0]["results"][1]
c = bh["results"][0]
assert bh["passed"] is False and bh["failure_counts"] == 1
assert c["metrics"]["errored"] is True and c["metrics"]["timed_out"] is True, c["metrics"]
assert c["metrics"]["protocol"] is None and c["expect"]["got"]["status_code"] is None
assert c["expect"]["got"]["decision"] == "failure" and c["reason"].startswith("timed out: ")
assert c["errors"] and 290 <= c["metrics"]["total_time"] < 1000, c
'
grep -Eq '^\| 1 \| 1 \| - \| [0-9.]+ \| blackhole on 127\.0\.0\.1:[0-9]+ \| ❌ timed out: ' "$E2E_TMP/report.md" ||
	fail "the report does not show the timeout: $(grep '^| 1 |' "$E2E_TMP/report.md")"
note "ok"
