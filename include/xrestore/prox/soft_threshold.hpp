#pragma once
/// @file soft_threshold.hpp
/// Soft thresholding, the proximal map of the L1 norm, and the L1 norm itself, on any dense
/// vector (element-wise XRESTORE_HD bodies run by the vector's backend):
///   soft_threshold(x, lambda) = argmin_z 1/2 ||z - x||^2 + lambda ||z||_1
///                             = sign(x) max(|x| - lambda, 0)
///
/// @code
/// xrestore::image s = xrestore::soft_threshold(x, 0.1);      // prox of 0.1 ||.||_1
/// xrestore::soft_threshold_into(x, 0.1, x);                  // in place
/// double n = xrestore::l1_norm(s);                           // ||s||_1, in double
/// @endcode

#include "xrestore/core/host_device.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/prox/detail/threshold.hpp"

#include <cstddef>

namespace xrestore {

namespace kernels {

/// sign(v) max(|v| - t, 0) for t >= 0
XRESTORE_HD inline float soft_threshold_value(float v, float t) {
    return v > t ? v - t : (v < -t ? v + t : 0.0f);
}

/// out[i] = sign(x[i]) max(|x[i]| - t, 0) (out may be x)
struct soft_threshold_body {
    const float* x;
    float* out;
    float t;
    XRESTORE_HD void operator()(std::size_t i) const { out[i] = soft_threshold_value(x[i], t); }
};

/// |x[i]| in double (the term of an L1 norm)
struct abs_term {
    const float* x;
    XRESTORE_HD double operator()(std::size_t i) const {
        const double v = static_cast<double>(x[i]);
        return v < 0.0 ? -v : v;
    }
};

} // namespace kernels

/// out = sign(x) max(|x| - lambda, 0), element-wise (out is resized when needed; may be x).
/// Throws value_error for lambda < 0 or non-finite.
template <dense_vector V>
void soft_threshold_into(const V& x, double lambda, V& out) {
    detail::require_threshold(lambda, "soft_threshold", "lambda");
    if (&out != &x && out.shape() != x.shape()) {
        out.resize(x.shape());
    }
    for_each_index_on<V>(
        x.size(), kernels::soft_threshold_body{x.data(), out.data(), static_cast<float>(lambda)});
}

/// sign(x) max(|x| - lambda, 0): the prox of lambda ||.||_1. Throws value_error for lambda < 0.
template <dense_vector V>
V soft_threshold(const V& x, double lambda) {
    V out(x.shape());
    soft_threshold_into(x, lambda, out);
    return out;
}

/// ||x||_1, accumulated in double.
template <dense_vector V>
double l1_norm(const V& x) {
    return sum_over_indices_on<V>(x.size(), kernels::abs_term{x.data()});
}

} // namespace xrestore
