#!/usr/bin/env bash
# plugins/limit-data/tests/limit_data.sh - the limit-data fault between
# curl or python peers (ld_peer.py) and nginx or a python server:
#
#  1. --limit-data-bytes 1000 (ingress): downloading a 1 MB file, curl gets
#     exactly 1000 bytes of response (headers + body prefix, the body part
#     identical to the file's first bytes) and reports a short transfer
#     (exit 18); a raw client gets exactly 1000 bytes then EOF (a FIN, not
#     a reset); nginx's connection is closed too (polled <= 5 s); --tail
#     has a limit-data line;
#  2. exact fill: a server sends exactly 1000 bytes and then waits: the
#     client still gets its 1000 bytes then EOF, within 200 ms of the last
#     byte (the close is made on the next loop iteration; 200 ms is slack
#     for a loaded machine; without the fault the connection would stay
#     open until the 10 s timeout), and the server sees the close;
#  3. --limit-data-direction egress --limit-data-bytes 5000: a client
#     pushing 1 MB: the server receives exactly 5000 - 6 bytes after the
#     6-byte "count\n" line, then EOF (the client, which keeps sending to a
#     closed socket, ends with a reset or a broken pipe: not checked);
#  4. --limit-data-bytes 0: not a byte of the response: curl exit 52
#     (empty reply);
#  5. --with-limit-data without --limit-data-bytes is refused (exit 2).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

HELPER=$top_srcdir/plugins/limit-data/tests/ld_peer.py

start_nginx
make_file "$WWW/big.bin" 1000000

python3 "$HELPER" server "$E2E_TMP/srv.port" >"$E2E_TMP/srv.out" 2>&1 &
SRV_PID=$!
track_pid "$SRV_PID"
wait_for_line "$E2E_TMP/srv.port" '^[0-9]+$' "$SRV_PID"
SRV_PORT=$(cat "$E2E_TMP/srv.port")

nginx_conns() { ss -Htn state established "( sport = :$NGINX_PORT )" | wc -l; }
wait_nginx_conns() {
	local i
	for ((i = 0; i < 500; i++)); do
		[ "$(nginx_conns)" = "$1" ] && return 0
		sleep 0.01
	done
	fail "nginx has $(nginx_conns) established connections after 5 s, want $1"
}
in_window() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# ---- 1. 1000 bytes of a 1 MB download
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail \
	--with-limit-data --limit-data-bytes 1000
curl -sS --max-time 10 -D "$E2E_TMP/h" -o "$E2E_TMP/b" "http://127.0.0.1:$P/big.bin" 2>"$E2E_TMP/c.err"
rc=$?
note "curl: exit $rc: $(cat "$E2E_TMP/c.err")"
[ "$rc" = 18 ] || fail "curl exit $rc, want 18 (partial file)"
hl=$(stat -c %s "$E2E_TMP/h")
bl=$(stat -c %s "$E2E_TMP/b")
[ $((hl + bl)) = 1000 ] || fail "curl got $hl header + $bl body bytes, want 1000 in all"
head -c "$bl" "$WWW/big.bin" | cmp -s - "$E2E_TMP/b" || fail "the $bl body bytes are not the file's first bytes"
grep -q '^HTTP/1.1 200' "$E2E_TMP/h" || fail "no 200 status line in the headers"
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #1 limit-data side=client direction=ingress limit_bytes=1000$' "$FAULT_PID"
wait_nginx_conns 0
out=$(cd "$E2E_TMP" && python3 "$HELPER" get "$P" /big.bin) || fail "raw get: $out"
note "raw client: $out"
[ "$out" = "bytes 1000 end eof" ] || fail "raw client: $out, want 1000 bytes then EOF"
python3 - "$E2E_TMP/get.out" "$WWW/big.bin" <<'PY' || fail "raw client: the body bytes are not the file's first bytes"
import sys
got = open(sys.argv[1], "rb").read()
body = got.split(b"\r\n\r\n", 1)[1]
sys.exit(0 if open(sys.argv[2], "rb").read().startswith(body) and body else 1)
PY
wait_nginx_conns 0
stop_pid "$FAULT_PID"

# ---- 2. exact fill, then silence
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$SRV_PORT" --tail \
	--with-limit-data --limit-data-bytes 1000
out=$(python3 "$HELPER" hold "$P" 1000) || fail "exact fill: $out"
note "exact fill: $out"
case $out in "bytes 1000 end eof "*) ;; *) fail "exact fill: $out, want 1000 bytes then EOF" ;; esac
in_window "$(awk '{print $6}' <<<"$out")" 0 200 || fail "exact fill: EOF came $(awk '{print $6}' <<<"$out") ms after the data, want < 200"
wait_for_line "$E2E_TMP/srv.port.log" '^hold (eof|reset)' "$SRV_PID"
grep -q '^hold eof' "$E2E_TMP/srv.port.log" || fail "exact fill: the server saw $(cat "$E2E_TMP/srv.port.log")"
stop_pid "$FAULT_PID"

# ---- 3. egress
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$SRV_PORT" --tail \
	--with-limit-data --limit-data-bytes 5000 --limit-data-direction egress
out=$(python3 "$HELPER" push "$P" 1000000) || fail "egress: $out"
note "egress, client: $out"
wait_for_line "$E2E_TMP/srv.port.log" '^count ' "$SRV_PID"
grep -q '^count 4994$' "$E2E_TMP/srv.port.log" || fail "egress: the server got $(grep '^count' "$E2E_TMP/srv.port.log"), want count 4994"
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #1 limit-data side=server direction=egress limit_bytes=5000$' "$FAULT_PID"
stop_pid "$FAULT_PID"

# ---- 4. zero bytes
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --no-ui \
	--with-limit-data --limit-data-bytes 0
curl -sS --max-time 10 -o "$E2E_TMP/z" "http://127.0.0.1:$P/big.bin" 2>"$E2E_TMP/c.err"
rc=$?
[ "$rc" = 52 ] || fail "limit 0: curl exit $rc, want 52 (empty reply): $(cat "$E2E_TMP/c.err")"
note "limit 0: $(cat "$E2E_TMP/c.err")"
stop_pid "$FAULT_PID"

# ---- 5. the limit is required
"$FAULT" run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --with-limit-data >"$E2E_TMP/bad.out" 2>&1 &&
	fail "--with-limit-data without --limit-data-bytes was accepted"
rc=$?
[ "$rc" = 2 ] || fail "missing --limit-data-bytes: exit $rc, want 2"
grep -q 'limit-data-bytes' "$E2E_TMP/bad.out" || fail "the message does not name --limit-data-bytes: $(cat "$E2E_TMP/bad.out")"
note "refused: $(cat "$E2E_TMP/bad.out")"
