# plugins/scenario/ - the scenario plugin.
if PLUGIN_SCENARIO
plugin_LTLIBRARIES += plugins/scenario/scenario.la
endif
plugins_scenario_scenario_la_SOURCES = plugins/scenario/scenario.c
plugins_scenario_scenario_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(YAML_CFLAGS) $(CURL_CFLAGS) $(CJSON_CFLAGS)
plugins_scenario_scenario_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_scenario_scenario_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_scenario_scenario_la_LIBADD = $(PLUGIN_LIBADD) $(YAML_LIBS) $(CURL_LIBS) $(CJSON_LIBS)
