#!/usr/bin/env bash
# plugins/dns/tests/dns.sh - the dns fault on a TCP mapping whose upstream
# is the name "localhost" (nginx listens on 127.0.0.1):
#
#  1. --dns-rate 1: every connection through the proxy fails (curl reports
#     an error; a TCP mapping resets the client when the name does not
#     resolve) and --tail prints one dns line per connection, naming the
#     host; nginx never sees a request;
#  2. --dns-rate 0: every connection succeeds, no dns line;
#  3. --dns-rate 0.5 --seed 7, 200 connections: the failure count lies in
#     the central 99% interval of binomial(200, 0.5) (82..118), it equals
#     the number of dns lines, and a second run with the same seed fails
#     exactly the same connections (same pattern);
#  4. IP literal upstream (127.0.0.1) with --dns-rate 1: nothing fails and
#     no dns line is printed (a literal is never resolved);
#  5. FAULT_DNS_PROBABILITY=1 in the environment acts like --dns-rate 1;
#     FAULT_DNS_PROBABILITY=50 (the documented 0-100 range) with --seed 7
#     fails exactly the connections --dns-rate 0.5 --seed 7 failed; 150
#     is refused with exit status 2.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

HELPER=$top_srcdir/plugins/dns/tests/dns_client.py

start_nginx
printf 'hello from nginx\n' >"$WWW/index.html"
curl -sS --fail -o /dev/null "http://127.0.0.1:$NGINX_PORT/index.html" || fail "nginx does not serve"
access_lines() { wc -l <"$E2E_TMP/nginx-access.log"; }

# ---- 1. rate 1: all fail
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=localhost:$NGINX_PORT" --tail --with-dns --dns-rate 1
before=$(access_lines)
for i in 1 2 3 4 5 6 7 8 9 10; do
	if curl -sS --max-time 10 -o /dev/null "http://127.0.0.1:$P/index.html" 2>"$E2E_TMP/curl.err"; then
		fail "rate 1: connection $i through the proxy succeeded"
	fi
done
note "rate 1: curl says: $(head -n1 "$E2E_TMP/curl.err")"
wait_for_line "$FAULT_OUT" "^[0-9:.]+ #10 dns side=server direction=egress host=localhost port=$NGINX_PORT\$" "$FAULT_PID"
n=$(grep -c ' dns side=server direction=egress host=localhost ' "$FAULT_OUT")
[ "$n" = 10 ] || fail "rate 1: $n dns lines for 10 connections"
[ "$(access_lines)" = "$before" ] || fail "rate 1: nginx saw a request"
stop_pid "$FAULT_PID"
note "rate 1: 10/10 failed, 10 dns events"

# ---- 2. rate 0: all succeed
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=localhost:$NGINX_PORT" --tail --with-dns --dns-rate 0
for i in 1 2 3 4 5 6 7 8 9 10; do
	curl -sS --fail --max-time 10 -o "$E2E_TMP/r0" "http://127.0.0.1:$P/index.html" ||
		fail "rate 0: connection $i failed"
	cmp -s "$E2E_TMP/r0" "$WWW/index.html" || fail "rate 0: body differs"
done
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #10 close ' "$FAULT_PID"
grep -q ' dns ' "$FAULT_OUT" && fail "rate 0: a dns event was published"
stop_pid "$FAULT_PID"
note "rate 0: 10/10 succeeded"

# ---- 3. rate 0.5 over 200 connections, twice with the same seed
read -r lo hi <<<"$(python3 "$HELPER" binom 200 0.5 0.99)"
patterns=
for run in 1 2; do
	P=$(free_port)
	start_fault run --proxy "127.0.0.1:$P=localhost:$NGINX_PORT" --tail --with-dns \
		--dns-rate 0.5 --seed 7
	out=$(python3 "$HELPER" count "$P" 200 "$WWW/index.html") || fail "rate 0.5: $out"
	failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$out")
	pattern=$(sed -n 's/.*pattern=\([ox]*\).*/\1/p' <<<"$out")
	wait_for_line "$FAULT_OUT" '^[0-9:.]+ #200 (close|dns) ' "$FAULT_PID"
	n=$(grep -c ' dns side=server ' "$FAULT_OUT")
	note "rate 0.5 run $run: $failed/200 failed (99% interval $lo..$hi), $n dns events"
	[ "$failed" -ge "$lo" ] && [ "$failed" -le "$hi" ] ||
		fail "rate 0.5: $failed failures out of 200, outside the binomial 99% interval $lo..$hi"
	[ "$n" = "$failed" ] || fail "rate 0.5: $failed failed connections but $n dns events"
	patterns="$patterns $pattern"
	stop_pid "$FAULT_PID"
done
read -r p1 p2 <<<"$patterns"
[ "$p1" = "$p2" ] || fail "rate 0.5: the same --seed failed different connections"
note "rate 0.5: same seed, same failures"

# ---- 4. IP literal upstream: never fails
P=$(free_port)
start_fault run --proxy "127.0.0.1:$P=127.0.0.1:$NGINX_PORT" --tail --with-dns --dns-rate 1
out=$(python3 "$HELPER" count "$P" 20 "$WWW/index.html") || fail "literal: $out"
case $out in ok=20\ failed=0\ *) ;; *) fail "literal upstream with --dns-rate 1: $out" ;; esac
wait_for_line "$FAULT_OUT" '^[0-9:.]+ #20 close ' "$FAULT_PID"
grep -q ' dns ' "$FAULT_OUT" && fail "literal upstream: a dns event was published"
stop_pid "$FAULT_PID"
note "IP literal upstream: 20/20 succeeded"

# ---- 5. the environment variable, and a bad rate
P=$(free_port)
FAULT_DNS_PROBABILITY=1 start_fault run --proxy "127.0.0.1:$P=localhost:$NGINX_PORT" --tail --with-dns
out=$(python3 "$HELPER" count "$P" 5 "$WWW/index.html") || fail "env: $out"
case $out in ok=0\ failed=5\ *) ;; *) fail "FAULT_DNS_PROBABILITY=1: $out" ;; esac
stop_pid "$FAULT_PID"
P=$(free_port)
FAULT_DNS_PROBABILITY=50 start_fault run --proxy "127.0.0.1:$P=localhost:$NGINX_PORT" --tail \
	--with-dns --seed 7
out=$(python3 "$HELPER" count "$P" 200 "$WWW/index.html") || fail "env 50: $out"
pattern=$(sed -n 's/.*pattern=\([ox]*\).*/\1/p' <<<"$out")
[ "$pattern" = "$p1" ] || fail "FAULT_DNS_PROBABILITY=50 failed other connections than --dns-rate 0.5 ($out)"
stop_pid "$FAULT_PID"
note "FAULT_DNS_PROBABILITY=50: the same failures as --dns-rate 0.5"
"$FAULT" run --proxy "127.0.0.1:$P=localhost:$NGINX_PORT" --with-dns --dns-rate 150 \
	>"$E2E_TMP/bad.out" 2>&1 && fail "--dns-rate 150 was accepted"
rc=$?
[ "$rc" = 2 ] || fail "--dns-rate 150: exit status $rc, want 2"
grep -q 'dns-rate' "$E2E_TMP/bad.out" || fail "--dns-rate 150: message does not name the flag: $(cat "$E2E_TMP/bad.out")"
note "env variable honoured; bad rate refused: $(head -n1 "$E2E_TMP/bad.out")"
