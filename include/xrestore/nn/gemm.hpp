#pragma once
/// @file gemm.hpp
/// Single-precision matrix products for the network layers, through OpenBLAS's CBLAS. The
/// layers split their work into tiles themselves (OpenMP), so each tile's product must run on
/// the calling thread: `blas_single_thread_scope` sets OpenBLAS to one thread for its lifetime
/// and restores the previous count afterwards.
///
/// @code
/// xrestore::nn::blas_single_thread_scope one_thread;
/// xrestore::nn::sgemm(m, n, k, a, lda, b, ldb, 0.0F, c, ldc);   // C = A B, row-major
/// @endcode

#include <cblas.h>

// OpenBLAS (its pthreads and OpenMP builds alike): stop the worker threads; the next threaded
// BLAS call starts them again.
extern "C" int blas_thread_shutdown_(void); // NOLINT(readability-identifier-naming)

#include <cstddef>

namespace xrestore::nn {

/// C = A B + beta C for row-major A (m x k, leading dimension lda), B (k x n, ldb), C (m x n,
/// ldc). With beta == 0 the old contents of C are never read.
inline void sgemm(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
                  const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), 1.0F, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
                c, static_cast<int>(ldc));
}

/// Stop OpenBLAS's idle worker threads. OpenBLAS starts them when the program loads, and they
/// spin (sched_yield) for about 0.1-0.2 s before they sleep: on a small machine they take cores
/// from whatever the program does first, such as loading a network (the c64 U-Net: about 150 ms
/// instead of 85 on 2 cores). The network layers run OpenBLAS on one thread anyway; a later
/// threaded BLAS call starts the workers again. A program that starts by loading weights calls
/// this first (the xrestore CLI does).
inline void stop_idle_blas_threads() {
    static_cast<void>(blas_thread_shutdown_());
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
