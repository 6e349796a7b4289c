"""plugins/postgres/tests/pgclient.py - the client side of the postgres
plugin's tests: real drivers (psycopg2, and psycopg 3 for the extended
protocol and pipelining) talking through the proxy.

Usage: pgclient.py CHECK PORT [ARGS...]; prints "ok CHECK ..." lines and
exits 0 when every assertion held, 1 (with the reason) otherwise.
"""
import sys
import threading
import time

import psycopg2

try:
    import psycopg
except ImportError:  # psycopg 3 is optional: its checks are skipped
    psycopg = None


def dsn(port, user="trusty", password=None):
    s = "host=127.0.0.1 port=%d user=%s dbname=app" % (port, user)
    if password:
        s += " password=%s" % password
    return s


def check(cond, what):
    if not cond:
        print("FAILED: %s" % what)
        sys.exit(1)


def ok(*words):
    print("ok", *words)
    sys.stdout.flush()


def basic(port):
    """Simple and extended protocols, COPY, notifications, SCRAM."""
    c = psycopg2.connect(dsn(port))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("drop table if exists t; create table t(id int primary key, v text)")
    cur.execute("insert into t values (%s, %s), (%s, %s)", (1, "one", 2, "two"))
    cur.execute("prepare byid(int) as select v from t where id = $1")
    cur.execute("execute byid(2)")
    check(cur.fetchall() == [("two",)], "PREPARE/EXECUTE through the proxy")
    ok("psycopg2 prepared statements")
    # A large result crosses many reads.
    cur.execute("select repeat('x', 1000) from generate_series(1, 5000)")
    rows = cur.fetchall()
    check(len(rows) == 5000 and rows[-1][0] == "x" * 1000, "large result")
    ok("large result")
    # COPY both ways.
    import io
    buf = io.StringIO("".join("%d\tcopied%d\n" % (i, i) for i in range(10, 1010)))
    cur.copy_expert("copy t (id, v) from stdin", buf)
    out = io.StringIO()
    cur.copy_expert("copy (select id, v from t where id >= 10 order by id) to stdout", out)
    lines = out.getvalue().splitlines()
    check(len(lines) == 1000 and lines[0] == "10\tcopied10", "COPY in and out")
    ok("copy in and out")
    # LISTEN/NOTIFY from another session reaches this one.
    cur.execute("listen chan")
    o = psycopg2.connect(dsn(port))
    o.autocommit = True
    o.cursor().execute("notify chan, 'hello'")
    deadline = time.monotonic() + 5
    import select
    got = None
    while time.monotonic() < deadline and got is None:
        select.select([c], [], [], 0.2)
        c.poll()
        if c.notifies:
            got = c.notifies.pop(0)
    check(got is not None and got.payload == "hello", "NOTIFY payload through the proxy")
    ok("notifications")
    o.close()
    # SCRAM-SHA-256.
    s = psycopg2.connect(dsn(port, "scrammy", "s3cret"))
    sc = s.cursor()
    sc.execute("select current_user")
    check(sc.fetchone()[0] == "scrammy", "SCRAM login")
    s.close()
    try:
        psycopg2.connect(dsn(port, "scrammy", "wrong"))
        check(False, "a wrong password was accepted")
    except psycopg2.OperationalError as e:
        check("password authentication failed" in str(e), "wrong password: %s" % e)
    ok("scram")
    if psycopg is None:
        ok("extended protocol skipped (no psycopg 3)")
        return
    with psycopg.connect(dsn(port), autocommit=True) as c3:
        for i in range(5):
            r = c3.execute("select v, %s::int from t where id = %s", (i, 1), prepare=True).fetchall()
            check(r == [("one", i)], "prepared execution %d: %r" % (i, r))
        ok("psycopg extended protocol, server-side prepared")
        with c3.pipeline():
            curs = [c3.execute("select %s::int * 2", (i,)) for i in range(50)]
        check([x.fetchone()[0] for x in curs] == [i * 2 for i in range(50)], "pipeline results")
        ok("pipeline")
        with c3.cursor() as cc:
            with cc.copy("copy t (id, v) from stdin") as cp:
                for i in range(2000, 2100):
                    cp.write_row((i, "x%d" % i))
        n = c3.execute("select count(*) from t where id >= 2000").fetchone()[0]
        check(n == 100, "extended COPY FROM STDIN: %d rows" % n)
        check(c3.execute("select 7").fetchone()[0] == 7, "statement after extended COPY")
        ok("extended copy")


