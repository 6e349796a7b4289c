# plugins/http/tests/common.sh - helpers shared by the http plugin's tests
# (sourced after tests/e2e/lib.sh).
#
#   start_upstream [HOST]   plugins/http/tests/upstream.py on a free port of
#                           HOST (127.0.0.1); sets UP_PORT and UP_LOG (one
#                           line per accepted connection, "conn K", and per
#                           request, "req K METHOD PATH")
#   start_proxy ARGS...     fault run with the forward proxy on a free port
#                           (PP) and ARGS; waits for its listening line
#   upstream_conns          number of connections the upstream accepted
#   asan_build              true when fault is built with AddressSanitizer,
#                           whose quarantine of freed memory makes RSS
#                           bounds meaningless
#
# lib.sh exports NO_PROXY='*', which curl applies even to -x: tests give
# curl --noproxy '' with -x, and unset NO_PROXY for HTTP_PROXY clients.

HTTP_TESTS=$top_srcdir/plugins/http/tests
[ -f "$top_builddir/plugins/http/.libs/http.so" ] ||
	skip "the http plugin is not built (configure --enable-http, llhttp needed)"

start_upstream() {
	local host=${1:-127.0.0.1} n=$((${UP_N:-0} + 1)) i
	UP_N=$n
	local pf=$E2E_TMP/upstream$n.port
	python3 "$HTTP_TESTS/upstream.py" "$pf" --host "$host" >"$E2E_TMP/upstream$n.out" 2>&1 &
	track_pid $!
	UP_PID=$!
	for ((i = 0; i < 500; i++)); do
		[ -s "$pf" ] && break
		kill -0 "$UP_PID" 2>/dev/null || fail "upstream.py exited: $(cat "$E2E_TMP/upstream$n.out")"
		sleep 0.01
	done
	[ -s "$pf" ] || fail "upstream.py did not start within 5 s"
	UP_PORT=$(cat "$pf")
	UP_LOG=$pf.log
}

upstream_conns() {
	grep -c '^conn ' "$UP_LOG" 2>/dev/null || echo 0
}

start_proxy() {
	PP=$(free_port)
	start_fault run --proxy-address "127.0.0.1:$PP" "$@"
	grep -q "^fault: listening on 127.0.0.1:$PP -> forward proxy" "$FAULT_OUT" ||
		wait_for_line "$FAULT_OUT" "^fault: listening on 127.0.0.1:$PP -> forward proxy" "$FAULT_PID"
	PROXY=http://127.0.0.1:$PP
}

#   start_nginx_h2          after start_nginx --tls: a second nginx serving
#                           $WWW over TLS with HTTP/2 (ALPN h2) on
#                           H2_PORT, with $CERT; H2_LOG is its access log
#                           (the protocol is the request's last word).
#                           $H2_EXTRA, if set, goes into its server block.
#                           Returns 1 when nginx has no HTTP/2 module.
# nginx writes a request's access-log line after sending the response, so
# a client may be done before the line is there: tests wait for it.
#   h2_log_wait N           bounded poll (10 s) until H2_LOG has N lines
#   h2_mark / h2_next       h2_mark notes H2_LOG's length; h2_next waits
#                           for the line after it and prints it
#   wait_tail FILE N ERE    the same wait for one of FILE's last N lines
h2_log_wait() {
	local i
	for ((i = 0; i < 1000; i++)); do
		[ "$(wc -l <"$H2_LOG")" -ge "$1" ] && return 0
		sleep 0.01
	done
	fail "nginx's HTTP/2 access log never reached $1 lines: $(cat "$H2_LOG")"
}
h2_mark() { H2_MARK=$(wc -l <"$H2_LOG"); }
# wait_tail FILE N ERE - bounded poll (10 s) until one of FILE's last N
# lines matches ERE (nginx's access log lags its responses a little).
wait_tail() {
	local i
	for ((i = 0; i < 1000; i++)); do
		tail -n "$2" "$1" 2>/dev/null | grep -Eq -- "$3" && return 0
		sleep 0.01
	done
	return 1
}
h2_next() {
	h2_log_wait $((H2_MARK + 1))
	sed -n "$((H2_MARK + 1))p" "$H2_LOG"
}

start_nginx_h2() {
	"$NGINX" -V 2>&1 | grep -q -- '--with-http_v2_module' || return 1
	local d=$E2E_TMP/nginx-h2
	mkdir -p "$d/tmp"
	H2_PORT=$(free_port)
	H2_LOG=$d/access.log
	cat >"$d/nginx.conf" <<NGX
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 256; }
http {
    log_format proto '\$request_method \$uri \$status \$server_protocol';
    access_log $H2_LOG proto;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$H2_PORT ssl http2;
        ssl_certificate $CERT;
        ssl_certificate_key $CERT_KEY;
        root $WWW;
        ${H2_EXTRA:-}
    }
}
NGX
	"$NGINX" -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" >"$d/out" 2>&1 &
	track_pid $!
	wait_port 127.0.0.1 "$H2_PORT" $!
}

asan_build() {
	ldd "$top_builddir/core/.libs/fault" 2>/dev/null | grep -q libasan
}
