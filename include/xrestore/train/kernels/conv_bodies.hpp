#pragma once
/// @file conv_bodies.hpp
/// The element-wise and gather parts of the convolution layers (train/conv2d.hpp,
/// train/conv_transpose2d.hpp) as host-device kernel bodies over row-major C x H x W buffers:
/// padding (zero or reflect) and its adjoint, im2col and its adjoint col2im, bias addition and
/// its gradient, and the scatter/gather between the 2x2 stride-2 transposed convolution's
/// per-tap products and its output blocks. The products themselves are matrix products
/// (train/detail/gemm.hpp on the CPU). Every body computes one output element per index
/// (gathers, no atomics), so the CPU runs them in parallel loops and a device in grid-stride
/// kernels.
///
/// @code
/// using namespace xrestore::train::kernels;
/// for (std::size_t j = 0; j < in * k * k * oh; ++j)
///     im2col_body<double>{xp, hp, wp, k, s, oh, ow, cols}(j);  // then y = weight * cols
/// @endcode

#include "xrestore/core/host_device.hpp"

#include <cstddef>

namespace xrestore::train::kernels {

/// Padding of each plane by `pad` rows and columns on every side: dst (planes x (height + 2 pad)
/// x (width + 2 pad)) from src (planes x height x width). Outside the source, zero padding
/// writes 0 and reflect padding mirrors about the edge row/column without repeating it
/// (PyTorch's padding_mode="reflect": row -1 takes row 1), which needs pad < height, width.
/// Index j runs over the destination rows (planes x (height + 2 pad)), each filled.
template <class T>
struct pad2d_body {
    const T* src;
    std::size_t height;
    std::size_t width;
    std::size_t pad;
    bool reflect;
    T* dst;

    /// Source index of padded position q - pad along an axis of `size` (reflect), or size
    /// when it lies outside (zeros).
    XRESTORE_HD std::size_t source(std::size_t q, std::size_t size) const {
        const auto v = static_cast<std::ptrdiff_t>(q) - static_cast<std::ptrdiff_t>(pad);
        const auto n = static_cast<std::ptrdiff_t>(size);
        if (v >= 0 && v < n) {
            return static_cast<std::size_t>(v);
        }
        if (!reflect) {
            return size;
        }
        return static_cast<std::size_t>(v < 0 ? -v : 2 * (n - 1) - v); // mirror
    }

    XRESTORE_HD void operator()(std::size_t j) const {
        const std::size_t pw = width + 2 * pad;
        const std::size_t ph = height + 2 * pad;
        const std::size_t sy = source(j % ph, height);
        T* out = dst + j * pw;
        if (sy == height) {
            for (std::size_t q = 0; q < pw; ++q) {
                out[q] = T(0);
            }
            return;
        }
        const T* in = src + (j / ph * height + sy) * width;
        for (std::size_t q = 0; q < pad; ++q) {
            const std::size_t sx = source(q, width);
            out[q] = sx == width ? T(0) : in[sx];
            const std::size_t sr = source(pad + width + q, width);
            out[pad + width + q] = sr == width ? T(0) : in[sr];
        }
        for (std::size_t x = 0; x < width; ++x) {
            out[pad + x] = in[x];
        }
    }
};

/// The adjoint of pad2d_body: dsrc[i] = sum of dpadded over every padded position that reads
/// source element i (its own, plus up to two mirror images per axis for reflect padding).
/// Index j runs over the source rows (planes x height), each overwritten.
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

