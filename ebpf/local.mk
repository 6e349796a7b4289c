# ebpf/ - the kernel side of stealth mode. stealth.bpf.c is compiled by
# clang for the bpf target, then `bpftool gen skeleton` turns the object
# into stealth.skel.h, a header that embeds it: the stealth plugin loads
# the programs from there through libbpf, so nothing is installed beside
# the plugin.
STEALTH_BPF_SRC = ebpf/stealth.bpf.c ebpf/stealth_maps.h
EXTRA_DIST += $(STEALTH_BPF_SRC) ebpf/README.md

if BUILD_EBPF
ebpf/stealth.bpf.o: $(STEALTH_BPF_SRC)
	@$(MKDIR_P) ebpf
	$(AM_V_GEN)$(BPF_CLANG) -target bpf -g -O2 $(BPF_WARN) $(BPF_CPPFLAGS) \
		-I$(srcdir)/ebpf -c $(srcdir)/ebpf/stealth.bpf.c -o $@

ebpf/stealth.skel.h: ebpf/stealth.bpf.o
	$(AM_V_GEN)$(BPFTOOL) gen skeleton ebpf/stealth.bpf.o name stealth_bpf >$@.tmp && mv $@.tmp $@

BUILT_SOURCES = ebpf/stealth.skel.h
CLEANFILES += ebpf/stealth.bpf.o ebpf/stealth.skel.h ebpf/stealth.skel.h.tmp
endif
