#!/usr/bin/env bash
# plugins/llm/tests/stream.sh - faults inside streams, in front of the
# provider double: what the official npm clients, and a reader with an idle
# timeout (as openai-python's read timeout is), see.
#
#  1. stream-stall after 3 frames for 600 ms: silent, a reader with a
#     300 ms idle timeout times out; with keep-alives every 100 ms it reads
#     the whole stream, six keep-alives in the provider's form (an SSE
#     comment for OpenAI, `: OPENROUTER PROCESSING` with --llm-provider
#     open-router, Anthropic's ping event), after >= 600 ms (5 ms tolerance
#     for timers; lower bounds only: load makes things later, not earlier);
#     the openai client reads the whole text, after >= 595 ms; one event
#     per stream with the URL, frames and keep-alives;
#  2. corrupt-stream at frame 4: duplicate, openai/@anthropic-ai/sdk/
#     @google/genai/ollama read a token twice without an error; malformed,
#     openai, @anthropic-ai/sdk and @google/genai throw a SyntaxError while
#     ollama skips the line (its text lacks a token, no error);
#  3. truncated tool calls (truncate-response after 4 frames): openai reads
#     finish "length" and the arguments '{"city": "Paris", "un', which
#     JSON.parse refuses; @anthropic-ai/sdk's MessageStream reads
#     "max_tokens", the arguments '{"city": "Par' and makes an empty input
#     {} of them (its partial-JSON parser drops the cut string); abrupt:
#     openai ends with no finish reason, the MessageStream throws;
#  4. OpenRouter: its keep-alive comments pass untouched, inject-bias still
#     rewrites the text around them; --truncate-mode error with
#     --llm-provider open-router sends a frame with "error" and
#     finish_reason "error", which makes openai throw an APIError.
. "$top_srcdir/plugins/llm/tests/lib.sh" || exit 99
need_clients
start_double

# idle PATH BODY IDLE_MS OUT - reads a stream with an idle timeout: prints
# "whole MS" or "timeout MS" (since the request); the body goes to OUT.
idle() {
	python3 - "$LP" "$1" "$2" "$3" "$4" <<'PY'
import http.client, socket, sys, time
port, path, body, idle, out = sys.argv[1:]
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=int(idle) / 1000)
t = time.monotonic()
c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
r = c.getresponse()
data, how = b"", "whole"
try:
    while True:
        b = r.read1(65536)
        if not b:
            break
        data += b
except (socket.timeout, TimeoutError):
    how = "timeout"
open(out, "wb").write(data)
print(how, int((time.monotonic() - t) * 1000))
PY
}
STALL=(--llm-case stream-stall --stall-after 3 --stall-duration 600)
CHAT='{"model":"m","stream":true}'

# ---- 1. stream-stall
start_llm "${STALL[@]}"
read -r how ms <<<"$(idle /v1/chat/completions "$CHAT" 300 "$E2E_TMP/b")"
[ "$how" = timeout ] || fail "silent stall: the reader did not time out ($how after $ms ms)"
[ "$(grep -c '^data: ' "$E2E_TMP/b")" = 3 ] || fail "silent stall: $(grep -c '^data: ' "$E2E_TMP/b") frames before the stall, want 3"
wait_for_line "$FAULT_OUT" "case=stream-stall url=http://127.0.0.1:$D_PORT/v1/chat/completions frames=3 stall_ms=600 keepalives=0"
stop_pid "$FAULT_PID"
note "silent stall: a 300 ms idle timeout fires after 3 frames"

start_llm "${STALL[@]}" --stall-keepalive-interval 100
keepalive() { # PATH BODY PATTERN LABEL [COUNT: 6, the double's own included]
	local how ms n=${5:-6}
	read -r how ms <<<"$(idle "$1" "$2" 300 "$E2E_TMP/b")"
	[ "$how" = whole ] || fail "$4: the reader timed out after $ms ms despite keep-alives"
	[ "$ms" -ge 595 ] || fail "$4: the stream took $ms ms, want >= 600 - 5"
	[ "$(grep -c "$3" "$E2E_TMP/b")" = "$n" ] || fail "$4: $(grep -c "$3" "$E2E_TMP/b") keep-alives, want $n"
	note "$4: whole after $ms ms, $n keep-alives"
}
keepalive /v1/chat/completions "$CHAT" '^: keep-alive$' "OpenAI stall with keep-alives"
keepalive /v1/messages "$CHAT" '^event: ping$' "Anthropic stall with pings" 7 # the double pings once
[ "$(python3 "$LLM_T/wire.py" messages <"$E2E_TMP/b" | head -1)" = "\"$TEXT\"" ] || fail "Anthropic stall: text"
r=$(call openai-chat-stream "$BASE")
[ "$(jq_ "j['ok'], j['text'] == '$TEXT', j['totalMs'] >= 595" <<<"$r")" = "True True True" ] ||
	fail "openai through a stall: $r"
stop_pid "$FAULT_PID"
[ "$(grep -c "case=stream-stall url=.* frames=3 stall_ms=600 keepalives=6" "$FAULT_OUT")" = 3 ] ||
	fail "$(grep -c 'case=stream-stall' "$FAULT_OUT") stall events for 3 streams"
