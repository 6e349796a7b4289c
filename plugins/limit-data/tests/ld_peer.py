#!/usr/bin/env python3
"""plugins/limit-data/tests/ld_peer.py - peers for limit_data.sh.

Every socket operation has a timeout, so a stalled relay fails the test
instead of hanging it. Client modes print one result line and exit 0, or
print "FAIL: ..." and exit 1.

  server PORTFILE
      listens on 127.0.0.1 (port 0, written to PORTFILE); results go to
      PORTFILE.log. A client's first line picks the behaviour:
        "hold N"  send N bytes, then keep the connection open until the
                  other side closes it (logs "hold eof" or "hold reset");
        "count"   read until EOF; logs "count BYTES" (bytes after the line).
  get PORT PATH
      a raw HTTP/1.0 GET of PATH; reads until the connection ends; prints
      "bytes X end eof|reset" and writes what it got to the file get.out.
  hold PORT N
      sends "hold N"; prints "bytes X end eof|reset eof_ms Y", Y the time
      from the N-th byte to the end.
  push PORT SIZE
      sends "count" and SIZE bytes (a write failure ends the sending),
      then reads until the end; prints "end eof|reset|epipe".
"""

import os
import socket
import sys
import threading
import time

TIMEOUT = 10.0
LOCK = threading.Lock()


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def log(path, line):
    with LOCK, open(path, "a") as f:
        f.write(line + "\n")


def readline(s):
    buf = b""
    while not buf.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            raise EOFError
        buf += b
    return buf.decode().strip()


def handle(c, logpath):
    c.settimeout(TIMEOUT)
    try:
        cmd = readline(c).split()
        if cmd[0] == "hold":
            c.sendall(b"h" * int(cmd[1]))
            try:
                while c.recv(65536):
                    pass
                log(logpath, "hold eof")
            except ConnectionResetError:
                log(logpath, "hold reset")
        elif cmd[0] == "count":
            n = 0
            try:
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    n += len(b)
                log(logpath, "count %d" % n)
            except ConnectionResetError:
                log(logpath, "count %d reset" % n)
    except (OSError, EOFError) as e:
        log(logpath, "error %r" % e)
    finally:
        c.close()


def server(portfile):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c, portfile + ".log"), daemon=True).start()


def read_to_end(s):
    """(bytes, 'eof' or 'reset', time of the end)."""
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data, "eof", time.monotonic()
            data += b
    except ConnectionResetError:
        return data, "reset", time.monotonic()


def main():
    mode = sys.argv[1]
    if mode == "server":
        server(sys.argv[2])
        return
    port = int(sys.argv[2])
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        if mode == "get":
            s.sendall(b"GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" % sys.argv[3].encode())
            data, end, _ = read_to_end(s)
            with open("get.out", "wb") as f:
                f.write(data)
            print("bytes %d end %s" % (len(data), end))
        elif mode == "hold":
            n = int(sys.argv[3])
            s.sendall(b"hold %d\n" % n)
            data, t_n = b"", None
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        end = "eof"
                        break
                    data += b
                    if len(data) >= n and t_n is None:
                        t_n = time.monotonic()
            except ConnectionResetError:
                end = "reset"
            t_end = time.monotonic()
            gap = (t_end - t_n) * 1000 if t_n is not None else -1
            print("bytes %d end %s eof_ms %.1f" % (len(data), end, gap))
        elif mode == "push":
            size = int(sys.argv[3])
            end = None
            try:
                s.sendall(b"count\n" + b"p" * size)
            except (BrokenPipeError, ConnectionResetError):
                end = "epipe"
            if end is None:
                _, end, _ = read_to_end(s)
            print("end %s" % end)
        else:
            fail("unknown mode " + mode)
    except socket.timeout:
        fail("%s: stalled for %.0f s" % (mode, TIMEOUT))


if __name__ == "__main__":
    main()
