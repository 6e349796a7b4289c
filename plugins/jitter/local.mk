# plugins/jitter/ - the jitter plugin.
if PLUGIN_JITTER
plugin_LTLIBRARIES += plugins/jitter/jitter.la
endif
plugins_jitter_jitter_la_SOURCES = plugins/jitter/jitter.c
plugins_jitter_jitter_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_jitter_jitter_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_jitter_jitter_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_jitter_jitter_la_LIBADD = $(PLUGIN_LIBADD)

TESTS += plugins/jitter/tests/rate.sh
EXTRA_DIST += plugins/jitter/tests/rate.sh plugins/jitter/tests/jitter_peer.py
