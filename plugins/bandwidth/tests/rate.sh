#!/usr/bin/env bash
# plugins/bandwidth/tests/rate.sh - the bandwidth fault's rate, per
# connection, on real downloads: curl -> fault -> nginx on loopback.
#
# Units are binary (1 KBps = 1024 B/s). Each transfer is measured with
# curl's %{speed_download} (body bytes / total time) and must be within
# +-3% of the configured rate:
#   10 KBps  (10240 B/s)      100 KiB body, ~10 s
#   1 MBps   (1048576 B/s)    5 MiB body,   ~5 s
#   100 MBps (104857600 B/s)  300 MiB body (sparse file), ~3 s
# The bucket starts empty, so there is no initial burst; HTTP headers count
# against the rate but not in the body (0.25% at most here), and connection
# setup is a millisecond. Too fast is always a failure: nothing on a busy
# machine makes a transfer faster. Too slow can be the machine's doing
# rather than the shaper's: when nginx, fault or curl do not get a CPU for
# longer than the bucket covers (50 ms), the link idles as a real one
# would behind a stalled sender. So a slow measurement is retried, up to 3
# times in all, and fails only if all are slow: a shaper that is slow by
# design fails every time. The 100 MBps case also needs the machine to
# relay well above 100 MB/s through a fault stage: that is measured first,
# in the same test, with a bandwidth stage that never waits (100 GBps), and
# the case is skipped (with a note) below 500 MB/s: pacing costs more CPU
# than a pass-through stage, and sanitizer builds relay at 200 MB/s or so.
# It also checks: the body is byte-identical; --tail prints one bandwidth
# event per throttled connection (not one per chunk) with the rate in B/s;
# unit names are accepted in any case; bad rates and units exit with 2.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

start_nginx
make_file "$WWW/100k.bin" $((100 * 1024))
make_file "$WWW/5m.bin" $((5 * 1024 * 1024))
truncate -s $((300 * 1024 * 1024)) "$WWW/300m.bin" || fail "truncate"

# within VALUE TARGET PCT: VALUE is within TARGET +- PCT%.
within() {
	awk -v v="$1" -v t="$2" -v p="$3" 'BEGIN { d = (v - t) / t * 100; if (d < 0) d = -d; exit !(d <= p) }'
}

# fetch PORT FILE OUT - prints "speed_download size_download".
fetch() {
	curl -sS --fail --max-time 40 -o "$3" -w '%{speed_download} %{size_download}\n' \
		"http://127.0.0.1:$1/$2" || fail "curl $2 through port $1 failed"
}

# ---- invalid input: one line naming the flag, exit 2
for bad in "--bandwidth-rate 0" "--bandwidth-rate -5" "--bandwidth-rate 2000 --bandwidth-unit GBps" \
	"--bandwidth-unit bits"; do
	# shellcheck disable=SC2086
	"$FAULT" run --proxy "127.0.0.1:$(free_port)=127.0.0.1:$NGINX_PORT" --with-bandwidth $bad \
		>"$E2E_TMP/bad.out" 2>"$E2E_TMP/bad.err"
	rc=$?
	[ $rc = 2 ] || fail "'$bad': exit $rc, want 2"
	grep -q -- '--bandwidth-' "$E2E_TMP/bad.err" || fail "'$bad': message does not name the flag: $(cat "$E2E_TMP/bad.err")"
done
note "bad rates and units refused: $(head -1 "$E2E_TMP/bad.err")"

# ---- baseline: how fast does this machine relay through a fault stage?
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --no-ui \
	--with-bandwidth --bandwidth-rate 100 --bandwidth-unit GBps
read -r plain _ <<<"$(fetch "$P" 300m.bin /dev/null)"
stop_pid "$FAULT_PID"
note "relay through a stage that never waits: $plain B/s"

# ---- one rate at a time
# check RATE UNIT BYTES_PER_S FILE
check() {
	local rate=$1 unit=$2 bps=$3 file=$4 speed size try
	for try in 1 2 3; do
		P=$(free_port)
		start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail \
			--with-bandwidth --bandwidth-rate "$rate" --bandwidth-unit "$unit"
		read -r speed size <<<"$(fetch "$P" "$file" "$E2E_TMP/out.bin")"
		note "$rate $unit: $speed B/s for $size bytes (target $bps B/s)"
		if [ "$file" = 300m.bin ]; then
			[ "$size" = $((300 * 1024 * 1024)) ] || fail "$file: got $size bytes"
		else
			cmp -s "$E2E_TMP/out.bin" "$WWW/$file" || fail "$rate $unit: body differs"
		fi
		wait_for_line "$FAULT_OUT" "#1 bandwidth side=server direction=ingress rate_Bps=$bps " "$FAULT_PID"
		n=$(grep -c ' bandwidth ' "$FAULT_OUT")
		[ "$n" = 1 ] || fail "$rate $unit: $n bandwidth events for one connection (want 1)"
		stop_pid "$FAULT_PID"
		[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
		awk -v v="$speed" -v t="$bps" 'BEGIN { exit !(v <= t * 1.03) }' ||
			fail "$rate $unit: $speed B/s is more than 3% above $bps B/s"
		within "$speed" "$bps" 3 && return 0
		note "$rate $unit: more than 3% below the rate (attempt $try of 3)"
	done
	fail "$rate $unit: three transfers more than 3% below $bps B/s"
}

check 10 KBps 10240 100k.bin
check 1 mbps 1048576 5m.bin
if awk -v p="$plain" 'BEGIN { exit !(p >= 500000000) }'; then
	check 100 MBPS 104857600 300m.bin
else
	note "relaying at $plain B/s, too slow to measure 100 MBps: skipped"
fi
note "ok"
