#!/bin/bash
# plugins/scenario/tests/bad_input.sh - malformed scenario files and bad
# command lines: one message naming FILE:LINE:COLUMN (the node at fault),
# exit status 2, and nothing runs (no request reaches the target, no
# results or report is written). A bad file in a directory of good ones is
# named and left out, the others run, and the status is 1 (issue 14, item
# 2); a directory where no file loads is bad input. A known key one level
# off (an item-level slo) is refused where it is; outputs that cannot be
# written (no such directory, a directory) are refused before anything runs.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_nginx
echo hi >"$WWW/index.html"
URL="http://127.0.0.1:$NGINX_PORT/index.html"

# expect_bad FILE LINE COLUMN FRAGMENT - FILE (in $E2E_TMP, from stdin)
# must be refused with that position and a message containing FRAGMENT.
expect_bad() {
	local file=$1 line=$2 col=$3 frag=$4 n
	cat >"$E2E_TMP/$file"
	scenario run -s "$file"
	[ "$SCEN_RC" = 2 ] || fail "$file: exit status $SCEN_RC, expected 2: $(cat "$SCEN_ERR")"
	n=$(wc -l <"$SCEN_ERR")
	[ "$n" = 1 ] || fail "$file: $n lines on stderr, expected 1: $(cat "$SCEN_ERR")"
	grep -qF "fault: scenario: $file:$line:$col: " "$SCEN_ERR" ||
		fail "$file: expected $file:$line:$col, got: $(cat "$SCEN_ERR")"
	grep -qF -- "$frag" "$SCEN_ERR" || fail "$file: expected '$frag' in: $(cat "$SCEN_ERR")"
	[ -s "$SCEN_OUT" ] && fail "$file: something ran: $(cat "$SCEN_OUT")"
	return 0
}

expect_bad syntax.yaml 4 1 "did not find expected ',' or '}'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"
EOF
expect_bad tab.yaml 3 1 "found character that cannot start any token" <<EOF
title: x
items:
	- call: {method: GET, url: "$URL"}
EOF
expect_bad fault-type.yaml 7 17 "unknown fault type 'latncy'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      faults:
        - type: latncy
EOF
expect_bad llm-case.yaml 7 11 "an llm fault needs a 'case' (slow-stream, prompt-scramble" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      faults:
        - type: llm
          probability: 1
EOF
expect_bad llm-mode.yaml 7 63 "'truncate_mode' must be clean, abrupt or error, not sudden" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      faults:
        - {type: llm, case: truncate-response, truncate_mode: sudden}
EOF
expect_bad llm-after.yaml 7 64 "'truncate_after' must be a whole number, not 2.5" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      faults:
        - {type: llm, case: truncate-response, truncate_after: 2.5}
EOF
expect_bad dns-case.yaml 7 29 "a dns fault needs a 'case'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      faults:
        - {type: dns, case: nxdomian}
EOF
expect_bad dns-listen.yaml 7 46 "'listen' must be IP:PORT" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      faults:
        - {type: dns, case: refused, listen: "localhost:53"}
EOF
expect_bad dns-twice.yaml 8 11 "one dns fault per item (the item has one at line 7)" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      faults:
        - {type: dns, case: refused}
        - {type: dns, case: timeout}
EOF
expect_bad pg-case.yaml 7 34 "unknown postgres case 'deadlocks'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      proxy: {proxies: ["6432=psql://127.0.0.1:5432"]}
      faults:
        - {type: postgres, case: deadlocks}
EOF
expect_bad pg-mapping.yaml 7 11 "a postgres fault acts on psql:// mappings" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      faults:
        - {type: postgres, case: [slow-query, deadlock]}
EOF
expect_bad period.yaml 7 64 "'period': unknown time unit 'x'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      faults:
        - {type: blackhole, direction: egress, period: "start:3x"}
EOF
expect_bad placeholder.yaml 5 37 "'url': placeholder {id} without a value" <<EOF
title: x
items:
  - call:
      method: GET
      url: http://127.0.0.1:1/users/{id}
EOF
expect_bad clients.yaml 5 53 "'clients' must be between 1 and 10000, not 0" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      strategy: {mode: load, duration: 1s, clients: 0, rps: 1}
EOF
expect_bad count.yaml 9 16 "'count' must be a number, not 'many'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      faults: []
      strategy:
        mode: repeat
        count: many
