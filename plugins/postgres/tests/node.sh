#!/bin/bash
# plugins/postgres/tests/node.sh - the npm `pg` client (node-postgres)
# through a psql:// mapping with error-injection (node/client.js), and
# with failover (node/failover.js).
# Needs node and the client installed beside the test:
#   npm ci --prefix plugins/postgres/tests/node
# (skipped, 77, without them).
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/plugins/postgres/tests/common.sh"

NODE_DIR=$top_srcdir/plugins/postgres/tests/node
command -v node >/dev/null 2>&1 || skip "node is not installed"
[ -d "$NODE_DIR/node_modules/pg" ] ||
	skip "the npm pg client is not installed: npm ci --prefix plugins/postgres/tests/node"

start_pg
start_pg_proxy --pg-case error-injection --pg-error-code 40001 --pg-statement victim
node "$NODE_DIR/client.js" "$PX" 40001 || fail "node-postgres checks failed"
stop_pid "$FAULT_PID"
start_pg_proxy --pg-case failover --pg-sched start:5s --pg-failover-refuse 1s \
	--pg-failover-read-only 1s
node "$NODE_DIR/failover.js" "$PX" || fail "node-postgres failover checks failed"
stop_pg
note "ok"
