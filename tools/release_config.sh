# Sourced by tools/run_main.sh and tools/run_tests.sh: the one configuration of the Release build
# in build/, so that the main job and the test suite share it (the same flags: nothing is
# compiled twice when both run, as in CI).
#   xrestore_configure_release ROOT
xrestore_configure_release() {
    local root=$1
    # Without a GPU the CUDA code is only compiled and linked (its tests report skipped): PTX
    # for one virtual architecture instead of machine code for two is a quarter less nvcc time.
    # With a GPU the CMake default (sm_80 and sm_90 code, PTX of sm_90) stays.
    local cuda_arch=(-DCMAKE_CUDA_ARCHITECTURES=90-virtual)
    if nvidia-smi -L >/dev/null 2>&1; then
        cuda_arch=("-DCMAKE_CUDA_ARCHITECTURES=80-real;90")
    fi
    cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DXRESTORE_WARNINGS_AS_ERRORS=ON "${cuda_arch[@]}" >/dev/null
}
