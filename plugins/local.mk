# plugins/ - every in-tree plugin, each toggled by --enable/--disable-NAME.
PLUGIN_LIBADD = core/libfaultcore.la $(UV_LIBS)
PLUGIN_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS)
PLUGIN_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

if PLUGIN_TCP
plugin_LTLIBRARIES += plugins/tcp/tcp.la
endif
plugins_tcp_tcp_la_SOURCES = plugins/tcp/tcp.c
plugins_tcp_tcp_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_tcp_tcp_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_tcp_tcp_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_tcp_tcp_la_LIBADD = $(PLUGIN_LIBADD)

if PLUGIN_LATENCY
plugin_LTLIBRARIES += plugins/latency/latency.la
endif
plugins_latency_latency_la_SOURCES = plugins/latency/latency.c
plugins_latency_latency_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_latency_latency_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_latency_latency_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_latency_latency_la_LIBADD = $(PLUGIN_LIBADD)

if LLHTTP_BUNDLED
noinst_LTLIBRARIES += plugins/llhttp/libllhttp.la
plugins_llhttp_libllhttp_la_SOURCES = plugins/llhttp/llhttp_api.c \
	plugins/llhttp/llhttp_http.c plugins/llhttp/llhttp_core.c
plugins_llhttp_libllhttp_la_CPPFLAGS = -I$(LLHTTP_SRCDIR) $(LLHTTP_CPPFLAGS)
plugins_llhttp_libllhttp_la_CFLAGS = -fPIC -w
endif
EXTRA_DIST += plugins/llhttp/llhttp_api.c plugins/llhttp/llhttp_http.c plugins/llhttp/llhttp_core.c
