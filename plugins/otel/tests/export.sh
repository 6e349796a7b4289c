#!/usr/bin/env bash
# plugins/otel/tests/export.sh - `fault --with-otel run` exports OTLP/HTTP
# JSON to a collector: curl -> fault -> nginx on loopback, with
# collector.py (a test double of a collector, see its header) recording
# what it gets.
#
# Run 1 (forward proxy with a 200 ms latency, and a TCP mapping): the
# traces arrive during the run (periodic batch), as application/json on
# /v1/traces: an HTTP span (method, url.full with the secret query value
# masked, status, server port) child of its connection span, with the
# latency as an event carrying its parameters; a TCP connection span
# with the byte counts; resource service.name fault-cli, service.version
# and OTEL_RESOURCE_ATTRIBUTES percent-decoded; the headers of
# OTEL_EXPORTER_OTLP_HEADERS; metrics on /v1/metrics at stop.
# Run 2: OTEL_SERVICE_NAME and OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used
# as is); a schedule delay of 10 minutes, so only the flush at Ctrl-C
# can deliver the span: it does, with http_proxy set to a dead port
# (the exporter ignores proxies from the environment).
# Run 3: the collector is down: the proxy still proxies, fault says so
# once (one stderr line, one warning in the log) however many exports
# fail, and exits 0.
# Run 4: a collector that never answers, a queue of one span: one warning
# when the queue is full, and stop still ends within the export timeout
# (1 s; asserted under 4 s to allow a loaded machine).
# Run 5: FAULT_WITH_OTEL=false exports nothing and says nothing.
# Run 6: `fault --with-otel scenario run`: its proxy exports.
# Run 7: an upstream that refuses: a 502 span with the ERROR status.
# Bad input: each bad variable is one line naming it, status 2.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/otel/tests/common.sh" || exit 99

# ---- run 1
PP=$(free_port)
TP=$(free_port)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$CP/ \
	OTEL_EXPORTER_OTLP_HEADERS='x-team = a%2Cb , authorization=Bearer%20t0k' \
	OTEL_RESOURCE_ATTRIBUTES='deployment.environment=test%20env,host.name=box' \
	start_fault --with-otel run --no-ui --proxy-address "127.0.0.1:$PP" \
	--proxy "127.0.0.1:$TP=127.0.0.1:$NGINX_PORT" --with-latency --latency-mean 200 --latency-stddev 0
wait_listen "$PP" "$FAULT_PID"
body=$(curl -sS --fail --max-time 10 --noproxy '' -x "http://127.0.0.1:$PP" \
	"http://127.0.0.1:$NGINX_PORT/index.html?api_key=s3cret") || fail "curl through the forward proxy failed"
[ "$body" = "hello otel" ] || fail "forward proxy: got '$body'"
body=$(curl -sS --fail --max-time 10 "http://127.0.0.1:$TP/index.html") || fail "curl through the TCP mapping failed"
[ "$body" = "hello otel" ] || fail "TCP mapping: got '$body'"
# Exported while running (batches every second), not only at stop.
wait_for_line "$GOT" '"url.full"' "$FAULT_PID"
wait_for_line "$GOT" '"fault.bytes.ingress"' "$FAULT_PID"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "run 1: status $STOP_STATUS: $(cat "$FAULT_ERR")"
[ -s "$FAULT_ERR" ] && fail "run 1: stderr: $(cat "$FAULT_ERR")"
# --no-ui: nothing on stdout (not the collector's answers either).
[ -s "$FAULT_OUT" ] && fail "run 1: stdout: $(cat "$FAULT_OUT")"
check "$NGINX_PORT" <<'PY'
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
nginx = int(sys.argv[2])
traces = [l for l in lines if l["path"] == "/v1/traces"]
metrics = [l for l in lines if l["path"] == "/v1/metrics"]
assert traces and metrics, "want traces and metrics: %s" % [l["path"] for l in lines]
for l in lines:
    assert l["content_type"] == "application/json", l["content_type"]
    assert l["headers"].get("x-team") == "a,b", l["headers"]
    assert l["headers"].get("authorization") == "Bearer t0k", l["headers"]
def attrs(a):
    out = {}
    for kv in a:
        v = kv["value"]
        (k2, x), = v.items()
        out[kv["key"]] = int(x) if k2 == "intValue" else x
    return out
spans = []
for l in traces:
    for rs in l["body"]["resourceSpans"]:
        res = attrs(rs["resource"]["attributes"])
        assert res["service.name"] == "fault-cli", res
        assert res.get("service.version"), res
        assert res["deployment.environment"] == "test env" and res["host.name"] == "box", res
        for ss in rs["scopeSpans"]:
            spans += ss["spans"]
