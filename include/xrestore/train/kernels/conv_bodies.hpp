#pragma once
/// @file conv_bodies.hpp
/// Forward and backward arithmetic of the convolution layers (train/conv2d.hpp,
/// train/conv_transpose2d.hpp) as host-device kernel bodies over row-major N x C x H x W
/// buffers: padding (zero or reflect) and its adjoint, a valid strided convolution with its
/// input, weight and bias gradients, and the 2x2 stride-2 transposed convolution with its
/// gradients. Every body computes one output element per index (gathers, no atomics), so the
/// CPU runs them in plain loops and a device in grid-stride kernels.
///
/// @code
/// using namespace xrestore::train::kernels;
/// for (std::size_t i = 0; i < n * out * oh * ow; ++i)
///     conv2d_body<double>{xp, w, b, in, out, hp, wp, k, s, oh, ow, y}(i);
/// @endcode

#include "xrestore/core/host_device.hpp"

#include <cstddef>

namespace xrestore::train::kernels {

/// Padding of each plane by `pad` rows and columns on every side: dst (planes x (height + 2 pad)
/// x (width + 2 pad)) from src (planes x height x width). Outside the source, zero padding
/// writes 0 and reflect padding mirrors about the edge row/column without repeating it
/// (PyTorch's padding_mode="reflect": row -1 takes row 1), which needs pad < height, width.
/// Index i runs over the destination.
template <class T>
struct pad2d_body {
    const T* src;
    std::size_t height;
    std::size_t width;
    std::size_t pad;
    bool reflect;
    T* dst;
    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t pw = width + 2 * pad;
        const std::size_t ph = height + 2 * pad;
        const auto x = static_cast<std::ptrdiff_t>(i % pw) - static_cast<std::ptrdiff_t>(pad);
        const auto y = static_cast<std::ptrdiff_t>(i / pw % ph) - static_cast<std::ptrdiff_t>(pad);
        const std::size_t p = i / (pw * ph);
        const auto h = static_cast<std::ptrdiff_t>(height);
        const auto w = static_cast<std::ptrdiff_t>(width);
        if (!reflect && (y < 0 || y >= h || x < 0 || x >= w)) {
            dst[i] = T(0);
            return;
        }
        const std::ptrdiff_t sy = y < 0 ? -y : (y >= h ? 2 * (h - 1) - y : y); // mirror
        const std::ptrdiff_t sx = x < 0 ? -x : (x >= w ? 2 * (w - 1) - x : x);
        dst[i] =
            src[(p * height + static_cast<std::size_t>(sy)) * width + static_cast<std::size_t>(sx)];
    }
};

/// The adjoint of pad2d_body: dsrc[i] = sum of dpadded over every padded position that reads
/// source element i (its own, plus up to two mirror images per axis for reflect padding).
/// Index i runs over the source (planes x height x width); dsrc is overwritten.
template <class T>
struct pad2d_adjoint_body {
    const T* dpadded;
    std::size_t height;
    std::size_t width;
    std::size_t pad;
    bool reflect;
    T* dsrc;

    /// Padded indices along one axis of `size` that read source index `s`; returns the count.
    XRESTORE_HD std::size_t readers(std::size_t s, std::size_t size, std::size_t* out) const {
        std::size_t k = 0;
        out[k++] = s + pad;
        if (reflect && s >= 1 && s <= pad) {
            out[k++] = pad - s; // padded q - pad = -s mirrors to s
        }
        if (reflect && s + 2 <= size && s + 1 + pad >= size) {
            out[k++] = pad + 2 * (size - 1) - s; // q - pad = 2 (size - 1) - s mirrors to s
        }
        return k;
    }

    XRESTORE_HD void operator()(std::size_t i) const {
        const std::size_t x = i % width;
        const std::size_t y = i / width % height;
        const std::size_t p = i / (width * height);
        const std::size_t pw = width + 2 * pad;
        const std::size_t ph = height + 2 * pad;
        std::size_t rows[3];
        std::size_t cols[3];
        const std::size_t nr = readers(y, height, rows);
        const std::size_t nc = readers(x, width, cols);
        T sum = T(0);
        for (std::size_t a = 0; a < nr; ++a) {
            for (std::size_t b = 0; b < nc; ++b) {
                sum += dpadded[(p * ph + rows[a]) * pw + cols[b]];
            }
        }
        dsrc[i] = sum;
    }
};