def cancel(port):
    """conn.cancel() during pg_sleep cancels the query (57014), and only
    that session's: another session sleeping beside it is not touched. A
    CancelRequest with a key no session has changes nothing either."""
    import socket
    import struct
    bogus = socket.create_connection(("127.0.0.1", port))
    bogus.sendall(struct.pack(">IIII", 16, 80877102, 12345, 67890))
    bogus.settimeout(5)
    check(bogus.recv(16) == b"", "the proxy answered a CancelRequest")
    bogus.close()
    other = psycopg2.connect(dsn(port))
    ocur = other.cursor()
    result = {}

    def sleeper():
        t = time.monotonic()
        try:
            ocur.execute("select pg_sleep(1.5), 'survived'")
            result["other"] = (ocur.fetchone()[1], time.monotonic() - t)
        except psycopg2.Error as e:
            result["other"] = (e.pgcode, time.monotonic() - t)

    sl = threading.Thread(target=sleeper)
    sl.start()
    c = psycopg2.connect(dsn(port))
    cur = c.cursor()

    def later():
        time.sleep(0.5)
        c.cancel()

    th = threading.Thread(target=later)
    t0 = time.monotonic()
    th.start()
    try:
        cur.execute("select pg_sleep(20)")
        check(False, "pg_sleep was not cancelled")
    except psycopg2.Error as e:
        check(e.pgcode == "57014", "cancel gave %s" % e.pgcode)
    el = time.monotonic() - t0
    th.join()
    check(el < 10, "cancel took %.2f s" % el)
    c.rollback()
    cur.execute("select 1")
    check(cur.fetchone()[0] == 1, "statement after the cancel")
    sl.join(10)
    check(result.get("other", ("", 0))[0] == "survived",
          "the other session's statement: %r" % (result.get("other"),))
    ok("cancel", "%.2f" % el, "other session untouched")


def inject(port, code):
    """--pg-case error-injection (or deadlock) on statements mentioning
    'victim': the chosen SQLSTATE, and the next statement works, inside
    and outside a transaction block, simple and extended protocols."""
    c = psycopg2.connect(dsn(port))
    cur = c.cursor()
    cur.execute("select 1")  # psycopg2 opened a transaction block
    try:
        cur.execute("select 'victim'")
        check(False, "no error injected")
    except psycopg2.Error as e:
        check(e.pgcode == code, "in a block: %s, wanted %s" % (e.pgcode, code))
    check(c.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INERROR,
          "transaction status after the error: %d" % c.get_transaction_status())
    try:
        cur.execute("select 2")
        check(False, "the aborted block accepted a statement")
    except psycopg2.Error as e:
        check(e.pgcode == "25P02", "in the aborted block: %s" % e.pgcode)
    c.rollback()
    cur.execute("select 3")
    check(cur.fetchone()[0] == 3, "statement after ROLLBACK")
    c.commit()
    ok("inject in a transaction block", code)
    c.autocommit = True
    try:
        cur.execute("select 'victim'")
        check(False, "no error injected (autocommit)")
    except psycopg2.Error as e:
        check(e.pgcode == code, "autocommit: %s" % e.pgcode)
    cur.execute("select 4")
    check(cur.fetchone()[0] == 4, "next statement (autocommit)")
    ok("inject outside a block", code)
    if psycopg is None:
        return
    with psycopg.connect(dsn(port), autocommit=True) as c3:
        try:
            c3.execute("select %s::text || 'victim'", ("x",), prepare=True)
            check(False, "no error injected (extended)")
        except psycopg.Error as e:
            check(e.sqlstate == code, "extended: %s" % e.sqlstate)
        check(c3.execute("select %s::int", (5,)).fetchone()[0] == 5, "next (extended)")
        try:
            with c3.pipeline():
                a = c3.execute("select %s::int", (6,))
                c3.execute("select %s::text || 'victim'", ("y",))
                c3.execute("select %s::int", (7,))
            check(False, "no error injected (pipeline)")
        except psycopg.Error as e:
            check(e.sqlstate == code, "pipeline: %s" % e.sqlstate)
        check(a.fetchone()[0] == 6, "the statement before the error in the pipeline")
        check(c3.execute("select %s::int", (8,)).fetchone()[0] == 8, "next (pipeline)")
    ok("inject extended and pipelined", code)


