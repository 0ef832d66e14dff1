#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer in ./build-asan and runs
# the cheap tests under them (kernels, parsers, the tokenizer, manifests, samplers, RNG).
set -euo pipefail
cd "$(dirname "$0")/.."
# -O1 -g1: quick to compile, still readable reports.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DSDXL_SANITIZE=ON \
  -DSDXL_BUILD_BENCH=OFF \
  > build-asan-configure.log 2>&1 || { cat build-asan-configure.log; exit 1; }
rm -f build-asan-configure.log
cmake --build build-asan
# Leak checking stays on; UBSan stops at the first finding.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L cheap --output-on-failure
