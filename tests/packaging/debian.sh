#!/bin/bash
# tests/packaging/debian.sh - the Debian packages, end to end, on this machine.
#
# Run by hand (not part of make check), as root, from the top of the source
# tree:
#
#     bash tests/packaging/debian.sh
#
# It builds the packages from a snapshot of the committed tree (git archive
# HEAD) with the working tree's debian/ laid over it, so that packaging
# changes can be tested before they are committed; other uncommitted changes
# are ignored. Then:
#
#   1. dpkg-buildpackage -us -uc -b, and lintian on the .changes (no errors);
#   2. apt-get install ./*.deb (dependencies come from the Debian archive);
#   3. fault --version, fault plugins (every plugin loaded from
#      /usr/lib/<multiarch>/fault/plugins), man pages, bash completion,
#      pkg-config, a latency smoke test through the installed binary;
#   4. the SDK example built from /usr/share/fault/examples/plugin against
#      the installed libfaultcore-dev and loaded with --plugin-dir;
#   5. dpkg --purge (through apt-get purge, which waits for the dpkg lock):
#      nothing the packages installed is left.
#
# Build tools and build dependencies that are missing are installed with
# apt-get first. KEEP=1 keeps the temporary directory (build log, .debs).
# Prints "N passed, N failed" last; exits 1 when anything failed.
set -uo pipefail

PACKAGES="fault libfaultcore1 libfaultcore-dev fault-plugin-grpc"
# Every plugin the packages ship, with the package that ships it.
PLUGINS_FAULT="tcp http latency jitter bandwidth blackhole packet-loss dns http-response
  reset-peer slow-close limit-data slicer demo scenario ca postgres db-mode dns-proxy llm llm-mode stealth otel"
PLUGINS_GRPC="grpc-bridge"
APT="apt-get -o DPkg::Lock::Timeout=600 -y -q"
export DEBIAN_FRONTEND=noninteractive

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # DESCRIPTION COMMAND...: PASS when the command succeeds
	local what=$1
	shift
	if "$@"; then ok "$what"; else ko "$what"; return 1; fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit $?
}
die() { # a step the rest depends on failed
	ko "$*"
	finish
}

[ "$(id -u)" = 0 ] || { echo "run as root: this installs and purges packages" >&2; exit 2; }
top=$(git rev-parse --show-toplevel 2>/dev/null)
if [ -z "$top" ] || [ ! -f "$top/configure.ac" ] || [ ! -d "$top/debian" ]; then
	echo "run from the fault source tree (with debian/)" >&2
	exit 2
fi
cd "$top" || exit 2

tmp=$(mktemp -d /tmp/fault-deb.XXXXXX)
pids=()
installed_by_us=no
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	if [ "$installed_by_us" = yes ]; then
		# Interrupted between install and purge: do not leave the packages.
		# shellcheck disable=SC2086
		$APT purge $PACKAGES >/dev/null 2>&1
	fi
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
need=""
for p in dpkg-dev debhelper dh-autoreconf lintian fakeroot man-db pkgconf make gcc curl python3 iproute2; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	echo "installing:$need"
	# shellcheck disable=SC2086
	$APT install --no-install-recommends $need >"$tmp/apt-tools.log" 2>&1 ||
		die "installing$need: $(tail -5 "$tmp/apt-tools.log")"
fi

# ---------------------------------------------------------------- snapshot
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
upstream=${version%-*}
src=$tmp/fault-$upstream
mkdir -p "$src"
git archive HEAD | tar -x -C "$src" || die "git archive HEAD"
# The packaging under test: the working tree's debian/ (committed or not,
# without build output, which debian/.gitignore names).
rm -rf "$src/debian"
# shellcheck disable=SC2016 # $1 and $2 belong to the inner shell
git ls-files -z --cached --others --exclude-standard -- debian |
	xargs -0 -I{} sh -c '[ -e "$1" ] || exit 0; mkdir -p "$2/$(dirname "$1")" && cp -a "$1" "$2/$1"' _ {} "$src"
