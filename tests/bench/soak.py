"""tests/bench/soak.py - the client side of soak.sh.

Keeps CONNS connections open through the proxy for SECONDS seconds, each
making HTTP/1.1 keep-alive requests for /small one after another (and
reconnecting whenever the proxy or a fault closes a connection), with
selectors so one process holds them all. Every REPORT seconds it samples
fault's open descriptors and RSS from /proc and prints a line; at the end
it prints the first and last samples and whether they stayed within the
stated tolerance. Exits 1 if fault died.
"""
import os
import selectors
import socket
import sys
import time

port, conns, seconds, pid, report = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                     int(sys.argv[4]), int(sys.argv[5]))
REQ = b"GET /small HTTP/1.1\r\nHost: soak\r\n\r\n"
sel = selectors.DefaultSelector()
stats = {"ok": 0, "reconnects": 0, "errors": 0}


def sample():
    try:
        fds = len(os.listdir("/proc/%d/fd" % pid))
        rss = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        return fds, rss
    except FileNotFoundError:
        return None


def open_one():
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    sel.register(s, selectors.EVENT_WRITE, {"buf": b"", "sent": False})


def close_one(key, reconnect=True):
    sel.unregister(key.fileobj)
    key.fileobj.close()
    if reconnect:
        stats["reconnects"] += 1
        open_one()


for _ in range(conns):
    open_one()

start = time.monotonic()
next_report = start
samples = []
while time.monotonic() - start < seconds:
    now = time.monotonic()
    if now >= next_report:
        s = sample()
        if s is None:
            print("soak: fault (pid %d) is gone after %.0f s" % (pid, now - start), flush=True)
            sys.exit(1)
        samples.append(s)
        print("soak: t=%4.0fs fds=%d rss=%d KiB requests=%d reconnects=%d" %
              (now - start, s[0], s[1], stats["ok"], stats["reconnects"]), flush=True)
        next_report += report
    for key, events in sel.select(timeout=0.5):
        st = key.data
        sock = key.fileobj
        try:
            if events & selectors.EVENT_WRITE and not st["sent"]:
                sock.send(REQ)
                st["sent"] = True
                sel.modify(sock, selectors.EVENT_READ, st)
            elif events & selectors.EVENT_READ:
                d = sock.recv(65536)
                if not d:
                    close_one(key)
                    continue
                st["buf"] += d
                # The nginx answer for /small is small and has a
                # Content-Length: a response is complete at its body's end.
                head, sep, body = st["buf"].partition(b"\r\n\r\n")
                if sep:
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    if len(body) >= length:
                        stats["ok"] += 1
                        st["buf"] = body[length:]
                        st["sent"] = False
                        sel.modify(sock, selectors.EVENT_WRITE, st)
        except OSError:
            stats["errors"] += 1
            close_one(key)

s = sample()
if s is None:
    print("soak: fault is gone at the end", flush=True)
    sys.exit(1)
samples.append(s)
# Compare the steady state (after the first minute) with its own start.
steady = samples[2:] if len(samples) > 4 else samples
fd0, rss0 = steady[0]
worst_fd = max(abs(f - fd0) / fd0 for f, _ in steady)
worst_rss = max(abs(r - rss0) / rss0 for _, r in steady)
print("soak: %d requests, %d reconnects, %d socket errors" %
      (stats["ok"], stats["reconnects"], stats["errors"]))
print("soak: fds %d..%d (max drift %.1f%%), RSS %d..%d KiB (max drift %.1f%%); target: within 10%%" %
      (min(f for f, _ in steady), max(f for f, _ in steady), worst_fd * 100,
       min(r for _, r in steady), max(r for _, r in steady), worst_rss * 100))
