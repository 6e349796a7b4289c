#!/usr/bin/env bash
# plugins/llm/tests/curl.sh - the llm plugin with curl in front of the
# provider double (double.py), every wire format streamed and not; frames
# checked by wire.py, which refuses a stream that is not whole frames of
# valid JSON.
#
#  1. no fault (probability 0), and a case that changes nothing (a bias
#     pattern that never matches): every body byte-identical to the
#     double's own, streams cut in 7-byte pieces included, Gemini's
#     streamed JSON array (streamGenerateContent without alt=sse) too, and
#     streams whose last frame lacks its terminator (SSE and NDJSON, over
#     HTTP/1.1 and h2c: the unfinished frame leaves at the body's end);
#  2. inject-bias "(?i)paris" -> "London": the text of every format, streamed
#     (where "Par" and "is" are two frames) or not, says London twice and
#     Paris never; the same with frames cut in 5-byte pieces; one event per
#     request with the URL; an HTTP/2 (h2c) client stream too;
#  3. --llm-max-frame 64 (frames are larger): streams pass unparsed,
#     byte-identical, Paris stays;
#  4. token-drop (rate 0.5, seed 3): valid frames, fewer words, every word
#     one of the original's, in order;
#  5. truncate-response: a stream stops after 6 frames with "length" and
#     [DONE] (OpenAI) / max_tokens and message_stop (Anthropic) /
#     MAX_TOKENS and a closed array (Gemini's streamed JSON array); whole
#     bodies keep 6 words with the provider's length finish; abrupt: no
#     terminator (the Gemini array is left open); error: the array ends
#     with an element carrying the error; slow-stream paces the array's
#     elements;
#  6. http-error: each provider's shape and headers (OpenRouter's with
#     --llm-provider open-router), the double never called;
#     --llm-error-status overrides the status;
#  7. prompt-scramble: the double receives the prompt rewritten and the
#     instruction in each provider's own request format; --instruction with
#     inject-bias reaches the request of a stream (the prompt otherwise
#     untouched) while the response is biased;
#  8. probability 0.5 with --seed 9: errors within the binomial 99.9%
#     interval over 200 requests, and the same seed gives the same
#     sequence;
#  9. unknown paths are not touched (a GET and an unknown POST).
. "$top_srcdir/plugins/llm/tests/lib.sh" || exit 99

start_double
WIRE="python3 $LLM_T/wire.py"
# The formats: API PATH (curl sends {"stream": true|false}).
FORMATS="chat:/v1/chat/completions responses:/v1/responses messages:/v1/messages
ollama-chat:/api/chat ollama-generate:/api/generate"
GEM=/v1beta/models/gemini-test

# body URL STREAM [HEADER] - the response body.
body() {
	curl -sS --max-time 10 ${3:+-H "$3"} -H 'Content-Type: application/json' \
		-d "{\"model\":\"m\",\"stream\":$2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" "$1"
}
gem() { # gem BASE stream|array|whole [HEADER] (array: streamed without alt=sse)
	if [ "$2" = stream ]; then
		curl -sS --max-time 10 ${3:+-H "$3"} -d '{"contents":[{"parts":[{"text":"hi"}]}]}' \
			"$1$GEM:streamGenerateContent?alt=sse"
	elif [ "$2" = array ]; then
		curl -sS --max-time 10 ${3:+-H "$3"} -d '{"contents":[{"parts":[{"text":"hi"}]}]}' \
			"$1$GEM:streamGenerateContent"
	else
		curl -sS --max-time 10 ${3:+-H "$3"} -d '{"contents":[{"parts":[{"text":"hi"}]}]}' "$1$GEM:generateContent"
	fi
}

