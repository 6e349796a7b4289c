#!/bin/bash
# tests/e2e/fidelity.sh - latency does what it says, on real traffic.
#
# A python client makes 1000 request/response round trips on one
# connection through a mapping with --latency-per-read-write (each response
# delayed by its own draw); --tail gives the drawn delays.
#  1. each distribution's 1000 draws pass a Kolmogorov-Smirnov test against
#     the configured shape (alpha 0.01: D below 1.628/sqrt(n));
#  2. the delay actually added (round trip minus the median round trip
#     without fault) matches the draw: the median of (added - drawn) over
#     the 1000 round trips is within -0.2 .. +1 ms (a delay cannot end
#     early; the 0.2 ms allow for the baseline's own noise), and the mean
#     added delay is within max(1 ms, 2%) of the drawn mean unless the
#     machine is loaded: the mean is reported, the median is asserted,
#     because one scheduling hiccup of the python client moves a mean;
#  3. the same --seed and the same traffic give the same sequence of fault
#     events, twice.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

PEER=$top_srcdir/tests/e2e/fidelity.py
N=1000
python3 "$PEER" server "$E2E_TMP/srv.port" >"$E2E_TMP/srv.log" 2>&1 &
track_pid $!
for ((i = 0; i < 500; i++)); do [ -s "$E2E_TMP/srv.port" ] && break; sleep 0.01; done
SRV=$(cat "$E2E_TMP/srv.port") || fail "the server did not start"

# Round trips through fault with the given flags; leaves times and draws.
run() { # NAME FLAGS...
	local name=$1 port
	shift
	port=$(free_port)
	start_fault run --proxy "127.0.0.1:$port=127.0.0.1:$SRV" --tail "$@"
	python3 "$PEER" client "$port" "$N" "$E2E_TMP/$name.rtt" || fail "$name: client failed"
	stop_pid "$FAULT_PID"
	sed -n 's/.* latency .*delay_ms=\([0-9.e+-]*\).*/\1/p' "$FAULT_OUT" >"$E2E_TMP/$name.draws"
	sed 's/^[0-9:.]* //' "$FAULT_OUT" | grep -v '^fault: listening' >"$E2E_TMP/$name.events"
}

mean() { awk '{ s += $1; n++ } END { if (n) printf "%.4f", s / n }' "$1"; }
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { printf "%.4f", a[int((NR + 1) / 2)] }'; }

port=$(free_port)
start_fault run --proxy "127.0.0.1:$port=127.0.0.1:$SRV"
python3 "$PEER" client "$port" 300 "$E2E_TMP/base.rtt" || fail "baseline client failed"
stop_pid "$FAULT_PID"
BASE=$(median "$E2E_TMP/base.rtt")
note "baseline round trip through fault: median $BASE ms"

LAT="--with-latency --latency-per-read-write --latency-side server --latency-direction ingress"
check() { # NAME DIST PARAMS FLAGS...
	local name=$1 dist=$2 params=$3 d crit drawn added n
	shift 3
	# shellcheck disable=SC2086
	run "$name" $LAT --latency-distribution "$dist" "$@"
	n=$(wc -l <"$E2E_TMP/$name.draws")
	[ "$n" = "$N" ] || fail "$name: $n latency events for $N round trips"
	read -r d crit < <(python3 "$PEER" ks "$dist" "$params" "$E2E_TMP/$name.draws")
	awk -v d="$d" -v c="$crit" 'BEGIN { exit !(d < c) }' ||
		fail "$name: KS statistic $d is not below $crit: the draws do not follow $dist($params)"
	drawn=$(mean "$E2E_TMP/$name.draws")
	added=$(awk -v b="$BASE" '{ s += $1 - b; n++ } END { printf "%.4f", s / n }' "$E2E_TMP/$name.rtt")
	paste "$E2E_TMP/$name.rtt" "$E2E_TMP/$name.draws" |
		awk -v b="$BASE" '{ printf "%.4f\n", $1 - b - $2 }' >"$E2E_TMP/$name.err"
	err=$(median "$E2E_TMP/$name.err")
	awk -v e="$err" 'BEGIN { exit !(e >= -0.2 && e <= 1) }' ||
		fail "$name: the added delay differs from the draw by $err ms (median; want -0.2..1)"
	note "$name: KS D=$d (< $crit); drawn mean $drawn ms, added mean $added ms, median error $err ms"
}

check uniform uniform 2,6 --latency-min 2 --latency-max 6 --seed 5
check normal normal 5,1 --latency-mean 5 --latency-stddev 1 --seed 6
check pareto pareto 2,3 --latency-scale 2 --latency-shape 3 --seed 7

# Same seed, same traffic: the same fault events, in the same order.
run again1 $LAT --latency-mean 3 --latency-stddev 1 --seed 99
run again2 $LAT --latency-mean 3 --latency-stddev 1 --seed 99
cmp -s <(sed 's/^#[0-9]* //' "$E2E_TMP/again1.events" | grep latency) \
	<(sed 's/^#[0-9]* //' "$E2E_TMP/again2.events" | grep latency) ||
	fail "the same --seed gave different latency events"
run again3 $LAT --latency-mean 3 --latency-stddev 1 --seed 100
cmp -s "$E2E_TMP/again1.draws" "$E2E_TMP/again3.draws" &&
	fail "different seeds gave the same draws"
note "same seed, same $(wc -l <"$E2E_TMP/again1.draws") events; another seed, other draws"
