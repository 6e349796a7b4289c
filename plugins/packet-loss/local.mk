# plugins/packet-loss/ - the packet-loss plugin.
if PLUGIN_PACKET_LOSS
plugin_LTLIBRARIES += plugins/packet-loss/packet-loss.la
endif
plugins_packet_loss_packet_loss_la_SOURCES = plugins/packet-loss/packet-loss.c
plugins_packet_loss_packet_loss_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_packet_loss_packet_loss_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_packet_loss_packet_loss_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_packet_loss_packet_loss_la_LIBADD = $(PLUGIN_LIBADD)

TESTS += plugins/packet-loss/tests/stalls.sh
EXTRA_DIST += plugins/packet-loss/tests/stalls.sh
