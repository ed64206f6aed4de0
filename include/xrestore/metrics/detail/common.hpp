#pragma once
/// @file common.hpp
/// Internals shared by the metric headers: argument checks, scipy.ndimage's 'reflect' boundary,
/// luminance and a deterministic parallel loop. Not part of the public API.
///
/// @code
/// xrestore::detail::check_pair(reference, estimate, "ssim");
/// auto i = xrestore::detail::reflect_index(-2, 10); // 1
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

// Marks an inner loop whose iterations are independent (no aliasing between its arrays), so it
// vectorises with or without OpenMP.
#if defined(_OPENMP)
#define XRESTORE_DETAIL_SIMD_LOOP _Pragma("omp simd")
#elif defined(__clang__)
#define XRESTORE_DETAIL_SIMD_LOOP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define XRESTORE_DETAIL_SIMD_LOOP _Pragma("GCC ivdep")
#else
#define XRESTORE_DETAIL_SIMD_LOOP
#endif

// Hot loops get a second copy compiled for AVX2 + FMA, chosen at run time, when the compiler
// supports function-level targets and the build does not already assume AVX2 (x86-64 only).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__) &&    \
    !defined(__AVX2__) && !defined(XRESTORE_NO_DISPATCH)
#define XRESTORE_DETAIL_X86_DISPATCH 1
#else
#define XRESTORE_DETAIL_X86_DISPATCH 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define XRESTORE_DETAIL_ALWAYS_INLINE __attribute__((always_inline))
#else
#define XRESTORE_DETAIL_ALWAYS_INLINE
#endif

