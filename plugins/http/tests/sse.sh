#!/usr/bin/env bash
# plugins/http/tests/sse.sh - server-sent events stream through the forward
# proxy as they are emitted, not when the response ends.
#
# The upstream (upstream.py /sse) sends 20 events 100 ms apart in a
# chunked response, each carrying time.monotonic() at the moment it was
# written (CLOCK_MONOTONIC is shared by every process of the machine). A
# client reads the stream through fault and stamps each event on arrival.
# Every event must arrive within 50 ms of being sent (typically well under
# 5 ms on loopback; the margin absorbs scheduling on a loaded machine),
# and the last must arrive more than 1.5 s after the first (so nothing was
# held back and released in a burst).
#
# The same runs a second time with a latency fault (server side, ingress,
# 200 ms once per connection): the first event then arrives 200 ms late
# (tolerance -5/+60 ms) and the later ones are not delayed further than
# that (the delay does not pile up).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_upstream

# client PROXYPORT - prints "max_ms first_ms span_ms count".
client() {
	python3 - "$1" "$UP_PORT" <<'PY'
import socket, sys, time
pp, up = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", pp), timeout=10)
s.sendall(b"GET http://127.0.0.1:%d/sse?n=20 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
          b"Accept: text/event-stream\r\n\r\n" % (up, up))
buf = b""
delays, arrivals = [], []
while len(delays) < 20:
    d = s.recv(65536)
    if not d:
        break
    now = time.monotonic()
    buf += d
    while b"data: " in buf:
        i = buf.index(b"data: ")
        j = buf.find(b"\n", i)
        if j < 0:
            break
        sent = float(buf[i + 6:j])
        delays.append((now - sent) * 1000)
        arrivals.append(now)
        buf = buf[j + 1:]
if len(delays) != 20:
    sys.exit("got %d events" % len(delays))
print("%d %d %d %d" % (max(delays), delays[0], (arrivals[-1] - arrivals[0]) * 1000, len(delays)))
PY
}

start_proxy
read -r max first span n <<<"$(client "$PP")" || fail "SSE client failed"
note "plain: $n events, worst delay $max ms, first $first ms, spread over $span ms"
[ "$max" -lt 50 ] || fail "an event took $max ms to arrive (want < 50 ms)"
[ "$span" -gt 1500 ] || fail "events arrived within $span ms: held back and released together"
stop_pid "$FAULT_PID"

start_proxy --with-latency --latency-mean 200 --latency-stddev 0 --latency-side server \
	--latency-direction ingress
read -r max first span n <<<"$(client "$PP")" || fail "SSE client failed (latency)"
note "latency 200 ms: $n events, worst delay $max ms, first $first ms, spread over $span ms"
[ "$first" -ge 195 ] && [ "$first" -lt 260 ] || fail "first event after $first ms, want 200 (-5/+60)"
[ "$max" -lt 260 ] || fail "an event took $max ms with a one-time 200 ms latency"
stop_pid "$FAULT_PID"
