# sdk/ - the installed plugin SDK: headers, pkg-config file, example.
faultincludedir = $(includedir)/fault
faultinclude_HEADERS = \
	sdk/fault/chain.h sdk/fault/common.h sdk/fault/event.h sdk/fault/http.h sdk/fault/http_handler.h sdk/fault/log.h \
	sdk/fault/net.h sdk/fault/option.h sdk/fault/parse.h sdk/fault/plugin.h sdk/fault/rng.h sdk/fault/secret.h \
	sdk/fault/stream.h sdk/fault/timer.h
pkgconfig_DATA = sdk/fault-plugin.pc
EXTRA_DIST += sdk/fault-plugin.pc.in sdk/examples/Makefile sdk/examples/upcase.c \
	sdk/examples/redact.c sdk/examples/hold.c sdk/examples/banner.c sdk/examples/rev.c sdk/examples/README.md
examplesdir = $(pkgdatadir)/examples/plugin
examples_DATA = sdk/examples/Makefile sdk/examples/upcase.c sdk/examples/redact.c \
	sdk/examples/hold.c sdk/examples/banner.c sdk/examples/rev.c sdk/examples/README.md
