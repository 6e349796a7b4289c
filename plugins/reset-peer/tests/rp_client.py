#!/usr/bin/env python3
"""plugins/reset-peer/tests/rp_client.py - clients for reset_peer.sh.

Every mode connects to 127.0.0.1:PORT (the proxy, in front of nginx),
prints one result line and exits 0, or prints "FAIL: ..." and exits 1.
Times are measured from just before connect() on the monotonic clock (the
one fault uses), so they can only overstate how long fault waited.

  idle PORT
      send nothing; wait (<= 10 s) for the connection to end. Prints
      "reset after MS ms" for an RST; an EOF or data is a failure.
  busy PORT
      HTTP/1.1 keep-alive requests for /index.html, one every 20 ms (each
      response read completely; the pacing keeps us under nginx's
      keepalive_requests) until the connection ends. Prints
      "reset after MS ms, N responses"; an EOF is a failure.
  request PORT
      one request; the connection must be reset before any response byte.
      Prints "reset after MS ms, 0 bytes".
  quiet-then-request PORT QUIET_MS
      send nothing for QUIET_MS: the connection must stay open (no RST,
      no EOF) during that time; then one request, which must be reset
      before any response byte. Prints "quiet QUIET_MS ms, then reset".
"""

import socket
import sys
import time

TIMEOUT = 10.0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def ms_since(t0):
    return (time.monotonic() - t0) * 1000.0


def connect(port):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return s, t0


REQ = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"


def read_response(s, buf):
    """Reads one HTTP response with Content-Length; returns the leftover."""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise EOFError
        buf += b
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        b = s.recv(65536)
        if not b:
            raise EOFError
        rest += b
    return rest[length:]


def expect_reset(s, t0, what):
    try:
        b = s.recv(65536)
    except ConnectionResetError:
        return ms_since(t0)
    except socket.timeout:
        fail("%s: no reset within %.0f s" % (what, TIMEOUT))
    if b:
        fail("%s: got %d bytes instead of a reset: %r" % (what, len(b), b[:40]))
    fail("%s: EOF (FIN) instead of a reset after %.1f ms" % (what, ms_since(t0)))


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "idle":
        s, t0 = connect(port)
        print("reset after %.1f ms" % expect_reset(s, t0, "idle"))
    elif mode == "busy":
        s, t0 = connect(port)
        n, buf = 0, b""
        try:
            while True:
                s.sendall(REQ)
                buf = read_response(s, buf)
                n += 1
                time.sleep(0.02)
        except (ConnectionResetError, BrokenPipeError):
            print("reset after %.1f ms, %d responses" % (ms_since(t0), n))
        except EOFError:
            fail("busy: EOF instead of a reset after %.1f ms, %d responses" % (ms_since(t0), n))
        except socket.timeout:
            fail("busy: stalled %.0f s after %d responses" % (TIMEOUT, n))
    elif mode == "request":
        s, t0 = connect(port)
        s.sendall(REQ)
        print("reset after %.1f ms, 0 bytes" % expect_reset(s, t0, "request"))
    elif mode == "quiet-then-request":
        quiet = float(sys.argv[3]) / 1000.0
        s, t0 = connect(port)
        s.settimeout(quiet)
        try:
            b = s.recv(65536)
            fail("quiet: the connection ended or carried data while nothing was sent: %r" % b[:40])
        except socket.timeout:
            pass
        except ConnectionResetError:
            fail("quiet: reset after %.1f ms though nothing was sent" % ms_since(t0))
        s.settimeout(TIMEOUT)
        s.sendall(REQ)
        expect_reset(s, t0, "quiet-then-request")
        print("quiet %.0f ms, then reset" % (quiet * 1000))
    else:
        fail("unknown mode " + mode)


if __name__ == "__main__":
    main()