for s in spans:
    assert re.fullmatch(r"[0-9a-f]{32}", s["traceId"]) and re.fullmatch(r"[0-9a-f]{16}", s["spanId"]), s
    assert re.fullmatch(r"[0-9]+", s["startTimeUnixNano"]) and re.fullmatch(r"[0-9]+", s["endTimeUnixNano"]), s
    assert int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]), s
http = [s for s in spans if attrs(s["attributes"]).get("http.request.method") == "GET"]
assert len(http) == 1, "want one HTTP span: %s" % spans
h = http[0]
a = attrs(h["attributes"])
assert h["name"] == "GET" and a["url.full"] == "http://127.0.0.1:%d/index.html?api_key=xxxxxx" % nginx, a
assert a["http.response.status_code"] == 200 and a["server.port"] == nginx and a["client.address"] == "127.0.0.1", a
lat = [e for e in h["events"] if e["name"] == "latency"]
assert len(lat) == 1, h["events"]
ea = attrs(lat[0]["attributes"])
assert ea["fault.name"] == "latency" and ea["fault.param.delay_ms"] == 200 and ea["fault.param.distribution"] == "normal", ea
# The exchange lasted the latency (200 ms; tolerance: no less).
assert int(h["endTimeUnixNano"]) - int(h["startTimeUnixNano"]) >= 200e6, h
parent = [s for s in spans if s["spanId"] == h.get("parentSpanId")]
assert parent and parent[0]["traceId"] == h["traceId"] and parent[0]["name"] == "proxy connection", h
tcp = [s for s in spans if attrs(s["attributes"]).get("fault.handler") == "tcp"]
assert len(tcp) == 1, spans
t = attrs(tcp[0]["attributes"])
assert t["server.port"] == nginx and t["fault.bytes.egress"] > 0 and t["fault.bytes.ingress"] >= len("hello otel\n"), t
assert [e["name"] for e in tcp[0]["events"]] == ["latency"], tcp[0]["events"]
sums = {}
for l in metrics:
    for rm in l["body"]["resourceMetrics"]:
        for sm in rm["scopeMetrics"]:
            for m in sm["metrics"]:
                for p in m["sum"]["dataPoints"]:
                    sums[(m["name"], json.dumps(attrs(p.get("attributes", [])), sort_keys=True))] = int(p["asInt"])
assert sums[("fault.connections", "{}")] == 2, sums
assert sums[("fault.http.responses", '{"http.response.status_code": 200}')] == 1, sums
assert sums[("fault.faults.applied", '{"fault.name": "latency"}')] == 2, sums
print("run 1: %d spans, HTTP span %s with its latency event, TCP span %s, metrics %d points" % (len(spans), a["url.full"], t, len(sums)))
PY

# ---- run 2
: >"$GOT"
TP=$(free_port)
# A proxy in the environment (nothing listens there) is not the exporter's.
no_proxy='' NO_PROXY='' http_proxy=http://127.0.0.1:$(free_port) \
	OTEL_SERVICE_NAME=checkout OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:$CP/custom/traces \
	OTEL_METRICS_EXPORTER=none OTEL_BSP_SCHEDULE_DELAY=600000 \
	start_fault --with-otel run --no-ui --disable-http-proxy --proxy "127.0.0.1:$TP=127.0.0.1:$NGINX_PORT"
curl -sS --fail --max-time 10 -o /dev/null "http://127.0.0.1:$TP/index.html" || fail "run 2: curl failed"
stop_pid "$FAULT_PID" INT
[ "$STOP_STATUS" = 0 ] || fail "run 2: status $STOP_STATUS: $(cat "$FAULT_ERR")"
check <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["path"] for l in lines] == ["/custom/traces"], [l["path"] for l in lines]
rs = lines[0]["body"]["resourceSpans"][0]
svc = [a["value"]["stringValue"] for a in rs["resource"]["attributes"] if a["key"] == "service.name"]
assert svc == ["checkout"], svc
n = len(rs["scopeSpans"][0]["spans"])
assert n == 1, n
print("run 2: service.name %s, 1 span flushed at Ctrl-C to /custom/traces" % svc[0])
PY

# ---- run 3: nobody listens where the collector should be
TP=$(free_port)
DEAD=$(free_port)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$DEAD OTEL_BSP_SCHEDULE_DELAY=100 \
	start_fault --with-otel --log-file "$E2E_TMP/dead.log" run --no-ui --disable-http-proxy \
	--proxy "127.0.0.1:$TP=127.0.0.1:$NGINX_PORT"
