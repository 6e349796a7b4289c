#!/bin/bash
# tests/e2e/run_splice_auto.sh - splice only where it pays: a connection
# with no fault starts on the ordinary relay, with no kernel pipe, and
# moves to splice(2) once one read brings a large transfer; the bytes stay
# intact across the switch and the close counts every byte.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

start_echo
echo_port=$ECHO_PORT
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$echo_port" --tail

cat >"$E2E_TMP/through.py" <<'PY'
# through.py PORT PID MODE: echo traffic through fault, counting its pipes.
# MODE auto: small messages make no pipe, 8 MiB makes two (one per
# direction); MODE none: 4 MiB makes none (FAULT_NO_SPLICE=1).
import os, socket, sys, threading
port, pid, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def pipes():
    n = 0
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            if os.readlink("/proc/%s/fd/%s" % (pid, fd)).startswith("pipe:"):
                n += 1
        except OSError:
            pass
    return n

def bulk(s, f, size):
    data = os.urandom(size)
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
    assert bytes(got) == data, "%d bytes echo differs (%d bytes back)" % (size, len(got))

base = pipes()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
if mode == "none":
    bulk(s, f, 4 << 20)
    assert pipes() == base, "FAULT_NO_SPLICE=1 made pipes"
    sys.exit(0)
for i in range(50):
    msg = b"small message %d\n" % i
    s.sendall(msg)
    assert f.readline() == msg, "small echo %d" % i
small = pipes()
assert small == base, "pipes with small messages only: %d, before the connection: %d" % (small, base)
bulk(s, f, 8 << 20)
big = pipes()
assert big == base + 4, "pipes after a large transfer: %d, want %d (two per direction)" % (big, base + 4)
s.sendall(b"after\n")
assert f.readline() == b"after\n", "small message after the switch"
s.close()
print("pipes: %d before, %d with small messages, %d after 8 MiB" % (base, small, big))
PY
python3 "$E2E_TMP/through.py" "$P" "$FAULT_PID" auto || fail "splice-auto client"
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
python3 "$E2E_TMP/through.py" "$P" "$FAULT_PID" none || fail "FAULT_NO_SPLICE client"
note "ok"
