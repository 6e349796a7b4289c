#!/bin/bash
# plugins/scenario/tests/run_pulses.sh - the reference's "Periodic 150-250
# ms latency pulses during load" (three latency faults of one item: 150 ms
# at 10%, 250 ms at 40%, 150 ms at 70% of the run, 15% each) through nginx:
# each fault runs as its own proxy instance (latency, latency#2,
# latency#3) with its own settings and windows, so the 250 ms pulse is
# applied too (it used to run with the first fault's 150 ms over the union
# of the periods).
#
# Checked from the results' event records (which instance applied what,
# with what delay, to which call), not from wall-clock timing alone: every
# delay drawn by latency#2 is 250 ms and every one of the others 150 ms;
# each pulse catches calls, and only calls sent during its own window (the
# window +- 200 ms: the calls' clock starts with the first call, the
# proxy's with the child, and a loaded machine delays timers). The calls a
# 250 ms delay caught took >= 245 ms, except those (<= 6) still held when
# their pulse ended, which are let go at once. The HTML timeline draws one window per instance.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_nginx
echo upstream >"$WWW/index.html"

fixture pulses.yaml <<EOF
title: Periodic 150-250 ms latency pulses during load
description: Three latency bursts at 10-40-70% of the run.
items:
  - call:
      method: GET
      url: http://127.0.0.1:$NGINX_PORT/index.html
    context:
      upstreams: ["127.0.0.1:$NGINX_PORT"]
      faults:
        - {type: latency, mean: 150.0, stddev: 0, period: "start:10%,duration:15%"}
        - {type: latency, mean: 250.0, stddev: 0, period: "start:40%,duration:15%"}
        - {type: latency, mean: 150.0, stddev: 0, period: "start:70%,duration:15%"}
      strategy: {mode: load, duration: 4s, clients: 2, rps: 10}
      slo:
        - {slo_type: latency, title: "P95 < 300ms", objective: 95.0, threshold: 300.0}
EOF

scenario run -s pulses.yaml --html report.html
[ "$SCEN_RC" = 0 ] || fail "exit status $SCEN_RC, expected 0: $(cat "$SCEN_ERR" "$SCEN_OUT")"
grep -q 'several faults of one type' "$SCEN_ERR" && fail "the faults were merged: $(cat "$SCEN_ERR")"

json "$E2E_TMP/results.json" '
ir = d["results"][0]["results"][0]
assert ir["error"] is None, ir["error"]
calls = sorted(ir["results"], key=lambda c: c["start"])
assert len(calls) == 80, len(calls)
t0 = calls[0]["start"]
want = {"latency": (150, 0.4, 1.0), "latency#2": (250, 1.6, 2.2), "latency#3": (150, 2.8, 3.4)}
hits = {k: [] for k in want}
for c in calls:
    at = (c["start"] - t0) / 1e6
    for grp in c["metrics"]["faults"]:
        for a in grp["applied"]:
            ev = a["event"]
            assert ev["type"] == "latency", ev
            inst = ev["instance"]
            assert inst in want, ev
            delay, lo, hi = want[inst]
            assert ev["delay"] == delay, (inst, ev)
            assert lo - 0.2 <= at <= hi + 0.2, (inst, at, ev)
            hits[inst].append(c)
for inst, got in hits.items():
    assert len(got) >= 6, (inst, len(got))
    print("%s: %d calls delayed by %d ms" % (inst, len(got), want[inst][0]))
# Calls still held when the pulse ends are let go at once: at 20 calls/s
# and 250 ms each, at most 6 are in flight then.
slow = [c for c in hits["latency#2"] if c["metrics"]["total_time"] >= 245]
assert len(slow) >= len(hits["latency#2"]) - 6, [c["metrics"]["total_time"] for c in hits["latency#2"]]
quiet = sorted(c["metrics"]["total_time"] for c in calls if not c["metrics"]["faults"])
assert len(quiet) >= 30 and quiet[len(quiet) // 2] < 100, quiet
'
note "$(json "$E2E_TMP/results.json" '
for c in sorted(d["results"][0]["results"][0]["results"], key=lambda c: c["start"]):
    for g in c["metrics"]["faults"]:
        for a in g["applied"]:
            print(a["event"]["instance"], a["event"]["delay"], "ms at", c["start"])
' | awk '{n[$1" "$2]++} END {for (k in n) printf "%s ms x%d; ", k, n[k]}')"

python3 - "$E2E_TMP/report.html" <<'EOF' || fail "report.html"
import re, sys
h = open(sys.argv[1], encoding="utf-8").read()
for inst in ("latency", "latency#2", "latency#3"):
    wins = re.findall(r'<rect class="fault-window" data-fault="%s" ' % re.escape(inst), h)
    assert len(wins) == 1, (inst, len(wins))
assert "Mean: 250.00 ms" in h
EOF
note "ok"
