#!/bin/bash
# plugins/scenario/tests/run_dns.sh - a dns fault in a scenario: the
# item's proxy runs as `fault run dns` in front of dnsmasq, for the
# baseline call too (where queries pass), and the case applies to the
# faulted runs only, in its period. The application (app.py /resolve)
# resolves through the proxy: its answers show the fault, and the
# proxy's fault events are attributed to the calls they happened in.
. "$top_srcdir/plugins/dns-proxy/tests/common.sh" || exit 99
. "$top_srcdir/plugins/scenario/tests/common.sh" || exit 99

start_dnsmasq
DNS_PORT=$(free_dns_port)
export APP_DNS_PORT=$DNS_PORT
start_app "http://127.0.0.1:1/"
APP=http://127.0.0.1:$APP_PORT

fixture dns.yaml <<EOF
title: DNS faults
items:
  - call: {method: GET, url: "$APP/resolve/www.example.test"}
    context:
      faults:
        - type: dns
          case: nx-domain
          resolver: 127.0.0.1:$DNSMASQ_PORT
          listen: 127.0.0.1:$DNS_PORT
          names: [www.example.test]
          qtype: A
      # 100 ms apart: DNS faults are placed on calls by time alone.
      strategy: {mode: repeat, count: 2, add_baseline_call: true, wait: 100}
    expect: {status: 200}
  - call: {method: GET, url: "$APP/resolve/v4.example.test"}
    context:
      faults:
        - {type: dns, case: serv-fail, resolver: "127.0.0.1:$DNSMASQ_PORT",
           listen: "127.0.0.1:$DNS_PORT", names: "*.example.test", period: "start:10m"}
    expect: {status: 200}
EOF

scenario run -s dns.yaml
[ "$SCEN_RC" = 1 ] || fail "exit status $SCEN_RC, expected 1 (failed expectations): $(cat "$SCEN_ERR" "$SCEN_OUT")"
json "$E2E_TMP/results.json" '
item = d["results"][0]["results"][0]
calls = item["results"]
got = [c["expect"]["got"]["status_code"] for c in calls]
# The baseline resolves (the proxy passes the query), the faulted runs do not.
assert got == [200, 502, 502], got
applied = []
for c in calls:
    for g in c["metrics"]["faults"]:
        for a in g["applied"]:
            e = a["event"]
            applied.append((calls.index(c), e.get("case"), e.get("name"), e.get("qtype")))
assert applied == [(1, "nx-domain", "www.example.test", "A"),
                   (2, "nx-domain", "www.example.test", "A")], applied
other = d["results"][0]["results"][1]["results"][0]
# A period that does not start within the run: the query passes.
assert other["expect"]["got"]["status_code"] == 200, other["expect"]
'
grep -q 'query\[A\] www\.example\.test' "$DNSMASQ_LOG" || fail "the baseline query did not reach dnsmasq"
grep -q 'query\[A\] v4\.example\.test' "$DNSMASQ_LOG" || fail "the unscheduled query did not reach dnsmasq"
note "dns fault: baseline 200, faulted 502 (NXDOMAIN) with its events; out of its period, 200"
