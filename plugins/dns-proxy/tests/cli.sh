#!/bin/bash
# plugins/dns-proxy/tests/cli.sh - `fault run dns` on the command line:
# its help, its options only after its word, and bad input as one line
# naming the flag with exit status 2 (a non-loopback listen address
# among them: no open resolver by accident).
. "$top_srcdir/plugins/dns-proxy/tests/common.sh" || exit 99


"$FAULT" run --help >"$E2E_TMP/help" || fail "fault run --help"
grep -Eq '^  dns +A DNS proxy' "$E2E_TMP/help" || fail "run --help does not list the dns mode"
"$FAULT" run dns --help >"$E2E_TMP/help" || fail "fault run dns --help"
for o in case resolver probability delay dns-listen dns-allow-remote names qtype ttl dead-address case-sched; do
	grep -q -- "--$o" "$E2E_TMP/help" || fail "fault run dns --help lacks --$o"
done

bad_input "unknown option.*--case|--case.*unknown" run --case nx-domain
bad_input "--case" run dns --case bogus
bad_input "--probability" run dns --probability 1.5
bad_input "^fault: dns-proxy: --resolver: 'example\.org' is not IP\[:PORT\]" run dns --resolver example.org
bad_input "^fault: dns-proxy: --resolver: " run dns --resolver 127.0.0.1:70000
bad_input "^fault: dns-proxy: --dns-listen: '127\.0\.0\.1' is not IP:PORT" run dns --dns-listen 127.0.0.1
bad_input "^fault: dns-proxy: --dns-listen: 192\.0\.2\.1 is not a loopback address.*--dns-allow-remote" \
	run dns --dns-listen 192.0.2.1:5353
bad_input "^fault: dns-proxy: --dns-listen: :: is not a loopback" run dns --dns-listen '[::]:5353'
bad_input "^fault: dns-proxy: --qtype: 'BOGUS' is not a record type" run dns --qtype A,BOGUS
bad_input "^fault: dns-proxy: --names: 'a\.\.b' is not a name" run dns --names a..b
bad_input "^fault: dns-proxy: --names: empty" run dns --names 'a.test,'
bad_input "--ttl" run dns --ttl -1
bad_input "^fault: dns-proxy: --dead-address: 'nowhere' is not an IPv4 or IPv6 address" run dns --case alternate --dead-address 192.0.2.1,nowhere
bad_input "--case-sched" run dns --case nx-domain --case-sched nonsense
bad_input "^fault: run dns: unexpected 'extra' after 'dns'" run dns extra
FAULT_DNS_PROXY_LISTEN=10.0.0.1:53 bad_input "^fault: dns-proxy: --dns-listen: 10\.0\.0\.1 is not a loopback" run dns

# The environment sets options too, and a busy port is a clear failure.
start_dnsmasq
port=$(free_dns_port)
FAULT_DNS_PROXY_CASE=refused start_fault run dns --resolver "127.0.0.1:$DNSMASQ_PORT" \
	--dns-listen "127.0.0.1:$port" --disable-http-proxy
want "$(dig @127.0.0.1 -p "$port" +tries=1 +timeout=2 www.example.test A)" "status: REFUSED"
rc=0
"$FAULT" run dns --dns-listen "127.0.0.1:$port" --disable-http-proxy >"$E2E_TMP/busy.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "second proxy on a busy port: status $rc: $(cat "$E2E_TMP/busy.out")"
grep -q -- "--dns-listen 127.0.0.1:$port: udp bind: address already in use" "$E2E_TMP/busy.out" ||
	fail "busy port: $(cat "$E2E_TMP/busy.out")"
stop_pid "$FAULT_PID"
[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS on SIGTERM: $(tail -3 "$FAULT_ERR")"
note "ok"
