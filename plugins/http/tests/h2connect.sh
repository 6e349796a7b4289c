#!/usr/bin/env bash
# plugins/http/tests/h2connect.sh - CONNECT over HTTP/2 (RFC 9113 8.5) on
# the forward proxy, with h2connect.py (python3-h2; no Debian client does
# CONNECT over HTTP/2) and its own echo server:
#
#  1. h2c with prior knowledge: a CONNECT stream to the echo server gets
#     200; a probe and 1 MiB come back identical through the tunnel, the
#     client's END_STREAM reaches the echo server as FIN and its FIN comes
#     back as END_STREAM; a refused target gets 502 on its stream;
#  2. stream faults apply to the tunnel's bytes: with 300 ms latency (side
#     server) the probe's echo takes >= 290 ms, and without the fault, or
#     with --upstream naming another host, < 250 ms;
#  3. CONNECT on a reverse mapping's h2c is refused (405).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99
PY=
for p in python3 /usr/bin/python3; do
	"$p" -c 'import h2' 2>/dev/null && PY=$p && break
done
[ -n "$PY" ] || skip "python3-h2 is not installed"
CL=("$PY" "$HTTP_TESTS/h2connect.py")

rtt() { sed -n 's/.*rtt_ms=\([0-9]*\).*/\1/p' <<<"$1"; }

# ---- 1. tunnels, no fault
start_proxy
out=$("${CL[@]}" "$PP") || fail "CONNECT over h2c: $out"
grep -q '^status=200 rtt_ms=[0-9]* echoed=1048576 same=yes end=yes' <<<"$out" || fail "tunnel: $out"
base=$(rtt "$out")
[ "$base" -lt 250 ] || fail "tunnel without a fault took $base ms"
out=$("${CL[@]}" "$PP" --authority "127.0.0.1:$(free_port)") && fail "a refused CONNECT succeeded: $out"
grep -q '^status=502 body=fault: connection refused' <<<"$out" || fail "refused CONNECT: $out"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
note "CONNECT over h2c: 1 MiB echoed identical, half-closes both ways, refused -> 502 (probe $base ms)"

# ---- 2. a latency fault on the tunnel
start_proxy --with-latency --latency-mean 300 --latency-stddev 0
out=$("${CL[@]}" "$PP" --size 65536) || fail "tunnel with latency: $out"
ms=$(rtt "$out")
[ "$ms" -ge 290 ] || fail "300 ms latency on the tunnel: the echo came after $ms ms"
stop_pid "$FAULT_PID"
start_proxy --upstream 127.0.0.2:9 --with-latency --latency-mean 300 --latency-stddev 0
out=$("${CL[@]}" "$PP" --size 65536) || fail "untargeted tunnel: $out"
ms2=$(rtt "$out")
[ "$ms2" -lt 250 ] || fail "an untargeted tunnel was delayed: $ms2 ms"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
note "300 ms latency on a targeted tunnel: $ms ms; untargeted (--upstream): $ms2 ms"

# ---- 3. not on mappings
start_upstream
P=$(free_port)
start_fault run --disable-http-proxy --proxy "127.0.0.1:$P=http://127.0.0.1:$UP_PORT"
out=$("${CL[@]}" "$P") && fail "CONNECT on a mapping succeeded: $out"
grep -q '^status=405' <<<"$out" || fail "CONNECT on a mapping: $out"
stop_pid "$FAULT_PID"
note "CONNECT on a mapping: 405"
