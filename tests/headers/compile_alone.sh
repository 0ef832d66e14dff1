#!/bin/bash
# Every public header compiles when it is the first and only include of a file: each C header
# as C99 and C11 and as C++17, each C++ header as C++17, with warnings as errors. A header that
# leans on what its user happened to include before it fails here.
# Usage: compile_alone.sh INCLUDE_DIR C_COMPILER CXX_COMPILER
set -u
include_dir=$1 cc=$2 cxx=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 checked=0

compile() {  # compiler, language flags..., header
  local compiler=$1 header=${*: -1}
  local flags=("${@:2:$#-2}")

  printf '#include <sdxl/%s>\nint sdxl_header_compiles_alone;\n' "$header" > "$work/source"
  checked=$((checked + 1))
  if ! "$compiler" "${flags[@]}" -fsyntax-only -Wall -Wextra -Werror -pedantic -I "$include_dir" "$work/source" \
      2> "$work/errors"; then
    echo "FAIL: <sdxl/$header> alone with $compiler ${flags[*]}:"
    sed 's/^/    /' "$work/errors" | head -20
    failures=$((failures + 1))
  fi
}

headers=$(cd "$include_dir/sdxl" && ls)
[ -n "$headers" ] || { echo "no headers in $include_dir/sdxl"; exit 1; }
for header in $headers; do
  case $header in
    *.h)
      compile "$cc" -x c -std=c99 "$header"
      compile "$cc" -x c -std=c11 "$header"
      compile "$cxx" -x c++ -std=c++17 "$header" ;;
    *.hpp)
      compile "$cxx" -x c++ -std=c++17 "$header" ;;
    *) echo "FAIL: $header is neither a C (.h) nor a C++ (.hpp) header"; failures=$((failures + 1)) ;;
  esac
done
echo "$checked compilations of $(echo "$headers" | wc -w) public headers, $failures failed"
[ "$failures" -eq 0 ]
