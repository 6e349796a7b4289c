#!/usr/bin/env bash
# plugins/slow-close/tests/slow_close.sh - the slow-close fault with the
# python peers of sc_peer.py (a server that sends N bytes then closes, or
# reads until EOF and reports when the EOF came):
#
#  0. without the fault, the client's EOF comes < 100 ms after the data (so
#     the measurement itself adds no delay worth speaking of);
#  1. --with-slow-close --slow-close-delay 1000 (direction both): the data
#     arrives at once (< 300 ms after connect) but the EOF only
#     980..1300 ms after the last byte. The delay counts from when fault
#     handed the last byte to the socket, which is a little before the
#     client reads it: 20 ms below 1000 absorb that delivery (a python reader on a loaded machine); the
#     300 ms above are slack for a loaded machine. --tail has a slow-close
#     line with delay_ms=1000;
#  2. same fault, the other way: the client sends 64 KiB then its FIN;
#     the server sees the EOF 980..1300 ms after the last byte (and the
#     server's own FIN is delayed too, which the client just waits for);
#  3. --slow-close-direction ingress: the client's FIN is not delayed
#     (server-side gap < 100 ms) while the server's still is (>= 980 ms).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

HELPER=$top_srcdir/plugins/slow-close/tests/sc_peer.py
N=100000

python3 "$HELPER" server "$E2E_TMP/srv.port" >"$E2E_TMP/srv.out" 2>&1 &
SRV_PID=$!
track_pid "$SRV_PID"
wait_for_line "$E2E_TMP/srv.port" '^[0-9]+$' "$SRV_PID"
SRV_PORT=$(cat "$E2E_TMP/srv.port")

in_window() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }

# ---- 0. baseline
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$SRV_PORT" --no-ui
out=$(python3 "$HELPER" ingress "$P" "$N") || fail "baseline: $out"
note "baseline: $out"
in_window "$(field gap_ms <<<"$out")" 0 100 || fail "baseline: EOF $(field gap_ms <<<"$out") ms after the data, want < 100"
stop_pid "$FAULT_PID"

# ---- 1 and 2. delay 1000, both directions
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$SRV_PORT" --tail \
	--with-slow-close --slow-close-delay 1000
out=$(python3 "$HELPER" ingress "$P" "$N") || fail "ingress: $out"
note "ingress FIN delayed: $out"
in_window "$(field data_ms <<<"$out")" 0 300 || fail "ingress: data took $(field data_ms <<<"$out") ms, want < 300"
in_window "$(field gap_ms <<<"$out")" 980 1300 || fail "ingress: EOF $(field gap_ms <<<"$out") ms after the data, want 980..1300"
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #1 slow-close side=client direction=ingress delay_ms=1000$' "$FAULT_PID"
out=$(python3 "$HELPER" egress "$P" 65536) || fail "egress: $out"
note "egress FIN delayed: $out"
in_window "$(field gap_ms <<<"$out")" 980 1300 || fail "egress: server saw EOF $(field gap_ms <<<"$out") ms after the data, want 980..1300"
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #2 slow-close side=server direction=egress delay_ms=1000$' "$FAULT_PID"
stop_pid "$FAULT_PID"

# ---- 3. ingress only
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$SRV_PORT" --tail \
	--with-slow-close --slow-close-delay 1000 --slow-close-direction ingress
out=$(python3 "$HELPER" egress "$P" 65536) || fail "ingress only, egress FIN: $out"
note "ingress only, client FIN: $out"
in_window "$(field gap_ms <<<"$out")" 0 100 || fail "ingress only: the client's FIN was delayed ($out)"
out=$(python3 "$HELPER" ingress "$P" "$N") || fail "ingress only: $out"
note "ingress only, server FIN: $out"
in_window "$(field gap_ms <<<"$out")" 980 1300 || fail "ingress only: server FIN not delayed ($out)"
grep -q 'direction=egress' "$FAULT_OUT" && fail "ingress only: an egress slow-close event"
exit 0
