#!/bin/bash
# plugins/scenario/tests/secrets.sh - credentials never reach what fault
# writes: secret headers (the default set and a name added with --mask)
# and secret query parameters are masked in results.json, report.md, the
# HTML and JUnit reports, the runner's output, and in the proxy's --events
# and --tail lines; other values stay visible.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_nginx
echo hello >"$WWW/index.html"
Q="api_key=SEKRET1&page=2&X-Amz-Signature=SEKRET2&token=SEKRET3"
URL="http://127.0.0.1:$NGINX_PORT/index.html?$Q"

fixture secrets.yaml <<YAML
---
title: Secrets stay out
items:
  - call:
      method: GET
      url: $URL
      headers:
        X-Auth-Token: SEKRET4
        Api-Key: SEKRET5
        X-Amz-Security-Token: SEKRET6
        X-Team-Pass: SEKRET7
        X-Visible: shown-value
    context:
      upstreams:
        - http://127.0.0.1:$NGINX_PORT
      faults:
        - type: latency
          mean: 1
          stddev: 0
    expect:
      status: 200
YAML
FAULT_MASK='x-team-*' scenario run -s secrets.yaml -r report.md --result results.json \
	--junit junit.xml --html report.html
[ "$SCEN_RC" = 0 ] || fail "scenario run failed ($SCEN_RC): $(cat "$SCEN_ERR")"
for p in "$E2E_TMP/results.json" "$E2E_TMP/report.md" "$E2E_TMP/junit.xml" "$E2E_TMP/report.html" "$SCEN_OUT"; do
	[ -s "$p" ] || fail "$(basename "$p") was not written"
	if grep -q 'SEKRET' "$p"; then
		fail "$(basename "$p") shows $(grep -o 'SEKRET[0-9]' "$p" | sort -u | tr '\n' ' ')"
	fi
done
grep -q 'shown-value' "$E2E_TMP/results.json" || fail "results.json lost a header that is not secret"
grep -q 'page=2' "$E2E_TMP/results.json" || fail "results.json lost a query parameter that is not secret"
grep -q 'api_key=xxxxxx' "$E2E_TMP/results.json" || fail "results.json does not show the masked query"
note "scenario outputs: masked"

# The proxy's own outputs: --events and --tail on a reverse mapping, with
# a name added on the command line.
P=$(free_port)
start_fault --mask 'session' run --proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT" --tail \
	--events "$E2E_TMP/events.jsonl"
curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$P/index.html?$Q&session=SEKRET8" ||
	fail "request through the proxy"
wait_for_line "$FAULT_OUT" ' 200 ' "$FAULT_PID"
stop_pid "$FAULT_PID"
for f in "$FAULT_OUT" "$E2E_TMP/events.jsonl"; do
	if grep -q 'SEKRET' "$f"; then
		fail "$(basename "$f") shows a secret: $(grep SEKRET "$f" | head -2)"
	fi
done
grep -q 'api_key=xxxxxx&page=2' "$E2E_TMP/events.jsonl" ||
	fail "events: no masked URL: $(head -5 "$E2E_TMP/events.jsonl")"
note "proxy --events and --tail: masked"
