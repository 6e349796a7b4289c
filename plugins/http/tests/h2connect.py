#!/usr/bin/env python3
"""plugins/http/tests/h2connect.py - an HTTP/2 CONNECT client (RFC 9113
8.5) for h2connect.sh, with python3-h2 (no Debian client speaks CONNECT
over HTTP/2: nghttp cannot, curl 7.88 cannot).

  h2connect.py PROXY_PORT [--size N] [--authority HOST:PORT]

Starts its own TCP echo server on 127.0.0.1 (unless --authority names
another target), speaks h2c with prior knowledge to 127.0.0.1:PROXY_PORT,
opens a CONNECT stream to the echo server, sends a 5-byte probe and times
its echo, then N random bytes (flow control honoured both ways) which must
come back identical, then END_STREAM; the echo server's FIN must come back
as END_STREAM. Prints "status=S rtt_ms=M echoed=N end=yes|no"; for a
refused CONNECT, "status=S" and the body. Exit status 0 when the tunnel
behaved, 1 otherwise.
"""
import argparse
import os
import socket
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events


def echo_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def serve(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
            c.shutdown(socket.SHUT_WR)

    def loop():
        while True:
            c, _ = srv.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--authority")
    a = ap.parse_args()
    authority = a.authority or "127.0.0.1:%d" % echo_server()

    sock = socket.create_connection(("127.0.0.1", a.port), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # python3-h2 4.1 wants a :path even on CONNECT: its own checks are off.
    cfg = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False)
    conn = h2.connection.H2Connection(cfg)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "CONNECT"), (":authority", authority)])
    sock.sendall(conn.data_to_send())

    st = {"status": None, "data": bytearray(), "ended": False, "reset": None}

    def pump():
        d = sock.recv(65536)
        if not d:
            raise SystemExit("the proxy closed the connection")
        for ev in conn.receive_data(d):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                st["status"] = dict(ev.headers).get(b":status", b"").decode()
            elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                st["data"] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                st["ended"] = True
            elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                st["reset"] = ev.error_code
        out = conn.data_to_send()
        if out:
            sock.sendall(out)

    while st["status"] is None and st["reset"] is None:
        pump()
    if st["status"] != "200":
        while not st["ended"] and st["reset"] is None:
            pump()
        print("status=%s body=%s" % (st["status"], bytes(st["data"]).decode(errors="replace").strip()))
        return 1

    # the probe, timed
    t0 = time.monotonic()
    conn.send_data(sid, b"probe")
    sock.sendall(conn.data_to_send())
    while len(st["data"]) < 5 and st["reset"] is None and not st["ended"]:
        pump()
    rtt = (time.monotonic() - t0) * 1000
    if bytes(st["data"]) != b"probe":
        print("status=200 probe came back as %r" % bytes(st["data"]))
        return 1
    st["data"] = bytearray()

    # bulk, with flow control
    payload = os.urandom(a.size)
    off = 0
    sock.setblocking(True)
    while (off < len(payload) or len(st["data"]) < len(payload)) and st["reset"] is None:
        room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
        if off < len(payload) and room > 0:
            n = min(room, len(payload) - off)
            conn.send_data(sid, payload[off:off + n])
            off += n
            sock.sendall(conn.data_to_send())
            continue
        pump()
    conn.end_stream(sid)
    sock.sendall(conn.data_to_send())
    while not st["ended"] and st["reset"] is None:
        pump()
    same = bytes(st["data"]) == payload
    print("status=200 rtt_ms=%d echoed=%d same=%s end=%s reset=%s" %
          (rtt, len(st["data"]), "yes" if same else "no", "yes" if st["ended"] else "no", st["reset"]))
    return 0 if same and st["ended"] else 1


if __name__ == "__main__":
    sys.exit(main())
