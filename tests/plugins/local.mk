# tests/plugins/ - plugins that exist to test the loader, and the tests of
# the loader and of the SDK as installed.
check_LTLIBRARIES += tests/plugins/badabi.la tests/plugins/oldminor.la tests/plugins/newminor.la \
	tests/plugins/runmode.la
tests_plugins_badabi_la_SOURCES = tests/plugins/badabi.c
tests_plugins_badabi_la_LDFLAGS = $(PLUGIN_LDFLAGS) -rpath /nowhere
tests_plugins_badabi_la_LIBADD = core/libfaultcore.la
tests_plugins_oldminor_la_SOURCES = tests/plugins/oldminor.c
tests_plugins_oldminor_la_LDFLAGS = $(PLUGIN_LDFLAGS) -rpath /nowhere
tests_plugins_oldminor_la_LIBADD = core/libfaultcore.la
tests_plugins_runmode_la_SOURCES = tests/plugins/runmode.c
tests_plugins_runmode_la_LDFLAGS = $(PLUGIN_LDFLAGS) -rpath /nowhere
tests_plugins_runmode_la_LIBADD = core/libfaultcore.la
tests_plugins_newminor_la_SOURCES = tests/plugins/newminor.c
tests_plugins_newminor_la_LDFLAGS = $(PLUGIN_LDFLAGS) -rpath /nowhere
tests_plugins_newminor_la_LIBADD = core/libfaultcore.la

TESTS += tests/plugins/loader.sh tests/plugins/oldminor.sh tests/plugins/runmode.sh tests/plugins/out_of_tree.sh
EXTRA_DIST += tests/plugins/loader.sh tests/plugins/oldminor.sh tests/plugins/runmode.sh tests/plugins/out_of_tree.sh
