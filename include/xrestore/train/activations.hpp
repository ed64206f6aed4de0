#pragma once
/// @file activations.hpp
/// Reverse mode for the element-wise activations: LeakyReLU, ReLU, sigmoid and tanh, each with
/// the forward of PyTorch's module of the same name and its backward. The arithmetic is in
/// host-device kernel bodies (train::kernels), run here by plain loops, so that the CUDA backend
/// can launch the same bodies. LeakyReLU and ReLU save their input, sigmoid and tanh their output
/// (their derivatives read best from it).
///
/// @code
/// xrestore::train::leaky_relu<float> act(0.2F);    // the U-Net's slope
/// auto y = act.forward(x);
/// auto dx = act.backward(dy);                      // dy * (x > 0 ? 1 : 0.2)
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/train/kernels/leaky_select.hpp"
#include "xrestore/train/parameter.hpp"

#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

namespace xrestore::train {

namespace kernels {

/// y[i] = x[i] > 0 ? x[i] : slope x[i] (PyTorch's LeakyReLU; slope 0 gives ReLU).
template <class T>
struct leaky_relu_forward_body {
    const T* x;
    T* y;
    T slope;
    XRESTORE_HD void operator()(std::size_t i) const {
        const T v = x[i];
        y[i] = leaky_select(v > T(0), v, slope); // branch-free (kernels/leaky_select.hpp)
    }
};

/// dx[i] = dy[i] * (x[i] > 0 ? 1 : slope): the derivative at 0 is taken as slope, as PyTorch's.
template <class T>
struct leaky_relu_backward_body {
    const T* x;
    const T* dy;
    T* dx;
    T slope;
    XRESTORE_HD void operator()(std::size_t i) const {
        dx[i] = leaky_select(x[i] > T(0), dy[i], slope);
    }
};

/// y[i] = 1 / (1 + exp(-x[i])), written so that exp never overflows.
template <class T>
struct sigmoid_forward_body {
    const T* x;
    T* y;
    XRESTORE_HD void operator()(std::size_t i) const {
        using std::exp;
        if (x[i] >= T(0)) {
            y[i] = T(1) / (T(1) + exp(-x[i]));
        } else {
            const T e = exp(x[i]); // sigma(x) = e^x / (1 + e^x) for x < 0
            y[i] = e / (T(1) + e);
        }
    }
};

/// dx[i] = dy[i] * y[i] (1 - y[i]) with y = sigmoid(x).
template <class T>
struct sigmoid_backward_body {
    const T* y;
    const T* dy;
    T* dx;
    XRESTORE_HD void operator()(std::size_t i) const { dx[i] = dy[i] * y[i] * (T(1) - y[i]); }
};

/// y[i] = tanh(x[i]).
template <class T>
struct tanh_forward_body {
    const T* x;
    T* y;
    XRESTORE_HD void operator()(std::size_t i) const {
        using std::tanh;
        y[i] = tanh(x[i]);
    }
};

/// dx[i] = dy[i] * (1 - y[i]^2) with y = tanh(x).
template <class T>
struct tanh_backward_body {
    const T* y;
    const T* dy;
    T* dx;
    XRESTORE_HD void operator()(std::size_t i) const { dx[i] = dy[i] * (T(1) - y[i] * y[i]); }
};

} // namespace kernels

namespace detail {

/// What an element-wise activation keeps between forward and backward: its input or its output.
template <class T>
struct saved_activation {
    tensor4<T> saved;
    bool has_forward = false;
    void keep(const tensor4<T>& t) {
        saved = t;
        has_forward = true;
    }
    void keep(tensor4<T>&& t) {
        saved = std::move(t);
        has_forward = true;
    }
    void require(const tensor4<T>& dy, const char* where) const {
        require_forward(has_forward, where);
        require_gradient_shape(dy, saved.shape(), where);
    }
};

} // namespace detail

/// LeakyReLU with negative slope `slope` (PyTorch's default 0.01; the fastMRI U-Net uses 0.2).
template <class T>
class leaky_relu {
public:
    explicit leaky_relu(T slope = T(0.01)) : slope_(slope) {
        if (!(slope >= T(0))) {
            throw value_error(xrestore::detail::describe("leaky_relu", "slope", ">= 0", slope));
        }
    }
    /// y = x where x > 0, else slope x; keeps x for the backward (a temporary x is moved in,
    /// not copied).
    tensor4<T> forward(const tensor4<T>& x) { return forward(tensor4<T>(x)); }
    tensor4<T> forward(tensor4<T>&& x) {
        s_.keep(std::move(x));
        const tensor4<T>& in = s_.saved;
        tensor4<T> y(in.shape());
        cpu_backend::for_each_index(
            in.size(), kernels::leaky_relu_forward_body<T>{in.data(), y.data(), slope_});
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        s_.require(dy, "leaky_relu::backward");
        tensor4<T> dx(dy.shape());
        cpu_backend::for_each_index(dy.size(), kernels::leaky_relu_backward_body<T>{
                                                   s_.saved.data(), dy.data(), dx.data(), slope_});
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }
    T slope() const { return slope_; }

private:
    T slope_;
    detail::saved_activation<T> s_;
};

/// ReLU: max(x, 0), gradient 0 at x <= 0 (PyTorch's).
template <class T>
class relu {
public:
    /// y = x where x > 0, else 0 x; keeps x for the backward (a temporary x is moved in,
    /// not copied).
    tensor4<T> forward(const tensor4<T>& x) { return forward(tensor4<T>(x)); }
    tensor4<T> forward(tensor4<T>&& x) {
        s_.keep(std::move(x));
        const tensor4<T>& in = s_.saved;
        tensor4<T> y(in.shape());
        cpu_backend::for_each_index(in.size(),
                                    kernels::leaky_relu_forward_body<T>{in.data(), y.data(), T(0)});
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        s_.require(dy, "relu::backward");
        tensor4<T> dx(dy.shape());
        cpu_backend::for_each_index(dy.size(), kernels::leaky_relu_backward_body<T>{
                                                   s_.saved.data(), dy.data(), dx.data(), T(0)});
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }

private:
    detail::saved_activation<T> s_;
};

/// The logistic sigmoid 1 / (1 + exp(-x)).
template <class T>
class sigmoid {
public:
    tensor4<T> forward(const tensor4<T>& x) {
        tensor4<T> y(x.shape());
        cpu_backend::for_each_index(x.size(), kernels::sigmoid_forward_body<T>{x.data(), y.data()});
        s_.keep(y);
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        s_.require(dy, "sigmoid::backward");
        tensor4<T> dx(dy.shape());
        cpu_backend::for_each_index(
            dy.size(), kernels::sigmoid_backward_body<T>{s_.saved.data(), dy.data(), dx.data()});
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }

private:
    detail::saved_activation<T> s_;
};

/// The hyperbolic tangent (named tanh_activation so that it does not hide std::tanh).
template <class T>
class tanh_activation {
public:
    tensor4<T> forward(const tensor4<T>& x) {
        tensor4<T> y(x.shape());
        cpu_backend::for_each_index(x.size(), kernels::tanh_forward_body<T>{x.data(), y.data()});
        s_.keep(y);
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        s_.require(dy, "tanh_activation::backward");
        tensor4<T> dx(dy.shape());
        cpu_backend::for_each_index(
            dy.size(), kernels::tanh_backward_body<T>{s_.saved.data(), dy.data(), dx.data()});
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }

private:
    detail::saved_activation<T> s_;
};

} // namespace xrestore::train
