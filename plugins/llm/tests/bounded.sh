#!/usr/bin/env bash
# plugins/llm/tests/bounded.sh - streams are never held whole, and frames
# that need no change leave at once (issue 15, item 5), with every frame
# parsed (inject-bias with a pattern that never matches):
#
#  1. a 33 MB OpenAI stream (4,000 frames of 8 KiB) goes through whole
#     (the reader counts its frames and checks [DONE]) while fault's peak
#     resident memory (VmHWM) grows by less than 16 MiB over its resident
#     memory before: held whole, the stream alone would take 32 MB. (The
#     tolerance is slack for the allocator and the relay's buffers, as in
#     plugins/bandwidth/tests/backpressure.sh. Under ASan, freed memory is
#     quarantined: fault runs with a 1 MB quarantine here.)
#  2. per-frame delay: the double stamps each frame with the wall-clock time
#     it wrote it (frames 10 ms apart, so each is read alone); the reader,
#     on the same host, takes its arrival time. The 10th percentile of the
#     delays through fault is at most 5 ms above the one straight from the
#     double: a delay fault adds by design (a frame kept until the next
#     one, Nagle's 40 ms) would show in every frame, while a loaded machine
#     (the CI's two cores) delays some frames by a time slice or more, so
#     the median is printed but not judged; on an idle machine both are
#     well under a millisecond.
. "$top_srcdir/plugins/llm/tests/lib.sh" || exit 99
start_double
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1 \
	start_llm --llm-case inject-bias --bias-pattern 'Berlin|Rome' --bias-replacement London
case $(readlink "/proc/$FAULT_PID/exe") in
*/fault | */lt-fault) ;;
*) fail "PID $FAULT_PID is not the fault binary ($(readlink "/proc/$FAULT_PID/exe")): cannot read its memory" ;;
esac
kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# A first stream, so that what every stream needs is allocated before the
# measure.
curl -sS --max-time 10 -o /dev/null -d '{"stream":true}' "$BASE/v1/chat/completions" || fail "warm-up"
rss0=$(kib "$FAULT_PID" VmRSS)
# 15 tokens x 267 repeats + role, finish and [DONE]: 4,008 frames.
out=$(curl -sS --max-time 60 -H 'X-Double-Pad: 8192' -H 'X-Double-Repeat: 267' \
	-d '{"stream":true}' "$BASE/v1/chat/completions" | python3 -c '
import sys
n = size = 0
last = b""
for line in sys.stdin.buffer:
    size += len(line)
    if line.startswith(b"data: "):
        n += 1
        last = line
print(n, size, last.strip() == b"data: [DONE]")') || fail "long stream"
read -r frames bytes done <<<"$out"
[ "$frames" = 4008 ] && [ "$done" = True ] || fail "long stream: $frames frames (want 4008), [DONE] $done"
[ "$bytes" -gt 32000000 ] || fail "long stream: $bytes bytes, want > 32 MB"
hwm=$(kib "$FAULT_PID" VmHWM)
grow=$((hwm - rss0))
[ "$grow" -lt $((16 * 1024)) ] || fail "fault's peak RSS grew by $grow KiB over a $bytes-byte stream (from $rss0 KiB)"
note "a $bytes-byte stream, every frame parsed: fault's peak RSS +$grow KiB (bound 16 MiB)"

# ---- 2. per-frame delay
delays() { # BASE - 10th percentile and median delay (ms) of 3 x 17 stamped frames, count
	python3 - "$1" <<'PY'
import http.client, json, statistics, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
ds = []
for _ in range(3):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("POST", "/v1/chat/completions", body=b'{"stream":true}',
              headers={"X-Double-Stamp": "1", "X-Double-Gap-Ms": "10"})
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
            data = ev[6:]
            if data != b"[DONE]":
                ds.append((now - json.loads(data)["x_sent"]) * 1000)
    c.close()
ds.sort()
print("%.3f %.3f %d" % (ds[len(ds) // 10], statistics.median(ds), len(ds)))
PY
}
read -r d10 direct n1 <<<"$(delays "$DOUBLE")"
read -r p10 proxied n2 <<<"$(delays "$BASE")"
[ "$n1" = 51 ] && [ "$n2" = 51 ] || fail "stamped frames: $n1 direct, $n2 through fault (want 51)"
awk -v a="$d10" -v b="$p10" 'BEGIN { exit !(b - a <= 5) }' ||
	fail "frame delay (10th percentile) $p10 ms through fault, $d10 ms direct: more than 5 ms added"
note "frame delay: 10th percentile $d10 ms direct, $p10 ms through fault; median $direct ms, $proxied ms (every frame parsed)"
