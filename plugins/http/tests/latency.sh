#!/usr/bin/env bash
# plugins/http/tests/latency.sh - the latency fault "once per connection"
# on HTTP traffic is once per exchange (fault_stream_next_exchange): every
# request of a keep-alive connection is delayed, through the forward proxy
# and through an http:// mapping, as the original tool does for HTTP.
# --latency-mean 200 --latency-stddev 0, server side, ingress (defaults):
# two requests on one connection (curl reuses it: num_connects 1 then 0)
# each take >= 195 ms (timers fire late, never early; 5 ms absorbs the
# clock's rounding in curl's timing).
. "$top_srcdir/tests/e2e/lib.sh" || exit 99
. "$top_srcdir/plugins/http/tests/common.sh" || exit 99

start_upstream
UP=http://127.0.0.1:$UP_PORT
PP=$(free_port)
M=$(free_port)
start_fault run --proxy-address "127.0.0.1:$PP" --proxy "127.0.0.1:$M=$UP" \
	--with-latency --latency-mean 200 --latency-stddev 0

check_two() { # check_two WHAT CURL-ARGS... (two URLs)
	local what=$1 out t1 c1 t2 c2
	shift
	out=$(curl -sS --max-time 10 -o /dev/null -o /dev/null -w '%{time_total} %{num_connects}\n' "$@") ||
		fail "$what: curl failed"
	read -r t1 c1 t2 c2 <<<"$(tr '\n' ' ' <<<"$out")"
	[ "$c1 $c2" = "1 0" ] || fail "$what: the two requests did not share a connection ($c1 $c2)"
	local m1 m2
	m1=$(ms_diff 0 "$t1")
	m2=$(ms_diff 0 "$t2")
	[ "$m1" -ge 195 ] || fail "$what: first request took $m1 ms, want >= 195"
	[ "$m2" -ge 195 ] || fail "$what: second request on the connection took $m2 ms, want >= 195"
	note "$what: $m1 ms, then $m2 ms on the same connection"
}

check_two "forward proxy" --noproxy '' -x "http://127.0.0.1:$PP" "$UP/a" "$UP/b"
check_two "http:// mapping" --noproxy '*' "http://127.0.0.1:$M/a" "http://127.0.0.1:$M/b"
