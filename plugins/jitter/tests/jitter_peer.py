#!/usr/bin/env python3
"""plugins/jitter/tests/jitter_peer.py - steady traffic through a proxy.

usage: jitter_peer.py UPSTREAM_PORT PROXY_PORT SECONDS SPACING_MS...

Listens on UPSTREAM_PORT (the proxy's upstream). For each SPACING_MS, in
order, a client connects to PROXY_PORT (the next one only once the
previous is accepted, so the proxy numbers them in this order) and the
upstream side sends it a 64-byte chunk every SPACING_MS for SECONDS: an
8-byte index, an 8-byte send time, 48 random bytes. All connections then
run at once. For each connection one line is printed:
  conn=K spacing_ms=S chunks=N span=SECONDS_BETWEEN_FIRST_AND_LAST_SEND
  same=1|0 (the client received exactly the bytes sent, in order: sha256)
  max_late_ms=M (largest arrival - send time of a chunk)
  late5=L (chunks that arrived 5 ms or more after they were sent)
"""
import hashlib
import os
import socket
import struct
import sys
import threading
import time

up_port, proxy_port = int(sys.argv[1]), int(sys.argv[2])
seconds = float(sys.argv[3])
spacings = [float(a) for a in sys.argv[4:]]
CHUNK = 64

lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", up_port))
lsock.listen(len(spacings))
lsock.settimeout(10)

results = {}


def send(k, conn, spacing, start):
    h = hashlib.sha256()
    n = 0
    first = last = None
    while True:
        due = start + n * spacing / 1000.0
        if due - start >= seconds:
            break
        d = due - time.monotonic()
        if d > 0:
            time.sleep(d)
        now = time.monotonic()
        data = struct.pack("<qd", n, now) + os.urandom(CHUNK - 16)
        conn.sendall(data)
        h.update(data)
        first = now if first is None else first
        last = now
        n += 1
    conn.shutdown(socket.SHUT_WR)
    results[k]["sent"] = (h.hexdigest(), n, last - first)


def receive(k, conn):
    h = hashlib.sha256()
    buf = b""
    max_late = 0.0
    late5 = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        now = time.monotonic()
        h.update(data)
        buf += data
        while len(buf) >= CHUNK:
            _, sent_at = struct.unpack("<qd", buf[:16])
            buf = buf[CHUNK:]
            late = (now - sent_at) * 1000
            max_late = max(max_late, late)
            if late >= 5:
                late5 += 1
    results[k]["received"] = (h.hexdigest(), max_late, late5)


pairs = []
for k, spacing in enumerate(spacings, 1):
    c = socket.create_connection(("127.0.0.1", proxy_port))
    u, _ = lsock.accept()
    results[k] = {}
    pairs.append((k, c, u, spacing))
start = time.monotonic() + 0.05
threads = []
for k, c, u, spacing in pairs:
    threads.append(threading.Thread(target=send, args=(k, u, spacing, start)))
    threads.append(threading.Thread(target=receive, args=(k, c)))
for t in threads:
    t.start()
for t in threads:
    t.join(seconds + 30)
for k, _, _, spacing in pairs:
    r = results[k]
    if "sent" not in r or "received" not in r:
        print("conn=%d did not finish" % k)
        sys.exit(1)
    sha_s, n, span = r["sent"]
    sha_r, max_late, late5 = r["received"]
    print("conn=%d spacing_ms=%g chunks=%d span=%.3f same=%d max_late_ms=%.1f late5=%d"
          % (k, spacing, n, span, int(sha_s == sha_r), max_late, late5))