namespace xrestore::detail {

#if XRESTORE_DETAIL_X86_DISPATCH
/// Whether this CPU runs AVX2 and FMA code (checked once).
inline bool cpu_has_avx2_fma() {
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
}
#endif

/// True when every one of the n floats is finite (an exponent of all ones marks inf and NaN);
/// an integer reduction, so it vectorises without fast-math.
inline bool all_finite(const float* p, std::size_t n) {
    std::uint32_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, p + i, sizeof bits);
        bad |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

/// Flat index of the first non-finite entry of an array of n, or n when all are finite, found by
/// bisection through `has_nonfinite(first, count)` (true when entries [first, first + count)
/// hold a NaN or an infinity): one call when all are finite, about log2(n) + 1 otherwise. With a
/// reduction per call it finds the entry on any backend (require_finite on device arrays).
template <class RangeHasNonfinite>
std::size_t first_nonfinite_index(std::size_t n, const RangeHasNonfinite& has_nonfinite) {
    if (n == 0 || !has_nonfinite(std::size_t{0}, n)) {
        return n;
    }
    std::size_t lo = 0; // [0, lo) finite, [lo, hi) holds a non-finite entry
    std::size_t hi = n;
    while (hi - lo > 1) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (has_nonfinite(lo, mid - lo)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    return lo;
}

/// Throw value_error naming the first non-finite element of `x` (fast path: no error, one pass).
inline void require_finite(const image& x, std::string_view where, std::string_view argument) {
    if (!all_finite(x.data(), x.size())) {
        check_finite(x, where, argument);
    }
}

/// The same check on a dense array of any backend, with the same message ("<where>: <argument>
/// must contain only finite values, got nan at flat index 63"): one reduction when every entry
/// is finite, otherwise a bisection of reductions finds the entry, whose value is then read back.
template <dense_vector V>
void require_finite(const V& a, std::string_view where, std::string_view argument) {
    const float* x = a.data();
    const auto has_nonfinite = [x](std::size_t first, std::size_t count) {
        // sum of (v - v): NaN exactly when the range holds a NaN or an infinity
        return std::isnan(sum_over_indices_on<V>(count, kernels::nonfinite_probe_term{x + first}));
    };
    const std::size_t index = first_nonfinite_index(a.size(), has_nonfinite);
    if (index == a.size()) {
        return;
    }
    // the entry itself, bit for bit (a sum would not keep a NaN's sign)
    float value = 0.0f;
    backend_kernels<backend_t<V>>::copy_to_host(
        x + index, 1, &value, concat(where, ": reading ", argument, "[", index, "]"));
    throw value_error(concat(where, ": ", argument, " must contain only finite values, got ", value,
                             " at flat index ", index));
}

/// Both images non-empty, finite and of the same shape (images or dense arrays of one type).
template <dense_vector V>
void check_pair(const V& reference, const V& estimate, std::string_view where) {
    if (reference.shape() != estimate.shape()) {
        throw shape_error(concat(where, ": image must have the reference's shape ",
                                 shape_string(reference.shape()), ", got ",
                                 shape_string(estimate.shape())));
    }
    if (reference.size() == 0) {
        throw value_error(
            concat(where, ": images must be non-empty, got ", shape_string(reference.shape())));
    }
    require_finite(reference, where, "reference");
    require_finite(estimate, where, "image");
}

/// Check a mask against an image shape C x H x W: 1 x H x W (shared by the channels) or
/// C x H x W, finite. Returns true when the mask is shared.
inline bool check_mask(const image& mask, const shape3& shape, std::string_view where) {
    const bool shared =
        mask.shape()[0] == 1 && mask.shape()[1] == shape[1] && mask.shape()[2] == shape[2];
    const bool full =
        mask.shape()[0] == shape[0] && mask.shape()[1] == shape[1] && mask.shape()[2] == shape[2];
    if (!shared && !full) {
        throw shape_error(concat(where, ": mask must have shape 1 x ", shape[1], " x ", shape[2],
                                 " or ", shape_string(shape), ", got ",
                                 shape_string(mask.shape())));
    }
    require_finite(mask, where, "mask");
    return mask.shape()[0] == 1;
}

/// Check a mask for a measure that compares one plane per image (the luminance): 1 x H x W for
/// images of shape C x H x W, finite. `what` names the measure in the message ("GMSD").
inline void require_shared_mask(const image& mask, const shape3& shape, std::string_view where,
                                std::string_view what) {
    if (!check_mask(mask, shape, where)) {
        throw shape_error(concat(where, ": the mask must be 1 x H x W (", what,
                                 " compares the luminance), got ", shape_string(mask.shape()),
                                 " for images ", shape_string(shape)));
    }
}

/// scipy.ndimage mode 'reflect' (half-sample symmetric, edge repeated): d c b a | a b c d | d c b a
inline std::ptrdiff_t reflect_index(std::ptrdiff_t i, std::ptrdiff_t n) {
    if (i >= 0 && i < n) {
        return i;
    }
    const std::ptrdiff_t period = 2 * n;
    i %= period;
    if (i < 0) {
        i += period;
    }
    return i < n ? i : period - 1 - i;
}

/// ITU-R BT.601 luma weights (GMSD, laplacian_variance).
inline constexpr std::array<double, 3> bt601_weights{0.299, 0.587, 0.114};
/// skimage.color.rgb2gray weights (ITU-R BT.709, as used by blur_effect).
inline constexpr std::array<double, 3> rgb2gray_weights{0.2125, 0.7154, 0.0721};

/// H x W luminance of a 1- or 3-channel image, in double: scale * (w0 R + w1 G + w2 B), or
/// scale * x for one channel. Other channel counts throw shape_error.
inline std::vector<double> luminance(const image& x, const std::array<double, 3>& weights,
                                     double scale, std::string_view where) {
    const std::size_t c = x.shape()[0];
    const std::size_t n = x.shape()[1] * x.shape()[2];
    if (c != 1 && c != 3) {
        throw shape_error(concat(where, ": image must have 1 (gray) or 3 (RGB) channels, got ",
                                 shape_string(x.shape())));
    }
    std::vector<double> y(n);
    const float* p = x.data();
    if (c == 1) {
        for (std::size_t i = 0; i < n; ++i) {
            y[i] = scale * static_cast<double>(p[i]);
        }
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            // Y = wr R + wg G + wb B
            const double v = weights[0] * static_cast<double>(p[i]) +
                             weights[1] * static_cast<double>(p[n + i]) +
                             weights[2] * static_cast<double>(p[2 * n + i]);
            y[i] = scale * v;
        }
    }
    return y;
}

/// Number of threads an OpenMP parallel region would use here (1 without OpenMP).
inline std::size_t max_threads() {
#if defined(_OPENMP)
    return static_cast<std::size_t>(omp_get_max_threads());
#else
    return 1;
#endif
}

/// Index of the calling thread inside a parallel region (0 without OpenMP).
inline std::size_t thread_index() {
#if defined(_OPENMP)
    return static_cast<std::size_t>(omp_get_thread_num());
#else
    return 0;
#endif
}

/// Run task(t, thread) for t in [0, count) on up to max_threads() threads, dynamically scheduled.
/// `task` must not throw. Results that are summed must be stored per task and reduced in task
/// order by the caller, which keeps them independent of the thread count.
template <class Task>
void parallel_tasks(std::size_t count, bool parallel, const Task& task) {
    const auto n = static_cast<std::int64_t>(count);
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (parallel && count > 1)
#endif
    for (std::int64_t t = 0; t < n; ++t) {
        task(static_cast<std::size_t>(t), thread_index());
    }
    (void)parallel;
}

} // namespace xrestore::detail
