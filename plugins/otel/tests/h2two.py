#!/usr/bin/env python3
# plugins/otel/tests/h2two.py - an HTTP/2 client (prior knowledge, no
# library: none is packaged for python3 here) that opens two streams on
# one connection at once: stream 1 a plain GET, stream 3 a GET whose
# header list is over the proxy's bound (fields of 16000 bytes, in HEADERS +
# CONTINUATION frames), so that
# stream 3 is refused with 431 while stream 1 waits on its upstream.
# Prints "stream N status S" per response head and exits when stream 1
# has ended (or after 10 s).
# With --reset N instead of BIGBYTES: N streams for PATH2, each cancelled
# (RST_STREAM) right after its HEADERS, then a last stream GETs PATH1;
# once that has ended it prints "waiting" and keeps the connection open
# until a line comes on standard input.
#
# Usage: h2two.py PORT AUTHORITY PATH1 PATH2 (BIGBYTES | --reset N)
import socket
import struct
import sys
import time

port, authority, path1, path2 = sys.argv[1:5]
resets = int(sys.argv[6]) if sys.argv[5] == "--reset" else 0
big = 0 if resets else int(sys.argv[5])


def hint(n, prefix):
    """An HPACK integer with a prefix of `prefix` bits (first byte flags 0)."""
    top = (1 << prefix) - 1
    if n < top:
        return bytes([n])
    out, n = [top], n - top
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    return bytes(out + [n])


def literal(name, value):
    name, value = name.encode(), value.encode()
    return b"\x00" + hint(len(name), 7) + name + hint(len(value), 7) + value


def frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def request(stream, path, extra):
    block = b"".join(literal(k, v) for k, v in
                     [(":method", "GET"), (":scheme", "http"), (":authority", authority), (":path", path)] + extra)
    chunks = [block[i:i + 16000] for i in range(0, len(block), 16000)]
    out = b""
    for i, c in enumerate(chunks):
        last = 0x4 if i == len(chunks) - 1 else 0
        out += frame(1 if i == 0 else 9, last | (0x1 if i == 0 else 0), stream, c)
    return out


s = socket.create_connection(("127.0.0.1", int(port)))
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
if resets:
    # Stream ids go up: the cancelled ones first (1, 3, ...), the plain
    # GET last.
    out = b""
    for i in range(resets):
        sid = 1 + 2 * i
        out += request(sid, path2, []) + frame(3, 0, sid, struct.pack(">I", 8))
    last = 1 + 2 * resets
    s.sendall(out + request(last, path1, []))
else:
    last = 1
    s.sendall(request(1, path1, []) + request(3, path2, [("x-big%d" % i, "a" * 16000) for i in range(big // 16000 + 1)]))
buf, ended, deadline = b"", False, time.time() + 10
s.settimeout(1)
while not ended and time.time() < deadline:
    try:
        data = s.recv(65536)
    except socket.timeout:
        continue
    if not data:
        break
    buf += data
    while len(buf) >= 9:
        n = int.from_bytes(buf[:3], "big")
        if len(buf) < 9 + n:
            break
        ftype, flags, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff
        payload, buf = buf[9:9 + n], buf[9 + n:]
        if ftype == 4 and not flags & 1:
            s.sendall(frame(4, 1, 0, b""))
        elif ftype == 1:
            # :status is the first field the proxy sends; static-table
            # indexed (0x88 200 ... 0x8e 500) or a literal with index 8.
            b0 = payload[0]
            st = {0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400, 0x8d: 404, 0x8e: 500}.get(b0)
            if st is None:
                st = int(payload[2:2 + payload[1]].decode())
            if not resets or sid == last:
                print("stream %d status %d" % (sid, st), flush=True)
        if ftype in (0, 1) and flags & 1 and sid == last:
            ended = True
        if ftype == 3 and sid == last:
            ended = True
if resets:
    print("waiting", flush=True)
    sys.stdin.readline()
s.close()
