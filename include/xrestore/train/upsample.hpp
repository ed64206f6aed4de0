#pragma once
/// @file upsample.hpp
/// Reverse mode for 2x upsampling: nearest (nn.Upsample(scale_factor=2)) and bilinear with
/// align_corners=False (nn.Upsample(scale_factor=2, mode='bilinear')). Bilinear reads output
/// row r from source coordinate s = (r + 0.5) / 2 - 0.5, clamped at 0: rows i0 = floor(s) and
/// i1 = min(i0 + 1, H - 1) with weights 1 - l and l, l = s - i0 (the same for columns). The
/// backward is the exact adjoint of that linear map, gathered per input element so that no two
/// threads write the same element.
///
/// @code
/// xrestore::train::upsample_bilinear2<float> up;
/// auto y = up.forward(x);       // N x C x 2H x 2W
/// auto dx = up.backward(dy);    // the adjoint: N x C x H x W
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/train/parameter.hpp"

#include <array>
#include <cstddef>
#include <vector>

namespace xrestore::train {

namespace kernels {

/// The two source taps of output position `out` along an axis of input length n (bilinear, 2x,
/// align_corners=False): out reads (1 - l) v[i0] + l v[i1].
template <class T>
struct bilinear_taps {
    std::size_t i0;
    std::size_t i1;
    T l;
    XRESTORE_HD bilinear_taps(std::size_t out, std::size_t n) {
        T s = (static_cast<T>(out) + T(0.5)) * T(0.5) - T(0.5); // source coordinate
        s = s < T(0) ? T(0) : s;
        i0 = static_cast<std::size_t>(s);
        i1 = i0 + 1 < n ? i0 + 1 : i0;
        l = s - static_cast<T>(i0);
    }
    /// The weight with which output `out` reads input i (0 when it does not read it).
    XRESTORE_HD T weight(std::size_t i) const {
        return (i == i0 ? T(1) - l : T(0)) + (i == i1 ? l : T(0));
    }
};

/// Nearest 2x: y(p, r, c) = x(p, r / 2, c / 2); i over planes x 2h x 2w.
template <class T>
struct upsample_nearest2_forward_body {
    const T* x;
    T* y;
    std::size_t h, w;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i % (2 * w);
        const std::size_t r = (i / (2 * w)) % (2 * h);
        const std::size_t p = i / (4 * w * h);
        y[i] = x[(p * h + r / 2) * w + c / 2];
    }
};

/// Its adjoint: dx(p, r, c) = the sum of the 2x2 block of dy it was copied to; i over
/// planes x h x w.
template <class T>
struct upsample_nearest2_backward_body {
    const T* dy;
    T* dx;
    std::size_t h, w;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t c = i % w;
        const std::size_t r = (i / w) % h;
        const std::size_t p = i / (w * h);
        const T* b = dy + (p * 2 * h + 2 * r) * 2 * w + 2 * c;
        dx[i] = (b[0] + b[1]) + (b[2 * w] + b[2 * w + 1]);
    }
};

/// Bilinear 2x, align_corners=False: y = (1 - ly) ((1 - lx) x00 + lx x01) + ly ((1 - lx) x10 +
/// lx x11) as PyTorch writes it. Index over output rows (planes x 2h), each written whole. The
/// taps are fixed: output column 2j reads columns j - 1 and j with l = 0.75 (column 0 reads
/// column 0 alone), output column 2j + 1 reads j and j + 1 with l = 0.25 (the last reads column
/// w - 1 alone); the same for rows. So the row loop runs with constant weights and vectorises.
template <class T>
struct upsample_bilinear2_forward_body {
    const T* x;
    T* y;
    std::size_t h, w;
    XRESTORE_HD void operator()(std::size_t row) const {
        const std::size_t ro = row % (2 * h);
        const std::size_t p = row / (2 * h);
        const bilinear_taps<T> ty(ro, h);
        const T* plane = x + p * h * w;
        const T* r0 = plane + ty.i0 * w;
        const T* r1 = plane + ty.i1 * w;
        const T a = T(1) - ty.l;
        const T b = ty.l;
        T* out = y + row * 2 * w;
        const auto at = [&](std::size_t i0, std::size_t i1, T lx) {
            return a * ((T(1) - lx) * r0[i0] + lx * r0[i1]) +
                   b * ((T(1) - lx) * r1[i0] + lx * r1[i1]);
        };
        // column 0 (l = 0) and the last (both taps on column w - 1), computed as the general
        // formula does
        out[0] = at(0, w > 1 ? 1 : 0, T(0));
        for (std::size_t j = 1; j < w; ++j) {
            out[2 * j] = at(j - 1, j, T(0.75));
        }
        for (std::size_t j = 0; j + 1 < w; ++j) {
            out[2 * j + 1] = at(j, j + 1, T(0.25));
        }
        out[2 * w - 1] = at(w - 1, w - 1, T(0.25));
    }
};

