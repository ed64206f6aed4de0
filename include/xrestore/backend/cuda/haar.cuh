#pragma once
/// @file haar.cuh
/// The multi-level 2-D Haar transform on the device: `cuda::haar_wavelet` is the device twin of
/// xrestore::haar_wavelet (orthonormal; apply = forward, adjoint = inverse), running the same
/// kernels::haar_step_body passes (rows then columns per level forward, the reverse inverse).
///
/// @code
/// xrestore::cuda::haar_wavelet W(xrestore::haar_wavelet({3, 256, 256}, 4));
/// xrestore::device_array<3> w = W.apply(x);
/// xrestore::device_array<3> back = W.adjoint(w);   // == x up to rounding
/// @endcode

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/operators/haar.hpp"

#include <cstddef>
#include <utility>
#include <vector>

namespace xrestore::cuda {

/// The orthonormal multi-level Haar transform of C x H x W device arrays.
class haar_wavelet {
public:
    using domain_type = device_array<3>;
    using range_type = device_array<3>;

    /// The device version of `host` (same shape and levels).
    explicit haar_wavelet(const xrestore::haar_wavelet& host)
        : shape_(host.domain_shape()), blocks_(host.blocks()) {}

    /// w = W x
    device_array<3> apply(const device_array<3>& x) const {
        device_array<3> out;
        apply_into(x, out);
        return out;
    }
    /// out = W x (out may be x)
    void apply_into(const device_array<3>& x, device_array<3>& out) const {
        check_shape(x, shape_, "cuda::haar_wavelet::apply", "x");
        transform(x, out, false);
    }
    /// x = W^T w = W^-1 w
    device_array<3> adjoint(const device_array<3>& w) const {
        device_array<3> out;
        adjoint_into(w, out);
        return out;
    }
    /// out = W^T w (out may be w)
    void adjoint_into(const device_array<3>& w, device_array<3>& out) const {
        check_shape(w, shape_, "cuda::haar_wavelet::adjoint", "w");
        transform(w, out, true);
    }
    /// The inverse transform, the same as adjoint.
    device_array<3> inverse(const device_array<3>& w) const { return adjoint(w); }

    shape3 domain_shape() const { return shape_; }
    shape3 range_shape() const { return shape_; }
    std::size_t levels() const { return blocks_.size(); }

private:
    void transform(const device_array<3>& in, device_array<3>& out, bool inverse) const {
        vector_space<device_array<3>>::copy(in, out);
        device_array<3> scratch(shape_);
        const std::size_t levels = blocks_.size();
        for (std::size_t step = 0; step < levels; ++step) {
            const auto [h, w] = blocks_[inverse ? levels - 1 - step : step];
            const std::size_t count = shape_[0] * h * w;
            // forward: rows then columns; inverse: columns then rows
            const bool first_along_width = !inverse;
            for_each_index(count,
                           kernels::haar_step_body{out.data(), scratch.data(), shape_[1], shape_[2],
                                                   h, w, first_along_width, inverse});
            for_each_index(count,
                           kernels::haar_step_body{scratch.data(), out.data(), shape_[1], shape_[2],
                                                   h, w, !first_along_width, inverse});
        }
    }

    shape3 shape_;
    std::vector<std::pair<std::size_t, std::size_t>> blocks_;
};

} // namespace xrestore::cuda

namespace xrestore {
/// Generic solvers (FISTA, TV-Haar) on device images use the device transform.
template <>
struct haar_transform_for<device_array<3>> {
    using type = cuda::haar_wavelet;
};
} // namespace xrestore
