#!/usr/bin/env bash
# plugins/llm/tests/scenario.sh - LLM faults in scenario files (`type: llm`
# with a `case` and the llm plugin's settings), run by `fault scenario run`
# against the provider double through the runner's proxy:
#
#  1. http-error, quota: the call gets the provider's 429, the expectation
#     (status 429) holds, and the call's fault event says case http-error,
#     status 429, error quota; the double is never reached;
#  2. inject-bias on a streamed chat call: 200, one event with 2
#     replacements, and the body 2 bytes longer than without the fault
#     (each "Paris" became "London");
#  3. stream-stall of 300 ms with keep-alives, with period (the schedule of
#     the scenario's own format): the call takes >= 295 ms (5 ms tolerance);
#  4. results.json echoes the llm faults as written.
. "$top_srcdir/plugins/llm/tests/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99
[ -f "$top_builddir/plugins/scenario/.libs/scenario.so" ] || skip "the scenario plugin is not built"
start_double

CHAT="$DOUBLE/v1/chat/completions"
STREAM='{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'
fixture llm.yaml <<EOF
title: LLM faults
items:
  - call:
      method: POST
      url: $CHAT
      headers: {Content-Type: application/json}
      body: '{"model":"m","messages":[{"role":"user","content":"hi"}]}'
    context:
      upstreams: [$DOUBLE]
      faults:
        - type: llm
          case: http-error
          error: quota
    expect:
      status: 429
  - call:
      method: POST
      url: $CHAT
      body: '$STREAM'
    context:
      upstreams: [$DOUBLE]
      faults: []
    expect:
      status: 200
  - call:
      method: POST
      url: $CHAT
      body: '$STREAM'
    context:
      upstreams: [$DOUBLE]
      faults:
        - type: llm
          case: inject-bias
          bias_pattern: (?i)paris
          bias_replacement: London
    expect:
      status: 200
  - call:
      method: POST
      url: $CHAT
      body: '$STREAM'
    context:
      upstreams: [$DOUBLE]
      faults:
        - type: llm
          case: stream-stall
          stall_after: 3
          stall_duration: 300
          stall_keepalive_interval: 100
          period: start:0%
    expect:
      status: 200
EOF

scenario run -s llm.yaml
[ "$SCEN_RC" = 0 ] || fail "exit status $SCEN_RC: $(cat "$SCEN_ERR" "$SCEN_OUT")"
grep -q '^Tests run: 4, Tests failed: 0$' "$SCEN_OUT" || fail "summary: $(cat "$SCEN_OUT")"
[ "$(double_count)" = 3 ] || fail "the double answered $(double_count) calls, want 3 (the error is the proxy's)"
json "$E2E_TMP/results.json" '
items = d["results"][0]["results"]
calls = [it["results"][0] for it in items]
def events(c):
    return [a["event"] for g in c["metrics"]["faults"] for a in g["applied"]]
err = events(calls[0])
assert calls[0]["metrics"]["protocol"]["code"] == 429, calls[0]["metrics"]
assert len(err) == 1 and err[0]["case"] == "http-error" and err[0]["status"] == 429 \
    and err[0]["error"] == "quota", err
assert events(calls[1]) == [], events(calls[1])
bias = events(calls[2])
assert len(bias) == 1 and bias[0]["case"] == "inject-bias" and bias[0]["replacements"] == 2, bias
plain, biased = (calls[i]["metrics"]["protocol"]["body_length"] for i in (1, 2))
assert biased == plain + 2, (plain, biased)
stall = events(calls[3])
assert len(stall) == 1 and stall[0]["case"] == "stream-stall" and stall[0]["keepalives"] == 3, stall
assert calls[3]["metrics"]["total_time"] >= 295, calls[3]["metrics"]["total_time"]
f = d["results"][0]["scenario"]["items"][2]["context"]["faults"][0]
assert f == {"type": "llm", "case": "inject-bias", "bias_pattern": "(?i)paris",
             "bias_replacement": "London"}, f
f = d["results"][0]["scenario"]["items"][3]["context"]["faults"][0]
assert f["stall_duration"] == 300 and f["period"] == "start:0%", f
'
note "a scenario's llm faults: a provider 429, bias in a stream, a stall with keep-alives; events per call"
