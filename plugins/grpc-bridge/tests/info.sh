#!/usr/bin/env bash
# plugins/grpc-bridge/tests/info.sh - registration of remote plugins:
#
#  1. at start the bridge asks GetPluginInfo then GetPluginCapabilities and
#     lists the plugin enabled with what it said; a plugin that does not
#     answer is listed disabled and fault runs on;
#  2. HealthCheck is called on the interval given;
#  3. TCP-mapping bytes reach ProcessTunnelData both ways under one UUID
#     (version 4) per connection, and an echo plugin changes nothing;
#  4. FAULT_GRPC_PLUGINS (comma-separated) registers plugins too;
#  5. a URL with another scheme, text that is no URL, a port out of
#     1..65535, and a --grpc-plugin-* option without --grpc-plugin are each
#     refused with status 2 and one line.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/grpc-bridge/tests/common.sh" || exit 99
export FAULT_DISABLE_HTTP_PROXY=1

start_echo
PL=$E2E_TMP/echo-plugin.log
start_rplugin "$PL" --mode uuid --name EchoPlugin
DEAD=$(free_port)
LOG=$E2E_TMP/fault.log
P=$(free_port)
start_fault --log-file "$LOG" --log-level debug run --proxy "127.0.0.1:$P=127.0.0.1:$ECHO_PORT" \
	--grpc-plugin "http://127.0.0.1:$RP_PORT" --grpc-plugin "http://127.0.0.1:$DEAD" \
	--grpc-plugin-health-interval 200ms

# ---- 1. the listing
wait_for_line "$LOG" "remote plugin 1 http://127.0.0.1:$RP_PORT: EchoPlugin 1.2.3 \(author 'Test Author', platform 'python'\): enabled for http tunnel" "$FAULT_PID"
wait_for_line "$LOG" "remote plugin 2 http://127.0.0.1:$DEAD: disabled \(GetPluginInfo: UNAVAILABLE" "$FAULT_PID"
[ "$(sed -n 1,2p "$PL" | tr '\n' ' ')" = "listening $RP_PORT info " ] || fail "plugin calls: $(cat "$PL")"
grep -qx caps "$PL" || fail "GetPluginCapabilities was not called: $(cat "$PL")"
note "listed: plugin 1 enabled (info, capabilities), plugin 2 disabled, fault running"

# ---- 2. health checks
wait_count "$PL" '^health$' 3 "$FAULT_PID" 5
note "HealthCheck every 200 ms"

# ---- 3. tunnel data
read -r ms reply <<<"$(roundtrip "$P" "hello world")"
[ "$reply" = "hello world" ] || fail "echo plugin: got '$reply'"
wait_count "$PL" '^tunnel .* SERVER INGRESS 11$' 1
read -r _ id _ _ _ <<<"$(grep -m1 '^tunnel .* EGRESS 11$' "$PL")"
[ -n "$id" ] || fail "no egress chunk seen: $(cat "$PL")"
grep -q "^tunnel $id SERVER INGRESS 11$" "$PL" || fail "the ingress chunk has another id: $(cat "$PL")"
grep -q '^badid' "$PL" && fail "ids are not UUIDs: $(grep '^badid' "$PL")"
read -r _ reply2 <<<"$(roundtrip "$P" "again")"
[ "$reply2" = "again" ] || fail "second connection: '$reply2'"
wait_count "$PL" '^tunnel .* EGRESS 5$' 1
grep -q "^tunnel $id .* EGRESS 5$" "$PL" && fail "two connections share the id $id"
note "tunnel chunks both ways, id $id, unchanged ($ms ms)"

# ---- 4. the environment variable
LOG2=$E2E_TMP/fault-env.log
P2=$(free_port)
FAULT_GRPC_PLUGINS="http://127.0.0.1:$RP_PORT,http://127.0.0.1:$DEAD" \
	start_fault --log-file "$LOG2" run --proxy "127.0.0.1:$P2=127.0.0.1:$ECHO_PORT"
wait_for_line "$LOG2" "remote plugin 1 http://127.0.0.1:$RP_PORT: EchoPlugin .*: enabled" "$FAULT_PID"
wait_for_line "$LOG2" "remote plugin 2 http://127.0.0.1:$DEAD: disabled" "$FAULT_PID"
note "FAULT_GRPC_PLUGINS registers both plugins"

# ---- 5. a bad URL
out=$("$FAULT" run --proxy "127.0.0.1:$(free_port)=127.0.0.1:$ECHO_PORT" --grpc-plugin ftp://127.0.0.1:1 2>&1)
rc=$?
[ $rc = 2 ] || fail "bad URL: exit $rc: $out"
grep -q "grpc-plugin 'ftp://127.0.0.1:1': the scheme must be" <<<"$out" || fail "bad URL message: $out"
note "ftp:// refused with status 2"
M=(run --proxy "127.0.0.1:$(free_port)=127.0.0.1:$ECHO_PORT")
bad_input "grpc-plugin 'notaurl': not a URL" "${M[@]}" --grpc-plugin notaurl
bad_input "grpc-plugin 'http://127.0.0.1:99999': the port must be 1 to 65535" "${M[@]}" \
	--grpc-plugin http://127.0.0.1:99999
bad_input "grpc-plugin '127.0.0.1:0': the port must be 1 to 65535" "${M[@]}" --grpc-plugin 127.0.0.1:0
bad_input "grpc-plugin 'unix:': " "${M[@]}" --grpc-plugin unix:
bad_input '^fault: --grpc-plugin-timeout: only applies with --grpc-plugin' "${M[@]}" \
	--grpc-plugin-timeout 2s
note "no URL, port 99999, port 0, an empty socket path, --grpc-plugin-timeout alone: status 2"
