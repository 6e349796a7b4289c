# plugins/tcp/ - the tcp plugin.
if PLUGIN_TCP
plugin_LTLIBRARIES += plugins/tcp/tcp.la
endif
plugins_tcp_tcp_la_SOURCES = plugins/tcp/tcp.c
plugins_tcp_tcp_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_tcp_tcp_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_tcp_tcp_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_tcp_tcp_la_LIBADD = $(PLUGIN_LIBADD)
