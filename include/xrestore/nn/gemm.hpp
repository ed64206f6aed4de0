#pragma once
/// @file gemm.hpp
/// OpenBLAS's threads and kernel sets, for the programs that link it. The network layers no
/// longer call it (their products run on the packed kernel of micro_gemm.hpp, and the training
/// layers' float products too where AVX-512 is present); the training layers' double products
/// do, tile by tile: `blas_single_thread_scope` sets OpenBLAS to one thread for its lifetime and
/// restores the previous count afterwards. The CLI and the benchmarks stop OpenBLAS's idle
/// threads first and, where OpenBLAS misdetects the processor, restart with its fast kernels.
///
/// @code
/// xrestore::nn::restart_with_fast_blas_kernels(argv); // first in main
/// xrestore::nn::stop_idle_blas_threads();
/// @endcode

#include <cblas.h>

// OpenBLAS (its pthreads and OpenMP builds alike): stop the worker threads; the next threaded
// BLAS call starts them again.
extern "C" int blas_thread_shutdown_(void); // NOLINT(readability-identifier-naming)

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <string_view>

#if defined(__linux__)
#include <unistd.h>
#endif

namespace xrestore::nn {

/// Stop OpenBLAS's idle worker threads. OpenBLAS starts them when the program loads, and they
/// spin (sched_yield) for about 0.1-0.2 s before they sleep: on a small machine they take cores
/// from whatever the program does first, such as loading a network (the c64 U-Net: about 150 ms
/// instead of 85 on 2 cores). xrestore runs OpenBLAS on one thread anyway; a later threaded BLAS
/// call starts the workers again. A program that starts by loading weights calls
/// this first (the xrestore CLI does).
inline void stop_idle_blas_threads() {
    static_cast<void>(blas_thread_shutdown_());
}

/// Set OpenBLAS to one thread for good. xrestore parallelises its products itself (each layer's
/// tiles over the OpenMP threads) and never asks OpenBLAS for threads; but
/// `blas_single_thread_scope`, restoring a larger count after every layer, wakes OpenBLAS's
/// workers, which then spin beside the next layers (c32 U-Net at 256 x 256 on 2 cores, runs
/// alternating: 133 ms with OpenBLAS at one thread, 140-149 ms with two). A program whose BLAS
/// calls are all xrestore's calls this once, first (the xrestore CLI does); the scopes then change
/// nothing.
inline void use_single_threaded_blas() {
    openblas_set_num_threads(1);
}

/// The OpenBLAS kernel set this processor should have when OpenBLAS chose a generic one, else
/// "". OpenBLAS picks its kernels by the processor's model number when it loads; one that it does
/// not know (Debian 12's OpenBLAS 0.3.21 on a Xeon of family 6, model 207, for one) gets its SSE3
/// "Prescott" kernels, with which the U-Net's products ran at a third of the speed of its
/// AVX-512 "SkylakeX" kernels on the same processor when they went through OpenBLAS (c32 U-Net at
/// 256 x 256: 469 ms instead of 129); what still calls OpenBLAS (double products, xtensor-blas)
/// is as slow. "SkylakeX" with AVX-512 F, CD, BW, DQ and VL; "Haswell" with AVX2 and FMA; "" when
/// OpenBLAS chose a kernel set of its own (it knew the processor), on other processors, and when
/// the user set OPENBLAS_CORETYPE.
inline std::string blas_kernel_correction() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr) {
        return {};
    }
    static constexpr std::string_view generic[] = {"Prescott", "Core2",  "Penryn",    "Dunnington",
                                                   "Katmai",   "Banias", "Northwood", "unknown"};
    const char* name = openblas_get_corename();
    const std::string_view chosen = name == nullptr ? std::string_view("unknown") : name;
    if (std::find(std::begin(generic), std::end(generic), chosen) == std::end(generic)) {
        return {};
    }
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl")) {
        return "SkylakeX";
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return "Haswell";
    }
#endif
    return {};
}

/// When blas_kernel_correction() names a kernel set, start this program again (same arguments,
/// same process id) with OPENBLAS_CORETYPE set to it: OpenBLAS reads the variable only when it
/// loads. Returns, having done nothing, otherwise or if the restart fails. Call it first in main,
/// before any output or thread (the xrestore CLI and the U-Net benchmark do).
inline void restart_with_fast_blas_kernels([[maybe_unused]] char** argv) {
#if defined(__linux__)
    const std::string kernels = blas_kernel_correction();
    if (kernels.empty()) {
        return;
    }
    ::setenv("OPENBLAS_CORETYPE", kernels.c_str(), 1);
    ::execv("/proc/self/exe", argv);
    ::unsetenv("OPENBLAS_CORETYPE"); // the restart failed: carry on with OpenBLAS's choice
#endif
}

/// Runs OpenBLAS single-threaded while alive (the caller parallelises over tiles).
class blas_single_thread_scope {
public:
    blas_single_thread_scope() : previous_(openblas_get_num_threads()) {
        if (previous_ != 1) {
            openblas_set_num_threads(1);
        }
    }
    ~blas_single_thread_scope() {
        if (previous_ != 1) {
            openblas_set_num_threads(previous_);
        }
    }
    blas_single_thread_scope(const blas_single_thread_scope&) = delete;
    blas_single_thread_scope& operator=(const blas_single_thread_scope&) = delete;

private:
    int previous_;
};

} // namespace xrestore::nn
