#!/bin/bash
# plugins/scenario/tests/generate_31.sh - `fault scenario generate` from an
# OpenAPI 3.1 YAML document fetched with --spec-url: a relative server URL
# (resolved against the document's URL), a path parameter whose example is
# in `examples`, a body from `oneOf` (first choice) with 3.1 type lists,
# `const`, `default` and `minimum`; one file per endpoint in a directory.
# Then the directory is run against tests/app.py.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_app "http://127.0.0.1:9/unused" "$SCEN_DIR/openapi-31.yaml"
SPEC="http://127.0.0.1:$APP_PORT/spec/openapi-31.yaml"

mkdir "$E2E_TMP/gen"
scenario generate -s gen --spec-url "$SPEC"
[ "$SCEN_RC" = 0 ] || fail "generate: exit status $SCEN_RC: $(cat "$SCEN_ERR")"
grep -qx 'Generated 16 reliability scenarios across 2 endpoints!' "$SCEN_OUT" ||
	fail "generate said: $(cat "$SCEN_OUT")"
[ "$(ls "$E2E_TMP/gen" | tr '\n' ' ')" = "get_items_sku.yaml post_items.yaml " ] ||
	fail "files: $(ls "$E2E_TMP/gen")"
P=$E2E_TMP/gen/post_items.yaml
G=$E2E_TMP/gen/get_items_sku.yaml
[ "$(grep -c '^---$' "$P")" = 8 ] && [ "$(grep -c '^---$' "$G")" = 8 ] || fail "8 documents per file"
grep -q "^    url: http://127.0.0.1:$APP_PORT/v2/items/{sku}$" "$G" || fail "relative server: $(grep -m1 url: "$G")"
grep -q "^        sku: abc-1$" "$G" || fail "the example of {sku}: $(grep -m1 -A1 segments: "$G")"
grep -qF "body: '{\"sku\":\"abc-1\",\"price\":1.5,\"tags\":[\"sale\"],\"created\":\"2024-01-01T00:00:00Z\"}'" "$P" ||
	fail "body: $(grep -m1 body: "$P")"
grep -q '^      content-type: application/json$' "$P" || fail "no content-type for the body"
grep -q '^      operation_id: create_item$' "$P" || fail "operation_id"

note "a document that is not there"
scenario generate -s other.yaml --spec-url "http://127.0.0.1:$APP_PORT/spec/nothing.yaml"
[ "$SCEN_RC" = 1 ] && grep -q 'nothing.yaml: the server answered 404' "$SCEN_ERR" ||
	fail "404: $SCEN_RC $(cat "$SCEN_ERR")"

note "run the directory"
sed -i -E "s/^      duration: '?[0-9]+s'?$/      duration: 1s/" "$P" "$G"
scenario run -s gen --seed 11
case $SCEN_RC in 0 | 1) ;; *) fail "run: exit status $SCEN_RC: $(cat "$SCEN_ERR")" ;; esac
json "$E2E_TMP/results.json" '
items = [(r["scenario"]["title"], ir) for r in d["results"] for ir in r["results"]]
assert len(items) == 16, len(items)
for title, ir in items:
    assert ir["error"] is None, (title, ir["error"])
    if not title.startswith("Random 500"):
        assert ir["passed"], (title, [c.get("reason") or c["errors"] for c in ir["results"]], ir["slo"])
'
python3 - "$APP_LOG" <<'EOF' || fail "the app did not see the generated calls"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
gets = {r["path"] for r in reqs if r["method"] == "GET"}
assert gets == {"/v2/items/abc-1"}, gets
posts = [json.loads(r["body"]) for r in reqs if r["method"] == "POST"]
assert posts and all(p["sku"] == "abc-1" and p["price"] == 1.5 for p in posts), posts[:1]
EOF
note "ok"
