#!/usr/bin/env bash
# tests/e2e/run_unavailable.sh - options of the original tool for features
# this build does not have (issue 14, item 7): --with-otel (or
# FAULT_WITH_OTEL), FAULT_ENABLE_STEALTH and the stealth-mode FAULT_EBPF_*
# variables; and --http-response-direction, which has no meaning for an
# answer that replaces the whole exchange. Each one set says so in one
# line on standard error, without --log-stdout, and the run goes on and
# proxies as usual. Unset, or set to false, nothing is said.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

start_nginx
printf 'plain\n' >"$WWW/index.html"

# proxied ARGS... - `fault ARGS` proxies a request; stderr is left in
# $FAULT_ERR once the run has stopped with status 0.
proxied() {
	local body
	P=$(free_port)
	start_fault "$@" --disable-http-proxy --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT"
	body=$(curl -sS --fail --max-time 10 "http://127.0.0.1:$P/index.html") ||
		fail "fault $*: curl through the proxy failed"
	[ "$body" = plain ] || fail "fault $*: got '$body'"
	stop_pid "$FAULT_PID"
	[ "$STOP_STATUS" = 0 ] || fail "fault $*: status $STOP_STATUS"
}

# one_line REGEX - stderr of the last run is exactly one line matching it.
one_line() {
	[ "$(wc -l <"$FAULT_ERR")" = 1 ] || fail "stderr is not one line: $(cat "$FAULT_ERR")"
	grep -Eq -- "$1" "$FAULT_ERR" || fail "stderr does not match '$1': $(cat "$FAULT_ERR")"
	note "$(cat "$FAULT_ERR")"
}

# A build or install without the otel plugin (plugins/otel/tests cover it).
OTEL_SAVED_PATH=$FAULT_PLUGIN_PATH
FAULT_PLUGIN_PATH=$(printf '%s\n' "$FAULT_PLUGIN_PATH" | tr : '\n' | grep -v '/plugins/otel/' | paste -sd:)
otel='^fault: --with-otel \(FAULT_WITH_OTEL\): OpenTelemetry export is not available in this build; ignored$'
proxied --with-otel run
one_line "$otel"
proxied run --with-otel
one_line "$otel"
FAULT_WITH_OTEL=true proxied run
one_line "$otel"
FAULT_PLUGIN_PATH=$OTEL_SAVED_PATH

# With the stealth plugin built (eBPF), these variables are its options
# (plugins/stealth/tests): set without stealth mode on, each still says in
# one line that it changes nothing.
if [ -f "$top_builddir/plugins/stealth/.libs/stealth.so" ]; then
	ebpf_re() { echo "^fault: --[a-z-]+ \\($1\\): only used by stealth mode \\(--stealth\\), which is off; ignored$"; }
else
	FAULT_ENABLE_STEALTH=true proxied run
	one_line '^fault: FAULT_ENABLE_STEALTH: stealth mode \(eBPF\) is not available in this build; ignored'
	ebpf_re() { echo "^fault: $1: only used by stealth mode"; }
fi
for v in FAULT_EBPF_PROCESS_NAME FAULT_EBPF_PROGRAMS_DIR FAULT_EBPF_PROXY_IP FAULT_EBPF_PROXY_PORT \
	FAULT_EBPF_PROXY_IFACE; do
	env "$v=1" bash -c '"$0" run --disable-http-proxy --duration 0.2s --proxy "127.0.0.1:$1=127.0.0.1:$2"' \
		"$FAULT" "$(free_port)" "$NGINX_PORT" >/dev/null 2>"$E2E_TMP/ebpf.err" || fail "$v=1: status $?"
	[ "$(wc -l <"$E2E_TMP/ebpf.err")" = 1 ] && grep -Eq "$(ebpf_re "$v")" "$E2E_TMP/ebpf.err" ||
		fail "$v=1: $(cat "$E2E_TMP/ebpf.err")"
done
note "FAULT_EBPF_*: one line each"

# A flag kept for the original's command lines that has no meaning here.
proxied run --with-http-response --http-response-trigger-probability 0 --http-response-direction egress
one_line '^fault: --http-response-direction \(FAULT_HTTP_FAULT_DIRECTION\): no effect: the answer replaces the whole exchange; ignored$'

# Off: not a word.
FAULT_ENABLE_STEALTH=false FAULT_WITH_OTEL=false proxied run
[ -s "$FAULT_ERR" ] && fail "set to false, still a message: $(cat "$FAULT_ERR")"
note "set to false: nothing said"
