#!/bin/bash
# plugins/llm/tests/mode.sh - `fault run llm PROVIDER`, the original's
# command line: a reverse proxy on --llm-port in front of --endpoint, with
# the llm plugin on for the provider, --case and --probability; no forward
# proxy; bad providers and endpoints are one line and status 2.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/llm/tests/lib.sh" || exit 99

bad_input "unknown provider 'nope'" run llm nope
bad_input "no provider" run llm
bad_input "--endpoint: .*give scheme://host" run llm openai --endpoint http://127.0.0.1:1/v1/x
bad_input "unknown option|--bias-pattern" run --case token-drop --proxy 1=127.0.0.1:2
"$FAULT" run llm --help >"$E2E_TMP/help.out" || fail "fault run llm --help"
grep -q -- '--endpoint' "$E2E_TMP/help.out" && grep -q -- '--bias-pattern' "$E2E_TMP/help.out" ||
	fail "run llm --help lacks the mode's or the llm plugin's options"

start_double
LP=$(free_port)
start_fault run llm openai --endpoint "$DOUBLE" --llm-port "$LP" --case inject-bias \
	--bias-pattern '(?i)paris' --bias-replacement London --tail
grep -q "listening on 127.0.0.1:$LP" "$FAULT_OUT" || fail "no listener on --llm-port $LP: $(cat "$FAULT_OUT")"
grep -q "forward proxy" "$FAULT_OUT" && fail "run llm started the forward proxy"
got=$(curl -sS --max-time 10 -H 'Content-Type: application/json' \
	-d '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
	"http://127.0.0.1:$LP/v1/chat/completions" | python3 "$LLM_T/wire.py" chat | head -1) ||
	fail "streamed chat through run llm"
want=${TEXT//Paris/London}
[ "$got" = "\"$want\"" ] || fail "run llm: text $got, want \"$want\""
wait_for_line "$FAULT_OUT" 'llm .*case=inject-bias' "$FAULT_PID"
stop_pid "$FAULT_PID"
note "run llm openai --case inject-bias: the client reads London"

LP=$(free_port)
start_fault run llm openai --endpoint "$DOUBLE/" --llm-port "$LP" --case http-error --probability 0
got=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	-d '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
	"http://127.0.0.1:$LP/v1/chat/completions") || fail "request through run llm"
[ "$got" = 200 ] || fail "--probability 0 still faulted ($got)"
stop_pid "$FAULT_PID"
note "ok"