EOF
expect_bad mode.yaml 5 24 "unknown strategy mode 'soak'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      strategy: {mode: soak}
EOF
expect_bad twice.yaml 4 7 "'url' is given twice" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL",
      url: "$URL"}
EOF
expect_bad mapping.yaml 6 24 "proxy mapping 'nine=127.0.0.1:1'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      proxy:
        proxies: ["nine=127.0.0.1:1"]
EOF
expect_bad notitle.yaml 1 1 "a scenario needs a 'title'" <<EOF
items:
  - call: {method: GET, url: "$URL"}
EOF
expect_bad runs-on.yaml 5 16 "'runs_on'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      runs_on: {platform: kubernetes, ns: default, service: web}
EOF
expect_bad second-doc.yaml 8 13 "'expect' must be a mapping, not a list" <<EOF
title: fine
items:
  - call: {method: GET, url: "$URL"}
---
title: not fine
items:
  - call: {method: GET, url: "$URL"}
    expect: [200]
EOF
printf 'title: "caf\xe9"\nitems: []\n' | expect_bad utf8.yaml 1 13 "invalid trailing UTF-8 octet"
# A known key one level off would be ignored, and its check with it.
expect_bad item-slo.yaml 4 5 "'slo' belongs under the item's 'context'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    slo:
      - {type: error, objective: 99, threshold: 1}
EOF
expect_bad item-faults.yaml 5 5 "'faults' belongs under the item's 'context'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context: {upstreams: []}
    faults: [{type: blackhole}]
EOF
expect_bad context-expect.yaml 6 7 "'expect' belongs in the item, beside 'context'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    context:
      upstreams: []
      expect: {status: 200}
EOF
expect_bad expect-slo.yaml 5 7 "'slo' belongs under the item's 'context'" <<EOF
title: x
items:
  - call: {method: GET, url: "$URL"}
    expect:
      slo: []
EOF

note "a bad file among good ones: it is named and left out, the others run, status 1"
mkdir "$E2E_TMP/dir"
cat >"$E2E_TMP/dir/a-good.yaml" <<EOF
title: good
items:
  - call: {method: GET, url: "$URL"}
EOF
cat >"$E2E_TMP/dir/b-bad.yml" <<EOF
title: bad
items:
  - call: {method: GET, url: "$URL"}
    expect: {status: 2000}
EOF
echo "not yaml at all: [" >"$E2E_TMP/dir/ignored.txt"
scenario run -s dir
[ "$SCEN_RC" = 1 ] || fail "directory: exit status $SCEN_RC, want 1: $(cat "$SCEN_ERR")"
grep -qF "fault: scenario: dir/b-bad.yml:4:22: 'status' must be between 100 and 599, not 2000 (this file is left out; the others run)" "$SCEN_ERR" ||
	fail "directory: $(cat "$SCEN_ERR")"
grep -qF "fault: scenario: 1 scenario file of dir could not be loaded and did not run (see above)" "$SCEN_ERR" ||
	fail "directory: no closing line: $(cat "$SCEN_ERR")"
grep -q '^Tests run: 1, Tests failed: 0$' "$SCEN_OUT" || fail "directory: $(cat "$SCEN_OUT")"
json "$E2E_TMP/results.json" '
titles = [r["scenario"]["title"] for r in d["results"]]
assert titles == ["good"], titles'
rm -f "$E2E_TMP/results.json" "$E2E_TMP/report.md"
# Nothing loads at all: bad input, nothing runs.
mv "$E2E_TMP/dir/a-good.yaml" "$E2E_TMP/a-good.yaml"
: >"$E2E_TMP/nginx-access.log"
scenario run -s dir
[ "$SCEN_RC" = 2 ] || fail "directory of bad files: exit status $SCEN_RC: $(cat "$SCEN_ERR")"
grep -qF "fault: scenario: dir: no scenario file of this directory could be loaded" "$SCEN_ERR" ||
	fail "directory of bad files: $(cat "$SCEN_ERR")"
grep -qxF "fault: scenario: dir/b-bad.yml:4:22: 'status' must be between 100 and 599, not 2000" "$SCEN_ERR" ||
	fail "directory of bad files: the bad file is not named alone: $(cat "$SCEN_ERR")"
