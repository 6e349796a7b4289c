#!/usr/bin/env python3
"""plugins/slow-close/tests/sc_peer.py - peers for slow_close.sh.

Times are on the monotonic clock; every socket operation has a timeout so
a stalled relay fails the test instead of hanging it. Client modes print
one result line and exit 0, or print "FAIL: ..." and exit 1.

  server PORTFILE
      listens on 127.0.0.1 (port 0, written to PORTFILE). A client's first
      line picks the behaviour:
        "send N"  send N bytes at once, then close (FIN);
        "recv"    read until EOF; reply "gap_ms X" where X is the time
                  between the last data byte and the EOF; then close.
  ingress PORT N
      asks for N bytes; prints "data_ms A gap_ms B": A from connect() to
      the N-th byte, B from the N-th byte to the EOF.
  egress PORT N
      sends "recv" and N bytes, then shutdown(SHUT_WR); prints
      "gap_ms X" as the server measured it.
"""

import socket
import sys
import threading
import time

TIMEOUT = 10.0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def readline(s):
    buf = b""
    while not buf.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            raise EOFError
        buf += b
    return buf.decode().strip()


def handle(c):
    c.settimeout(TIMEOUT)
    try:
        cmd = readline(c).split()
        if cmd[0] == "send":
            c.sendall(bytes(i % 251 for i in range(int(cmd[1]))))
        elif cmd[0] == "recv":
            last = time.monotonic()
            while True:
                b = c.recv(65536)
                now = time.monotonic()
                if not b:
                    break
                last = now
            c.sendall(("gap_ms %.1f\n" % ((now - last) * 1000)).encode())
    except (OSError, EOFError):
        pass
    finally:
        c.close()


def server(portfile):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def main():
    mode = sys.argv[1]
    if mode == "server":
        server(sys.argv[2])
        return
    port, n = int(sys.argv[2]), int(sys.argv[3])
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        if mode == "ingress":
            s.sendall(b"send %d\n" % n)
            got, t_data = 0, None
            while True:
                b = s.recv(65536)
                now = time.monotonic()
                if not b:
                    break
                got += len(b)
                if got >= n and t_data is None:
                    t_data = now
            if got != n:
                fail("ingress: got %d bytes, want %d" % (got, n))
            print("data_ms %.1f gap_ms %.1f" % ((t_data - t0) * 1000, (now - t_data) * 1000))
        elif mode == "egress":
            s.sendall(b"recv\n" + b"x" * n)
            s.shutdown(socket.SHUT_WR)
            buf = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                buf += b
            line = buf.decode().strip()
            if not line.startswith("gap_ms "):
                fail("egress: server said %r" % line)
            print(line)
        else:
            fail("unknown mode " + mode)
    except socket.timeout:
        fail("%s: stalled for %.0f s" % (mode, TIMEOUT))
    except ConnectionResetError:
        fail("%s: connection reset" % mode)


if __name__ == "__main__":
    main()
