#pragma once
/// @file linear.hpp
/// Reverse mode for a fully connected layer (nn.Linear(in, out)): y = x W^T + b with weight
/// W (out x in) and bias b (out), PyTorch's layout and state_dict names ("<name>.weight",
/// "<name>.bias"). Inputs and outputs are tensor4 with the features in the channel axis and
/// H = W = 1: x is N x in x 1 x 1 (what `flatten` gives), y is N x out x 1 x 1, so linear chains
/// with the other layers without a second tensor type. A feature map N x C x H x W with H or W
/// above 1 is refused (flatten it first).
///
/// @code
/// xrestore::train::linear<float> fc(128, 10, "fc", 7);   // PyTorch's default initialisation
/// auto logits = fc.forward(flat.forward(x));           // N x 10 x 1 x 1
/// auto dx = fc.backward(dlogits);                      // adds to fc.weight.grad, fc.bias.grad
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/train/parameter.hpp"

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::train {

namespace kernels {

/// y[n, o] = b[o] + sum_f W[o, f] x[n, f]; i over N x out (b may be null: no bias).
template <class T>
struct linear_forward_body {
    const T* x;
    const T* weight;
    const T* bias;
    T* y;
    std::size_t in, out;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t o = i % out;
        const std::size_t n = i / out;
        T sum = T(0);
        for (std::size_t f = 0; f < in; ++f) {
            sum += weight[o * in + f] * x[n * in + f];
        }
        y[i] = bias != nullptr ? sum + bias[o] : sum;
    }
};

/// dx[n, f] = sum_o W[o, f] dy[n, o]; i over N x in.
template <class T>
struct linear_input_grad_body {
    const T* dy;
    const T* weight;
    T* dx;
    std::size_t in, out;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t f = i % in;
        const std::size_t n = i / in;
        T sum = T(0);
        for (std::size_t o = 0; o < out; ++o) {
            sum += weight[o * in + f] * dy[n * out + o];
        }
        dx[i] = sum;
    }
};

/// dW[o, f] += sum_n dy[n, o] x[n, f]; i over out x in.
template <class T>
struct linear_weight_grad_body {
    const T* dy;
    const T* x;
    T* dweight;
    std::size_t batch, in, out;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t f = i % in;
        const std::size_t o = i / in;
        T sum = T(0);
        for (std::size_t n = 0; n < batch; ++n) {
            sum += dy[n * out + o] * x[n * in + f];
        }
        dweight[i] += sum;
    }
};

/// db[o] += sum_n dy[n, o]; i over out.
template <class T>
struct linear_bias_grad_body {
    const T* dy;
    T* dbias;
    std::size_t batch, out;
    XRESTORE_HD void operator()(std::size_t o) const {
        T sum = T(0);
        for (std::size_t n = 0; n < batch; ++n) {
            sum += dy[n * out + o];
        }
        dbias[o] += sum;
    }
};

} // namespace kernels

/// A fully connected layer with weight out x in and an optional bias.
template <class T>
class linear {
public:
    /// PyTorch's default initialisation: weight and bias uniform in [-1/sqrt(in), 1/sqrt(in)),
    /// drawn from std::mt19937_64(seed) (the top 53 bits of each draw, so the same on every
    /// platform). `name` prefixes the state_dict names ("" gives "weight" and "bias").
    linear(std::size_t in, std::size_t out, std::string name = "", std::uint64_t seed = 0,
           bool bias = true) {
        require_sizes(in, out);
        std::mt19937_64 rng(seed);
        const double bound = 1.0 / std::sqrt(static_cast<double>(in));
        auto draw = [&](std::size_t n) {
            xt::xarray<T> v = xt::zeros<T>({n});
            for (T& e : v) {
                const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
                e = static_cast<T>((2.0 * u - 1.0) * bound);
            }
            return v;
        };
        xt::xarray<T> w = draw(out * in);
        w.reshape({out, in});
        weight_ = parameter<T>(prefixed(name, "weight"), std::move(w));
        if (bias) {
            bias_ = parameter<T>(prefixed(name, "bias"), draw(out));
            has_bias_ = true;
        }
    }
    /// Given values: weight out x in, bias of length out (or empty for none).
    linear(xt::xarray<T> weight, xt::xarray<T> bias, std::string name = "") {
        if (weight.dimension() != 2) {
            throw shape_error(xrestore::detail::describe("linear", "weight", "out x in",
                                                         shape_string(weight.shape())));
        }
        require_sizes(weight.shape(1), weight.shape(0));
        if (bias.size() != 0 && (bias.dimension() != 1 || bias.shape(0) != weight.shape(0))) {
            throw shape_error(xrestore::detail::describe(
                "linear", "bias", "of length " + std::to_string(weight.shape(0)) + " (out)",
                shape_string(bias.shape())));
        }
        has_bias_ = bias.size() != 0;
        weight_ = parameter<T>(prefixed(name, "weight"), std::move(weight));
        if (has_bias_) {
            bias_ = parameter<T>(prefixed(name, "bias"), std::move(bias));
        }
    }

    tensor4<T> forward(const tensor4<T>& x) {
        if (x.shape(1) != in() || x.shape(2) != 1 || x.shape(3) != 1) {
            throw shape_error(xrestore::detail::describe(
                "linear::forward", "x", "N x " + std::to_string(in()) + " x 1 x 1 (flatten first)",
                shape_string(x.shape())));
        }
        saved_ = x;
        has_forward_ = true;
        tensor4<T> y({x.shape(0), out(), 1, 1});
        cpu_backend::for_each_index(
            y.size(), kernels::linear_forward_body<T>{x.data(), weight_.value.data(),
                                                      has_bias_ ? bias_.value.data() : nullptr,
                                                      y.data(), in(), out()});
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        detail::require_forward(has_forward_, "linear::backward");
        const std::size_t batch = saved_.shape(0);
        detail::require_gradient_shape(dy, std::array<std::size_t, 4>{batch, out(), 1, 1},
                                       "linear::backward");
        tensor4<T> dx(saved_.shape());
        cpu_backend::for_each_index(
            dx.size(), kernels::linear_input_grad_body<T>{dy.data(), weight_.value.data(),
                                                          dx.data(), in(), out()});
        cpu_backend::for_each_index(
            weight_.size(), kernels::linear_weight_grad_body<T>{
                                dy.data(), saved_.data(), weight_.grad.data(), batch, in(), out()});
        if (has_bias_) {
            cpu_backend::for_each_index(out(), kernels::linear_bias_grad_body<T>{
                                                   dy.data(), bias_.grad.data(), batch, out()});
        }
        return dx;
    }
    std::vector<parameter<T>*> parameters() {
        if (has_bias_) {
            return {&weight_, &bias_};
        }
        return {&weight_};
    }

    std::size_t in() const { return weight_.value.shape(1); }
    std::size_t out() const { return weight_.value.shape(0); }
    parameter<T>& weight() { return weight_; }
    parameter<T>& bias() { return bias_; }
    bool has_bias() const { return has_bias_; }

private:
    static std::string prefixed(const std::string& name, const char* what) {
        return name.empty() ? std::string(what) : name + "." + what;
    }
    static void require_sizes(std::size_t in, std::size_t out) {
        if (in == 0 || out == 0) {
            throw value_error(
                xrestore::detail::describe("linear", "in and out", "positive",
                                           std::to_string(in) + " and " + std::to_string(out)));
        }
    }
    parameter<T> weight_;
    parameter<T> bias_;
    bool has_bias_ = false;
    tensor4<T> saved_;
    bool has_forward_ = false;
};

} // namespace xrestore::train
