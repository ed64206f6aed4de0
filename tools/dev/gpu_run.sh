#!/usr/bin/env bash
# On a machine with a GPU (through the device tool, with .gpu carried; see tools/dev/gpu_bundle.sh):
# run every GPU test, then the GPU benchmark with the PyTorch CUDA comparison. Logs, the test
# results and the benchmark's table go to $OUT (or out/gpu without the device tool).
#   tools/dev/gpu_run.sh [--tests-only | --bench-only] [bench options, e.g. --sizes 512]
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${OUT:-$root/out/gpu}
mkdir -p "$out"
mode=all
if [[ "${1:-}" == --tests-only || "${1:-}" == --bench-only ]]; then
    mode=$1
    shift
fi
bundle=$(mktemp -d)
tar -C "$bundle" -xJf "$root/.gpu/bundle.tar.xz"
# cuDNN from the machine's PyTorch wheel (or a system install)
cudnn=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(os.path.dirname(nvidia.cudnn.__file__), "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$bundle/lib${cudnn:+:$cudnn}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# the binaries name data/, models/ and tests/ by the absolute path of the tree they were built in
source_root=$(cat "$bundle/source_root")
if [[ "$source_root" != "$root" ]]; then
    mkdir -p "$source_root"
    for d in data models tests; do
        ln -sfn "$root/$d" "$source_root/$d"
    done
fi
nvidia-smi -L 2>&1 | tee "$out/device.txt"
status=0
if [[ "$mode" != --bench-only ]]; then
    for t in "$bundle"/bin/test_cuda_*; do
        name=$(basename "$t")
        "$t" --log_level=test_suite --report_level=short >"$out/$name.log" 2>&1
        rc=$?
        echo "$name: exit $rc ($(tail -n 3 "$out/$name.log" | tr '\n' ' '))" | tee -a "$out/tests.txt"
        [[ $rc -ne 0 ]] && status=1
    done
fi
if [[ "$mode" != --tests-only ]]; then
    PYTHONUNBUFFERED=1 python3 "$root/benchmarks/compare_cuda_pytorch.py" \
        --bench "$bundle/bin/bench_cuda" --json "$out/bench_cuda.json" "$@" 2>&1 |
        tee "$out/bench.txt" || status=1
fi
exit $status
