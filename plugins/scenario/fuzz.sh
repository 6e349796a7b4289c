#!/bin/sh
# plugins/scenario/fuzz.sh - builds the libFuzzer targets of the scenario
# plugin straight from its sources (no configure needed) and runs each one
# for $FUZZ_SECONDS seconds (default 30) on a scratch copy of its seeds:
#
#   scenario   the scenario loader (fuzz_scenario.c): YAML in, a suite or
#              one FILE:LINE:COLUMN message out
#   openapi    the OpenAPI reader and the generator (fuzz_openapi.c)
#
# Usage: plugins/scenario/fuzz.sh [scenario|openapi ...]
# Environment, as tests/fuzz/run.sh: CC (default clang), FUZZ_SECONDS,
# FUZZ_WORKDIR (build and scratch directory, default a fresh temporary
# one), FUZZ_FLAGS (extra libFuzzer flags). Needs libyaml, libcjson and
# their headers. Exits non-zero when a target finds a crash, leak or
# undefined behaviour; the reproducer is left in the work directory.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cc=${CC:-clang}
seconds=${FUZZ_SECONDS:-30}
work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/fault-scenario-fuzz.XXXXXX")}
mkdir -p "$work" || exit 2
# Core files (core/secret.c) include config.h; the loader needs nothing
# from it.
printf '#define PACKAGE_VERSION "fuzz"\n' >"$work/config.h"

# Undefined behaviour must stop the run like a crash does.
cflags="-g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
cflags="$cflags -fno-omit-frame-pointer -I $work -I $top/sdk -I $top/core -I $here -I $top/plugins/lib"
cflags="$cflags $(pkg-config --cflags yaml-0.1 libcjson 2>/dev/null)"
libs="$(pkg-config --libs yaml-0.1 libcjson 2>/dev/null || echo -lyaml -lcjson) -lm"

# What each target is built from besides its own source.
common="$here/loader.c $here/util.c $top/plugins/lib/safefile.c $here/faults.c $here/yamlout.c $top/core/schedule.c $top/core/duration.c $top/core/mapping.c $top/core/parse_api.c $top/core/secret.c"
sources_for() {
    case $1 in
    scenario) echo "$common" ;;
    openapi) echo "$common $here/openapi.c $here/templates.c" ;;
    *) return 1 ;;
    esac
}

# Seeds: the checked-in corpus plus the test fixtures of that kind.
seeds_for() {
    case $1 in
    scenario) echo "$here/fuzz-corpus/scenario/"* "$here/tests/"*.yaml ;;
    openapi) echo "$here/fuzz-corpus/openapi/"* "$here/tests/openapi-"* ;;
    esac
}

targets=${*:-scenario openapi}
status=0
for t in $targets; do
    srcs=$(sources_for "$t") || { echo "fuzz.sh: unknown target '$t'" >&2; exit 2; }
    bin="$work/fuzz_$t"
    echo "== building fuzz_$t"
    # shellcheck disable=SC2086 # flag and source lists are meant to split
    if ! $cc $cflags "$here/fuzz_$t.c" $srcs $libs -o "$bin"; then
        echo "fuzz.sh: building fuzz_$t failed" >&2
        exit 2
    fi
    corpus="$work/corpus-$t"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    for s in $(seeds_for "$t"); do
        [ -f "$s" ] && cp "$s" "$corpus/"
    done
    echo "== running fuzz_$t for ${seconds}s"
    # shellcheck disable=SC2086
    if (cd "$work" && "$bin" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
            -artifact_prefix="$work/$t-" ${FUZZ_FLAGS:-} "$corpus"); then
        echo "== fuzz_$t: no findings"
    else
        echo "== fuzz_$t: FINDING, see $work/$t-*" >&2
        status=1
    fi
done

echo "work directory: $work"
exit $status
