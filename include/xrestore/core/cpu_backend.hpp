#pragma once
/// @file cpu_backend.hpp
/// The CPU backend: runs kernel bodies over an index range with OpenMP (when enabled through the
/// `xrestore::openmp` target) and vectorisable inner loops, and `backend_kernels<Tag>`, what
/// every backend supplies to the generic vector space, operators and metrics.
///
/// @code
/// using cpu = xrestore::backend_kernels<xrestore::cpu_tag>;
/// cpu::for_each_index(n, xrestore::kernels::axpy_body{a, x, y});          // y += a x
/// double d = cpu::sum_over_indices(n, xrestore::kernels::dot_term{x, y}); // <x, y>
/// @endcode

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace xrestore {

/// Backend tag of host memory (xtensor containers).
struct cpu_tag {};

namespace cpu_backend {

/// Below this many elements loops stay single-threaded (thread start-up costs more).
inline constexpr std::size_t parallel_threshold = 1u << 15;

/// Run body(i) for i in [0, n). `work` is the number of elements each body(i) handles (a row
/// body, say): the loop runs in parallel when n work reaches parallel_threshold.
template <class Body>
void for_each_index(std::size_t n, const Body& body, [[maybe_unused]] std::size_t work = 1) {
    const auto count = static_cast<std::int64_t>(n);
#if defined(_OPENMP)
#pragma omp parallel if (n * work >= parallel_threshold)
#endif
    {
        // A private copy: its fields stay in registers (the stores of the body cannot alias
        // them), so the loop vectorises.
        const Body local = body;
#if defined(_OPENMP)
#pragma omp for simd schedule(static)
#endif
        for (std::int64_t i = 0; i < count; ++i) {
            local(static_cast<std::size_t>(i));
        }
    }
}

/// Sum of term(i) for i in [0, n), accumulated in double. Each index is visited once, so a term
/// may also write (kernels::cg_step_term).
template <class Term>
double sum_over_indices(std::size_t n, const Term& term) {
    const auto count = static_cast<std::int64_t>(n);
    double total = 0.0;
#if defined(_OPENMP)
#pragma omp parallel reduction(+ : total) if (n >= parallel_threshold)
#endif
    {
        // A private copy, as in for_each_index: the stores of a writing term cannot alias its
        // fields, which stay in registers, so the loop vectorises. Each thread sums one
        // contiguous block (the split of a static schedule).
        const Term local = term;
        std::int64_t begin = 0;
        std::int64_t end = count;
#if defined(_OPENMP)
        const auto threads = static_cast<std::int64_t>(omp_get_num_threads());
        const auto thread = static_cast<std::int64_t>(omp_get_thread_num());
        const std::int64_t share = count / threads;
        const std::int64_t extra = count % threads;
        begin = thread * share + std::min(thread, extra);
        end = begin + share + (thread < extra ? 1 : 0);
#endif
        double part = 0.0;
#if defined(_OPENMP)
#pragma omp simd reduction(+ : part)
#endif
        for (std::int64_t i = begin; i < end; ++i) {
            part += local(static_cast<std::size_t>(i));
        }
        total += part;
    }
    return total;
}

/// out[s] = sum of term(s * length + i) for i < length, s < segments, each in double in
/// increasing i (per-channel sums, say).
template <class Term>
void segment_sums(std::size_t segments, std::size_t length, const Term& term, double* out) {
    for (std::size_t s = 0; s < segments; ++s) {
        double total = 0.0;
        for (std::size_t i = 0; i < length; ++i) {
            total += term(s * length + i);
        }
        out[s] = total;
    }
}

} // namespace cpu_backend

/// What a backend supplies, chosen by its tag at compile time:
///   for_each_index(n, body)                    runs body(i) for i < n
///   sum_over_indices(n, term)                  returns sum of term(i) in double
///   segment_sums(segments, length, term, out)  out[s] = sum of term(s * length + i), in its memory
///   buffer<T>                                  typed storage in its memory: buffer<T>(count),
///                                              buffer<T>(std::vector<T>) (a copy), data(), size()
///   copy_to_host(from, count, to, what)        count values from its memory to host memory
/// and optionally for_each_tile<Tile>(planes, rows, cols, body), a launch of shared-memory tiles
/// (see backend/cuda/tiled.cuh). The generic vector space, operators and metrics run the shared
/// kernel bodies through these; the CUDA backend specialises it in backend/cuda/launch.cuh.
template <class Tag>
struct backend_kernels;

template <>
struct backend_kernels<cpu_tag> {
    template <class T>
    using buffer = std::vector<T>;

    template <class Body>
    static void for_each_index(std::size_t n, const Body& body) {
        cpu_backend::for_each_index(n, body);
    }
    template <class Term>
    static double sum_over_indices(std::size_t n, const Term& term) {
        return cpu_backend::sum_over_indices(n, term);
    }
    template <class Term>
    static void segment_sums(std::size_t segments, std::size_t length, const Term& term,
                             double* out) {
        cpu_backend::segment_sums(segments, length, term, out);
    }
    template <class T>
    static void copy_to_host(const T* from, std::size_t count, T* to, std::string_view /*what*/) {
        std::copy(from, from + count, to);
    }
};

/// Typed storage of `Tag`'s backend (kernel weights, index maps, partial sums).
template <class Tag, class T>
using backend_buffer_t = typename backend_kernels<Tag>::template buffer<T>;

} // namespace xrestore
