#!/bin/bash
# plugins/dns-proxy/tests/cases.sh - every --case of `fault run dns`
# against dnsmasq, with dig as the client over UDP and TCP, with and
# without EDNS: the flags and counts each case must give, that dropped
# queries never reach the resolver, held answers come late, the TCP
# fallback after TC passes or fails as asked, and the record-type, name
# and TTL selections.
. "$top_srcdir/plugins/dns-proxy/tests/common.sh" || exit 99

start_dnsmasq

# Error answers: the rcode, no records, the question and ID copied, OPT
# only when the query had one.
for c in nx-domain:NXDOMAIN serv-fail:SERVFAIL refused:REFUSED empty-answer:NOERROR; do
	start_dns --case "${c%%:*}"
	for t in +notcp +tcp; do
		out=$(qdig "$t" +edns www.example.test A)
		want "$out" "status: ${c#*:}, id: "
		want "$out" "QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1"
		want "$out" "^; EDNS: version: 0"
		want "$out" "^;www\.example\.test\.[[:space:]]+IN[[:space:]]+A$"
		out=$(qdig "$t" +noedns WwW.ExAmPlE.TeSt AAAA)
		want "$out" "status: ${c#*:}, id: "
		want "$out" "QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 0"
		want "$out" "^;WwW\.ExAmPlE\.TeSt\.[[:space:]]+IN[[:space:]]+AAAA$"
		printf '%s\n' "$out" | grep -q 'OPT PSEUDOSECTION' && fail "${c%%:*}: OPT without EDNS in the query"
	done
	wait_for_line "$DNS_EVENTS" "\"type\":\"fault_applied\".*\"case\":\"${c%%:*}\",\"name\":\"www.example.test\",\"qtype\":\"A\",\"transport\":\"tcp\""
	# The DO bit of the query comes back in the OPT record.
	want "$(qdig +dnssec www.example.test A)" "^; EDNS: version: 0, flags: do; udp: 1232$"
	stop_dns
	note "${c%%:*}: ok"
done

# timeout: no answer at all, over UDP and TCP; the resolver never sees it.
start_dns --case timeout --names v4.example.test
rc=0
out=$(dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=1 v4.example.test A 2>&1) || rc=$?
[ "$rc" = 9 ] || fail "timeout (udp): dig exit $rc, want 9 (no reply): $out"
rc=0
out=$(dig @127.0.0.1 -p "$DNS_PORT" +tcp +tries=1 +timeout=1 v4.example.test A 2>&1) || rc=$?
[ "$rc" = 9 ] || fail "timeout (tcp): dig exit $rc, want 9 (no reply): $out"
want "$(qdig +short www.example.test A)" "^192\.0\.2\.10$" # other names pass
wait_for_line "$DNS_EVENTS" '"case":"timeout","name":"v4.example.test","qtype":"A","transport":"udp"'
wait_for_line "$DNS_EVENTS" '"case":"timeout","name":"v4.example.test","qtype":"A","transport":"tcp"'
grep -q 'query\[A\] v4\.example\.test' "$DNSMASQ_LOG" && fail "a dropped query reached the resolver"
grep -q 'query\[A\] www\.example\.test' "$DNSMASQ_LOG" || fail "dnsmasq does not log queries"
stop_dns
note "timeout: ok"

# truncated: TC and empty sections over UDP; dig's TCP retry passes.
start_dns --case truncated
out=$(qdig +ignore www.example.test A)
want "$out" "flags: qr tc rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1"
out=$(qdig www.example.test A)
want "$out" "Truncated, retrying in TCP mode"
want "$out" "status: NOERROR"
want "$out" "^www\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.10$"
stop_dns
note "truncated: ok"

# truncated-tcp-fail: TC, then the TCP retry is reset.
start_dns --case truncated-tcp-fail
rc=0
out=$(qdig www.example.test A) || rc=$?
want "$out" "Truncated, retrying in TCP mode"
printf '%s\n' "$out" | grep -q '192\.0\.2\.10' && fail "truncated-tcp-fail: the TCP retry answered: $out"
[ "$rc" != 0 ] || fail "truncated-tcp-fail: dig succeeded: $out"
wait_for_line "$DNS_EVENTS" '"case":"truncated-tcp-fail","name":"www.example.test","qtype":"A","transport":"tcp"'
stop_dns
note "truncated-tcp-fail: ok"

# delay: the answer comes, unchanged, at least --delay late (upper bound
# generous: the machine may be loaded).
start_dns --case delay --delay 600ms
for t in +notcp +tcp; do
	out=$(qdig "$t" +timeout=5 www.example.test A)
	want "$out" "^www\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.10$"
	ms=$(printf '%s\n' "$out" | sed -n 's/^;; Query time: \([0-9]*\) msec$/\1/p')
	[ -n "$ms" ] && [ "$ms" -ge 600 ] && [ "$ms" -lt 2600 ] ||
		fail "delay ($t): query time '${ms}' ms, want 600..2600"
done
stop_dns
note "delay: ok"

