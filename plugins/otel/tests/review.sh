#!/usr/bin/env bash
# plugins/otel/tests/review.sh - cases of the otel export that export.sh
# does not cover, one run each, collector.py recording what it gets:
# HTTP/2: stream 3 refused with 431 (its header list is over the bound,
# so it never had an exchange) while stream 1 of the same connection
# waits on a 400 ms latency: stream 1's span still ends with its own 200
# and carries its latency event (the 431 used to end it).
# Stop during a metrics export (the collector holds its answer until
# the run is stopping): the final metrics leave once it answers (they
# used to be lost: fault.connections stayed 0 at the collector).
# OTEL_BSP_MAX_EXPORT_BATCH_SIZE=2 with a backlog (the collector holds
# the first request while more spans end): no request carries more than
# two spans (the whole queue used to leave in one body).
# HTTP/2: 300 streams reset by the client before their response on a
# connection that stays open: at most 128 exchange spans stay open per
# connection, the older ones leave as errors while it lives (they used
# to pile up, each with its URL and events, until it closed).
# 30 connections open at stop with a queue of 10: all 30 spans leave,
# 10 a request (the stop flush used to keep 10, drop 20 and warn of a
# full queue).
# `fault run dns` with an HTTP mapping: DNS query 1 comes and goes while
# connection 1's exchange waits: the exchange keeps its 200 and its
# latency, the query span its own fault (the query's end used to end the
# exchange as "connection closed before the response", with the DNS
# fault as its event: the dns-proxy numbers queries as the core numbers
# connections).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/otel/tests/common.sh" || exit 99

# ---- HTTP/2: a stream refused with 431 (no exchange) while another
# stream of the connection waits on its latency: the 431 must not end
# the other stream's span.
PP=$(free_port)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$CP \
	start_fault --with-otel --log-file "$E2E_TMP/h2.log" --log-level debug run --no-ui --disable-http-proxy \
	--proxy "127.0.0.1:$PP=http://127.0.0.1:$NGINX_PORT" --with-latency --latency-mean 400 --latency-stddev 0 \
	--latency-side server
python3 "$HERE/h2two.py" "$PP" "127.0.0.1:$PP" /index.html?first /index.html?second 70000 >"$E2E_TMP/h2.out" 2>&1 ||
	fail "h2two.py: $(cat "$E2E_TMP/h2.out" "$E2E_TMP/h2.log")"
stop_pid "$FAULT_PID"
grep -qx 'stream 3 status 431' "$E2E_TMP/h2.out" && grep -qx 'stream 1 status 200' "$E2E_TMP/h2.out" ||
	fail "h2: want 431 on stream 3, 200 on stream 1: $(cat "$E2E_TMP/h2.out")"
