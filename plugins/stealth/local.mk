# plugins/stealth/ - stealth mode (`fault run --stealth`): the eBPF
# programs of ebpf/ capture chosen processes' TCP connections; this plugin
# loads them (libbpf skeleton), owns the listener they lead to, and relays
# each connection to its original destination through the stream faults.
if PLUGIN_STEALTH
plugin_LTLIBRARIES += plugins/stealth/stealth.la
endif
plugins_stealth_stealth_la_SOURCES = plugins/stealth/stealth.c plugins/stealth/bpf.c \
	plugins/stealth/parse.c plugins/stealth/stealth.h
nodist_plugins_stealth_stealth_la_SOURCES = ebpf/stealth.skel.h
plugins_stealth_stealth_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(BPF_CFLAGS) -I$(top_builddir)/ebpf \
	-I$(top_srcdir)/ebpf
plugins_stealth_stealth_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_stealth_stealth_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_stealth_stealth_la_LIBADD = $(PLUGIN_LIBADD) $(BPF_LIBS)

STEALTH_TESTS = plugins/stealth/tests/capture.sh plugins/stealth/tests/errors.sh \
	plugins/stealth/tests/psql.sh
if PLUGIN_STEALTH
TESTS += $(STEALTH_TESTS)
endif
# The fuzz target is built by tests/fuzz/run.sh (stealth), not by make.
EXTRA_DIST += $(STEALTH_TESTS) plugins/stealth/tests/common.sh plugins/stealth/fuzz_stealth.c \
	tests/fuzz/corpus/stealth/peer4 tests/fuzz/corpus/stealth/peer6 \
	tests/fuzz/corpus/stealth/mountinfo tests/fuzz/corpus/stealth/mountinfo-escaped
