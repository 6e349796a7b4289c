# plugins/llm/tests/lib.sh - helpers for the llm plugin's tests (sourced).
#
#   start_double        the provider double (double.py) on a free port:
#                       D_PORT, DOUBLE (its base URL)
#   start_llm ARGS...   fault with an http:// mapping in front of the
#                       double, --with-llm --tail and ARGS: LP, BASE
#   double_count        requests the double answered so far
#   double_body         the last request body the double got (JSON)
#   events CASE         llm events in fault's --tail output for CASE
#   TEXT                what the double always says
#   need_clients        skips unless node and the npm clients are installed
#   call CLIENT BASE [OPTIONS_JSON]
#                       one call of clients.mjs: its JSON line
#   field NAME          a field of the JSON on stdin
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
LLM_T=$top_srcdir/plugins/llm/tests
[ -f "$top_builddir/plugins/llm/.libs/llm.so" ] || skip "the llm plugin is not built"
[ -f "$top_builddir/plugins/http/.libs/http.so" ] || skip "the http plugin is not built"

TEXT='The capital of France is Paris. Paris is lovely in spring.'

start_double() {
	local pf=$E2E_TMP/double.port i
	python3 "$LLM_T/double.py" "$pf" >"$E2E_TMP/double.out" 2>&1 &
	track_pid $!
	for ((i = 0; i < 500; i++)); do
		[ -s "$pf" ] && break
		sleep 0.01
	done
	[ -s "$pf" ] || fail "double.py did not start: $(cat "$E2E_TMP/double.out")"
	D_PORT=$(cat "$pf")
	DOUBLE=http://127.0.0.1:$D_PORT
}

start_llm() {
	LP=$(free_port)
	start_fault run --disable-http-proxy --proxy "127.0.0.1:$LP=http://127.0.0.1:$D_PORT" \
		--with-llm --tail "$@"
	BASE=http://127.0.0.1:$LP
}

double_count() {
	curl -sS --max-time 10 "$DOUBLE/_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}

double_body() {
	curl -sS --max-time 10 "$DOUBLE/_stats" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["body"]))'
}

events() { grep -c " llm side=server direction=[a-z]* case=$1 " "$FAULT_OUT"; }

# jq_ EXPR - evaluates a Python expression on the JSON read from stdin (j).
jq_() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

need_clients() {
	command -v node >/dev/null 2>&1 || skip "node is not installed"
	[ -d "$LLM_T/node_modules/openai" ] && [ -d "$LLM_T/node_modules/@anthropic-ai/sdk" ] &&
		[ -d "$LLM_T/node_modules/@google/genai" ] && [ -d "$LLM_T/node_modules/ollama" ] ||
		skip "the npm clients are not installed: run 'npm ci --prefix plugins/llm/tests' (see package.json there)"
}
call() { node "$LLM_T/clients.mjs" "$1" "$2" "${3:-}" 2>>"$E2E_TMP/clients.err" || fail "node $1 failed"; }
field() { jq_ "j.get('$1')"; }
