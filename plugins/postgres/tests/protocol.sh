#!/bin/bash
# plugins/postgres/tests/protocol.sh - psql:// traffic through the postgres
# plugin with no case: a real PostgreSQL server of the test's own, and real
# clients: psql with trust and with SCRAM-SHA-256 (and sslmode=require
# refused cleanly, the client leg being plaintext), psycopg2 (PREPARE/
# EXECUTE, a large result, COPY both ways, LISTEN/NOTIFY), psycopg 3 (the
# extended protocol with server-side prepared statements, pipelining,
# extended COPY), a CancelRequest (conn.cancel() during pg_sleep) mapped by
# its key to the session's server (another session untouched, an unknown
# key harmless), and pgbench -S through the proxy beside direct.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/plugins/postgres/tests/common.sh"

start_pg
PX=$(free_port)
start_fault --log-level info --log-stdout run --no-ui --proxy "$PX=psql://127.0.0.1:$PGPORT" \
	--events "$E2E_TMP/events.jsonl"

note "psql, trust"
out=$(psql -X -At -h 127.0.0.1 -p "$PX" -U trusty -d app -c "select 40 + 2") ||
	fail "psql through the proxy failed"
[ "$out" = 42 ] || fail "psql through the proxy printed '$out'"

note "psql, SCRAM-SHA-256"
out=$(PGPASSWORD=s3cret psql -X -At -h 127.0.0.1 -p "$PX" -U scrammy -d app \
	-c "select current_user") || fail "psql with SCRAM through the proxy failed"
[ "$out" = scrammy ] || fail "SCRAM login printed '$out'"

note "psql, sslmode=require: refused by the proxy's 'N', not hung"
if PGSSLMODE=require timeout 10 psql -X -At -h 127.0.0.1 -p "$PX" -U trusty -d app \
	-c "select 1" >"$E2E_TMP/ssl.out" 2>&1; then
	fail "sslmode=require succeeded on a plaintext client leg"
fi
grep -q "does not support SSL" "$E2E_TMP/ssl.out" || fail "sslmode=require: $(cat "$E2E_TMP/ssl.out")"

note "drivers"
py "$top_srcdir/plugins/postgres/tests/pgclient.py" basic "$PX" || fail "driver checks failed"
py "$top_srcdir/plugins/postgres/tests/pgclient.py" cancel "$PX" || fail "cancel check failed"
# The real cancel went by its key to the session's server; the bogus key
# went to the mapping's server (which ignores it, as it would direct).
grep -q "cancel request forwarded to 127.0.0.1:$PGPORT\$" "$FAULT_OUT" ||
	fail "no cancel mapped by its key: $(grep -i cancel "$FAULT_OUT")"
grep -q "cancel request forwarded to 127.0.0.1:$PGPORT (unknown key)" "$FAULT_OUT" ||
	fail "the unknown key was not told apart: $(grep -i cancel "$FAULT_OUT")"

note "pgbench -S, direct and through the proxy"
PGBENCH=$PG_BIN/pgbench
"$PGBENCH" -i -q -s 1 -h 127.0.0.1 -p "$PGPORT" -U trusty app >"$E2E_TMP/pgbench-init.log" 2>&1 ||
	fail "pgbench -i: $(tail -3 "$E2E_TMP/pgbench-init.log")"
for where in direct proxy; do
	port=$PGPORT
	[ $where = proxy ] && port=$PX
	"$PGBENCH" -S -n -c 4 -j 2 -t 500 -h 127.0.0.1 -p "$port" -U trusty app \
		>"$E2E_TMP/pgbench-$where.log" 2>&1 || fail "pgbench $where: $(tail -5 "$E2E_TMP/pgbench-$where.log")"
	grep -q "number of transactions actually processed: 2000/2000" "$E2E_TMP/pgbench-$where.log" ||
		fail "pgbench $where: $(cat "$E2E_TMP/pgbench-$where.log")"
	if grep -q "number of failed transactions" "$E2E_TMP/pgbench-$where.log"; then
		grep -q "number of failed transactions: 0 " "$E2E_TMP/pgbench-$where.log" ||
			fail "pgbench $where had failures: $(cat "$E2E_TMP/pgbench-$where.log")"
	fi
	note "pgbench $where: $(grep -E '^tps' "$E2E_TMP/pgbench-$where.log" | head -1)"
done

note "extended-protocol pgbench (-M prepared) through the proxy"
"$PGBENCH" -S -n -M prepared -c 2 -t 300 -h 127.0.0.1 -p "$PX" -U trusty app \
	>"$E2E_TMP/pgbench-prep.log" 2>&1 || fail "pgbench -M prepared: $(tail -5 "$E2E_TMP/pgbench-prep.log")"
grep -q "actually processed: 600/600" "$E2E_TMP/pgbench-prep.log" || fail "pgbench -M prepared: $(cat "$E2E_TMP/pgbench-prep.log")"

# No case was configured: no fault event at all.
if grep -q '"fault_applied"' "$E2E_TMP/events.jsonl"; then
	fail "a fault was applied with no case: $(grep fault_applied "$E2E_TMP/events.jsonl" | head -3)"
fi
stop_pg
note "ok"
