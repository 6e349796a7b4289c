# plugins/dns-proxy/tests/common.sh - shared by the dns-proxy tests
# (sourced): dnsmasq as the resolver with local records, dig as a client,
# and `fault run dns` in front of it.
#
#   start_dnsmasq         dnsmasq on 127.0.0.1:$DNSMASQ_PORT (UDP and TCP),
#                         queries logged to $DNSMASQ_LOG
#   start_dns ARGS...     fault run dns on 127.0.0.1:$DNS_PORT in front of
#                         it, events in $DNS_EVENTS (a new file each time)
#   stop_dns              stop that fault
#   qdig ARGS...          dig @127.0.0.1 -p $DNS_PORT +tries=1 +timeout=2 ARGS
#   want TEXT RE          fail unless TEXT matches the ERE RE
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || skip "dnsmasq is not installed"
command -v dig >/dev/null 2>&1 || skip "dig (dnsutils) is not installed"
DNSMASQ=$(command -v dnsmasq 2>/dev/null || echo /usr/sbin/dnsmasq)
DNSCLIENT="$top_srcdir/plugins/dns-proxy/tests/dnsclient.py"

want() {
	printf '%s\n' "$1" | grep -Eq -- "$2" || fail "expected /$2/ in: $1"
}

# A UDP and TCP port both free a moment ago.
free_dns_port() {
	python3 -c 'import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        t.close(); u.close(); continue
    t.close(); u.close(); print(p); break'
}

start_dnsmasq() {
	DNSMASQ_PORT=$(free_dns_port)
	DNSMASQ_LOG=$E2E_TMP/dnsmasq.log
	local big=$E2E_TMP/big.txt i
	# A TXT answer larger than 512 bytes, so that it needs EDNS or TCP.
	: >"$big"
	for i in 1 2 3 4 5 6 7 8; do
		echo "txt-record=big.example.test,\"$(printf 'x%.0s' $(seq 1 90))$i\"" >>"$big"
	done
	"$DNSMASQ" --keep-in-foreground --conf-file="$big" --no-resolv --no-hosts \
		--listen-address=127.0.0.1 --bind-interfaces --port="$DNSMASQ_PORT" \
		--pid-file="$E2E_TMP/dnsmasq.pid" --user="$(id -un)" --group="$(id -gn)" \
		--log-queries --log-facility="$DNSMASQ_LOG" --local-ttl=300 \
		--host-record=www.example.test,192.0.2.10,2001:db8::10 \
		--host-record=v4.example.test,192.0.2.11 \
		--cname=alias.example.test,www.example.test \
		--srv-host=_http._tcp.example.test,www.example.test,80,0,0 \
		--address=/wild.example.test/192.0.2.20 \
		>"$E2E_TMP/dnsmasq.out" 2>&1 &
	DNSMASQ_PID=$!
	track_pid "$DNSMASQ_PID"
	local n
	for ((n = 0; n < 500; n++)); do
		dig @127.0.0.1 -p "$DNSMASQ_PORT" +short +tries=1 +timeout=1 www.example.test A 2>/dev/null |
			grep -q '^192\.0\.2\.10$' && return 0
		kill -0 "$DNSMASQ_PID" 2>/dev/null || fail "dnsmasq exited: $(cat "$E2E_TMP/dnsmasq.out")"
		sleep 0.01
	done
	fail "dnsmasq did not answer within 5 s: $(cat "$E2E_TMP/dnsmasq.out")"
}

DNS_N=0
start_dns() {
	DNS_N=$((DNS_N + 1))
	DNS_PORT=$(free_dns_port)
	DNS_EVENTS=$E2E_TMP/events$DNS_N.jsonl
	start_fault run dns --resolver "127.0.0.1:$DNSMASQ_PORT" --dns-listen "127.0.0.1:$DNS_PORT" \
		--disable-http-proxy --events "$DNS_EVENTS" "$@"
	grep -q "^fault: listening on 127.0.0.1:$DNS_PORT/udp -> 127.0.0.1:$DNSMASQ_PORT" "$FAULT_OUT" ||
		fail "no udp listening line: $(cat "$FAULT_OUT" "$FAULT_ERR")"
	wait_listen "$DNS_PORT" "$FAULT_PID"
}

stop_dns() {
	stop_pid "$FAULT_PID"
	[ "$STOP_STATUS" = 0 ] || fail "fault exited $STOP_STATUS: $(tail -3 "$FAULT_ERR")"
}

qdig() {
	dig @127.0.0.1 -p "$DNS_PORT" +tries=1 +timeout=2 "$@" 2>&1
}
