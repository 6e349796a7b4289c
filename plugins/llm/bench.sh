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
#   - per streamed frame: the median and p99 time from the double writing
#     a frame to the client reading it, over 5 streams of 197 frames 5 ms
#     apart (so each is read alone): the double stamps each frame with the
#     wall-clock time it wrote it (X-Double-Stamp), and both run on this
#     host, so the clocks are one;
#   - throughput: a long OpenAI stream (15 x 2000 frames, about 4.7 MB)
#     read as fast as it comes, in MB/s.
. "$top_srcdir/plugins/llm/tests/lib.sh" || exit 99
start_double

measure() { # BASE LABEL
	python3 - "$1" "$2" <<'PY'
import http.client, json, statistics, sys, time, urllib.parse
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
fd = []
for i in range(5):
    c.request("POST", "/v1/chat/completions", body=b'{"model":"m","stream":true}',
              headers={"X-Double-Gap-Ms": "5", "X-Double-Repeat": "13", "X-Double-Stamp": "1"})
    r = c.getresponse()
    buf = b""
    while True:
        b = r.read1(65536)
        if not b:
            break
        now = time.time()
        buf += b
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            if ev[6:] != b"[DONE]":
                fd.append((now - json.loads(ev[6:])["x_sent"]) * 1000)
fd.sort()
t = time.perf_counter()
n = len(call(b'{"model":"m","stream":true}', {"X-Double-Repeat": "2000"}))
dt = time.perf_counter() - t
print("%-28s request median %.3f ms p99 %.3f ms | frame median %.3f ms p99 %.3f ms (%d) | long stream %.1f MB in %.2f s = %.1f MB/s"
      % (label, statistics.median(lat), lat[int(len(lat) * 0.99)], statistics.median(fd),
         fd[int(len(fd) * 0.99)], len(fd), n / 1e6, dt, n / 1e6 / dt))
PY
}

measure "$DOUBLE" "direct"
start_llm --llm-case inject-bias --bias-pattern Berlin --bias-replacement London --llm-probability 0
measure "$BASE" "fault, no case active"
stop_pid "$FAULT_PID"
start_llm --llm-case inject-bias --bias-pattern Berlin --bias-replacement London
measure "$BASE" "fault, every frame parsed"
stop_pid "$FAULT_PID"
