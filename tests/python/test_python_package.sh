#!/usr/bin/env bash
# The Python package as a user installs it: `pip install --no-build-isolation ./python` into a
# fresh virtual environment (Debian's python3-venv; --system-site-packages for Debian's numpy,
# Pillow and pytest; nothing downloaded), then its tests from that environment, on the build's
# libsdxl.so and sdxl command.
#   tests/python/test_python_package.sh BUILD_DIR PYTHON3 [DEFAULT_REF_DIR]
set -euo pipefail
build=$(cd "$1" && pwd)
python=$2
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
export SDXL_REF=${SDXL_REF:-${3:-$source_dir/../shared/sdxl-ref}}
work=$(mktemp -d "${TMPDIR:-/tmp}/sdxl-python-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$python" -m venv --system-site-packages "$work/venv"
# a copy of the sources: pip's build may write into the tree (build/, *.egg-info)
cp -r "$source_dir/python" "$work/python"
"$work/venv/bin/python" -m pip install --quiet --no-build-isolation --no-index --no-deps "$work/python" > "$work/pip.log" 2>&1 ||
  { cat "$work/pip.log"; exit 1; }
export SDXL_LIBRARY=$(ls "$build"/src/capi/libsdxl.so)
export SDXL_CLI=$build/sdxl
export SDXL_INCLUDE=$source_dir/include
installed=$("$work/venv/bin/python" -c "import sdxl, os; print(os.path.dirname(sdxl.__file__))" 2>&1 || true)
case "$installed" in
  "$work/venv/"*) echo "installed in the venv: $installed" ;;
  *) echo "the venv's python does not import the pip-installed package: $installed"; exit 1 ;;
esac

cd "$work"  # not the source tree: the tests import the installed package
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$source_dir/python/tests"

# The README's diffusers snippet, unchanged but for the model path (the tiny model; its default
# size is its own 64 x 64), and the example script: each writes the CLI's image.
"$work/venv/bin/python" - "$source_dir/README.md" "$SDXL_REF/models/tiny-sdxl-base" > "$work/snippet.py" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
block = text.split("## Python", 1)[1].split("```python", 1)[1].split("```", 1)[0]
assert '"sd_xl_base_1.0"' in block, "the README's snippet changed: update this test's substitution"
print(block.replace('"sd_xl_base_1.0"', repr(sys.argv[2])))
PY
(cd "$work" && "$work/venv/bin/python" snippet.py)
"$SDXL_CLI" generate -m "$SDXL_REF/models/tiny-sdxl-base" -p "an astronaut riding a horse on the moon" --steps 30 --seed 0 \
  -W 64 -H 64 -o "$work/cli-snippet.png" > /dev/null
"$work/venv/bin/python" "$source_dir/python/examples/txt2img.py" "$SDXL_REF/models/tiny-sdxl-base" "a photo of a cat" \
  "$work/example.png" --steps 4 --seed 7 > /dev/null
"$SDXL_CLI" generate -m "$SDXL_REF/models/tiny-sdxl-base" -p "a photo of a cat" --steps 4 --seed 7 -W 64 -H 64 \
  -o "$work/cli-example.png" > /dev/null
"$work/venv/bin/python" - "$work" <<'PY'
import os, sys
import numpy as np
from PIL import Image
work = sys.argv[1]
def pixels(name):
    return np.asarray(Image.open(os.path.join(work, name)).convert("RGB"))
assert np.array_equal(pixels("astronaut.png"), pixels("cli-snippet.png")), "the README snippet's image is not the CLI's"
assert np.array_equal(pixels("example.png"), pixels("cli-example.png")), "the example script's image is not the CLI's"
assert "Steps: 4" in Image.open(os.path.join(work, "example.png")).text["parameters"]
print("the README snippet and the example script write the CLI's images")
PY
