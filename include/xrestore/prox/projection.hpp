#pragma once
/// @file projection.hpp
/// Projections, the proximal maps of indicator functions: onto a box [lo, hi] (any dense
/// vector), and the dual-ball projections after a dual ascent step that primal-dual solvers use
/// for the L1 and the isotropic (2,1) norms (the proximal maps of their conjugates).
///
/// @code
/// xrestore::image c = xrestore::project_box(x, 0.0, 1.0);        // min(max(x, 0), 1)
/// xrestore::project_box_in_place(x, -1.0, 1.0);
/// // kernels::field_ball_step_body, kernels::clip_step_body: p = proj(p + s g)
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/vector_space.hpp"

#include <cmath>
#include <cstddef>

namespace xrestore {

namespace kernels {

/// Projection of a 2 x count field onto { |p_ij| <= radius } after a dual ascent step:
///   q = p + s g,  p = q / max(1, |q| / radius)   (pointwise over the two components)
/// With s = 0 it is the plain projection. This is the prox of the conjugate of radius ||.||_{2,1}.
struct field_ball_step_body {
    float* p;
    const float* g;
    float s;
    float radius;
    std::size_t count;
    XRESTORE_HD void operator()(std::size_t i) const {
        const float a = p[i] + s * g[i];
        const float b = p[count + i] + s * g[count + i];
        const float n = sqrtf(a * a + b * b);
        const float f = n > radius ? radius / n : 1.0f;
        p[i] = a * f;
        p[count + i] = b * f;
    }
};

/// Clip after a dual ascent step: w = min(max(w + s g, -radius), radius) (the prox of the
/// conjugate of radius ||.||_1, pointwise).
struct clip_step_body {
    float* w;
    const float* g;
    float s;
    float radius;
    XRESTORE_HD void operator()(std::size_t i) const {
        float v = w[i] + s * g[i];
        v = v < -radius ? -radius : v;
        w[i] = v > radius ? radius : v;
    }
};

} // namespace kernels

/// x = min(max(x, lo), hi) in place. Throws value_error unless lo <= hi (infinite bounds allowed,
/// NaN not).
template <dense_vector V>
void project_box_in_place(V& x, double lo, double hi) {
    require(!std::isnan(lo) && !std::isnan(hi) && lo <= hi, "project_box", "lo, hi",
            "ordered numbers with lo <= hi", detail::concat(lo, ", ", hi));
    for_each_index_on<V>(
        x.size(), kernels::clip_body{static_cast<float>(lo), static_cast<float>(hi), x.data()});
}

/// min(max(x, lo), hi): the projection onto the box [lo, hi]^n (the prox of its indicator).
template <dense_vector V>
V project_box(const V& x, double lo, double hi) {
    V out = x;
    project_box_in_place(out, lo, hi);
    return out;
}

} // namespace xrestore
