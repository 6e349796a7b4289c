# tests/plugins/ - plugins that exist to test the loader.
check_LTLIBRARIES += tests/plugins/badabi.la
tests_plugins_badabi_la_SOURCES = tests/plugins/badabi.c
tests_plugins_badabi_la_LDFLAGS = $(PLUGIN_LDFLAGS) -rpath /nowhere
tests_plugins_badabi_la_LIBADD = core/libfaultcore.la

TESTS += tests/plugins/loader.sh tests/plugins/out_of_tree.sh
EXTRA_DIST += tests/plugins/loader.sh tests/plugins/out_of_tree.sh
