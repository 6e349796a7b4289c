# tests/unit/ - unit tests of the core's internal pieces (random numbers and
# distributions, durations, schedules, proxy mappings, HTTP exchanges). They link the core
# convenience library so that internal fault__ functions are reachable.
check_PROGRAMS += tests/unit/test_rng tests/unit/test_duration \
	tests/unit/test_schedule tests/unit/test_mapping tests/unit/test_http_exchange \
	tests/unit/test_http_storage tests/unit/test_conn_write tests/unit/test_pgwire
TESTS += tests/unit/test_rng tests/unit/test_duration \
	tests/unit/test_schedule tests/unit/test_mapping tests/unit/test_http_exchange \
	tests/unit/test_http_storage tests/unit/test_conn_write tests/unit/test_pgwire

tests_unit_test_rng_SOURCES = tests/unit/test_rng.c tests/unit/check.h
tests_unit_test_rng_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS)
tests_unit_test_rng_LDADD = core/libfaultcore-impl.la -lm

tests_unit_test_duration_SOURCES = tests/unit/test_duration.c tests/unit/check.h
tests_unit_test_duration_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS)
tests_unit_test_duration_LDADD = core/libfaultcore-impl.la -lm

tests_unit_test_schedule_SOURCES = tests/unit/test_schedule.c tests/unit/check.h
tests_unit_test_schedule_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS)
tests_unit_test_schedule_LDADD = core/libfaultcore-impl.la -lm

tests_unit_test_mapping_SOURCES = tests/unit/test_mapping.c tests/unit/check.h
tests_unit_test_mapping_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS)
tests_unit_test_mapping_LDADD = core/libfaultcore-impl.la -lm

tests_unit_test_http_exchange_SOURCES = tests/unit/test_http_exchange.c tests/unit/check.h
tests_unit_test_http_exchange_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS)
tests_unit_test_http_exchange_LDADD = core/libfaultcore-impl.la -lm

tests_unit_test_http_storage_SOURCES = tests/unit/test_http_storage.c tests/unit/check.h
tests_unit_test_http_storage_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS)
tests_unit_test_http_storage_LDADD = core/libfaultcore-impl.la -lm

tests_unit_test_conn_write_SOURCES = tests/unit/test_conn_write.c tests/unit/check.h
tests_unit_test_conn_write_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS)
tests_unit_test_conn_write_LDADD = core/libfaultcore-impl.la -lm

# The postgres plugin's framer (plugins/postgres/pgwire.c needs only the SDK).
tests_unit_test_pgwire_SOURCES = tests/unit/test_pgwire.c tests/unit/check.h \
	plugins/postgres/pgwire.c plugins/postgres/pgwire.h
tests_unit_test_pgwire_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/postgres
