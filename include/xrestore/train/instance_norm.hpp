#pragma once
/// @file instance_norm.hpp
/// Instance normalisation with reverse mode, as PyTorch's InstanceNorm2d(channels, eps, affine,
/// track_running_stats=False): every plane (n, c) is normalised by its own mean and biased
/// variance, y = (x - m) / sqrt(v + eps), then scaled and shifted per channel when affine
/// (weight and bias of `channels` values, initialised to 1 and 0).
///
/// @code
/// xrestore::train::instance_norm<float> norm("norm", 32);               // no affine, eps 1e-5
/// auto y = norm.forward(x);
/// auto dx = norm.backward(dy);
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/train/detail/layer_checks.hpp"
#include "xrestore/train/detail/normalisation.hpp"
#include "xrestore/train/kernels/norm_bodies.hpp"
#include "xrestore/train/parameter.hpp"

#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace xrestore::train {

/// Settings of an instance_norm layer.
struct instance_norm_options {
    double eps = 1e-5;   ///< added to the variance
    bool affine = false; ///< whether a weight and bias per channel follow the normalisation
};

/// Instance normalisation layer with explicit forward and backward.
template <class T>
class instance_norm {
public:
    parameter<T> weight; ///< channels (affine only; ones), state_dict name prefix + ".weight"
    parameter<T> bias;   ///< channels (affine only; zeros), state_dict name prefix + ".bias"

    instance_norm(std::string prefix, std::size_t channels, instance_norm_options options = {})
        : channels_(channels), o_(options) {
        constexpr const char* where = "instance_norm";
        require(channels_ >= 1, where, "channels", "at least 1", channels_);
        require(o_.eps > 0.0, where, "eps", "positive", o_.eps);
        if (o_.affine) {
            weight = parameter<T>(prefix + ".weight", xt::ones<T>({channels_}));
            bias = parameter<T>(prefix + ".bias", xt::zeros<T>({channels_}));
        }
    }

    /// y = gamma (x - m) / sqrt(v + eps) + beta per plane; saves x^ and 1 / sqrt(v + eps).
    tensor4<T> forward(const tensor4<T>& x) {
        constexpr const char* where = "instance_norm";
        check_parameters(where);
        detail::require_input_channels(x, channels_, where);
        groups_ = kernels::norm_groups{x.shape(0), channels_, x.shape(2) * x.shape(3), false};
        mean_ = xt::xtensor<T, 1>::from_shape({groups_.groups()});
        variance_ = xt::xtensor<T, 1>::from_shape({groups_.groups()});
        inv_std_ = xt::xtensor<T, 1>::from_shape({groups_.groups()});
        cpu_backend::for_each_index(groups_.groups(),
                                    kernels::norm_statistics_body<T>{x.data(), groups_, o_.eps,
                                                                     mean_.data(), variance_.data(),
                                                                     inv_std_.data()},
                                    2 * groups_.count());
        tensor4<T> y = detail::normalise_forward<T>(x, groups_, mean_.data(), inv_std_.data(),
                                                    gamma(), beta(), xhat_);
        forward_done_ = true;
        return y;
    }

    /// dL/dx from dL/dy; adds dL/dweight and dL/dbias when affine.
    tensor4<T> backward(const tensor4<T>& dy) {
        constexpr const char* where = "instance_norm";
        train::detail::require_forward(forward_done_, where);
        train::detail::require_gradient_shape(dy, xhat_.shape(), where);
        check_parameters(where);
        return detail::normalise_backward<T>(dy, xhat_, groups_, gamma(), inv_std_.data(), true,
                                             o_.affine ? weight.grad.data() : nullptr,
                                             o_.affine ? bias.grad.data() : nullptr);
    }

    /// weight and bias when affine, none otherwise.
    std::vector<parameter<T>*> parameters() {
        if (o_.affine) {
            return {&weight, &bias};
        }
        return {};
    }

    [[nodiscard]] const instance_norm_options& options() const { return o_; }
    [[nodiscard]] std::size_t channels() const { return channels_; }

private:
    std::size_t channels_;
    instance_norm_options o_;
    kernels::norm_groups groups_{};
    xt::xtensor<T, 1> mean_;
    xt::xtensor<T, 1> variance_;
    xt::xtensor<T, 1> inv_std_;
    tensor4<T> xhat_;
    bool forward_done_ = false;

    const T* gamma() const { return o_.affine ? weight.value.data() : nullptr; }
    const T* beta() const { return o_.affine ? bias.value.data() : nullptr; }

    void check_parameters(const char* where) const {
        if (o_.affine) {
            detail::require_parameter_shape(weight, {channels_}, where);
            detail::require_parameter_shape(bias, {channels_}, where);
        }
    }
};

} // namespace xrestore::train
