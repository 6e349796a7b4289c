#!/usr/bin/env bash
# plugins/http/tests/splice.sh - response bodies moved in the kernel
# (fault_conn_splice) when no fault stage would see them.
#
#  1. a 32 MiB download through the forward proxy, then a small file on the
#     same connection: both identical, the first spliced (debug log);
#  2. two pipelined requests (32 MiB, then a small file) in one write: both
#     answers arrive complete and in order;
#  3. with a latency stage on the ingress path: not spliced, identical;
#  4. FAULT_NO_SPLICE=1: not spliced, identical;
#  5. a client that gives up in the middle of a spliced body: fault goes on
#     serving.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_nginx
make_file "$WWW/32m.bin" $((32 * 1024 * 1024))
printf 'small\n' >"$WWW/small.txt"
LOG=$E2E_TMP/fault.log
C=(curl -sS --max-time 30 --noproxy '')

fetch_two() { # fetch_two - 32m.bin then small.txt on one connection
	"${C[@]}" --fail -x "$PROXY" -o "$E2E_TMP/a" -o "$E2E_TMP/b" \
		"http://127.0.0.1:$NGINX_PORT/32m.bin" "http://127.0.0.1:$NGINX_PORT/small.txt" ||
		fail "downloads through the proxy"
	cmp -s "$E2E_TMP/a" "$WWW/32m.bin" || fail "32 MiB body differs"
	cmp -s "$E2E_TMP/b" "$WWW/small.txt" || fail "small file after the big one differs"
}

# ---- 1. spliced, keep-alive after it
PP=$(free_port)
start_fault --log-file "$LOG" --log-level debug run --proxy-address "127.0.0.1:$PP" --tail
PROXY=http://127.0.0.1:$PP
fetch_two
wait_for_line "$LOG" 'body bytes from .* spliced \(complete\)' "$FAULT_PID"
n=$(sed -n 's/.*: \([0-9]*\) body bytes from .* spliced (complete).*/\1/p' "$LOG" | head -1)
[ "$n" -gt $((16 * 1024 * 1024)) ] || fail "only $n bytes spliced"
wait_for_line "$FAULT_OUT" '#1 close' "$FAULT_PID"
[ "$(grep -c ' open ' "$FAULT_OUT")" = 1 ] || fail "the two downloads did not share a connection"
got=$(sed -n 's/.*#1 close sent=[0-9]* received=\([0-9]*\).*/\1/p' "$FAULT_OUT")
[ "${got:-0}" -gt $((32 * 1024 * 1024 + 6)) ] || fail "spliced bytes not counted: received=$got"
note "32 MiB body spliced ($n bytes in the kernel), keep-alive after it"

# ---- 2. pipelined behind a spliced body
python3 - "$PP" "$NGINX_PORT" "$WWW/32m.bin" <<'PY' || fail "pipelined requests behind a spliced body"
import socket, sys
pp, np, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
want = open(path, "rb").read()
s = socket.create_connection(("127.0.0.1", pp), timeout=20)
req = "GET http://127.0.0.1:%d/%%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (np, np)
s.sendall((req % "32m.bin" + req % "small.txt").encode())
buf = b""
def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(1 << 20)
        if not d:
            sys.exit("closed after %d bytes" % len(buf))
        buf += d
def response():
    global buf
    while b"\r\n\r\n" not in buf:
        need(len(buf) + 1)
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
    buf = rest
    need(length)
    body, buf = buf[:length], buf[length:]
    return head.split(b"\r\n")[0], body
st1, b1 = response()
st2, b2 = response()
if b" 200 " not in st1 or b1 != want:
    sys.exit("first answer wrong: %r, %d bytes" % (st1, len(b1)))
if b" 200 " not in st2 or b2 != b"small\n":
    sys.exit("second answer wrong: %r %r" % (st2, b2))
PY
note "pipelined: a request behind a spliced body is answered after it, intact"

# ---- 5. client gives up mid-body
"${C[@]}" -x "$PROXY" --limit-rate 1M --max-time 1 -o /dev/null "http://127.0.0.1:$NGINX_PORT/32m.bin" 2>/dev/null &&
	fail "a 32 MiB download at 1 MiB/s finished within 1 s"
"${C[@]}" --fail -x "$PROXY" -o "$E2E_TMP/c" "http://127.0.0.1:$NGINX_PORT/small.txt" || fail "after an abort"
cmp -s "$E2E_TMP/c" "$WWW/small.txt" || fail "after an abort: differs"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS"
note "a client leaving in the middle of a spliced body: fault goes on"

# ---- 3. a fault stage on the way: no splice
: >"$LOG"
PP=$(free_port)
start_fault --log-file "$LOG" --log-level debug run --proxy-address "127.0.0.1:$PP" \
	--with-latency --latency-mean 1 --latency-stddev 0 --latency-side client --latency-direction ingress
PROXY=http://127.0.0.1:$PP
fetch_two
stop_pid "$FAULT_PID"
grep -q 'spliced' "$LOG" && fail "a body was spliced past a latency stage"
note "with a latency stage: not spliced, identical"

# ---- 4. FAULT_NO_SPLICE=1
: >"$LOG"
PP=$(free_port)
FAULT_NO_SPLICE=1 start_fault --log-file "$LOG" --log-level debug run --proxy-address "127.0.0.1:$PP"
PROXY=http://127.0.0.1:$PP
fetch_two
stop_pid "$FAULT_PID"
grep -q 'spliced' "$LOG" && fail "spliced with FAULT_NO_SPLICE=1"
note "FAULT_NO_SPLICE=1: not spliced, identical"
