#!/usr/bin/env python3
# plugins/otel/tests/collector.py - a TEST DOUBLE of an OpenTelemetry
# collector (no real collector can run here: none is packaged in Debian,
# and the tests have no internet). It speaks the one thing the otel plugin
# sends, OTLP/HTTP with the JSON encoding: every POST to /v1/traces or
# /v1/metrics is parsed and appended as one JSON line
#   {"path": ..., "content_type": ..., "headers": {...}, "body": {...}}
# to the file given (flushed at once, so tests can wait for a line), and
# answered 200 with an empty JSON object. With --status N it answers N
# instead (a collector that refuses). It prints "listening PORT" once it
# accepts connections. With --hold PATH FIFO, the first POST to PATH
# (/v1/metrics, /v1/traces) is answered only once a line can be read
# from FIFO (a busy collector); it prints "holding PATH" when it starts
# to wait.
#
# Usage: collector.py OUTFILE [--status N] [--hold PATH FIFO]
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

out_path = sys.argv[1]
status = int(sys.argv[sys.argv.index("--status") + 1]) if "--status" in sys.argv else 200
hold = sys.argv[sys.argv.index("--hold") + 1:][:2] if "--hold" in sys.argv else None
out = open(out_path, "a", buffering=1)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unparsable": raw.decode("latin-1")}
        out.write(json.dumps({"path": self.path,
                              "content_type": self.headers.get("Content-Type"),
                              "headers": {k.lower(): v for k, v in self.headers.items()},
                              "body": body}) + "\n")
        global hold
        if hold and self.path == hold[0]:
            release, hold = hold[1], None
            print("holding %s" % self.path, flush=True)
            with open(release) as f:
                f.readline()
        reply = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, fmt, *args):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening %d" % srv.server_address[1], flush=True)
srv.serve_forever()
