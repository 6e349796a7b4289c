#!/usr/bin/env bash
# plugins/llm/tests/clients.sh - the official npm clients (openai,
# @anthropic-ai/sdk, @google/genai, ollama) as the applications, through
# fault in front of the provider double (clients.mjs runs one call and
# prints what the client saw).
#
#  1. no fault (probability 0): each of the 9 calls (OpenAI chat whole and
#     streamed, Responses streamed, Anthropic whole and streamed, Gemini
#     whole and streamed, Ollama chat streamed and generate) gives the same
#     text and finish reason as straight to the double;
#  2. inject-bias "(?i)paris" -> "London": every client reads the text with
#     London, streams included (the match spans two frames);
#  3. token-drop (0.5, seed 3): every client reads a shorter text without
#     an error;
#  4. truncate-response after 6 frames: OpenAI's stream ends with "length",
#     Anthropic's with "max_tokens", Ollama's with "length"; abrupt: openai
#     and @anthropic-ai/sdk end silently with no finish reason, ollama
#     throws (its client insists on "done"); error: the provider's
#     mid-stream error frame makes openai, @anthropic-ai/sdk, @google/genai
#     and ollama throw their API error;
#  5. http-error with maxRetries 2 and retry-after 10 ms: a rate limit is
#     retried by openai (3 requests counted in its fetch, 3 fault events)
#     and by @anthropic-ai/sdk, the insufficient_quota 429 is not (1
#     request, RateLimitError with code insufficient_quota), Anthropic's 529
#     is retried and its 402 billing error is not; the double is never
#     reached;
#  6. slow-stream, fixed 50 ms per frame and 200 ms to the first token:
#     the first text arrives >= 245 ms after the call (250 ms, 5 ms
#     tolerance for timer and clock granularity) and the last of n pieces
#     (each its own frame, each held 50 ms after the one before) >=
#     200 + 50 n - 5 ms after it; the text is whole. Only lower bounds: a
#     loaded machine makes everything later, never earlier.
. "$top_srcdir/plugins/llm/tests/lib.sh" || exit 99
need_clients

ALL="openai-chat openai-chat-stream openai-responses-stream anthropic anthropic-stream gemini
gemini-stream ollama-chat-stream ollama-generate"

start_double

# ---- 1. the same as direct
start_llm --llm-case inject-bias --bias-pattern '(?i)paris' --bias-replacement London --llm-probability 0
for c in $ALL; do
	d=$(call "$c" "$DOUBLE" | jq_ 'j["ok"], json.dumps(j.get("text")), j.get("finish")')
	p=$(call "$c" "$BASE" | jq_ 'j["ok"], json.dumps(j.get("text")), j.get("finish")')
	[ "$d" = "$p" ] || fail "$c: direct '$d', through fault '$p'"
	[[ $d == "True \"$TEXT\" "* ]] || fail "$c direct: $d"
done
stop_pid "$FAULT_PID"
note "no fault: 9 client calls see the same text and finish as direct"

# ---- 2. inject-bias
start_llm --llm-case inject-bias --bias-pattern '(?i)paris' --bias-replacement London
for c in $ALL; do
	got=$(call "$c" "$BASE" | field text)
	[ "$got" = "${TEXT//Paris/London}" ] || fail "inject-bias $c: '$got'"
done
stop_pid "$FAULT_PID"
note "inject-bias: 9 client calls read London twice (streams: across frames)"

