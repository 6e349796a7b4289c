# plugins/ - every in-tree plugin, each toggled by --enable/--disable-NAME
# in configure.ac and described by its own plugins/NAME/local.mk.
PLUGIN_LIBADD = core/libfaultcore.la $(UV_LIBS)
PLUGIN_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS)
PLUGIN_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

# plugins/lib: convenience code linked into the plugins that need it
# (never into the core): libcurl multi on the libuv loop.
if HAVE_CURL
noinst_LTLIBRARIES += plugins/lib/libcurluv.la
endif
plugins_lib_libcurluv_la_SOURCES = plugins/lib/curluv.c plugins/lib/curluv.h
plugins_lib_libcurluv_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(CURL_CFLAGS)
plugins_lib_libcurluv_la_CFLAGS = $(PLUGIN_CFLAGS) -fPIC
CURLUV_LIB = plugins/lib/libcurluv.la $(CURL_LIBS)

# Writing whole files without following links (keys, results, reports).
noinst_LTLIBRARIES += plugins/lib/libsafefile.la
plugins_lib_libsafefile_la_SOURCES = plugins/lib/safefile.c plugins/lib/safefile.h
plugins_lib_libsafefile_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_lib_libsafefile_la_CFLAGS = $(PLUGIN_CFLAGS) -fPIC
SAFEFILE_LIB = plugins/lib/libsafefile.la

include $(srcdir)/plugins/tcp/local.mk
include $(srcdir)/plugins/latency/local.mk
include $(srcdir)/plugins/jitter/local.mk
include $(srcdir)/plugins/bandwidth/local.mk
include $(srcdir)/plugins/blackhole/local.mk
include $(srcdir)/plugins/packet-loss/local.mk
include $(srcdir)/plugins/dns/local.mk
include $(srcdir)/plugins/dns-proxy/local.mk
include $(srcdir)/plugins/reset-peer/local.mk
include $(srcdir)/plugins/slow-close/local.mk
include $(srcdir)/plugins/limit-data/local.mk
include $(srcdir)/plugins/slicer/local.mk
include $(srcdir)/plugins/http/local.mk
include $(srcdir)/plugins/postgres/local.mk
include $(srcdir)/plugins/http-response/local.mk
include $(srcdir)/plugins/llm/local.mk
include $(srcdir)/plugins/demo/local.mk
include $(srcdir)/plugins/scenario/local.mk
include $(srcdir)/plugins/grpc-bridge/local.mk
include $(srcdir)/plugins/stealth/local.mk
include $(srcdir)/plugins/otel/local.mk

if LLHTTP_BUNDLED
noinst_LTLIBRARIES += plugins/llhttp/libllhttp.la
plugins_llhttp_libllhttp_la_SOURCES = plugins/llhttp/llhttp_api.c \
	plugins/llhttp/llhttp_http.c plugins/llhttp/llhttp_core.c
plugins_llhttp_libllhttp_la_CPPFLAGS = -I$(LLHTTP_SRCDIR) $(LLHTTP_CPPFLAGS)
plugins_llhttp_libllhttp_la_CFLAGS = -fPIC -w
LLHTTP_LIB = plugins/llhttp/libllhttp.la
else
LLHTTP_LIB = $(LLHTTP_LIBS)
endif
EXTRA_DIST += plugins/llhttp/llhttp_api.c plugins/llhttp/llhttp_http.c plugins/llhttp/llhttp_core.c