for i in 1 2 3; do
	body=$(curl -sS --fail --max-time 10 "http://127.0.0.1:$TP/index.html") || fail "run 3: curl $i failed"
	[ "$body" = "hello otel" ] || fail "run 3: got '$body'"
	# The first export has failed before the next requests.
	[ $i = 1 ] && wait_for_line "$E2E_TMP/dead.log" 'cannot export' "$FAULT_PID"
done
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "run 3: status $STOP_STATUS"
[ "$(wc -l <"$FAULT_ERR")" = 1 ] && grep -q "^fault: otel: cannot export to http://127.0.0.1:$DEAD/v1/" "$FAULT_ERR" ||
	fail "run 3: want one line on stderr: $(cat "$FAULT_ERR")"
[ "$(grep -c 'cannot export' "$E2E_TMP/dead.log")" = 1 ] || fail "run 3: want one warning: $(cat "$E2E_TMP/dead.log")"
grep -Eq 'otel.*[0-9]+ spans were not exported' "$E2E_TMP/dead.log" || fail "run 3: no count of dropped spans"
note "run 3: collector down: 3 requests proxied, one warning: $(cat "$FAULT_ERR")"

# ---- run 4: a collector that accepts and never answers
start_mute
TP=$(free_port)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$MUTE OTEL_EXPORTER_OTLP_TIMEOUT=1000 OTEL_BSP_MAX_QUEUE_SIZE=1 \
	start_fault --with-otel --log-file "$E2E_TMP/mute.log" run --no-ui --disable-http-proxy \
	--proxy "127.0.0.1:$TP=127.0.0.1:$NGINX_PORT"
# Three spans for a queue of one and a request that hangs: one at least
# is dropped, whatever the flush timer did in between.
for i in 1 2 3; do
	curl -sS --fail --max-time 10 -o /dev/null "http://127.0.0.1:$TP/index.html" || fail "run 4: curl $i failed"
done
wait_for_line "$E2E_TMP/mute.log" 'export queue is full' "$FAULT_PID"
t0=$(date +%s.%N)
stop_pid "$FAULT_PID"
ms=$(ms_diff "$t0" "$(date +%s.%N)")
[ "$STOP_STATUS" = 0 ] || fail "run 4: status $STOP_STATUS"
[ "$ms" -lt 4000 ] || fail "run 4: stopping took $ms ms (timeout 1000 ms)"
[ "$(wc -l <"$FAULT_ERR")" = 1 ] && grep -q '^fault: otel: the export queue is full (1 spans' "$FAULT_ERR" ||
	fail "run 4: want one line on stderr: $(cat "$FAULT_ERR")"
note "run 4: mute collector: stop took $ms ms (export timeout 1000 ms)"

# ---- run 5: FAULT_WITH_OTEL=false
: >"$GOT"
TP=$(free_port)
FAULT_WITH_OTEL=false OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$CP \
	start_fault run --no-ui --disable-http-proxy --proxy "127.0.0.1:$TP=127.0.0.1:$NGINX_PORT"
curl -sS --fail --max-time 10 -o /dev/null "http://127.0.0.1:$TP/index.html" || fail "run 5: curl failed"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] && [ ! -s "$FAULT_ERR" ] || fail "run 5: status $STOP_STATUS: $(cat "$FAULT_ERR")"
[ ! -s "$GOT" ] || fail "run 5: exported with FAULT_WITH_OTEL=false: $(head -c 300 "$GOT")"

# ---- run 6: `fault --with-otel scenario run`: the scenario's proxy (a
# child `fault run`) exports its connection with the latency event.
if [ -f "$top_builddir/plugins/scenario/.libs/scenario.so" ]; then
	: >"$GOT"
	MP=$(free_port)
	cat >"$E2E_TMP/sc.yaml" <<EOF
title: otel
items:
  - call: {method: GET, url: "http://127.0.0.1:$MP/index.html"}
    context:
      proxy:
        disable_http_proxies: true
        proxies: ["127.0.0.1:$MP=127.0.0.1:$NGINX_PORT"]
      faults:
        - {type: latency, mean: 50, stddev: 0}
    expect: {status: 200}
EOF
	(cd "$E2E_TMP" && OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$CP OTEL_SERVICE_NAME=sc \
		"$FAULT" --with-otel scenario run -s sc.yaml >sc.out 2>sc.err) ||
		fail "scenario run: status $?: $(cat "$E2E_TMP/sc.err")"
	check "$NGINX_PORT" <<'PY'
