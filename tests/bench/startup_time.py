#!/usr/bin/env python3
"""tests/bench/startup_time.py - helper of startup.sh.

Times `fault run --proxy 127.0.0.1:P=127.0.0.1:Q --no-ui` from the spawn to
the port accepting a connection (connect attempted every --poll seconds),
then kills it; repeats --runs times after one untimed warm-up run and
prints `key=value` lines on stdout (times in ms).

If the fault given is a libtool wrapper script, the warm-up run (through the
wrapper) tells which binary it execs and which LD_LIBRARY_PATH it sets; the
timed runs then exec that binary directly, so that the shell start of the
wrapper is not counted, and the wrapper is timed separately for reference.
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time


def log(msg):
    print(f"[startup] {msg}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


TERM_IGNORED = 0


def stop(proc):
    """SIGTERM; SIGKILL if still there after 1 s (counted: fault should
    exit on SIGTERM whenever it comes, even right after it started)."""
    global TERM_IGNORED
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(1)
        except subprocess.TimeoutExpired:
            TERM_IGNORED += 1
            proc.kill()
            proc.wait()


class Runner:
    def __init__(self, args):
        self.args = args
        # an upstream that exists, in case fault looks at it
        self.upstream = socket.socket()
        self.upstream.bind(("127.0.0.1", 0))
        self.upstream.listen(16)
        self.q = self.upstream.getsockname()[1]
        self.logf = open(args.log, "ab") if args.log else subprocess.DEVNULL

    def once(self, argv0, env=None, inspect=None):
        """Spawn, poll, stop; return ms from spawn to accepted connect."""
        p = free_port()
        cmd = [argv0, "run", "--proxy", f"127.0.0.1:{p}=127.0.0.1:{self.q}", "--no-ui"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                stderr=self.logf, env=env)
        if self.args.pidfile:
            with open(self.args.pidfile, "w") as f:
                f.write(str(proc.pid))
        try:
            deadline = t0 + self.args.timeout
            while True:
                s = socket.socket()
                try:
                    s.connect(("127.0.0.1", p))
                    t1 = time.perf_counter()
                    s.close()
                    break
                except OSError:
                    s.close()
                if proc.poll() is not None:
                    raise SystemExit(f"{' '.join(cmd)} exited with status {proc.returncode} before listening")
                if time.perf_counter() > deadline:
                    raise SystemExit(f"{' '.join(cmd)} did not listen within {self.args.timeout} s")
                time.sleep(self.args.poll)
            if inspect:
                inspect(proc.pid)
            return (t1 - t0) * 1000.0
        finally:
            stop(proc)
            if self.args.pidfile:
                with open(self.args.pidfile, "w") as f:
                    f.write("")

    def series(self, argv0, env=None):
        return [self.once(argv0, env) for _ in range(self.args.runs)]


def spawn_overhead_ms(runs=20):
    """Median time for Popen + wait of /bin/true: the floor of any spawn."""
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        ts.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(ts)


def summary(prefix, ts):
    ts = sorted(ts)
    q = statistics.quantiles(ts, n=10) if len(ts) >= 2 else ts
    return {
        f"{prefix}_median_ms": f"{statistics.median(ts):.2f}",
        f"{prefix}_min_ms": f"{ts[0]:.2f}",
        f"{prefix}_p90_ms": f"{q[-1]:.2f}",
        f"{prefix}_max_ms": f"{ts[-1]:.2f}",
        f"{prefix}_all_ms": " ".join(f"{t:.2f}" for t in ts),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fault", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--poll", type=float, default=0.0005)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--pidfile")
    ap.add_argument("--log")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    r = Runner(args)
    with open(args.fault, "rb") as f:
        is_script = f.read(2) == b"#!"

    found = {}

    def inspect(pid):
        try:
            found["exe"] = os.readlink(f"/proc/{pid}/exe")
            with open(f"/proc/{pid}/environ", "rb") as f:
                for item in f.read().split(b"\0"):
                    if item.startswith(b"LD_LIBRARY_PATH="):
                        found["ld"] = item.split(b"=", 1)[1].decode()
            with open(f"/proc/{pid}/maps") as f:
                maps = f.read()
            found["san"] = ",".join(n for n in ("asan", "ubsan", "tsan", "msan", "lsan")
                                    if f"lib{n}" in maps) or "none"
        except OSError:
            pass

    log(f"warm-up run: {args.fault}")
    r.once(args.fault, inspect=inspect)
    out = {"runs": args.runs, "poll_ms": f"{args.poll * 1000:.2f}",
           "sanitizers": found.get("san", "?"),
           "spawn_overhead_ms": f"{spawn_overhead_ms():.2f}"}

    target, env = args.fault, None
    exe = found.get("exe", "")
    if is_script and exe and os.path.basename(exe) not in ("bash", "sh", "dash"):
        target = exe
        env = dict(os.environ)
        if "ld" in found:
            env["LD_LIBRARY_PATH"] = found["ld"]
        log(f"{args.fault} is a script that execs {exe}: timing that binary directly")
        out["wrapper"] = args.fault
        out.update(summary("wrapper", r.series(args.fault)))
    out["binary"] = target
    out.update(summary("binary", r.series(target, env)))
    out["term_ignored"] = TERM_IGNORED
    out["spawned"] = 1 + args.runs * (2 if "wrapper" in out else 1)
    for k, v in out.items():
        print(f"{k}={v}")


if __name__ == "__main__":
    main()
