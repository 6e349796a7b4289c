#!/usr/bin/env bash
# plugins/http/tests/slowhead.sh - slow clients and descriptors.
#
#  1. --http-header-timeout 1s: a client that sends its request head one
#     byte every 200 ms (it never completes) is answered 408 and closed
#     between 1 s and 1 s + 0.7 s after its first byte (the deadline, one
#     sweep tick of 125 ms and slack for a loaded machine), while a
#     normal request through the same listener meanwhile gets 200; a head
#     that trickles in complete before the deadline is served; an HTTP/2
#     HEADERS frame trickled the same way ends its connection with GOAWAY
#     1 .. 1.7 s after the frame began;
#  2. the soft open-files limit is raised to the hard one at start (started
#     with a soft limit of 256 under a higher hard limit).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_nginx
printf 'hello\n' >"$WWW/index.html"

# trickle PORT INTERVAL_S HEAD - sends HEAD a byte at a time; prints
# "closed=SECONDS status=LINE" (seconds from the first byte to the close)
# or "complete=SECONDS status=LINE" when the whole head went out first.
trickle() {
	python3 - "$@" <<'PY'
import socket, sys, time
port, interval, head = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3].encode().decode("unicode_escape").encode()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
t0 = time.monotonic()
got = b""
sent = 0
for i in range(len(head)):
    try:
        s.sendall(head[i:i + 1])
        sent += 1
    except OSError:
        break
    s.settimeout(interval)
    try:
        d = s.recv(65536)
        if not d:
            break
        got += d
        if b"\r\n" in got:
            break
    except socket.timeout:
        pass
sent_all = sent == len(head)
s.settimeout(10)
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
        if sent_all and b"\r\n\r\n" in got:
            break
except OSError:
    pass
secs = time.monotonic() - t0
line = got.split(b"\r\n", 1)[0].decode(errors="replace").replace(" ", "_")
print("%s=%.3f status=%s" % ("complete" if sent_all else "closed", secs, line or "-"))
PY
}

# ---- 1. a head that trickles past the deadline
P=$(free_port)
start_fault run --disable-http-proxy --tail --log-file "$E2E_TMP/log" --http-header-timeout 1s \
	--proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT"
trickle "$P" 0.2 'GET /index.html HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n' \
	>"$E2E_TMP/slow.out" &
SLOW=$!
code=$(curl -sS --noproxy '*' --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/index.html")
[ "$code" = 200 ] || fail "a normal request while a slow one trickles: $code"
wait "$SLOW" || fail "the slow client failed: $(cat "$E2E_TMP/slow.out")"
out=$(cat "$E2E_TMP/slow.out")
note "slow head: $out"
grep -q '^closed=' <<<"$out" || fail "the trickling head was never cut: $out"
secs=$(sed 's/^closed=\([0-9.]*\) .*/\1/' <<<"$out")
python3 -c "import sys; s = float('$secs'); sys.exit(0 if 0.95 <= s <= 1.7 else 1)" ||
	fail "closed after $secs s, want 1 s (deadline) .. 1.7 s (+ a sweep tick and slack)"
grep -q 'status=HTTP/1.1_408' <<<"$out" || fail "no 408 before the close: $out"
wait_for_line "$E2E_TMP/log" 'request head not complete after 1 s: closed' "$FAULT_PID"
# A head that takes ~0.55 s in all (68 bytes, 8 ms apart) is within the deadline.
out=$(trickle "$P" 0.008 'GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
grep -q '^complete=.* status=HTTP/1.1_200' <<<"$out" || fail "a head complete in time: $out"
note "head within the deadline: $out"
# An HTTP/2 header block trickled in (h2c with prior knowledge; the
# deadline runs from the HEADERS frame's header, its 9th byte): the
# connection is ended with GOAWAY within the same bounds.
out=$(python3 - "$P" <<'PY'
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\0\0\0\x04\0\0\0\0\0")
block = b"\x82\x86\x84\x41\x09localhost" + b"\x40\x06x-slow\x20" + b"a" * 32
frame = struct.pack(">I", len(block))[1:] + b"\x01\x05\0\0\0\x01" + block
got, t9, closed = b"", None, None
for i in range(len(frame)):
    try:
        s.sendall(frame[i:i + 1])
    except OSError:
        closed = time.monotonic()
        break
    if i == 8:
        t9 = time.monotonic()
    s.settimeout(0.2)
    try:
        d = s.recv(65536)
        if not d:
            closed = time.monotonic()
            break
        got += d
    except socket.timeout:
        pass
    except OSError:
        closed = time.monotonic()
        break
goaway = b"\x07\x00\x00\x00\x00\x00" in got  # type GOAWAY, no flags, stream 0
print("goaway=%s closed=%s" % ("yes" if goaway else "no",
                               "%.3f" % (closed - t9) if closed and t9 else "never"))
PY
)
note "h2c trickled head: $out"
grep -q '^goaway=yes closed=' <<<"$out" || fail "h2c trickled head: $out"
secs=$(sed 's/.*closed=//' <<<"$out")
python3 -c "import sys; s = float('$secs'); sys.exit(0 if 0.95 <= s <= 1.7 else 1)" ||
	fail "h2c: closed $secs s after the HEADERS frame began, want 1 .. 1.7 s"
wait_for_line "$E2E_TMP/log" 'stream 1: request head not complete after 1 s: closed' "$FAULT_PID"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"

# ---- 2. RLIMIT_NOFILE
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 256 ]; then
	P=$(free_port)
	(
		ulimit -Sn 256
		exec "$FAULT" run --disable-http-proxy --no-ui --proxy "127.0.0.1:$P=http://127.0.0.1:$NGINX_PORT"
	) >"$E2E_TMP/nofile.out" 2>&1 &
	NPID=$!
	track_pid "$NPID"
	wait_listen "$P" "$NPID"
	soft=$(awk '/^Max open files/ {print $4}' "/proc/$NPID/limits")
	[ "$soft" = "$(awk '/^Max open files/ {print $5}' "/proc/$NPID/limits")" ] ||
		fail "soft open-files limit $soft, want the hard one: $(grep 'open files' "/proc/$NPID/limits")"
	note "open files: soft 256 at start -> $soft"
	stop_pid "$NPID"
else
	note "hard open-files limit $hard: nothing to raise, skipped"
fi
