#!/bin/bash
# tests/e2e/run_splice_auto.sh - splice only where it pays: a connection
# with no fault starts on the ordinary relay, with no kernel pipe, and
# moves to splice(2) once one read brings a large transfer; the bytes stay
# intact across the switch and the close counts every byte.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

echo_port=$(free_port)
python3 - "$echo_port" >"$E2E_TMP/echo.log" 2>&1 <<'PY' &
import socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
def serve(c):
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
track_pid $!
wait_port 127.0.0.1 "$echo_port"
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$echo_port" --tail

python3 - "$P" "$FAULT_PID" <<'PY' || fail "splice-auto client"
import hashlib, os, socket, sys, threading
port, pid = int(sys.argv[1]), sys.argv[2]

def pipes():
    n = 0
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            if os.readlink("/proc/%s/fd/%s" % (pid, fd)).startswith("pipe:"):
                n += 1
        except OSError:
            pass
    return n

base = pipes()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
for i in range(50):
    msg = b"small message %d\n" % i
    s.sendall(msg)
    assert f.readline() == msg, "small echo %d" % i
small = pipes()
assert small == base, "pipes with small messages only: %d, before the connection: %d" % (small, base)

# 8 MiB, sent while reading the echo back (the two directions overlap).
data = os.urandom(8 << 20)
got = bytearray()
def reader():
    while len(got) < len(data):
        d = f.read1(1 << 20)
        if not d:
            break
        got.extend(d)
t = threading.Thread(target=reader)
t.start()
s.sendall(data)
t.join(30)
assert bytes(got) == data, "8 MiB echo differs (%d bytes back)" % len(got)
big = pipes()
assert big == base + 4, "pipes after a large transfer: %d, want %d (two per direction)" % (big, base + 4)
# Small messages still work after the switch.
s.sendall(b"after\n")
assert f.readline() == b"after\n"
s.close()
print("pipes: %d before, %d with small messages, %d after 8 MiB" % (base, small, big))
PY
wait_for_line "$FAULT_OUT" ' #1 close sent=8[0-9]{6} received=8[0-9]{6}' "$FAULT_PID"
grep ' #1 close ' "$FAULT_OUT"
sent=$(sed -n 's/.* #1 close sent=\([0-9]*\) received=\([0-9]*\).*/\1 \2/p' "$FAULT_OUT")
want=$(( (8 << 20) + 6 ))
for i in $(seq 0 49); do want=$((want + ${#i} + 15)); done
[ "$sent" = "$want $want" ] || fail "close counted '$sent', want '$want $want' (bytes before and after the switch)"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"

# FAULT_NO_SPLICE=1 keeps the ordinary relay even for large transfers.
P=$(free_port)
FAULT_NO_SPLICE=1 start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$echo_port" --no-ui
python3 - "$P" "$FAULT_PID" <<'PY' || fail "FAULT_NO_SPLICE client"
import os, socket, sys, threading
port, pid = int(sys.argv[1]), sys.argv[2]
pipes = lambda: sum(1 for fd in os.listdir("/proc/%s/fd" % pid)
                    if os.readlink("/proc/%s/fd/%s" % (pid, fd)).startswith("pipe:"))
base = pipes()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
data = os.urandom(4 << 20)
got = bytearray()
def reader():
    while len(got) < len(data):
        d = s.recv(1 << 20)
        if not d:
            break
        got.extend(d)
t = threading.Thread(target=reader)
t.start()
s.sendall(data)
t.join(30)
assert bytes(got) == data
assert pipes() == base, "FAULT_NO_SPLICE=1 made pipes"
PY
note "ok"
