#!/bin/sh
# tests/fuzz/run.sh - builds every libFuzzer target of the tree straight
# from its sources (no configure needed) and runs each one, one after the
# other, on a scratch copy of its seeds, so the checked-in corpora only
# change when someone means it. Each run ends with one summary line:
#
#   == fuzz_NAME: EXECS executions in SECS s (RATE exec/s), no findings
#
# Targets (the parser each one drives):
#   duration schedule mapping options   core/ command-line parsers
#   secret    --mask patterns against names from traffic, URLs masked
#             (core/secret.c)
#   http      HTTP/1 requests and responses (llhttp glue, plugins/http/h1.c)
#   h2        HTTP/2 frames and HPACK through the proxy's server side (h2.c)
#   pgwire    PostgreSQL wire messages (plugins/postgres/pgwire.c)
#   llm       LLM streaming frames: SSE, NDJSON, JSON (plugins/llm/frames.c)
#   dnsmsg    DNS messages (plugins/dns-proxy/msg.c)
#   url       remote plugin URLs, --grpc-plugin (plugins/grpc-bridge/url.c)
#   stealth   peer addresses and mountinfo lines (plugins/stealth/parse.c)
#   otel      OTEL_* key=value lists, milliseconds, endpoints (plugins/otel/otelcfg.c)
#   scenario  scenario YAML, deep nesting included (plugins/scenario/loader.c)
#   openapi   OpenAPI documents and the generator (plugins/scenario/openapi.c)
#
# Usage: tests/fuzz/run.sh [TARGET ...]   (default: all of them)
# Environment: CC (default clang); FUZZ_SECONDS (time per target, default
# 30) or FUZZ_RUNS (executions per target; when set, a run stops after that
# many, or after FUZZ_SECONDS if that is also set); FUZZ_WORKDIR (build and
# scratch directory, default a fresh temporary one); FUZZ_FLAGS (extra
# libFuzzer flags); FUZZ_SUMMARY (a file that gets the summary lines too).
# Exits 1 when a target finds a crash, leak, timeout or undefined
# behaviour (the reproducer is left in the work directory), 2 when a
# target does not build.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cc=${CC:-clang}
work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/fault-fuzz.XXXXXX")}
mkdir -p "$work" || exit 2
# Core files include config.h; the parsers need nothing from it.
printf '#define PACKAGE_VERSION "fuzz"\n' >"$work/config.h"

# Undefined behaviour must stop the run like a crash does, or it would
# only be printed and the target would count as passing.
cflags="-g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
cflags="$cflags -fno-omit-frame-pointer -I $work -I $here -I $top/sdk -I $top/core $(pkg-config --cflags libuv 2>/dev/null)"
# The HTTP glue compiles llhttp from Debian's node-llhttp sources.
LLHTTP_SRC=${LLHTTP_SRC:-/usr/share/llhttp}
cflags="$cflags -I ${LLHTTP_INC:-/usr/share/include/llhttp} -I $top/plugins/llm"
LLHTTP="$LLHTTP_SRC/api.c $LLHTTP_SRC/http.c $LLHTTP_SRC/llhttp.c"
SC=$top/plugins/scenario
SC_COMMON="$SC/loader.c $SC/load_node.c $SC/load_fault.c $SC/load_item.c $SC/util.c $top/plugins/lib/safefile.c $SC/faults.c $SC/yamlout.c \
$top/core/schedule.c $top/core/duration.c $top/core/mapping.c $top/core/parse_api.c $top/core/secret.c"

# The sources each target needs besides its own file.
sources_for() {
    case $1 in
    duration) echo "$top/core/duration.c" ;;
    schedule) echo "$top/core/schedule.c $top/core/duration.c" ;;
    mapping) echo "$top/core/mapping.c" ;;
    options) echo "$top/core/options.c $top/core/schedule.c $top/core/duration.c" ;;
    secret) echo "$top/core/secret.c" ;;
    http) echo "$top/plugins/http/h1.c $LLHTTP" ;;
    h2) echo "$top/plugins/http/h2.c $top/plugins/http/h2_exchange.c $top/plugins/http/h2_h1up.c $top/plugins/http/h1up.c $top/plugins/http/h2up.c $top/plugins/http/tunnel.c $top/plugins/http/due.c $top/plugins/http/h1.c $LLHTTP" ;;
    pgwire) echo "$top/plugins/postgres/pgwire.c" ;;
    llm) echo "$top/plugins/llm/frames.c" ;;
    dnsmsg) echo "$top/plugins/dns-proxy/msg.c" ;;
    url) echo "$top/plugins/grpc-bridge/url.c" ;;
    stealth) echo "$top/plugins/stealth/parse.c" ;;
    otel) echo "$top/plugins/otel/otelcfg.c" ;;
    scenario) echo "$SC_COMMON" ;;
    openapi) echo "$SC_COMMON $SC/openapi.c $SC/templates.c" ;;
    *) return 1 ;;
    esac
}