/// Valid strided convolution (cross-correlation, as PyTorch's Conv2d) of an already padded
/// input xp (batch x in x height x width) with weight (out x in x k x k) and optional bias
/// (nullptr for none): y[n, o, r, c] = bias[o] + sum_{i, a, b} w[o, i, a, b]
/// xp[n, i, r stride + a, c stride + b]. Index i runs over y (batch x out x out_height x
/// out_width).
template <class T>
struct conv2d_body {
    const T* xp;
    const T* weight;
    const T* bias;
    std::size_t in;
    std::size_t out;
    std::size_t height;
    std::size_t width;
    std::size_t k;
    std::size_t stride;
    std::size_t out_height;
    std::size_t out_width;
    T* y;
    XRESTORE_HD void operator()(std::size_t idx) const {
        const std::size_t c = idx % out_width;
        const std::size_t r = idx / out_width % out_height;
        const std::size_t o = idx / (out_width * out_height) % out;
        const std::size_t n = idx / (out_width * out_height * out);
        T sum = bias != nullptr ? bias[o] : T(0);
        for (std::size_t i = 0; i < in; ++i) {
            const T* plane = xp + (n * in + i) * height * width;
            const T* w = weight + (o * in + i) * k * k;
            for (std::size_t a = 0; a < k; ++a) {
                for (std::size_t b = 0; b < k; ++b) {
                    sum += w[a * k + b] * plane[(r * stride + a) * width + c * stride + b];
                }
            }
        }
        y[idx] = sum;
    }
};

/// dL/dxp of conv2d_body: dxp[n, i, p, q] = sum over (o, a, b) with p = r stride + a and
/// q = c stride + b inside the output of dy[n, o, r, c] w[o, i, a, b]. Index runs over xp
/// (batch x in x height x width); dxp is overwritten.
template <class T>
struct conv2d_input_grad_body {
    const T* dy;
    const T* weight;
    std::size_t in;
    std::size_t out;
    std::size_t height;
    std::size_t width;
    std::size_t k;
    std::size_t stride;
    std::size_t out_height;
    std::size_t out_width;
    T* dxp;
    XRESTORE_HD void operator()(std::size_t idx) const {
        const std::size_t q = idx % width;
        const std::size_t p = idx / width % height;
        const std::size_t i = idx / (width * height) % in;
        const std::size_t n = idx / (width * height * in);
        T sum = T(0);
        for (std::size_t a = 0; a < k && a <= p; ++a) {
            if ((p - a) % stride != 0 || (p - a) / stride >= out_height) {
                continue;
            }
            const std::size_t r = (p - a) / stride;
            for (std::size_t b = 0; b < k && b <= q; ++b) {
                if ((q - b) % stride != 0 || (q - b) / stride >= out_width) {
                    continue;
                }
                const std::size_t c = (q - b) / stride;
                for (std::size_t o = 0; o < out; ++o) {
                    sum += dy[((n * out + o) * out_height + r) * out_width + c] *
                           weight[((o * in + i) * k + a) * k + b];
                }
            }
        }
        dxp[idx] = sum;
    }
};

/// dL/dw of conv2d_body, added: dw[o, i, a, b] += sum_{n, r, c} dy[n, o, r, c]
/// xp[n, i, r stride + a, c stride + b]. Index runs over the weight (out x in x k x k).
template <class T>
struct conv2d_weight_grad_body {
    const T* dy;
    const T* xp;
    std::size_t batch;
    std::size_t in;
    std::size_t out;
    std::size_t height;
    std::size_t width;
    std::size_t k;
    std::size_t stride;
    std::size_t out_height;
    std::size_t out_width;
    T* dweight;
    XRESTORE_HD void operator()(std::size_t idx) const {
        const std::size_t b = idx % k;
        const std::size_t a = idx / k % k;
        const std::size_t i = idx / (k * k) % in;
        const std::size_t o = idx / (k * k * in);
        T sum = T(0);
        for (std::size_t n = 0; n < batch; ++n) {
            const T* g = dy + (n * out + o) * out_height * out_width;
            const T* plane = xp + (n * in + i) * height * width;
            for (std::size_t r = 0; r < out_height; ++r) {
                for (std::size_t c = 0; c < out_width; ++c) {
                    sum += g[r * out_width + c] * plane[(r * stride + a) * width + c * stride + b];
                }
            }
        }
        dweight[idx] += sum;
    }
};

