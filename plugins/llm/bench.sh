#!/usr/bin/env bash
# plugins/llm/bench.sh - what the llm plugin costs, against the provider
# double (plugins/llm/tests/double.py) directly. Not part of `make check`;
# run from the build tree:
#
#   top_builddir=$PWD top_srcdir=$PWD bash plugins/llm/bench.sh
#
# Prints, for the double directly, through fault with the plugin loaded
# but no case active (--llm-probability 0: bodies are not watched), and
# through fault with every frame parsed (inject-bias with a pattern that
# never matches):
#   - per request: the median and p99 time of 300 non-streamed OpenAI chat
#     calls on one keep-alive connection;
#   - per streamed frame: the median time from the double writing a frame
#     (X-Double-Gap-Ms spaces them, so each is read alone) to the client
#     reading it is not observable across processes without a shared
#     clock, so the time of a 200-frame stream with 5 ms gaps is compared
#     instead (the added time divided by the frames);
#   - throughput: a long OpenAI stream (15 x 2000 frames, about 4.7 MB)
#     read as fast as it comes, in MB/s.
. "$top_srcdir/plugins/llm/tests/lib.sh" || exit 99
start_double

measure() { # BASE LABEL
	python3 - "$1" "$2" <<'PY'
import http.client, statistics, sys, time, urllib.parse
base, label = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(base)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
def call(body, headers={}):
    c.request("POST", "/v1/chat/completions", body=body, headers=headers)
    r = c.getresponse()
    return r.read()
lat = []
for i in range(300):
    t = time.perf_counter()
    call(b'{"model":"m"}')
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
t = time.perf_counter()
call(b'{"model":"m","stream":true}', {"X-Double-Gap-Ms": "5", "X-Double-Repeat": "13"})
stream_ms = (time.perf_counter() - t) * 1000
t = time.perf_counter()
n = len(call(b'{"model":"m","stream":true}', {"X-Double-Repeat": "2000"}))
dt = time.perf_counter() - t
print("%-34s request median %.3f ms p99 %.3f ms | 197-frame stream %.0f ms | long stream %.1f MB in %.2f s = %.1f MB/s"
      % (label, statistics.median(lat), lat[int(len(lat) * 0.99)], stream_ms, n / 1e6, dt, n / 1e6 / dt))
PY
}

measure "$DOUBLE" "direct"
start_llm --llm-case inject-bias --bias-pattern Berlin --bias-replacement London --llm-probability 0
measure "$BASE" "fault, no case active"
stop_pid "$FAULT_PID"
start_llm --llm-case inject-bias --bias-pattern Berlin --bias-replacement London
measure "$BASE" "fault, every frame parsed"
stop_pid "$FAULT_PID"
