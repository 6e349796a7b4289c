#!/bin/bash
# tests/plugins/out_of_tree.sh - the SDK as a third party sees it: install
# fault into a staging directory (DESTDIR), build the examples in
# sdk/examples (upcase.c: stream hooks; redact.c: HTTP hooks with whole
# bodies, ABI 1.2; hold.c: timers; banner.c: a protocol handler; rev.c:
# streamed bodies and their end, ABI 1.3) with nothing but the installed headers and `pkg-config
# fault-plugin`, and check that the installed fault loads them and that
# they act on real traffic (a TCP echo server; curl through the forward
# proxy to the http plugin's test upstream, which reports the SHA-256 of
# the body it got).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

root=$E2E_TMP/root
make -C "$top_builddir" install DESTDIR="$root" >"$E2E_TMP/install.log" 2>&1 ||
	fail "make install failed: $(tail -20 "$E2E_TMP/install.log")"
pc=$(find "$root" -name fault-plugin.pc | head -1)
[ -n "$pc" ] || fail "fault-plugin.pc was not installed"
# The staged tree is a prefix of its own: <inst>/lib/pkgconfig/fault-plugin.pc.
inst=$(dirname "$(dirname "$(dirname "$pc")")")
export PKG_CONFIG_PATH="$inst/lib/pkgconfig"
# pkgconf derives the prefix from where the .pc file is, as for a moved install.
export PKG_CONFIG="pkg-config --define-prefix"
[ "$($PKG_CONFIG --variable=plugindir fault-plugin)" = "$inst/lib/fault/plugins" ] ||
	fail "fault-plugin.pc plugindir is $($PKG_CONFIG --variable=plugindir fault-plugin)"
[ "$($PKG_CONFIG --variable=abi_major fault-plugin)" = 1 ] || fail "fault-plugin.pc abi_major"
export LD_LIBRARY_PATH="$inst/lib"
[ -f "$inst/include/fault/plugin.h" ] || fail "SDK headers not installed"
grep -rq 'HAVE_\|config\.h' "$inst/include/fault" && fail "installed headers mention config.h/HAVE_*"
# No installed header names libuv: no include, no uv_ type, no UV_ code
# (SDK 1.3: plugins build with pkg-config fault-plugin alone).
grep -rnE '<uv\.h>|\buv_[a-z_]+|\bUV_[A-Z_]+' "$inst/include/fault" &&
	fail "an installed SDK header names libuv (above)"
minor=$(sed -n 's/^#define FAULT_ABI_MINOR  *\([0-9]*\)$/\1/p' "$inst/include/fault/plugin.h")
[ -n "$minor" ] && [ "$($PKG_CONFIG --variable=abi_minor fault-plugin)" = "$minor" ] ||
	fail "fault-plugin.pc abi_minor differs from plugin.h's FAULT_ABI_MINOR ($minor)"

# Build the example outside the tree: a copy, no -I into the sources.
cp -r "$inst/share/fault/examples/plugin" "$E2E_TMP/ex"
make -C "$E2E_TMP/ex" PKG_CONFIG="$PKG_CONFIG" >"$E2E_TMP/ex-build.log" 2>&1 ||
	fail "example plugin did not build: $(cat "$E2E_TMP/ex-build.log")"
[ -f "$E2E_TMP/ex/upcase.so" ] || fail "upcase.so missing"
[ -f "$E2E_TMP/ex/redact.so" ] || fail "redact.so missing"
[ -f "$E2E_TMP/ex/hold.so" ] || fail "hold.so missing"
[ -f "$E2E_TMP/ex/banner.so" ] || fail "banner.so missing"
[ -f "$E2E_TMP/ex/rev.so" ] || fail "rev.so missing"

# The installed fault, with only its own plugin directory and the example's.
unset FAULT_PLUGIN_PATH FAULT_NO_DEFAULT_PLUGINS
FAULT="$inst/bin/fault"
"$FAULT" --plugin-dir "$E2E_TMP/ex" plugins >"$E2E_TMP/plugins.out" 2>&1 || fail "fault plugins failed"
cat "$E2E_TMP/plugins.out"
grep -Eq '^upcase +fault +1\.0\.0 +1\.[0-9]+ +loaded' "$E2E_TMP/plugins.out" || fail "upcase not loaded"
grep -Eq "^tcp .*loaded \\($inst/lib/fault/plugins/tcp.so\\)" "$E2E_TMP/plugins.out" ||
	fail "the installed fault did not load its installed tcp plugin"

# An echo server upstream: what it receives comes back unchanged.
start_echo
echo_port=$ECHO_PORT
port=$(free_port)
start_fault --plugin-dir "$E2E_TMP/ex" run --proxy "127.0.0.1:$port=127.0.0.1:$echo_port" \
	--with-upcase --tail
got=$(python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"hello, plugin world")
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
print(out.decode())
PY
) || fail "client through the mapping failed"
[ "$got" = "HELLO, PLUGIN WORLD" ] || fail "upstream saw '$got', expected the uppercased text"
wait_for_line "$FAULT_OUT" 'upcase side=client direction=egress bytes_changed=16' "$FAULT_PID"
stop_pid "$FAULT_PID"
note "upcase: uppercased on the way upstream"

