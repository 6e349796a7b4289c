#!/usr/bin/env python3
"""tests/e2e/relay.py - servers and clients for run_relay.sh.

Each client mode prints one result line and exits 0 when its check passed,
or prints "FAIL: ..." and exits 1. Every socket operation has a timeout,
so a relay that stalls makes the mode fail instead of hanging the test.

  server PORTFILE
      Listens on 127.0.0.1 (port 0; the port is written to PORTFILE once
      listening). A client picks the behaviour with a first line "MODE\n":
        sha       read until EOF, send back the hex sha256 of the rest,
                  close;
        first     send a sha256 line and 1 MiB, shut down writing, then
                  read until EOF and log whether the client's 1 MiB (sent
                  after our FIN) arrived intact;
        rst       close at once with SO_LINGER 0 (an RST);
        hold      do not read until a "release" connection arrives; then
                  read until EOF and send back the sha256 of the rest;
        release   releases every held connection;
        peer-rst  say "ready", read until EOF or reset and log which one
                  it was.
      Server-side results go to PORTFILE.log.
  halfclose PORT                         client of 'sha'
  servfirst PORT                         client of 'first'
  reset PORT                             client of 'rst' (exit 3: EOF, no RST)
  clientreset PORT                       client of 'peer-rst'
  backpressure PORT SERVER_PORT FAULT_PID MAX_TOTAL MAX_RSS_KIB
                                         client of 'hold' and 'release'
"""

import hashlib
import os
import select
import socket
import sys
import threading
import time

TIMEOUT = 10.0
MiB = 1024 * 1024
RELEASE = threading.Event()
# core/relay.c: reading stops above HIGH_WATER pending bytes and resumes
# below LOW_WATER; core/conn.c reads at most READ_BUF at a time.
# A direction without fault stages (this test's) may hold 1 MiB: the
# plain relay reads in large gulps for bulk throughput.
HIGH_WATER = 1024 * 1024
LOW_WATER = 64 * 1024
READ_BUF = 64 * 1024


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def recv_all(sock, limit=None):
    """Reads until EOF (or limit bytes); returns the bytes."""
    buf = bytearray()
    while limit is None or len(buf) < limit:
        d = sock.recv(65536 if limit is None else min(65536, limit - len(buf)))
        if not d:
            break
        buf += d
    return bytes(buf)


def recv_line(sock):
    buf = bytearray()
    while not buf.endswith(b"\n"):
        d = sock.recv(1)
        if not d:
            break
        buf += d
    return buf.decode().strip()


# ---------------------------------------------------------------- server

def serve_one(conn, log):
    conn.settimeout(TIMEOUT)
    try:
        mode = recv_line(conn)
        if mode == "sha":
            data = recv_all(conn)
            conn.sendall(hashlib.sha256(data).hexdigest().encode() + b"\n")
            conn.close()
        elif mode == "first":
            payload = os.urandom(MiB)
            conn.sendall(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
            conn.shutdown(socket.SHUT_WR)
            data = recv_all(conn)
            # The client sends, after our FIN, the sha256 of what it got
            # followed by 1 MiB of its own; we check that it all arrived.
            line, _, rest = data.partition(b"\n")
            ok = len(rest) == MiB and line.decode() == hashlib.sha256(payload).hexdigest()
            log.write("first %s got %d bytes after our FIN\n" % ("ok" if ok else "BAD", len(rest)))
            log.flush()
            conn.close()
        elif mode == "rst":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()
        elif mode == "hold":
            # The kernel buffers fill up and stay full until released.
            if not RELEASE.wait(60):
                log.write("hold: never released\n")
                log.flush()
                conn.close()
                return
            # One hold at a time: the next one waits for its own release.
            RELEASE.clear()
            conn.settimeout(TIMEOUT)
            data = recv_all(conn)
            conn.sendall(hashlib.sha256(data).hexdigest().encode() + b"\n")
            conn.close()
        elif mode == "release":
            RELEASE.set()
            conn.close()
        elif mode == "peer-rst":
            try:
                conn.sendall(b"ready\n")
                data = recv_all(conn)
                log.write("peer-rst eof after %d bytes\n" % len(data))
            except ConnectionResetError:
                log.write("peer-rst reset\n")
            except socket.timeout:
                log.write("peer-rst timeout\n")
            log.flush()
            conn.close()
        else:
            log.write("unknown mode %r\n" % mode)
            log.flush()
            conn.close()
    except Exception as e:  # noqa: BLE001 - report, keep serving
        log.write("server error in mode: %r\n" % (e,))
        log.flush()
        try:
            conn.close()
        except OSError:
            pass


def server(portfile):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    log = open(portfile + ".log", "a")
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, portfile)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve_one, args=(conn, log), daemon=True).start()


