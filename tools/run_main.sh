#!/usr/bin/env bash
# The main job: build xrestore, then run `xrestore study` on the bundled butterfly photo with the
# shipped U-Net denoiser: the plug-and-play restoration study (deblurring, noise, inpainting, RED,
# MSE against iteration with early stopping, classical baselines), written as a report with
# images, plots, CSVs and results.json to out/study/ (or the folder given as the first argument).
# Further arguments go to `xrestore study` (for example --size 96 --curve-iters 60 for a quick
# run); the report is then checked against its results.json.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tools/release_config.sh"
out="${1:-$root/out/study}"
shift || true
"$root/tools/install_deps.sh"
xrestore_configure_release "$root"   # the test suite's configuration: built once for both
cmake --build "$root/build" -j "$(nproc)" --target xrestore_cli
"$root/build/bin/xrestore" study --out "$out" "$@"
if command -v python3 >/dev/null; then
    python3 "$root/tools/dev/check_study_report.py" "$out"
fi
echo "report: $out/report.md (images, plots, results.csv, curves.csv and results.json beside it)"
