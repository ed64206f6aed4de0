#!/usr/bin/env bash
# Build the GPU tests and the GPU benchmark here and pack them, with the shared libraries they
# need that a bare GPU machine lacks, into .gpu/bundle.tar.xz (ignored by git): what the device
# tool carries to a machine with a GPU, where tools/dev/gpu_run.sh unpacks and runs it.
#   tools/dev/gpu_bundle.sh            then, through the device tool:
#   run(command="tools/dev/gpu_run.sh", carry=[".gpu"], timeout_s=540)
# The GPU machine has the CUDA driver and runtime, cuDNN (PyTorch's wheel) and PyTorch, but no
# xtensor, Boost or OpenBLAS, so the binaries are built here and travel with those libraries;
# cuDNN is taken from the machine (its sub-libraries are too large to carry).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$root/tools/install_deps.sh"
build="$root/build-gpu"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXRESTORE_CUDA=ON \
    -DXRESTORE_BUILD_EXAMPLES=OFF -DXRESTORE_BUILD_CLI=OFF -DXRESTORE_WARNINGS_AS_ERRORS=ON \
    >/dev/null
targets=$(cd "$root/tests/cuda" && ls test_cuda_*.cu | sed 's/\.cu$//')
# shellcheck disable=SC2086
cmake --build "$build" -j "$(nproc)" --target $targets bench_cuda
stage=$(mktemp -d)
mkdir -p "$stage/bin" "$stage/lib"
for t in $targets; do
    cp "$build/tests/cuda/$t" "$stage/bin/"
done
cp "$build/benchmarks/bench_cuda" "$stage/bin/"
# every non-system library the binaries load, except the driver and cuDNN
for binary in "$stage"/bin/*; do
    ldd "$binary" | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r library; do
    case "$(basename "$library")" in
    libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | ld-linux* | libcuda.so.* | libcudnn*) ;;
    *) cp -L "$library" "$stage/lib/" ;;
    esac
done
# the build's absolute source path: the binaries read data/ and models/ there
echo "$root" >"$stage/source_root"
mkdir -p "$root/.gpu"
tar -C "$stage" -cJf "$root/.gpu/bundle.tar.xz" .
rm -rf "$stage"
ls -la "$root/.gpu/bundle.tar.xz"
