#!/usr/bin/env bash
# tests/e2e/run_latency.sh - the latency fault on a real HTTP exchange:
# curl -> fault --proxy -> nginx.
#
#  1. a plain mapping returns byte-identical bodies (small and 256 KiB);
#  2. --with-latency --latency-mean 200 --latency-stddev 0 adds 200 ms to
#     the response: (time through the proxy) - (fastest direct time) must
#     be >= 195 ms and < 400 ms. The delay itself never ends early (timers
#     round up), so the 5 ms below 200 only absorbs measurement noise of
#     the direct baseline; the 200 ms above is slack for a loaded machine.
#     The body is still identical;
#  3. on one keep-alive connection with two requests, the default
#     (once per connection) delays only the first response (the second
#     takes < 100 ms), while --latency-per-read-write delays both (each
#     >= 195 ms);
#  4. --tail prints a latency line with delay_ms=200.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

start_nginx
printf 'hello from nginx\n' >"$WWW/index.html"
make_file "$WWW/body.bin" $((256 * 1024))
DIRECT=http://127.0.0.1:$NGINX_PORT

# curl_times OUTPREFIX URL... - one curl, one connection if possible; prints
# "time_total num_connects" per URL; bodies go to OUTPREFIX.1, .2, ...
curl_times() {
	local prefix=$1 i=0 args=()
	shift
	for u in "$@"; do
		i=$((i + 1))
		args+=(-o "$prefix.$i" "$u")
	done
	curl -sS --fail --max-time 10 -w '%{time_total} %{num_connects}\n' "${args[@]}" ||
		fail "curl $* failed"
}

# Fastest of a few direct fetches: the baseline the proxy adds to.
curl -sS --fail -o /dev/null "$DIRECT/index.html" || fail "nginx does not serve index.html"
base=
for _ in 1 2 3 4 5; do
	t=$(curl_times "$E2E_TMP/direct" "$DIRECT/index.html" | awk '{print $1}')
	if [ -z "$base" ] || awk -v a="$t" -v b="$base" 'BEGIN { exit !(a < b) }'; then
		base=$t
	fi
done
note "direct baseline ${base}s"
curl -sS --fail -o "$E2E_TMP/direct.body" "$DIRECT/body.bin" || fail "direct body.bin"

# ---- 1. plain mapping: identical bodies
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --no-ui
curl -sS --fail -o "$E2E_TMP/plain.idx" "http://127.0.0.1:$P/index.html" || fail "curl through plain proxy"
cmp -s "$E2E_TMP/plain.idx" "$WWW/index.html" || fail "plain proxy: index.html differs"
curl -sS --fail -o "$E2E_TMP/plain.body" "http://127.0.0.1:$P/body.bin" || fail "curl body.bin through plain proxy"
cmp -s "$E2E_TMP/plain.body" "$E2E_TMP/direct.body" || fail "plain proxy: body.bin differs from direct"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "plain mapping: bodies identical"

# ---- 2 and 4. 200 ms once per connection, with --tail
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail \
	--with-latency --latency-mean 200 --latency-stddev 0 --seed 1
read -r t1 _ <<<"$(curl_times "$E2E_TMP/lat" "http://127.0.0.1:$P/index.html")"
cmp -s "$E2E_TMP/lat.1" "$WWW/index.html" || fail "latency: index.html differs"
d=$(ms_diff "$base" "$t1")
note "through the proxy ${t1}s: +${d} ms"
[ "$d" -ge 195 ] || fail "latency 200 ms: response only ${d} ms slower than direct (want >= 195)"
[ "$d" -lt 400 ] || fail "latency 200 ms: response ${d} ms slower than direct (want < 400)"
curl -sS --fail --max-time 10 -o "$E2E_TMP/lat.body" "http://127.0.0.1:$P/body.bin" ||
	fail "curl body.bin with latency"
cmp -s "$E2E_TMP/lat.body" "$E2E_TMP/direct.body" || fail "latency: body.bin differs from direct"
wait_for_line "$FAULT_OUT" ' #1 latency side=server direction=ingress delay_ms=200( |$)' "$FAULT_PID"
grep -q 'distribution=normal' "$FAULT_OUT" || fail "--tail latency line does not name the distribution"
note "tail: $(grep -m1 ' latency ' "$FAULT_OUT")"

# ---- 3a. once per connection: two requests on one keep-alive connection
out=$(curl_times "$E2E_TMP/ka" "http://127.0.0.1:$P/index.html" "http://127.0.0.1:$P/index.html")
read -r ka1 kn1 ka2 kn2 <<<"$(echo $out)"
[ "$kn1" = 1 ] && [ "$kn2" = 0 ] || fail "curl did not reuse the connection (num_connects $kn1 $kn2)"
cmp -s "$E2E_TMP/ka.2" "$WWW/index.html" || fail "keep-alive: second body differs"
d1=$(ms_diff "$base" "$ka1")
d2=$(ms_diff 0 "$ka2")
note "once per connection: first +${d1} ms, second ${d2} ms"
[ "$d1" -ge 195 ] || fail "once per connection: first response not delayed (+${d1} ms)"
[ "$d2" -lt 100 ] || fail "once per connection: second response took ${d2} ms (want < 100)"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"

# ---- 3b. per read/write: both responses delayed
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail \
	--with-latency --latency-mean 200 --latency-stddev 0 --latency-per-read-write
out=$(curl_times "$E2E_TMP/rw" "http://127.0.0.1:$P/index.html" "http://127.0.0.1:$P/index.html")
read -r rw1 rn1 rw2 rn2 <<<"$(echo $out)"
[ "$rn1" = 1 ] && [ "$rn2" = 0 ] || fail "curl did not reuse the connection (num_connects $rn1 $rn2)"
cmp -s "$E2E_TMP/rw.1" "$WWW/index.html" && cmp -s "$E2E_TMP/rw.2" "$WWW/index.html" ||
	fail "per read/write: bodies differ"
d1=$(ms_diff "$base" "$rw1")
d2=$(ms_diff 0 "$rw2")
note "per read/write: first +${d1} ms, second ${d2} ms"
[ "$d1" -ge 195 ] && [ "$d1" -lt 400 ] || fail "per read/write: first response +${d1} ms (want 195..399)"
[ "$d2" -ge 195 ] && [ "$d2" -lt 400 ] || fail "per read/write: second response ${d2} ms (want 195..399)"
n=$(grep -c ' #1 latency .*delay_ms=200' "$FAULT_OUT")
[ "$n" -ge 2 ] || fail "per read/write: $n latency lines for #1 in --tail (want >= 2)"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "ok"
