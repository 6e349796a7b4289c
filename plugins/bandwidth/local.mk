# plugins/bandwidth/ - the bandwidth plugin.
if PLUGIN_BANDWIDTH
plugin_LTLIBRARIES += plugins/bandwidth/bandwidth.la
endif
plugins_bandwidth_bandwidth_la_SOURCES = plugins/bandwidth/bandwidth.c
plugins_bandwidth_bandwidth_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_bandwidth_bandwidth_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_bandwidth_bandwidth_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_bandwidth_bandwidth_la_LIBADD = $(PLUGIN_LIBADD)

TESTS += plugins/bandwidth/tests/rate.sh plugins/bandwidth/tests/shared.sh \
	plugins/bandwidth/tests/backpressure.sh
EXTRA_DIST += plugins/bandwidth/tests/rate.sh plugins/bandwidth/tests/shared.sh \
	plugins/bandwidth/tests/backpressure.sh plugins/bandwidth/tests/backpressure.py
