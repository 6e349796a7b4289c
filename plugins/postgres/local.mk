# plugins/postgres/ - the PostgreSQL protocol handler (psql://, psqls://)
# and its database cases; needs libpcre2-8 for --pg-statement.
if PLUGIN_POSTGRES
plugin_LTLIBRARIES += plugins/postgres/postgres.la plugins/postgres/db-mode.la
endif
plugins_postgres_db_mode_la_SOURCES = plugins/postgres/db-mode.c
plugins_postgres_db_mode_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_postgres_db_mode_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_postgres_db_mode_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_postgres_db_mode_la_LIBADD = $(PLUGIN_LIBADD)
plugins_postgres_postgres_la_SOURCES = plugins/postgres/postgres.c plugins/postgres/session.c plugins/postgres/session.h \
	plugins/postgres/egress.c plugins/postgres/ingress.c plugins/postgres/cancel.c \
	plugins/postgres/pgwire.c plugins/postgres/pgwire.h plugins/postgres/pg.h \
	plugins/postgres/pgtls.c plugins/postgres/pgtls.h
plugins_postgres_postgres_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(PCRE2_CFLAGS) $(SSL_CFLAGS)
plugins_postgres_postgres_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_postgres_postgres_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_postgres_postgres_la_LIBADD = $(PLUGIN_LIBADD) $(PCRE2_LIBS) $(SSL_LIBS)

POSTGRES_TESTS = plugins/postgres/tests/protocol.sh plugins/postgres/tests/cases.sh \
	plugins/postgres/tests/node.sh plugins/postgres/tests/tls.sh
if PLUGIN_POSTGRES
TESTS += $(POSTGRES_TESTS)
endif
# The fuzz target is built by tests/fuzz/run.sh (pgwire), not by make.
EXTRA_DIST += $(POSTGRES_TESTS) plugins/postgres/fuzz_pgwire.c plugins/postgres/bench.sh plugins/postgres/tests/common.sh \
	plugins/postgres/tests/pgclient.py plugins/postgres/tests/node/client.js plugins/postgres/tests/node/failover.js \
	plugins/postgres/tests/node/package.json plugins/postgres/tests/node/package-lock.json \
	tests/fuzz/corpus/pgwire/simple-query \
	tests/fuzz/corpus/pgwire/extended tests/fuzz/corpus/pgwire/results \
	tests/fuzz/corpus/pgwire/error tests/fuzz/corpus/pgwire/copy
