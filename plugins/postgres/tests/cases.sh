#!/bin/bash
# plugins/postgres/tests/cases.sh - the database cases of the postgres
# plugin, each checked from the client's side with real drivers against a
# real PostgreSQL server:
#   error-injection  the chosen SQLSTATE (40001) on matching statements,
#                    in and out of a transaction block, simple, extended
#                    and pipelined; the block is aborted as the server
#                    would (25P02 next, ROLLBACK recovers) and the next
#                    statement works; every injection is an event naming
#                    the statement
#   probability      --pg-probability with --seed: the same decisions for
#                    the same seed, others for another; none outside
#                    --pg-sched
#   pgbench          -S with --max-tries under 40001 at 10%: every
#                    transaction done, about a tenth retried
#   deadlock         40P01 at --pg-deadlock-rate 1
#   FATAL codes      57P01 closes the connection; new ones work
#   slow-query       matching statements take at least the delay, others
#                    do not
#   conn-reset       mid-result; and right after COMMIT, with the row
#                    committed all the same
#   data-corruption  one value per row altered, same length, still valid
#   stale-reads      a SELECT answered with its earlier result after the
#                    row changed, simple and extended protocols (per
#                    parameters, unnamed and prepared, pipelined); other
#                    statements see the change
#   failover         the open session terminated (57P01), connections
#                    refused (57P03), then writes failing with 25006
#                    while reads work, then writes working, each window
#                    about as long as asked; events for each
#   timeout          the result held: the client gives up, other
#                    statements are answered meanwhile
#   stream faults    --with-latency delays psql:// traffic as any other
#   bad input        a bad --pg-case, --pg-error-code or --pg-statement
#                    exits 2 with a message naming the flag
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/plugins/postgres/tests/common.sh"

client() { py "$top_srcdir/plugins/postgres/tests/pgclient.py" "$@"; }

note "bad input"
for args in "--pg-case nosuch" "--pg-error-code 4000" \
	"--pg-statement (unclosed" "--pg-probability 2"; do
	# shellcheck disable=SC2086 # the words are meant to split
	"$FAULT" run --no-ui --proxy "$(free_port)=psql://127.0.0.1:1" $args \
		>"$E2E_TMP/bad.out" 2>"$E2E_TMP/bad.err"
	st=$?
	[ $st = 2 ] || fail "'$args' exited $st, not 2: $(cat "$E2E_TMP/bad.err")"
	flag=${args%% *}
	grep -q -- "$flag" "$E2E_TMP/bad.err" || fail "'$args': message does not name $flag: $(cat "$E2E_TMP/bad.err")"
	[ "$(wc -l <"$E2E_TMP/bad.err")" = 1 ] || fail "'$args': not one line: $(cat "$E2E_TMP/bad.err")"
done

start_pg

note "error-injection 40001 on statements matching 'victim'"
start_pg_proxy --pg-case error-injection --pg-error-code 40001 --pg-statement victim \
	--events "$E2E_TMP/ev1.jsonl"
client inject "$PX" 40001 || fail "error-injection"
n=$(grep '"fault_applied"' "$E2E_TMP/ev1.jsonl" | grep -c '40001')
[ "$n" -ge 4 ] || fail "expected at least 4 injection events, got $n: $(cat "$E2E_TMP/ev1.jsonl")"
grep '"fault_applied"' "$E2E_TMP/ev1.jsonl" | grep -q "victim" ||
	fail "events do not name the statement: $(grep fault_applied "$E2E_TMP/ev1.jsonl" | head -2)"
stop_pid "$FAULT_PID"

note "--pg-probability 0.5 with --seed: the same decisions for the same seed"
for seed in 7 7 8; do
	start_pg_proxy --pg-case error-injection --pg-probability 0.5 --pg-statement victim --seed $seed
	client draws "$PX" 40 >"$E2E_TMP/draws.$seed.out" || fail "draws: $(cat "$E2E_TMP/draws.$seed.out")"
	[ -s "$E2E_TMP/draws.7.first" ] || cp "$E2E_TMP/draws.7.out" "$E2E_TMP/draws.7.first"
	stop_pid "$FAULT_PID"
done
cmp -s "$E2E_TMP/draws.7.first" "$E2E_TMP/draws.7.out" ||
	fail "seed 7 gave different decisions: $(cat "$E2E_TMP/draws.7.first") / $(cat "$E2E_TMP/draws.7.out")"
cmp -s "$E2E_TMP/draws.7.out" "$E2E_TMP/draws.8.out" && fail "seeds 7 and 8 gave the same 40 decisions"
ones=$(tr -cd 1 <"$E2E_TMP/draws.7.out" | wc -c)
# Binomial(40, 0.5): outside 5..35 with probability below 1e-6.
[ "$ones" -ge 5 ] && [ "$ones" -le 35 ] || fail "$ones of 40 injected at probability 0.5"
note "seed 7: $ones of 40 statements got the error"

