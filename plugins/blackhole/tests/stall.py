#!/usr/bin/env python3
"""plugins/blackhole/tests/stall.py - a sender behind a blackhole.

usage: stall.py UPSTREAM_PORT PROXY_PORT FAULT_PID SECONDS

Listens on UPSTREAM_PORT (the proxy's upstream), connects a client to
PROXY_PORT, and has the upstream side send 1 GiB as fast as the kernel
takes it. Prints, as key=value pairs on one line:
  sent1, sent2   bytes the sender had handed to its socket at SECONDS/2
                 and at SECONDS
  received       bytes the client received in SECONDS
  rss0_kib       fault's VmRSS before the connection
  rss_max_kib    the largest VmRSS of fault seen (sampled each 50 ms)
The waits are the measurement (how long the connection stays stalled),
not a synchronisation.
"""
import socket
import sys
import threading
import time

up_port, proxy_port, pid = (int(a) for a in sys.argv[1:4])
seconds = float(sys.argv[4])
sent = 0
received = 0
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
        while sent < (1 << 30) and not done.is_set():
            sent += conn.send(block)
    except OSError:
        pass


def receiver(conn):
    global received
    conn.settimeout(0.1)
    while not done.is_set():
        try:
            data = conn.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return
        if not data:
            return
        received += len(data)


lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", up_port))
lsock.listen(1)
rss0 = rss_kib()
client = socket.create_connection(("127.0.0.1", proxy_port))
lsock.settimeout(10)
up, _ = lsock.accept()
threading.Thread(target=sender, args=(up,), daemon=True).start()
threading.Thread(target=receiver, args=(client,), daemon=True).start()
start = time.monotonic()
rss_max = rss0
sent1 = None
while True:
    now = time.monotonic() - start
    rss_max = max(rss_max, rss_kib())
    if sent1 is None and now >= seconds / 2:
        sent1 = sent
    if now >= seconds:
        break
    time.sleep(0.05)
sent2 = sent
done.set()
print("sent1=%d sent2=%d received=%d rss0_kib=%d rss_max_kib=%d"
      % (sent1, sent2, received, rss0, rss_max))
