#!/usr/bin/env bash
# plugins/jitter/tests/rate.sh - jitter events happen at the configured
# rate in Hz per second of traffic, whatever the chunking, and never
# reorder bytes. Real loopback traffic: a python upstream sends 64-byte
# chunks through fault to a python client on two connections at once,
# for 15 s each: #1 one chunk every 10 ms, #2 one every 2 ms (5 times more
# reads). --jitter-amplitude 30 --seed 7, and the frequency, 10 Hz, given
# through its environment variable FAULT_JITTER_FREQ.
#
# Checks, for each connection:
#  - the number of jitter events (the sum of events= of its --tail lines)
#    is inside the 99% interval of a Poisson law of mean f * T, T the
#    span of its traffic (~150: about 121..182). With a per-read
#    probability instead of a rate, #2 would see 5 times as many as #1;
#  - the client received exactly the bytes sent, in order (sha256);
#  - every delay_ms is within [0, 30], and the mean of the single-event
#    delays is 15 ms +-3 ms (uniform on [0, 30]: standard error ~0.7 ms
#    for ~150 draws, so that is over 4 standard errors);
#  - the delays are real: some chunk arrived at least 15 ms late, none
#    more than 30 + 100 ms late (slack for a loaded machine).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

F=10
AMP=30
UP=$(free_port)
P=$(free_port)
FAULT_JITTER_FREQ=$F start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$UP" --tail --seed 7 \
	--with-jitter --jitter-amplitude $AMP
python3 "$top_srcdir/plugins/jitter/tests/jitter_peer.py" "$UP" "$P" 15 10 2 \
	>"$E2E_TMP/peer.out" 2>&1 || fail "jitter_peer.py: $(cat "$E2E_TMP/peer.out")"
cat "$E2E_TMP/peer.out"
# Both connections closed: every event is in the output.
wait_for_line "$FAULT_OUT" ' #1 close ' "$FAULT_PID"
wait_for_line "$FAULT_OUT" ' #2 close ' "$FAULT_PID"

# poisson99 MEAN - prints "LO HI": the central 99% interval.
poisson99() {
	python3 - "$1" <<'PY'
import math, sys
m = float(sys.argv[1])
def cdf(k):
    return sum(math.exp(-m + i * math.log(m) - math.lgamma(i + 1)) for i in range(k + 1))
lo = 0
while cdf(lo) < 0.005:
    lo += 1
hi = lo
while 1 - cdf(hi) > 0.005:
    hi += 1
print(lo, hi)
PY
}

for k in 1 2; do
	line=$(grep "^conn=$k " "$E2E_TMP/peer.out")
	eval "$(echo "$line" | tr ' ' '\n' | grep -E '^(span|same|max_late_ms|late5|chunks)=')"
	# shellcheck disable=SC2154
	[ "$same" = 1 ] || fail "#$k: the client did not receive the bytes sent, in order"
	events=$(grep " #$k jitter " "$FAULT_OUT" | sed -n 's/.* events=\([0-9]*\).*/\1/p' |
		awk '{ s += $1 } END { print s + 0 }')
	# shellcheck disable=SC2154
	mean=$(awk -v f=$F -v t="$span" 'BEGIN { print f * t }')
	read -r lo hi <<<"$(poisson99 "$mean")"
	note "#$k: $chunks chunks over ${span}s: $events jitter events, Poisson 99% interval of $mean: $lo..$hi; max late ${max_late_ms} ms, $late5 chunks >= 5 ms late"
	[ "$events" -ge "$lo" ] && [ "$events" -le "$hi" ] ||
		fail "#$k: $events jitter events, outside $lo..$hi"
	# shellcheck disable=SC2154
	awk -v m="$max_late_ms" -v a=$AMP 'BEGIN { exit !(m >= a / 2 && m <= a + 100) }' ||
		fail "#$k: largest lateness ${max_late_ms} ms (want $((AMP / 2))..$((AMP + 100)))"
done

grep ' jitter ' "$FAULT_OUT" | sed -n 's/.* delay_ms=\([0-9.e+-]*\) events=\([0-9]*\).*/\1 \2/p' \
	>"$E2E_TMP/delays"
awk -v a=$AMP '$1 < 0 || $1 > a { bad++ } END { exit bad > 0 }' "$E2E_TMP/delays" ||
	fail "a delay outside [0, $AMP] ms"
dmean=$(awk '$2 == 1 { s += $1; n++ } END { printf "%.2f", s / n }' "$E2E_TMP/delays")
note "mean single-event delay $dmean ms (want 15 +-3)"
awk -v m="$dmean" 'BEGIN { exit !(m >= 12 && m <= 18) }' || fail "mean delay $dmean ms"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "ok"
