// plugins/postgres/tests/node/client.js - the npm pg client through a
// psql:// mapping whose statements mentioning 'victim' get an injected
// error (node.sh): parameterized queries (pg uses the extended protocol
// for them), the injected SQLSTATE, and the connection still usable after
// it, in and out of a transaction block.
// Usage: node client.js PORT SQLSTATE
const { Client } = require('pg');

const [port, code] = [Number(process.argv[2]), process.argv[3]];

function check(cond, what) {
  if (!cond) {
    console.log('FAILED: ' + what);
    process.exit(1);
  }
}

async function expectError(c, text, params, want) {
  try {
    await c.query(text, params);
  } catch (e) {
    check(e.code === want, `${text}: ${e.code} (${e.message}), wanted ${want}`);
    return;
  }
  check(false, `${text}: no error, wanted ${want}`);
}

(async () => {
  // ssl: false: node-postgres treats PGSSLMODE=prefer as require.
  const c = new Client({ host: '127.0.0.1', port, user: 'trusty', database: 'app', ssl: false });
  await c.connect();
  const r = await c.query('select $1::int + 1 as n', [41]);
  check(r.rows[0].n === 42, 'parameterized query: ' + JSON.stringify(r.rows));
  console.log('ok extended protocol');
  await expectError(c, "select $1::text || 'victim'", ['x'], code);
  const n = await c.query('select $1::int as n', [7]);
  check(n.rows[0].n === 7, 'statement after the error');
  console.log('ok injected', code, 'then the next statement');
  await c.query('begin');
  await expectError(c, "select 'victim'", [], code);
  await expectError(c, 'select 1', [], '25P02');
  await c.query('rollback');
  const m = await c.query('select 8 as n');
  check(m.rows[0].n === 8, 'statement after rollback');
  console.log('ok in a transaction block');
  await c.end();
})().catch((e) => {
  console.log('FAILED: ' + e.stack);
  process.exit(1);
});
