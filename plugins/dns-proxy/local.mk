# plugins/dns-proxy/ - `fault run dns`: a DNS proxy (UDP and TCP) that
# injects resolver failures. Uses libuv directly for UDP.
if PLUGIN_DNS_PROXY
plugin_LTLIBRARIES += plugins/dns-proxy/dns-proxy.la
endif
plugins_dns_proxy_dns_proxy_la_SOURCES = plugins/dns-proxy/dns-proxy.c plugins/dns-proxy/dnsproxy.h \
	plugins/dns-proxy/udp.c plugins/dns-proxy/tcp.c plugins/dns-proxy/msg.c plugins/dns-proxy/msg.h
plugins_dns_proxy_dns_proxy_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_dns_proxy_dns_proxy_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_dns_proxy_dns_proxy_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_dns_proxy_dns_proxy_la_LIBADD = $(PLUGIN_LIBADD)

DNS_PROXY_TESTS = plugins/dns-proxy/tests/cases.sh plugins/dns-proxy/tests/passthrough.sh \
	plugins/dns-proxy/tests/cli.sh
TESTS += $(DNS_PROXY_TESTS)
EXTRA_DIST += $(DNS_PROXY_TESTS) plugins/dns-proxy/tests/common.sh plugins/dns-proxy/README.md \
	plugins/dns-proxy/tests/dnsclient.py plugins/dns-proxy/bench.sh plugins/dns-proxy/fuzz.sh \
	plugins/dns-proxy/fuzz_dnsmsg.c plugins/dns-proxy/corpus/a-edns \
	plugins/dns-proxy/corpus/aaaa plugins/dns-proxy/corpus/answer-compressed \
	plugins/dns-proxy/corpus/srv-answer
