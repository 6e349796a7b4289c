# plugins/demo/ - the demo plugin.
if PLUGIN_DEMO
plugin_LTLIBRARIES += plugins/demo/demo.la
endif
plugins_demo_demo_la_SOURCES = plugins/demo/demo.c
plugins_demo_demo_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(LLHTTP_CPPFLAGS) $(CURL_CFLAGS)
plugins_demo_demo_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_demo_demo_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_demo_demo_la_LIBADD = $(PLUGIN_LIBADD) $(LLHTTP_LIB) $(CURL_LIBS)