if git diff --quiet HEAD -- debian && [ -z "$(git ls-files --others --exclude-standard -- debian)" ]; then
	echo "source: HEAD $(git rev-parse --short HEAD) (debian/ as committed)"
else
	echo "source: HEAD $(git rev-parse --short HEAD) with the working tree's uncommitted debian/"
fi

# Build dependencies from debian/control, installed when missing.
if ! (cd "$src" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
	echo "installing build dependencies: $(cd "$src" && dpkg-checkbuilddeps 2>&1 | sed 's/.*Unmet build dependencies: //')"
	$APT build-dep "$src" >"$tmp/apt-builddep.log" 2>&1 ||
		die "installing build dependencies: $(tail -5 "$tmp/apt-builddep.log")"
fi

# ---------------------------------------------------------------- build
echo "building packages in $src (log: $tmp/build.log)"
start=$(date +%s)
if (cd "$src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s)"
else
	tail -40 "$tmp/build.log"
	die "dpkg-buildpackage -us -uc -b"
fi
grep -E '^dpkg-(gencontrol|shlibdeps|gensymbols): warning' "$tmp/build.log" | sort -u | sed 's/^/  build: /'
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
changes=$tmp/fault_${version}_${arch}.changes
debs=()
for p in $PACKAGES; do
	f=$tmp/${p}_${version}_${arch}.deb
	check "package $p built" test -f "$f" && debs+=("$f")
done
[ "${#debs[@]}" = 4 ] || die "not every package was built"

# What went where: the split the rest of this test relies on.
for p in $PACKAGES; do
	dpkg-deb -c "$tmp/${p}_${version}_${arch}.deb" | awk '{print $6}' >"$tmp/$p.list"
done
owns() { # PACKAGE PATH-REGEX: the .deb of PACKAGE holds a path matching it
	grep -Eq "$2" "$tmp/$1.list"
}
check "fault ships /usr/bin/fault" owns fault '^\./usr/bin/fault$'
for pl in $PLUGINS_FAULT; do
	owns fault "^\./usr/lib/$ma/fault/plugins/$pl\.so$" || ko "fault does not ship plugin $pl"
done
check "libfaultcore1 ships libfaultcore.so.1" owns libfaultcore1 "^\./usr/lib/$ma/libfaultcore\.so\.1$"
check "libfaultcore-dev ships the headers" owns libfaultcore-dev '^\./usr/include/fault/plugin\.h$'
check "libfaultcore-dev ships the .so symlink" owns libfaultcore-dev "^\./usr/lib/$ma/libfaultcore\.so$"
check "libfaultcore-dev ships fault-plugin.pc" owns libfaultcore-dev "^\./usr/lib/$ma/pkgconfig/fault-plugin\.pc$"
check "libfaultcore-dev ships the example" owns libfaultcore-dev '^\./usr/share/fault/examples/plugin/(Makefile|upcase\.c)$'
check "fault-plugin-grpc ships grpc-bridge.so and no other plugin" sh -c \
	"[ \"\$(grep '\.so$' '$tmp/fault-plugin-grpc.list')\" = './usr/lib/$ma/fault/plugins/grpc-bridge.so' ]"
check "no .la file in any package" sh -c "! cat $tmp/*.list | grep -q '\.la$'"
check "fault records the llhttp it embeds (Built-Using: node-*)" sh -c \
	"dpkg-deb -f '$tmp/fault_${version}_${arch}.deb' Built-Using | grep -q '^node-'"

# ---------------------------------------------------------------- lintian
lintian --fail-on error --tag-display-limit 0 "$changes" >"$tmp/lintian.log" 2>&1
lintian_rc=$?
grep -v 'running with root privileges' "$tmp/lintian.log" | sed 's/^/  lintian: /'
if [ "$lintian_rc" = 0 ] && ! grep -q '^E: ' "$tmp/lintian.log"; then
	ok "lintian: no errors ($(grep -c '^W: ' "$tmp/lintian.log") warnings)"
else
	ko "lintian: errors (exit $lintian_rc)"
fi

# ---------------------------------------------------------------- install
for p in $PACKAGES; do # leftovers of an earlier, interrupted run
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -Eq 'installed|config-files'; then
		echo "purging $p left installed before this run"
		$APT purge "$p" >/dev/null 2>&1
	fi
done
installed_by_us=yes
if (cd "$tmp" && $APT install --no-install-recommends "${debs[@]}") >"$tmp/install.log" 2>&1; then
	ok "apt-get install ./*.deb"
else
	tail -20 "$tmp/install.log"
	die "apt-get install ./*.deb"
fi
for p in $PACKAGES; do
	check "$p installed" sh -c "dpkg-query -W -f='\${Status}' $p | grep -q 'install ok installed'"
done

# The installed fault only: no build tree, no environment that points elsewhere.
unset FAULT_PLUGIN_PATH FAULT_NO_DEFAULT_PLUGINS
FAULT=/usr/bin/fault
plugindir=/usr/lib/$ma/fault/plugins

out=$("$FAULT" --version 2>&1)
echo "  $out"
check "fault --version prints $upstream" grep -q "^fault $upstream " <<<"$out"
check "fault links the packaged libfaultcore.so.1" sh -c \
	"ldd $FAULT | grep -Eq 'libfaultcore\.so\.1 => (/usr)?/lib/$ma/libfaultcore\.so\.1 '"

"$FAULT" plugins >"$tmp/plugins.out" 2>&1
plugins_rc=$?
sed 's/^/  /' "$tmp/plugins.out"
check "fault plugins exits 0" test "$plugins_rc" = 0
for pl in $PLUGINS_FAULT $PLUGINS_GRPC; do
	grep -Eq "^$pl +[a-z]+ +$upstream +[0-9.]+ +loaded \\($plugindir/$pl\\.so\\)$" "$tmp/plugins.out" ||
		ko "plugin $pl not loaded from $plugindir"
done
nplugins=$(echo "$PLUGINS_FAULT $PLUGINS_GRPC" | wc -w)
check "every plugin loaded from $plugindir ($nplugins)" \
	sh -c "[ \$(grep -c 'loaded ($plugindir/' '$tmp/plugins.out') = $nplugins ]"
check "no plugin refused" sh -c "! grep -Ev '^NAME|loaded \\(' '$tmp/plugins.out' | grep -q ."

for page in fault fault-run fault-plugins fault-demo fault-scenario "7 fault-plugin"; do
	# shellcheck disable=SC2086
	check "man -w $page" sh -c "man -w $page >/dev/null 2>&1"
done
check "man fault renders" sh -c "MANWIDTH=80 man fault 2>/dev/null | grep -q 'fault'"
check "bash completion installed" test -s /usr/share/bash-completion/completions/fault
check "pkg-config fault-plugin: version $upstream" sh -c "[ \"\$(pkg-config --modversion fault-plugin)\" = '$upstream' ]"
check "pkg-config fault-plugin: plugindir $plugindir" sh -c \
	"[ \"\$(pkg-config --variable=plugindir fault-plugin)\" = '$plugindir' ]"

# ---------------------------------------------------------------- smoke test
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { # PORT PID: until something listens on 127.0.0.1:PORT (5 s)
	for _ in $(seq 50); do
		kill -0 "$2" 2>/dev/null || return 1
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}
mkdir -p "$tmp/www"
head -c 20000 /dev/urandom | base64 >"$tmp/www/page.txt"
q=$(free_port)
(cd "$tmp/www" && exec python3 -m http.server --bind 127.0.0.1 "$q") >"$tmp/http.log" 2>&1 &
pids+=($!)
wait_port "$q" "$!" || ko "python3 http.server did not start on 127.0.0.1:$q"
direct=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$q/page.txt")
p=$(free_port)
"$FAULT" run --proxy "127.0.0.1:$p=127.0.0.1:$q" --with-latency --latency-mean 100 --duration 5s \
	--no-ui >"$tmp/fault-run.log" 2>&1 &
fault_pid=$!
pids+=("$fault_pid")
if wait_port "$p" "$fault_pid"; then
	t=$(curl -s -o "$tmp/got.txt" -w '%{time_total}' --max-time 4 "http://127.0.0.1:$p/page.txt")
	echo "  direct ${direct}s, through fault ${t}s"
	check "smoke: the response arrives through the installed fault" cmp -s "$tmp/www/page.txt" "$tmp/got.txt"
	check "smoke: it takes >= 95 ms with --latency-mean 100 (${t}s)" \
		python3 -c "import sys; sys.exit(0 if float('${t:-0}') >= 0.095 else 1)"
	wait "$fault_pid"
	rc=$?
	check "smoke: fault run --duration 5s ends by itself with status 0 (got $rc)" test "$rc" = 0
else
	cat "$tmp/fault-run.log"
	ko "smoke: fault run did not listen on 127.0.0.1:$p"
fi

# ---------------------------------------------------------------- SDK example
ex=$tmp/example
cp -r /usr/share/fault/examples/plugin "$ex"
if make -C "$ex" >"$tmp/example.log" 2>&1 && [ -f "$ex/upcase.so" ]; then
	ok "SDK example builds against the installed libfaultcore-dev"
else
	cat "$tmp/example.log"
	ko "SDK example builds against the installed libfaultcore-dev"
fi
"$FAULT" --plugin-dir "$ex" plugins >"$tmp/plugins-ex.out" 2>&1
check "fault --plugin-dir loads the example (upcase)" \
	grep -Eq "^upcase +fault +[0-9.]+ +[0-9.]+ +loaded \\($ex/upcase\\.so\\)" "$tmp/plugins-ex.out"
check "its flags reach fault run --help" sh -c "'$FAULT' --plugin-dir '$ex' run --help | grep -q -- '--with-upcase'"
check "the packaged plugins still load next to it" grep -q "loaded ($plugindir/tcp.so)" "$tmp/plugins-ex.out"

# ---------------------------------------------------------------- purge
for p in $PACKAGES; do dpkg -L "$p"; done 2>/dev/null | sort -u >"$tmp/files.list"
echo "  $(wc -l <"$tmp/files.list") paths installed"
# shellcheck disable=SC2086
if $APT purge $PACKAGES >"$tmp/purge.log" 2>&1; then
	ok "dpkg --purge (apt-get purge) $PACKAGES"
	installed_by_us=no
else
	tail -20 "$tmp/purge.log"
	ko "dpkg --purge $PACKAGES"
fi
for p in $PACKAGES; do
	check "$p purged (no config-files left)" sh -c "! dpkg-query -W -f='\${Status}' $p 2>/dev/null | grep -Eq 'installed|config-files|half'"
done
left=""
while IFS= read -r f; do
	[ -n "$f" ] || continue
	if [ -d "$f" ] && [ ! -L "$f" ]; then
		# A directory of ours (a path component starting with "fault" or
		# "libfaultcore") must be gone; shared ones (/usr/lib, ...) stay.
		case "/$f/" in
		*/fault/* | */fault-*/* | */libfaultcore*/*) left="$left $f" ;;
		esac
	elif [ -e "$f" ] || [ -L "$f" ]; then
		left="$left $f"
	fi
done <"$tmp/files.list"
if [ -z "$left" ]; then ok "nothing of the packages remains"; else ko "left after purge:$left"; fi
check "/usr/bin/fault gone" test ! -e /usr/bin/fault
check "$plugindir gone" test ! -e "/usr/lib/$ma/fault"

finish
