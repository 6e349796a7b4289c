#!/usr/bin/env bash
# plugins/http/tests/bigfile.sh - a 300 MiB download and a 64 MiB upload
# through the forward proxy run in bounded memory: bodies stream, they are
# never held whole.
#
# fault's VmRSS is sampled every 20 ms during each transfer; its peak must
# stay below 40 MiB (the process itself, with every plugin loaded, starts
# around 5-10 MiB; per direction at most ~256 KiB of body is in flight, plus
# one 64 KiB read buffer). The download must have its full length, and the
# upload's SHA-256 must match at the upstream. A 64 MiB download is also
# run with a latency fault (server ingress, 20 ms per read and write) so
# that bytes wait inside a chain: memory must stay bounded then too
# (backpressure, not buffering; the rate is then about 256 KiB per 20 ms).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

LIMIT_KB=$((40 * 1024))
if asan_build; then
	# Freed memory waits in ASan's quarantine (up to 256 MiB): only a
	# runaway would show.
	LIMIT_KB=$((1024 * 1024))
	note "built with AddressSanitizer: RSS limit raised to $LIMIT_KB kB"
fi
start_nginx
truncate -s $((300 * 1024 * 1024)) "$WWW/300m.bin" || fail "truncate"
truncate -s $((64 * 1024 * 1024)) "$WWW/64m.bin" || fail "truncate"
start_upstream

# peak_rss PID FLAGFILE - samples VmRSS (kB) until FLAGFILE exists;
# writes FLAGFILE.ready after the first sample (sampler_ready waits for it,
# so a fast transfer on a loaded machine is not over before sampling began).
peak_rss() {
	python3 - "$1" "$2" <<'PY'
import os, sys, time
pid, flag = sys.argv[1], sys.argv[2]
peak = 0
first = True
while not os.path.exists(flag):
    try:
        for line in open("/proc/%s/status" % pid):
            if line.startswith("VmRSS:"):
                peak = max(peak, int(line.split()[1]))
    except OSError:
        break
    if first:
        with open(flag + ".ready", "w") as f:
            f.write("ready\n")
        first = False
    time.sleep(0.02)
print(peak)
PY
}
sampler_ready() {
	wait_for_line "$1.ready" ready "$FAULT_PID" 10 || fail "the RSS sampler did not start"
}

# download FILE ARGS... - downloads FILE through a proxy started with ARGS;
# prints "size peak_kb seconds".
download() {
	local file=$1
	shift
	start_proxy "$@"
	local flag=$E2E_TMP/done.$RANDOM
	peak_rss "$FAULT_PID" "$flag" >"$flag.rss" &
	local sampler=$!
	sampler_ready "$flag"
	local out
	out=$(curl -sS --fail --max-time 80 --noproxy '' -x "$PROXY" -o /dev/null \
		-w '%{size_download} %{time_total}' "http://127.0.0.1:$NGINX_PORT/$file") ||
		{ touch "$flag"; wait "$sampler"; fail "download failed ($*)"; }
	touch "$flag"
	wait "$sampler"
	read -r size secs <<<"$out"
	echo "$size $(cat "$flag.rss") $secs"
	stop_pid "$FAULT_PID"
}

read -r size peak secs <<<"$(download 300m.bin)"
note "300 MiB download: $size bytes in $secs s, peak RSS $peak kB"
[ "$size" = $((300 * 1024 * 1024)) ] || fail "download: $size bytes"
[ "$peak" -gt 0 ] && [ "$peak" -lt "$LIMIT_KB" ] || fail "peak RSS $peak kB (limit $LIMIT_KB kB)"

read -r size peak secs <<<"$(download 64m.bin --with-latency --latency-mean 20 --latency-stddev 0 \
	--latency-per-read-write --latency-side server --latency-direction ingress)"
note "64 MiB download with per-read latency: $size bytes in $secs s, peak RSS $peak kB"
[ "$size" = $((64 * 1024 * 1024)) ] || fail "download with latency: $size bytes"
[ "$peak" -gt 0 ] && [ "$peak" -lt "$LIMIT_KB" ] || fail "peak RSS $peak kB with latency (limit $LIMIT_KB kB)"

# ---- upload
make_file "$E2E_TMP/up.bin" $((64 * 1024 * 1024))
start_proxy
flag=$E2E_TMP/updone
peak_rss "$FAULT_PID" "$flag" >"$flag.rss" &
sampler=$!
sampler_ready "$flag"
got=$(curl -sS --fail --max-time 80 --noproxy '' -x "$PROXY" --data-binary "@$E2E_TMP/up.bin" \
	"http://127.0.0.1:$UP_PORT/echo") || { touch "$flag"; wait "$sampler"; fail "upload failed"; }
touch "$flag"
wait "$sampler"
peak=$(cat "$flag.rss")
want="len=$((64 * 1024 * 1024)) sha256=$(sha256_of "$E2E_TMP/up.bin")"
case $got in "$want "*) ;; *) fail "upload: upstream saw '$got', want '$want'" ;; esac
note "64 MiB upload: intact, peak RSS $peak kB"
[ "$peak" -gt 0 ] && [ "$peak" -lt "$LIMIT_KB" ] || fail "upload: peak RSS $peak kB (limit $LIMIT_KB kB)"
stop_pid "$FAULT_PID"
