#!/usr/bin/env python3
"""plugins/http/tests/h2bomb.py - HPACK "bombs" for h2limits.sh, with
hand-built frames (a compliant HTTP/2 library would refuse to send them).

A bomb is a header block that first adds one 4,000-byte header to the
HPACK dynamic table (a literal with incremental indexing, which fits the
default 4,096-byte table) and then refers to it (dynamic index 62) once
per byte: a 16 KB HEADERS frame decodes to 64 MB of header fields, each
CONTINUATION frame adds 16,384 more references (64 MB more).

  h2bomb.py client PORT [--continuations N] [--large]
      h2c with prior knowledge to 127.0.0.1:PORT: sends the bomb as the
      request headers of stream 1 (END_STREAM) (--large: instead, 20
      literal 4,000-byte headers, 80 KB as sent and as decoded, in a
      HEADERS and four CONTINUATIONs), then waits (<= 20 s) for
      what the proxy makes of it, then sends an ordinary GET / on stream 3
      of the same connection. Prints one line:
        bomb=status:S|rst:CODE|goaway:CODE|eof  next=status:S|...  secs=T
      Exit status 0 when both outcomes were read, 1 otherwise.

  h2bomb.py upstream PORTFILE CERT KEY [--continuations N]
      a TLS server on 127.0.0.1 choosing h2 by ALPN that answers every
      request with a bomb as its response head (:status 200, END_STREAM).
      Writes its port to PORTFILE once listening; serves until killed.
"""
import argparse
import os
import socket
import ssl
import struct
import sys
import threading
import time

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0, 1, 3, 4, 6, 7, 8, 9)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
ENTRY = 4000
FRAME = 16384


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


def hpack_int(value, prefix_bits, first):
    """An HPACK integer (RFC 7541 5.1) whose first byte carries `first`."""
    top = (1 << prefix_bits) - 1
    if value < top:
        return bytes([first | value])
    out = bytearray([first | top])
    value -= top
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def literal(name, value, indexed):
    """A literal header field with a new name; with incremental indexing
    (added to the dynamic table) or without."""
    first = 0x40 if indexed else 0x00
    return (hpack_int(0, 6 if indexed else 4, first) + hpack_int(len(name), 7, 0) + name +
            hpack_int(len(value), 7, 0) + value)


def bomb_frames(sid, prefix, continuations, end_stream):
    """HEADERS (+ CONTINUATIONs) whose block is `prefix`, the 4,000-byte
    entry, then references to it filling every frame."""
    block = prefix + literal(b"x-bomb", b"a" * ENTRY, True)
    first = block + b"\xbe" * (FRAME - len(block))  # 0xbe: indexed, index 62
    flags = END_STREAM if end_stream else 0
    if continuations == 0:
        return frame(HEADERS, flags | END_HEADERS, sid, first)
    out = frame(HEADERS, flags, sid, first)
    for i in range(continuations):
        last = i == continuations - 1
        out += frame(CONTINUATION, END_HEADERS if last else 0, sid, b"\xbe" * FRAME)
    return out


def large_frames(sid, prefix):
    block = prefix + b"".join(literal(b"x-large-%d" % i, b"b" * ENTRY, False) for i in range(20))
    pieces = [block[i:i + FRAME] for i in range(0, len(block), FRAME)]
    out = b""
    for i, p in enumerate(pieces):
        flags = END_HEADERS if i == len(pieces) - 1 else 0
        out += frame(HEADERS if i == 0 else CONTINUATION, flags | (END_STREAM if i == 0 else 0),
                     sid, p)
    return out


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def frame(self):
        """The next frame as (type, flags, sid, payload); None at EOF."""
        while True:
            if len(self.buf) >= 9:
                n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
                if len(self.buf) >= 9 + n:
                    ftype, flags, sid = struct.unpack(">BBI", self.buf[3:9])
                    payload = self.buf[9:9 + n]
                    self.buf = self.buf[9 + n:]
                    return ftype, flags, sid & 0x7FFFFFFF, payload
            d = self.sock.recv(65536)
            if not d:
                return None
            self.buf += d


