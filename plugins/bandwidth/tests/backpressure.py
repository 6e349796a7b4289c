#!/usr/bin/env python3
"""plugins/bandwidth/tests/backpressure.py - a sender that wants to push far
more than a throttled proxy lets through, and a slow receiver.

usage: backpressure.py UPSTREAM_PORT PROXY_PORT FAULT_PID RECEIVE_BYTES

Listens on UPSTREAM_PORT (the proxy's upstream), connects a client to
PROXY_PORT, and has the upstream side send 1 GiB as fast as the kernel
takes it. Once the client has received RECEIVE_BYTES it prints, as
key=value pairs on one line:
  sent1      bytes the sender had handed to its socket when the client had
             received a third of RECEIVE_BYTES
  sent2      the same at RECEIVE_BYTES
  received   bytes the client received
  seconds    time between those two moments
  rss0_kib   fault's VmRSS before the connection
  rss_max_kib  the largest VmRSS of fault seen meanwhile (sampled each 50 ms)
Exits 1 (with a message) if RECEIVE_BYTES do not arrive within 60 s.
"""
import socket
import sys
import threading
import time

up_port, proxy_port, pid, want = (int(a) for a in sys.argv[1:5])
TOTAL = 1 << 30
sent = 0
done = threading.Event()


def rss_kib():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sender(conn):
    global sent
    block = b"\x5a" * 65536
    try:
        while sent < TOTAL and not done.is_set():
            sent += conn.send(block)
    except OSError:
        pass


lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", up_port))
lsock.listen(1)
rss0 = rss_kib()
client = socket.create_connection(("127.0.0.1", proxy_port))
lsock.settimeout(10)
up, _ = lsock.accept()
threading.Thread(target=sender, args=(up,), daemon=True).start()

client.settimeout(1)
received = 0
rss_max = rss0
sent1 = None
t1 = None
deadline = time.monotonic() + 60
last_rss = 0.0
while received < want:
    if time.monotonic() > deadline:
        print("only %d of %d bytes received in 60 s" % (received, want))
        sys.exit(1)
    try:
        data = client.recv(65536)
    except socket.timeout:
        data = None
    if data == b"":
        print("connection closed after %d bytes" % received)
        sys.exit(1)
    if data:
        received += len(data)
    if sent1 is None and received >= want // 3:
        sent1, t1 = sent, time.monotonic()
    now = time.monotonic()
    if now - last_rss >= 0.05:
        last_rss = now
        rss_max = max(rss_max, rss_kib())
sent2, t2 = sent, time.monotonic()
rss_max = max(rss_max, rss_kib())
done.set()
print("sent1=%d sent2=%d received=%d seconds=%.3f rss0_kib=%d rss_max_kib=%d"
      % (sent1, sent2, received, t2 - t1, rss0, rss_max))
