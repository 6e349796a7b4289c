#!/bin/bash
# tests/style/format.sh - every C file of the tree is formatted as the
# checked-in .clang-format says (clang-format --dry-run --Werror). Generated
# sources (protobuf-c, BPF skeletons) are left out. Layouts differ between
# clang-format releases, so the check runs with the release the tree was
# formatted with (14, Debian 12's) and is skipped with another.
#
# To format a file: clang-format -i FILE.
src=${top_srcdir:-.}
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null 2>&1 || { echo "SKIP: $cf is not installed"; exit 77; }
major=$("$cf" --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
[ "$major" = 14 ] || { echo "SKIP: clang-format $major, the tree is formatted with 14"; exit 77; }
[ -f "$src/.clang-format" ] || { echo "SKIP: no .clang-format in $src (not a source tree)"; exit 77; }

n=0 bad=0
while IFS= read -r f; do
	n=$((n + 1))
	if ! "$cf" --dry-run --Werror --style=file "$src/$f" >/dev/null 2>&1; then
		echo "FAIL: $f is not formatted: clang-format -i $f"
		bad=$((bad + 1))
	fi
done < <(cd "$src" && find core plugins sdk tests ebpf -name '*.[ch]' ! -name '*.pb-c.[ch]' \
	! -name '*.skel.h' ! -path '*/node_modules/*' | sort)
echo "$n files checked, $bad not formatted"
[ "$n" -gt 0 ] || { echo "FAIL: no C file found under $src"; exit 1; }
[ "$bad" = 0 ]
