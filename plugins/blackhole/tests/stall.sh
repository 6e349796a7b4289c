#!/usr/bin/env bash
# plugins/blackhole/tests/stall.sh - behind a blackhole (no schedule: the
# whole run) the peer sees a stalled connection, and the proxy does not
# buffer what it holds beyond its bound: an upstream tries to send 1 GiB
# to a client through --with-blackhole (server side, ingress) for 3 s.
#
#  - the client receives nothing;
#  - the sender's writes block: between 1.5 s and 3 s it handed less than
#    1 MiB more to its socket (without backpressure 1 GiB takes about a
#    second on loopback), and less than 64 MiB in all (socket buffers: up
#    to tcp_wmem max on the sender, tcp_rmem max on the proxy's upstream
#    socket, plus the relay's 256 KiB high-water mark);
#  - fault's resident memory grew by less than 16 MiB;
#  - --tail has exactly one blackhole event (one per connection and hook
#    point, however many chunks are held).
. "$top_srcdir/tests/e2e/lib.sh"

UP=$(free_port)
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$UP" --tail --with-blackhole
out=$(python3 "$top_srcdir/plugins/blackhole/tests/stall.py" "$UP" "$P" "$FAULT_PID" 3) ||
	fail "stall.py: $out"
note "$out"
eval "$out"
# shellcheck disable=SC2154
[ "$received" = 0 ] || fail "the client received $received bytes through a blackhole"
# shellcheck disable=SC2154
adv=$((sent2 - sent1))
[ "$adv" -lt $((1024 * 1024)) ] || fail "the sender advanced $adv bytes in the last 1.5 s: not blocked"
[ "$sent2" -lt $((64 * 1024 * 1024)) ] || fail "the sender got $sent2 bytes into a blackhole"
# shellcheck disable=SC2154
grow=$((rss_max_kib - rss0_kib))
[ "$grow" -lt $((16 * 1024)) ] || fail "fault's RSS grew by $grow KiB (from $rss0_kib KiB)"
n=$(grep -c ' blackhole side=server direction=ingress' "$FAULT_OUT")
[ "$n" = 1 ] || fail "$n blackhole events for one connection (want 1)"
note "sender blocked after $sent2 bytes, nothing received, RSS +$grow KiB"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM"
note "ok"