def fatal(port, code):
    """A FATAL injected code closes the connection; new ones work. (libpq
    reports a FATAL error followed by the close as "server closed the
    connection unexpectedly", with no SQLSTATE, for a real server too: the
    text itself is checked with psql by cases.sh.)"""
    c = psycopg2.connect(dsn(port))
    c.autocommit = True
    cur = c.cursor()
    try:
        cur.execute("select 'victim'")
        check(False, "no FATAL error")
    except psycopg2.OperationalError:
        pass
    check(c.closed != 0, "the connection is still open after FATAL")
    c2 = psycopg2.connect(dsn(port))
    c2.autocommit = True
    c2.cursor().execute("select 1")
    ok("fatal closes", code)


def slow(port, mean_ms):
    """slow-query delays matching statements, not the others."""
    c = psycopg2.connect(dsn(port))
    c.autocommit = True
    cur = c.cursor()
    mean = float(mean_ms) / 1000.0
    for _ in range(3):
        t0 = time.monotonic()
        cur.execute("select 'slowpoke'")
        el = time.monotonic() - t0
        # The delay is a lower bound (timer granularity: 5 ms tolerance).
        check(el >= mean - 0.005, "matching statement took %.3f s < %.3f" % (el, mean))
        t0 = time.monotonic()
        cur.execute("select 'quick'")
        fast = time.monotonic() - t0
        check(fast < mean / 2, "other statement took %.3f s" % fast)
    ok("slow-query", "%.3f" % el, "%.3f" % fast)


def reset_commit(port):
    """conn-reset at commit: the client loses the connection, the row is
    committed anyway."""
    c = psycopg2.connect(dsn(port))
    cur = c.cursor()
    cur.execute("create table if not exists r(id int)")
    c.commit()
    cur.execute("insert into r values (42)")  # matches: the txn is watched
    try:
        c.commit()
        check(False, "COMMIT answered")
    except psycopg2.OperationalError:
        pass
    check(c.closed != 0, "connection still open after the reset")
    ok("reset after commit")


def reset_result(port):
    c = psycopg2.connect(dsn(port))
    cur = c.cursor()
    try:
        cur.execute("select 'victim', g from generate_series(1, 1000) g")
        check(False, "the result arrived whole")
    except psycopg2.OperationalError:
        pass
    c2 = psycopg2.connect(dsn(port))
    c2.cursor().execute("select 1")
    ok("reset mid-result")


def latency(port, ms):
    """An ordinary stream fault (--with-latency --latency-per-read-write)
    delays psql:// traffic: every statement takes at least the delay."""
    c = psycopg2.connect(dsn(port))
    c.autocommit = True
    cur = c.cursor()
    for i in range(3):
        t0 = time.monotonic()
        cur.execute("select %s", (i,))
        check(cur.fetchone()[0] == i, "result through latency")
        el = time.monotonic() - t0
        check(el >= float(ms) / 1000 - 0.005, "statement took %.3f s" % el)
    ok("stream latency", "%.3f" % el)


def draws(port, n):
    """Prints which of n matching statements got the injected error, as a
    string of 0 and 1 (seeded decisions must repeat with the seed)."""
    c = psycopg2.connect(dsn(port))
    c.autocommit = True
    cur = c.cursor()
    bits = ""
    for i in range(int(n)):
        try:
            cur.execute("select 'victim', %s", (i,))
            bits += "0"
        except psycopg2.Error as e:
            check(e.pgcode == "40001", "draw %d: %s" % (i, e.pgcode))
            bits += "1"
    print(bits)


def corrupt(port):
    """data-corruption at rate 1: every row of a matching result has one
    value altered, same length and still a valid number or word; other
    results are intact."""
    c = psycopg2.connect(dsn(port))
    c.autocommit = True
    cur = c.cursor()
    q = "select 'victim' as w, g * 1000 + 345 as n, 'abcdef' as t from generate_series(1, 20) g"
    cur.execute(q)
    rows = cur.fetchall()
    check(len(rows) == 20, "%d rows" % len(rows))
    altered = 0
    for i, (w, n, t) in enumerate(rows):
        want = ("victim", (i + 1) * 1000 + 345, "abcdef")
        got = (w, n, t)
        diff = [k for k in range(3) if got[k] != want[k]]
        check(len(diff) <= 1, "row %d: %r has more than one value altered" % (i, got))
        check(len(str(n)) == len(str(want[1])), "row %d: the number changed length: %r" % (i, n))
        check(isinstance(n, int), "row %d: the number is no longer one: %r" % (i, n))
        check(len(w) == 6 and len(t) == 6 and w.isalpha() and t.isalpha(), "row %d: %r" % (i, got))
        altered += len(diff)
    check(altered >= 18, "only %d of 20 rows altered at rate 1" % altered)
    cur.execute("select 'intact', 12345 from generate_series(1, 5)")
    check(cur.fetchall() == [("intact", 12345)] * 5, "a non-matching result was altered")
    ok("data-corruption", altered, "of 20 rows")


