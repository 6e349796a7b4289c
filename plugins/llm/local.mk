# plugins/llm/ - LLM faults on HTTP traffic (HTTP hooks and watched
# bodies): provider-shaped errors, slow streams, token drops, bias,
# truncation and prompt scrambling, for OpenAI, Anthropic, Gemini and
# Ollama wire formats, streamed (SSE, NDJSON) or not.
if PLUGIN_LLM
plugin_LTLIBRARIES += plugins/llm/llm.la plugins/llm/llm-mode.la
endif
plugins_llm_llm_mode_la_SOURCES = plugins/llm/llm-mode.c
plugins_llm_llm_mode_la_CPPFLAGS = $(PLUGIN_CPPFLAGS)
plugins_llm_llm_mode_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_llm_llm_mode_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_llm_llm_mode_la_LIBADD = $(PLUGIN_LIBADD)
plugins_llm_llm_la_SOURCES = plugins/llm/llm.c plugins/llm/llm.h plugins/llm/body.c \
	plugins/llm/frames.c plugins/llm/frames.h \
	plugins/llm/provider.c plugins/llm/provider.h plugins/llm/text.c plugins/llm/text.h
plugins_llm_llm_la_CPPFLAGS = $(PLUGIN_CPPFLAGS) $(CJSON_CFLAGS) $(PCRE2_CFLAGS)
plugins_llm_llm_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_llm_llm_la_LDFLAGS = $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_llm_llm_la_LIBADD = $(PLUGIN_LIBADD) $(CJSON_LIBS) $(PCRE2_LIBS) -lm

# The frame parser, text changes and provider formats on their own (no
# proxy): frames across every chunk split, bounds, partial matches.
if PLUGIN_LLM
check_PROGRAMS += plugins/llm/tests/test_llm
endif
plugins_llm_tests_test_llm_SOURCES = plugins/llm/tests/test_llm.c plugins/llm/frames.c \
	plugins/llm/provider.c plugins/llm/text.c
plugins_llm_tests_test_llm_CPPFLAGS = $(AM_CPPFLAGS) $(UV_CFLAGS) $(CJSON_CFLAGS) $(PCRE2_CFLAGS) \
	-I$(srcdir)/plugins/llm -I$(srcdir)/tests/unit
plugins_llm_tests_test_llm_LDADD = core/libfaultcore-impl.la $(CJSON_LIBS) $(PCRE2_LIBS) -lm

LLM_TESTS = plugins/llm/tests/test_llm plugins/llm/tests/curl.sh plugins/llm/tests/clients.sh \
	plugins/llm/tests/mode.sh plugins/llm/tests/stream.sh plugins/llm/tests/scenario.sh \
	plugins/llm/tests/grpc.sh plugins/llm/tests/bounded.sh
if PLUGIN_LLM
TESTS += $(LLM_TESTS)
endif
EXTRA_DIST += plugins/llm/tests/curl.sh plugins/llm/tests/clients.sh plugins/llm/tests/double.py \
	plugins/llm/tests/stream.sh plugins/llm/tests/scenario.sh plugins/llm/tests/grpc.sh \
	plugins/llm/tests/bounded.sh \
	plugins/llm/tests/lib.sh plugins/llm/tests/clients.mjs plugins/llm/tests/package.json \
	plugins/llm/tests/package-lock.json plugins/llm/tests/wire.py plugins/llm/fuzz_frames.c \
	plugins/llm/bench.sh plugins/llm/README.md
