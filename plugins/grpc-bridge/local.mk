# plugins/grpc-bridge/ - the grpc-bridge plugin: remote plugins over gRPC,
# speaking proto/plugin.proto. The protocol's C code is generated with
# protoc-c at build time into the build tree (never distributed, so it
# always matches the installed libprotobuf-c).
EXTRA_DIST += proto/plugin.proto

GRPC_BRIDGE_GEN = plugins/grpc-bridge/plugin.pb-c.c plugins/grpc-bridge/plugin.pb-c.h

if PLUGIN_GRPC_BRIDGE
plugin_LTLIBRARIES += plugins/grpc-bridge/grpc-bridge.la
noinst_LTLIBRARIES += plugins/grpc-bridge/libpluginproto.la
endif

# The generated code is a library of its own: its warnings are protoc-c's
# to fix, so it is built without the project's -Werror set.
nodist_plugins_grpc_bridge_libpluginproto_la_SOURCES = $(GRPC_BRIDGE_GEN)
plugins_grpc_bridge_libpluginproto_la_CPPFLAGS = $(PROTOBUFC_CFLAGS)
plugins_grpc_bridge_libpluginproto_la_CFLAGS = -fvisibility=hidden $(SAN_CFLAGS)

plugins_grpc_bridge_grpc_bridge_la_SOURCES = plugins/grpc-bridge/grpc-bridge.c plugins/grpc-bridge/rpc.c \
	plugins/grpc-bridge/remote.c plugins/grpc-bridge/tunnel.c plugins/grpc-bridge/http.c \
	plugins/grpc-bridge/bridge.h plugins/grpc-bridge/url.c plugins/grpc-bridge/url.h
# The URL reader's libFuzzer target (tests/fuzz/run.sh url); not built here.
EXTRA_DIST += plugins/grpc-bridge/fuzz_url.c plugins/grpc-bridge/fuzz-corpus/http \
	plugins/grpc-bridge/fuzz-corpus/unix plugins/grpc-bridge/fuzz-corpus/v6
plugins_grpc_bridge_grpc_bridge_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) -I$(top_builddir)/plugins/grpc-bridge \
	$(GRPC_CFLAGS) $(PROTOBUFC_CFLAGS)
plugins_grpc_bridge_grpc_bridge_la_CFLAGS = $(PLUGIN_CFLAGS)
# nodelete: libgrpc keeps threads of its own after grpc_shutdown(); the
# module (and the libgrpc it pulled in) must stay mapped until exit.
plugins_grpc_bridge_grpc_bridge_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS) -Wl,-z,nodelete
plugins_grpc_bridge_grpc_bridge_la_LIBADD = plugins/grpc-bridge/libpluginproto.la \
	$(PLUGIN_LIBADD) $(GRPC_LIBS) $(PROTOBUFC_LIBS) -lpthread

# The bridge's files include the generated header: make it first (named through
# automake's object list, so that automake's own rule stays in charge).
$(am_plugins_grpc_bridge_grpc_bridge_la_OBJECTS): plugins/grpc-bridge/plugin.pb-c.h

# protoc-c writes both files at once; the header's rule only remakes them
# when it alone went missing (the automake manual's multiple-outputs idiom).
plugins/grpc-bridge/plugin.pb-c.c: $(srcdir)/proto/plugin.proto
	$(AM_V_GEN)$(MKDIR_P) plugins/grpc-bridge && \
	$(PROTOC_C) --proto_path=$(srcdir)/proto --c_out=plugins/grpc-bridge $(srcdir)/proto/plugin.proto
plugins/grpc-bridge/plugin.pb-c.h: plugins/grpc-bridge/plugin.pb-c.c
	@test -f $@ || { rm -f plugins/grpc-bridge/plugin.pb-c.c; \
		$(MAKE) $(AM_MAKEFLAGS) plugins/grpc-bridge/plugin.pb-c.c; }

CLEANFILES += $(GRPC_BRIDGE_GEN)

# Tests against real Python plugins (python3-grpcio, python3-grpc-tools);
# each generates its Python stubs from proto/plugin.proto at run time.
GRPC_BRIDGE_TESTS = \
	plugins/grpc-bridge/tests/info.sh \
	plugins/grpc-bridge/tests/tunnel.sh \
	plugins/grpc-bridge/tests/restart.sh \
	plugins/grpc-bridge/tests/hung.sh \
	plugins/grpc-bridge/tests/http.sh \
	plugins/grpc-bridge/tests/body.sh
TESTS += $(GRPC_BRIDGE_TESTS)
EXTRA_DIST += $(GRPC_BRIDGE_TESTS) plugins/grpc-bridge/tests/common.sh \
	plugins/grpc-bridge/tests/rplugin.py plugins/grpc-bridge/tests/echo_server.py \
	plugins/grpc-bridge/bench.sh
