# plugins/http/ - the HTTP protocol plugin: forward proxy, CONNECT tunnels
# (optionally intercepted) and http(s):// reverse mappings, HTTP/1.1 with
# llhttp and HTTP/2 with nghttp2, TLS toward clients; and the `fault ca`
# command plugin (ca.la), which shares its PKI code (pki.c).
if PLUGIN_HTTP
plugin_LTLIBRARIES += plugins/http/http.la plugins/http/ca.la
endif
plugins_http_http_la_SOURCES = plugins/http/http.c plugins/http/due.c plugins/http/h1.c plugins/http/session.c \
	plugins/http/upstream.c plugins/http/tunnel.c plugins/http/accept.c plugins/http/h2.c \
	plugins/http/h2_exchange.c plugins/http/h2_h1up.c plugins/http/h2up.c plugins/http/h2int.h \
	plugins/http/h1up.c plugins/http/h1up.h \
	plugins/http/sess_request.c plugins/http/sess_upstream.c plugins/http/session.h \
	plugins/http/pki.c plugins/http/proxy.h
plugins_http_http_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(LLHTTP_CPPFLAGS) $(SSL_CFLAGS) $(NGHTTP2_CFLAGS) \
	-I$(srcdir)/plugins/lib
plugins_http_http_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_http_http_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_http_http_la_LIBADD = $(PLUGIN_LIBADD) $(LLHTTP_LIB) $(SSL_LIBS) $(NGHTTP2_LIBS) $(SAFEFILE_LIB)

plugins_http_ca_la_SOURCES = plugins/http/ca.c plugins/http/pki.c plugins/http/proxy.h
plugins_http_ca_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(LLHTTP_CPPFLAGS) $(SSL_CFLAGS) -I$(srcdir)/plugins/lib
plugins_http_ca_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_http_ca_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_http_ca_la_LIBADD = $(PLUGIN_LIBADD) $(SSL_LIBS) $(SAFEFILE_LIB)

HTTP_TESTS = plugins/http/tests/forward.sh plugins/http/tests/errors.sh plugins/http/tests/sse.sh plugins/http/tests/bigfile.sh plugins/http/tests/targeting.sh plugins/http/tests/connect.sh plugins/http/tests/reverse.sh plugins/http/tests/hooks.sh plugins/http/tests/bodies.sh \
	plugins/http/tests/tls.sh plugins/http/tests/h2.sh plugins/http/tests/splice.sh \
	plugins/http/tests/h2up.sh plugins/http/tests/h2connect.sh plugins/http/tests/latency.sh plugins/http/tests/h2bodies.sh \
	plugins/http/tests/h2limits.sh plugins/http/tests/slowhead.sh
TESTS += $(HTTP_TESTS)
EXTRA_DIST += $(HTTP_TESTS) plugins/http/tests/common.sh plugins/http/tests/upstream.py plugins/http/tests/h2connect.py plugins/http/tests/h2bomb.py \
	plugins/http/tests/hookprobe.c plugins/http/fuzz_http.c plugins/http/fuzz_h2.c plugins/http/bench.sh

# A plugin that drives the HTTP hooks (PENDING, status changes, answers)
# for hooks.sh; built for `make check` only.
check_LTLIBRARIES += plugins/http/tests/hookprobe.la
plugins_http_tests_hookprobe_la_SOURCES = plugins/http/tests/hookprobe.c
plugins_http_tests_hookprobe_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_http_tests_hookprobe_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_http_tests_hookprobe_la_LDFLAGS = $(PLUGIN_LDFLAGS) -rpath /nowhere
plugins_http_tests_hookprobe_la_LIBADD = $(PLUGIN_LIBADD)
