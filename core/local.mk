# core/ - libfaultcore (the host services) and the thin `fault` executable.
#
# Everything is compiled once into a convenience library; the shared
# libfaultcore.la exports only FAULT_API symbols (-fvisibility=hidden), while
# unit tests link the convenience library to reach internal fault__ code.
noinst_LTLIBRARIES += core/libfaultcore-impl.la
core_libfaultcore_impl_la_SOURCES = \
	core/internal.h core/parse.h \
	core/util.c core/log.c core/event.c core/rng.c \
	core/duration.c core/schedule.c core/mapping.c core/parse_api.c \
	core/options.c core/loader.c core/conn.c core/listen.c core/connect.c core/tls.c core/secret.c core/timers.c core/splice.c core/chain.c core/stream.c core/relay.c \
	core/http_exchange.c core/runctl.c core/ui.c core/run.c core/cli.c core/globals.c core/doc.c core/evlog.c
core_libfaultcore_impl_la_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS) $(SSL_CFLAGS) \
	-DFAULT_PLUGINDIR='"$(plugindir)"' -DFAULT_BUILDING_CORE
core_libfaultcore_impl_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
core_libfaultcore_impl_la_LIBADD = $(UV_LIBS) $(SSL_LIBS)

lib_LTLIBRARIES += core/libfaultcore.la
core_libfaultcore_la_SOURCES =
core_libfaultcore_la_LIBADD = core/libfaultcore-impl.la
core_libfaultcore_la_LDFLAGS = $(AM_LDFLAGS) -no-undefined -version-info $(FAULTCORE_LT_VERSION)

bin_PROGRAMS += core/fault
core_fault_SOURCES = core/main.c
core_fault_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS)
core_fault_LDADD = core/libfaultcore.la
