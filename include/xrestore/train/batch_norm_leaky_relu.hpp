#pragma once
/// @file batch_norm_leaky_relu.hpp
/// Batch normalisation followed by LeakyReLU as one layer with reverse mode: the same function,
/// parameters, buffers and running-average updates as train::batch_norm then
/// train::leaky_relu (PyTorch's BatchNorm2d + LeakyReLU), with fewer passes over memory. The
/// forward gathers the statistics (training mode) and writes y = lrelu(gamma x^ + beta) in one
/// pass, keeping only its input x (moved in when it is a temporary); the backward makes the
/// channel sums in one pass and dx in a second, recomputing x^ from x. Deep Image Prior's
/// network repeats this pair after every convolution (train/skip_net.hpp).
///
/// @code
/// xrestore::train::batch_norm_leaky_relu<float> act("down.0.bn0", 16, 0.2F);
/// auto y = act.forward(conv.forward(x));
/// auto dx = conv.backward(act.backward(dy));   // adds to act.weight.grad and act.bias.grad
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/train/batch_norm.hpp"
#include "xrestore/train/buffer.hpp"
#include "xrestore/train/kernels/norm_bodies.hpp"
#include "xrestore/train/parameter.hpp"

#include <xtensor/xtensor.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace xrestore::train {

/// batch_norm + leaky_relu, fused (see the file comment).
template <class T>
class batch_norm_leaky_relu {
public:
    parameter<T> weight;           ///< channels (affine only; ones), prefix + ".weight"
    parameter<T> bias;             ///< channels (affine only; zeros), prefix + ".bias"
    buffer<T> running_mean;        ///< channels (zeros), prefix + ".running_mean"
    buffer<T> running_var;         ///< channels (ones), prefix + ".running_var"
    buffer<T> num_batches_tracked; ///< scalar count, prefix + ".num_batches_tracked"

    batch_norm_leaky_relu(const std::string& prefix, std::size_t channels, T slope,
                          batch_norm_options options = {})
        : channels_(channels), o_(options), slope_(slope) {
        // the same checks, parameters and buffers as batch_norm's
        const batch_norm<T> plain(prefix, channels, options);
        if (!(slope >= T(0))) {
            throw value_error(
                xrestore::detail::describe("batch_norm_leaky_relu", "slope", ">= 0", slope));
        }
        weight = plain.weight;
        bias = plain.bias;
        running_mean = plain.running_mean;
        running_var = plain.running_var;
        num_batches_tracked = plain.num_batches_tracked;
    }

    void train(bool on = true) { training_ = on; }
    void eval() { training_ = false; }
    [[nodiscard]] bool training() const { return training_; }

    /// y = lrelu(gamma (x - m) / sqrt(v + eps) + beta); keeps a copy of x.
    tensor4<T> forward(const tensor4<T>& x) { return forward(tensor4<T>(x)); }

    /// As above, keeping x itself (no copy).
    tensor4<T> forward(tensor4<T>&& x) {
        constexpr const char* where = "batch_norm_leaky_relu";
        check_parameters(where);
        detail::require_input_channels(x, channels(), where);
        x_ = std::move(x);
        const std::size_t c = channels();
        const kernels::norm_groups groups{x_.shape(0), c, x_.shape(2) * x_.shape(3), true};
        statistics_from_batch_ = training_;
        detail::batch_norm_statistics<T>(x_, groups, o_, training_, running_mean, running_var,
                                         num_batches_tracked, mean_, inv_std_, where);
        tensor4<T> y = tensor4<T>::from_shape(x_.shape());
        const std::size_t plane = groups.plane;
        cpu_backend::for_each_index(
            x_.shape(0) * c,
            kernels::bn_leaky_forward_body<T>{x_.data(), c, plane, mean_.data(), inv_std_.data(),
                                              gamma(), beta(), slope_, y.data()},
            plane);
        forward_done_ = true;
        return y;
    }

    /// dL/dx from dL/dy (through the batch statistics when the forward used them); adds
    /// dL/dweight and dL/dbias when affine.
    tensor4<T> backward(const tensor4<T>& dy) {
        constexpr const char* where = "batch_norm_leaky_relu";
        train::detail::require_forward(forward_done_, where);
        train::detail::require_gradient_shape(dy, x_.shape(), where);
        check_parameters(where);
        const std::size_t c = channels();
        const std::size_t n = x_.shape(0);
        const std::size_t plane = x_.shape(2) * x_.shape(3);
        xt::xtensor<T, 1> sum_g = xt::xtensor<T, 1>::from_shape({c});
        xt::xtensor<T, 1> sum_g_xhat = xt::xtensor<T, 1>::from_shape({c});
        cpu_backend::for_each_index(
            c,
            kernels::bn_leaky_backward_sums_body<T>{x_.data(), dy.data(), n, c, plane, mean_.data(),
                                                    inv_std_.data(), gamma(), beta(), slope_,
                                                    sum_g.data(), sum_g_xhat.data()},
            n * plane);
        if (o_.affine) {
            weight.grad += sum_g_xhat; // dL/dgamma = sum g x^
            bias.grad += sum_g;        // dL/dbeta = sum g
        }
        tensor4<T> dx = tensor4<T>::from_shape(x_.shape());
        cpu_backend::for_each_index(
            n * c,
            kernels::bn_leaky_input_grad_body<T>{
                x_.data(), dy.data(), c, plane, n * plane, mean_.data(), inv_std_.data(), gamma(),
                beta(), slope_, statistics_from_batch_ ? sum_g.data() : nullptr,
                statistics_from_batch_ ? sum_g_xhat.data() : nullptr, dx.data()},
            plane);
        return dx;
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

    [[nodiscard]] std::size_t channels() const { return channels_; }
    [[nodiscard]] T slope() const { return slope_; }
    [[nodiscard]] const batch_norm_options& options() const { return o_; }

private:
    std::size_t channels_;
    batch_norm_options o_;
    T slope_;
    bool training_ = true;
    bool statistics_from_batch_ = true;
    tensor4<T> x_;
    xt::xtensor<T, 1> mean_;
    xt::xtensor<T, 1> inv_std_;
    bool forward_done_ = false;

    const T* gamma() const { return o_.affine ? weight.value.data() : nullptr; }
    const T* beta() const { return o_.affine ? bias.value.data() : nullptr; }

    void check_parameters(const char* where) const {
        detail::check_batch_norm_state(o_.affine, channels_, weight, bias, running_mean,
                                       running_var, where);
    }
};

} // namespace xrestore::train
