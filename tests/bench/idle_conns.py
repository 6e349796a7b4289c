#!/usr/bin/env python3
"""tests/bench/idle_conns.py - helper of idle-conns.sh.

Starts a backend that accepts and holds connections, spawns
`fault run --proxy 127.0.0.1:P=127.0.0.1:Q --no-ui` in front of it, opens N
non-blocking client connections through fault and reads fault's VmRSS from
/proc/PID/status:

  before      fault listening, no connection
  idle        N connections open end to end (backend accepted all N), no data
  echoed      after one byte went client -> backend -> client on each
  closed      after every connection was closed again

Prints `key=value` lines on stdout for idle-conns.sh; progress on stderr.
"""

import argparse
import errno
import os
import selectors
import signal
import socket
import subprocess
import sys
import time


def log(msg):
    print(f"[idle] {msg}", file=sys.stderr, flush=True)


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kib(status, key):
    v = status.get(key, "0 kB").split()
    return int(v[0]) if v else 0


def nfds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def real_pid(pid):
    """The fault process itself: a libtool wrapper execs it (same PID); if
    a shell is still in between, take its child."""
    for _ in range(200):
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            return pid
        if comm not in ("sh", "bash", "dash"):
            return pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                kids = f.read().split()
        except OSError:
            kids = []
        if kids:
            return real_pid(int(kids[0]))
        time.sleep(0.01)
    return pid


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def backend(lsock, ctl):
    """Child process: accept and hold connections, echo what arrives, report
    "live echoed" on ctl whenever that changes; exit when ctl closes."""
    sel = selectors.DefaultSelector()
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, "listen")
    sel.register(ctl, selectors.EVENT_READ, "ctl")
    live = echoed = 0
    sent = None
    while True:
        for key, _ in sel.select(1.0):
            if key.data == "ctl":
                if not ctl.recv(64):
                    return
            elif key.data == "listen":
                for _ in range(512):
                    try:
                        conn, _ = lsock.accept()
                    except BlockingIOError:
                        break
                    except OSError as e:  # e.g. EMFILE: report, keep going
                        print(f"[idle] backend accept: {e}", file=sys.stderr)
                        time.sleep(0.1)
                        break
                    conn.setblocking(False)
                    live += 1
                    sel.register(conn, selectors.EVENT_READ, "conn")
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(conn)
                    conn.close()
                    live -= 1
                else:
                    echoed += 1
                    conn.send(data)
        if (live, echoed) != sent:
            sent = (live, echoed)
            ctl.sendall(f"{live} {echoed}\n".encode())


