#!/bin/sh
# tests/fuzz/run.sh - builds the libFuzzer targets for the command-line
# parsers straight from the core sources (no configure needed) and runs
# each one for $FUZZ_SECONDS seconds (default 30) on a scratch copy of its
# seed corpus, so the checked-in corpus only changes when someone means it.
#
# Usage: tests/fuzz/run.sh [duration|schedule|mapping|options|http|h2|pgwire|llm|stealth ...]
# Environment: CC (default clang), FUZZ_SECONDS, FUZZ_WORKDIR (build and
# scratch directory, default a fresh temporary one), FUZZ_FLAGS (extra
# libFuzzer flags). Exits non-zero when any target finds a crash, leak or
# undefined behaviour; the reproducer is left in the work directory.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cc=${CC:-clang}
seconds=${FUZZ_SECONDS:-30}
work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/fault-fuzz.XXXXXX")}
mkdir -p "$work" || exit 2
# Core files include config.h; the parsers need nothing from it.
printf '#define PACKAGE_VERSION "fuzz"\n' >"$work/config.h"

# Undefined behaviour must stop the run like a crash does, or it would
# only be printed and the target would count as passing.
cflags="-g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
cflags="$cflags -fno-omit-frame-pointer -I $work -I $top/sdk -I $top/core $(pkg-config --cflags libuv 2>/dev/null)"

# The core files each target needs besides its own source.
sources_for() {
    case $1 in
    duration) echo "$top/core/duration.c" ;;
    schedule) echo "$top/core/schedule.c $top/core/duration.c" ;;
    mapping) echo "$top/core/mapping.c" ;;
    options) echo "$top/core/options.c $top/core/schedule.c $top/core/duration.c" ;;
    http) echo "$top/plugins/http/h1.c $LLHTTP_SRC/api.c $LLHTTP_SRC/http.c $LLHTTP_SRC/llhttp.c" ;;
    h2) echo "$top/plugins/http/h2.c $top/plugins/http/h2_exchange.c $top/plugins/http/h2_h1up.c $top/plugins/http/h2up.c $top/plugins/http/tunnel.c $top/plugins/http/due.c $top/plugins/http/h1.c $LLHTTP_SRC/api.c $LLHTTP_SRC/http.c $LLHTTP_SRC/llhttp.c" ;;
    pgwire) echo "$top/plugins/postgres/pgwire.c" ;;
    llm) echo "$top/plugins/llm/frames.c" ;;
    stealth) echo "$top/plugins/stealth/parse.c" ;;
    *) return 1 ;;
    esac
}

# The HTTP glue compiles llhttp from Debian's node-llhttp sources.
LLHTTP_SRC=${LLHTTP_SRC:-/usr/share/llhttp}
cflags="$cflags -I ${LLHTTP_INC:-/usr/share/include/llhttp} -I $top/plugins/llm -I $top/plugins/stealth"

# Where each target's own source is.
target_source() {
    case $1 in
    http) echo "$top/plugins/http/fuzz_http.c" ;;
    h2) echo "$top/plugins/http/fuzz_h2.c" ;;
    pgwire) echo "$top/plugins/postgres/fuzz_pgwire.c" ;;
    llm) echo "$top/plugins/llm/fuzz_frames.c" ;;
    stealth) echo "$top/plugins/stealth/fuzz_stealth.c" ;;
    *) echo "$here/fuzz_$1.c" ;;
    esac
}

# Libraries and the largest input, per target: HTTP/2 links nghttp2 and
# libuv, and its seeds hold header blocks of up to 64 KiB.
libs_for() {
    case $1 in
    h2) echo "$(pkg-config --libs libnghttp2 libuv 2>/dev/null || echo -lnghttp2 -luv)" ;;
    esac
}
max_len_for() {
    case $1 in
    h2) echo 70000 ;;
    *) echo 4096 ;;
    esac
}

targets=${*:-duration schedule mapping options http h2 pgwire llm stealth}
status=0
for t in $targets; do
    srcs=$(sources_for "$t") || { echo "run.sh: unknown target '$t'" >&2; exit 2; }
    bin="$work/fuzz_$t"
    echo "== building fuzz_$t"
    # shellcheck disable=SC2086 # flag and source lists are meant to split
    if ! $cc $cflags "$(target_source "$t")" $srcs $(libs_for "$t") -lm -o "$bin"; then
        echo "run.sh: building fuzz_$t failed" >&2
        exit 2
    fi

    corpus="$work/corpus-$t"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    if [ -d "$here/corpus/$t" ]; then cp "$here/corpus/$t/"* "$corpus/"; fi

    echo "== running fuzz_$t for ${seconds}s"
    # shellcheck disable=SC2086
    if (cd "$work" && "$bin" -max_total_time="$seconds" -max_len="$(max_len_for "$t")" \
            -artifact_prefix="$work/$t-" ${FUZZ_FLAGS:-} "$corpus"); then
        echo "== fuzz_$t: no findings"
    else
        echo "== fuzz_$t: FINDING, see $work/$t-*" >&2
        status=1
    fi
done

echo "work directory: $work"
exit $status
