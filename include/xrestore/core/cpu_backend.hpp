#pragma once
/// @file cpu_backend.hpp
/// The CPU backend: runs kernel bodies over an index range with OpenMP (when enabled through the
/// `xrestore::openmp` target) and vectorisable inner loops.

#include <cstddef>
#include <cstdint>

namespace xrestore {

/// Backend tag of host memory (xtensor containers).
struct cpu_tag {};

namespace cpu_backend {

/// Below this many elements loops stay single-threaded (thread start-up costs more).
inline constexpr std::size_t parallel_threshold = 1u << 15;

/// Run body(i) for i in [0, n).
template <class Body>
void for_each_index(std::size_t n, const Body& body) {
    const auto count = static_cast<std::int64_t>(n);
#if defined(_OPENMP)
#pragma omp parallel for simd schedule(static) if (n >= parallel_threshold)
#endif
    for (std::int64_t i = 0; i < count; ++i) {
        body(static_cast<std::size_t>(i));
    }
}

/// Sum of term(i) for i in [0, n), accumulated in double.
template <class Term>
double sum_over_indices(std::size_t n, const Term& term) {
    const auto count = static_cast<std::int64_t>(n);
    double total = 0.0;
#if defined(_OPENMP)
#pragma omp parallel for simd schedule(static) reduction(+ : total) if (n >= parallel_threshold)
#endif
    for (std::int64_t i = 0; i < count; ++i) {
        total += term(static_cast<std::size_t>(i));
    }
    return total;
}

} // namespace cpu_backend

/// Element-wise kernels and reductions of a backend, chosen by its tag at compile time:
///   backend_kernels<Tag>::for_each_index(n, body)      runs body(i) for i < n
///   backend_kernels<Tag>::sum_over_indices(n, term)    returns sum of term(i) in double
/// Generic solver code calls these with the shared kernel bodies; the CUDA backend specialises
/// it in backend/cuda/launch.cuh.
template <class Tag>
struct backend_kernels;

template <>
struct backend_kernels<cpu_tag> {
    template <class Body>
    static void for_each_index(std::size_t n, const Body& body) {
        cpu_backend::for_each_index(n, body);
    }
    template <class Term>
    static double sum_over_indices(std::size_t n, const Term& term) {
        return cpu_backend::sum_over_indices(n, term);
    }
};

} // namespace xrestore
