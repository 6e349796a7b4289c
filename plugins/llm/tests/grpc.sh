#!/usr/bin/env bash
# plugins/llm/tests/grpc.sh - the gRPC bridge sees LLM traffic as HTTP:
# `fault run llm openai` with a remote plugin (rplugin.py, echo mode) in
# front of the provider double, and inject-bias on:
#
#  1. a streamed chat call: the remote plugin is asked ProcessHttpRequest
#     with POST /v1/chat/completions and ProcessHttpResponse with 200; the
#     client still reads London (the llm plugin and the bridge both act);
#  2. the same for a whole (non-streamed) body and Anthropic's path.
. "$top_srcdir/plugins/llm/tests/lib.sh" || exit 99
. "$top_srcdir/plugins/grpc-bridge/tests/common.sh" || exit 99
[ -f "$top_builddir/plugins/llm/.libs/llm-mode.so" ] || skip "the llm-mode plugin is not built"
start_double
E=$E2E_TMP/e.log
start_rplugin "$E" --mode echo --name E
LOG=$E2E_TMP/fault.log
LP=$(free_port)
start_fault --log-file "$LOG" run llm openai --endpoint "$DOUBLE" --llm-port "$LP" \
	--case inject-bias --bias-pattern '(?i)paris' --bias-replacement London \
	--grpc-plugin "http://127.0.0.1:$RP_PORT"
wait_count "$LOG" 'remote plugin 1 .*: enabled for' 1 "$FAULT_PID"
BASE=http://127.0.0.1:$LP
want="\"${TEXT//Paris/London}\""

curl -sS --max-time 10 -d '{"model":"m","stream":true}' "$BASE/v1/chat/completions" >"$E2E_TMP/b" ||
	fail "curl stream"
[ "$(python3 "$LLM_T/wire.py" chat <"$E2E_TMP/b" | head -1)" = "$want" ] ||
	fail "streamed text through the bridge: $(head -c 300 "$E2E_TMP/b")"
wait_count "$E" '^http_req POST /v1/chat/completions ' 1
wait_count "$E" '^http_resp 200$' 1
note "streamed chat: the remote plugin saw the request and the response, the client reads London"

curl -sS --max-time 10 -d '{"model":"m"}' "$BASE/v1/messages" >"$E2E_TMP/b" || fail "curl whole"
[ "$(python3 "$LLM_T/wire.py" messages <"$E2E_TMP/b" | head -1)" = "$want" ] ||
	fail "whole body through the bridge: $(cat "$E2E_TMP/b")"
wait_count "$E" '^http_req POST /v1/messages ' 1
wait_count "$E" '^http_resp 200$' 2
note "whole Anthropic body: the remote plugin saw it, the client reads London"
