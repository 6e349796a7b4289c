# plugins/reset-peer/ - the reset-peer plugin.
if PLUGIN_RESET_PEER
plugin_LTLIBRARIES += plugins/reset-peer/reset-peer.la
endif
plugins_reset_peer_reset_peer_la_SOURCES = plugins/reset-peer/reset-peer.c
plugins_reset_peer_reset_peer_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_reset_peer_reset_peer_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_reset_peer_reset_peer_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_reset_peer_reset_peer_la_LIBADD = $(PLUGIN_LIBADD)

TESTS += plugins/reset-peer/tests/reset_peer.sh
EXTRA_DIST += plugins/reset-peer/tests/reset_peer.sh plugins/reset-peer/tests/rp_client.py
