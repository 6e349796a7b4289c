#!/usr/bin/env python3
"""plugins/http/tests/upstream.py - a small HTTP/1.1 upstream for the http
plugin's tests, with behaviours nginx cannot be asked for.

Usage: upstream.py PORTFILE [--host 127.0.0.1]

Binds a free port, writes it to PORTFILE, then serves keep-alive HTTP/1.1
on every connection (one thread each). What it answers depends on the path:

  /echo          200 with "len=N sha256=HEX" of the request body (Content-
                 Length or chunked) and "conn=K" (this connection's number)
  /conn          200 "conn=K"
  /host          200 "host=<the Host header received>"
  /sse?n=N       text/event-stream, chunked: N events 100 ms apart, each
                 "data: <time.monotonic() at send>" (CLOCK_MONOTONIC, the
                 same clock in every process of the machine)
  /reset         Content-Length 1000000, sends 100000 bytes, then resets the
                 connection (SO_LINGER 0)
  /slow?s=S      waits S seconds, then 200 "slow"
  /eofbody       200 without length: body "until-eof\n", then closes
  /extra         200 "conn=K" (Content-Length), then "EXTRA" in the same write
  /bytes?n=N     200, chunked: N bytes "0123456789" repeated, 1000 a chunk
  anything else  200 "path=<path>"

A request with "Expect: 100-continue" gets "100 Continue" first.

Every accepted connection is counted; the count is appended as a line
"conn K" to PORTFILE.log, every request as "req K METHOD PATH", and the
end of a connection as "close K".
"""
import hashlib
import socket
import struct
import sys
import threading
import time

portfile = sys.argv[1]
host = "127.0.0.1"
if len(sys.argv) > 3 and sys.argv[2] == "--host":
    host = sys.argv[3]

lock = threading.Lock()
count = 0
log = open(portfile + ".log", "a", buffering=1)


def note(line):
    with lock:
        log.write(line + "\n")


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\r\n")
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def head(self):
        start = self.line()
        while start == b"":
            start = self.line()
        headers = {}
        while True:
            line = self.line()
            if line == b"":
                break
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode()] = value.strip().decode()
        return start.decode(), headers

    def body(self, headers):
        if "chunked" in headers.get("transfer-encoding", "").lower():
            out = bytearray()
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line() != b"":
                        pass
                    return bytes(out)
                out += self.exact(size)
                self.exact(2)
        n = int(headers.get("content-length", "0"))
        return self.exact(n)


def respond(sock, status, body, extra=b""):
    sock.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (status, len(body), extra) + body)


def serve(sock, k):
    c = Conn(sock)
    try:
        while True:
            start, headers = c.head()
            method, target, _ = start.split(" ", 2)
            if "100-continue" in headers.get("expect", "").lower():
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = c.body(headers)
            path, _, query = target.partition("?")
            if "://" in path:
                path = "/" + path.split("://", 1)[1].partition("/")[2]
            note("req %d %s %s" % (k, method, path))
            args = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            if path == "/echo":
                respond(sock, 200, b"len=%d sha256=%s conn=%d\n"
                        % (len(body), hashlib.sha256(body).hexdigest().encode(), k))
            elif path == "/host":
                respond(sock, 200, b"host=%s\n" % headers.get("host", "").encode())
            elif path == "/conn":
                respond(sock, 200, b"conn=%d\n" % k)
            elif path == "/sse":
                n = int(args.get("n", "20"))
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
                for _ in range(n):
                    ev = b"data: %.6f\n\n" % time.monotonic()
                    sock.sendall(b"%x\r\n%s\r\n" % (len(ev), ev))
                    time.sleep(0.1)
                sock.sendall(b"0\r\n\r\n")
            elif path == "/reset":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 100000)
                time.sleep(0.2)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return
            elif path == "/slow":
                time.sleep(float(args.get("s", "5")))
                respond(sock, 200, b"slow\n")
            elif path == "/bytes":
                data = (b"0123456789" * (int(args.get("n", "0")) // 10 + 1))[:int(args.get("n", "0"))]
                out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
                for i in range(0, len(data), 1000):
                    out.append(b"%x\r\n%s\r\n" % (len(data[i:i + 1000]), data[i:i + 1000]))
                out.append(b"0\r\n\r\n")
                sock.sendall(b"".join(out))
            elif path == "/switch":
                # 101 to a request that asked for no upgrade.
                sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\n"
                             b"Connection: upgrade\r\n\r\n")
            elif path == "/bighead":
                # A head whose N-byte last field name ends one byte short of
                # the proxy's 64 KiB bound: its terminating NUL is one too many.
                n = int(args.get("n", "64525"))
                sock.sendall(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"p" * 1000 + b"\r\n" + b"Y" * n
                             + b": v\r\nContent-Length: 0\r\n\r\n")
            elif path == "/extra":
                # A response followed by bytes nobody asked for, in one write.
                body = b"conn=%d\n" % k
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%sEXTRA"
                             % (len(body), body))
            elif path == "/eofbody":
                sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-eof\n")
                sock.shutdown(socket.SHUT_WR)
                time.sleep(0.2)
                sock.close()
                return
            else:
                respond(sock, 200, b"path=%s\n" % path.encode())
    except (EOFError, ConnectionError, OSError):
        pass
    finally:
        note("close %d" % k)
        try:
            sock.close()
        except OSError:
            pass


def main():
    global count
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, 0))
    srv.listen(128)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        sock, _ = srv.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with lock:
            count += 1
            k = count
        note("conn %d" % k)
        threading.Thread(target=serve, args=(sock, k), daemon=True).start()


main()
