# plugins/postgres/tests/common.sh - helpers shared by the postgres
# plugin's tests (sourced after tests/e2e/lib.sh).
#
#   start_pg [ARGS]     a PostgreSQL server of its own (ARGS go to
#                       postgres, e.g. -c ssl=on ...): initdb in the test's
#                       temporary directory, a free port on 127.0.0.1 and
#                       a unix socket there too; pg_hba.conf gives trust to
#                       user "trusty" and scram-sha-256 to user "scrammy"
#                       (password "s3cret") over TCP, and trust to user
#                       "tlsonly" over TLS only. Sets PGPORT, PGHOST
#                       (the socket directory), PG_PID. Runs the server as
#                       the postgres user when the test runs as root (the
#                       server refuses root).
#   start_pg_proxy ARGS start_fault with --proxy $PX=psql://127.0.0.1:$PGPORT
#                       and ARGS; sets PX
#   py SCRIPT ARGS      python3 with psycopg2 (and psycopg 3)
#   sql SQL             psql as trusty, straight to the server
#
# The tests skip (77) when PostgreSQL 15's binaries, psql or psycopg2
# are missing: Debian's postgresql, postgresql-client and
# python3-psycopg2 (share/setup-debian.sh installs them).

[ -f "$top_builddir/plugins/postgres/.libs/postgres.so" ] ||
	skip "the postgres plugin is not built (configure --enable-postgres, libpcre2-8 needed)"

PG_BIN=
for _d in /usr/lib/postgresql/*/bin; do
	[ -x "$_d/initdb" ] && PG_BIN=$_d
done
unset _d
[ -n "$PG_BIN" ] || skip "PostgreSQL server binaries are not installed (apt-get install postgresql)"
command -v psql >/dev/null 2>&1 || skip "psql is not installed (apt-get install postgresql-client)"

# The psycopg modules are Debian packages, for Debian's python3: prefer
# whichever python3 can import both (psycopg 3 for the extended-protocol
# checks), else one with psycopg2.
PY=
for _p in python3 /usr/bin/python3; do
	if "$_p" -c 'import psycopg2, psycopg' >/dev/null 2>&1; then
		PY=$_p
		break
	fi
	if [ -z "$PY" ] && "$_p" -c 'import psycopg2' >/dev/null 2>&1; then
		PY=$_p
	fi
done
unset _p
[ -n "$PY" ] || skip "psycopg2 is not installed (apt-get install python3-psycopg2)"
py() { "$PY" "$@"; }

PG_N=0
export PGDATABASE=postgres PGCONNECT_TIMEOUT=10
unset PGSSLMODE

# setpriv executes the command itself (runuser would stay its parent and
# not pass signals on), so the server's PID is the one started here.
AS_PG=()
[ "$(id -u)" = 0 ] && AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)
as_pg() { "${AS_PG[@]}" "$@"; }

start_pg() {
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || skip "running as root and there is no postgres user"
	fi
	PG_N=$((PG_N + 1))
	PG_DIR=$E2E_TMP/pg$PG_N
	mkdir -p "$PG_DIR"
	[ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
	as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync -E UTF8 --locale=C \
		>"$E2E_TMP/initdb.log" 2>&1 || fail "initdb failed: $(tail -5 "$E2E_TMP/initdb.log")"
	cat >"$PG_DIR/hba" <<-'EOF'
	local all all trust
	hostssl all tlsonly 127.0.0.1/32 trust
	host all trusty 127.0.0.1/32 trust
	host all scrammy 127.0.0.1/32 scram-sha-256
	host all postgres 127.0.0.1/32 trust
	EOF
	[ "$(id -u)" = 0 ] && chown postgres "$PG_DIR/hba"
	PGPORT=$(free_port)
	PGHOST=$PG_DIR
	"${AS_PG[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PGPORT" -k "$PG_DIR" \
		-c listen_addresses=127.0.0.1 -c hba_file="$PG_DIR/hba" -c fsync=off \
		-c password_encryption=scram-sha-256 -c max_connections=60 \
		-c deadlock_timeout=100ms "$@" >"$E2E_TMP/postgres.log" 2>&1 &
	PG_PID=$!
	track_pid "$PG_PID"
	local i
	for ((i = 0; i < 1000; i++)); do
		"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" && break
		kill -0 "$PG_PID" 2>/dev/null || fail "postgres exited: $(tail -5 "$E2E_TMP/postgres.log")"
		sleep 0.01
	done
	"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" ||
		fail "postgres did not accept connections within 10 s"
	psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres <<-'EOF' >/dev/null ||
	CREATE ROLE trusty LOGIN SUPERUSER;
	CREATE ROLE scrammy LOGIN PASSWORD 's3cret';
	CREATE ROLE tlsonly LOGIN;
	CREATE DATABASE app OWNER trusty;
	EOF
		fail "cannot create the test roles"
	export PGPORT PGHOST
}

# sql SQL: runs SQL as trusty on the app database, straight to the server,
# and prints the result unaligned without headers.
sql() {
	psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U trusty -d app -c "$1"
}

start_pg_proxy() {
	PX=$(free_port)
	start_fault run --no-ui --proxy "$PX=psql://127.0.0.1:$PGPORT" "$@"
}

# Stops the server quickly (fast shutdown) so the test ends promptly.
stop_pg() { stop_pid "$PG_PID" INT; }
