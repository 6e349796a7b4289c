#!/bin/sh
# plugins/dns-proxy/fuzz.sh - builds the libFuzzer target for the DNS
# message reader (fuzz_dnsmsg.c + msg.c, nothing else) with the flags of
# tests/fuzz/run.sh and runs it for $FUZZ_SECONDS (default 30) on a
# scratch copy of plugins/dns-proxy/corpus. Not part of `make check`.
# Environment: CC (clang), FUZZ_SECONDS, FUZZ_WORKDIR, FUZZ_FLAGS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-clang}
work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/fault-fuzz-dns.XXXXXX")}
mkdir -p "$work/corpus" || exit 2
cp "$here/corpus/"* "$work/corpus/"
$cc -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer "$here/fuzz_dnsmsg.c" "$here/msg.c" -o "$work/fuzz_dnsmsg" ||
	{ echo "fuzz.sh: build failed" >&2; exit 2; }
# shellcheck disable=SC2086
if (cd "$work" && ./fuzz_dnsmsg -max_total_time="${FUZZ_SECONDS:-30}" -max_len=4096 \
		-artifact_prefix="$work/dnsmsg-" ${FUZZ_FLAGS:-} corpus); then
	echo "== fuzz_dnsmsg: no findings ($work)"
else
	echo "== fuzz_dnsmsg: FINDING, see $work/dnsmsg-*" >&2
	exit 1
fi