/// dL/dbias of a layer that adds bias[c] to every pixel of channel c, added: dbias[c] +=
/// sum_{n, pixels} dy[n, c, pixel]. Index runs over the channels.
template <class T>
struct channel_sum_grad_body {
    const T* dy;
    std::size_t batch;
    std::size_t channels;
    std::size_t plane;
    T* dbias;
    XRESTORE_HD void operator()(std::size_t c) const {
        T sum = T(0);
        for (std::size_t n = 0; n < batch; ++n) {
            const T* g = dy + (n * channels + c) * plane;
            for (std::size_t j = 0; j < plane; ++j) {
                sum += g[j];
            }
        }
        dbias[c] += sum;
    }
};

/// 2x2 stride-2 transposed convolution (PyTorch's ConvTranspose2d(in, out, 2, stride=2)):
/// each input pixel spreads to a 2x2 block, y[n, o, 2 r + a, 2 c + b] = bias[o] + sum_i
/// x[n, i, r, c] w[i, o, a, b], weight in x out x 2 x 2, bias nullptr for none. Index runs over
/// y (batch x out x 2 height x 2 width).
template <class T>
struct conv_transpose2x2_body {
    const T* x;
    const T* weight;
    const T* bias;
    std::size_t in;
    std::size_t out;
    std::size_t height;
    std::size_t width;
    T* y;
    XRESTORE_HD void operator()(std::size_t idx) const {
        const std::size_t qx = idx % (2 * width);
        const std::size_t qy = idx / (2 * width) % (2 * height);
        const std::size_t o = idx / (4 * width * height) % out;
        const std::size_t n = idx / (4 * width * height * out);
        const std::size_t tap = (qy % 2) * 2 + qx % 2;
        T sum = bias != nullptr ? bias[o] : T(0);
        for (std::size_t i = 0; i < in; ++i) {
            sum += x[((n * in + i) * height + qy / 2) * width + qx / 2] *
                   weight[(i * out + o) * 4 + tap];
        }
        y[idx] = sum;
    }
};

/// dL/dx of conv_transpose2x2_body: dx[n, i, r, c] = sum_{o, a, b} dy[n, o, 2 r + a, 2 c + b]
/// w[i, o, a, b]. Index runs over x (batch x in x height x width); dx is overwritten.
template <class T>
struct conv_transpose2x2_input_grad_body {
    const T* dy;
    const T* weight;
    std::size_t in;
    std::size_t out;
    std::size_t height;
    std::size_t width;
    T* dx;
    XRESTORE_HD void operator()(std::size_t idx) const {
        const std::size_t c = idx % width;
        const std::size_t r = idx / width % height;
        const std::size_t i = idx / (width * height) % in;
        const std::size_t n = idx / (width * height * in);
        T sum = T(0);
        for (std::size_t o = 0; o < out; ++o) {
            const T* g = dy + (n * out + o) * 4 * height * width;
            for (std::size_t tap = 0; tap < 4; ++tap) {
                sum += g[(2 * r + tap / 2) * 2 * width + 2 * c + tap % 2] *
                       weight[(i * out + o) * 4 + tap];
            }
        }
        dx[idx] = sum;
    }
};

/// dL/dw of conv_transpose2x2_body, added: dw[i, o, a, b] += sum_{n, r, c} x[n, i, r, c]
/// dy[n, o, 2 r + a, 2 c + b]. Index runs over the weight (in x out x 2 x 2).
template <class T>
struct conv_transpose2x2_weight_grad_body {
    const T* dy;
    const T* x;
    std::size_t batch;
    std::size_t in;
    std::size_t out;
    std::size_t height;
    std::size_t width;
    T* dweight;
    XRESTORE_HD void operator()(std::size_t idx) const {
        const std::size_t tap = idx % 4;
        const std::size_t o = idx / 4 % out;
        const std::size_t i = idx / (4 * out);
        T sum = T(0);
        for (std::size_t n = 0; n < batch; ++n) {
            const T* plane = x + (n * in + i) * height * width;
            const T* g = dy + (n * out + o) * 4 * height * width;
            for (std::size_t r = 0; r < height; ++r) {
                for (std::size_t c = 0; c < width; ++c) {
                    sum +=
                        plane[r * width + c] * g[(2 * r + tap / 2) * 2 * width + 2 * c + tap % 2];
                }
            }
        }
        dweight[idx] += sum;
    }
};

} // namespace xrestore::train::kernels
