#!/usr/bin/env bash
# plugins/stealth/tests/psql.sh - the guide's PostgreSQL example: a local
# PostgreSQL 15 on 127.0.0.1 reached as "localhost" (the guide's URL; ::1,
# where it does not listen, is refused as usual and libpq goes on to
# 127.0.0.1), `fault run --stealth --capture-process psql`
# with 1000 ms of latency (stddev 0), and psql in the test's cgroup, with
# no proxy anywhere in its command line, gets its answer through fault:
# the debug log names the server as the original destination and the
# latency fault's delay on that connection, the query answers 42, and the
# whole psql run takes at least 1000 ms (a lower bound only: psql alone
# takes from 0.2 to 0.9 s on a loaded machine, too noisy for an upper
# one or for a difference with a direct run).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/postgres/tests/common.sh" || exit 99
. "$top_srcdir/plugins/stealth/tests/common.sh" || exit 99

start_pg

# timed_psql - psql in the cgroup; prints "SECONDS ANSWER".
timed_psql() {
	local t0 t1 out
	t0=$(date +%s.%N)
	out=$(in_cg psql -X -q -At -h localhost -p "$PGPORT" -U trusty -d app -c 'select 42') ||
		fail "psql failed: $out"
	t1=$(date +%s.%N)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }') $out"
}

start_stealth --capture-process psql --with-latency --latency-mean 1000 --latency-stddev 0
read -r t answer < <(timed_psql)
[ "$answer" = 42 ] || fail "captured psql answered '$answer'"
grep -q "captured, to 127.0.0.1:$PGPORT" "$STEALTH_LOG" || fail "no capture of 127.0.0.1:$PGPORT in the log"
grep -q "latency: #1 server ingress delay 1000.000 ms" "$STEALTH_LOG" || fail "no latency applied in the log"
awk -v t="$t" 'BEGIN { exit !(t >= 1.0) }' || fail "captured psql took ${t}s, want >= 1 s"
note "captured: ${t}s"
stop_stealth INT
stop_pg
