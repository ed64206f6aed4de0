#!/usr/bin/env bash
# The main job: build xrestore, then blur the bundled butterfly photo (box 13), add Gaussian noise
# (sigma 0.01), restore it with conjugate gradient on the Tikhonov normal equations, print PSNR
# before and after, and write PNGs to out/ (or the folder given as the first argument).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="${1:-$root/out}"
"$root/tools/install_deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j "$(nproc)" --target deblur_tikhonov xrestore_cli
"$root/build/examples/deblur_tikhonov" "$root/data/images/butterfly_set5.png" "$out"
echo "report: images in $out (ground_truth.png, degraded.png, restored.png)"