# ---- 3. token-drop
start_llm --llm-case token-drop --token-drop-rate 0.5 --seed 3
for c in $ALL; do
	r=$(call "$c" "$BASE")
	[ "$(field ok <<<"$r")" = True ] || fail "token-drop $c: $r"
	got=$(field text <<<"$r")
	[ ${#got} -lt ${#TEXT} ] || fail "token-drop $c: '$got' not shorter"
done
stop_pid "$FAULT_PID"
note "token-drop: 9 client calls read a shorter text, no error"

# ---- 4. truncate-response
start_llm --llm-case truncate-response --truncate-after 6
r=$(call openai-chat-stream "$BASE")
[ "$(jq_ 'j["text"], j["finish"]' <<<"$r")" = "The capital of France is length" ] || fail "openai truncated: $r"
r=$(call anthropic-stream "$BASE")
[ "$(jq_ 'j["text"], j["finish"]' <<<"$r")" = "The capital of max_tokens" ] || fail "anthropic truncated: $r"
r=$(call ollama-chat-stream "$BASE")
[ "$(jq_ 'j["text"], j["finish"]' <<<"$r")" = "The capital of France is Par length" ] || fail "ollama truncated: $r"
r=$(call gemini-stream "$BASE")
[ "$(jq_ 'j["finish"]' <<<"$r")" = MAX_TOKENS ] || fail "gemini truncated: $r"
stop_pid "$FAULT_PID"
start_llm --llm-case truncate-response --truncate-after 6 --truncate-mode abrupt
r=$(call openai-chat-stream "$BASE")
[ "$(jq_ 'j["ok"], j["text"], j["finish"]' <<<"$r")" = "True The capital of France is None" ] || fail "openai abrupt: $r"
r=$(call anthropic-stream "$BASE")
[ "$(jq_ 'j["ok"], j["text"], j["finish"]' <<<"$r")" = "True The capital of None" ] || fail "anthropic abrupt: $r"
r=$(call ollama-chat-stream "$BASE")
[ "$(field ok <<<"$r")" = False ] || fail "ollama abrupt: $r"
stop_pid "$FAULT_PID"
start_llm --llm-case truncate-response --truncate-after 6 --truncate-mode error
r=$(call openai-chat-stream "$BASE")
[ "$(jq_ 'j["ok"], j["name"], j["type"]' <<<"$r")" = "False APIError server_error" ] || fail "openai mid-stream error: $r"
r=$(call anthropic-stream "$BASE")
[ "$(jq_ 'j["ok"], j["type"]' <<<"$r")" = "False overloaded_error" ] || fail "anthropic mid-stream error: $r"
r=$(call gemini-stream "$BASE")
[ "$(jq_ 'j["ok"], j["status"]' <<<"$r")" = "False 500" ] || fail "gemini mid-stream error: $r"
r=$(call ollama-chat-stream "$BASE")
[ "$(field ok <<<"$r")" = False ] && grep -q 'injected by fault' <<<"$r" || fail "ollama mid-stream error: $r"
stop_pid "$FAULT_PID"
note "truncate-response: clean finish reasons seen by 4 clients; abrupt: openai/anthropic end silently, ollama throws; mid-stream errors raised by 4 clients"

# ---- 5. http-error and retries
before=$(double_count)
R='{"maxRetries":2}'
start_llm --llm-case http-error --llm-retry-after 10
r=$(call openai-chat-stream "$BASE" "$R")
[ "$(jq_ 'j["ok"], j["status"], j["code"], j["attempts"]' <<<"$r")" = "False 429 rate_limit_exceeded 3" ] ||
	fail "openai rate limit: $r"
wait_for_line "$FAULT_OUT" "case=http-error .*status=429"
r=$(call anthropic-stream "$BASE" "$R")
[ "$(jq_ 'j["status"], j["type"], j["attempts"]' <<<"$r")" = "429 rate_limit_error 3" ] || fail "anthropic rate limit: $r"
stop_pid "$FAULT_PID"
[ "$(events http-error)" = 6 ] || fail "$(events http-error) events for 6 attempts"
start_llm --llm-case http-error --llm-error quota --llm-retry-after 10
r=$(call openai-chat "$BASE" "$R")
[ "$(jq_ 'j["ok"], j["status"], j["code"], j["name"], j["attempts"]' <<<"$r")" = "False 429 insufficient_quota RateLimitError 1" ] ||
	fail "openai quota: $r"
r=$(call anthropic "$BASE" "$R")
[ "$(jq_ 'j["status"], j["type"], j["attempts"]' <<<"$r")" = "402 billing_error 1" ] || fail "anthropic billing: $r"
stop_pid "$FAULT_PID"
start_llm --llm-case http-error --llm-error overloaded --llm-retry-after 10
r=$(call anthropic-stream "$BASE" "$R")
[ "$(jq_ 'j["status"], j["type"], j["name"], j["attempts"]' <<<"$r")" = "529 overloaded_error OverloadedError 3" ] ||
	fail "anthropic overloaded: $r"
r=$(call gemini "$BASE" "$R")
[ "$(jq_ 'j["status"]' <<<"$r")" = 503 ] || fail "gemini unavailable: $r"
stop_pid "$FAULT_PID"
[ "$(double_count)" = "$before" ] || fail "error answers reached the double"
note "http-error: rate limits retried (3 requests), quota/billing not (1), 529 retried; double untouched"

# ---- 6. slow-stream
start_llm --llm-case slow-stream --slow-stream-mean-delay 50 --slow-stream-distribution fixed \
	--slow-stream-first-token-delay 200
for c in openai-chat-stream anthropic-stream gemini-stream ollama-chat-stream; do
	r=$(call "$c" "$BASE")
	read -r ok text_ok first span n <<<"$(jq_ "j['ok'], j['text'] == '$TEXT', j['firstMs'], sum(j['gapsMs']), len(j['gapsMs'])" <<<"$r")"
	[ "$ok $text_ok" = "True True" ] || fail "slow-stream $c: $r"
	[ "$first" -ge 245 ] || fail "slow-stream $c: first text after $first ms (want >= 250 - 5)"
	last=$((first + span))
	[ "$last" -ge $((200 + 50 * (n + 1) - 5)) ] ||
		fail "slow-stream $c: last of $((n + 1)) pieces after $last ms (want >= 200 + 50 * $((n + 1)) - 5)"
	note "slow-stream $c: first text at $first ms, $((n + 1)) pieces over $span ms"
done
stop_pid "$FAULT_PID"