# Where each target's own source is.
target_source() {
    case $1 in
    http) echo "$top/plugins/http/fuzz_http.c" ;;
    h2) echo "$top/plugins/http/fuzz_h2.c" ;;
    pgwire) echo "$top/plugins/postgres/fuzz_pgwire.c" ;;
    llm) echo "$top/plugins/llm/fuzz_frames.c" ;;
    dnsmsg) echo "$top/plugins/dns-proxy/fuzz_dnsmsg.c" ;;
    url) echo "$top/plugins/grpc-bridge/fuzz_url.c" ;;
    stealth) echo "$top/plugins/stealth/fuzz_stealth.c" ;;
    otel) echo "$top/plugins/otel/fuzz_otel.c" ;;
    scenario | openapi) echo "$SC/fuzz_$1.c" ;;
    *) echo "$here/fuzz_$1.c" ;;
    esac
}

# Extra compiler flags and libraries per target.
flags_for() {
    case $1 in
    url) echo "-I $top/plugins/grpc-bridge" ;;
    stealth) echo "-I $top/plugins/stealth" ;;
    otel) echo "-I $top/plugins/otel" ;;
    scenario | openapi)
        echo "-D_GNU_SOURCE -I $SC -I $top/plugins/lib $(pkg-config --cflags yaml-0.1 libcjson 2>/dev/null)" ;;
    esac
}
libs_for() {
    case $1 in
    h2) pkg-config --libs libnghttp2 libuv 2>/dev/null || echo -lnghttp2 -luv ;;
    scenario | openapi) pkg-config --libs yaml-0.1 libcjson 2>/dev/null || echo -lyaml -lcjson ;;
    esac
}

# Seeds: a checked-in corpus, plus test fixtures of that kind.
seeds_for() {
    case $1 in
    dnsmsg) echo "$top/plugins/dns-proxy/corpus/"* ;;
    url) echo "$top/plugins/grpc-bridge/fuzz-corpus/"* ;;
    otel) echo "$top/plugins/otel/fuzz-corpus/"* ;;
    scenario) echo "$SC/fuzz-corpus/scenario/"* "$SC/tests/"*.yaml ;;
    openapi) echo "$SC/fuzz-corpus/openapi/"* "$SC/tests/openapi-"* ;;
    *) [ -d "$here/corpus/$1" ] && echo "$here/corpus/$1/"* ;;
    esac
}

# The largest input: HTTP/2 seeds hold header blocks of up to 64 KiB; YAML
# needs room for deep nesting.
max_len_for() {
    case $1 in
    h2) echo 70000 ;;
    scenario | openapi) echo 16384 ;;
    *) echo 4096 ;;
    esac
}

summary() {
    echo "$1"
    if [ -n "${FUZZ_SUMMARY:-}" ]; then echo "$1" >>"$FUZZ_SUMMARY"; fi
}

targets=${*:-duration schedule mapping options secret http h2 pgwire llm dnsmsg url stealth otel scenario openapi}
limit=""
if [ -n "${FUZZ_RUNS:-}" ]; then
    limit="-runs=$FUZZ_RUNS"
    if [ -n "${FUZZ_SECONDS:-}" ]; then limit="$limit -max_total_time=$FUZZ_SECONDS"; fi
else
    limit="-max_total_time=${FUZZ_SECONDS:-30}"
fi
status=0
for t in $targets; do
    srcs=$(sources_for "$t") || { echo "run.sh: unknown target '$t'" >&2; exit 2; }
    bin="$work/fuzz_$t"
    echo "== building fuzz_$t"
    # shellcheck disable=SC2086,SC2046 # flag and source lists are meant to split
    if ! $cc $cflags $(flags_for "$t") "$(target_source "$t")" $srcs $(libs_for "$t") -lm -o "$bin"; then
        echo "run.sh: building fuzz_$t failed" >&2
        exit 2
    fi

    corpus="$work/corpus-$t"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    for s in $(seeds_for "$t"); do
        if [ -f "$s" ]; then cp "$s" "$corpus/"; fi
    done

    echo "== running fuzz_$t ($limit)"
    log="$work/$t.log"
    start=$(date +%s.%N)
    rc=0
    # shellcheck disable=SC2086
    (cd "$work" && "$bin" $limit -max_len="$(max_len_for "$t")" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/$t-" ${FUZZ_FLAGS:-} "$corpus") >"$log" 2>&1 || rc=$?
    end=$(date +%s.%N)
    tail -n 12 "$log"
    # libFuzzer's final statistics: the executions.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    execs=${execs:-0}
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
    # The rate over the wall time of the run (libFuzzer's own average is
    # whole seconds only, 0 for a run under one second).
    rate=$(awk -v n="$execs" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", (b > a) ? n / (b - a) : 0 }')
    if [ "$rc" = 0 ]; then
        summary "== fuzz_$t: $execs executions in $secs s (${rate:-0} exec/s), no findings"
    else
        summary "== fuzz_$t: $execs executions in $secs s (${rate:-0} exec/s), FINDING (status $rc), see $work/$t-* and $log"
        status=1
    fi
done

echo "work directory: $work"
exit $status