import json, sys
spans = [s for l in map(json.loads, open(sys.argv[1])) if l["path"] == "/v1/traces"
         for rs in l["body"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
ports = [a["value"]["intValue"] for s in spans for a in s["attributes"] if a["key"] == "server.port"]
assert ports == [sys.argv[2]], spans
assert [e["name"] for e in spans[0]["events"]] == ["latency"], spans
print("run 6: the scenario's proxy exported its connection span with the latency event")
PY
	# The user's --mask names (FAULT_MASK) reach the scenario's proxy too:
	# a query value secret only by that name is masked in what it exports.
	: >"$GOT"
	MP=$(free_port)
	cat >"$E2E_TMP/sc2.yaml" <<EOF
title: otel mask
items:
  - call: {method: GET, url: "http://127.0.0.1:$NGINX_PORT/index.html?teamsig=SEKRET9"}
    context:
      proxy:
        proxies: ["127.0.0.1:$MP=http://127.0.0.1:$NGINX_PORT"]
      upstreams: ["http://127.0.0.1:$NGINX_PORT"]
      faults:
        - {type: latency, mean: 1, stddev: 0}
    expect: {status: 200}
EOF
	# Its forward proxy on a free port, not the default 3180 (another
	# fault on the machine may hold that one).
	(cd "$E2E_TMP" && OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$CP FAULT_MASK=teamsig \
		FAULT_SCENARIO_PROXY_ADDR=127.0.0.1:$(free_port) \
		"$FAULT" --with-otel scenario run -s sc2.yaml >sc2.out 2>sc2.err) ||
		fail "scenario run (mask): status $?: $(cat "$E2E_TMP/sc2.err")"
	grep -q 'teamsig=xxxxxx' "$GOT" || fail "run 6: no masked URL exported: $(head -c 600 "$GOT")"
	grep -q SEKRET9 "$GOT" && fail "run 6: the scenario's proxy exported a --mask secret"
	note "run 6: --mask names reach the scenario's proxy (teamsig masked in its spans)"
fi

# ---- run 7: an upstream that refuses: the exchange's span is an error
: >"$GOT"
TP=$(free_port)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$CP \
	start_fault --with-otel run --no-ui --disable-http-proxy --proxy "127.0.0.1:$TP=http://127.0.0.1:$(free_port)"
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TP/index.html") || fail "run 7: curl failed"
[ "$code" = 502 ] || fail "run 7: status $code, want 502"
stop_pid "$FAULT_PID"
check <<'PY'
import json, sys
spans = [s for l in map(json.loads, open(sys.argv[1])) if l["path"] == "/v1/traces"
         for rs in l["body"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
http = [s for s in spans if s["name"] == "GET"]
assert len(http) == 1, spans
a = {x["key"]: x["value"] for x in http[0]["attributes"]}
assert a["http.response.status_code"] == {"intValue": "502"} and http[0]["status"]["code"] == 2, http[0]
print("run 7: refused upstream: HTTP span 502, status ERROR, events %s" % [e["name"] for e in http[0]["events"]])
PY

# ---- bad input
BADERR=$E2E_TMP/bad.err
try_bad() {
	local var=$1 val=$2 re=$3 rc=0
	env "$var=$val" "$FAULT" --with-otel run --no-ui --disable-http-proxy \
		--proxy "127.0.0.1:$(free_port)=127.0.0.1:$NGINX_PORT" >/dev/null 2>"$BADERR" || rc=$?
	[ "$rc" = 2 ] && [ "$(wc -l <"$BADERR")" = 1 ] && grep -Eq -- "^fault: otel: $var: $re" "$BADERR" ||
		fail "$var='$val': status $rc: $(cat "$BADERR")"
}
try_bad OTEL_EXPORTER_OTLP_PROTOCOL grpc "'grpc' is not supported: this build exports http/json only"
try_bad OTEL_EXPORTER_OTLP_TRACES_PROTOCOL http/protobuf "'http/protobuf' is not supported"
try_bad OTEL_EXPORTER_OTLP_ENDPOINT localhost:4318 "'localhost:4318/v1/traces' is not an http:// or https:// URL"
try_bad OTEL_EXPORTER_OTLP_METRICS_ENDPOINT 'http://:99' "'http://:99' has no host"
try_bad OTEL_EXPORTER_OTLP_HEADERS 'a=1,novalue' "entry 2: no '='"
try_bad OTEL_EXPORTER_OTLP_HEADERS 'a=%zz' "entry 1: a bad percent escape"
try_bad OTEL_EXPORTER_OTLP_HEADERS 'a=x%0d%0aInjected: 1' "entry 1: a control character"
try_bad OTEL_RESOURCE_ATTRIBUTES '=x' "entry 1: an empty key"
try_bad OTEL_EXPORTER_OTLP_TIMEOUT 10s "'10s' is not a number of milliseconds"
try_bad OTEL_TRACES_EXPORTER zipkin "'zipkin' is not supported"
try_bad OTEL_BSP_MAX_QUEUE_SIZE 0 "'0' is not a number of spans"
note "bad input: one line naming the variable, status 2"
