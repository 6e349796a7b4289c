#!/usr/bin/env bash
# plugins/bandwidth/tests/shared.sh - per-connection versus shared buckets,
# with two concurrent downloads of 2.5 MiB at --bandwidth-rate 1 MBps
# (1048576 B/s) on real loopback traffic (curl -> fault -> nginx).
#
#  1. per connection (the default): each download gets the full rate:
#     each %{speed_download} within +-3% of 1048576 B/s (~2.5 s);
#  2. --bandwidth-shared: the two share one bucket: their aggregate
#     throughput, (bytes of both) / (longest of the two times), is within
#     +-3% of 1048576 B/s, and each gets half of it within +-10% (the
#     two curls start a few ms apart and one may finish a little before
#     the other, so each share is looser than the sum) (~5 s).
# Bodies are byte-identical in both cases. As in rate.sh, a measurement
# more than 3% too fast fails at once, and one more than 3% too slow (a
# busy machine can starve the sender, never speed it up) is retried, up
# to 3 times in all.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

start_nginx
make_file "$WWW/a.bin" $((2560 * 1024))
cp "$WWW/a.bin" "$WWW/b.bin"
RATE=1048576

within() {
	awk -v v="$1" -v t="$2" -v p="$3" 'BEGIN { d = (v - t) / t * 100; if (d < 0) d = -d; exit !(d <= p) }'
}

# two PORT TAG - both downloads at once; sets S1 S2 (speeds) T1 T2 (times).
two() {
	local port=$1 tag=$2 f
	for f in a b; do
		curl -sS --fail --max-time 30 -o "$E2E_TMP/$tag.$f" \
			-w '%{speed_download} %{time_total}\n' "http://127.0.0.1:$port/$f.bin" \
			>"$E2E_TMP/$tag.$f.w" 2>&1 &
		eval "pid_$f=\$!"
	done
	# shellcheck disable=SC2154
	wait "$pid_a" || fail "$tag: curl a.bin failed: $(cat "$E2E_TMP/$tag.a.w")"
	# shellcheck disable=SC2154
	wait "$pid_b" || fail "$tag: curl b.bin failed: $(cat "$E2E_TMP/$tag.b.w")"
	read -r S1 T1 <"$E2E_TMP/$tag.a.w"
	read -r S2 T2 <"$E2E_TMP/$tag.b.w"
	cmp -s "$E2E_TMP/$tag.a" "$WWW/a.bin" && cmp -s "$E2E_TMP/$tag.b" "$WWW/b.bin" ||
		fail "$tag: a body differs"
	note "$tag: a $S1 B/s in ${T1}s, b $S2 B/s in ${T2}s"
}

# ok_or_retry WHAT VALUE TARGET PCT - fails if VALUE is above TARGET + PCT%;
# returns 1 if it is below TARGET - PCT% (retry), 0 if within.
ok_or_retry() {
	awk -v v="$2" -v t="$3" -v p="$4" 'BEGIN { exit !(v <= t * (1 + p / 100)) }' ||
		fail "$1: $2 B/s is more than $4% above $3 B/s"
	within "$2" "$3" "$4" && return 0
	note "$1: $2 B/s is more than $4% below $3 B/s: retrying"
	return 1
}

# ---- 1. per connection
for try in 1 2 3 4; do
	[ $try = 4 ] && fail "per connection: three attempts too slow"
	P=$(free_port)
	start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail \
		--with-bandwidth --bandwidth-rate 1 --bandwidth-unit MBps
	two "$P" own
	grep -q ' bandwidth .*shared=no' "$FAULT_OUT" || fail "per connection: no bandwidth event with shared=no"
	stop_pid "$FAULT_PID"
	ok_or_retry "per connection: a" "$S1" $RATE 3 && ok_or_retry "per connection: b" "$S2" $RATE 3 &&
		break
done

# ---- 2. shared
for try in 1 2 3 4; do
	[ $try = 4 ] && fail "shared: three attempts too slow"
	P=$(free_port)
	start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail \
		--with-bandwidth --bandwidth-rate 1 --bandwidth-unit MBps --bandwidth-shared
	two "$P" shared
	n=$(grep -c ' bandwidth .*shared=yes' "$FAULT_OUT")
	[ "$n" = 2 ] || fail "shared: $n bandwidth events (want one per connection: 2)"
	stop_pid "$FAULT_PID"
	[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
	agg=$(awk -v t1="$T1" -v t2="$T2" -v n=$((2 * 2560 * 1024)) 'BEGIN { print n / (t1 > t2 ? t1 : t2) }')
	note "shared: aggregate $agg B/s"
	within "$S1" $((RATE / 2)) 10 || fail "shared: a at $S1 B/s, want $((RATE / 2)) +-10%"
	within "$S2" $((RATE / 2)) 10 || fail "shared: b at $S2 B/s, want $((RATE / 2)) +-10%"
	ok_or_retry "shared: aggregate" "$agg" $RATE 3 && break
done
note "ok"
