#pragma once
/// @file pooling.hpp
/// Reverse mode for 2x2 pooling with stride 2: average (nn.AvgPool2d(2) / F.avg_pool2d(x, 2))
/// and max (nn.MaxPool2d(2)). Odd sizes are floored as PyTorch does: the last row or column of
/// an odd input is dropped by the forward and gets a zero gradient. Max pooling sends each
/// gradient to the arg-max of its window; on ties the first value in row-major window order
/// wins (PyTorch's CPU rule), and a NaN wins over any number.
///
/// @code
/// xrestore::train::max_pool2<float> pool;
/// auto y = pool.forward(x);      // N x C x floor(H/2) x floor(W/2)
/// auto dx = pool.backward(dy);   // dy routed to each window's arg-max
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/train/parameter.hpp"

#include <array>
#include <cstddef>
#include <vector>

namespace xrestore::train {

namespace kernels {

/// 2x2 average pooling, stride 2: index over the output rows (planes x out_h), out_h = in_h / 2
/// and out_w = in_w / 2 (floored), each row written whole.
template <class T>
struct avg_pool2_forward_body {
    const T* x;
    T* y;
    std::size_t in_h, in_w, out_h, out_w;
    XRESTORE_HD void operator()(std::size_t row) const {
        const std::size_t r = row % out_h;
        const std::size_t p = row / out_h;
        const T* top = x + (p * in_h + 2 * r) * in_w;
        const T* bottom = top + in_w;
        T* out = y + row * out_w;
        for (std::size_t c = 0; c < out_w; ++c) { // PyTorch's order
            out[c] =
                (((top[2 * c] + top[2 * c + 1]) + bottom[2 * c]) + bottom[2 * c + 1]) * T(0.25);
        }
    }
};

/// Its backward, per input row (planes x in_h, each written whole): dx = dy / 4 of the window
/// holding the element, 0 in a dropped last row or column.
template <class T>
struct avg_pool2_backward_body {
    const T* dy;
    T* dx;
    std::size_t in_h, in_w, out_h, out_w;
    XRESTORE_HD void operator()(std::size_t row) const {
        const std::size_t r = (row % in_h) / 2;
        const std::size_t p = row / in_h;
        T* out = dx + row * in_w;
        if (r >= out_h) {
            for (std::size_t c = 0; c < in_w; ++c) {
                out[c] = T(0);
            }
            return;
        }
        const T* in = dy + (p * out_h + r) * out_w;
        for (std::size_t c = 0; c < out_w; ++c) {
            const T v = in[c] * T(0.25);
            out[2 * c] = v;
            out[2 * c + 1] = v;
        }
        for (std::size_t c = 2 * out_w; c < in_w; ++c) {
            out[c] = T(0);
        }
    }
};

/// 2x2 max pooling, stride 2: the maximum of each window and its flat input index (arg), the
/// first of equal values in order (0,0), (0,1), (1,0), (1,1); a NaN is taken and kept.
template <class T>
struct max_pool2_forward_body {
    const T* x;
    T* y;
    std::size_t* arg;
    std::size_t in_h, in_w, out_h, out_w;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i % out_w;
        const std::size_t r = (i / out_w) % out_h;
        const std::size_t p = i / (out_w * out_h);
        const std::size_t first = (p * in_h + 2 * r) * in_w + 2 * c;
        const std::size_t offsets[4] = {0, 1, in_w, in_w + 1};
        std::size_t best = first;
        for (std::size_t k = 1; k < 4; ++k) {
            const T v = x[first + offsets[k]];
            const bool best_is_nan = !(x[best] == x[best]);
            if (!best_is_nan && (v > x[best] || !(v == v))) { // strictly greater, or NaN
                best = first + offsets[k];
            }
        }
        y[i] = x[best];
        arg[i] = best;
    }
};

/// Its backward, gathered per input element i: dy of the window holding i when i is that
/// window's arg-max, else 0 (the windows do not overlap).
template <class T>
struct max_pool2_backward_body {
    const T* dy;
    const std::size_t* arg;
    T* dx;
    std::size_t in_h, in_w, out_h, out_w;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = (i % in_w) / 2;
        const std::size_t r = ((i / in_w) % in_h) / 2;
        const std::size_t p = i / (in_w * in_h);
        const std::size_t o = (p * out_h + r) * out_w + c;
        dx[i] = r < out_h && c < out_w && arg[o] == i ? dy[o] : T(0);
    }
};

} // namespace kernels

namespace detail {

/// The output shape of 2x2 stride-2 pooling; H and W must be at least 2.
template <class T>
std::array<std::size_t, 4> pool2_shape(const tensor4<T>& x, const char* where) {
    if (x.shape(2) < 2 || x.shape(3) < 2) {
        throw shape_error(xrestore::detail::describe(where, "the input's height and width",
                                                     "at least 2", shape_string(x.shape())));
    }
    return {x.shape(0), x.shape(1), x.shape(2) / 2, x.shape(3) / 2};
}

} // namespace detail

/// 2x2 average pooling, stride 2 (no parameters).
template <class T>
class avg_pool2 {
public:
    tensor4<T> forward(const tensor4<T>& x) {
        const auto s = detail::pool2_shape(x, "avg_pool2::forward");
        in_ = {x.shape(0), x.shape(1), x.shape(2), x.shape(3)};
        out_ = s;
        has_forward_ = true;
        tensor4<T> y(s);
        cpu_backend::for_each_index(out_[0] * out_[1] * out_[2],
                                    kernels::avg_pool2_forward_body<T>{x.data(), y.data(), in_[2],
                                                                       in_[3], out_[2], out_[3]},
                                    4 * out_[3]);
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        detail::require_forward(has_forward_, "avg_pool2::backward");
        detail::require_gradient_shape(dy, out_, "avg_pool2::backward");
        tensor4<T> dx(in_);
        cpu_backend::for_each_index(in_[0] * in_[1] * in_[2],
                                    kernels::avg_pool2_backward_body<T>{
                                        dy.data(), dx.data(), in_[2], in_[3], out_[2], out_[3]},
                                    in_[3]);
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }

private:
    std::array<std::size_t, 4> in_{};
    std::array<std::size_t, 4> out_{};
    bool has_forward_ = false;
};

/// 2x2 max pooling, stride 2 (no parameters); saves the arg-max of each window.
template <class T>
class max_pool2 {
public:
    tensor4<T> forward(const tensor4<T>& x) {
        const auto s = detail::pool2_shape(x, "max_pool2::forward");
        in_ = {x.shape(0), x.shape(1), x.shape(2), x.shape(3)};
        out_ = s;
        tensor4<T> y(s);
        arg_.resize(y.size());
        cpu_backend::for_each_index(
            y.size(), kernels::max_pool2_forward_body<T>{x.data(), y.data(), arg_.data(), in_[2],
                                                         in_[3], out_[2], out_[3]});
        has_forward_ = true;
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        detail::require_forward(has_forward_, "max_pool2::backward");
        detail::require_gradient_shape(dy, out_, "max_pool2::backward");
        tensor4<T> dx(in_);
        cpu_backend::for_each_index(
            dx.size(), kernels::max_pool2_backward_body<T>{dy.data(), arg_.data(), dx.data(),
                                                           in_[2], in_[3], out_[2], out_[3]});
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }

private:
    std::array<std::size_t, 4> in_{};
    std::array<std::size_t, 4> out_{};
    std::vector<std::size_t> arg_;
    bool has_forward_ = false;
};

} // namespace xrestore::train
