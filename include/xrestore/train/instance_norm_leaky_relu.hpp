#pragma once
/// @file instance_norm_leaky_relu.hpp
/// Instance norm without affine parameters followed by LeakyReLU, fused into one layer: the
/// pair every U-Net block applies after its convolutions. The values are those of
/// train::instance_norm then train::leaky_relu (up to rounding), in fewer passes over memory:
/// forward computes the plane statistics, then y = lrelu((x - m) r) in one pass; it keeps x
/// itself (moved in when it is a temporary) with m and r, and backward recomputes x^ = (x - m) r
/// where it needs it: one pass for the plane sums of g = dy lrelu'(x^) and g x^, one for
/// dx = r (g - mean(g) - x^ mean(g x^)).
///
/// @code
/// xrestore::train::instance_norm_leaky_relu<float> act(32, 0.2F);
/// auto y = act.forward(conv.forward(x));   // the convolution's output is moved in
/// auto dx = act.backward(dy);
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/train/detail/layer_checks.hpp"
#include "xrestore/train/kernels/norm_bodies.hpp"
#include "xrestore/train/parameter.hpp"

#include <xtensor/xtensor.hpp>

#include <cstddef>
#include <utility>
#include <vector>

namespace xrestore::train {

/// InstanceNorm2d(channels, affine=False, eps) then LeakyReLU(slope), fused (see the file
/// comment).
template <class T>
class instance_norm_leaky_relu {
public:
    instance_norm_leaky_relu(std::size_t channels, T slope, double eps = 1e-5)
        : channels_(channels), slope_(slope), eps_(eps) {
        constexpr const char* where = "instance_norm_leaky_relu";
        require(channels_ >= 1, where, "channels", "at least 1", channels_);
        require(eps_ > 0.0, where, "eps", "positive", eps_);
        if (!(slope >= T(0))) {
            throw value_error(xrestore::detail::describe(where, "slope", ">= 0", slope));
        }
    }

    /// y = lrelu((x - m) / sqrt(v + eps)) per plane; keeps a copy of x.
    tensor4<T> forward(const tensor4<T>& x) { return forward(tensor4<T>(x)); }

    /// As above, keeping x itself (no copy).
    tensor4<T> forward(tensor4<T>&& x) {
        constexpr const char* where = "instance_norm_leaky_relu";
        detail::require_input_channels(x, channels_, where);
        x_ = std::move(x);
        planes_ = x_.shape(0) * x_.shape(1);
        plane_ = x_.shape(2) * x_.shape(3);
        const kernels::norm_groups groups{x_.shape(0), channels_, plane_, false};
        mean_ = xt::xtensor<T, 1>::from_shape({planes_});
        // the statistics body also writes the variance, which nothing here reads later
        xt::xtensor<T, 1> variance = xt::xtensor<T, 1>::from_shape({planes_});
        inv_std_ = xt::xtensor<T, 1>::from_shape({planes_});
        cpu_backend::for_each_index(planes_,
                                    kernels::norm_statistics_body<T>{x_.data(), groups, eps_,
                                                                     mean_.data(), variance.data(),
                                                                     inv_std_.data()},
                                    plane_);
        tensor4<T> y = tensor4<T>::from_shape(x_.shape());
        cpu_backend::for_each_index(
            planes_,
            kernels::norm_leaky_forward_body<T>{x_.data(), plane_, mean_.data(), inv_std_.data(),
                                                slope_, y.data()},
            plane_);
        forward_done_ = true;
        return y;
    }

    /// dL/dx from dL/dy.
    tensor4<T> backward(const tensor4<T>& dy) {
        constexpr const char* where = "instance_norm_leaky_relu";
        train::detail::require_forward(forward_done_, where);
        train::detail::require_gradient_shape(dy, x_.shape(), where);
        xt::xtensor<T, 1> sum_g = xt::xtensor<T, 1>::from_shape({planes_});
        xt::xtensor<T, 1> sum_g_xhat = xt::xtensor<T, 1>::from_shape({planes_});
        cpu_backend::for_each_index(planes_,
                                    kernels::norm_leaky_backward_sums_body<T>{
                                        x_.data(), dy.data(), plane_, mean_.data(), inv_std_.data(),
                                        slope_, sum_g.data(), sum_g_xhat.data()},
                                    plane_);
        tensor4<T> dx = tensor4<T>::from_shape(x_.shape());
        cpu_backend::for_each_index(planes_,
                                    kernels::norm_leaky_input_grad_body<T>{
                                        x_.data(), dy.data(), plane_, mean_.data(), inv_std_.data(),
                                        slope_, sum_g.data(), sum_g_xhat.data(), dx.data()},
                                    plane_);
        return dx;
    }

    /// None: no trained tensors.
    std::vector<parameter<T>*> parameters() { return {}; }
    [[nodiscard]] std::size_t channels() const { return channels_; }
    [[nodiscard]] T slope() const { return slope_; }

private:
    std::size_t channels_;
    T slope_;
    double eps_;
    tensor4<T> x_;
    std::size_t planes_ = 0;
    std::size_t plane_ = 0;
    xt::xtensor<T, 1> mean_;
    xt::xtensor<T, 1> inv_std_;
    bool forward_done_ = false;
};

} // namespace xrestore::train
