# plugins/grpc-bridge/ - the grpc-bridge plugin.
if PLUGIN_GRPC_BRIDGE
plugin_LTLIBRARIES += plugins/grpc-bridge/grpc-bridge.la
endif
plugins_grpc_bridge_grpc_bridge_la_SOURCES = plugins/grpc-bridge/grpc-bridge.c
plugins_grpc_bridge_grpc_bridge_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(GRPC_CFLAGS) $(PROTOBUFC_CFLAGS)
plugins_grpc_bridge_grpc_bridge_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_grpc_bridge_grpc_bridge_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_grpc_bridge_grpc_bridge_la_LIBADD = $(PLUGIN_LIBADD) $(GRPC_LIBS) $(PROTOBUFC_LIBS)
