#pragma once
/// @file reflect_pad.hpp
/// Reverse mode for reflect padding, PyTorch's F.pad(x, (left, right, top, bottom),
/// mode='reflect'): an output row r reads input row s = r - top, mirrored about the first and
/// last rows without repeating them (s < 0 reads -s, s > H - 1 reads 2 (H - 1) - s); the same
/// for columns. Each pad must be smaller than the size it pads (PyTorch's rule). The backward
/// folds the gradients of the padded border back onto the rows and columns they copied,
/// gathered per input element.
///
/// @code
/// xrestore::train::reflect_pad<float> pad({.left = 1, .right = 1, .top = 2, .bottom = 0});
/// auto y = pad.forward(x);     // N x C x (H + 2) x (W + 2)
/// auto dx = pad.backward(dy);  // the border's gradients folded back
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/train/parameter.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace xrestore::train {

/// The four pads, in pixels.
struct reflect_pad_sizes {
    std::size_t left = 0;
    std::size_t right = 0;
    std::size_t top = 0;
    std::size_t bottom = 0;
};

namespace kernels {

/// The input index read by output index `out` along an axis of input length n padded by
/// `before` (n > before, and n > the pad after).
XRESTORE_HD inline std::size_t reflect_source(std::size_t out, std::size_t n, std::size_t before) {
    if (out < before) {
        return before - out; // -(out - before)
    }
    const std::size_t s = out - before;
    return s < n ? s : 2 * (n - 1) - s;
}

/// The output indices that read input index s along an axis of input length n padded by
/// `before` and `after`: itself, its mirror in the top border, its mirror in the bottom border.
/// Writes them to out and returns how many there are (1 to 3).
XRESTORE_HD inline std::size_t reflect_targets(std::size_t s, std::size_t n, std::size_t before,
                                               std::size_t after, std::size_t* out) {
    std::size_t k = 0;
    out[k++] = s + before;
    if (s >= 1 && s <= before) {
        out[k++] = before - s; // output before - s reads input s
    }
    if (s + 1 < n && (n - 1 - s) <= after) {
        out[k++] = before + 2 * (n - 1) - s; // mirrored past the last row
    }
    return k;
}

/// Forward: y(p, r, c) = x(p, source(r), source(c)); i over planes x out_h x out_w.
template <class T>
struct reflect_pad_forward_body {
    const T* x;
    T* y;
    std::size_t h, w, top, left, out_h, out_w;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i % out_w;
        const std::size_t r = (i / out_w) % out_h;
        const std::size_t p = i / (out_w * out_h);
        y[i] = x[(p * h + reflect_source(r, h, top)) * w + reflect_source(c, w, left)];
    }
};

/// Backward: dx(p, s, t) = the sum of dy over the (up to 3 x 3) output positions that read
/// x(p, s, t); i over planes x h x w.
template <class T>
struct reflect_pad_backward_body {
    const T* dy;
    T* dx;
    std::size_t h, w, top, bottom, left, right, out_h, out_w;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t t = i % w;
        const std::size_t s = (i / w) % h;
        const std::size_t p = i / (w * h);
        std::size_t rows[3];
        std::size_t cols[3];
        const std::size_t nr = reflect_targets(s, h, top, bottom, rows);
        const std::size_t nc = reflect_targets(t, w, left, right, cols);
        const T* plane = dy + p * out_h * out_w;
        T sum = T(0);
        for (std::size_t a = 0; a < nr; ++a) {
            for (std::size_t b = 0; b < nc; ++b) {
                sum += plane[rows[a] * out_w + cols[b]];
            }
        }
        dx[i] = sum;
    }
};

} // namespace kernels

/// Reflect padding of the last two axes (no parameters).
template <class T>
class reflect_pad {
public:
    explicit reflect_pad(reflect_pad_sizes pads) : pads_(pads) {}

    tensor4<T> forward(const tensor4<T>& x) {
        const std::size_t h = x.shape(2);
        const std::size_t w = x.shape(3);
        if (pads_.top >= h || pads_.bottom >= h || pads_.left >= w || pads_.right >= w) {
            throw shape_error(xrestore::detail::describe(
                "reflect_pad::forward", "each pad",
                "smaller than the size it pads (pads left " + std::to_string(pads_.left) +
                    ", right " + std::to_string(pads_.right) + ", top " +
                    std::to_string(pads_.top) + ", bottom " + std::to_string(pads_.bottom) + ")",
                "input " + shape_string(x.shape())));
        }
        in_ = {x.shape(0), x.shape(1), h, w};
        out_ = {in_[0], in_[1], h + pads_.top + pads_.bottom, w + pads_.left + pads_.right};
        has_forward_ = true;
        tensor4<T> y(out_);
        cpu_backend::for_each_index(
            y.size(), kernels::reflect_pad_forward_body<T>{x.data(), y.data(), h, w, pads_.top,
                                                           pads_.left, out_[2], out_[3]});
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        detail::require_forward(has_forward_, "reflect_pad::backward");
        detail::require_gradient_shape(dy, out_, "reflect_pad::backward");
        tensor4<T> dx(in_);
        cpu_backend::for_each_index(
            dx.size(), kernels::reflect_pad_backward_body<T>{dy.data(), dx.data(), in_[2], in_[3],
                                                             pads_.top, pads_.bottom, pads_.left,
                                                             pads_.right, out_[2], out_[3]});
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }
    reflect_pad_sizes pads() const { return pads_; }

private:
    reflect_pad_sizes pads_;
    std::array<std::size_t, 4> in_{};
    std::array<std::size_t, 4> out_{};
    bool has_forward_ = false;
};

} // namespace xrestore::train
