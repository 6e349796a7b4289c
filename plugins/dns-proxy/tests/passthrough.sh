#!/bin/bash
# plugins/dns-proxy/tests/passthrough.sh - queries that are not faulted
# come back byte for byte as the resolver answers them directly (UDP and
# TCP, EDNS or not, a large TXT answer, mixed-case names), with no case
# and with a case whose names do not match; the probability of a case is
# rolled per query and lands in its binomial 99% interval over 1,000
# queries, the same sequence for the same --seed; every query is an event.
. "$top_srcdir/plugins/dns-proxy/tests/common.sh" || exit 99

start_dnsmasq

start_dns
out=$(python3 "$DNSCLIENT" compare "$DNSMASQ_PORT" "$DNS_PORT") || fail "no case: $out"
want "$out" "^identical=28$"
want "$(qdig +short www.example.test A)" "^192\.0\.2\.10$"
# One open and one close event per query, closes with both byte counts.
wait_for_line "$DNS_EVENTS" '"type":"conn_open".*"target":"big.example.test TXT"'
grep -q '"type":"conn_close".*"bytes_egress":[1-9][0-9]*,"bytes_ingress":[1-9]' "$DNS_EVENTS" ||
	fail "no conn_close with byte counts: $(tail -3 "$DNS_EVENTS")"
stop_dns
opens=$(grep -c '"type":"conn_open"' "$DNS_EVENTS")
closes=$(grep -c '"type":"conn_close"' "$DNS_EVENTS")
[ "$opens" = 29 ] && [ "$closes" = 29 ] || fail "events: $opens opens, $closes closes, want 29 (28 + dig)"
grep -q '"type":"fault_applied"' "$DNS_EVENTS" && fail "fault_applied without a case"
note "byte-identical without a case: ok"

start_dns --case serv-fail --names other.test
out=$(python3 "$DNSCLIENT" compare "$DNSMASQ_PORT" "$DNS_PORT") || fail "unmatched names: $out"
want "$out" "^identical=28$"
stop_dns
note "byte-identical for unmatched names: ok"

# 1,000 queries at p = 0.3: NXDOMAIN count in the binomial 99% interval
# 300 +- 2.576 * sqrt(1000 * 0.3 * 0.7) = [263, 337]; none lost.
sigs=
for run in 1 2; do
	start_dns --case nx-domain --probability 0.3 --seed 1234
	out=$(python3 "$DNSCLIENT" count "$DNS_PORT" 1000 www.example.test A)
	nx=$(printf '%s\n' "$out" | sed -n 's/.*rcodes=[^ ]*3:\([0-9]*\).*/\1/p')
	ok=$(printf '%s\n' "$out" | sed -n 's/.*rcodes=0:\([0-9]*\).*/\1/p')
	want "$out" " lost=0 "
	[ -n "$nx" ] && [ "$nx" -ge 263 ] && [ "$nx" -le 337 ] || fail "p=0.3: $out (NXDOMAIN outside [263, 337])"
	[ "$((nx + ok))" = 1000 ] || fail "p=0.3: $out"
	sigs="$sigs $(printf '%s\n' "$out" | sed 's/.*sig=//')"
	applied=$(grep -c '"type":"fault_applied"' "$DNS_EVENTS")
	stop_dns
	[ "$applied" = "$nx" ] || fail "p=0.3: $applied fault_applied events for $nx NXDOMAIN answers"
	note "p=0.3: $nx of 1000 NXDOMAIN"
done
set -- $sigs
[ "$1" = "$2" ] || fail "--seed 1234 gave two sequences: $1 $2"
note "probability: ok"

# A getaddrinfo() client: Python's resolver in a private mount namespace
# whose resolv.conf names the proxy (port 53 on a loopback address of its
# own, so root is needed).
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && unshare -m true 2>/dev/null; then
	printf 'nameserver 127.0.0.53\noptions attempts:1 timeout:2\n' >"$E2E_TMP/resolv.conf"
	DNS_N=$((DNS_N + 1))
	DNS_EVENTS=$E2E_TMP/events$DNS_N.jsonl
	if python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.53",53))' 2>/dev/null; then
		start_fault run dns --resolver "127.0.0.1:$DNSMASQ_PORT" --dns-listen 127.0.0.53:53 \
			--disable-http-proxy --events "$DNS_EVENTS" --case serv-fail --qtype AAAA
		out=$(unshare -m sh -c "mount --bind '$E2E_TMP/resolv.conf' /etc/resolv.conf && python3 -c '
import socket
v4 = {a[4][0] for a in socket.getaddrinfo(\"www.example.test\", 80, socket.AF_INET, socket.SOCK_STREAM)}
print(\"v4\", sorted(v4))
try:
    socket.getaddrinfo(\"www.example.test\", 80, socket.AF_INET6, socket.SOCK_STREAM)
    print(\"v6 resolved\")
except socket.gaierror as e:
    print(\"v6 failed\", e.errno)
'" 2>&1) || fail "getaddrinfo client: $out"
		want "$out" "^v4 \['192\.0\.2\.10'\]$"
		want "$out" "^v6 failed"
		wait_for_line "$DNS_EVENTS" '"case":"serv-fail","name":"www.example.test","qtype":"AAAA"'
		stop_dns
		note "getaddrinfo through resolv.conf: ok"
	else
		note "getaddrinfo client skipped: 127.0.0.53:53 is taken"
	fi
else
	note "getaddrinfo client skipped: needs root and unshare -m"
fi
