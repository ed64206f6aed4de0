#pragma once
/// @file conv2d.hpp
/// 2-D convolution with reverse mode, as PyTorch's Conv2d(in, out, k, stride, padding=k/2,
/// padding_mode="zeros"/"reflect", bias): odd kernel sizes k (1 for a 1x1 convolution), any
/// stride, weight out x in x k x k, bias out. The output is N x out x floor((H + 2p - k) / s)
/// + 1 x floor((W + 2p - k) / s) + 1 with p = k / 2. forward pads the input (saved for the
/// weight gradient) and convolves without padding; backward runs the same steps in reverse and
/// ends with the adjoint of the padding. Two algorithms (conv2d_options::algorithm):
/// - im2col (any kernel): image by image, weight (out x in k k) times the im2col matrix of the
///   image; backward: the weight gradient dy cols^T, the column gradient weight^T dy folded
///   back by col2im.
/// - Winograd F(2x2, 3x3) (3x3 kernels, stride 1; the default for them): 16 products per group
///   of images on transformed 4x4 tiles (train/kernels/winograd_bodies.hpp), 2.25 times fewer
///   multiplications, and the exact adjoint of each step for the gradients. Its values differ
///   from im2col's by rounding only.
/// The products run in parallel (train/detail/gemm.hpp), bit-identical for any thread count.
///
/// @code
/// xrestore::train::conv2d<float> conv("down_sample_layers.0.layers.0", 3, 32, {.kernel_size = 3});
/// auto y = conv.forward(x);            // x: N x 3 x H x W
/// auto dx = conv.backward(dy);         // adds to conv.weight.grad (and conv.bias.grad)
/// @endcode

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/train/detail/gemm.hpp"
#include "xrestore/train/detail/layer_checks.hpp"
#include "xrestore/train/detail/scratch.hpp"
#include "xrestore/train/kernels/conv_bodies.hpp"
#include "xrestore/train/kernels/winograd_bodies.hpp"
#include "xrestore/train/parameter.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::train {

/// How a convolution fills the border it pads (PyTorch's padding_mode).
enum class padding_mode {
    zeros,  ///< zeros outside the input
    reflect ///< mirror about the edge without repeating it (row -1 is row 1); needs p < H, W
};

/// How a conv2d layer computes its products (see the file comment).
enum class conv2d_algorithm {
    automatic, ///< winograd for 3x3 kernels with stride 1, im2col otherwise
    im2col,    ///< im2col matrices times the weight (any kernel and stride)
    winograd   ///< Winograd F(2x2, 3x3): 3x3 kernels with stride 1 only
};

/// Shape of a conv2d layer.
struct conv2d_options {
    std::size_t kernel_size = 3;                ///< odd k; padding is k / 2 on every side
    std::size_t stride = 1;                     ///< stride s >= 1 (1 and 2 in the U-Nets)
    padding_mode padding = padding_mode::zeros; ///< how the border is filled
    bool bias = true;                           ///< whether a bias per output channel is added
    std::uint64_t seed = 0;                     ///< seed of the uniform initialisation
    conv2d_algorithm algorithm = conv2d_algorithm::automatic; ///< how the products run
};

/// 2-D convolution layer with explicit forward and backward (see the file comment).
template <class T>
class conv2d {
public:
    parameter<T> weight; ///< out x in x k x k, state_dict name prefix + ".weight"
    parameter<T> bias;   ///< out (empty without bias), state_dict name prefix + ".bias"

