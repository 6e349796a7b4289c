#!/usr/bin/env bash
# plugins/slicer/tests/slicer.sh - the slicer fault on downloads from nginx,
# read by sl_client.py with recv(4096), so that a read returns whatever
# arrived since the previous one (never more than one 4 KiB buffer):
#
#  1. defaults (average 64, variation 32, delay 1000 us), --seed 3, a
#     200 KiB file: the body is byte-identical (sha256); fault's sockets use
#     TCP_NODELAY and slices leave >= 1 ms apart, so the client sees about
#     one slice per read:
#       - the mean read size is within 64 +- 16 (25%: a read that merges two
#         slices, when the client is descheduled on a loaded machine, or a
#         short last slice of a chunk, pulls the mean; the median is less
#         sensitive and must lie within 32..96),
#       - >= 90% of the reads are within 32..96 bytes (the slice range),
#       - the download takes >= 0.9 x reads x 1 ms (each gap >= 1 ms; reads
#         stand for slices, at most one fewer gap than slices),
#     and --tail has slicer lines;
#  2. --slicer-average-size 500 --slicer-size-variation 0 --slicer-delay
#     5000 on 20 000 bytes: >= 90% of the reads are exactly 500 bytes (the
#     others are the ends of chunks, or the rare merge), the body is
#     identical, and it takes >= 0.9 x (reads - 1) x 5 ms;
#  3. a variation not smaller than the average is refused (exit 2).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

HELPER=$top_srcdir/plugins/slicer/tests/sl_client.py

start_nginx
make_file "$WWW/body.bin" $((200 * 1024))
make_file "$WWW/small.bin" 20000
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
in_window() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# ---- 1. defaults
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --with-slicer --seed 3
out=$(python3 "$HELPER" get "$P" /body.bin 4096 "$E2E_TMP/body.out" 32 96) || fail "defaults: $out"
note "defaults: $out"
[ "$(sha256_of "$E2E_TMP/body.out")" = "$(sha256_of "$WWW/body.bin")" ] || fail "defaults: the body differs"
reads=$(field reads <<<"$out")
in_window "$(field mean <<<"$out")" 48 80 || fail "defaults: mean read $(field mean <<<"$out") bytes, want 64 +- 16"
in_window "$(field median <<<"$out")" 32 96 || fail "defaults: median read $(field median <<<"$out") bytes, want 32..96"
ge "$(field in_range <<<"$out")" 0.9 || fail "defaults: only $(field in_range <<<"$out") of the reads within 32..96 bytes"
min=$(awk -v r="$reads" 'BEGIN { printf "%.3f", 0.9 * r * 0.001 }')
ge "$(field secs <<<"$out")" "$min" || fail "defaults: took $(field secs <<<"$out") s for $reads reads, want >= $min s"
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #1 slicer side=client direction=ingress chunk_bytes=[0-9]+ slice_bytes=[0-9]+$' "$FAULT_PID"
stop_pid "$FAULT_PID"

# ---- 2. fixed 500-byte slices, 5 ms apart
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --no-ui --with-slicer \
	--slicer-average-size 500 --slicer-size-variation 0 --slicer-delay 5000
out=$(python3 "$HELPER" get "$P" /small.bin 4096 "$E2E_TMP/small.out" 500 500) || fail "fixed: $out"
note "fixed 500: $out"
cmp -s "$E2E_TMP/small.out" "$WWW/small.bin" || fail "fixed: the body differs"
reads=$(field reads <<<"$out")
ge "$(field in_range <<<"$out")" 0.9 || fail "fixed: only $(field in_range <<<"$out") of the reads are 500 bytes"
min=$(awk -v r="$reads" 'BEGIN { printf "%.3f", 0.9 * (r - 1) * 0.005 }')
ge "$(field secs <<<"$out")" "$min" || fail "fixed: took $(field secs <<<"$out") s for $reads reads, want >= $min s"
stop_pid "$FAULT_PID"

# ---- 3. bad sizes
"$FAULT" run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --with-slicer \
	--slicer-average-size 64 --slicer-size-variation 64 >"$E2E_TMP/bad.out" 2>&1 &&
	fail "a variation equal to the average was accepted"
rc=$?
[ "$rc" = 2 ] || fail "bad variation: exit $rc, want 2"
grep -q 'slicer-size-variation' "$E2E_TMP/bad.out" || fail "the message does not name the flag: $(cat "$E2E_TMP/bad.out")"
note "refused: $(cat "$E2E_TMP/bad.out")"
