# plugins/dns/ - the dns plugin.
if PLUGIN_DNS
plugin_LTLIBRARIES += plugins/dns/dns.la
endif
plugins_dns_dns_la_SOURCES = plugins/dns/dns.c
plugins_dns_dns_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_dns_dns_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_dns_dns_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_dns_dns_la_LIBADD = $(PLUGIN_LIBADD)

TESTS += plugins/dns/tests/dns.sh plugins/dns/tests/dns_sched.sh
EXTRA_DIST += plugins/dns/tests/dns.sh plugins/dns/tests/dns_sched.sh \
	plugins/dns/tests/dns_client.py
