#!/usr/bin/env bash
# plugins/bandwidth/tests/backpressure.sh - a throttled direction pushes
# back on its sender instead of buffering: an upstream that tries to send
# 1 GiB through --bandwidth-rate 20 KBps (20480 B/s) to a client.
#
# backpressure.py samples how much the sender had handed to its socket
# when the client had received 20 KiB, then 60 KiB (~2 s later). Checks:
#  - the sender is blocked: between the two samples it advanced by less
#    than 1 MiB (it would have sent the whole 1 GiB in about a second
#    without backpressure), while the client received 40 KiB;
#  - it never got far ahead: at most 64 MiB handed to the kernel in all
#    (socket buffers on loopback: up to tcp_wmem max on the sender and
#    tcp_rmem max on the proxy's upstream socket, 4 + 32 MiB here, plus the
#    relay's 256 KiB high-water mark);
#  - fault's resident memory grew by less than 16 MiB over the transfer
#    (the relay holds at most ~320 KiB per direction; the rest is slack for
#    the allocator);
#  - the client still received at about the rate: 40 KiB in 2 s +-25%
#    (a sanity check of the throttle, not its accuracy test: rate.sh).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

UP=$(free_port)
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$UP" --no-ui \
	--with-bandwidth --bandwidth-rate 20 --bandwidth-unit KBps
out=$(python3 "$top_srcdir/plugins/bandwidth/tests/backpressure.py" "$UP" "$P" "$FAULT_PID" \
	$((60 * 1024))) || fail "backpressure.py: $out"
note "$out"
eval "$out"
# shellcheck disable=SC2154
adv=$((sent2 - sent1))
[ "$adv" -lt $((1024 * 1024)) ] || fail "the sender advanced $adv bytes while throttled: not blocked"
[ "$sent2" -lt $((64 * 1024 * 1024)) ] || fail "the sender got $sent2 bytes ahead of a 20 KBps link"
# shellcheck disable=SC2154
grow=$((rss_max_kib - rss0_kib))
[ "$grow" -lt $((16 * 1024)) ] || fail "fault's RSS grew by $grow KiB (from $rss0_kib KiB)"
# shellcheck disable=SC2154
awk -v s="$seconds" 'BEGIN { r = 40 * 1024 / s; exit !(r > 20480 * 0.75 && r < 20480 * 1.25) }' ||
	fail "40 KiB took $seconds s at 20 KBps"
note "sender blocked ${sent2} bytes ahead, RSS +${grow} KiB"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "ok"
