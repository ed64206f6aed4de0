#!/usr/bin/env bash
# Install xrestore's build and test dependencies from Debian's packages. Idempotent: packages
# already present are not fetched again, and apt-get update runs only when something is missing.
# Usage: tools/install_deps.sh [--with-python]   (--with-python adds python3-torch and
# python3-skimage, used only to regenerate golden files and run peer benchmarks)
set -euo pipefail

packages=(cmake g++ pkg-config make ninja-build python3 libxtensor-dev libxtensor-blas-dev libxsimd-dev libopenblas-dev
    libboost-test-dev clang-format libstb-dev nlohmann-json3-dev libcli11-dev libbenchmark-dev
    fonts-dejavu-core python3-numpy) # fonts-dejavu-core: DejaVuSans.ttf, the text of the report
# module's plots; python3-numpy: the README's Python recipe, run as a test
if [[ "${1:-}" == "--with-python" ]]; then
    packages+=(python3-torch python3-skimage)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
    sudo_cmd=(sudo)
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
