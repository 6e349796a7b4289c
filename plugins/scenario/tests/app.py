#!/usr/bin/env python3
"""plugins/scenario/tests/app.py - a small application for the scenario tests.

It plays the application under test: it answers HTTP itself and, on /ping,
makes its own downstream call to an upstream through the fault proxy (as
an application configured with HTTP_PROXY would), so that faults applied to
that upstream show in its answers. It also serves OpenAPI documents and
answers whatever the generated scenarios call.

    app.py PORT UPSTREAM_URL PROXY_URL LOG [SPEC_FILE...]

GET  /ping          downstream GET of UPSTREAM_URL through PROXY_URL; 200 with
                    {"upstream_ms": ...}, or 502 when the call failed
GET  /ok            200 "ok"
GET  /status/N      answers N
GET  /spec/NAME     the SPEC_FILE whose base name is NAME (templated: @PORT@
                    is replaced by PORT), 404 if there is none
GET  /resolve/NAME  asks the DNS server on 127.0.0.1:$APP_DNS_PORT (UDP) for
                    NAME's A records: 200 with {"addresses"}, 502 with
                    {"rcode"} when it fails or has none, 504 with no answer
GET  /sql/PORT      runs "select 'victim'" with psycopg2 on the PostgreSQL
                    server (or psql:// mapping) at 127.0.0.1:PORT, as user
                    trusty on database app: 200 with {"rows"}, or 503 with
                    {"sqlstate"} when it fails
anything else       200 {"method", "path", "body"}; every such request is
                    appended to LOG as one JSON line

The first line on stdout is "listening PORT" once it accepts connections.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
UPSTREAM = sys.argv[2]
PROXY = sys.argv[3]
LOG = sys.argv[4]
SPECS = {os.path.basename(p): p for p in sys.argv[5:]}
DNS_PORT = int(os.environ.get("APP_DNS_PORT", "0"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "dns-proxy", "tests"))


def resolve(name):
    """(status, body) for /resolve/NAME."""
    import dnsclient
    data = dnsclient.udp_ask(DNS_PORT, dnsclient.query(name, "A", 4242), timeout=1.0)
    if data is None:
        return 504, {"error": "no answer"}
    rcode, ancount = data[3] & 0xF, int.from_bytes(data[6:8], "big")
    if rcode or not ancount:
        return 502, {"rcode": rcode}
    # The A records' addresses are the last four bytes of each answer;
    # the tests' names have no CNAME chain, so each answer is one.
    addrs = []
    off = len(data)
    for _ in range(ancount):
        addrs.append(".".join(str(b) for b in data[off - 4:off]))
        off -= 16  # name pointer 2, type 2, class 2, ttl 4, rdlength 2, rdata 4
    return 200, {"addresses": addrs}

# The downstream call always goes through the proxy, whatever the
# environment says: the test decides where the proxy is.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({"http": PROXY, "https": PROXY}))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode("utf-8", "replace") if n else ""

    def handle_any(self):
        path = self.path
        if path == "/ping":
            t0 = time.monotonic()
            try:
                with OPENER.open(UPSTREAM, timeout=10) as r:
                    r.read()
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            except Exception as e:  # noqa: BLE001 - any failure is a 502
                return self.answer(502, json.dumps({"error": str(e)}))
            ms = (time.monotonic() - t0) * 1000
            return self.answer(200 if status == 200 else 502,
                               json.dumps({"upstream_ms": ms, "upstream_status": status}))
        if path.startswith("/resolve/"):
            status, body = resolve(path[9:])
            return self.answer(status, json.dumps(body))
        if path.startswith("/sql/"):
            import psycopg2
            try:
                c = psycopg2.connect(host="127.0.0.1", port=int(path[5:]), user="trusty",
                                     dbname="app", connect_timeout=5)
                try:
                    cur = c.cursor()
                    cur.execute("select 'victim'")
                    return self.answer(200, json.dumps({"rows": cur.fetchall()}))
                finally:
                    c.close()
            except psycopg2.Error as e:
                return self.answer(503, json.dumps({"sqlstate": e.pgcode}))
        if path == "/ok":
            return self.answer(200, "ok", "text/plain")
        if path.startswith("/status/"):
            return self.answer(int(path.split("/")[2]), "{}")
        if path.startswith("/spec/"):
            if path[6:] not in SPECS:
                return self.answer(404, "{}")
            with open(SPECS[path[6:]]) as f:
                text = f.read().replace("@PORT@", str(PORT))
            ctype = "application/json" if path.endswith(".json") else "application/yaml"
            return self.answer(200, text, ctype)
        body = self.body()
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": self.command, "path": path, "body": body}) + "\n")
        return self.answer(200, json.dumps({"method": self.command, "path": path, "body": body}))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", PORT), Handler)
print("listening", PORT, flush=True)
srv.serve_forever()
