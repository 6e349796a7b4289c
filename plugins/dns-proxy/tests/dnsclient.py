#!/usr/bin/env python3
"""plugins/dns-proxy/tests/dnsclient.py - a small DNS client for the
dns-proxy tests and bench.sh, standard library only.

  dnsclient.py compare DIRECT_PORT PROXY_PORT
      sends the same query bytes (several names and types, with and
      without EDNS, over UDP and TCP) to both and requires byte-identical
      answers.
  dnsclient.py count PORT N NAME TYPE
      N UDP queries one after another; prints "rcodes=R:n,... lost=L
      answers=A sig=HEX" (sig: a digest of the sequence of rcodes).
  dnsclient.py bench PORT SECONDS WINDOW
      UDP load with WINDOW queries in flight; prints "qps=Q lost=L".
"""
import hashlib
import os
import select
import socket
import struct
import sys
import time

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33, "HTTPS": 65}


def query(name, qtype, qid, edns=False, do=False):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", TYPES.get(qtype, 0) or int(qtype), 1)
    if edns:
        q += b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000 if do else 0, 0)
    return q


def udp_ask(port, msg, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(msg, ("127.0.0.1", port))
        data, _ = s.recvfrom(65535)
        return data
    except socket.timeout:
        return None
    finally:
        s.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_ask(port, msg, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(struct.pack(">H", len(msg)) + msg)
        hdr = recv_exact(s, 2)
        if hdr is None:
            return None
        return recv_exact(s, struct.unpack(">H", hdr)[0])
    except (socket.timeout, ConnectionError):
        return None
    finally:
        s.close()


def compare(direct, proxy):
    cases = [("www.example.test", "A"), ("www.example.test", "AAAA"),
             ("alias.example.test", "A"), ("_http._tcp.example.test", "SRV"),
             ("big.example.test", "TXT"), ("WwW.ExAmPlE.tEsT", "A"),
             ("x.wild.example.test", "A")]
    n = 0
    for name, qtype in cases:
        for edns in (False, True):
            for ask in (udp_ask, tcp_ask):
                qid = 0x1000 + n
                msg = query(name, qtype, qid, edns=edns, do=edns)
                a = ask(direct, msg)
                b = ask(proxy, msg)
                what = "%s %s edns=%s %s" % (name, qtype, edns, ask.__name__[:3])
                if a is None or b is None:
                    print("no answer for %s (direct %s, proxy %s)" % (what, a is not None, b is not None))
                    return 1
                # dnsmasq rotates records of a set (the additional
                # records of an SRV answer) from one answer to the next:
                # the proxy's answer must be one dnsmasq gives directly
                # to the same bytes, just before or just after it.
                seen = [a]
                while b not in seen and len(seen) < 4:
                    seen.append(ask(direct, msg))
                if b not in seen:
                    print("answers differ for %s:\n direct %s\n proxy  %s" % (what, a.hex(), b.hex()))
                    return 1
                n += 1
    print("identical=%d" % n)
    return 0


def count(port, n, name, qtype):
    rcodes = {}
    lost = answers = 0
    h = hashlib.sha256()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    for i in range(n):
        qid = (i * 7919 + 1) & 0xffff
        s.sendto(query(name, qtype, qid), ("127.0.0.1", port))
        while True:
            try:
                data = s.recv(65535)
            except socket.timeout:
                data = None
            if data is None or struct.unpack(">H", data[:2])[0] == qid:
                break
        if data is None:
            lost += 1
            h.update(b"L")
            continue
        rc = data[3] & 0xf
        rcodes[rc] = rcodes.get(rc, 0) + 1
        answers += struct.unpack(">H", data[6:8])[0]
        h.update(bytes([rc]))
    s.close()
    print("rcodes=%s lost=%d answers=%d sig=%s" % (
        ",".join("%d:%d" % kv for kv in sorted(rcodes.items())), lost, answers, h.hexdigest()[:16]))
    return 0


def bench(port, seconds, window):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    s.connect(("127.0.0.1", port))
    msgs = [query("www.example.test", "A", i) for i in range(65536)]
    inflight = {}
    qid = done = lost = 0
    start = time.monotonic()
    end = start + seconds
    while True:
        now = time.monotonic()
        if now >= end:
            break
        while len(inflight) < window:
            qid = (qid + 1) & 0xffff
            try:
                s.send(msgs[qid])
            except BlockingIOError:
                break
            inflight[qid] = now
        r, _, _ = select.select([s], [], [], 0.1)
        if r:
            while True:
                try:
                    data = s.recv(65535)
                except BlockingIOError:
                    break
                if inflight.pop(struct.unpack(">H", data[:2])[0], None) is not None:
                    done += 1
        for k in [k for k, t in inflight.items() if now - t > 1.0]:
            del inflight[k]
            lost += 1
    elapsed = time.monotonic() - start
    print("qps=%d lost=%d" % (done / elapsed, lost))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "compare":
        return compare(int(argv[1]), int(argv[2]))
    if len(argv) >= 5 and argv[0] == "count":
        return count(int(argv[1]), int(argv[2]), argv[3], argv[4])
    if len(argv) >= 4 and argv[0] == "bench":
        return bench(int(argv[1]), float(argv[2]), int(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