/// Its adjoint, gathered: dx(p, r, c) = sum over the output rows r' in [2r - 1, 2r + 2] and
/// columns c' in [2c - 1, 2c + 2] (the only ones that read it) of wy(r', r) wx(c', c) dy(r', c').
/// Index over input rows (planes x h), each written whole; wx is 0.25, 0.75, 0.75, 0.25 for
/// c' = 2c - 1 .. 2c + 2 inside, with the edge columns' taps at the borders.
template <class T>
struct upsample_bilinear2_backward_body {
    const T* dy;
    T* dx;
    std::size_t h, w;
    XRESTORE_HD void operator()(std::size_t row) const {
        const std::size_t r = row % h;
        const std::size_t p = row / h;
        const std::size_t r_first = r > 0 ? 2 * r - 1 : 0;
        const std::size_t r_last = 2 * r + 2 < 2 * h ? 2 * r + 2 : 2 * h - 1;
        const std::size_t wo = 2 * w;
        const T* plane = dy + p * 4 * h * w;
        T* out = dx + row * w;
        for (std::size_t j = 0; j < w; ++j) {
            out[j] = T(0);
        }
        for (std::size_t ro = r_first; ro <= r_last; ++ro) {
            const T wy = bilinear_taps<T>(ro, h).weight(r);
            const T* d = plane + ro * wo;
            // the edge columns with the general weights, the inside ones with the fixed ones
            const auto edge = [&](std::size_t j) {
                const std::size_t c_first = j > 0 ? 2 * j - 1 : 0;
                const std::size_t c_last = 2 * j + 2 < wo ? 2 * j + 2 : wo - 1;
                T sum = T(0);
                for (std::size_t co = c_first; co <= c_last; ++co) {
                    sum += bilinear_taps<T>(co, w).weight(j) * d[co];
                }
                return sum;
            };
            out[0] += wy * edge(0);
            for (std::size_t j = 1; j + 1 < w; ++j) {
                out[j] += wy * ((T(0.25) * d[2 * j - 1] + T(0.75) * d[2 * j]) +
                                (T(0.75) * d[2 * j + 1] + T(0.25) * d[2 * j + 2]));
            }
            if (w > 1) {
                out[w - 1] += wy * edge(w - 1);
            }
        }
    }
};

} // namespace kernels

namespace detail {

/// The state both upsampling layers keep: the input shape.
struct upsample2_state {
    std::array<std::size_t, 4> in{};
    bool has_forward = false;
    template <class T>
    std::array<std::size_t, 4> start(const tensor4<T>& x) {
        in = {x.shape(0), x.shape(1), x.shape(2), x.shape(3)};
        has_forward = true;
        return {in[0], in[1], 2 * in[2], 2 * in[3]};
    }
    template <class T>
    void check(const tensor4<T>& dy, const char* where) const {
        require_forward(has_forward, where);
        require_gradient_shape(dy, std::array<std::size_t, 4>{in[0], in[1], 2 * in[2], 2 * in[3]},
                               where);
    }
};

} // namespace detail

/// Nearest-neighbour 2x upsampling (no parameters).
template <class T>
class upsample_nearest2 {
public:
    tensor4<T> forward(const tensor4<T>& x) {
        tensor4<T> y(s_.start(x));
        cpu_backend::for_each_index(y.size(), kernels::upsample_nearest2_forward_body<T>{
                                                  x.data(), y.data(), s_.in[2], s_.in[3]});
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        s_.check(dy, "upsample_nearest2::backward");
        tensor4<T> dx(s_.in);
        cpu_backend::for_each_index(dx.size(), kernels::upsample_nearest2_backward_body<T>{
                                                   dy.data(), dx.data(), s_.in[2], s_.in[3]});
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }

private:
    detail::upsample2_state s_;
};

/// Bilinear 2x upsampling with align_corners=False (no parameters).
template <class T>
class upsample_bilinear2 {
public:
    tensor4<T> forward(const tensor4<T>& x) {
        tensor4<T> y(s_.start(x));
        cpu_backend::for_each_index(
            y.shape(0) * y.shape(1) * y.shape(2),
            kernels::upsample_bilinear2_forward_body<T>{x.data(), y.data(), s_.in[2], s_.in[3]},
            y.shape(3));
        return y;
    }
    tensor4<T> backward(const tensor4<T>& dy) {
        s_.check(dy, "upsample_bilinear2::backward");
        tensor4<T> dx(s_.in);
        cpu_backend::for_each_index(
            dx.shape(0) * dx.shape(1) * dx.shape(2),
            kernels::upsample_bilinear2_backward_body<T>{dy.data(), dx.data(), s_.in[2], s_.in[3]},
            4 * dx.shape(3));
        return dx;
    }
    std::vector<parameter<T>*> parameters() { return {}; }

private:
    detail::upsample2_state s_;
};

} // namespace xrestore::train
