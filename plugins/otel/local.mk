# plugins/otel/ - the otel plugin: `fault --with-otel run ...` exports
# traces and metrics over OTLP/HTTP (JSON) with libcurl, configured by the
# standard OTEL_* variables. Loaded only when --with-otel / FAULT_WITH_OTEL
# is given (its FAULT_PLUGIN_HINT_OPTION).
if PLUGIN_OTEL
plugin_LTLIBRARIES += plugins/otel/otel.la
endif
plugins_otel_otel_la_SOURCES = plugins/otel/otel.c plugins/otel/otelcfg.c plugins/otel/otelcfg.h
plugins_otel_otel_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(CURL_CFLAGS) -I$(srcdir)/plugins/lib $(CJSON_CFLAGS)
plugins_otel_otel_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_otel_otel_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_otel_otel_la_LIBADD = $(PLUGIN_LIBADD) $(CURLUV_LIB) $(CJSON_LIBS)
# The variable lists' libFuzzer target (tests/fuzz/run.sh otel); not built here.
EXTRA_DIST += plugins/otel/fuzz_otel.c plugins/otel/fuzz-corpus plugins/otel/README.md

OTEL_TESTS = plugins/otel/tests/export.sh plugins/otel/tests/review.sh
TESTS += $(OTEL_TESTS)
EXTRA_DIST += $(OTEL_TESTS) plugins/otel/tests/common.sh plugins/otel/tests/collector.py plugins/otel/tests/h2two.py
