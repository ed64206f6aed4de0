#pragma once
/// @file gradient.cuh
/// Finite differences on the device: `cuda::gradient` is the device twin of xrestore::gradient
/// (forward differences with Neumann boundary, C x H x W -> 2 x C x H x W; adjoint = -div), and
/// `cuda::divergence` the device twin of xrestore::divergence. They run
/// kernels::forward_difference_body and kernels::divergence_body.
///
/// @code
/// xrestore::cuda::gradient D(xrestore::gradient({3, 256, 256}));
/// xrestore::device_array<4> g = D.apply(x);
/// xrestore::device_array<3> d = xrestore::cuda::divergence(g);
/// @endcode

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/operators/gradient.hpp"

#include <array>

namespace xrestore::cuda {

namespace detail {

inline void divergence_into(const device_array<4>& p, const shape3& shape, float sign,
                            device_array<3>& out) {
    out.resize(shape);
    const std::size_t count = element_count(shape);
    for_each_index(count,
                   kernels::divergence_body{p.data(), out.data(), count, shape[1], shape[2], sign});
}

} // namespace detail

/// The gradient D : C x H x W -> 2 x C x H x W on device arrays.
class gradient {
public:
    using domain_type = device_array<3>;
    using range_type = device_array<4>;

    /// The device version of `host`.
    explicit gradient(const xrestore::gradient& host) : shape_(host.domain_shape()) {}

    /// g = D x
    device_array<4> apply(const device_array<3>& x) const {
        device_array<4> g;
        apply_into(x, g);
        return g;
    }
    /// out = D x
    void apply_into(const device_array<3>& x, device_array<4>& out) const {
        check_shape(x, shape_, "cuda::gradient::apply", "x");
        out.resize(range_shape());
        const std::size_t count = element_count(shape_);
        for_each_index(count, kernels::forward_difference_body{x.data(), out.data(), count,
                                                               shape_[1], shape_[2]});
    }
    /// x = D^T g = -div g
    device_array<3> adjoint(const device_array<4>& g) const {
        device_array<3> x;
        adjoint_into(g, x);
        return x;
    }
    /// out = D^T g = -div g
    void adjoint_into(const device_array<4>& g, device_array<3>& out) const {
        check_shape(g, range_shape(), "cuda::gradient::adjoint", "g");
        detail::divergence_into(g, shape_, -1.0f, out);
    }

    shape3 domain_shape() const { return shape_; }
    std::array<std::size_t, 4> range_shape() const { return {2, shape_[0], shape_[1], shape_[2]}; }

private:
    shape3 shape_;
};

/// div p = -D^T p for a 2 x C x H x W device field.
inline device_array<3> divergence(const device_array<4>& p) {
    if (p.shape()[0] != 2) {
        throw shape_error(xrestore::detail::concat(
            "cuda::divergence: p must have shape 2 x C x H x W, got ", shape_string(p.shape())));
    }
    const shape3 shape{p.shape()[1], p.shape()[2], p.shape()[3]};
    device_array<3> out;
    detail::divergence_into(p, shape, 1.0f, out);
    return out;
}

} // namespace xrestore::cuda

namespace xrestore {
/// Generic solvers (TV) on device images use the device finite differences.
template <>
struct gradient_operator_for<device_array<3>> {
    using type = cuda::gradient;
};
} // namespace xrestore
