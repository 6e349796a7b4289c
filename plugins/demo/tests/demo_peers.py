#!/usr/bin/env python3
"""plugins/demo/tests/demo_peers.py - peers for the demo server's tests.

  upstream PORT [LOG]
      HTTP server on 127.0.0.1:PORT, one thread per connection. Every GET
      answers 200 application/json {"path": PATH}, after ?delay_ms=N
      milliseconds when the query asks for it (the slow upstream of /multi).
      With LOG, each request appends "GET TARGET" to it on arrival.
  proxy PORT LOG
      forward proxy on 127.0.0.1:PORT: absolute-form GET requests are
      fetched from their origin and answered (HTTP/1.0, one request per
      connection), CONNECT opens a tunnel. Each request appends one line
      "METHOD TARGET" to LOG, flushed at once, so a test can count them.
  pipeline PORT
      sends three requests to the demo in a single write (GET /, POST
      /uppercase, GET /ping/myself with Connection: close) and checks that
      three answers come back in that order, then EOF. Exit status 0 or 1.
  json FILE EXPR
      loads FILE as JSON (failing on anything else), then evaluates the
      Python expression EXPR with the value as `j` and exits 0 when it is
      true; prints the value otherwise.
"""

import json
import select
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import http.client


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_path = None
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.log_path:
            with self.lock, open(self.log_path, "a") as f:
                f.write("GET %s\n" % self.path)
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        delay = int(q.get("delay_ms", ["0"])[0])
        if delay:
            time.sleep(delay / 1000.0)
        body = json.dumps({"path": url.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Proxy(BaseHTTPRequestHandler):
    log_path = None
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def note(self):
        with self.lock, open(self.log_path, "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
            f.flush()

    def do_GET(self):
        self.note()
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or not url.hostname:
            self.send_error(400, "absolute-form http:// target expected")
            return
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        try:
            conn.request("GET", path, headers={"User-Agent": self.headers.get("User-Agent", "")})
            r = conn.getresponse()
            body = r.read()
        except OSError as e:
            self.send_error(502, str(e))
            return
        self.send_response(r.status)
        ctype = r.getheader("Content-Type")
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Via", "1.0 demo-test-proxy")
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self):
        self.note()
        host, _, port = self.path.rpartition(":")
        try:
            up = socket.create_connection((host, int(port)), timeout=10)
        except OSError as e:
            self.send_error(502, str(e))
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        client = self.connection
        socks = [client, up]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 10)
                if not r:
                    break
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is client else client).sendall(data)
        except OSError:
            pass
        finally:
            up.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # The demo cancels calls whose client went away: a broken pipe
        # here is expected, not worth a traceback.
        pass


def serve(handler, port):
    srv = Server(("127.0.0.1", port), handler)
    srv.serve_forever()


def read_response(f):
    """(status, headers dict, body) from a file object, or None at EOF."""
    line = f.readline()
    if not line:
        return None
    status = int(line.split()[1])
    headers = {}
    while True:
        h = f.readline().decode("latin-1").rstrip("\r\n")
        if not h:
            break
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers.get("content-length", "0")))
    return status, headers, body


def pipeline(port):
    payload = b'{"content": "pipelined"}'
    reqs = (
        b"GET / HTTP/1.1\r\nHost: demo\r\n\r\n"
        b"POST /uppercase HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload +
        b"GET /ping/myself HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n"
    )
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(reqs)
    f = s.makefile("rb")
    got = []
    while True:
        r = read_response(f)
        if r is None:
            break
        got.append(r)
    s.close()
    want = [
        (200, b"<h1>Hello, World!</h1>"),
        (200, b'{"content":"PIPELINED"}'),
        (200, b"<h1>Hello, World!</h1>"),
    ]
    have = [(st, body) for st, _, body in got]
    if have != want:
        print("pipeline: got %r, want %r" % (have, want))
        return 1
    if got[2][1].get("connection") != "close":
        print("pipeline: last answer lacks Connection: close: %r" % got[2][1])
        return 1
    return 0


def main():
    mode = sys.argv[1]
    if mode == "upstream":
        if len(sys.argv) > 3:
            Upstream.log_path = sys.argv[3]
            open(Upstream.log_path, "a").close()
        serve(Upstream, int(sys.argv[2]))
    elif mode == "proxy":
        Proxy.log_path = sys.argv[3]
        open(Proxy.log_path, "a").close()
        serve(Proxy, int(sys.argv[2]))
    elif mode == "pipeline":
        sys.exit(pipeline(int(sys.argv[2])))
    elif mode == "json":
        with open(sys.argv[2], "rb") as f:
            raw = f.read()
        try:
            j = json.loads(raw)
        except ValueError as e:
            print("not JSON (%s): %r" % (e, raw[:200]))
            sys.exit(1)
        if not eval(sys.argv[3], {"j": j}):
            print("JSON %s fails: %s" % (json.dumps(j), sys.argv[3]))
            sys.exit(1)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
