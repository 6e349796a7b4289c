#!/bin/bash
# plugins/dns-proxy/tests/cli.sh - `fault run dns` on the command line:
# its help, its options only after its word, and bad input as one line
# naming the flag with exit status 2 (a non-loopback listen address
# among them: no open resolver by accident).
. "$top_srcdir/plugins/dns-proxy/tests/common.sh" || exit 99

bad() { # bad ERE ARGS...: exit 2, one line on stderr matching ERE
	local re=$1 rc=0
	shift
	"$FAULT" "$@" >"$E2E_TMP/bad.out" 2>"$E2E_TMP/bad.err" || rc=$?
	[ "$rc" = 2 ] || fail "fault $*: status $rc, want 2: $(cat "$E2E_TMP/bad.err")"
	[ "$(wc -l <"$E2E_TMP/bad.err")" = 1 ] || fail "fault $*: want one line: $(cat "$E2E_TMP/bad.err")"
	grep -Eq -- "$re" "$E2E_TMP/bad.err" || fail "fault $*: '$(cat "$E2E_TMP/bad.err")' !~ $re"
}

"$FAULT" run --help >"$E2E_TMP/help" || fail "fault run --help"
grep -Eq '^  dns +A DNS proxy' "$E2E_TMP/help" || fail "run --help does not list the dns mode"
"$FAULT" run dns --help >"$E2E_TMP/help" || fail "fault run dns --help"
for o in case resolver probability delay dns-listen dns-allow-remote names qtype ttl dead-address case-sched; do
	grep -q -- "--$o" "$E2E_TMP/help" || fail "fault run dns --help lacks --$o"
done

bad "unknown option.*--case|--case.*unknown" run --case nx-domain
bad "--case" run dns --case bogus
bad "--probability" run dns --probability 1.5
bad "^fault: dns-proxy: --resolver: 'example\.org' is not IP\[:PORT\]" run dns --resolver example.org
bad "^fault: dns-proxy: --resolver: " run dns --resolver 127.0.0.1:70000
bad "^fault: dns-proxy: --dns-listen: '127\.0\.0\.1' is not IP:PORT" run dns --dns-listen 127.0.0.1
bad "^fault: dns-proxy: --dns-listen: 192\.0\.2\.1 is not a loopback address.*--dns-allow-remote" \
	run dns --dns-listen 192.0.2.1:5353
bad "^fault: dns-proxy: --dns-listen: :: is not a loopback" run dns --dns-listen '[::]:5353'
bad "^fault: dns-proxy: --qtype: 'BOGUS' is not a record type" run dns --qtype A,BOGUS
bad "^fault: dns-proxy: --names: 'a\.\.b' is not a name" run dns --names a..b
bad "^fault: dns-proxy: --names: empty" run dns --names 'a.test,'
bad "--ttl" run dns --ttl -1
bad "^fault: dns-proxy: --dead-address: 'nowhere' is not an IPv4 or IPv6 address" run dns --case alternate --dead-address 192.0.2.1,nowhere
bad "--case-sched" run dns --case nx-domain --case-sched nonsense
bad "^fault: run dns: unexpected 'extra' after 'dns'" run dns extra
FAULT_DNS_PROXY_LISTEN=10.0.0.1:53 bad "^fault: dns-proxy: --dns-listen: 10\.0\.0\.1 is not a loopback" run dns

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
