#!/usr/bin/env bash
# plugins/packet-loss/tests/stalls.sh - packet loss as TCP feels it: stalls,
# never missing bytes. A 20 MiB download, curl -> fault -> nginx on
# loopback, with the default Gilbert-Elliott preset (p 0.01, r 0.3,
# loss-good 0.001, loss-bad 0.3, MSS 1460), --seed 42, and short
# retransmission times (--packet-loss-rtt 5 --packet-loss-rto 10) so that
# the ~150 stalls fit in a few seconds (the count does not depend on them).
#
# Checks:
#  - the body is byte-identical (sha256) to a direct download;
#  - the number of stall events in --tail (one per lost segment) is within
#    +-15% of the model's expectation, computed here from the flags:
#    stationary loss rate (r * loss_good + p * loss_bad) / (p + r) times
#    the number of segments, ceil(bytes relayed / MSS). Losses come in
#    bursts, so the count varies more than a binomial one: its relative
#    standard deviation is about 12% for this preset and size (simulated),
#    and 15% is 1.2 of them. The seed is fixed and the count depends only
#    on it and the byte count (not on timing), so the test is
#    reproducible; to catch a bias the single download could miss, four
#    more concurrent 20 MiB downloads follow in the same run, and the
#    total of the four (relative standard deviation ~6%) must be within
#    +-10% of four times the expectation;
#  - every stall is at least one RTT (5 ms), and the download took at least
#    the sum of the stalls (they hold the whole stream, one after the
#    other) minus 5%;
#  - with --packet-loss-loss-good 0 --packet-loss-p 0 (no loss possible)
#    nothing stalls;
#  - with every packet lost (--packet-loss-loss-good 1 --packet-loss-p 0)
#    TCP gives up: --packet-loss-rtt 0.05 --packet-loss-rto 0 make the RTO
#    0.05 ms, so the backoff of 15 retransmissions lasts
#    0.05 * 2^15 = 1638.4 ms, after which the client's connection is reset
#    (curl exit 56) having received nothing, not before 1.6 s; the event
#    says reset=yes.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

start_nginx
make_file "$WWW/20m.bin" $((20 * 1024 * 1024))
want=$(sha256_of "$WWW/20m.bin")
curl -sS --fail -o "$E2E_TMP/direct.bin" "http://127.0.0.1:$NGINX_PORT/20m.bin" || fail "direct download"
[ "$(sha256_of "$E2E_TMP/direct.bin")" = "$want" ] || fail "direct download differs from the file"

PL_P=0.01 PL_R=0.3 PL_LG=0.001 PL_LB=0.3 MSS=1460
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --seed 42 \
	--with-packet-loss --packet-loss-p $PL_P --packet-loss-r $PL_R \
	--packet-loss-loss-good $PL_LG --packet-loss-loss-bad $PL_LB --packet-loss-mss $MSS \
	--packet-loss-rtt 5 --packet-loss-rto 10
t=$(curl -sS --fail --max-time 50 -o "$E2E_TMP/lossy.bin" -w '%{time_total}' \
	"http://127.0.0.1:$P/20m.bin") || fail "download through packet loss failed"
[ "$(sha256_of "$E2E_TMP/lossy.bin")" = "$want" ] || fail "download through packet loss differs"
wait_for_line "$FAULT_OUT" ' #1 close ' "$FAULT_PID"
bytes=$(sed -n 's/.* #1 close .*received=\([0-9]*\).*/\1/p' "$FAULT_OUT")
stalls=$(grep -c ' #1 packet-loss side=server direction=ingress segment=' "$FAULT_OUT")
expected=$(awk -v p=$PL_P -v r=$PL_R -v lg=$PL_LG -v lb=$PL_LB -v n="$bytes" -v m=$MSS \
	'BEGIN { segs = int((n + m - 1) / m); printf "%.1f", (r * lg + p * lb) / (p + r) * segs }')