    XRESTORE_HD void operator()(std::size_t j) const {
        const std::size_t y = j % height;
        const std::size_t p = j / height;
        const std::size_t pw = width + 2 * pad;
        const std::size_t ph = height + 2 * pad;
        std::size_t rows[3];
        const std::size_t nr = readers(y, height, rows);
        T* out = dsrc + j * width;
        for (std::size_t x = 0; x < width; ++x) {
            out[x] = T(0);
        }
        for (std::size_t a = 0; a < nr; ++a) {
            const T* in = dpadded + (p * ph + rows[a]) * pw;
            for (std::size_t x = 0; x < width; ++x) {
                out[x] += in[x + pad];
            }
            if (!reflect) {
                continue;
            }
            for (std::size_t x = 0; x < width; ++x) { // the mirror images of x, if any
                std::size_t cols[3];
                const std::size_t nc = readers(x, width, cols);
                for (std::size_t b = 1; b < nc; ++b) {
                    out[x] += in[cols[b]];
                }
            }
        }
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

/// The im2col matrix of one padded image for a valid strided convolution: cols[(i k + a) k +
/// b][r out_width + c] = xp[i, r stride + a, c stride + b], a (in k k) x (out_height out_width)
/// matrix, so the convolution is weight (out x in k k) times cols. Index j runs over the rows
/// of the output pixels within the rows of cols (in k k out_height of them): it fills the
/// out_width entries of cols row j / out_height, output row j % out_height.
template <class T>
struct im2col_body {
    const T* xp;
    std::size_t height;
    std::size_t width;
    std::size_t k;
    std::size_t stride;
    std::size_t out_height;
    std::size_t out_width;
    T* cols;
    XRESTORE_HD void operator()(std::size_t j) const {
        const std::size_t r = j % out_height;
        const std::size_t row = j / out_height;
        const std::size_t b = row % k;
        const std::size_t a = row / k % k;
        const std::size_t i = row / (k * k);
        const T* src = xp + (i * height + r * stride + a) * width + b;
        T* dst = cols + j * out_width;
        for (std::size_t c = 0; c < out_width; ++c) {
            dst[c] = src[c * stride];
        }
    }
};

/// The adjoint of im2col_body (col2im): dxp[i, p, q] = sum of dcols[(i k + a) k + b][r
/// out_width + c] over the taps with p = r stride + a, q = c stride + b inside the output,
/// summed in increasing a, then b. Index j runs over the rows of the padded image (in height
/// of them), each overwritten.
template <class T>
struct col2im_body {
    const T* dcols;
    std::size_t height;
    std::size_t width;
    std::size_t k;
    std::size_t stride;
    std::size_t out_height;
    std::size_t out_width;
    T* dxp;
    XRESTORE_HD void operator()(std::size_t j) const {
        const std::size_t p = j % height;
        const std::size_t i = j / height;
        const std::size_t pixels = out_height * out_width;
        T* dst = dxp + j * width;
        for (std::size_t q = 0; q < width; ++q) {
            dst[q] = T(0);
        }
        for (std::size_t a = 0; a < k && a <= p; ++a) {
            if ((p - a) % stride != 0 || (p - a) / stride >= out_height) {
                continue;
            }
            const std::size_t r = (p - a) / stride;
            for (std::size_t b = 0; b < k; ++b) {
                const T* src = dcols + ((i * k + a) * k + b) * pixels + r * out_width;
                T* row = dst + b;
                for (std::size_t c = 0; c < out_width; ++c) {
                    row[c * stride] += src[c];
                }
            }
        }
    }
};

/// y[c, j] += bias[c] for a channels x plane block. Index runs over the channels, each plane
/// written whole.
template <class T>
struct add_channel_bias_body {
    const T* bias;
    std::size_t plane;
    T* y;
    XRESTORE_HD void operator()(std::size_t c) const {
        const T b = bias[c];
        T* out = y + c * plane;
        for (std::size_t j = 0; j < plane; ++j) {
            out[j] += b;
        }
    }
};

/// The 2x2 stride-2 transposed convolution of one image as a product: taps[(o 4 + 2 a + b)]
/// [r width + c] = sum_i w[i, o, a, b] x[i, r, c] (weight^T times x) spread into the image,
/// y[o, 2 r + a, 2 c + b] = bias[o] + taps[o 4 + 2 a + b][r width + c] (bias nullptr for
/// none). Index runs over the rows of y (out x 2 height), each written whole.
template <class T>
struct taps_to_blocks_body {
    const T* taps;
    const T* bias;
    std::size_t height;
    std::size_t width;
    T* y;
    XRESTORE_HD void operator()(std::size_t row) const {
        const std::size_t qy = row % (2 * height);
        const std::size_t o = row / (2 * height);
        const std::size_t plane = height * width;
        const std::size_t offset = (qy / 2) * width;
        const T* even = taps + (o * 4 + (qy % 2) * 2) * plane + offset; // tap b = 0
        const T* odd = even + plane;                                    // tap b = 1
        const T add = bias != nullptr ? bias[o] : T(0);
        T* out = y + row * 2 * width;
        for (std::size_t c = 0; c < width; ++c) {
            out[2 * c] = even[c] + add;
            out[2 * c + 1] = odd[c] + add;
        }
    }
};

/// The adjoint gather of taps_to_blocks_body: dtaps[o 4 + 2 a + b][r width + c] = dy[o, 2 r + a,
/// 2 c + b]. Index runs over the rows of dy (out x 2 height): each fills a row of two taps.
template <class T>
struct blocks_to_taps_body {
    const T* dy;
    std::size_t height;
    std::size_t width;
    T* dtaps;
    XRESTORE_HD void operator()(std::size_t row) const {
        const std::size_t qy = row % (2 * height);
        const std::size_t o = row / (2 * height);
        const std::size_t plane = height * width;
        T* even = dtaps + (o * 4 + (qy % 2) * 2) * plane + (qy / 2) * width;
        T* odd = even + plane;
        const T* in = dy + row * 2 * width;
        for (std::size_t c = 0; c < width; ++c) {
            even[c] = in[2 * c];
            odd[c] = in[2 * c + 1];
        }
    }
};

} // namespace xrestore::train::kernels
