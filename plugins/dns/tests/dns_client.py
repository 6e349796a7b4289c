#!/usr/bin/env python3
"""plugins/dns/tests/dns_client.py - clients for the dns fault tests.

Each connection sends "GET /index.html HTTP/1.0" through the proxy and reads
until EOF. It succeeded when the answer is an HTTP 200 with the expected
body; otherwise (reset, EOF without an answer) it failed, which is what a
TCP mapping gives when the upstream name does not resolve.

  count PORT N EXPECT_BODY_FILE
      N sequential connections; prints "ok=X failed=Y pattern=..." where
      pattern has one character per connection (o ok, x failed).
  binom N P LEVEL
      prints "LO HI", the central LEVEL interval (e.g. 0.99) of a
      binomial(N, P): P(X < LO) <= (1-LEVEL)/2 and P(X > HI) <= (1-LEVEL)/2.
  sched PORT EXPECT_BODY_FILE TAIL_FILE MAX_S
      connections back to back (2 ms apart) until 1.5 s after the "dns off"
      line of the tail (at most MAX_S seconds), recording wall-clock start and end
      of each; then reads the "dns on" / "dns off" lines of fault's --tail
      output and checks every attempt against them (see dns_sched.sh).
"""

import math
import re
import socket
import sys
import time

TIMEOUT = 10.0


def attempt(port, body):
    """True when one proxied HTTP exchange returned the expected body."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    except ConnectionRefusedError:
        return None  # nothing listens: the proxy is gone
    except ConnectionResetError:
        return False  # accepted, then reset before connect() returned
    data = b""
    try:
        s.sendall(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (ConnectionResetError, BrokenPipeError):
        return False
    finally:
        s.close()
    return data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n" + body)


def binom_interval(n, p, level):
    tail = (1 - level) / 2
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    lo, acc = 0, 0.0
    while acc + pmf[lo] <= tail:
        acc += pmf[lo]
        lo += 1
    hi, acc = n, 0.0
    while acc + pmf[hi] <= tail:
        acc += pmf[hi]
        hi -= 1
    return lo, hi


def tail_times(path, fault):
    """Wall-clock times (seconds of the day) of the on/off lines of a fault."""
    on, off = [], []
    pat = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) %s (on|off)$" % re.escape(fault))
    with open(path) as f:
        for line in f:
            m = pat.match(line.rstrip("\n"))
            if m:
                h, mi, s, ms, what = m.groups()
                t = int(h) * 3600 + int(mi) * 60 + int(s) + int(ms) / 1000
                (on if what == "on" else off).append(t)
    return on, off


def day_seconds(t):
    lt = time.localtime(t)
    return lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec + (t % 1)


def main():
    mode = sys.argv[1]
    if mode == "count":
        port, n = int(sys.argv[2]), int(sys.argv[3])
        body = open(sys.argv[4], "rb").read()
        pattern = ""
        for _ in range(n):
            r = attempt(port, body)
            if r is None:
                print("FAIL: the proxy stopped accepting", flush=True)
                return 1
            pattern += "o" if r else "x"
        print("ok=%d failed=%d pattern=%s" % (pattern.count("o"), pattern.count("x"), pattern))
        return 0
    if mode == "binom":
        lo, hi = binom_interval(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
        print(lo, hi)
        return 0
    if mode == "sched":
        port = int(sys.argv[2])
        body = open(sys.argv[3], "rb").read()
        tail, max_s = sys.argv[4], float(sys.argv[5])
        attempts = []
        deadline = time.monotonic() + max_s
        stop_at, checked = None, 0.0
        while True:
            if time.monotonic() > deadline:
                print("FAIL: no 'dns off' line after %.0f s" % max_s, flush=True)
                return 1
            # Stop 1.5 s after the fault went off: well before the run's end
            # (2 s later), where connections are closed by the shutdown
            # rather than by the fault. Look for the line every 50 ms.
            if stop_at is None and time.monotonic() - checked > 0.05:
                checked = time.monotonic()
                off = tail_times(tail, "dns")[1]
                if off:
                    stop_at = off[0] + 1.5
            if stop_at is not None and day_seconds(time.time()) > stop_at:
                break
            t0 = time.time()
            r = attempt(port, body)
            t1 = time.time()
            if r is None:
                print("FAIL: the proxy stopped accepting", flush=True)
                return 1
            attempts.append((day_seconds(t0), day_seconds(t1), r))
            # Pacing, not synchronisation: a few hundred connections a
            # second are plenty and keep the loaded test machine usable.
            time.sleep(0.002)
        on, off = tail_times(tail, "dns")
        if len(on) != 1 or len(off) != 1:
            print("FAIL: expected one 'dns on' and one 'dns off' line, got %d and %d" % (len(on), len(off)))
            return 1
        # Seconds of the day wrap at midnight: count from the first attempt.
        base = attempts[0][0]

        def norm(t):
            d = t - base
            return d + 86400 if d < -43200 else d

        attempts = [(norm(t0), norm(t1), ok) for t0, t1, ok in attempts]
        t_on, t_off = norm(on[0]), norm(off[0])
        # The tail's times are printed to the millisecond (truncated), and
        # a connection is decided between our connect() and its end: 5 ms
        # absorbs the truncation and the clock read on each side.
        tol = 0.005
        before = inside = after = 0
        for t0, t1, ok in attempts:
            if not ok:
                if t1 < t_on - tol or t0 > t_off + tol:
                    print("FAIL: an attempt at %.3f..%.3f failed outside the window %.3f..%.3f"
                          % (t0, t1, t_on, t_off))
                    return 1
                inside += 1
            else:
                if t0 > t_on + tol and t1 < t_off - tol:
                    print("FAIL: an attempt at %.3f..%.3f succeeded inside the window %.3f..%.3f"
                          % (t0, t1, t_on, t_off))
                    return 1
                if t1 <= t_on + tol:
                    before += 1
                elif t0 >= t_off - tol:
                    after += 1
        print("window_ms=%d before_ok=%d failed=%d after_ok=%d attempts=%d"
              % (round((t_off - t_on) * 1000), before, inside, after, len(attempts)))
        return 0
    print("unknown mode " + mode)
    return 2


if __name__ == "__main__":
    sys.exit(main())