    /// A layer whose parameters are named `prefix` + ".weight" / ".bias", initialised as
    /// PyTorch does: uniform in [-1/sqrt(in k^2), 1/sqrt(in k^2)).
    conv2d(std::string prefix, std::size_t in_channels, std::size_t out_channels,
           conv2d_options options = {})
        : in_(in_channels), out_(out_channels), o_(options) {
        constexpr const char* where = "conv2d";
        require(o_.kernel_size % 2 == 1, where, "kernel_size", "odd", o_.kernel_size);
        require(o_.stride >= 1, where, "stride", "at least 1", o_.stride);
        require(in_ >= 1, where, "in_channels", "at least 1", in_);
        require(out_ >= 1, where, "out_channels", "at least 1", out_);
        if (o_.algorithm == conv2d_algorithm::winograd && (o_.kernel_size != 3 || o_.stride != 1)) {
            throw value_error(xrestore::detail::describe(
                where, "algorithm winograd", "a 3x3 kernel with stride 1",
                "kernel_size " + std::to_string(o_.kernel_size) + ", stride " +
                    std::to_string(o_.stride)));
        }
        const std::size_t k = o_.kernel_size;
        const double bound = 1.0 / std::sqrt(static_cast<double>(in_ * k * k));
        weight = parameter<T>(prefix + ".weight",
                              detail::uniform_init<T>({out_, in_, k, k}, bound, o_.seed));
        if (o_.bias) {
            bias =
                parameter<T>(prefix + ".bias", detail::uniform_init<T>({out_}, bound, o_.seed + 1));
        }
    }

    /// y = conv(pad(x)) + bias; saves the padded input.
    tensor4<T> forward(const tensor4<T>& x) {
        constexpr const char* where = "conv2d";
        check_parameters(where);
        detail::require_input_channels(x, in_, where);
        const std::size_t k = o_.kernel_size;
        const std::size_t p = k / 2;
        const std::size_t n = x.shape(0);
        const std::size_t h = x.shape(2);
        const std::size_t w = x.shape(3);
        if (o_.padding == padding_mode::reflect && (p >= h || p >= w)) {
            throw shape_error(
                xrestore::detail::describe(where, "input height and width",
                                           "greater than the reflect padding " + std::to_string(p),
                                           std::to_string(h) + " x " + std::to_string(w)));
        }
        // pad: xp = pad_p(x), N x in x (H + 2p) x (W + 2p)
        padded_ = tensor4<T>::from_shape({n, in_, h + 2 * p, w + 2 * p});
        cpu_backend::for_each_index(n * in_ * (h + 2 * p),
                                    kernels::pad2d_body<T>{x.data(), h, w, p,
                                                           o_.padding == padding_mode::reflect,
                                                           padded_.data()},
                                    w + 2 * p);
        input_shape_ = x.shape();
        // y[n, o, r, c] = b[o] + sum_{i, a, b} w[o, i, a, b] xp[n, i, r s + a, c s + b]:
        // per image y_n (out x oh ow) = weight (out x in k k) * cols_n (in k k x oh ow)
        const std::size_t hp = h + 2 * p;
        const std::size_t wp = w + 2 * p;
        const std::size_t oh = (hp - k) / o_.stride + 1;
        const std::size_t ow = (wp - k) / o_.stride + 1;
        const std::size_t pixels = oh * ow;
        const std::size_t depth = in_ * k * k;
        tensor4<T> y = tensor4<T>::from_shape({n, out_, oh, ow});
        if (winograd()) {
            winograd_forward(y);
        }
        detail::scratch<T> cols_buffer(direct_columns() || winograd() ? 0 : depth * pixels);
        for (std::size_t b = 0; b < n; ++b) {
            T* yb = y.data() + b * out_ * pixels;
            if (!winograd()) {
                const T* cols = columns(b, hp, wp, oh, ow, cols_buffer);
                detail::parallel_gemm<T>(out_, pixels, depth, {weight.value.data(), depth, false},
                                         {cols, pixels, false}, T(0), yb, pixels);
            }
            if (o_.bias) {
                cpu_backend::for_each_index(
                    out_, kernels::add_channel_bias_body<T>{bias.value.data(), pixels, yb}, pixels);
            }
        }
        output_shape_ = y.shape();
        forward_done_ = true;
        return y;
    }