[ -s "$E2E_TMP/nginx-access.log" ] && fail "a request was sent: $(cat "$E2E_TMP/nginx-access.log")"
for f in results.json report.md; do
	[ -e "$E2E_TMP/$f" ] && fail "$f was written although nothing ran"
done
mv "$E2E_TMP/a-good.yaml" "$E2E_TMP/dir/a-good.yaml"

note "bad command lines"
# Outputs that cannot be written are refused before anything runs.
: >"$E2E_TMP/nginx-access.log"
bad_output() {
	local flag=$1 path=$2 frag=$3
	scenario run -s dir/a-good.yaml "$flag" "$path"
	[ "$SCEN_RC" = 2 ] || fail "$flag $path: exit status $SCEN_RC, want 2: $(cat "$SCEN_ERR")"
	[ "$(wc -l <"$SCEN_ERR")" = 1 ] || fail "$flag $path: want one line: $(cat "$SCEN_ERR")"
	grep -qF -- "fault: scenario: $flag: '$path': $frag" "$SCEN_ERR" || fail "$flag $path: $(cat "$SCEN_ERR")"
	[ -s "$SCEN_OUT" ] && fail "$flag $path: something ran: $(cat "$SCEN_OUT")"
	return 0
}
bad_output --result nodir/results.json "its directory does not exist ('nodir')"
bad_output --report dir "it is a directory"
bad_output --junit dir/a-good.yaml/j.xml "its directory is not a directory"
bad_output --html out/ "names no file"
[ -s "$E2E_TMP/nginx-access.log" ] && fail "a request was sent: $(cat "$E2E_TMP/nginx-access.log")"
scenario run
[ "$SCEN_RC" = 2 ] && grep -q -- '-s/--scenario' "$SCEN_ERR" || fail "no -s: $SCEN_RC $(cat "$SCEN_ERR")"
scenario fly -s dir/a-good.yaml
[ "$SCEN_RC" = 2 ] && grep -q "unknown subcommand 'fly'" "$SCEN_ERR" || fail "subcommand: $(cat "$SCEN_ERR")"
scenario run extra -s dir/a-good.yaml
[ "$SCEN_RC" = 2 ] && grep -q "unexpected argument 'extra'" "$SCEN_ERR" || fail "extra word: $(cat "$SCEN_ERR")"
FAULT_SCENARIO_PROXY_ADDR=nowhere scenario run -s dir/a-good.yaml
[ "$SCEN_RC" = 2 ] && grep -q "'nowhere' is not ADDRESS:PORT" "$SCEN_ERR" || fail "address: $(cat "$SCEN_ERR")"
scenario run -s missing.yaml
[ "$SCEN_RC" = 2 ] && grep -q "missing.yaml: No such file or directory" "$SCEN_ERR" || fail "missing: $(cat "$SCEN_ERR")"
mkdir "$E2E_TMP/empty"
scenario run -s empty
[ "$SCEN_RC" = 2 ] && grep -q "no .yaml or .yml file" "$SCEN_ERR" || fail "empty dir: $(cat "$SCEN_ERR")"
scenario generate -s out.yaml
[ "$SCEN_RC" = 2 ] && grep -q -- "--spec-file FILE or --spec-url URL" "$SCEN_ERR" || fail "generate: $(cat "$SCEN_ERR")"
echo '{"swagger": "2.0", "paths": {}}' >"$E2E_TMP/swagger.json"
scenario generate -s out.yaml --spec-file swagger.json
[ "$SCEN_RC" = 2 ] && grep -q "Swagger 2.0 is not supported" "$SCEN_ERR" || fail "swagger: $(cat "$SCEN_ERR")"
printf '{"openapi": "3.0.0",\n "paths": {,}}\n' >"$E2E_TMP/broken.json"
scenario generate -s out.yaml --spec-file broken.json
[ "$SCEN_RC" = 2 ] && grep -q "broken.json:2:13: invalid JSON" "$SCEN_ERR" || fail "broken json: $(cat "$SCEN_ERR")"
[ -e "$E2E_TMP/out.yaml" ] && fail "out.yaml written from a bad spec"
note "ok"
