#!/bin/bash
# plugins/scenario/tests/generate_run.sh - `fault scenario generate` into a
# directory, then `fault scenario run` on that directory as generated
# (issue 14, item 2), from an OpenAPI document whose path parameters have
# no example: an integer (1), a string ("example"), a uuid-formatted
# string declared on the path item, and an integer with a default (3). Only
# the load durations are cut to 1 s, to keep the test short; the segments
# are run as written, and the application sees the calls they make.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_app "http://127.0.0.1:9/unused"
sed "s/@PORT@/$APP_PORT/" "$SCEN_DIR/openapi-params.json" >"$E2E_TMP/openapi.json"
mkdir "$E2E_TMP/gen"

scenario generate -s gen --spec-file openapi.json
[ "$SCEN_RC" = 0 ] || fail "generate: exit status $SCEN_RC: $(cat "$SCEN_ERR")"
grep -qx 'Generated 24 reliability scenarios across 3 endpoints!' "$SCEN_OUT" ||
	fail "generate said: $(cat "$SCEN_OUT")"
for f in get_items_id get_users_name_orders_orderId get_pages_page; do
	[ -s "$E2E_TMP/gen/$f.yaml" ] || fail "no gen/$f.yaml: $(ls "$E2E_TMP/gen")"
done
grep -q "^        id: '1'$" "$E2E_TMP/gen/get_items_id.yaml" || fail "{id}: $(grep -A2 segments: "$E2E_TMP/gen/get_items_id.yaml" | head -3)"
grep -q "^        name: example$" "$E2E_TMP/gen/get_users_name_orders_orderId.yaml" || fail "{name} is not 'example'"
grep -Eq "^        orderId: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$" \
	"$E2E_TMP/gen/get_users_name_orders_orderId.yaml" || fail "{orderId} is not a uuid"
grep -q "^        page: '3'$" "$E2E_TMP/gen/get_pages_page.yaml" || fail "{page} is not its default 3"
grep -rq "''" "$E2E_TMP/gen" && fail "an empty value was generated: $(grep -rn "''" "$E2E_TMP/gen" | head -3)"

note "run the directory as generated"
sed -i -E "s/^      duration: '?[0-9]+s'?$/      duration: 1s/" "$E2E_TMP"/gen/*.yaml
scenario run -s gen --seed 7
case $SCEN_RC in 0 | 1) ;; *) fail "run: exit status $SCEN_RC: $(cat "$SCEN_ERR")" ;; esac
grep -q 'placeholder' "$SCEN_ERR" && fail "run: $(cat "$SCEN_ERR")"
json "$E2E_TMP/results.json" '
items = [(r["scenario"]["title"], ir) for r in d["results"] for ir in r["results"]]
assert len(items) == 24, len(items)
for title, ir in items:
    assert ir["error"] is None, (title, ir["error"])
    assert ir["requests_count"] >= 1, title'
python3 - "$APP_LOG" <<'EOF' || fail "the app did not see the generated calls: $(sort -u "$APP_LOG" | head -5)"
import json, sys
paths = {json.loads(l)["path"] for l in open(sys.argv[1])}
want = {"/api/items/1", "/api/users/example/orders/3fa85f64-5717-4562-b3fc-2c963f66afa6", "/api/pages/3"}
assert want <= paths, paths
EOF
note "24 items ran from the generated directory, status $SCEN_RC"
