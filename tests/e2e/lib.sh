# tests/e2e/lib.sh - helpers for the end-to-end tests (sourced, not run).
#
# The automake harness gives $top_builddir and $top_srcdir (absolute); a
# script may also be run by hand:
#   top_builddir=/path/to/build top_srcdir=/path/to/src bash tests/e2e/run_cli.sh
#
# Provides:
#   FAULT                   the fault binary of the build tree
#   E2E_TMP                 a private temp dir, removed at exit
#   fail MSG                print MSG and exit 1
#   skip MSG                print MSG and exit 77
#   note MSG                print a progress line
#   free_port               print a free TCP port on 127.0.0.1
#   wait_port HOST PORT [PID]
#                           poll until HOST:PORT accepts (<= ~5 s), else
#                           fail (early, if PID is given and exits)
#   wait_for_line FILE RE [PID] [TIMEOUT_S]
#                           poll until a line of FILE matches the ERE RE
#                           (<= 5 s by default), else fail
#   track_pid PID           stop PID at exit (untrack_pid PID: forget it)
#   stop_pid PID [SIG]      send SIG (TERM) to PID, wait <= 5 s, then KILL;
#                           sets STOP_STATUS to its exit status
#   start_nginx [--tls]     nginx on 127.0.0.1:$NGINX_PORT serving $WWW
#                           (--tls: also https on $NGINX_TLS_PORT with the
#                           self-signed $CERT / $CERT_KEY)
#   wait_listen PORT [PID]  same, from /proc/net/tcp*, without connecting
#   start_fault ARGS...     `fault ARGS...` in the background; waits until it
#                           listens; sets FAULT_PID, FAULT_OUT, FAULT_ERR
#   bad_input ERE ARGS...   `fault ARGS...` must exit 2 with one line on
#                           stderr matching ERE (bad input is refused at once)
#   start_echo              a TCP echo server on 127.0.0.1:$ECHO_PORT (one
#                           thread per connection; what it gets comes back)
#
# Every process started through these helpers is stopped at exit, and only
# those (by PID). Only nginx and curl are optional: without them the test
# is skipped (exit 77); python3 and openssl are required.

: "${top_builddir:?top_builddir must be set (absolute path of the build tree)}"
: "${top_srcdir:=$top_builddir}"

E2E_NAME=$(basename "${0%.sh}")

note() { printf '[%s] %s\n' "$E2E_NAME" "$*"; }
fail() {
	printf '[%s] FAIL: %s\n' "$E2E_NAME" "$*" >&2
	printf '[%s] FAIL: %s\n' "$E2E_NAME" "$*"
	exit 1
}
skip() {
	printf '[%s] SKIP: %s\n' "$E2E_NAME" "$*"
	exit 77
}

command -v curl >/dev/null 2>&1 || skip "curl is not installed"
NGINX=${NGINX:-/usr/sbin/nginx}
[ -x "$NGINX" ] || NGINX=$(command -v nginx 2>/dev/null) || NGINX=
[ -n "$NGINX" ] && [ -x "$NGINX" ] || skip "nginx is not installed"
command -v python3 >/dev/null 2>&1 || fail "python3 is required"

FAULT="$top_builddir/core/fault"
[ -x "$FAULT" ] || fail "$FAULT not found: build first (make)"

FAULT_PLUGIN_PATH=
for _d in "$top_builddir"/plugins/*/.libs; do
	[ -d "$_d" ] || continue
	FAULT_PLUGIN_PATH=${FAULT_PLUGIN_PATH:+$FAULT_PLUGIN_PATH:}$_d
done
unset _d
FAULT_NO_DEFAULT_PLUGINS=1
export FAULT_PLUGIN_PATH FAULT_NO_DEFAULT_PLUGINS
# The user's environment must not configure the fault under test.
for _v in $(env | sed -n 's/^\(FAULT_[A-Z0-9_]*\)=.*/\1/p'); do
	case $_v in FAULT_PLUGIN_PATH | FAULT_NO_DEFAULT_PLUGINS) ;; *) unset "$_v" ;; esac
done
unset _v
# Loopback traffic must never go through a proxy from the environment.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY='*' no_proxy='*'

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fault-e2e-$E2E_NAME.XXXXXX") || fail "mktemp"
# nginx may read the document root as an unprivileged user.
chmod 755 "$E2E_TMP"
# python3 is Debian's interpreter, which has every module the tests import
# (grpcio, psycopg2, psycopg 3): a pyenv shim first on PATH costs 0.4 s per
# start on an idle machine and seconds on a loaded one. TEST_PYTHON names
# another.
_py=${TEST_PYTHON:-/usr/bin/python3}
if [ -x "$_py" ]; then
	mkdir "$E2E_TMP/.bin" && ln -s "$_py" "$E2E_TMP/.bin/python3" && PATH=$E2E_TMP/.bin:$PATH
fi
unset _py
E2E_PIDS=
E2E_NFAULT=0