note "--pg-sched: not active yet, nothing injected"
start_pg_proxy --pg-case error-injection --pg-statement victim --pg-sched start:10m
[ "$(client draws "$PX" 5)" = 00000 ] || fail "an error was injected outside the schedule"
stop_pid "$FAULT_PID"

note "pgbench under injected 40001 at 10%: every transaction done, some retried"
"$PG_BIN/pgbench" -i -q -s 1 -h 127.0.0.1 -p "$PGPORT" -U trusty app >"$E2E_TMP/pgbench-init.log" 2>&1 ||
	fail "pgbench -i: $(tail -3 "$E2E_TMP/pgbench-init.log")"
start_pg_proxy --pg-case error-injection --pg-error-code 40001 --pg-probability 0.1 \
	--pg-statement pgbench_accounts --seed 3
"$PG_BIN/pgbench" -S -n -c 4 -j 2 -t 250 --max-tries 50 -h 127.0.0.1 -p "$PX" -U trusty app \
	>"$E2E_TMP/pgbench-retry.log" 2>&1 || fail "pgbench: $(tail -5 "$E2E_TMP/pgbench-retry.log")"
grep -q "number of transactions actually processed: 1000/1000" "$E2E_TMP/pgbench-retry.log" ||
	fail "pgbench: $(cat "$E2E_TMP/pgbench-retry.log")"
grep -q "number of failed transactions: 0 " "$E2E_TMP/pgbench-retry.log" ||
	fail "pgbench had failures: $(cat "$E2E_TMP/pgbench-retry.log")"
