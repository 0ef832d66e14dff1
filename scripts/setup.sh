#!/usr/bin/env bash
# Installs sdxl's build dependencies from Debian 12's packages (only those missing) and
# configures an optimised build in ./build. Extra arguments go to CMake, e.g.
#   scripts/setup.sh -DSDXL_NATIVE=OFF      # a portable x86-64 build
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build pkg-config git
  libdnnl-dev                 # oneDNN: convolutions, matmul
  ocl-icd-opencl-dev          # Debian's oneDNN CMake config asks for OpenCL (a Recommends of libdnnl-dev)
  libopenblas-openmp-dev      # OpenBLAS, OpenMP build: GEMM
  nlohmann-json3-dev libcli11-dev
  libboost-dev                # Boost.Beast/Asio: sdxl serve's event-driven HTTP server (headers only)
  libcpp-httplib-dev          # the HTTP client of the server tests and benchmarks
  libpng-dev libjpeg-dev libicu-dev
  libwebp-dev                 # WebP output and uploads (libwebp, libwebpmux for the EXIF chunk)
  libopencv-imgproc-dev       # OpenCV's Gaussian blur: AUTOMATIC1111's mask blur, to the byte
  libssl-dev                  # OpenSSL libcrypto: SHA-256 of model files (PNG infotext hashes)
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev libomp-14-dev   # fuzzing (libFuzzer)
  dpkg-dev file               # cpack -G DEB: dpkg-shlibdeps finds the runtime packages
  chromium                    # the browser test of sdxl serve's web page
  redis-server libhiredis-dev # sdxl serve --queue and sdxl worker (Redis Streams), and their tests
  prometheus                  # promtool: the tests check a live server's /metrics with it
  python3 python3-venv python3-setuptools python3-wheel   # the Python package (pip install --no-build-isolation)
  python3-pytest python3-numpy python3-pil python3-tqdm  # its tests (tqdm: the progress bar)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm drive the browser test (puppeteer-core) and the OpenAI client test (openai);
# any install of them will do (Node 18 or newer).
command -v npm > /dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# puppeteer-core and openai, at the versions tests/browser/package-lock.json pins.
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error > /dev/null

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > build-configure.log 2>&1 || {
  cat build-configure.log
  exit 1
}
rm -f build-configure.log
