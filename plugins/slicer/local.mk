# plugins/slicer/ - the slicer plugin.
if PLUGIN_SLICER
plugin_LTLIBRARIES += plugins/slicer/slicer.la
endif
plugins_slicer_slicer_la_SOURCES = plugins/slicer/slicer.c
plugins_slicer_slicer_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_slicer_slicer_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_slicer_slicer_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_slicer_slicer_la_LIBADD = $(PLUGIN_LIBADD)

TESTS += plugins/slicer/tests/slicer.sh
EXTRA_DIST += plugins/slicer/tests/slicer.sh plugins/slicer/tests/sl_client.py
