# tests/fuzz/ - libFuzzer targets for the command-line parsers. They are not
# part of `make check` (they need clang and run for as long as they are
# given); run tests/fuzz/run.sh by hand or from CI. Shipped so the tarball
# can be fuzzed too.
EXTRA_DIST += tests/fuzz/run.sh \
	tests/fuzz/fuzz_duration.c tests/fuzz/fuzz_schedule.c tests/fuzz/fuzz_mapping.c \
	tests/fuzz/fuzz_options.c tests/fuzz/fuzz_secret.c tests/fuzz/fuzz_text.h $(FUZZ_CORPUS_EXTRA) \
	tests/fuzz/corpus/duration/compound tests/fuzz/corpus/duration/fraction \
	tests/fuzz/corpus/duration/max tests/fuzz/corpus/duration/seconds \
	tests/fuzz/corpus/duration/spaced tests/fuzz/corpus/duration/weeks \
	tests/fuzz/corpus/duration/words tests/fuzz/corpus/duration/words-long \
	tests/fuzz/corpus/duration/micro-sign \
	tests/fuzz/corpus/schedule/decimal tests/fuzz/corpus/schedule/fixed \
	tests/fuzz/corpus/schedule/lone-duration tests/fuzz/corpus/schedule/many \
	tests/fuzz/corpus/schedule/mixed tests/fuzz/corpus/schedule/relative \
	tests/fuzz/corpus/schedule/words \
	tests/fuzz/corpus/mapping/https tests/fuzz/corpus/mapping/ipv4-listen \
	tests/fuzz/corpus/mapping/ipv6 tests/fuzz/corpus/mapping/psql \
	tests/fuzz/corpus/mapping/tls tests/fuzz/corpus/mapping/zone
FUZZ_CORPUS_EXTRA = tests/fuzz/corpus/options/bool tests/fuzz/corpus/options/int \
	tests/fuzz/corpus/options/double tests/fuzz/corpus/options/enum \
	tests/fuzz/corpus/options/duration tests/fuzz/corpus/options/schedule \
	tests/fuzz/corpus/options/probability tests/fuzz/corpus/options/direction \
	tests/fuzz/corpus/http/absolute tests/fuzz/corpus/http/connect \
	tests/fuzz/corpus/h2/bomb tests/fuzz/corpus/h2/connect tests/fuzz/corpus/h2/get \
	tests/fuzz/corpus/h2/get-forward-split tests/fuzz/corpus/h2/large-headers \
	tests/fuzz/corpus/h2/many-streams tests/fuzz/corpus/h2/no-path \
	tests/fuzz/corpus/h2/post-body tests/fuzz/corpus/h2/priority-settings \
	tests/fuzz/corpus/h2/rst-and-goaway tests/fuzz/corpus/h2/trailers \
	tests/fuzz/corpus/llm/sse tests/fuzz/corpus/llm/ndjson tests/fuzz/corpus/llm/json \
	tests/fuzz/corpus/llm/gemini-array \
	tests/fuzz/corpus/secret/query tests/fuzz/corpus/secret/userinfo tests/fuzz/corpus/secret/stars