# ---------------------------------------------------------------- clients

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def halfclose(port):
    """1 MiB, then SHUT_WR; the server answers only after our EOF."""
    s = connect(port)
    payload = os.urandom(MiB)
    s.sendall(b"sha\n" + payload)
    s.shutdown(socket.SHUT_WR)
    try:
        answer = recv_all(s)
    except socket.timeout:
        fail("half-close: no answer and no EOF within %gs after our SHUT_WR" % TIMEOUT)
    except ConnectionResetError:
        fail("half-close: connection reset after our SHUT_WR")
    want = hashlib.sha256(payload).hexdigest()
    if answer.decode(errors="replace").strip() != want:
        fail("half-close: server saw sha256 %r, we sent %s" % (answer[:80], want))
    # recv_all returned because of EOF: once more must still be EOF.
    if s.recv(1) != b"":
        fail("half-close: data after EOF")
    s.close()
    print("half-close ok: server got all 1 MiB (sha256 %s...), then EOF" % want[:12])


def servfirst(port):
    """The server sends 1 MiB then FIN; we keep sending afterwards."""
    s = connect(port)
    s.sendall(b"first\n")
    try:
        line = recv_line(s)
        data = recv_all(s)
    except socket.timeout:
        fail("server-first: no EOF from the server within %gs" % TIMEOUT)
    if len(data) != MiB or hashlib.sha256(data).hexdigest() != line:
        fail("server-first: got %d bytes, digest mismatch" % len(data))
    # Our side is still open: the relay must carry this after their FIN.
    s.sendall(line.encode() + b"\n" + os.urandom(MiB))
    s.shutdown(socket.SHUT_WR)
    if recv_all(s) != b"":
        fail("server-first: unexpected data after EOF")
    s.close()
    print("server-first ok: got 1 MiB then EOF, sent 1 MiB after it")


def reset(port):
    s = connect(port)
    s.sendall(b"rst\n")
    try:
        d = s.recv(65536)
    except ConnectionResetError:
        print("reset ok: ECONNRESET")
        return
    except socket.timeout:
        fail("reset: neither reset nor EOF within %gs" % TIMEOUT)
    if d:
        fail("reset: got %d bytes of data" % len(d))
    print("reset ok: EOF without data (no RST seen)")
    # Closing without data is accepted; say so for the log.
    sys.exit(3)


