#pragma once
/// @file batch_norm.hpp
/// Batch normalisation with reverse mode, as PyTorch's BatchNorm2d(channels, eps, momentum,
/// affine, track_running_stats=True). In training mode (the default) each channel is normalised
/// by the mean and biased variance over N, H and W of the batch, and the running averages are
/// updated: running = (1 - momentum) running + momentum batch statistic, with the UNBIASED
/// variance for running_var, and num_batches_tracked is incremented. In eval mode the running
/// statistics normalise and are left unchanged. The running statistics are buffers (saved with
/// checkpoints, listed by `buffers()`), not trained parameters.
///
/// @code
/// xrestore::train::batch_norm<float> bn("features.1", 64);   // affine, momentum 0.1, eps 1e-5
/// auto y = bn.forward(x);  bn.backward(dy);                   // batch statistics
/// bn.eval();  auto z = bn.forward(x);                         // running statistics
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/train/buffer.hpp"
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

/// Settings of a batch_norm layer.
struct batch_norm_options {
    double eps = 1e-5;     ///< added to the variance
    double momentum = 0.1; ///< weight of the batch statistic in the running averages
    bool affine = true;    ///< whether a weight and bias per channel follow the normalisation
};

namespace detail {

/// The shapes batch norm's parameters (when affine) and running statistics must have: one value
/// per channel. Shared by batch_norm and batch_norm_leaky_relu.
template <class T>
void check_batch_norm_state(bool affine, std::size_t channels, const parameter<T>& weight,
                            const parameter<T>& bias, const buffer<T>& running_mean,
                            const buffer<T>& running_var, const char* where) {
    if (affine) {
        require_parameter_shape(weight, {channels}, where);
        require_parameter_shape(bias, {channels}, where);
    }
    for (const buffer<T>* b : {&running_mean, &running_var}) {
        if (b->value.dimension() != 1 || b->value.size() != channels) {
            throw shape_error(xrestore::detail::describe(where, b->name,
                                                         "of shape " + std::to_string(channels),
                                                         shape_text(b->value.shape())));
        }
    }
}

/// The statistics batch norm normalises with, per channel: in training mode the batch's mean and
/// 1 / sqrt(biased variance + eps) (the running averages updated with the unbiased variance,
/// num_batches_tracked incremented; at least 2 values per channel), in eval mode the running
/// ones. Shared by batch_norm and batch_norm_leaky_relu.
template <class T>
void batch_norm_statistics(const tensor4<T>& x, const kernels::norm_groups& groups,
                           const batch_norm_options& o, bool training, buffer<T>& running_mean,
                           buffer<T>& running_var, buffer<T>& num_batches_tracked,
                           xt::xtensor<T, 1>& mean, xt::xtensor<T, 1>& inv_std, const char* where) {
    const std::size_t c = groups.channels;
    mean = xt::xtensor<T, 1>::from_shape({c});
    inv_std = xt::xtensor<T, 1>::from_shape({c});
    if (!training) {
        cpu_backend::for_each_index(c, kernels::running_statistics_body<T>{
                                           running_mean.value.data(), running_var.value.data(),
                                           o.eps, mean.data(), inv_std.data()});
        return;
    }
    if (groups.count() < 2) {
        throw shape_error(xrestore::detail::describe(
            where, "values per channel in training mode (N H W)", "more than 1", groups.count()));
    }
    xt::xtensor<T, 1> variance = xt::xtensor<T, 1>::from_shape({c});
    cpu_backend::for_each_index(c,
                                kernels::norm_statistics_body<T>{x.data(), groups, o.eps,
                                                                 mean.data(), variance.data(),
                                                                 inv_std.data()},
                                2 * groups.count());
    // running = (1 - momentum) running + momentum (mean, unbiased variance)
    cpu_backend::for_each_index(c, kernels::running_stats_update_body<T>{
                                       mean.data(), variance.data(),
                                       static_cast<double>(groups.count()), o.momentum,
                                       running_mean.value.data(), running_var.value.data()});
    num_batches_tracked.value() += T(1);
}

} // namespace detail