    /// dL/dx from dL/dy; adds dL/dw and dL/db to the parameters' gradients.
    tensor4<T> backward(const tensor4<T>& dy) {
        constexpr const char* where = "conv2d";
        train::detail::require_forward(forward_done_, where);
        train::detail::require_gradient_shape(dy, output_shape_, where);
        check_parameters(where);
        const std::size_t k = o_.kernel_size;
        const std::size_t n = padded_.shape(0);
        const std::size_t hp = padded_.shape(2);
        const std::size_t wp = padded_.shape(3);
        const std::size_t oh = dy.shape(2);
        const std::size_t ow = dy.shape(3);
        const std::size_t pixels = oh * ow;
        const std::size_t depth = in_ * k * k;
        // db[o] += sum_{n, r, c} dy[n, o, r, c]
        if (o_.bias) {
            cpu_backend::for_each_index(
                out_,
                kernels::channel_sum_grad_body<T>{dy.data(), n, out_, pixels, bias.grad.data()},
                n * pixels);
        }
        tensor4<T> dpadded = tensor4<T>::from_shape(padded_.shape());
        if (winograd()) {
            winograd_backward(dy, dpadded);
        }
        const std::size_t im2col_images = winograd() ? 0 : n;
        // im2col and the GEMM with beta 0 write every element of these before it is read
        detail::scratch<T> cols_buffer(direct_columns() || winograd() ? 0 : depth * pixels);
        detail::scratch<T> dcols(direct_columns() || winograd() ? 0 : depth * pixels);
        for (std::size_t b = 0; b < im2col_images; ++b) {
            const T* cols = columns(b, hp, wp, oh, ow, cols_buffer);
            const T* dyb = dy.data() + b * out_ * pixels;
            // dw[o, i, a, b] += sum_{r, c} dy[n, o, r, c] xp[n, i, r s + a, c s + b]:
            // dweight (out x in k k) += dy_n (out x oh ow) * cols_n^T, image after image
            detail::parallel_gemm<T>(out_, depth, pixels, {dyb, pixels, false},
                                     {cols, pixels, true}, T(1), weight.grad.data(), depth);
            // dcols_n = weight^T * dy_n, then dxp_n = col2im(dcols_n)
            T* dxp = dpadded.data() + b * in_ * hp * wp;
            T* dc = direct_columns() ? dxp : dcols.data();
            detail::parallel_gemm<T>(depth, pixels, out_, {weight.value.data(), depth, true},
                                     {dyb, pixels, false}, T(0), dc, pixels);
            if (!direct_columns()) {
                cpu_backend::for_each_index(
                    in_ * hp,
                    kernels::col2im_body<T>{dcols.data(), hp, wp, k, o_.stride, oh, ow, dxp},
                    k * wp);
            }
        }
        // dx = pad^T(dxp)
        tensor4<T> dx = tensor4<T>::from_shape(input_shape_);
        cpu_backend::for_each_index(
            input_shape_[0] * input_shape_[1] * input_shape_[2],
            kernels::pad2d_adjoint_body<T>{dpadded.data(), input_shape_[2], input_shape_[3], k / 2,
                                           o_.padding == padding_mode::reflect, dx.data()},
            input_shape_[3]);
        return dx;
    }

    /// The trained tensors: weight, then bias when the layer has one.
    std::vector<parameter<T>*> parameters() {
        if (o_.bias) {
            return {&weight, &bias};
        }
        return {&weight};
    }

    [[nodiscard]] const conv2d_options& options() const { return o_; }
    [[nodiscard]] std::size_t in_channels() const { return in_; }
    [[nodiscard]] std::size_t out_channels() const { return out_; }

private:
    std::size_t in_;
    std::size_t out_;
    conv2d_options o_;
    tensor4<T> padded_;
    typename tensor4<T>::shape_type input_shape_{};
    typename tensor4<T>::shape_type output_shape_{};
    bool forward_done_ = false;

    /// A 1x1 stride-1 convolution multiplies the image itself: no im2col matrix.
    [[nodiscard]] bool direct_columns() const { return o_.kernel_size == 1 && o_.stride == 1; }

