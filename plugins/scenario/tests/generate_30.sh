#!/bin/bash
# plugins/scenario/tests/generate_30.sh - `fault scenario generate` from an
# OpenAPI 3.0 JSON document (--spec-file) with a server variable, a path
# parameter with an example, and a request body reached through $ref,
# allOf (merged), readOnly and a $ref cycle; then the generated file is run
# against tests/app.py (load durations cut to 1 s to keep the test short).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_app "http://127.0.0.1:9/unused"
sed "s/@PORT@/$APP_PORT/" "$SCEN_DIR/openapi-30.json" >"$E2E_TMP/openapi.json"

scenario generate -s gen.yaml --spec-file openapi.json
[ "$SCEN_RC" = 0 ] || fail "generate: exit status $SCEN_RC: $(cat "$SCEN_ERR")"
grep -qx 'Generated 24 reliability scenarios across 3 endpoints!' "$SCEN_OUT" ||
	fail "generate said: $(cat "$SCEN_OUT")"
G=$E2E_TMP/gen.yaml
[ "$(grep -c '^---$' "$G")" = 24 ] || fail "$(grep -c '^---$' "$G") documents, expected 24"
for t in 'Single high-latency spike (client ingress)' 'Stair-step latency growth (5 x 100 ms)' \
	'Periodic 150-250 ms latency pulses during load' '5% packet loss for 4s' \
	'High jitter (±80ms @ 8Hz)' '512 KBps bandwidth cap' 'Random 500 errors (5% of calls)' \
	'Full black-hole for 1s'; do
	[ "$(grep -cxF "title: $t" "$G")" = 3 ] || [ "$(grep -cxF "title: '$t'" "$G")" = 3 ] ||
		fail "title '$t' is not there 3 times"
done
for id in list_users create_user get_users_id; do
	[ "$(grep -cx "      operation_id: $id" "$G")" = 8 ] || fail "operation_id $id is not there 8 times"
done
grep -q "^    url: http://127.0.0.1:$APP_PORT/api/users/{id}$" "$G" || fail "the path parameter is not a placeholder"
grep -q "^        id: '42'$" "$G" || fail "the example of {id} is not in the segments"
grep -q "^    - http://127.0.0.1:$APP_PORT/api$" "$G" || fail "the upstream is not the server"
# allOf merged, readOnly left out, the $ref cycle cut, enum's first value.
grep -qF "body: '{\"name\":\"jane\",\"email\":\"user@example.com\",\"password\":\"secret\",\"role\":\"admin\",\"manager\":null}'" "$G" ||
	fail "body: $(grep -m1 'body:' "$G")"

note "run what was generated"
sed -i -E "s/^      duration: '?[0-9]+s'?$/      duration: 1s/" "$G"
[ "$(grep -cx "      duration: 1s" "$G")" = 12 ] || fail "the load durations were not cut"
scenario run -s gen.yaml --seed 7 --junit junit.xml
case $SCEN_RC in 0 | 1) ;; *) fail "run: exit status $SCEN_RC: $(cat "$SCEN_ERR")" ;; esac
# The latency pulses run as one proxy instance each (run_pulses.sh), not
# merged into one with a warning.
grep -q 'several faults of one type' "$SCEN_ERR" &&
	fail "the latency pulses were merged: $(cat "$SCEN_ERR")"
json "$E2E_TMP/results.json" '
items = [(r["scenario"]["title"], ir) for r in d["results"] for ir in r["results"]]
assert len(items) == 24, len(items)
for title, ir in items:
    assert ir["error"] is None, (title, ir["error"])
    assert ir["requests_count"] >= 1
    # Only the random 500s may legitimately break their error SLO.
    if not title.startswith("Random 500"):
        assert ir["passed"], (title, [c.get("reason") for c in ir["results"]], ir["slo"])
spikes = [ir for t, ir in items if t.startswith("Single high-latency")]
for ir in spikes:
    c = ir["results"][0]
    ev = c["metrics"]["faults"][0]["applied"][0]["event"]
    assert ev["type"] == "latency" and ev["side"] == "client" and c["metrics"]["total_time"] >= 500, ev
stairs = [ir for t, ir in items if t.startswith("Stair-step")]
assert all(ir["requests_count"] == 6 for ir in stairs)
failed_500 = any(not ir["passed"] for t, ir in items if t.startswith("Random 500"))
assert (sys.argv[0] and True)
open(sys.argv[1] + ".rc", "w").write("1" if failed_500 else "0")
'
[ "$(cat "$E2E_TMP/results.json.rc")" = "$SCEN_RC" ] || fail "exit status $SCEN_RC does not match the results"
python3 - "$APP_LOG" <<'EOF' || fail "the app did not see the generated calls"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
paths = {(r["method"], r["path"]) for r in reqs}
assert ("GET", "/api/users") in paths and ("GET", "/api/users/42") in paths, paths
posts = [r for r in reqs if r["method"] == "POST"]
assert posts and json.loads(posts[0]["body"])["password"] == "secret", posts[:1]
EOF
if command -v xmllint >/dev/null 2>&1; then
	xmllint --noout "$E2E_TMP/junit.xml" || fail "xmllint refuses junit.xml"
fi
note "ok"