start_llm "${STALL[@]}" --stall-keepalive-interval 100 --llm-provider open-router
keepalive /api/v1/chat/completions "$CHAT" '^: OPENROUTER PROCESSING$' "OpenRouter stall with its comments"
stop_pid "$FAULT_PID"
note "the openai client reads the whole text across the stall"

# ---- 2. corrupt-stream
start_llm --llm-case corrupt-stream --corrupt-after 4 --corrupt-mode duplicate
for c in openai-chat-stream anthropic-stream gemini-stream ollama-chat-stream; do
	r=$(call "$c" "$BASE")
	[ "$(field ok <<<"$r")" = True ] || fail "duplicate $c: $r"
	got=$(field text <<<"$r")
	# One of the double's tokens twice, the rest as it was.
	python3 - "$got" "$LLM_T" <<'PY' || fail "duplicate $c: '$got' is not the text with a token repeated"
import sys
sys.path.insert(0, sys.argv[2])
from double import TOKENS
got = sys.argv[1]
sys.exit(0 if any("".join(TOKENS[:i + 1] + TOKENS[i:]) == got for i in range(len(TOKENS))) else 1)
PY
done
stop_pid "$FAULT_PID"
start_llm --llm-case corrupt-stream --corrupt-after 4 --corrupt-mode malformed
for c in openai-chat-stream anthropic-stream gemini-stream; do
	r=$(call "$c" "$BASE")
	[ "$(jq_ 'j["ok"], j["name"]' <<<"$r")" = "False SyntaxError" ] || fail "malformed $c: $r"
done
r=$(call ollama-chat-stream "$BASE")
[ "$(jq_ 'j["ok"], len(j["text"]) < len("'"$TEXT"'")' <<<"$r")" = "True True" ] || fail "malformed ollama: $r"
stop_pid "$FAULT_PID"
[ "$(grep -c 'case=corrupt-stream url=.* frames=4 mode=malformed' "$FAULT_OUT")" = 4 ] ||
	fail "$(grep -c case=corrupt-stream "$FAULT_OUT") corrupt events for 4 streams"
note "corrupt-stream: duplicates read as a repeated token by 4 clients; malformed frames: 3 clients throw, ollama skips the line"

# ---- 3. truncated tool calls
start_llm --llm-case truncate-response --truncate-after 4
r=$(call openai-tools-stream "$BASE")
[ "$(jq_ 'j["finish"], j["tool"]["name"], repr(j["tool"]["args"]), j["tool"]["argsValid"]' <<<"$r")" = \
	"length get_weather '{\"city\": \"Paris\", \"un' False" ] || fail "openai truncated tool call: $r"
r=$(call anthropic-tools-stream "$BASE")
[ "$(jq_ 'j["finish"], repr(j["tool"]["args"]), j["tool"]["argsValid"], j["tool"]["input"]' <<<"$r")" = \
	"max_tokens '{\"city\": \"Par' False {}" ] || fail "anthropic truncated tool call: $r"
stop_pid "$FAULT_PID"
start_llm --llm-case truncate-response --truncate-after 4 --truncate-mode abrupt
r=$(call openai-tools-stream "$BASE")
[ "$(jq_ 'j["ok"], j["finish"], repr(j["tool"]["args"])' <<<"$r")" = "True None '{\"city\": \"Paris\", \"un'" ] ||
	fail "openai abrupt tool call: $r"
r=$(call anthropic-tools-stream "$BASE")
[ "$(field ok <<<"$r")" = False ] || fail "anthropic abrupt tool call: $r"
stop_pid "$FAULT_PID"
note "truncated tool calls: openai and anthropic read cut arguments (not JSON), anthropic's MessageStream makes an empty input of them"

# ---- 4. OpenRouter
OR="X-Double-OpenRouter: 1"
start_llm --llm-case inject-bias --bias-pattern '(?i)paris' --bias-replacement London --llm-provider open-router
curl -sS --max-time 10 -H "$OR" -d "$CHAT" "$BASE/api/v1/chat/completions" >"$E2E_TMP/b" || fail "curl OpenRouter"
[ "$(grep -c '^: OPENROUTER PROCESSING$' "$E2E_TMP/b")" = 2 ] || fail "OpenRouter comments: $(head -c 300 "$E2E_TMP/b")"
[ "$(python3 "$LLM_T/wire.py" chat <"$E2E_TMP/b" | head -1)" = "\"${TEXT//Paris/London}\"" ] || fail "OpenRouter bias"
stop_pid "$FAULT_PID"
start_llm --llm-case truncate-response --truncate-after 6 --truncate-mode error --llm-provider open-router
curl -sS --max-time 10 -H "$OR" -d "$CHAT" "$BASE/api/v1/chat/completions" >"$E2E_TMP/b" || fail "curl OpenRouter"
[ "$(grep '^data: ' "$E2E_TMP/b" | tail -1 | cut -c7- | jq_ 'j["error"]["code"], j["choices"][0]["finish_reason"]')" = "502 error" ] ||
	fail "OpenRouter mid-stream error: $(tail -c 300 "$E2E_TMP/b")"
r=$(call openai-chat-stream "$BASE")
[ "$(jq_ 'j["ok"], j["name"]' <<<"$r")" = "False APIError" ] || fail "openai on OpenRouter's mid-stream error: $r"
stop_pid "$FAULT_PID"
note "OpenRouter: comments pass, bias applies around them; its mid-stream error makes openai throw"