    /// Whether the products run as Winograd F(2x2, 3x3).
    [[nodiscard]] bool winograd() const {
        return o_.algorithm == conv2d_algorithm::winograd ||
               (o_.algorithm == conv2d_algorithm::automatic && o_.kernel_size == 3 &&
                o_.stride == 1);
    }

    /// The Winograd layout of the padded input: tiles per column and row of an image, how many
    /// images one group of products takes (about winograd_group_tiles tiles, at least one
    /// image; it depends on the shapes only), and the block strides of the transformed weight
    /// (us), input (vs) and product (ms) buffers.
    struct winograd_plan {
        std::size_t n, hp, wp, oh, ow, th, tw, group, us, vs, ms;
    };
    static constexpr std::size_t winograd_group_tiles = 128;
    [[nodiscard]] winograd_plan plan() const {
        winograd_plan q{};
        q.n = padded_.shape(0);
        q.hp = padded_.shape(2);
        q.wp = padded_.shape(3);
        q.oh = q.hp - 2;
        q.ow = q.wp - 2;
        q.th = (q.oh + 1) / 2;
        q.tw = (q.ow + 1) / 2;
        const std::size_t per_image = q.th * q.tw;
        q.group = std::min(
            q.n, std::max<std::size_t>(1, (winograd_group_tiles + per_image - 1) / per_image));
        const std::size_t most = q.group * per_image;
        q.us = winograd_stride(out_ * in_);
        q.vs = winograd_stride(in_ * most);
        q.ms = winograd_stride(out_ * most);
        return q;
    }

    /// Elements between the 16 blocks of a transformed buffer of blocks of `block` elements:
    /// rounded up and shifted by 64 bytes so the blocks do not start on the same cache sets.
    static std::size_t winograd_stride(std::size_t block) {
        constexpr std::size_t line = 64 / sizeof(T);
        return (block + line - 1) / line * line + line;
    }

    /// U = G g G^T for every (out, in) kernel: 16 blocks of out x in, q.us apart.
    [[nodiscard]] std::vector<T> winograd_weight(const winograd_plan& q) const {
        std::vector<T> u(16 * q.us);
        cpu_backend::for_each_index(
            out_ * in_, kernels::winograd_weight_body<T>{weight.value.data(), q.us, u.data()}, 16);
        return u;
    }

    /// U_xi^T (in x out) for every xi: 16 blocks, q.us apart.
    [[nodiscard]] std::vector<T> winograd_weight_transposed(const winograd_plan& q) const {
        const std::vector<T> u = winograd_weight(q);
        std::vector<T> ut(16 * q.us);
        for (std::size_t xi = 0; xi < 16; ++xi) {
            detail::transpose_matrix(out_, in_, u.data() + xi * q.us, in_, ut.data() + xi * q.us,
                                     out_);
        }
        return ut;
    }

    /// V = B^T d B for the tiles of padded images b0 .. b0 + images - 1, into v (16 blocks, q.vs
    /// apart).
    void winograd_input(const winograd_plan& q, std::size_t b0, std::size_t images, T* v) const {
        cpu_backend::for_each_index(
            images * in_ * q.th,
            kernels::winograd_input_body<T>{padded_.data() + b0 * in_ * q.hp * q.wp, in_, q.hp,
                                            q.wp, q.th, q.tw, images * q.th * q.tw, q.vs, v},
            16 * q.tw);
    }

