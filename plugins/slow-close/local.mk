# plugins/slow-close/ - the slow-close plugin.
if PLUGIN_SLOW_CLOSE
plugin_LTLIBRARIES += plugins/slow-close/slow-close.la
endif
plugins_slow_close_slow_close_la_SOURCES = plugins/slow-close/slow-close.c
plugins_slow_close_slow_close_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_slow_close_slow_close_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_slow_close_slow_close_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_slow_close_slow_close_la_LIBADD = $(PLUGIN_LIBADD)

TESTS += plugins/slow-close/tests/slow_close.sh
EXTRA_DIST += plugins/slow-close/tests/slow_close.sh plugins/slow-close/tests/sc_peer.py
