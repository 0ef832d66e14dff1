#!/usr/bin/env bash
# Installs the build into a temporary prefix with `cmake --install`, then builds a C program
# through pkg-config and a C++ program through find_package(sdxl) against that *installed*
# package, runs both and the installed `sdxl` on the tiny model: all three must give the same image.
#   tests/install/test_install.sh BUILD_DIR [DEFAULT_REF_DIR]     ($SDXL_REF, when set, wins)
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
ref=${SDXL_REF:-${2:-$here/../../../shared/sdxl-ref}}
model=$ref/models/tiny-sdxl-base
if [ ! -d "$model" ]; then
  [ "${SDXL_REQUIRE_REF:-}" = 1 ] && { echo "reference data not found at $ref and SDXL_REQUIRE_REF=1"; exit 1; }
  echo "reference data not found at $ref: skipped"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sdxl-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" > "$work/install.log"
for f in bin/sdxl include/sdxl/sdxl.h include/sdxl/sdxl.hpp share/sdxl/tokenizer/vocab.json share/sdxl/tokenizer/LICENSE \
         share/sdxl/configs/stable-diffusion-xl-base-1.0/unet/config.json; do
  [ -e "$prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
lib=$(dirname "$(find "$prefix" -name 'libsdxl.so' | head -1)")
soname=$(objdump -p "$lib/libsdxl.so" | awk '/SONAME/ {print $2}')
echo "installed: $lib/libsdxl.so, SONAME $soname"
[[ "$soname" =~ ^libsdxl\.so\.[0-9]+\.[0-9]+$ ]] || { echo "SONAME is not versioned: '$soname'"; exit 1; }
exported=$(nm -D --defined-only "$lib/libsdxl.so" | awk '$2 == "T" {print $3}' | grep -cv '^sdxl_' || true)
[ "$exported" = 0 ] || { echo "libsdxl.so exports $exported symbols outside the C API"; exit 1; }

# C, through pkg-config.
export PKG_CONFIG_PATH=$lib/pkgconfig
cc -std=c11 -Wall -Wextra -Werror -o "$work/generate_c" "$here/generate.c" $(pkg-config --cflags --libs sdxl) \
  -Wl,-rpath,"$(pkg-config --variable=libdir sdxl)"
c_out=$("$work/generate_c" "$model" "$work/c.png")
echo "C:   $c_out"

# C++, through find_package(sdxl).
cmake -S "$here/cxx" -B "$work/cxx" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > "$work/cxx-configure.log" ||
  { cat "$work/cxx-configure.log"; exit 1; }
cmake --build "$work/cxx" > "$work/cxx-build.log" || { cat "$work/cxx-build.log"; exit 1; }
cxx_out=$("$work/cxx/generate_cxx" "$model" "$work/cxx.png")
echo "C++: $cxx_out"
[ "$c_out" = "$cxx_out" ] || { echo "the C and C++ programs made different images"; exit 1; }

sdxl_version() { "$prefix/bin/sdxl" --version | head -1 | cut -d' ' -f2; }

# The installed command finds its library through its RUNPATH, and writes the same pixels.
"$prefix/bin/sdxl" --version
"$prefix/bin/sdxl" generate -m "$model" -p "a photo of a cat" -W 64 -H 64 --steps 4 --seed 7 -o "$work/cli.png"
for png in c cxx cli; do
  hash=$("$work/generate_c" --hash "$work/$png.png")
  [ "sdxl $(sdxl_version) $hash" = "$c_out" ] || { echo "$png.png: $hash, want the pixels of $c_out"; exit 1; }
done
# Python, the installed package (no SDXL_LIBRARY: it finds the installed libsdxl.so itself).
python_dir=$(dirname "$(find "$prefix" -path '*dist-packages/sdxl/__init__.py' | head -1)")
[ -n "$python_dir" ] && [ "$python_dir" != . ] || { echo "the Python package is not installed"; exit 1; }
env -u SDXL_LIBRARY PYTHONPATH="$(dirname "$python_dir")" /usr/bin/python3 - "$model" "$work/python.png" <<'PY'
import sys
import sdxl
pipe = sdxl.StableDiffusionXLPipeline.from_pretrained(sys.argv[1])
pipe.set_progress_bar_config(disable=True)
pipe("a photo of a cat", width=64, height=64, num_inference_steps=4, guidance_scale=5.0, seed=7).images[0].save(sys.argv[2])
print("Python: the installed package, library", sdxl._native.lib._name)
PY
hash=$("$work/generate_c" --hash "$work/python.png")
[ "sdxl $(sdxl_version) $hash" = "$c_out" ] || { echo "python.png: $hash, want the pixels of $c_out"; exit 1; }
# and the package's whole test suite on the installed package, command and headers
(cd "$work" && env -u SDXL_LIBRARY PYTHONPATH="$(dirname "$python_dir")" SDXL_REF="$ref" SDXL_CLI="$prefix/bin/sdxl" \
  SDXL_INCLUDE="$prefix/include" /usr/bin/python3 -m pytest -q -p no:cacheprovider "$here/../../python/tests")
echo "install test passed"