def stale(port):
    """stale-reads at probability 1 on 'select v from kv where k = 1': the
    first answer is recorded, later ones replay it after the row changed;
    other statements see the change."""
    c = psycopg2.connect(dsn(port))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("create table if not exists kv(k int primary key, v text)")
    cur.execute("insert into kv values (1, 'old') on conflict (k) do update set v = 'old'")
    cur.execute("select v from kv where k = 1")
    check(cur.fetchall() == [("old",)], "first read")
    cur.execute("update kv set v = 'new' where k = 1")
    check(cur.rowcount == 1, "update")
    for _ in range(3):
        cur.execute("select v from kv where k = 1")
        check(cur.fetchall() == [("old",)], "the read was not stale")
        check(cur.statusmessage == "SELECT 1", "status: %s" % cur.statusmessage)
    cur.execute("select v from kv where k=1")
    check(cur.fetchall() == [("new",)], "another statement did not see the change")
    c.cursor().execute("begin")
    cur.execute("select v from kv where k = 1")
    check(cur.fetchall() == [("old",)], "stale inside a transaction block")
    cur.execute("commit")
    ok("stale-reads")
    if psycopg is None:
        return
    # The extended protocol (Parse/Bind/Describe/Execute/Sync): results
    # are kept per statement and parameters, with the unnamed statement
    # and with a prepared one.
    cur.execute("insert into kv values (2, 'two') on conflict (k) do update set v = 'two'")
    with psycopg.connect(dsn(port), autocommit=True) as c3:
        q = "select v from kv where k = %s"
        for prepare in (False, True):
            check(c3.execute(q, (1,), prepare=prepare).fetchall() == [("new",)], "first extended read")
            check(c3.execute(q, (2,), prepare=prepare).fetchall() == [("two",)], "k = 2")
            cur.execute("update kv set v = v || '+' where k in (1, 2)")
            for _ in range(2):
                r = c3.execute(q, (1,), prepare=prepare)
                check(r.fetchall() == [("new",)], "extended read not stale (prepare=%s)" % prepare)
                check(r.statusmessage == "SELECT 1", "extended status: %s" % r.statusmessage)
                check(c3.execute(q, (2,), prepare=prepare).fetchall() == [("two",)],
                      "the other parameter's result was not its own")
            # Another statement sees the rows as they are.
            check(c3.execute("select v from kv where k = %s + 0", (1,)).fetchall() ==
                  [("new+",)], "another extended statement")
            cur.execute("update kv set v = 'new' where k = 1; update kv set v = 'two' where k = 2")
        # Pipelined: the stale result lands on its own statement.
        with c3.pipeline():
            a = c3.execute("select %s::int", (7,))
            b = c3.execute(q, (1,))
            d = c3.execute("select %s::int", (8,))
        check(a.fetchone()[0] == 7 and b.fetchall() == [("new",)] and d.fetchone()[0] == 8,
              "pipelined stale read")
    ok("stale-reads extended")


def raw_session(port):
    """A session opened by hand (trust authentication) and read up to its
    first ReadyForQuery: what comes next on the socket is the server's."""
    import socket
    import struct
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    params = b"user\0trusty\0database\0app\0\0"
    s.sendall(struct.pack(">ii", 8 + len(params), 196608) + params)
    buf = b""
    while True:
        while len(buf) >= 5:
            n = struct.unpack(">i", buf[1:5])[0]
            if len(buf) < 1 + n:
                break
            typ, buf = buf[:1], buf[1 + n:]
            check(typ != b"E", "the raw session was refused")
            if typ == b"Z":
                check(buf == b"", "bytes after ReadyForQuery")
                return s
        x = s.recv(4096)
        check(x, "the raw session was closed during startup")
        buf += x


