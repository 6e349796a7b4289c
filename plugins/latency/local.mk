# plugins/latency/ - the latency plugin.
if PLUGIN_LATENCY
plugin_LTLIBRARIES += plugins/latency/latency.la
endif
plugins_latency_latency_la_SOURCES = plugins/latency/latency.c
plugins_latency_latency_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_latency_latency_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_latency_latency_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_latency_latency_la_LIBADD = $(PLUGIN_LIBADD)
