# plugins/scenario/ - the scenario plugin: `fault scenario run` (YAML
# scenario files through libyaml, calls with libcurl, a child `fault run`
# proxy per item, results and reports) and `fault scenario generate`
# (OpenAPI documents, JSON with cJSON or YAML).
#
# core/schedule.c, core/duration.c and core/mapping.c are built in as
# well, so that a period or a mapping the loader accepts is exactly one
# the proxy accepts; they use only the C library and stay hidden inside
# the plugin.
if PLUGIN_SCENARIO
plugin_LTLIBRARIES += plugins/scenario/scenario.la
endif
plugins_scenario_scenario_la_SOURCES = plugins/scenario/scenario.c plugins/scenario/scenario.h \
	plugins/scenario/runner.h plugins/scenario/util.c plugins/scenario/loader.c plugins/scenario/loader.h \
	plugins/scenario/load_node.c plugins/scenario/load_fault.c plugins/scenario/load_item.c \
	plugins/scenario/faults.c plugins/scenario/stats.c plugins/scenario/proxy.c \
	plugins/scenario/http.c plugins/scenario/events.c plugins/scenario/strategies.c \
	plugins/scenario/runner.c plugins/scenario/results.c plugins/scenario/yamlout.c \
	plugins/scenario/report_md.c plugins/scenario/report_junit.c \
	plugins/scenario/report_html.c plugins/scenario/openapi.c plugins/scenario/templates.c \
	plugins/scenario/generate.c
plugins_scenario_scenario_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(YAML_CFLAGS) \
	$(CURL_CFLAGS) -I$(srcdir)/plugins/lib $(CJSON_CFLAGS)
plugins_scenario_scenario_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_scenario_scenario_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_scenario_scenario_la_LIBADD = $(PLUGIN_LIBADD) $(YAML_LIBS) $(CURLUV_LIB) $(CJSON_LIBS) \
	$(SAFEFILE_LIB) -lm

# End-to-end tests against nginx and tests/app.py (an application with
# its own downstream call); each starts its own peers on free loopback ports.
SCENARIO_TESTS = plugins/scenario/tests/run_basic.sh plugins/scenario/tests/run_downstream.sh \
	plugins/scenario/tests/run_load.sh plugins/scenario/tests/run_tcp.sh \
	plugins/scenario/tests/run_pulses.sh plugins/scenario/tests/run_dns.sh \
	plugins/scenario/tests/run_pg.sh \
	plugins/scenario/tests/bad_input.sh plugins/scenario/tests/interrupt.sh \
	plugins/scenario/tests/generate_30.sh plugins/scenario/tests/generate_31.sh \
	plugins/scenario/tests/generate_run.sh plugins/scenario/tests/summary.sh \
	plugins/scenario/tests/env.sh \
	plugins/scenario/tests/limits.sh plugins/scenario/tests/secrets.sh
TESTS += $(SCENARIO_TESTS)
EXTRA_DIST += $(SCENARIO_TESTS) plugins/scenario/tests/common.sh plugins/scenario/tests/app.py \
	plugins/scenario/tests/openapi-30.json plugins/scenario/tests/openapi-31.yaml \
	plugins/scenario/tests/openapi-params.json \
	plugins/scenario/README.md

# libFuzzer targets for the loader and the OpenAPI reader: not part of
# `make check` (they need clang); run plugins/scenario/fuzz.sh.
EXTRA_DIST += plugins/scenario/fuzz.sh plugins/scenario/fuzz_scenario.c \
	plugins/scenario/fuzz_openapi.c plugins/scenario/fuzz-corpus/scenario/downstream.yaml \
	plugins/scenario/fuzz-corpus/scenario/kitchen-sink.yaml \
	plugins/scenario/fuzz-corpus/scenario/dns-postgres.yaml \
	plugins/scenario/fuzz-corpus/scenario/llm.yaml \
	plugins/scenario/fuzz-corpus/scenario/repeat-and-load.yaml \
	plugins/scenario/fuzz-corpus/scenario/deep-body.yaml \
	plugins/scenario/fuzz-corpus/scenario/deep-seq.yaml \
	plugins/scenario/fuzz-corpus/openapi/cycles.yaml \
	plugins/scenario/fuzz-corpus/openapi/properties-list.yaml
