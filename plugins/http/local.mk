# plugins/http/ - the http plugin.
if PLUGIN_HTTP
plugin_LTLIBRARIES += plugins/http/http.la
endif
plugins_http_http_la_SOURCES = plugins/http/http.c
plugins_http_http_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(LLHTTP_CPPFLAGS) $(SSL_CFLAGS)
plugins_http_http_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_http_http_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_http_http_la_LIBADD = $(PLUGIN_LIBADD) $(LLHTTP_LIB) $(SSL_LIBS)