def clientreset(port):
    s = connect(port)
    s.sendall(b"peer-rst\n")
    # The server is reading once it says so: reset then.
    if recv_line(s) != "ready":
        fail("client reset: the server did not get our header")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    print("client reset sent")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def tcp_queues():
    """{(local_port, remote_port): (tx_queue, rx_queue)} of the established
    IPv4 loopback sockets, from /proc/net/tcp."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] != "01":  # ESTABLISHED
                continue
            lport = int(fields[1].split(":")[1], 16)
            rport = int(fields[2].split(":")[1], 16)
            tx, rx = (int(x, 16) for x in fields[4].split(":"))
            out[(lport, rport)] = (tx, rx)
    return out


def kernel_held(client_sock, proxy_port, server_port):
    """Bytes of our stream the kernel holds on the four sockets between us
    and the server: our send queue, fault's client-leg receive queue,
    fault's upstream send queue, the server's receive queue."""
    q = tcp_queues()
    cport = client_sock.getsockname()[1]
    parts = [q.get((cport, proxy_port), (0, 0))[0], q.get((proxy_port, cport), (0, 0))[1]]
    ups = [(l, r) for (l, r) in q if r == server_port and (server_port, l) in q]
    if len(ups) != 1:
        fail("backpressure: cannot tell fault's upstream socket apart (%r)" % ups)
    up = ups[0][0]
    parts += [q[(up, server_port)][0], q[(server_port, up)][1]]
    return parts


def backpressure(port, server_port, fault_pid, max_total, max_rss_kib):
    """Writes into a server that does not read, until writes stop making
    progress for 1 s: the amount taken must stay below max_total and the
    proxy's RSS below max_rss_kib. Then the server is released, 4 MiB more
    are sent, and the server's sha256 of everything must match ours (the
    relay resumed reading, lost and reordered nothing)."""
    s = connect(port)
    s.sendall(b"hold\n")
    s.setblocking(False)
    digest = hashlib.sha256()
    total = 0
    hard_cap = max(4 * max_total, 256 * MiB)
    rss_start = rss_kib(fault_pid)
    peak = rss_start
    deadline = time.monotonic() + 30
    block = os.urandom(64 * 1024)
    pending = memoryview(block)
    while True:
        try:
            n = s.send(pending)
        except BlockingIOError:
            n = 0
        if n:
            digest.update(pending[:n])
            total += n
            pending = pending[n:]
            if not pending:
                block = os.urandom(64 * 1024)
                pending = memoryview(block)
            if total > hard_cap:
                break
            continue
        peak = max(peak, rss_kib(fault_pid))
        _, w, _ = select.select([], [s], [], 1.0)
        if not w:
            break  # no progress for 1 s: everything on the way is full
        if time.monotonic() > deadline:
            fail("backpressure: still writing after 30 s (%d bytes taken)" % total)
    peak = max(peak, rss_kib(fault_pid))
    parts = kernel_held(s, port, server_port)
    held = total - sum(parts)
    # The zero-copy relay keeps what is in flight in a kernel pipe (at most
    # 1 MiB), not in user space: the caller says how little it may hold.
    low = int(os.environ.get("RELAY_MIN_HELD", LOW_WATER))
    print("backpressure: %.2f MiB taken before writes stalled (bound %.1f MiB); "
          "fault RSS %d KiB at start, %d KiB peak (bound %d KiB)"
          % (total / MiB, max_total / MiB, rss_start, peak, max_rss_kib), flush=True)
    print("backpressure: kernel queues %s KiB (client tx, fault rx, fault tx, server rx); "
          "fault holds the other %.1f KiB (want %d..%d KiB)"
          % ("/".join("%.0f" % (p / 1024) for p in parts), held / 1024,
             low // 1024, (HIGH_WATER + READ_BUF) // 1024), flush=True)
    if not low <= held <= HIGH_WATER + READ_BUF:
        fail("backpressure: fault holds %d bytes of the stream itself, outside %d..%d"
             % (held, low, HIGH_WATER + READ_BUF))
    if total > max_total:
        fail("backpressure: %d bytes taken, more than the bound %d" % (total, max_total))
    if total < 256 * 1024:
        fail("backpressure: only %d bytes taken: did the relay carry anything?" % total)
    if peak > max_rss_kib:
        fail("backpressure: fault RSS %d KiB over the bound %d KiB" % (peak, max_rss_kib))

    # Release the server (through the proxy too) and finish the transfer.
    connect(port).sendall(b"release\n")
    s.setblocking(True)
    s.settimeout(TIMEOUT)
    s.sendall(pending)
    digest.update(pending)
    total += len(pending)
    for _ in range(64):
        block = os.urandom(64 * 1024)
        s.sendall(block)
        digest.update(block)
        total += len(block)
    s.shutdown(socket.SHUT_WR)
    try:
        answer = recv_line(s)
    except socket.timeout:
        fail("backpressure: no digest from the server %gs after releasing it" % TIMEOUT)
    if answer != digest.hexdigest():
        fail("backpressure: server got different bytes after resuming (%r)" % answer[:64])
    print("backpressure: released; all %.2f MiB arrived intact" % (total / MiB))
    s.close()


def main():
    mode = sys.argv[1]
    if mode == "server":
        server(sys.argv[2])
    elif mode == "halfclose":
        halfclose(int(sys.argv[2]))
    elif mode == "servfirst":
        servfirst(int(sys.argv[2]))
    elif mode == "reset":
        reset(int(sys.argv[2]))
    elif mode == "clientreset":
        clientreset(int(sys.argv[2]))
    elif mode == "backpressure":
        backpressure(*(int(a) for a in sys.argv[2:7]))
    else:
        fail("unknown mode " + mode)


if __name__ == "__main__":
    main()