def outcome(sock, rd, dec, sid):
    """Reads frames until stream `sid` is answered, reset, or the
    connection goes; answers SETTINGS and PING on the way."""
    block = b""
    while True:
        f = rd.frame()
        if f is None:
            return "eof"
        ftype, flags, fsid, payload = f
        if ftype == SETTINGS and not flags & ACK:
            sock.sendall(frame(SETTINGS, ACK, 0))
        elif ftype == PING and not flags & ACK:
            sock.sendall(frame(PING, ACK, 0, payload))
        elif ftype == GOAWAY:
            return "goaway:%d" % struct.unpack(">I", payload[4:8])[0]
        elif ftype == RST_STREAM and fsid == sid:
            return "rst:%d" % struct.unpack(">I", payload[:4])[0]
        elif ftype in (HEADERS, CONTINUATION) and fsid == sid:
            if ftype == HEADERS:
                pad = payload[0] if flags & 0x8 else 0
                start = (1 if flags & 0x8 else 0) + (5 if flags & 0x20 else 0)
                payload = payload[start:len(payload) - pad]
            block += payload
            if flags & END_HEADERS:
                hdrs = dict(dec.decode(block))
                return "status:%s" % hdrs.get(":status", "?")


def client(a):
    t0 = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", a.port), timeout=20)
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
    # :method GET, :scheme http, :path / (static table), :authority.
    req = b"\x82\x86\x84" + literal(b":authority", b"localhost", False)
    if a.large:
        sock.sendall(large_frames(1, req))
    else:
        sock.sendall(bomb_frames(1, req, a.continuations, True))
    rd, dec = Reader(sock), hpack.Decoder()
    dec.max_allowed_table_size = 1 << 16
    dec.max_header_list_size = 1 << 20
    first = outcome(sock, rd, dec, 1)
    second = "skipped"
    if not first.startswith(("goaway", "eof")):
        sock.sendall(frame(HEADERS, END_STREAM | END_HEADERS, 3, req))
        second = outcome(sock, rd, dec, 3)
    print("bomb=%s next=%s secs=%.2f" % (first, second, time.monotonic() - t0))
    sys.stdout.flush()
    return 0 if first != "eof" else 1


def serve(conn, continuations):
    with conn:
        conn.settimeout(30)
        rd = Reader(conn)
        got = b""
        while len(got) < len(PREFACE):
            d = conn.recv(len(PREFACE) - len(got))
            if not d:
                return
            got += d
        conn.sendall(frame(SETTINGS, 0, 0))
        while True:
            f = rd.frame()
            if f is None:
                return
            ftype, flags, sid, payload = f
            if ftype == SETTINGS and not flags & ACK:
                conn.sendall(frame(SETTINGS, ACK, 0))
            elif ftype == PING and not flags & ACK:
                conn.sendall(frame(PING, ACK, 0, payload))
            elif ftype in (HEADERS, CONTINUATION) and flags & END_HEADERS:
                # :status 200 (static index 8), then the bomb.
                conn.sendall(bomb_frames(sid, b"\x88", continuations, True))
            elif ftype == GOAWAY:
                return


def upstream(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols(["h2"])
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(a.portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(a.portfile + ".tmp", a.portfile)
    while True:
        c, _ = srv.accept()
        try:
            tc = ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            c.close()
            continue
        threading.Thread(target=lambda: _quiet(serve, tc, a.continuations), daemon=True).start()


def _quiet(fn, *args):
    try:
        fn(*args)
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("client")
    c.add_argument("port", type=int)
    c.add_argument("--continuations", type=int, default=0)
    c.add_argument("--large", action="store_true")
    u = sub.add_parser("upstream")
    u.add_argument("portfile")
    u.add_argument("cert")
    u.add_argument("key")
    u.add_argument("--continuations", type=int, default=0)
    a = ap.parse_args()
    return client(a) if a.mode == "client" else upstream(a)


if __name__ == "__main__":
    sys.exit(main())
