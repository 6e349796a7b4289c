# plugins/blackhole/ - the blackhole plugin.
if PLUGIN_BLACKHOLE
plugin_LTLIBRARIES += plugins/blackhole/blackhole.la
endif
plugins_blackhole_blackhole_la_SOURCES = plugins/blackhole/blackhole.c
plugins_blackhole_blackhole_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_blackhole_blackhole_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_blackhole_blackhole_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_blackhole_blackhole_la_LIBADD = $(PLUGIN_LIBADD)

TESTS += plugins/blackhole/tests/schedule.sh
EXTRA_DIST += plugins/blackhole/tests/schedule.sh
TESTS += plugins/blackhole/tests/stall.sh
EXTRA_DIST += plugins/blackhole/tests/stall.sh plugins/blackhole/tests/stall.py
