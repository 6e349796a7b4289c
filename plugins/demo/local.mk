# plugins/demo/ - the demo plugin: `fault demo run`, an HTTP/1.1 server
# (llhttp) whose endpoints make outbound calls (libcurl) and answer JSON
# (cJSON).
if PLUGIN_DEMO
plugin_LTLIBRARIES += plugins/demo/demo.la
endif
plugins_demo_demo_la_SOURCES = plugins/demo/demo.c plugins/demo/demo.h \
	plugins/demo/server.c plugins/demo/routes.c plugins/demo/fetch.c
plugins_demo_demo_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(LLHTTP_CPPFLAGS) $(CURL_CFLAGS) -I$(srcdir)/plugins/lib \
	$(CJSON_CFLAGS)
plugins_demo_demo_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_demo_demo_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_demo_demo_la_LIBADD = $(PLUGIN_LIBADD) $(LLHTTP_LIB) $(CURLUV_LIB) $(CJSON_LIBS)

DEMO_TESTS = plugins/demo/tests/endpoints.sh plugins/demo/tests/proxy.sh \
	plugins/demo/tests/concurrency.sh plugins/demo/tests/cli.sh
TESTS += $(DEMO_TESTS)
EXTRA_DIST += $(DEMO_TESTS) plugins/demo/tests/common.sh plugins/demo/tests/demo_peers.py
