#!/bin/bash
# plugins/scenario/tests/run_downstream.sh - scenarios against a real
# application (tests/app.py) whose endpoint makes its own downstream call
# to nginx through the runner's proxy: the scenario's faults apply to that
# upstream, not to our call, and still show in our call's time and in the
# fault events attributed to it. A 503 injected upstream makes the app
# answer 502: the expectation fails, the exit status is 1, and JUnit says
# why. Also checks the HTML report's charts.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_nginx
echo upstream >"$WWW/index.html"
start_app "http://127.0.0.1:$NGINX_PORT/index.html"
APP="http://127.0.0.1:$APP_PORT"

fixture downstream.yaml <<EOF
title: Downstream latency
description: the app calls nginx; nginx is slowed down
items:
  - call:
      method: GET
      url: $APP/ping
    context:
      upstreams:
        - http://127.0.0.1:$NGINX_PORT
      faults:
        - type: latency
          mean: 150
          stddev: 0
          side: server
          direction: ingress
    expect:
      status: 200
      response_time_under: 5000
  - call:
      method: GET
      url: $APP/ok
    context:
      upstreams:
        - http://127.0.0.1:$NGINX_PORT
      faults:
        - type: latency
          mean: 400
    expect:
      status: 200
      response_time_under: 300
---
title: Upstream errors
items:
  - call:
      method: GET
      url: $APP/ping
    context:
      upstreams: ["127.0.0.1:$NGINX_PORT"]
      faults:
        - type: httperror
          status_code: 503
          probability: 1
    expect:
      status: 200
EOF

scenario run -s downstream.yaml --junit junit.xml --html report.html
[ "$SCEN_RC" = 1 ] || fail "exit status $SCEN_RC, expected 1 (one expectation fails): $(cat "$SCEN_ERR" "$SCEN_OUT")"
grep -q '^Tests run: 3, Tests failed: 1$' "$SCEN_OUT" || fail "summary: $(cat "$SCEN_OUT")"

note "the upstream's latency is in the app's answer and attributed to our call"
json "$E2E_TMP/results.json" '
ping = d["results"][0]["results"][0]["results"][0]
assert ping["expect"]["got"]["decision"] == "success", ping
assert ping["metrics"]["total_time"] >= 150, ping["metrics"]["total_time"]
groups = ping["metrics"]["faults"]
assert len(groups) == 1, groups
assert groups[0]["url"] == "127.0.0.1:'"$NGINX_PORT"'", groups
ev = groups[0]["applied"][0]["event"]
assert ev["type"] == "latency" and abs(ev["delay"] - 150) < 0.5, ev
# /ok makes no downstream call: the app itself is not an upstream, so no
# fault touches it although the call went through the proxy.
ok = d["results"][0]["results"][1]["results"][0]
assert ok["metrics"]["faults"] == [] and ok["metrics"]["total_time"] < 300, ok["metrics"]
err = d["results"][1]["results"][0]
assert err["passed"] is False and err["failure_counts"] == 1
call = err["results"][0]
assert call["expect"]["got"]["status_code"] == 502
assert call["expect"]["got"]["decision"] == "failure"
assert call["reason"] == "status 502, expected 200", call["reason"]
evs = [a["event"] for g in call["metrics"]["faults"] for a in g["applied"]]
assert evs and evs[0]["type"] == "httperror" and evs[0]["status"] == 503, evs
'

note "JUnit: the failure and its reason"
python3 - "$E2E_TMP/junit.xml" <<'EOF' || fail "junit.xml"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.get("tests") == "3" and root.get("failures") == "1", root.attrib
suites = root.findall("testsuite")
assert [s.get("name") for s in suites] == ["Downstream latency", "Upstream errors"]
bad = suites[1].find("testcase")
f = bad.find("failure")
assert f is not None and f.get("message") == "call 1: status 502, expected 200", f.attrib
assert bad.get("file") == "downstream.yaml" and bad.get("line") == "34", bad.attrib
assert all(c.find("failure") is None for c in suites[0].findall("testcase"))
EOF
if command -v xmllint >/dev/null 2>&1; then
	xmllint --noout "$E2E_TMP/junit.xml" || fail "xmllint refuses junit.xml"
else
	note "xmllint is not installed: checked with python's xml.etree only"
fi

note "HTML: a chart and a histogram per item, fault windows, one dot per call"
python3 - "$E2E_TMP/report.html" <<'EOF' || fail "report.html"
import sys
from html.parser import HTMLParser

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.items, self.cur, self.external = [], [], None, []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "article" and "item" in cls:
            self.cur = {"state": cls, "charts": 0, "hist": 0, "windows": 0, "calls": 0, "bars": 0}
            self.items.append(self.cur)
        if tag == "svg" and "latency-chart" in cls:
            self.cur["charts"] += 1
        if tag == "svg" and "histogram" in cls:
            self.cur["hist"] += 1
        if tag == "rect" and "fault-window" in cls:
            self.cur["windows"] += 1
        if tag == "circle" and "call" in cls:
            self.cur["calls"] += 1
        if tag == "rect" and "bar" in cls:
            self.cur["bars"] += 1
        for k in ("src", "href"):
            if k in a:
                self.external.append(a[k])

p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
assert not p.external, p.external          # self-contained
assert len(p.items) == 3, p.items
for it in p.items:
    assert it["charts"] == 1 and it["hist"] == 1 and it["calls"] == 1 and it["bars"] == 20, it
    assert it["windows"] >= 1, it           # every item had a fault on
assert "passed" in p.items[0]["state"] and "failed" in p.items[2]["state"]
EOF

# With a browser at hand, check the page as it renders too: the DOM the
# browser builds must still hold the charts (headless Chromium, optional).
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROMIUM" ]; then
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --dump-dom \
		"file://$E2E_TMP/report.html" >"$E2E_TMP/dom.html" 2>"$E2E_TMP/chromium.err" ||
		fail "chromium could not render report.html: $(tail -3 "$E2E_TMP/chromium.err")"
	python3 - "$E2E_TMP/dom.html" <<'PY' || fail "the rendered DOM lacks the charts"
import sys
from html.parser import HTMLParser
seen = {}
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        for c in (dict(attrs).get("class") or "").split():
            seen[(tag, c)] = seen.get((tag, c), 0) + 1
P().feed(open(sys.argv[1], encoding="utf-8").read())
assert seen.get(("svg", "latency-chart")) == 3 and seen.get(("svg", "histogram")) == 3, seen
assert seen.get(("rect", "fault-window"), 0) >= 3 and seen.get(("circle", "call")) == 3, seen
PY
	note "rendered with $(basename "$CHROMIUM")"
else
	note "chromium is not installed: the HTML was checked with python's html.parser only"
fi
note "ok"