check <<'PY'
import json, sys
spans = [s for l in map(json.loads, open(sys.argv[1])) if l["path"] == "/v1/traces"
         for rs in l["body"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
http = [s for s in spans if s["name"] == "GET"]
assert len(http) == 1, spans
a = {x["key"]: list(x["value"].values())[0] for x in http[0]["attributes"]}
assert a["url.full"].endswith("?first") and a["http.response.status_code"] == "200", a
assert [e["name"] for e in http[0]["events"]] == ["latency"], http[0]
print("h2: a 431 on stream 3 left stream 1's span be: it ended 200 with its latency event")
PY

# ---- the run stops while a metrics export is in flight (the collector
# holds it until told): the final metrics still leave once it answers,
# with the connection of the run counted.
: >"$GOT"
mkfifo "$E2E_TMP/release"
python3 "$HERE/collector.py" "$GOT" --hold /v1/metrics "$E2E_TMP/release" >"$E2E_TMP/holder.out" 2>&1 &
HOLDER=$!
track_pid $HOLDER
wait_for_line "$E2E_TMP/holder.out" '^listening [0-9]+$' $HOLDER
HP=$(awk '/^listening/ {print $2}' "$E2E_TMP/holder.out")
TP=$(free_port)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$HP OTEL_METRIC_EXPORT_INTERVAL=50 OTEL_TRACES_EXPORTER=none \
	OTEL_EXPORTER_OTLP_TIMEOUT=3000 \
	start_fault --with-otel --log-file "$E2E_TMP/hold.log" run --no-ui --disable-http-proxy \
	--proxy "127.0.0.1:$TP=127.0.0.1:$NGINX_PORT"
wait_for_line "$E2E_TMP/holder.out" '^holding /v1/metrics$' "$FAULT_PID"
curl -sS --fail --max-time 10 -o /dev/null "http://127.0.0.1:$TP/index.html" || fail "hold: curl failed"
kill -TERM "$FAULT_PID"
wait_for_line "$E2E_TMP/hold.log" 'signal 15, stopping' "$FAULT_PID"
echo go >"$E2E_TMP/release"
# Signal 0: it is stopping already (a second TERM would kill it); this
# only waits for its exit (<= 5 s).
stop_pid "$FAULT_PID" 0
[ "$STOP_STATUS" = 0 ] || fail "hold: status $STOP_STATUS: $(cat "$FAULT_ERR")"
check <<'PY'
import json, sys
conns = []
for l in map(json.loads, open(sys.argv[1])):
    for rm in l["body"]["resourceMetrics"]:
        for sm in rm["scopeMetrics"]:
            for m in sm["metrics"]:
                if m["name"] == "fault.connections":
                    conns.append(int(m["sum"]["dataPoints"][0]["asInt"]))
assert conns and conns[0] == 0 and conns[-1] == 1, "fault.connections exported: %s" % conns
print("hold: stopped during a metrics export: the final metrics followed (fault.connections %s)" % conns)
PY

# ---- OTEL_BSP_MAX_EXPORT_BATCH_SIZE=2: the collector holds the first
# batch while five more spans queue; once it answers, they leave two at
# a time (no request carries more than the batch), and all arrive.
: >"$GOT"
mkfifo "$E2E_TMP/release2"
python3 "$HERE/collector.py" "$GOT" --hold /v1/traces "$E2E_TMP/release2" >"$E2E_TMP/holder2.out" 2>&1 &
HOLDER=$!
track_pid $HOLDER
wait_for_line "$E2E_TMP/holder2.out" '^listening [0-9]+$' $HOLDER
HP=$(awk '/^listening/ {print $2}' "$E2E_TMP/holder2.out")
TP=$(free_port)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$HP OTEL_METRICS_EXPORTER=none OTEL_BSP_SCHEDULE_DELAY=600000 \
	OTEL_BSP_MAX_EXPORT_BATCH_SIZE=2 \
	start_fault --with-otel run --no-ui --disable-http-proxy --events "$E2E_TMP/batch.events" \
	--proxy "127.0.0.1:$TP=127.0.0.1:$NGINX_PORT"
for i in 1 2 3 4 5 6 7; do
	curl -sS --fail --max-time 10 -o /dev/null "http://127.0.0.1:$TP/index.html" || fail "batch: curl $i failed"
	[ $i = 2 ] && wait_for_line "$E2E_TMP/holder2.out" '^holding /v1/traces$' "$FAULT_PID"
done
wait_for_line "$E2E_TMP/batch.events" '"type":"conn_close".*"conn":7[,}]' "$FAULT_PID"
echo go >"$E2E_TMP/release2"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "batch: status $STOP_STATUS: $(cat "$FAULT_ERR")"
check <<'PY'
import json, sys
sizes = [sum(len(ss["spans"]) for rs in l["body"]["resourceSpans"] for ss in rs["scopeSpans"])
         for l in map(json.loads, open(sys.argv[1]))]
assert sum(sizes) == 7 and max(sizes) <= 2, "spans per request: %s" % sizes
print("batch: 7 spans in requests of %s (OTEL_BSP_MAX_EXPORT_BATCH_SIZE=2)" % sizes)
PY

# ---- HTTP/2: 300 streams cancelled by the client (RST_STREAM) before
# their response, on a connection that stays open: no event ends their
# exchanges, so at most 128 (the streams a connection may have open)
# stay open; the older ones are exported while the connection lives,
# as errors, and the last stream's own span is a 200.
: >"$GOT"
PP=$(free_port)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$CP OTEL_BSP_SCHEDULE_DELAY=100 OTEL_METRICS_EXPORTER=none \
	start_fault --with-otel run --no-ui --disable-http-proxy \
	--proxy "127.0.0.1:$PP=http://127.0.0.1:$NGINX_PORT" --with-latency --latency-mean 300 --latency-stddev 0 \
	--latency-side server
mkfifo "$E2E_TMP/hold-client"
python3 "$HERE/h2two.py" "$PP" "127.0.0.1:$PP" /index.html?kept /index.html?cancelled --reset 300 \
	<"$E2E_TMP/hold-client" >"$E2E_TMP/reset.out" 2>&1 &
CLIENT=$!
track_pid $CLIENT
exec 7>"$E2E_TMP/hold-client"
wait_for_line "$E2E_TMP/reset.out" '^waiting$' $CLIENT
grep -qx 'stream 601 status 200' "$E2E_TMP/reset.out" || fail "reset: $(cat "$E2E_TMP/reset.out")"
# Exported while the connection is open: only the cap can have ended them.
wait_for_line "$GOT" 'cancelled' "$FAULT_PID"
echo done >&7
exec 7>&-
stop_pid $CLIENT 0
stop_pid "$FAULT_PID"
check <<'PY'
import json, sys
spans = [s for l in map(json.loads, open(sys.argv[1])) if l["path"] == "/v1/traces"
         for rs in l["body"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
def url(s):
    return [a["value"]["stringValue"] for a in s["attributes"] if a["key"] == "url.full"]
gone = [s for s in spans if url(s) and url(s)[0].endswith("?cancelled")]
kept = [s for s in spans if url(s) and url(s)[0].endswith("?kept")]
assert len(gone) == 300 and all(s["status"]["code"] == 2 for s in gone), "%d cancelled spans" % len(gone)
assert len(kept) == 1 and {"key": "http.response.status_code", "value": {"intValue": "200"}} in kept[0]["attributes"], kept
print("reset: 300 cancelled streams, all ERROR spans, some exported while the connection was open; the last stream 200")
PY

# ---- 30 connections still open at stop, a queue of 10 spans: their
# spans are in memory already, so the stop flush sends them all (10 a
# batch) and says nothing of a full queue.
: >"$GOT"
TP=$(free_port)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$CP OTEL_BSP_MAX_QUEUE_SIZE=10 OTEL_METRICS_EXPORTER=none \
	start_fault --with-otel run --no-ui --disable-http-proxy --events "$E2E_TMP/open.events" \
	--proxy "127.0.0.1:$TP=127.0.0.1:$NGINX_PORT"
mkfifo "$E2E_TMP/hold-open"
python3 -c 'import socket, sys
conns = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(30)]
print("open", flush=True)
sys.stdin.readline()' "$TP" <"$E2E_TMP/hold-open" >"$E2E_TMP/open.out" 2>&1 &
CLIENT=$!
track_pid $CLIENT
exec 7>"$E2E_TMP/hold-open"
wait_for_line "$E2E_TMP/open.out" '^open$' $CLIENT
wait_for_line "$E2E_TMP/open.events" '"type":"conn_open".*"conn":30[,}]' "$FAULT_PID"
stop_pid "$FAULT_PID"
echo done >&7
exec 7>&-
stop_pid $CLIENT 0
[ "$STOP_STATUS" = 0 ] && [ ! -s "$FAULT_ERR" ] || fail "open: status $STOP_STATUS: $(cat "$FAULT_ERR")"
check <<'PY'
import json, sys
sizes = [sum(len(ss["spans"]) for rs in l["body"]["resourceSpans"] for ss in rs["scopeSpans"])
         for l in map(json.loads, open(sys.argv[1]))]
assert sum(sizes) == 30 and max(sizes) <= 10, "spans per request: %s" % sizes
print("open: 30 connections open at stop, queue of 10: all 30 spans sent, in %s" % sizes)
PY

# ---- `fault run dns` with an HTTP mapping: the dns-proxy numbers its
# queries from 1 as the core numbers connections. Query 1 (answered
# NXDOMAIN by the proxy) comes and goes while connection 1's exchange
# waits on a 600 ms latency: the exchange still ends with its own 200
# and its latency event, the query's span has its own fault event.
if command -v dig >/dev/null 2>&1; then
	: >"$GOT"
	HP=$(free_port)
	DP=$(free_port)
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$CP OTEL_METRICS_EXPORTER=none \
		start_fault --with-otel run dns --no-ui --disable-http-proxy --events "$E2E_TMP/dns.events" \
		--proxy "127.0.0.1:$HP=http://127.0.0.1:$NGINX_PORT" --resolver "127.0.0.1:$(free_port)" \
		--dns-listen "127.0.0.1:$DP" --case nx-domain --names q.test \
		--with-latency --latency-mean 600 --latency-stddev 0 --latency-side server
	curl -sS --fail --max-time 10 -o /dev/null "http://127.0.0.1:$HP/index.html" &
	CURL=$!
	wait_for_line "$E2E_TMP/dns.events" '"type":"http_request".*"conn":1[,}]' "$FAULT_PID"
	ans=$(dig @127.0.0.1 -p "$DP" +tries=1 +timeout=2 q.test A) || fail "dns: dig failed"
	want_status=$(printf '%s\n' "$ans" | grep -c 'status: NXDOMAIN')
	[ "$want_status" = 1 ] || fail "dns: want NXDOMAIN: $ans"
	wait "$CURL" || fail "dns: curl failed"
	stop_pid "$FAULT_PID"
	check <<'PY'
import json, sys
spans = [s for l in map(json.loads, open(sys.argv[1])) if l["path"] == "/v1/traces"
         for rs in l["body"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
def attrs(s):
    return {a["key"]: list(a["value"].values())[0] for a in s["attributes"]}
get = [s for s in spans if s["name"] == "GET"]
dns = [s for s in spans if attrs(s).get("fault.handler") == "dns-proxy"]
assert len(get) == 1 and "status" not in get[0] and attrs(get[0])["http.response.status_code"] == "200", get
assert [e["name"] for e in get[0]["events"]] == ["latency"], get[0]["events"]
assert len(dns) == 1 and attrs(dns[0])["fault.connection.id"] == "1", dns
assert [e["name"] for e in dns[0]["events"]] == ["dns-proxy"], dns[0]["events"]
print("dns: query 1 and connection 1 at once: the GET span 200 with its latency, the query span its nx-domain event")
PY
fi

# ---- a second Ctrl-C while the run drains (the export waits on a
# collector that never answers, for up to 30 s): fault exits at once,
# saying so, with status 130 (the signal handlers used to be closed at the
# first one, so the second killed fault without a word or a flush).
start_mute
TP=$(free_port)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$MUTE OTEL_EXPORTER_OTLP_TIMEOUT=30000 \
	start_fault --with-otel --log-file "$E2E_TMP/twice.log" run --no-ui --disable-http-proxy \
	--proxy "127.0.0.1:$TP=127.0.0.1:$NGINX_PORT"
curl -sS --fail --max-time 10 -o /dev/null "http://127.0.0.1:$TP/index.html" || fail "twice: curl failed"
kill -INT "$FAULT_PID"
wait_for_line "$E2E_TMP/twice.log" 'signal 2, stopping' "$FAULT_PID"
stop_pid "$FAULT_PID" INT
[ "$STOP_STATUS" = 130 ] || fail "twice: status $STOP_STATUS, want 130"
grep -q 'interrupted twice' "$FAULT_ERR" || fail "twice: no word of the second interrupt: $(cat "$FAULT_ERR")"
note "a second Ctrl-C while the export drains: exit 130 at once, with a message"