# stop_pid PID [SIGNAL] - stop a process we started; sets STOP_STATUS.
stop_pid() {
	local pid=$1 sig=${2:-TERM} i
	STOP_STATUS=
	if kill -0 "$pid" 2>/dev/null; then
		kill -s "$sig" "$pid" 2>/dev/null
		for ((i = 0; i < 500; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			# Reap it if it is already a zombie.
			[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
			sleep 0.01
		done
		if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
			note "pid $pid did not stop after SIG$sig within 5 s: killing it"
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null
	STOP_STATUS=$?
	untrack_pid "$pid"
	return 0
}

# track_pid PID - stop PID at exit. untrack_pid PID - forget it (once it
# has been waited for, so that a reused PID is never signalled).
track_pid() { E2E_PIDS="$1 $E2E_PIDS"; }
untrack_pid() {
	local p rest=
	for p in $E2E_PIDS; do
		[ "$p" = "$1" ] || rest="$rest $p"
	done
	E2E_PIDS=$rest
}

_e2e_cleanup() {
	local rc=$? pid f
	trap - EXIT
	for pid in $E2E_PIDS; do
		stop_pid "$pid"
	done
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		# Leave what the servers said in the test's .log file.
		for f in "$E2E_TMP"/fault*.out "$E2E_TMP"/fault*.err "$E2E_TMP"/nginx-error.log; do
			[ -s "$f" ] || continue
			echo "---- $(basename "$f") (last 30 lines)"
			tail -n 30 "$f"
		done
	fi
	if [ "${E2E_KEEP_TMP:-0}" = 1 ]; then
		note "kept $E2E_TMP"
	else
		rm -rf "$E2E_TMP"
	fi
	exit "$rc"
}
trap _e2e_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port - a TCP port that was free on 127.0.0.1 a moment ago.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# wait_port HOST PORT [PID] - bounded poll (~5 s) until HOST:PORT accepts;
# fails early when PID (if given) exits.
wait_port() {
	python3 - "$1" "$2" "${3:-0}" <<'EOF' || fail "nothing listens on $1 port $2 after 5 s${3:+ (or pid $3 exited)}"
import socket, sys, time
host, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + 5

def alive():
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

while True:
    try:
        socket.create_connection((host, port), timeout=1).close()
        sys.exit(0)
    except OSError:
        if time.monotonic() > deadline or (pid and not alive()):
            sys.exit(1)
        time.sleep(0.02)
EOF
}

# wait_listen PORT [PID] - like wait_port, but looks for a listening
# socket on PORT in /proc/net/tcp{,6} instead of connecting, so that the
# process under test sees no probe connection.
wait_listen() {
	python3 - "$1" "${2:-0}" <<'EOF' || fail "nothing listens on port $1 after 5 s${2:+ (or pid $2 exited)}"
import sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 5

def alive():
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

def listening():
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False

while not listening():
    if time.monotonic() > deadline or (pid and not alive()):
        sys.exit(1)
    time.sleep(0.02)
EOF
}

# wait_for_line FILE ERE [PID] [TIMEOUT_S] - bounded poll until FILE has a
# line matching ERE; fails early when PID (if given) exits.
wait_for_line() {
	local file=$1 re=$2 pid=${3:-} secs=${4:-5} i
	for ((i = 0; i < secs * 100; i++)); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			grep -Eq -- "$re" "$file" 2>/dev/null && return 0
			fail "process $pid exited before '$re' appeared in $(basename "$file")"
		fi
		sleep 0.01
	done
	fail "no line matching '$re' in $(basename "$file") after $secs s"
}

# start_nginx [--tls] - nginx on loopback, everything in $E2E_TMP.
# Sets NGINX_PORT, WWW (the document root), NGINX_PID; with --tls also
# NGINX_TLS_PORT, CERT (self-signed, CN=localhost, SAN IP:127.0.0.1 and
# DNS:localhost; it is its own CA) and CERT_KEY.
bad_input() {
	local re=$1 rc=0
	shift
	"$FAULT" "$@" >"$E2E_TMP/bad.out" 2>"$E2E_TMP/bad.err" || rc=$?
	[ "$rc" = 2 ] || fail "fault $*: status $rc, want 2: $(cat "$E2E_TMP/bad.err")"
	[ "$(wc -l <"$E2E_TMP/bad.err")" = 1 ] || fail "fault $*: want one line: $(cat "$E2E_TMP/bad.err")"
	grep -Eq -- "$re" "$E2E_TMP/bad.err" || fail "fault $*: '$(cat "$E2E_TMP/bad.err")' !~ $re"
}

start_echo() {
	ECHO_PORT=$(free_port)
	python3 - "$ECHO_PORT" >"$E2E_TMP/echo.log" 2>&1 <<'PY' &
import socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(64)
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
	wait_port 127.0.0.1 "$ECHO_PORT" $!
}

start_nginx() {
	local tls=0 conf tls_block=
	[ "${1:-}" = --tls ] && tls=1
	WWW=$E2E_TMP/www
	mkdir -p "$WWW" "$E2E_TMP/nginx-tmp"
	NGINX_PORT=$(free_port)
	if [ $tls = 1 ]; then
		command -v openssl >/dev/null 2>&1 || fail "openssl is required for the TLS tests"
		CERT=$E2E_TMP/cert.pem
		CERT_KEY=$E2E_TMP/key.pem
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
			-addext subjectAltName=IP:127.0.0.1,DNS:localhost \
			-keyout "$CERT_KEY" -out "$CERT" >"$E2E_TMP/openssl.log" 2>&1 ||
			fail "openssl could not make a self-signed certificate: $(cat "$E2E_TMP/openssl.log")"
		NGINX_TLS_PORT=$(free_port)
		tls_block="server {
        listen 127.0.0.1:$NGINX_TLS_PORT ssl;
        ssl_certificate $CERT;
        ssl_certificate_key $CERT_KEY;
        root $WWW;
    }"
	fi
	conf=$E2E_TMP/nginx.conf
	cat >"$conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $E2E_TMP/nginx.pid;
error_log $E2E_TMP/nginx-error.log warn;
events { worker_connections 256; }
http {
    access_log $E2E_TMP/nginx-access.log;
    client_body_temp_path $E2E_TMP/nginx-tmp/body;
    proxy_temp_path $E2E_TMP/nginx-tmp/proxy;
    fastcgi_temp_path $E2E_TMP/nginx-tmp/fastcgi;
    uwsgi_temp_path $E2E_TMP/nginx-tmp/uwsgi;
    scgi_temp_path $E2E_TMP/nginx-tmp/scgi;
    default_type application/octet-stream;
    keepalive_timeout 60s;
    keepalive_requests 1000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WWW;
    }
    $tls_block
}
EOF
	"$NGINX" -p "$E2E_TMP/" -e "$E2E_TMP/nginx-error.log" -c "$conf" \
		>"$E2E_TMP/nginx.out" 2>&1 &
	NGINX_PID=$!
	track_pid "$NGINX_PID"
	wait_port 127.0.0.1 "$NGINX_PORT" "$NGINX_PID"
	[ $tls = 1 ] && wait_port 127.0.0.1 "$NGINX_TLS_PORT" "$NGINX_PID"
	kill -0 "$NGINX_PID" 2>/dev/null || fail "nginx exited: $(cat "$E2E_TMP/nginx.out" "$E2E_TMP/nginx-error.log" 2>/dev/null)"
	return 0
}

# start_fault ARGS... - run `fault ARGS...` in the background. Waits until
# it prints its listening line (or, with --no-ui, until the port of the
# first --proxy mapping is listening; no probe connection is made). Sets FAULT_PID, FAULT_OUT (stdout) and
# FAULT_ERR (stderr); the process is stopped at exit.
start_fault() {
	local a prev='' ui=1 port='' n=0 i
	E2E_NFAULT=$((E2E_NFAULT + 1))
	FAULT_OUT=$E2E_TMP/fault$E2E_NFAULT.out
	FAULT_ERR=$E2E_TMP/fault$E2E_NFAULT.err
	# Create the files first: the background job opens them in its own time.
	: >"$FAULT_OUT"
	: >"$FAULT_ERR"
	"$FAULT" "$@" >"$FAULT_OUT" 2>"$FAULT_ERR" &
	FAULT_PID=$!
	track_pid "$FAULT_PID"
	for a in "$@"; do
		case $a in
		--no-ui) ui= ;;
		--proxy=*) n=$((n + 1)); [ -n "$port" ] || port=${a#--proxy=} ;;
		esac
		if [ "$prev" = --proxy ]; then
			n=$((n + 1))
			[ -n "$port" ] || port=$a
		fi
		prev=$a
	done
	if [ -n "$ui" ]; then
		# One listening line per mapping (at least one).
		[ "$n" -gt 0 ] || n=1
		for ((i = 0; i < 500; i++)); do
			[ "$(grep -c '^fault: listening on ' "$FAULT_OUT")" -ge "$n" ] && break
			kill -0 "$FAULT_PID" 2>/dev/null || break
			sleep 0.01
		done
		[ "$(grep -c '^fault: listening on ' "$FAULT_OUT")" -ge "$n" ] ||
			fail "fault did not print $n listening line(s) within 5 s: $(cat "$FAULT_ERR")"
	else
		[ -n "$port" ] || fail "start_fault --no-ui needs a --proxy argument to know the port"
		# [ADDR:]PORT=...: the listen port is before '=', after the last colon.
		port=${port%%=*}
		(wait_listen "${port##*:}" "$FAULT_PID") >/dev/null 2>&1 ||
			fail "fault did not listen on port ${port##*:} within 5 s: $(cat "$FAULT_ERR")"
	fi
	kill -0 "$FAULT_PID" 2>/dev/null || fail "fault exited at start: $(cat "$FAULT_ERR")"
	return 0
}

# sha256_of FILE - the hex digest alone.
sha256_of() { sha256sum "$1" | awk '{print $1}'; }

# make_file PATH BYTES - random content (no repeating blocks, so any
# reordering or duplication of chunks changes the digest).
make_file() {
	head -c "$2" /dev/urandom >"$1" || fail "cannot write $1"
}

# ms_diff A B - (B - A) seconds as integer milliseconds (awk arithmetic).
ms_diff() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