retried=$(sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p' "$E2E_TMP/pgbench-retry.log")
# About 100 of 1000 (binomial, 10%): at least 30 is far below any plausible draw.
[ "${retried:-0}" -ge 30 ] || fail "only ${retried:-0} transactions retried: $(cat "$E2E_TMP/pgbench-retry.log")"
note "pgbench: $retried of 1000 transactions retried after an injected 40001"
stop_pid "$FAULT_PID"

note "deadlock at rate 1"
start_pg_proxy --pg-case deadlock --pg-deadlock-rate 1 --pg-statement victim
client inject "$PX" 40P01 || fail "deadlock"
stop_pid "$FAULT_PID"

note "FATAL 57P01"
start_pg_proxy --pg-case error-injection --pg-error-code 57P01 --pg-statement victim
client fatal "$PX" 57P01 || fail "FATAL injection"
psql -X -At -h 127.0.0.1 -p "$PX" -U trusty -d app -c "select 'victim'" >"$E2E_TMP/fatal.out" 2>&1 &&
	fail "psql succeeded despite FATAL"
grep -q "FATAL:  terminating connection due to administrator command" "$E2E_TMP/fatal.out" ||
	fail "psql did not get the FATAL error: $(cat "$E2E_TMP/fatal.out")"
stop_pid "$FAULT_PID"

note "slow-query, 400 ms"
start_pg_proxy --pg-case slow-query --pg-latency-mean 400 --pg-latency-stddev 0 \
	--pg-statement slowpoke --events "$E2E_TMP/ev-slow.jsonl"
client slow "$PX" 400 || fail "slow-query"
n=$(grep '"fault_applied"' "$E2E_TMP/ev-slow.jsonl" | grep 'slow-query' | grep 'slowpoke' | grep -c 'delay_ms')
[ "$n" = 3 ] || fail "expected 3 slow-query events with the statement and its delay, got $n: $(grep fault_applied "$E2E_TMP/ev-slow.jsonl")"
stop_pid "$FAULT_PID"

note "conn-reset mid-result"
start_pg_proxy --pg-case conn-reset --pg-reset-at result --pg-statement victim
client reset_result "$PX" || fail "conn-reset mid-result"
stop_pid "$FAULT_PID"

note "conn-reset right after COMMIT"
start_pg_proxy --pg-case conn-reset --pg-reset-at commit --pg-statement 'insert into r'
client reset_commit "$PX" || fail "conn-reset at commit"
[ "$(sql "select count(*) from r where id = 42")" = 1 ] ||
	fail "the transaction reset after COMMIT is not committed"
stop_pid "$FAULT_PID"

note "data-corruption at rate 1"
start_pg_proxy --pg-case data-corruption --pg-corruption-rate 1 --pg-statement victim
client corrupt "$PX" || fail "data-corruption"
stop_pid "$FAULT_PID"

note "stale-reads"
start_pg_proxy --pg-case stale-reads --pg-statement '^select v from kv where k = (1|\$1)$' \
	--events "$E2E_TMP/ev-stale.jsonl"
client stale "$PX" >"$E2E_TMP/stale.out" || fail "stale-reads: $(cat "$E2E_TMP/stale.out")"
# 4 replays on the simple protocol; 11 more on the extended one (psycopg 3).
want=4
grep -q "ok stale-reads extended" "$E2E_TMP/stale.out" && want=15
[ "$(grep '"fault_applied"' "$E2E_TMP/ev-stale.jsonl" | grep -c 'stale-reads')" = $want ] ||
	fail "expected $want stale-reads events: $(grep fault_applied "$E2E_TMP/ev-stale.jsonl")"
note "$(tr '\n' ';' <"$E2E_TMP/stale.out")"
stop_pid "$FAULT_PID"

note "failover at 5 s (time for the client to connect first, under load): 57P01 to the session, refused for 1 s, read-only for 1 s"
start_pg_proxy --pg-case failover --pg-sched start:5s --pg-failover-refuse 1s \
	--pg-failover-read-only 1s --events "$E2E_TMP/ev-fo.jsonl"
client failover "$PX" 1 1 || fail "failover"
fo=$(grep '"fault_applied"' "$E2E_TMP/ev-fo.jsonl" | grep '"failover"')
printf '%s\n' "$fo" | grep -q '57P01' || fail "no failover event with 57P01: $fo"
printf '%s\n' "$fo" | grep -q '57P03' || fail "no refusal event with 57P03: $fo"
printf '%s\n' "$fo" | grep '25006' | grep -q 'insert into fo' ||
	fail "no 25006 event naming the write: $fo"
stop_pid "$FAULT_PID"

note "timeout: the result is held until the client gives up"
start_pg_proxy --pg-case timeout --pg-statement victim --events "$E2E_TMP/ev-timeout.jsonl"
t0=$(date +%s%N)
timeout 1 psql -X -At -h 127.0.0.1 -p "$PX" -U trusty -d app -c "select 'victim'" \
	>"$E2E_TMP/held.out" 2>&1
st=$?
[ $st = 124 ] || fail "the held statement ended by itself (status $st): $(cat "$E2E_TMP/held.out")"
out=$(psql -X -At -h 127.0.0.1 -p "$PX" -U trusty -d app -c "select 'other'") ||
	fail "a non-matching statement failed during the hold"
[ "$out" = other ] || fail "non-matching statement printed '$out'"
el=$((($(date +%s%N) - t0) / 1000000))
note "held for ${el} ms (the client's own 1 s timeout)"
# The client that gave up is gone: its session ends too (bounded poll).
for ((i = 0; i < 500; i++)); do
	opens=$(grep -c '"conn_open"' "$E2E_TMP/ev-timeout.jsonl")
	closes=$(grep -c '"conn_close"' "$E2E_TMP/ev-timeout.jsonl")
	[ "$opens" = 2 ] && [ "$closes" = 2 ] && break
	sleep 0.01
done
[ "$opens" = 2 ] && [ "$closes" = 2 ] ||
	fail "sessions left behind a held result: $opens opened, $closes closed"
stop_pid "$FAULT_PID"

note "stream faults still apply: --with-latency on psql:// traffic"
start_pg_proxy --with-latency --latency-mean 150 --latency-stddev 0 --latency-per-read-write
client latency "$PX" 150 || fail "latency on psql:// traffic"
stop_pid "$FAULT_PID"

note "fault run db pg: the original's command line over the handler"
rc=0
"$FAULT" run db mysql --proxy "$(free_port)=psql://127.0.0.1:$PGPORT" >/dev/null 2>"$E2E_TMP/mysql.err" || rc=$?
[ "$rc" = 2 ] && grep -q "'mysql' is not supported yet" "$E2E_TMP/mysql.err" ||
	fail "run db mysql: status $rc, $(cat "$E2E_TMP/mysql.err")"
PX=$(free_port)
start_fault run db pg --no-ui --proxy "$PX=psql://127.0.0.1:$PGPORT" --case deadlock \
	--deadlock-rate 1 --pg-statement victim
client inject "$PX" 40P01 || fail "run db pg --case deadlock"
stop_pid "$FAULT_PID"
PX=$(free_port)
start_fault run db pg --no-ui --proxy "$PX=psql://127.0.0.1:$PGPORT" --case slow-query \
	--latency-mean 400 --pg-latency-stddev 0 --pg-statement victim
t0=$(date +%s%N)
out=$(psql -X -At -h 127.0.0.1 -p "$PX" -U trusty -d app -c "select 'victim'") || fail "slow query through run db"
el=$((($(date +%s%N) - t0) / 1000000))
[ "$out" = victim ] && [ "$el" -ge 395 ] || fail "run db --latency-mean 400: '$out' after $el ms (want >= 395)"
stop_pid "$FAULT_PID"

stop_pg
note "ok"
