// plugins/postgres/tests/node/failover.js - the npm pg client through a
// psql:// mapping with --pg-case failover (node.sh): the idle client hears
// FATAL 57P01 (its 'error' event); new connections fail with 57P03 until
// the refusal window ends; then writes fail with 25006 (reads work) until
// the read-only window ends; then writes work.
// Usage: node failover.js PORT
const { Client } = require('pg');

const port = Number(process.argv[2]);
const opts = { host: '127.0.0.1', port, user: 'trusty', database: 'app', ssl: false };

function check(cond, what) {
  if (!cond) {
    console.log('FAILED: ' + what);
    process.exit(1);
  }
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const c = new Client(opts);
  await c.connect();
  await c.query('create table if not exists fo_node(id int)');
  // The failover comes while the client is idle (bounded wait).
  const err = await new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), 30000);
    c.on('error', (e) => {
      clearTimeout(t);
      resolve(e);
    });
  });
  check(err !== null, 'no error event within 30 s');
  check(err.code === '57P01', `the idle client got ${err.code} (${err.message}), wanted 57P01`);
  console.log('ok failover: idle client got', err.code, err.message);
  // Refused with 57P03 until the window ends.
  let refused = 0;
  let c2 = null;
  const t0 = Date.now();
  while (!c2 && Date.now() - t0 < 20000) {
    const x = new Client(opts);
    x.on('error', () => {});
    try {
      await x.connect();
      c2 = x;
    } catch (e) {
      check(e.code === '57P03', `connect failed with ${e.code} (${e.message}), wanted 57P03`);
      refused += 1;
      await pause(20);
    }
  }
  check(c2 !== null, 'still refused after 20 s');
  check(refused >= 1, 'no connection was refused');
  console.log('ok failover: refused', refused, 'times (57P03)');
  // Writes fail with 25006, reads work, until they do not.
  let readonly = 0;
  let wrote = false;
  while (!wrote && Date.now() - t0 < 40000) {
    const r = await c2.query('select $1::int as n', [5]);
    check(r.rows[0].n === 5, 'a read during the read-only phase');
    try {
      await c2.query('insert into fo_node values ($1)', [1]);
      wrote = true;
    } catch (e) {
      check(e.code === '25006', `a write failed with ${e.code} (${e.message}), wanted 25006`);
      readonly += 1;
      await pause(20);
    }
  }
  check(wrote, 'writes still fail');
  check(readonly >= 1, 'no write failed with 25006');
  console.log('ok failover: writes failed', readonly, 'times (25006), then worked');
  await c2.end();
})().catch((e) => {
  console.log('FAILED: ' + e.stack);
  process.exit(1);
});