sum=$(sed -n 's/.* #1 packet-loss .*stall_ms=\([0-9.e+-]*\) .*/\1/p' "$FAULT_OUT" |
	awk '{ s += $1; if ($1 < 5) short++ } END { printf "%.1f %d", s, short }')
read -r sum_ms short <<<"$sum"
note "20 MiB in ${t}s: $stalls stalls for $bytes bytes (expected $expected), stalls sum ${sum_ms} ms"
awk -v n="$stalls" -v e="$expected" 'BEGIN { exit !(n >= e * 0.85 && n <= e * 1.15) }' ||
	fail "$stalls stalls, not within 15% of the model's $expected"
[ "$short" = 0 ] || fail "$short stalls shorter than the 5 ms RTT"
awk -v t="$t" -v s="$sum_ms" 'BEGIN { exit !(t * 1000 >= s * 0.95) }' ||
	fail "the download (${t}s) was shorter than its stalls (${sum_ms} ms)"

# Four more at once: their total.
for k in 1 2 3 4; do
	curl -sS --fail --max-time 50 -o "$E2E_TMP/c$k.bin" "http://127.0.0.1:$P/20m.bin" \
		>"$E2E_TMP/c$k.err" 2>&1 &
	eval "cpid$k=\$!"
done
for k in 1 2 3 4; do
	eval "wait \$cpid$k" || fail "concurrent download $k failed: $(cat "$E2E_TMP/c$k.err")"
	[ "$(sha256_of "$E2E_TMP/c$k.bin")" = "$want" ] || fail "concurrent download $k differs"
done
for id in 2 3 4 5; do
	wait_for_line "$FAULT_OUT" " #$id close " "$FAULT_PID"
done
total=$(grep -c ' #[2-5] packet-loss side=server direction=ingress segment=' "$FAULT_OUT")
note "four concurrent downloads: $total stalls in all (expected 4 * $expected)"
awk -v n="$total" -v e="$expected" 'BEGIN { exit !(n >= 4 * e * 0.9 && n <= 4 * e * 1.1) }' ||
	fail "$total stalls for four downloads, not within 10% of 4 * $expected"
grep -q ' packet-loss .*reset=yes' "$FAULT_OUT" && fail "a segment was given up on"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"

# ---- no loss possible: no stall
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --seed 42 \
	--with-packet-loss --packet-loss-p 0 --packet-loss-loss-good 0
curl -sS --fail --max-time 20 -o "$E2E_TMP/clean.bin" "http://127.0.0.1:$P/20m.bin" ||
	fail "download without loss failed"
[ "$(sha256_of "$E2E_TMP/clean.bin")" = "$want" ] || fail "download without loss differs"
wait_for_line "$FAULT_OUT" ' #1 close ' "$FAULT_PID"
grep -q ' packet-loss ' "$FAULT_OUT" && fail "stalls with a loss probability of 0"
stop_pid "$FAULT_PID"

# ---- everything lost: TCP gives up after its backoff
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --seed 42 \
	--with-packet-loss --packet-loss-p 0 --packet-loss-loss-good 1 \
	--packet-loss-rtt 0.05 --packet-loss-rto 0
out=$(curl -sS --max-time 10 -o /dev/null -w '%{time_total} %{size_download}' \
	"http://127.0.0.1:$P/20m.bin" 2>/dev/null)
rc=$?
read -r t size <<<"$out"
note "all lost: curl exit $rc after ${t}s, $size bytes"
[ $rc = 56 ] || fail "all lost: curl exit $rc (want 56, connection reset)"
[ "$size" = 0 ] || fail "all lost: $size bytes received"
awk -v t="$t" 'BEGIN { exit !(t >= 1.6 && t < 5) }' || fail "all lost: reset after ${t}s (want 1.6..5)"
wait_for_line "$FAULT_OUT" ' #1 packet-loss .*retransmissions=15 stall_ms=1638.4 state=good reset=yes' "$FAULT_PID"
stop_pid "$FAULT_PID"
note "ok"
