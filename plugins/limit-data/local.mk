# plugins/limit-data/ - the limit-data plugin.
if PLUGIN_LIMIT_DATA
plugin_LTLIBRARIES += plugins/limit-data/limit-data.la
endif
plugins_limit_data_limit_data_la_SOURCES = plugins/limit-data/limit-data.c
plugins_limit_data_limit_data_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_limit_data_limit_data_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_limit_data_limit_data_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_limit_data_limit_data_la_LIBADD = $(PLUGIN_LIBADD)

TESTS += plugins/limit-data/tests/limit_data.sh
EXTRA_DIST += plugins/limit-data/tests/limit_data.sh plugins/limit-data/tests/ld_peer.py