/// Batch normalisation layer with explicit forward and backward, training and eval modes.
template <class T>
class batch_norm {
public:
    parameter<T> weight;    ///< channels (affine only; ones), prefix + ".weight"
    parameter<T> bias;      ///< channels (affine only; zeros), prefix + ".bias"
    buffer<T> running_mean; ///< channels (zeros), prefix + ".running_mean"
    buffer<T> running_var;  ///< channels (ones), prefix + ".running_var"
    buffer<T>
        num_batches_tracked; ///< scalar count (int64 in PyTorch), prefix + ".num_batches_tracked"

    batch_norm(std::string prefix, std::size_t channels, batch_norm_options options = {})
        : channels_(channels), o_(options) {
        constexpr const char* where = "batch_norm";
        require(channels_ >= 1, where, "channels", "at least 1", channels_);
        require(o_.eps > 0.0, where, "eps", "positive", o_.eps);
        require(o_.momentum >= 0.0 && o_.momentum <= 1.0, where, "momentum", "in [0, 1]",
                o_.momentum);
        if (o_.affine) {
            weight = parameter<T>(prefix + ".weight", xt::ones<T>({channels_}));
            bias = parameter<T>(prefix + ".bias", xt::zeros<T>({channels_}));
        }
        running_mean = buffer<T>{prefix + ".running_mean", xt::zeros<T>({channels_}), false};
        running_var = buffer<T>{prefix + ".running_var", xt::ones<T>({channels_}), false};
        num_batches_tracked = buffer<T>{prefix + ".num_batches_tracked", xt::xarray<T>(T(0)), true};
    }

    /// Training mode (batch statistics, running averages updated) or, with false, eval mode.
    void train(bool on = true) { training_ = on; }
    /// Eval mode: normalise by the running statistics.
    void eval() { training_ = false; }
    [[nodiscard]] bool training() const { return training_; }

    /// y = gamma (x - m) / sqrt(v + eps) + beta per channel, with the batch's (m, v) in training
    /// mode (and the running averages updated) or the running ones in eval mode.
    tensor4<T> forward(const tensor4<T>& x) {
        constexpr const char* where = "batch_norm";
        check_parameters(where);
        detail::require_input_channels(x, channels_, where);
        groups_ = kernels::norm_groups{x.shape(0), channels_, x.shape(2) * x.shape(3), true};
        statistics_from_batch_ = training_;
        detail::batch_norm_statistics<T>(x, groups_, o_, training_, running_mean, running_var,
                                         num_batches_tracked, mean_, inv_std_, where);
        tensor4<T> y = detail::normalise_forward<T>(x, groups_, mean_.data(), inv_std_.data(),
                                                    gamma(), beta(), xhat_);
        forward_done_ = true;
        return y;
    }

    /// dL/dx from dL/dy (through the batch statistics when the forward used them); adds
    /// dL/dweight and dL/dbias when affine.
    tensor4<T> backward(const tensor4<T>& dy) {
        constexpr const char* where = "batch_norm";
        train::detail::require_forward(forward_done_, where);
        train::detail::require_gradient_shape(dy, xhat_.shape(), where);
        check_parameters(where);
        return detail::normalise_backward<T>(
            dy, xhat_, groups_, gamma(), inv_std_.data(), statistics_from_batch_,
            o_.affine ? weight.grad.data() : nullptr, o_.affine ? bias.grad.data() : nullptr);
    }

    /// weight and bias when affine, none otherwise.
    std::vector<parameter<T>*> parameters() {
        if (o_.affine) {
            return {&weight, &bias};
        }
        return {};
    }

    /// running_mean, running_var and num_batches_tracked, in PyTorch's state_dict order.
    std::vector<buffer<T>*> buffers() {
        return {&running_mean, &running_var, &num_batches_tracked};
    }

    [[nodiscard]] const batch_norm_options& options() const { return o_; }
    [[nodiscard]] std::size_t channels() const { return channels_; }

private:
    std::size_t channels_;
    batch_norm_options o_;
    bool training_ = true;
    bool statistics_from_batch_ = true;
    kernels::norm_groups groups_{};
    xt::xtensor<T, 1> mean_;
    xt::xtensor<T, 1> inv_std_;
    tensor4<T> xhat_;
    bool forward_done_ = false;

    const T* gamma() const { return o_.affine ? weight.value.data() : nullptr; }
    const T* beta() const { return o_.affine ? bias.value.data() : nullptr; }

    void check_parameters(const char* where) const {
        detail::check_batch_norm_state(o_.affine, channels_, weight, bias, running_mean,
                                       running_var, where);
    }
};

} // namespace xrestore::train