def failover(port, refuse_s, read_only_s):
    """--pg-case failover (with --pg-sched start:...): the open session
    gets FATAL 57P01 and is closed; new connections are refused (FATAL
    57P03) for about refuse_s; then reads work and writes fail with 25006
    for about read_only_s; then writes work again. Prints what the client
    saw, with the measured windows."""
    refuse_s, read_only_s = float(refuse_s), float(read_only_s)
    try:
        c = psycopg2.connect(dsn(port))
    except psycopg2.OperationalError as e:
        check(False, "the failover came before the client connected (too slow?): %s" % e)
    c.autocommit = True
    cur = c.cursor()
    cur.execute("create table if not exists fo(id int)")
    raw = raw_session(port)
    # The failover comes while the sessions are idle: the next statement
    # hears of it (bounded poll).
    deadline = time.monotonic() + 30
    err = None
    while time.monotonic() < deadline and err is None:
        try:
            cur.execute("select 1")
            time.sleep(0.02)
        except psycopg2.Error as e:
            err = e
    t_fo = time.monotonic()
    check(err is not None, "no failover within 30 s")
    # libpq says this for a real server's pg_terminate_backend() too: the
    # FATAL error before the close is lost to the failed write. The raw
    # session reads it.
    check(isinstance(err, psycopg2.OperationalError), "failover raised %r" % err)
    check("server closed the connection unexpectedly" in str(err) or
          "terminating connection due to administrator command" in str(err),
          "psycopg2 said: %s" % err)
    check(c.closed != 0, "the session is still open after the failover")
    raw.settimeout(10)
    got = b""
    while True:
        x = raw.recv(4096)
        if not x:
            break
        got += x
    check(got[:1] == b"E" and b"SFATAL\0" in got and b"C57P01\0" in got and
          b"Mterminating connection due to administrator command\0" in got,
          "the idle session got %r, not FATAL 57P01 then the close" % got)
    ok("failover: session terminated", type(err).__name__, "(FATAL 57P01 on the wire)")
    # New connections are refused until the window ends.
    refused = 0
    c2 = None
    while c2 is None and time.monotonic() < t_fo + refuse_s + 10:
        try:
            c2 = psycopg2.connect(dsn(port))
        except psycopg2.OperationalError as e:
            check("the database system is starting up" in str(e), "refused with: %s" % e)
            refused += 1
            time.sleep(0.02)
    t_up = time.monotonic()
    check(c2 is not None, "still refused %.1f s after the failover" % (t_up - t_fo))
    check(refused >= 1, "no connection was refused")
    # The window starts a little before the client noticed (the poll).
    check(t_up - t_fo >= refuse_s - 0.25,
          "connections accepted %.3f s after the failover (window %.3f s)" % (t_up - t_fo, refuse_s))
    ok("failover: connections refused", refused, "times for %.3f s" % (t_up - t_fo))
    # Then a standby being promoted: reads work, writes fail with 25006.
    c2.autocommit = True
    cur = c2.cursor()
    readonly = 0
    wrote = False
    while not wrote and time.monotonic() < t_up + read_only_s + 10:
        cur.execute("select 2")
        check(cur.fetchone()[0] == 2, "a read during the read-only phase")
        try:
            cur.execute("insert into fo values (1)")
            wrote = True
        except psycopg2.Error as e:
            check(e.pgcode == "25006", "a write failed with %s: %s" % (e.pgcode, e))
            readonly += 1
            time.sleep(0.02)
    t_rw = time.monotonic()
    check(wrote, "writes still fail %.1f s later" % (t_rw - t_up))
    check(readonly >= 1, "no write failed with 25006")
    check(t_rw - t_up >= read_only_s - 0.25,
          "writes accepted %.3f s after the refusal (read-only %.3f s)" % (t_rw - t_up, read_only_s))
    # The same session goes on: its transaction state is sound.
    cur.execute("select count(*) from fo")
    check(cur.fetchone()[0] >= 1, "the write after the failover is not there")
    ok("failover: writes failed", readonly, "times with 25006 for %.3f s" % (t_rw - t_up))


CHECKS = {"failover": failover, "stale": stale, "corrupt": corrupt, "draws": draws, "latency": latency, "basic": basic, "cancel": cancel, "inject": inject, "fatal": fatal, "slow": slow,
          "reset_commit": reset_commit, "reset_result": reset_result}

if __name__ == "__main__":
    CHECKS[sys.argv[1]](int(sys.argv[2]), *sys.argv[3:])
