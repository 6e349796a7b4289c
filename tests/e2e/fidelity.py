"""tests/e2e/fidelity.py - peers for fidelity.sh.

server PORTFILE
    A request/response server: for every line it reads it answers one
    line at once, so any time a client measures beyond the bare round trip
    is what fault added.
client PORT N OUT
    Sends N one-line requests on one connection, one at a time, and writes
    each round-trip time in ms to OUT (one per line).
ks DIST PARAMS FILE
    Kolmogorov-Smirnov statistic of the samples in FILE against the named
    distribution's CDF; prints "D critical" (alpha 0.01).
"""
import math
import socket
import sys
import time


def server(portfile):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        c, _ = srv.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                c.sendall(line + b"\n")
        c.close()


def client(port, n, out):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for i in range(n):
        t0 = time.monotonic()
        s.sendall(b"%d\n" % i)
        got = b""
        while not got.endswith(b"\n"):
            d = s.recv(4096)
            if not d:
                sys.exit("connection closed early")
            got += d
        times.append((time.monotonic() - t0) * 1000.0)
    s.close()
    with open(out, "w") as f:
        f.write("\n".join("%.4f" % t for t in times) + "\n")


def cdf(dist, p, x):
    if dist == "uniform":
        lo, hi = p
        return min(1.0, max(0.0, (x - lo) / (hi - lo)))
    if dist == "normal":
        mean, sd = p
        return 0.5 * (1.0 + math.erf((x - mean) / (sd * math.sqrt(2.0))))
    if dist == "pareto":
        scale, shape = p
        return 0.0 if x < scale else 1.0 - (scale / x) ** shape
    raise SystemExit("unknown distribution " + dist)


def ks(dist, params, path):
    xs = sorted(float(v) for v in open(path) if v.strip())
    n = len(xs)
    d = 0.0
    for i, x in enumerate(xs):
        f = cdf(dist, params, x)
        d = max(d, f - i / n, (i + 1) / n - f)
    # Critical value of the one-sample KS test at alpha = 0.01.
    print("%.5f %.5f" % (d, 1.628 / math.sqrt(n)))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "server":
        server(sys.argv[2])
    elif mode == "client":
        client(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif mode == "ks":
        ks(sys.argv[2], [float(v) for v in sys.argv[3].split(",")], sys.argv[4])
