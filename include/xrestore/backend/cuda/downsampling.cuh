#pragma once
/// @file downsampling.cuh
/// Downsampling on the device: `cuda::decimation` (y(c,i,j) = x(c, f i, f j), adjoint the
/// zero-filled upsampling; kernels::decimate_body and kernels::zero_fill_upsample_body) and
/// `cuda::downsampling`, the device twin of xrestore::downsampling (decimation after the
/// optional anti-aliasing blur, which runs as a cuda::convolution).
///
/// @code
/// xrestore::downsampling down({3, 512, 512}, 2, {.antialias = true});
/// xrestore::cuda::downsampling device_down(down);
/// xrestore::device_array<3> y = device_down.apply(x);   // 3 x 256 x 256
/// @endcode

#include "xrestore/backend/cuda/convolution.cuh"
#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/operators/combinators.hpp"
#include "xrestore/operators/downsampling.hpp"

#include <optional>

namespace xrestore::cuda {

/// Plain decimation by an integer factor on C x H x W device arrays.
class decimation {
public:
    using domain_type = device_array<3>;
    using range_type = device_array<3>;

    /// The device version of `host`.
    explicit decimation(const xrestore::decimation& host)
        : in_shape_(host.domain_shape()), out_shape_(host.range_shape()), factor_(host.factor()) {}

    /// y = S x
    device_array<3> apply(const device_array<3>& x) const {
        device_array<3> y;
        apply_into(x, y);
        return y;
    }
    /// out = S x (out may be x)
    void apply_into(const device_array<3>& x, device_array<3>& out) const {
        check_shape(x, in_shape_, "cuda::downsampling::apply", "x");
        if (&x == &out) {
            const device_array<3> copy = x;
            apply_into(copy, out);
            return;
        }
        out.resize(out_shape_);
        for_each_index(out.size(),
                       kernels::decimate_body{x.data(), out.data(), in_shape_[1], in_shape_[2],
                                              out_shape_[1], out_shape_[2], factor_});
    }
    /// x = S^T y (zero-filled upsampling)
    device_array<3> adjoint(const device_array<3>& y) const {
        device_array<3> x;
        adjoint_into(y, x);
        return x;
    }
    /// out = S^T y (out may be y)
    void adjoint_into(const device_array<3>& y, device_array<3>& out) const {
        check_shape(y, out_shape_, "cuda::downsampling::adjoint", "y");
        if (&y == &out) {
            const device_array<3> copy = y;
            adjoint_into(copy, out);
            return;
        }
        out.resize(in_shape_);
        for_each_index(out.size(), kernels::zero_fill_upsample_body{
                                       y.data(), out.data(), in_shape_[1], in_shape_[2],
                                       out_shape_[1], out_shape_[2], factor_});
    }

    shape3 domain_shape() const { return in_shape_; }
    shape3 range_shape() const { return out_shape_; }
    std::size_t factor() const { return factor_; }

private:
    shape3 in_shape_;
    shape3 out_shape_;
    std::size_t factor_;
};

/// Downsampling with optional anti-aliasing on the device: y = S K x, adjoint K^T S^T y.
class downsampling {
public:
    using domain_type = device_array<3>;
    using range_type = device_array<3>;

    /// The device version of `host` (uploads its anti-aliasing kernel when it has one).
    explicit downsampling(const xrestore::downsampling& host) : decimate_(host.decimator()) {
        if (host.blur() != nullptr) {
            antialiased_.emplace(decimate_, convolution(*host.blur()));
        }
    }

    device_array<3> apply(const device_array<3>& x) const {
        device_array<3> y;
        apply_into(x, y);
        return y;
    }
    void apply_into(const device_array<3>& x, device_array<3>& out) const {
        if (antialiased_) {
            antialiased_->apply_into(x, out);
        } else {
            decimate_.apply_into(x, out);
        }
    }
    device_array<3> adjoint(const device_array<3>& y) const {
        device_array<3> x;
        adjoint_into(y, x);
        return x;
    }
    void adjoint_into(const device_array<3>& y, device_array<3>& out) const {
        if (antialiased_) {
            antialiased_->adjoint_into(y, out);
        } else {
            decimate_.adjoint_into(y, out);
        }
    }

    shape3 domain_shape() const { return decimate_.domain_shape(); }
    shape3 range_shape() const { return decimate_.range_shape(); }
    std::size_t factor() const { return decimate_.factor(); }

private:
    decimation decimate_;
    std::optional<composed_operator<decimation, convolution>> antialiased_;
};

} // namespace xrestore::cuda