# random-a: one A record from the seeded generator (the same for the same
# seed); AAAA queries pass.
addr=
for run in 1 2; do
	start_dns --case random-a --seed 7 --ttl 42
	out=$(qdig +edns www.example.test A)
	want "$out" "status: NOERROR"
	want "$out" "QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1"
	a=$(printf '%s\n' "$out" | awk '$1 == "www.example.test." && $2 == 42 && $4 == "A" {print $5}')
	[ -n "$a" ] && [ "$a" != 192.0.2.10 ] || fail "random-a: no random address: $out"
	[ -z "$addr" ] || [ "$a" = "$addr" ] || fail "random-a: seed 7 gave $addr, then $a"
	addr=$a
	want "$(qdig +short www.example.test AAAA)" "^2001:db8::10$"
	stop_dns
done
note "random-a: ok ($addr)"

# --qtype: AAAA fails, A keeps working (Happy Eyeballs); SERVFAIL only for
# SRV, CNAME and HTTPS.
start_dns --case serv-fail --qtype AAAA
want "$(qdig www.example.test AAAA)" "status: SERVFAIL"
want "$(qdig +short www.example.test A)" "^192\.0\.2\.10$"
stop_dns
start_dns --case serv-fail --qtype SRV,CNAME --qtype HTTPS
want "$(qdig _http._tcp.example.test SRV)" "status: SERVFAIL"
want "$(qdig alias.example.test CNAME)" "status: SERVFAIL"
want "$(qdig www.example.test HTTPS)" "status: SERVFAIL"
want "$(qdig +short alias.example.test A)" "192\.0\.2\.10"
stop_dns
note "qtype: ok"

# --names: exact and wildcard patterns.
start_dns --case nx-domain --names '*.wild.example.test,v4.example.test'
want "$(qdig a.b.wild.example.test A)" "status: NXDOMAIN"
want "$(qdig V4.example.test A)" "status: NXDOMAIN"
want "$(qdig +short wild.example.test A)" "^192\.0\.2\.20$"
want "$(qdig +short www.example.test A)" "^192\.0\.2\.10$"
stop_dns
note "names: ok"

# --ttl: every record of passed answers, UDP and TCP.
start_dns --ttl 0
for t in +notcp +tcp; do
	out=$(qdig "$t" +noall +answer alias.example.test A)
	want "$out" "^alias\.example\.test\.[[:space:]]+0[[:space:]]+IN[[:space:]]+CNAME"
	want "$out" "^www\.example\.test\.[[:space:]]+0[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.10$"
done
stop_dns
note "ttl: ok"

# alternate: live, dead, live, dead... for A and AAAA.
start_dns --case alternate --dead-address 192.0.2.99,2001:db8::dead --ttl 5
got=
for i in 1 2 3 4; do got="$got $(qdig +short www.example.test A)"; done
[ "$got" = " 192.0.2.10 192.0.2.99 192.0.2.10 192.0.2.99" ] || fail "alternate (A):$got"
got=
for i in 1 2; do got="$got $(qdig +short +tcp www.example.test AAAA)"; done
[ "$got" = " 2001:db8::10 2001:db8::dead" ] || fail "alternate (AAAA, tcp):$got"
stop_dns
note "alternate: ok"

# The case follows --case-sched: on for the first 3 s of the run (the
# first query comes well before), then off (polled, at most 10 s).
start_dns --case nx-domain --case-sched start:0s,duration:3s
want "$(qdig www.example.test A)" "status: NXDOMAIN"
for ((i = 0; i < 100; i++)); do
	qdig www.example.test A | grep -q 'status: NOERROR' && break
	sleep 0.1
done
[ "$i" -lt 100 ] || fail "--case-sched: still faulting after 10 s"
wait_for_line "$DNS_EVENTS" '"type":"fault_state".*"active":false'
stop_dns
note "case-sched: ok"

# run's own options: --tail prints each applied fault, --duration ends
# the run (status 0).
start_dns --case refused --tail --duration 3s
want "$(qdig www.example.test A)" "status: REFUSED"
wait_for_line "$FAULT_OUT" "dns-proxy side=client direction=ingress case=refused name=www\.example\.test qtype=A transport=udp$"
for ((i = 0; i < 1000; i++)); do
	kill -0 "$FAULT_PID" 2>/dev/null || break
	[ "$(awk '{print $3}' "/proc/$FAULT_PID/stat" 2>/dev/null)" = Z ] && break
	sleep 0.01
done
[ "$i" -lt 1000 ] || fail "--duration 3s: still running 10 s later"
stop_dns
note "tail, duration: ok"

# IPv6: listening on ::1 (where the host has it).
if python3 -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null; then
	port=$(free_dns_port)
	start_fault run dns --resolver "127.0.0.1:$DNSMASQ_PORT" --dns-listen "[::1]:$port" \
		--disable-http-proxy --case nx-domain --names v4.example.test
	grep -q "^fault: listening on \[::1\]:$port/udp -> 127.0.0.1:$DNSMASQ_PORT" "$FAULT_OUT" ||
		fail "no [::1] listening line: $(cat "$FAULT_OUT")"
	wait_listen "$port" "$FAULT_PID"
	for t in +notcp +tcp; do
		want "$(dig @::1 -p "$port" +tries=1 +timeout=2 "$t" v4.example.test A)" "status: NXDOMAIN"
		want "$(dig @::1 -p "$port" +tries=1 +timeout=2 "$t" +short www.example.test AAAA)" "^2001:db8::10$"
	done
	stop_dns
	note "ipv6: ok"
fi
