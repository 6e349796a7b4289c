# tests/ - unit tests, plugin tests and end-to-end tests through automake's
# parallel harness. Shell tests get the build tree through tests/env.sh.
AM_TESTS_ENVIRONMENT = top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)'; \
	export top_builddir top_srcdir;
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)

include $(srcdir)/tests/unit/local.mk
include $(srcdir)/tests/fuzz/local.mk
include $(srcdir)/tests/e2e/local.mk
include $(srcdir)/tests/plugins/local.mk

TESTS += tests/docs/flags.sh tests/style/format.sh
EXTRA_DIST += tests/docs/flags.sh tests/style/format.sh

# Benchmarks are run by hand (tests/bench/README.md), never by make check.
EXTRA_DIST += tests/bench/README.md tests/bench/lib.sh tests/bench/proxy-bench.sh \
	tests/bench/idle-conns.sh tests/bench/idle_conns.py tests/bench/startup.sh \
	tests/bench/startup_time.py tests/bench/chain-bench.sh tests/bench/soak.sh tests/bench/soak.py \
	tests/bench/stealth-bench.sh tests/bench/bulk-ceiling.sh tests/bench/minrelay.c \
	tests/bench/fuzz-all.sh

# make fuzz: every libFuzzer target (tests/fuzz/run.sh lists them) for
# FUZZ_SECONDS seconds each (30 by default), or FUZZ_RUNS executions; each
# ends with a line giving its executions and exec/s. Needs clang. Not part
# of make check. tests/bench/fuzz-all.sh is the 10-million-run benchmark.
fuzz:
	$(SHELL) $(srcdir)/tests/fuzz/run.sh
.PHONY: fuzz
