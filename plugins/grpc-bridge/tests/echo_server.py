#!/usr/bin/env python3
"""plugins/grpc-bridge/tests/echo_server.py - a TCP echo server upstream for
the tunnel tests: binds a free port of 127.0.0.1, writes it to PORTFILE,
and sends every byte it reads back on the same connection.

Usage: echo_server.py PORTFILE
"""
import os
import socket
import sys
import threading


def serve(c):
    with c:
        while True:
            try:
                data = c.recv(65536)
            except OSError:
                return
            if not data:
                try:
                    c.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            c.sendall(data)


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(128)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
