#!/usr/bin/env bash
# Build xrestore and run the whole test suite (unit tests, golden-file comparisons, packaging
# and compile-failure tests). Installs its own dependencies first.
# Usage: tools/run_tests.sh              Release build in build/ (with the CUDA backend's tests,
#                                        label gpu, when nvcc is found: built always, run on a GPU,
#                                        reported as skipped without one)
#        tools/run_tests.sh --sanitize   AddressSanitizer + UBSan build in build-sanitize/ (host
#                                        code only: the CUDA backend is off; the CLI and its
#                                        end-to-end tests included)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tools/release_config.sh"
"$root/tools/install_deps.sh"

jobs=$(nproc)
# Solver loops alternate OpenMP regions with serial work: do not let idle threads spin.
export OMP_WAIT_POLICY=passive
if [[ "${1:-}" == "--sanitize" ]]; then
    build="$root/build-sanitize"
    # -g1: line tables only (file:line in the sanitizers' stack traces), a third less compile
    # time and object size than -g
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DXRESTORE_SANITIZE=ON \
        -DXRESTORE_BUILD_BENCHMARKS=OFF -DXRESTORE_BUILD_EXAMPLES=OFF -DXRESTORE_BUILD_CLI=ON \
        -DXRESTORE_WARNINGS_AS_ERRORS=ON -DXRESTORE_CUDA=OFF >/dev/null
    cmake --build "$build" -j "$jobs"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # --timeout: a sanitizer failure with OpenBLAS threads alive can hang at exit; fail instead
    ctest --test-dir "$build" --output-on-failure -j "$jobs" -LE packaging --timeout 900
else
    build="$root/build"
    xrestore_configure_release "$root"
    cmake --build "$build" -j "$jobs"
    ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600
fi
