# plugins/http-response/ - the HTTP error fault (HTTP hooks only).
if PLUGIN_HTTP_RESPONSE
plugin_LTLIBRARIES += plugins/http-response/http-response.la
endif
plugins_http_response_http_response_la_SOURCES = plugins/http-response/http-response.c
plugins_http_response_http_response_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_http_response_http_response_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_http_response_http_response_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_http_response_http_response_la_LIBADD = $(PLUGIN_LIBADD)

TESTS += plugins/http-response/tests/http_response.sh
EXTRA_DIST += plugins/http-response/tests/http_response.sh
