#!/usr/bin/env bash
# The Debian package as built by `cpack -G DEB`, unpacked (dpkg-deb -x, no root needed): the
# command and libsdxl.so in /usr, the Python package in /usr/lib/python3/dist-packages, which
# finds the unpacked library by itself and gives the command's image.
#   tests/install/test_deb.sh BUILD_DIR [DEFAULT_REF_DIR]     ($SDXL_REF, when set, wins)
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
ref=${SDXL_REF:-${2:-$here/../../../shared/sdxl-ref}}
model=$ref/models/tiny-sdxl-base
if [ ! -d "$model" ]; then
  [ "${SDXL_REQUIRE_REF:-}" = 1 ] && { echo "reference data not found at $ref and SDXL_REQUIRE_REF=1"; exit 1; }
  echo "reference data not found at $ref: skipped"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sdxl-deb-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" > "$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/out/sdxl_*.deb)
dpkg-deb -x "$deb" "$work/root"
for f in usr/bin/sdxl usr/lib/python3/dist-packages/sdxl/__init__.py usr/lib/python3/dist-packages/sdxl/pipelines.py; do
  [ -e "$work/root/$f" ] || { echo "not in the .deb: $f"; exit 1; }
done
"$work/root/usr/bin/sdxl" generate -m "$model" -p "a photo of a cat" -W 64 -H 64 --steps 4 --seed 7 -o "$work/cli.png" > /dev/null
env -u SDXL_LIBRARY PYTHONPATH="$work/root/usr/lib/python3/dist-packages" /usr/bin/python3 - "$model" "$work" <<'PY'
import os, sys
import numpy as np
from PIL import Image
import sdxl
model, work = sys.argv[1], sys.argv[2]
library = sdxl._native.lib._name
assert library.startswith(os.path.join(work, "root")), f"the package loaded {library}, not the .deb's library"
with sdxl.StableDiffusionXLPipeline.from_pretrained(model) as pipe:
    pipe.set_progress_bar_config(disable=True)
    image = pipe("a photo of a cat", width=64, height=64, num_inference_steps=4, guidance_scale=5.0, seed=7).images[0]
same = np.array_equal(np.asarray(image), np.asarray(Image.open(os.path.join(work, "cli.png")).convert("RGB")))
assert same, "the .deb's Python package and command made different images"
print("the .deb's command and Python package make the same image:", library)
PY
# and the package's whole test suite on the unpacked package and command
(cd "$work" && env -u SDXL_LIBRARY PYTHONPATH="$work/root/usr/lib/python3/dist-packages" SDXL_REF="$ref" \
  SDXL_CLI="$work/root/usr/bin/sdxl" SDXL_INCLUDE="$work/root/usr/include" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
  "$here/../../python/tests")
echo "deb test passed"