# ---- 1. untouched
identical() { # label
	local f api path s
	for f in $FORMATS; do
		api=${f%%:*} path=${f#*:}
		for s in true false; do
			body "$DOUBLE$path" $s >"$E2E_TMP/direct" || fail "direct $path"
			body "$BASE$path" $s "X-Double-Split: 7" >"$E2E_TMP/proxied" || fail "proxied $path"
			cmp -s "$E2E_TMP/direct" "$E2E_TMP/proxied" || fail "$1: $path stream=$s differs from the double's"
		done
	done
	for s in stream array whole; do
		gem "$DOUBLE" $s >"$E2E_TMP/direct"
		gem "$BASE" $s "X-Double-Split: 7" >"$E2E_TMP/proxied"
		cmp -s "$E2E_TMP/direct" "$E2E_TMP/proxied" || fail "$1: gemini $s differs from the double's"
	done
}
start_llm --llm-case inject-bias --bias-pattern Paris --bias-replacement London --llm-probability 0
identical "probability 0"
stop_pid "$FAULT_PID"
start_llm --llm-case inject-bias --bias-pattern 'Berlin|Rome' --bias-replacement London
identical "no match"
# A last frame without its terminator: the plugin holds it as unfinished
# until the body ends (on_body_end, SDK 1.3), then it goes out as it came.
U="X-Double-Unterminated: 1"
for path in /v1/chat/completions /api/chat; do
	body "$DOUBLE$path" true "$U" >"$E2E_TMP/direct" || fail "direct $path"
	[ "$(tail -c 1 "$E2E_TMP/direct")" = "}" ] || [ "$(tail -c 6 "$E2E_TMP/direct")" = "[DONE]" ] ||
		fail "the double ended $path with a terminator"
	body "$BASE$path" true "$U" >"$E2E_TMP/proxied" || fail "proxied $path"
	cmp -s "$E2E_TMP/direct" "$E2E_TMP/proxied" ||
		fail "unterminated last frame of $path: $(tail -c 40 "$E2E_TMP/proxied" | od -c | tail -3)"
	if curl --version | grep -q HTTP2; then
		curl -sS --max-time 10 --http2-prior-knowledge -H "$U" -H 'Content-Type: application/json' \
			-d '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}' "$BASE$path" >"$E2E_TMP/proxied"
		cmp -s "$E2E_TMP/direct" "$E2E_TMP/proxied" || fail "unterminated last frame of $path over h2c"
	fi
done
stop_pid "$FAULT_PID"
note "no fault, and a pattern that never matches: 13 bodies byte-identical to the double's, and streams whose last frame has no terminator"

# ---- 2. inject-bias
want=${TEXT//Paris/London}
check_text() { # label api file want
	local got
	got=$($WIRE "$2" <"$3" | head -1) || fail "$1: invalid frames: $($WIRE "$2" <"$3" 2>&1 | tail -1)"
	[ "$got" = "\"$4\"" ] || fail "$1: text $got, want \"$4\""
}
start_llm --llm-case inject-bias --bias-pattern '(?i)paris' --bias-replacement London
n=0
for split in "" "X-Double-Split: 5"; do
	for f in $FORMATS; do
		api=${f%%:*} path=${f#*:}
		for s in true false; do
			body "$BASE$path" $s "$split" >"$E2E_TMP/b" || fail "curl $path"
			check_text "bias $path stream=$s $split" "$api" "$E2E_TMP/b" "$want"
			n=$((n + 1))
		done
	done
	for s in stream array whole; do
		gem "$BASE" $s "$split" >"$E2E_TMP/b"
		check_text "bias gemini $s $split" gemini "$E2E_TMP/b" "$want"
		n=$((n + 1))
	done
done
wait_for_line "$FAULT_OUT" "case=inject-bias url=http://127.0.0.1:$D_PORT$GEM:generateContent replacements=2"
[ "$(events inject-bias)" = "$n" ] || fail "$(events inject-bias) inject-bias events for $n requests"
if curl --version | grep -q HTTP2; then
	# The same on an HTTP/2 (h2c) client connection.
	v=$(curl -sS --max-time 10 --http2-prior-knowledge -o "$E2E_TMP/b" -w '%{http_version}' \
		-d '{"stream":true}' "$BASE/v1/messages") || fail "h2c"
	[ "$v" = 2 ] || fail "h2c: HTTP version $v"
	check_text "bias over h2c" messages "$E2E_TMP/b" "$want"
	h2=", and an h2c stream"
fi
stop_pid "$FAULT_PID"
note "inject-bias: $n bodies (6 formats, streamed and not, Gemini's JSON array too, frames cut anywhere) say London, $n events${h2:-}"

# ---- 3. frames over the bound pass unparsed
start_llm --llm-case inject-bias --bias-pattern Paris --bias-replacement London --llm-max-frame 64
body "$DOUBLE/v1/chat/completions" true >"$E2E_TMP/direct"
body "$BASE/v1/chat/completions" true >"$E2E_TMP/proxied"
cmp -s "$E2E_TMP/direct" "$E2E_TMP/proxied" || fail "--llm-max-frame 64: the stream changed"
stop_pid "$FAULT_PID"
note "frames larger than --llm-max-frame pass byte-identical"

# ---- 4. token-drop
subseq() { # subseq TEXT_JSON STREAMED: TEXT_JSON is the text with some of its
	# tokens (the double's frames when streamed, else words) left out
	python3 - "$1" "$2" "$LLM_T" <<'PY'
import functools, json, re, sys
sys.path.insert(0, sys.argv[3])
from double import TOKENS, TEXT
got = json.loads(sys.argv[1])
toks = TOKENS if sys.argv[2] == "true" else re.findall(r"\s*\S+", TEXT)
@functools.lru_cache(None)
def can(i, j):
    if i == len(got):
        return True
    return any(got.startswith(toks[k], i) and can(i + len(toks[k]), k + 1)
               for k in range(j, len(toks)) if toks[k])
sys.exit(0 if got != TEXT and can(0, 0) else 1)
PY
}
start_llm --llm-case token-drop --token-drop-rate 0.5 --seed 3
for f in $FORMATS; do
	api=${f%%:*} path=${f#*:}
	for s in true false; do
		body "$BASE$path" $s >"$E2E_TMP/b"
		got=$($WIRE "$api" <"$E2E_TMP/b" | head -1) || fail "token-drop $path: invalid frames"
		[ "$got" != "\"$TEXT\"" ] || fail "token-drop $path stream=$s: nothing dropped"
		subseq "$got" $s || fail "token-drop $path stream=$s: $got is not the text with words dropped"
	done
done
gem "$BASE" array >"$E2E_TMP/b"
got=$($WIRE gemini <"$E2E_TMP/b" | head -1) || fail "token-drop gemini array: $(cat "$E2E_TMP/b")"
subseq "$got" true || fail "token-drop gemini array: $got is not the text with tokens dropped"
stop_pid "$FAULT_PID"
note "token-drop: 11 bodies with fewer words, in order, frames valid (Gemini's array a valid array)"

# ---- 5. truncate-response
start_llm --llm-case truncate-response --truncate-after 6
body "$BASE/v1/chat/completions" true >"$E2E_TMP/b"
out=$($WIRE chat <"$E2E_TMP/b") || fail "truncated OpenAI stream: invalid"
[ "$out" = $'"The capital of France is"\nlength' ] || fail "truncated OpenAI stream: $out"
[ "$(grep -c '^data: ' "$E2E_TMP/b")" = 8 ] || fail "truncated OpenAI stream: $(grep -c '^data: ' "$E2E_TMP/b") data frames, want 6 + finish + [DONE]"
tail -c 14 "$E2E_TMP/b" | grep -q '^data: \[DONE\]$' || fail "no [DONE] at the end"
body "$BASE/v1/messages" true >"$E2E_TMP/b"
out=$($WIRE messages <"$E2E_TMP/b") || fail "truncated Anthropic stream: invalid"
[ "$out" = $'"The capital of"\nmax_tokens' ] || fail "truncated Anthropic stream: $out"
grep -q '^event: message_stop' "$E2E_TMP/b" || fail "no message_stop"
for f in $FORMATS; do
	api=${f%%:*} path=${f#*:}
	body "$BASE$path" false >"$E2E_TMP/b"
	out=$($WIRE "$api" <"$E2E_TMP/b")
	[ "$(head -1 <<<"$out")" = '"The capital of France is Paris."' ] || fail "truncated whole $path: $out"
	case $(tail -1 <<<"$out") in length | max_tokens | incomplete) ;; *) fail "truncated whole $path: finish $out" ;; esac
done
wait_for_line "$FAULT_OUT" "case=truncate-response url=.*/api/generate words=6"
gem "$BASE" array "X-Double-Split: 9" >"$E2E_TMP/b"
out=$($WIRE gemini <"$E2E_TMP/b") || fail "truncated Gemini array: invalid"
[ "$out" = $'"The capital of France is Par"\nMAX_TOKENS' ] || fail "truncated Gemini array: $out"
stop_pid "$FAULT_PID"
start_llm --llm-case truncate-response --truncate-after 6 --truncate-mode abrupt
body "$BASE/v1/chat/completions" true >"$E2E_TMP/b"
out=$($WIRE chat <"$E2E_TMP/b") || fail "abrupt: not whole frames"
[ "$out" = $'"The capital of France is"\nnone' ] || fail "abrupt OpenAI stream: $out"
grep -q DONE "$E2E_TMP/b" && fail "abrupt: [DONE] sent"
gem "$BASE" array >"$E2E_TMP/b"
# Six whole elements and no closing bracket: a JSON parser fails at the end.
[ "$(tail -c 1 "$E2E_TMP/b")" = "}" ] && python3 -c 'import json,sys; json.loads(sys.stdin.read() + "]")' <"$E2E_TMP/b" ||
	fail "abrupt Gemini array: $(tail -c 80 "$E2E_TMP/b")"
$WIRE gemini <"$E2E_TMP/b" >/dev/null 2>&1 && fail "abrupt Gemini array parses whole"
stop_pid "$FAULT_PID"
start_llm --llm-case truncate-response --truncate-after 6 --truncate-mode error
gem "$BASE" array >"$E2E_TMP/b"
[ "$(jq_ 'len(j), j[-1]["error"]["status"]' <"$E2E_TMP/b")" = "7 INTERNAL" ] || fail "Gemini array error: $(cat "$E2E_TMP/b")"
stop_pid "$FAULT_PID"
# slow-stream on the array: each element held 40 ms (fixed), the bytes
# between elements add no delay of their own: 15 elements, >= 15 * 40 ms
# (5 ms tolerance), and the text whole.
start_llm --llm-case slow-stream --slow-stream-mean-delay 40 --slow-stream-distribution fixed
t=$(curl -sS --max-time 10 -o "$E2E_TMP/b" -w '%{time_total}' -d '{}' "$BASE$GEM:streamGenerateContent") || fail "slow array"
ms=$(python3 -c "print(int(float('$t') * 1000))")
[ "$ms" -ge 595 ] || fail "slow-stream Gemini array: $ms ms, want >= 600 - 5"
[ "$($WIRE gemini <"$E2E_TMP/b" | head -1)" = "\"$TEXT\"" ] || fail "slow-stream Gemini array: text"
stop_pid "$FAULT_PID"
note "truncate-response: clean (finish reason + terminator) and abrupt streams, whole bodies cut to 6 words"

# ---- 6. http-error
before=$(double_count)
err() { # err ARGS... -- PATH: prints status, then the headers' lines, then the body
	curl -sS --max-time 10 -D "$E2E_TMP/h" -o "$E2E_TMP/e" -d '{"stream":true}' "$BASE$1" >/dev/null ||
		fail "curl $1"
}
start_llm --llm-case http-error --llm-retry-after 2500
err /v1/chat/completions
grep -q '^HTTP/1.1 429' "$E2E_TMP/h" || fail "OpenAI rate limit: $(head -1 "$E2E_TMP/h")"
for h in 'retry-after: 3' 'retry-after-ms: 2500' 'x-ratelimit-remaining-requests: 0' 'x-should-retry: true'; do
	grep -qi "^$h" "$E2E_TMP/h" || fail "OpenAI rate limit: no '$h' header"
done
[ "$(jq_ 'j["error"]["code"], j["error"]["type"], j["error"]["param"]' <"$E2E_TMP/e")" = "rate_limit_exceeded requests None" ] ||
	fail "OpenAI rate limit body: $(cat "$E2E_TMP/e")"
err /v1/messages
[ "$(jq_ 'j["type"], j["error"]["type"]' <"$E2E_TMP/e")" = "error rate_limit_error" ] || fail "Anthropic 429: $(cat "$E2E_TMP/e")"
err "$GEM:generateContent"
[ "$(jq_ 'j["error"]["code"], j["error"]["status"]' <"$E2E_TMP/e")" = "429 RESOURCE_EXHAUSTED" ] || fail "Gemini 429: $(cat "$E2E_TMP/e")"
err /api/chat
grep -q '^HTTP/1.1 429' "$E2E_TMP/h" && [ "$(jq_ 'type(j["error"]).__name__' <"$E2E_TMP/e")" = str ] || fail "Ollama: $(cat "$E2E_TMP/e")"
stop_pid "$FAULT_PID"
start_llm --llm-case http-error --llm-error quota
err /v1/chat/completions
grep -q '^HTTP/1.1 429' "$E2E_TMP/h" && grep -qi '^x-should-retry: false' "$E2E_TMP/h" || fail "quota: $(cat "$E2E_TMP/h")"
grep -qi '^retry-after' "$E2E_TMP/h" && fail "quota error with a retry-after"
[ "$(jq_ 'j["error"]["code"], j["error"]["type"]' <"$E2E_TMP/e")" = "insufficient_quota insufficient_quota" ] || fail "quota body: $(cat "$E2E_TMP/e")"
stop_pid "$FAULT_PID"
start_llm --llm-case http-error --llm-error overloaded
err /v1/messages
grep -q '^HTTP/1.1 529' "$E2E_TMP/h" && [ "$(jq_ 'j["error"]["type"]' <"$E2E_TMP/e")" = overloaded_error ] || fail "Anthropic overloaded: $(head -1 "$E2E_TMP/h") $(cat "$E2E_TMP/e")"
err "$GEM:streamGenerateContent?alt=sse"
grep -q '^HTTP/1.1 503' "$E2E_TMP/h" && [ "$(jq_ 'j["error"]["status"]' <"$E2E_TMP/e")" = UNAVAILABLE ] || fail "Gemini overloaded: $(cat "$E2E_TMP/e")"
stop_pid "$FAULT_PID"
start_llm --llm-case http-error --llm-provider open-router --llm-error quota
err /api/v1/chat/completions
grep -q '^HTTP/1.1 402' "$E2E_TMP/h" && [ "$(jq_ 'j["error"]["code"]' <"$E2E_TMP/e")" = 402 ] || fail "OpenRouter credits: $(head -1 "$E2E_TMP/h") $(cat "$E2E_TMP/e")"
stop_pid "$FAULT_PID"
start_llm --llm-case http-error --llm-error server-error --llm-error-status 502
err /v1/chat/completions
grep -q '^HTTP/1.1 502' "$E2E_TMP/h" && [ "$(jq_ 'j["error"]["type"]' <"$E2E_TMP/e")" = server_error ] || fail "status override: $(head -1 "$E2E_TMP/h")"
wait_for_line "$FAULT_OUT" "case=http-error url=.*/v1/chat/completions status=502 provider=openai"
stop_pid "$FAULT_PID"
[ "$(double_count)" = "$before" ] || fail "http-error requests reached the double"
note "http-error: OpenAI 429 with retry headers, quota 429 not retryable, Anthropic 429/529, Gemini 429/503, Ollama, OpenRouter 402, status override; the double untouched"

# ---- 7. prompt-scramble
start_llm --llm-case prompt-scramble --scramble-pattern '(?i)python' --scramble-with java \
	--instruction 'Answer as a pirate.'
ps() { # ps PATH BODY EXPR - EXPR on the body the double received
	curl -sS --max-time 10 -o /dev/null -d "$2" "$BASE$1" || fail "curl $1"
	double_body | jq_ "$3"
}
q='Write Python code.'
[ "$(ps /v1/chat/completions "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"$q\"}]}" \
	'j["messages"][0], j["messages"][1]["content"]')" = "{'role': 'system', 'content': 'Answer as a pirate.'} Write java code." ] ||
	fail "OpenAI prompt: $(double_body)"
[ "$(ps /v1/messages "{\"model\":\"m\",\"system\":\"Be brief.\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"$q\"}]}]}" \
	'repr(j["system"]), j["messages"][0]["content"][0]["text"]')" = "'Answer as a pirate.\\n\\nBe brief.' Write java code." ] ||
	fail "Anthropic prompt: $(double_body)"
[ "$(ps "$GEM:generateContent" "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"$q\"}]}]}" \
	'j["systemInstruction"]["parts"][0]["text"], j["contents"][0]["parts"][0]["text"]')" = "Answer as a pirate. Write java code." ] ||
	fail "Gemini prompt: $(double_body)"
[ "$(ps /api/chat "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"$q\"}]}" \
	'j["messages"][0]["role"], j["messages"][1]["content"]')" = "system Write java code." ] ||
	fail "Ollama chat prompt: $(double_body)"
[ "$(ps /api/generate "{\"model\":\"m\",\"prompt\":\"$q\"}" 'j["system"], j["prompt"]')" = "Answer as a pirate. Write java code." ] ||
	fail "Ollama generate prompt: $(double_body)"
[ "$(ps /v1/responses "{\"model\":\"m\",\"input\":\"$q\"}" 'j["instructions"], j["input"]')" = "Answer as a pirate. Write java code." ] ||
	fail "Responses prompt: $(double_body)"
wait_for_line "$FAULT_OUT" "case=prompt-scramble url=.*/v1/responses replacements=1 instruction=added"
stop_pid "$FAULT_PID"
# --instruction with a response case: the request gets it, the response
# its case (the scramble pattern is prompt-scramble's only).
start_llm --llm-case inject-bias --bias-pattern '(?i)paris' --bias-replacement London \
	--instruction 'Answer in French.' --scramble-pattern '(?i)python' --scramble-with java
curl -sS --max-time 10 -o "$E2E_TMP/b" -d "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$q\"}]}" \
	"$BASE/v1/chat/completions" || fail "curl"
[ "$(double_body | jq_ 'j["messages"][0]["content"], j["messages"][1]["content"]')" = "Answer in French. $q" ] ||
	fail "instruction with inject-bias: $(double_body)"
[ "$($WIRE chat <"$E2E_TMP/b" | head -1)" = "\"${TEXT//Paris/London}\"" ] || fail "instruction with inject-bias: text"
wait_for_line "$FAULT_OUT" "direction=egress case=inject-bias url=.*/v1/chat/completions replacements=0 instruction=added"
stop_pid "$FAULT_PID"
note "prompt-scramble: pattern replaced and instruction inserted in 6 request formats"

# ---- 8. probability, seeded
seq200() {
	python3 - "$LP" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
for i in range(200):
    c.request("POST", "/v1/chat/completions", body=b'{"model":"m"}')
    r = c.getresponse()
    r.read()
    print(r.status)
PY
}
start_llm --llm-case http-error --llm-probability 0.5 --seed 9
seq200 >"$E2E_TMP/run1" || fail "200 requests"
stop_pid "$FAULT_PID"
errors=$(grep -c '^429$' "$E2E_TMP/run1")
[ "$(grep -c '^200$' "$E2E_TMP/run1")" = $((200 - errors)) ] || fail "statuses: $(sort "$E2E_TMP/run1" | uniq -c)"
# n = 200, p = 0.5: 100 +- 3.29 * 7.07 (99.9%).
[ "$errors" -ge 77 ] && [ "$errors" -le 123 ] || fail "$errors errors in 200 at p = 0.5"
FAULT_LLM_PROBABILITY=0.5 start_llm --llm-case http-error --seed 9
seq200 >"$E2E_TMP/run2"
stop_pid "$FAULT_PID"
cmp -s "$E2E_TMP/run1" "$E2E_TMP/run2" || fail "same seed, different sequence"
note "probability 0.5, seed 9: $errors errors in 200, same sequence again (flag, then variable)"

# ---- 9. other paths
start_llm --llm-case http-error
code=$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/_stats") && [ "$code" = 200 ] || fail "GET /_stats: $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -d '{}' "$BASE/v1/embeddings") && [ "$code" = 404 ] || fail "POST /v1/embeddings: $code (the double says 404)"
stop_pid "$FAULT_PID"
[ "$(events http-error)" = 0 ] || fail "events on unknown paths"
note "unknown paths pass"
