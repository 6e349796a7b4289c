#!/bin/bash
# plugins/postgres/bench.sh - pgbench select-only transactions per second,
# in one run, against one PostgreSQL server of its own: direct, through a
# plain TCP mapping (the tcp plugin) and through a psql:// mapping (this
# plugin, no case active). Rounds alternate the two proxies so that load
# from elsewhere on the machine falls on both alike. Not part of
# `make check`:
#
#   top_builddir=$PWD top_srcdir=$PWD bash plugins/postgres/bench.sh
#
# Environment: BENCH_SECONDS (per run, default 10), BENCH_ROUNDS (3),
# BENCH_CLIENTS (4), BENCH_STRICT=1 (exit 1 when the psql:// mapping is
# below 0.9x the TCP mapping). Prints one line per run and the ratio of
# the means.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/plugins/postgres/tests/common.sh"

secs=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-3}
clients=${BENCH_CLIENTS:-4}
start_pg
TCP=$(free_port)
PSQL=$(free_port)
start_fault run --no-ui --proxy "$TCP=127.0.0.1:$PGPORT" --proxy "$PSQL=psql://127.0.0.1:$PGPORT"
"$PG_BIN/pgbench" -i -q -s 10 -h 127.0.0.1 -p "$PGPORT" -U trusty app >/dev/null 2>&1 ||
	fail "pgbench -i failed"
tps() {
	"$PG_BIN/pgbench" -S -n -c "$clients" -j 2 -T "$secs" -h 127.0.0.1 -p "$1" -U trusty app 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
sum_direct=0 sum_tcp=0 sum_psql=0
for ((r = 1; r <= rounds; r++)); do
	d=$(tps "$PGPORT") t=$(tps "$TCP") p=$(tps "$PSQL")
	echo "round $r: direct $d tcp $t psql $p"
	sum_direct=$(echo "$sum_direct + $d" | bc -l)
	sum_tcp=$(echo "$sum_tcp + $t" | bc -l)
	sum_psql=$(echo "$sum_psql + $p" | bc -l)
done
printf 'mean tps: direct %.0f, tcp mapping %.0f, psql mapping %.0f; psql/tcp %.2f\n' \
	"$(echo "$sum_direct / $rounds" | bc -l)" "$(echo "$sum_tcp / $rounds" | bc -l)" \
	"$(echo "$sum_psql / $rounds" | bc -l)" "$(echo "$sum_psql / $sum_tcp" | bc -l)"
stop_pg
if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$(echo "$sum_psql < 0.9 * $sum_tcp" | bc -l)" = 1 ]; then
	echo "target missed: psql:// mapping below 0.9x the TCP mapping" >&2
	exit 1
fi
