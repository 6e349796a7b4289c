#!/bin/bash
# tests/plugins/loader.sh - the loader against real plugin files: a plugin
# built for another ABI major, and a shared object that is not a plugin,
# are each refused with one line naming the file and the reason, while
# fault keeps running with the good plugins; the current directory is never
# searched.
. "$top_srcdir/tests/e2e/lib.sh" || exit 99

bad="$top_builddir/tests/plugins/.libs/badabi.so"
[ -f "$bad" ] || fail "$bad was not built"
mkdir -p "$E2E_TMP/extra"
cp "$bad" "$E2E_TMP/extra/badabi.so"
cp "$top_builddir/tests/plugins/.libs/oldminor.so" "$top_builddir/tests/plugins/.libs/newminor.so" \
	"$E2E_TMP/extra/"
# A real shared object without a descriptor.
cp "$top_builddir/core/.libs/libfaultcore.so" "$E2E_TMP/extra/notaplugin.so"
export FAULT_PLUGIN_PATH="$FAULT_PLUGIN_PATH:$E2E_TMP/extra"

"$FAULT" plugins >"$E2E_TMP/plugins.out" 2>"$E2E_TMP/plugins.err" || fail "fault plugins failed"
cat "$E2E_TMP/plugins.out" "$E2E_TMP/plugins.err"
grep -Eq '^tcp +protocol .* loaded' "$E2E_TMP/plugins.out" || fail "tcp is not listed as loaded"
grep -Eq '^latency +fault .* loaded' "$E2E_TMP/plugins.out" || fail "latency is not listed as loaded"
host_abi=$("$FAULT" --version | sed -n 's/.*plugin ABI \([0-9.]*\)).*/\1/p')
[ -n "$host_abi" ] || fail "fault --version does not give the plugin ABI"
grep -Eq "^badabi .*refused: plugin ABI 2\.0 .*host ABI $host_abi" "$E2E_TMP/plugins.out" ||
	fail "badabi is not listed as refused with both ABIs"
grep -Eq '^oldminor +fault .* 1\.0 +loaded' "$E2E_TMP/plugins.out" ||
	fail "a plugin built for ABI 1.0 is not loaded by host $host_abi"
grep -Eq "^newminor .*refused: plugin ABI 1\.$(( ${host_abi#*.} + 1 ))" "$E2E_TMP/plugins.out" ||
	fail "a plugin built for a newer minor is not refused"
grep -Eq '^notaplugin .*refused: no fault_plugin_entry symbol' "$E2E_TMP/plugins.out" ||
	fail "notaplugin.so is not refused for its missing descriptor"
[ "$(grep -c 'badabi.so refused: plugin ABI 2.0' "$E2E_TMP/plugins.err")" = 1 ] ||
	fail "expected exactly one stderr line about badabi.so"
[ "$(grep -c 'refused' "$E2E_TMP/plugins.err")" = 3 ] || fail "expected three refusal lines on stderr"

# fault keeps running and proxies with the plugins that did load.
start_nginx
echo "through the loader test" >"$WWW/index.html"
port=$(free_port)
start_fault run --proxy "127.0.0.1:$port=127.0.0.1:$NGINX_PORT" --with-latency --latency-mean 1
body=$(curl -s --max-time 5 "http://127.0.0.1:$port/") || fail "request through fault failed"
[ "$body" = "through the loader test" ] || fail "unexpected body '$body'"
grep -q 'badabi.so refused' "$FAULT_ERR" || fail "fault run did not report the refused plugin"

# The current directory is not a plugin directory.
(cd "$E2E_TMP/extra" && FAULT_PLUGIN_PATH="$top_builddir/plugins/tcp/.libs" "$FAULT" plugins) \
	>"$E2E_TMP/cwd.out" 2>&1 || fail "fault plugins failed in the plugin directory"
grep -q badabi "$E2E_TMP/cwd.out" && fail "the current directory was searched for plugins"
note "ok"