# banner (a protocol handler with a scheme of its own) with hold (a fault
# with a timer): the banner line is the handler's own bytes, entering the
# relay like the upstream's, so hold delays it; then the echo works. The
# hold is a lower bound only: its timer cannot fire before 300 ms.
grep -Eq "^banner +protocol +1\.0\.0 +1\.$minor +loaded" "$E2E_TMP/plugins.out" || fail "banner not loaded"
grep -Eq "^hold +fault +1\.0\.0 +1\.$minor +loaded" "$E2E_TMP/plugins.out" || fail "hold not loaded"
port=$(free_port)
start_fault --plugin-dir "$E2E_TMP/ex" run --proxy "127.0.0.1:$port=banner://127.0.0.1:$echo_port" \
	--with-hold --hold-ms 300 --tail
got=$(python3 - "$port" <<'PY'
import socket, sys, time
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
banner = f.readline()
held = time.monotonic() - t0
s.sendall(b"ping\n")
echo = f.readline()
print("%s|%s|%d" % (banner.decode().strip(), echo.decode().strip(), int(held * 1000)))
PY
) || fail "client through the banner mapping failed"
IFS='|' read -r banner echo held <<<"$got"
[ "$banner" = "banner: via fault" ] || fail "banner: client got '$banner' first"
[ "$echo" = "ping" ] || fail "banner: the echo through the relay gave '$echo'"
[ "$held" -ge 300 ] || fail "hold: the banner arrived after $held ms, before the 300 ms hold"
wait_for_line "$FAULT_OUT" 'hold side=server direction=ingress hold_ms=300' "$FAULT_PID"
# banner's stop() closes the listeners the core closed already: harmless.
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault with banner exited $STOP_STATUS on SIGTERM: $(tail -3 "$FAULT_ERR")"
note "banner + hold: greeting held ${held} ms (>= 300), then relayed; stop() closing closed listeners is harmless"

# redact: HTTP hooks and whole request bodies, through the installed
# fault's forward proxy.
grep -Eq "^redact +fault +1\.0\.0 +1\.$minor +loaded" "$E2E_TMP/plugins.out" || fail "redact not loaded (built for ABI 1.$minor)"
up_pf=$E2E_TMP/upstream.port
python3 "$top_srcdir/plugins/http/tests/upstream.py" "$up_pf" >"$E2E_TMP/upstream.out" 2>&1 &
track_pid $!
wait_for_line "$up_pf" '^[0-9]+$' "" 10
UP=http://127.0.0.1:$(head -1 "$up_pf")
pp=$(free_port)
start_fault --plugin-dir "$E2E_TMP/ex" run --proxy-address "127.0.0.1:$pp" --with-redact \
	--redact-max-body 64
C=(curl -sS --max-time 10 --noproxy '' -x "http://127.0.0.1:$pp")
want=$(printf 'my XXXXXX and your XXXXXX' | sha256sum | cut -d' ' -f1)
got=$("${C[@]}" --data-binary 'my secret and your secret' "$UP/echo") || fail "curl through redact"
[[ "$got" = "len=25 sha256=$want "* ]] || fail "redact: upstream got '$got'"
big=$(printf 'secret %.0s' $(seq 1 20))
want=$(printf '%s' "$big" | sha256sum | cut -d' ' -f1)
got=$("${C[@]}" --data-binary "$big" "$UP/echo") || fail "curl through redact (large body)"
[[ "$got" = "len=${#big} sha256=$want "* ]] || fail "redact: a body over --redact-max-body changed: '$got'"
note "redact: request bodies redacted; one over the limit untouched"

# rev: streamed response bodies (on_body) and their end (on_body_end, ABI
# 1.3). /bytes?n=N streams N digits in pieces of 1,000 with no newline:
# every byte is kept until the body ends, then sent reversed from
# on_body_end (without it the client would get nothing). /sse streams lines,
# each reversed as it completes. A line over --rev-max-line goes out as it came.
grep -Eq "^rev +fault +1\.0\.0 +1\.$minor +loaded" "$E2E_TMP/plugins.out" || fail "rev not loaded (built for ABI 1.$minor)"
stop_pid "$FAULT_PID"
pp=$(free_port)
start_fault --plugin-dir "$E2E_TMP/ex" run --proxy-address "127.0.0.1:$pp" --with-rev \
	--rev-max-line 2000
C=(curl -sS --max-time 10 --noproxy '' -x "http://127.0.0.1:$pp")
got=$("${C[@]}" "$UP/bytes?n=1800") || fail "curl through rev"
want=$(curl -sS --max-time 10 --noproxy '' "$UP/bytes?n=1800" | rev)
[ "${#want}" = 1800 ] || fail "rev: the upstream's /bytes gave ${#want} bytes, expected 1800"
[ "$got" = "$want" ] || fail "rev: an unfinished last line was not reversed at the body's end (${#got} bytes: ${got:0:40}...)"
got=$("${C[@]}" "$UP/bytes?n=2500") || fail "curl through rev (long line)"
want=$(curl -sS --max-time 10 --noproxy '' "$UP/bytes?n=2500")
[ "$got" = "$want" ] || fail "rev: a line over --rev-max-line changed (${got:0:40}...)"
"${C[@]}" "$UP/sse?n=3" >"$E2E_TMP/rev-sse.out" || fail "curl through rev (sse)"
n=$(rev "$E2E_TMP/rev-sse.out" | grep -cE '^data: [0-9]+\.[0-9]+$')
[ "$n" = 3 ] || fail "rev: expected 3 reversed SSE data lines, got: $(cat "$E2E_TMP/rev-sse.out")"
grep -q '^data' "$E2E_TMP/rev-sse.out" && fail "rev: an SSE line was not reversed"
note "rev: streamed lines reversed; the last unfinished line sent from on_body_end"
