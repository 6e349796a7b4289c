#!/usr/bin/env python3
"""plugins/slicer/tests/sl_client.py - the client of slicer.sh.

  get PORT PATH BUFSIZE BODYFILE LO HI
      a raw HTTP/1.0 GET of PATH through the proxy, read with recv(BUFSIZE)
      until EOF (every recv has a 10 s timeout). Writes the body to
      BODYFILE and prints
        "bytes B reads R mean M median D in_range F secs S"
      B bytes received in all (headers included), R recv() calls that
      returned data, M and D their mean and median size, F the fraction of
      them whose size lies within [LO, HI], S the time from the request to
      the EOF.
"""

import socket
import statistics
import sys
import time


def main():
    if sys.argv[1] != "get":
        print("FAIL: unknown mode " + sys.argv[1])
        return 1
    port, path, bufsize = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    bodyfile, lo, hi = sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
    s = socket.create_connection(("127.0.0.1", port), timeout=10.0)
    t0 = time.monotonic()
    s.sendall(b"GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" % path.encode())
    sizes, parts = [], []
    try:
        while True:
            b = s.recv(bufsize)
            if not b:
                break
            sizes.append(len(b))
            parts.append(b)
    except socket.timeout:
        print("FAIL: stalled for 10 s after %d bytes" % sum(sizes))
        return 1
    secs = time.monotonic() - t0
    data = b"".join(parts)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or not head.split(b" ")[1:2] == [b"200"]:
        print("FAIL: not a 200 response: %r" % data[:60])
        return 1
    with open(bodyfile, "wb") as f:
        f.write(body)
    inr = sum(1 for n in sizes if lo <= n <= hi) / len(sizes)
    print("bytes %d reads %d mean %.1f median %.1f in_range %.3f secs %.3f"
          % (len(data), len(sizes), statistics.mean(sizes), statistics.median(sizes), inr, secs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