    /// y = A^T [U_xi V_xi] A group by group (no bias).
    void winograd_forward(tensor4<T>& y) const {
        const winograd_plan q = plan();
        const std::vector<T> u = winograd_weight(q);
        detail::scratch<T> v(16 * q.vs);
        detail::scratch<T> m(16 * q.ms);
        for (std::size_t b0 = 0; b0 < q.n; b0 += q.group) {
            const std::size_t images = std::min(q.group, q.n - b0);
            const std::size_t tiles = images * q.th * q.tw;
            winograd_input(q, b0, images, v.data());
            // M_xi (out x tiles) = U_xi (out x in) V_xi (in x tiles)
            detail::gemm_batch<T>(16, out_, tiles, in_, {u.data(), in_, false}, q.us,
                                  {v.data(), tiles, false}, q.vs, T(0), m.data(), tiles, q.ms);
            cpu_backend::for_each_index(
                images * out_ * q.th,
                kernels::winograd_output_body<T>{m.data(), out_, q.oh, q.ow, q.th, q.tw, tiles,
                                                 q.ms, y.data() + b0 * out_ * q.oh * q.ow},
                16 * q.tw);
        }
    }

    /// The adjoint of winograd_forward: dpadded (overwritten) and weight.grad (added to).
    void winograd_backward(const tensor4<T>& dy, tensor4<T>& dpadded) {
        const winograd_plan q = plan();
        // U_xi^T (in x out), transposed once for all groups
        const std::vector<T> ut = winograd_weight_transposed(q);
        detail::scratch<T> v(16 * q.vs);
        detail::scratch<T> dm(16 * q.ms);
        std::vector<T> du(16 * q.us, T(0));
        for (std::size_t b0 = 0; b0 < q.n; b0 += q.group) {
            const std::size_t images = std::min(q.group, q.n - b0);
            const std::size_t tiles = images * q.th * q.tw;
            winograd_input(q, b0, images, v.data());
            cpu_backend::for_each_index(images * out_ * q.th,
                                        kernels::winograd_output_adjoint_body<T>{
                                            dy.data() + b0 * out_ * q.oh * q.ow, out_, q.oh, q.ow,
                                            q.th, q.tw, tiles, q.ms, dm.data()},
                                        16 * q.tw);
            // dU_xi (out x in) += dM_xi (out x tiles) V_xi^T, group after group
            detail::gemm_batch<T>(16, out_, in_, tiles, {dm.data(), tiles, false}, q.ms,
                                  {v.data(), tiles, true}, q.vs, T(1), du.data(), in_, q.us);
            // dV_xi (in x tiles) = U_xi^T dM_xi, into v (no longer needed), then B dV B^T
            detail::gemm_batch<T>(16, in_, tiles, out_, {ut.data(), out_, false}, q.us,
                                  {dm.data(), tiles, false}, q.ms, T(0), v.data(), tiles, q.vs);
            cpu_backend::for_each_index(
                in_ * tiles, kernels::winograd_input_adjoint_body<T>{q.vs, v.data()}, 16);
            cpu_backend::for_each_index(
                images * in_ * q.hp,
                kernels::winograd_gather_body<T>{v.data(), in_, q.hp, q.wp, q.th, q.tw, tiles, q.vs,
                                                 dpadded.data() + b0 * in_ * q.hp * q.wp},
                4 * q.wp);
        }
        cpu_backend::for_each_index(
            out_ * in_,
            kernels::winograd_weight_adjoint_body<T>{du.data(), q.us, weight.grad.data()}, 16);
    }

    /// The im2col matrix of padded image b (in k k x oh ow), built in buffer, or the image.
    const T* columns(std::size_t b, std::size_t hp, std::size_t wp, std::size_t oh, std::size_t ow,
                     detail::scratch<T>& buffer) const {
        const T* xp = padded_.data() + b * in_ * hp * wp;
        if (direct_columns()) {
            return xp;
        }
        const std::size_t k = o_.kernel_size;
        cpu_backend::for_each_index(
            in_ * k * k * oh,
            kernels::im2col_body<T>{xp, hp, wp, k, o_.stride, oh, ow, buffer.data()}, ow);
        return buffer.data();
    }

    void check_parameters(const char* where) const {
        const std::size_t k = o_.kernel_size;
        detail::require_parameter_shape(weight, {out_, in_, k, k}, where);
        if (o_.bias) {
            detail::require_parameter_shape(bias, {out_}, where);
        }
    }
};

} // namespace xrestore::train
