#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in ./build-fuzz and runs each for SECONDS
# (default 30). Seed corpora come from fuzz/seeds and the real files in $SDXL_REF
# (../shared/sdxl-ref); runs are reproducible (seed SDXL_FUZZ_SEED, default 1). A crash fails the run and its input is copied to fuzz/regressions/<target>/,
# which the normal test suite replays.
#   scripts/fuzz.sh [SECONDS] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors torch config tokenizer image prompt keys lora server_request)
ref=${SDXL_REF:-../shared/sdxl-ref}

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DSDXL_FUZZ=ON \
  -DSDXL_BUILD_TESTS=OFF -DSDXL_BUILD_BENCH=OFF > build-fuzz-configure.log 2>&1 || { cat build-fuzz-configure.log; exit 1; }
rm -f build-fuzz-configure.log
cmake --build build-fuzz --target $(printf 'fuzz_%s ' "${targets[@]}")

# Seed corpora from the reference data (when present), next to the committed seeds (fuzz/seeds:
# the tokenizer's are the reference data's tokenizer prompts).
seeds=build-fuzz/seeds
rm -rf "$seeds" && mkdir -p "$seeds"/{safetensors,torch,config,tokenizer,image,prompt,keys,lora,server_request}
if [ -d "$ref" ]; then
  find "$ref/cases" -name '*.safetensors' -size -48k -exec cp {} "$seeds/safetensors/" \;
  [ -d "$ref/models/pickle/hostile" ] && cp "$ref"/models/pickle/hostile/* "$seeds/torch/"
  i=0
  for f in $(find "$ref" -name '*.json' -size -64k ! -name vocab.json ! -name cases.json ! -path '*manifests*'); do
    cp "$f" "$seeds/config/$i.json"; i=$((i + 1))
  done
fi
cp fuzz/seeds/image/* "$seeds/image/"

status=0
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus" fuzz/regressions/$t fuzz/seeds/$t  # git keeps no empty folders
  echo "fuzz_$t: ${seconds}s"
  if ! ./build-fuzz/fuzz/fuzz_$t "$corpus" "$seeds/$t" fuzz/seeds/$t fuzz/regressions/$t \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -seed="${SDXL_FUZZ_SEED:-1}" \
      -artifact_prefix="build-fuzz/$t-" 2> "build-fuzz/$t.log"; then
    tail -40 "build-fuzz/$t.log"
    for a in build-fuzz/$t-crash-* build-fuzz/$t-leak-* build-fuzz/$t-timeout-* build-fuzz/$t-oom-*; do
      [ -e "$a" ] && cp "$a" fuzz/regressions/$t/ && echo "saved $a to fuzz/regressions/$t/"
    done
    status=1
  fi
  grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "build-fuzz/$t.log" | tail -2
done
exit $status