class Bench:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.backend_live = 0
        self.backend_echoed = 0
        self.ctl_buf = b""
        self.clients = []  # connected client sockets
        self.pending = 0  # client connects in progress
        self.connect_failed = 0
        self.client_eof = 0
        self.client_echoed = 0

    # -- event loop -------------------------------------------------------
    def pump(self, timeout):
        for key, mask in self.sel.select(timeout):
            key.data(key.fileobj, mask)

    def on_control(self, ctl, mask):
        data = ctl.recv(65536)
        if not data:
            raise SystemExit("backend process went away")
        self.ctl_buf += data
        *lines, self.ctl_buf = self.ctl_buf.split(b"\n")
        if lines:
            live, echoed = lines[-1].split()
            self.backend_live, self.backend_echoed = int(live), int(echoed)

    def on_client_connect(self, sock, mask):
        self.pending -= 1
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.connect_failed += 1
            if self.connect_failed <= 5:
                log(f"client connect failed: {os.strerror(err)}")
            self.sel.unregister(sock)
            sock.close()
            return
        self.clients.append(sock)
        self.sel.modify(sock, selectors.EVENT_READ, self.on_client_read)

    def on_client_read(self, sock, mask):
        try:
            data = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # fault closed a connection that should have stayed open
            self.client_eof += 1
            self.sel.unregister(sock)
            self.clients.remove(sock)
            sock.close()
            return
        self.client_echoed += len(data)

    def wait_until(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out after {timeout}s waiting for {what}")
            if self.fault.poll() is not None:
                raise SystemExit(f"fault exited with status {self.fault.returncode}")
            self.pump(0.05)

    def settle(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.pump(max(0.0, min(0.05, end - time.monotonic())))

    def sample(self, name):
        st = proc_status(self.pid)
        s = {
            "rss": kib(st, "VmRSS"),
            "hwm": kib(st, "VmHWM"),
            "fds": nfds(self.pid),
            "threads": st.get("Threads", "?"),
        }
        log(f"{name}: VmRSS {s['rss']} KiB, fds {s['fds']}, threads {s['threads']}")
        return s

    # -- phases -----------------------------------------------------------
    def run(self):
        a = self.args
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(4096)
        q = lsock.getsockname()[1]
        p = free_port()
        # The backend is a separate process so that each process holds N
        # descriptors, not 2N (fault alone needs 2N).
        ctl, child_ctl = socket.socketpair()
        child = os.fork()
        if child == 0:
            ctl.close()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                backend(lsock, child_ctl)
            finally:
                os._exit(0)
        child_ctl.close()
        lsock.close()
        self.sel.register(ctl, selectors.EVENT_READ, self.on_control)

        cmd = [a.fault, "run", "--proxy", f"127.0.0.1:{p}=127.0.0.1:{q}", "--no-ui"]
        log("spawning " + " ".join(cmd))
        logf = open(a.log, "wb") if a.log else subprocess.DEVNULL
        self.fault = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        if a.pidfile:
            with open(a.pidfile, "w") as f:
                f.write(str(self.fault.pid))
        try:
            self.phases(p)
        finally:
            for s in self.clients:
                s.close()
            ctl.close()
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass
            os.waitpid(child, 0)
            if self.fault.poll() is None:
                self.fault.terminate()
                try:
                    self.fault.wait(3)
                except subprocess.TimeoutExpired:
                    self.fault.kill()
                    self.fault.wait()

    def phases(self, port):
        a = self.args
        # readiness: port accepts a connection
        deadline = time.monotonic() + 10
        while True:
            if self.fault.poll() is not None:
                raise SystemExit(f"fault exited with status {self.fault.returncode} before listening")
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", port))
                s.close()
                break
            except OSError:
                s.close()
            if time.monotonic() > deadline:
                raise SystemExit("fault did not listen within 10 s")
            self.pump(0.001)
        self.pid = real_pid(self.fault.pid)
        try:
            with open(f"/proc/{self.pid}/maps") as f:
                maps = f.read()
        except OSError:
            maps = ""
        self.sanitizers = ",".join(n for n in ("asan", "ubsan", "tsan", "msan", "lsan")
                                   if f"lib{n}" in maps) or "none"
        # let the probe connection's upstream side come and go
        self.settle(a.settle)
        self.wait_until(lambda: self.backend_live == 0, 10, "probe connection to close")
        before = self.sample("before")

        # open N connections, a bounded number in flight at a time
        n = a.count
        t0 = time.monotonic()
        opened = 0
        deadline = t0 + a.timeout
        progress = (0, 0)
        last_progress = t0
        while len(self.clients) < n or self.backend_live < n:
            if self.fault.poll() is not None:
                raise SystemExit(f"fault exited with status {self.fault.returncode}")
            now = time.monotonic()
            if (len(self.clients), self.backend_live) != progress:
                progress = (len(self.clients), self.backend_live)
                last_progress = now
            if now > deadline or now - last_progress > 10:
                raise SystemExit(
                    f"no progress for 10 s or timed out: {len(self.clients)} clients connected, "
                    f"{self.backend_live} held by the backend, {self.connect_failed} failed, "
                    f"{self.client_eof} closed by fault")
            while opened < n and (opened - self.backend_live) < a.inflight:
                s = socket.socket()
                s.setblocking(False)
                rc = s.connect_ex(("127.0.0.1", port))
                if rc not in (0, errno.EINPROGRESS):
                    s.close()
                    raise SystemExit(f"connect: {os.strerror(rc)}")
                self.pending += 1
                self.sel.register(s, selectors.EVENT_WRITE, self.on_client_connect)
                opened += 1
            if self.connect_failed or self.client_eof:
                raise SystemExit(
                    f"{self.connect_failed} connects failed, {self.client_eof} connections closed by fault")
            self.pump(0.05)
        t_open = time.monotonic() - t0
        log(f"{n} connections open end to end in {t_open:.2f} s")
        self.settle(a.settle)
        idle = self.sample("idle")

        # one byte each way on every connection, then idle again
        for s in self.clients:
            s.send(b"x")
        self.wait_until(lambda: self.client_echoed >= n, a.timeout, "echo on every connection")
        self.settle(a.settle)
        echoed = self.sample("echoed")
        if self.client_eof:
            raise SystemExit(f"{self.client_eof} connections closed by fault")

        # close everything, wait for fault to close the upstream sides
        for s in self.clients:
            self.sel.unregister(s)
            s.close()
        self.clients = []
        self.wait_until(lambda: self.backend_live == 0, a.timeout, "fault to close upstream connections")
        self.settle(a.settle)
        closed = self.sample("closed")

        out = {
            "count": n,
            "pid": self.pid,
            "open_seconds": f"{t_open:.2f}",
        }
        for name, s in (("before", before), ("idle", idle), ("echoed", echoed), ("closed", closed)):
            out[f"rss_{name}_kib"] = s["rss"]
            out[f"fds_{name}"] = s["fds"]
            out[f"threads_{name}"] = s["threads"]
        out["hwm_kib"] = closed["hwm"]
        out["sanitizers"] = self.sanitizers
        for k, v in out.items():
            print(f"{k}={v}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fault", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--inflight", type=int, default=256)
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--pidfile")
    ap.add_argument("--log")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    Bench(args).run()


if __name__ == "__main__":
    main()
