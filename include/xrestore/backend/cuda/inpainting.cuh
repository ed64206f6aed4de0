#pragma once
/// @file inpainting.cuh
/// The inpainting mask on the device: `cuda::inpainting` is the device twin of
/// xrestore::inpainting (A x = m .* x, self-adjoint and idempotent), running
/// kernels::mask_multiply_body.
///
/// @code
/// xrestore::inpainting mask(xrestore::random_mask({3, 256, 256}, 0.6, 0));
/// xrestore::cuda::inpainting device_mask(mask);   // uploads the mask once
/// xrestore::device_array<3> y = device_mask.apply(x);
/// @endcode

#include "xrestore/backend/cuda/device_array.cuh"
#include "xrestore/backend/cuda/launch.cuh"
#include "xrestore/operators/inpainting.hpp"

#include <memory>
#include <string_view>

namespace xrestore::cuda {

/// A x = m .* x on C x H x W device arrays. Copies share the uploaded mask.
class inpainting {
public:
    using domain_type = device_array<3>;
    using range_type = device_array<3>;

    /// The device version of `host` (uploads its mask).
    explicit inpainting(const xrestore::inpainting& host)
        : mask_(std::make_shared<const device_array<3>>(to_device(host.mask()))),
          missing_fraction_(host.missing_fraction()) {}

    /// y = m .* x
    device_array<3> apply(const device_array<3>& x) const {
        device_array<3> y;
        apply_into(x, y);
        return y;
    }
    /// out = m .* x (out may be x).
    void apply_into(const device_array<3>& x, device_array<3>& out) const {
        multiply(x, out, "cuda::inpainting::apply", "x");
    }
    /// x = m .* y (A is self-adjoint)
    device_array<3> adjoint(const device_array<3>& y) const {
        device_array<3> x;
        adjoint_into(y, x);
        return x;
    }
    /// out = m .* y (out may be y).
    void adjoint_into(const device_array<3>& y, device_array<3>& out) const {
        multiply(y, out, "cuda::inpainting::adjoint", "y");
    }
    /// A^T A x = m .* x
    device_array<3> normal(const device_array<3>& x) const {
        device_array<3> y;
        multiply(x, y, "cuda::inpainting::normal", "x");
        return y;
    }

    shape3 domain_shape() const { return mask_->shape(); }
    shape3 range_shape() const { return mask_->shape(); }
    /// The 0/1 mask on the device.
    const device_array<3>& mask() const { return *mask_; }
    double missing_fraction() const { return missing_fraction_; }

private:
    void multiply(const device_array<3>& x, device_array<3>& out, std::string_view where,
                  std::string_view argument) const {
        check_shape(x, domain_shape(), where, argument);
        out.resize(x.shape());
        for_each_index(x.size(), kernels::mask_multiply_body{mask_->data(), x.data(), out.data()});
    }

    std::shared_ptr<const device_array<3>> mask_;
    double missing_fraction_ = 0.0;
};

} // namespace xrestore::cuda
