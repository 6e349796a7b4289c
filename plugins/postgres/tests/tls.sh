#!/bin/bash
# plugins/postgres/tests/tls.sh - psqls:// mappings: the client leg is
# plaintext (its SSLRequest answered 'N'), the server leg asks for TLS with
# SSLRequest as libpq does and verifies the server against --pg-tls-ca.
# The server takes user "tlsonly" over TLS only (hostssl), and
# pg_stat_ssl confirms the session is encrypted; a CA that did not sign
# the server's certificate fails the connection with a FATAL error the
# client shows; a psqls:// mapping to a server without TLS says so. SCRAM
# works over psqls:// (the server's SCRAM-SHA-256-PLUS offer, bound to the
# proxy's TLS session, is taken out of the list the plaintext client sees).
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/plugins/postgres/tests/common.sh"
command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"

mkdir -p "$E2E_TMP/pki"
for who in server other; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$E2E_TMP/pki/$who.key" -out "$E2E_TMP/pki/$who.crt" >/dev/null 2>&1 ||
		fail "openssl could not make a certificate"
done
chmod 600 "$E2E_TMP/pki/server.key"
[ "$(id -u)" = 0 ] && chown postgres "$E2E_TMP/pki/server.key" "$E2E_TMP/pki/server.crt"
chmod 755 "$E2E_TMP/pki"

start_pg -c ssl=on -c ssl_cert_file="$E2E_TMP/pki/server.crt" -c ssl_key_file="$E2E_TMP/pki/server.key"
PX=$(free_port)
start_fault run --no-ui --proxy "$PX=psqls://127.0.0.1:$PGPORT" --pg-tls-ca "$E2E_TMP/pki/server.crt"

note "TLS-only user through psqls://"
out=$(psql -X -At -h 127.0.0.1 -p "$PX" -U tlsonly -d app \
	-c "select ssl from pg_stat_ssl where pid = pg_backend_pid()" 2>&1) ||
	fail "psql through psqls:// failed: $out"
[ "$out" = t ] || fail "the server leg is not encrypted: '$out'"
note "drivers through psqls://"
py "$top_srcdir/plugins/postgres/tests/pgclient.py" basic "$PX" || fail "drivers through psqls://"
py "$top_srcdir/plugins/postgres/tests/pgclient.py" cancel "$PX" || fail "cancel through psqls://"
stop_pid "$FAULT_PID"

note "a CA that did not sign the server: refused, and the client is told"
PX=$(free_port)
start_fault run --no-ui --proxy "$PX=psqls://127.0.0.1:$PGPORT" --pg-tls-ca "$E2E_TMP/pki/other.crt"
psql -X -At -h 127.0.0.1 -p "$PX" -U tlsonly -d app -c "select 1" >"$E2E_TMP/bad.out" 2>&1 &&
	fail "psql succeeded with an unverifiable server"
grep -q "certificate verification failed" "$E2E_TMP/bad.out" || fail "client saw: $(cat "$E2E_TMP/bad.out")"
stop_pid "$FAULT_PID"

note "--pg-tls-insecure: no verification"
PX=$(free_port)
start_fault run --no-ui --proxy "$PX=psqls://127.0.0.1:$PGPORT" --pg-tls-insecure
out=$(psql -X -At -h 127.0.0.1 -p "$PX" -U tlsonly -d app -c "select 5" 2>&1) ||
	fail "psql with --pg-tls-insecure: $out"
[ "$out" = 5 ] || fail "printed '$out'"
stop_pid "$FAULT_PID"
stop_pg

note "psqls:// to a server without TLS"
start_pg
PX=$(free_port)
start_fault run --no-ui --proxy "$PX=psqls://127.0.0.1:$PGPORT" --pg-tls-insecure
psql -X -At -h 127.0.0.1 -p "$PX" -U trusty -d app -c "select 1" >"$E2E_TMP/nossl.out" 2>&1 &&
	fail "psql succeeded through psqls:// to a plaintext server"
grep -q "does not accept TLS" "$E2E_TMP/nossl.out" || fail "client saw: $(cat "$E2E_TMP/nossl.out")"
stop_pg
note "ok"
