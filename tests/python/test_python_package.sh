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
