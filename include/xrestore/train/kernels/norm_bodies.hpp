#pragma once
/// @file norm_bodies.hpp
/// Forward and backward arithmetic of instance and batch normalisation (train/instance_norm.hpp,
/// train/batch_norm.hpp) as host-device kernel bodies over row-major N x C x H x W buffers.
/// Both normalise groups of values by their mean m and inverse standard deviation
/// r = 1 / sqrt(v + eps) (biased variance v): instance norm one group per plane (n, c), batch
/// norm one group per channel c over all N planes. With x^ = (x - m) r and y = gamma x^ + beta,
/// the backward is dx = r (g - mean(g) - x^ mean(g x^)) for g = gamma dy when the statistics
/// came from the batch itself, and dx = r g when they were fixed (batch norm in eval mode).
///
/// @code
/// using namespace xrestore::train::kernels;
/// norm_groups gr{n, c, h * w, false};                 // instance norm: one group per plane
/// for (std::size_t g = 0; g < gr.groups(); ++g) norm_statistics_body<double>{x, gr, 1e-5, m, v,
/// r}(g);
/// @endcode

#include "xrestore/core/host_device.hpp"
#include "xrestore/train/kernels/leaky_select.hpp"

#include <cmath>
#include <cstddef>

namespace xrestore::train::kernels {

/// How values are grouped: N x C planes of `plane` values; per_channel groups all planes of a
/// channel (batch norm, C groups), otherwise each plane is a group (instance norm, N C groups).
struct norm_groups {
    std::size_t batch;
    std::size_t channels;
    std::size_t plane;
    bool per_channel;

    XRESTORE_HD std::size_t groups() const { return per_channel ? channels : batch * channels; }
    /// Values per group.
    XRESTORE_HD std::size_t count() const { return per_channel ? batch * plane : plane; }
    /// The channel of element i.
    XRESTORE_HD std::size_t channel_of(std::size_t i) const { return i / plane % channels; }
    /// The group of element i.
    XRESTORE_HD std::size_t group_of(std::size_t i) const {
        return per_channel ? channel_of(i) : i / plane;
    }
    /// The channel of group g and its planes n0 <= n < n1.
    XRESTORE_HD std::size_t channel_of_group(std::size_t g) const {
        return per_channel ? g : g % channels;
    }
    XRESTORE_HD std::size_t first_image(std::size_t g) const {
        return per_channel ? 0 : g / channels;
    }
    XRESTORE_HD std::size_t end_image(std::size_t g) const {
        return per_channel ? batch : g / channels + 1;
    }
};

/// Statistics of group g, in double then stored as T: mean[g] = sum x / count, biased
/// variance[g] = sum (x - mean)^2 / count (two passes), inv_std[g] = 1 / sqrt(variance + eps).
template <class T>
struct norm_statistics_body {
    const T* x;
    norm_groups gr;
    double eps;
    T* mean;
    T* variance;
    T* inv_std;

    /// sum of (p[j] - shift)^power (power 1 or 2) over j < n, in double, in 8 interleaved
    /// partial sums added in a fixed order (vectorises; the same result on every run).
    XRESTORE_HD static double lane_sum(const T* p, std::size_t n, double shift, int power) {
        constexpr std::size_t lanes = 8;
        double part[lanes] = {};
        std::size_t j = 0;
        for (; j + lanes <= n; j += lanes) {
            for (std::size_t l = 0; l < lanes; ++l) {
                const double d = static_cast<double>(p[j + l]) - shift;
                part[l] += power == 1 ? d : d * d;
            }
        }
        for (std::size_t l = 0; j < n; ++j, ++l) {
            const double d = static_cast<double>(p[j]) - shift;
            part[l] += power == 1 ? d : d * d;
        }
        double total = 0.0;
        for (std::size_t l = 0; l < lanes; ++l) {
            total += part[l];
        }
        return total;
    }

    XRESTORE_HD void operator()(std::size_t g) const {
        const std::size_t c = gr.channel_of_group(g);
        double sum = 0.0;
        for (std::size_t n = gr.first_image(g); n < gr.end_image(g); ++n) {
            sum += lane_sum(x + (n * gr.channels + c) * gr.plane, gr.plane, 0.0, 1);
        }
        const double count = static_cast<double>(gr.count());
        const double m = sum / count;
        double squares = 0.0;
        for (std::size_t n = gr.first_image(g); n < gr.end_image(g); ++n) {
            squares += lane_sum(x + (n * gr.channels + c) * gr.plane, gr.plane, m, 2);
        }
        const double v = squares / count;
        mean[g] = static_cast<T>(m);
        variance[g] = static_cast<T>(v);
        inv_std[g] = static_cast<T>(1.0 / sqrt(v + eps));
    }
};

/// Fixed statistics of channel c (batch norm in eval mode): mean[c] = running_mean[c],
/// inv_std[c] = 1 / sqrt(running_var[c] + eps).
template <class T>
struct running_statistics_body {
    const T* running_mean;
    const T* running_var;
    double eps;
    T* mean;
    T* inv_std;
    XRESTORE_HD void operator()(std::size_t c) const {
        mean[c] = running_mean[c];
        inv_std[c] = static_cast<T>(1.0 / sqrt(static_cast<double>(running_var[c]) + eps));
    }
};

/// x^[i] = (x[i] - mean[g]) inv_std[g] (saved for backward), y[i] = gamma[c] x^[i] + beta[c]
/// (y = x^ when gamma is nullptr: no affine). Index runs over the planes (N C), each written
/// whole.
template <class T>
struct norm_forward_body {
    const T* x;
    norm_groups gr;
    const T* mean;
    const T* inv_std;
    const T* gamma;
    const T* beta;
    T* xhat;
    T* y;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t c = p % gr.channels;
        const std::size_t g = gr.per_channel ? c : p;
        const T m = mean[g];
        const T r = inv_std[g];
        const T* in = x + p * gr.plane;
        T* h = xhat + p * gr.plane;
        T* out = y + p * gr.plane;
        if (gamma == nullptr) {
            for (std::size_t j = 0; j < gr.plane; ++j) {
                const T v = (in[j] - m) * r;
                h[j] = v;
                out[j] = v;
            }
            return;
        }
        const T a = gamma[c];
        const T b = beta[c];
        for (std::size_t j = 0; j < gr.plane; ++j) {
            const T v = (in[j] - m) * r;
            h[j] = v;
            out[j] = a * v + b;
        }
    }
};

/// Sums of group g for the backward, with g = gamma dy (dy when gamma is nullptr):
/// sum_g[g] = sum g, sum_g_xhat[g] = sum g x^.
template <class T>
struct norm_backward_sums_body {
    const T* dy;
    const T* xhat;
    norm_groups gr;
    const T* gamma;
    T* sum_g;
    T* sum_g_xhat;
    XRESTORE_HD void operator()(std::size_t g) const {
        const std::size_t c = gr.channel_of_group(g);
        const T scale = gamma != nullptr ? gamma[c] : T(1);
        T s = T(0);
        T sx = T(0);
        for (std::size_t n = gr.first_image(g); n < gr.end_image(g); ++n) {
            const std::size_t base = (n * gr.channels + c) * gr.plane;
            for (std::size_t j = 0; j < gr.plane; ++j) {
                const T v = scale * dy[base + j];
                s += v;
                sx += v * xhat[base + j];
            }
        }
        sum_g[g] = s;
        sum_g_xhat[g] = sx;
    }
};

/// dx[i] = inv_std[g] (g_i - (sum_g[g] + x^_i sum_g_xhat[g]) / count) with batch statistics,
/// dx[i] = inv_std[g] g_i with fixed ones (sum_g nullptr); g_i = gamma[c] dy[i]. Index runs over
/// the planes (N C), each written whole.
template <class T>
struct norm_input_grad_body {
    const T* dy;
    const T* xhat;
    norm_groups gr;
    const T* gamma;
    const T* inv_std;
    const T* sum_g;
    const T* sum_g_xhat;
    T* dx;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t c = p % gr.channels;
        const std::size_t g = gr.per_channel ? c : p;
        const T a = gamma != nullptr ? gamma[c] : T(1);
        const T r = inv_std[g];
        const T* d = dy + p * gr.plane;
        const T* h = xhat + p * gr.plane;
        T* out = dx + p * gr.plane;
        if (sum_g == nullptr) {
            for (std::size_t j = 0; j < gr.plane; ++j) {
                out[j] = r * (a * d[j]);
            }
            return;
        }
        const T count = static_cast<T>(gr.count());
        const T s = sum_g[g];
        const T sx = sum_g_xhat[g];
        for (std::size_t j = 0; j < gr.plane; ++j) {
            out[j] = r * (a * d[j] - (s + h[j] * sx) / count);
        }
    }
};

/// Gradients of the affine weight and bias of channel c, added: dgamma[c] += sum dy x^,
/// dbeta[c] += sum dy, over all N planes of the channel.
template <class T>
struct norm_affine_grad_body {
    const T* dy;
    const T* xhat;
    std::size_t batch;
    std::size_t channels;
    std::size_t plane;
    T* dgamma;
    T* dbeta;
    XRESTORE_HD void operator()(std::size_t c) const {
        T sg = T(0);
        T sb = T(0);
        for (std::size_t n = 0; n < batch; ++n) {
            const std::size_t base = (n * channels + c) * plane;
            for (std::size_t j = 0; j < plane; ++j) {
                sg += dy[base + j] * xhat[base + j];
                sb += dy[base + j];
            }
        }
        dgamma[c] += sg;
        dbeta[c] += sb;
    }
};

/// Running averages of batch norm, as PyTorch updates them in training mode:
/// running_mean = (1 - momentum) running_mean + momentum mean, running_var the same with the
/// unbiased variance, variance count / (count - 1).
template <class T>
struct running_stats_update_body {
    const T* mean;
    const T* variance;
    double count;
    double momentum;
    T* running_mean;
    T* running_var;
    XRESTORE_HD void operator()(std::size_t c) const {
        const double unbiased = static_cast<double>(variance[c]) * count / (count - 1.0);
        running_mean[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[c]) +
                                         momentum * static_cast<double>(mean[c]));
        running_var[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_var[c]) +
                                        momentum * unbiased);
    }
};

/// Instance norm without affine parameters followed by LeakyReLU, fused (the U-Net's pair):
/// y = lrelu(x^) with x^ = (x - mean[p]) inv_std[p] for plane p. x^ is recomputed from x where
/// the backward needs it, so only x is kept. Index runs over the planes (N C), each written
/// whole.
template <class T>
struct norm_leaky_forward_body {
    const T* x;
    std::size_t plane;
    const T* mean;
    const T* inv_std;
    T slope;
    T* y;

    XRESTORE_HD void operator()(std::size_t p) const {
        const T m = mean[p];
        const T r = inv_std[p];
        const T* in = x + p * plane;
        T* out = y + p * plane;
        for (std::size_t j = 0; j < plane; ++j) {
            const T h = (in[j] - m) * r;
            out[j] = leaky_select(h > T(0), h, slope);
        }
    }
};

/// The plane sums of the fused backward: with g = dy lrelu'(x^) (the gradient at x^),
/// sum_g[p] = sum g and sum_g_xhat[p] = sum g x^, in T in 8 interleaved lanes added in a fixed
/// order (vectorises). Index runs over the planes.
template <class T>
struct norm_leaky_backward_sums_body {
    const T* x;
    const T* dy;
    std::size_t plane;
    const T* mean;
    const T* inv_std;
    T slope;
    T* sum_g;
    T* sum_g_xhat;

    XRESTORE_HD void operator()(std::size_t p) const {
        constexpr std::size_t lanes = 8;
        const T m = mean[p];
        const T r = inv_std[p];
        const T* in = x + p * plane;
        const T* d = dy + p * plane;
        T s[lanes] = {};
        T sx[lanes] = {};
        std::size_t j = 0;
        for (; j + lanes <= plane; j += lanes) {
            for (std::size_t l = 0; l < lanes; ++l) {
                const T h = (in[j + l] - m) * r;
                const T g = leaky_select(h > T(0), d[j + l], slope);
                s[l] += g;
                sx[l] += g * h;
            }
        }
        for (std::size_t l = 0; j < plane; ++j, ++l) {
            const T h = (in[j] - m) * r;
            const T g = leaky_select(h > T(0), d[j], slope);
            s[l] += g;
            sx[l] += g * h;
        }
        T total(0);
        T total_x(0);
        for (std::size_t l = 0; l < lanes; ++l) {
            total += s[l];
            total_x += sx[l];
        }
        sum_g[p] = total;
        sum_g_xhat[p] = total_x;
    }
};

/// dx = inv_std (g - (sum_g + x^ sum_g_xhat) / plane) with g = dy lrelu'(x^), the backward of
/// norm_leaky_forward_body. Index runs over the planes, each written whole.
template <class T>
struct norm_leaky_input_grad_body {
    const T* x;
    const T* dy;
    std::size_t plane;
    const T* mean;
    const T* inv_std;
    T slope;
    const T* sum_g;
    const T* sum_g_xhat;
    T* dx;

    XRESTORE_HD void operator()(std::size_t p) const {
        const T m = mean[p];
        const T r = inv_std[p];
        const T count = static_cast<T>(plane);
        const T a = sum_g[p] / count;
        const T b = sum_g_xhat[p] / count;
        const T* in = x + p * plane;
        const T* d = dy + p * plane;
        T* out = dx + p * plane;
        for (std::size_t j = 0; j < plane; ++j) {
            const T h = (in[j] - m) * r;
            const T g = leaky_select(h > T(0), d[j], slope);
            out[j] = r * (g - (a + h * b));
        }
    }
};

/// Batch norm (per-channel statistics over the N planes of a channel) with its affine
/// parameters, followed by LeakyReLU, fused: y = lrelu(gamma[c] x^ + beta[c]) with
/// x^ = (x - mean[c]) inv_std[c]. Index runs over the planes (N C), each written whole; x^ is
/// recomputed from x where the backward needs it. gamma nullptr: no affine (1 and 0).
template <class T>
struct bn_leaky_forward_body {
    const T* x;
    std::size_t channels;
    std::size_t plane;
    const T* mean;
    const T* inv_std;
    const T* gamma;
    const T* beta;
    T slope;
    T* y;

    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t c = p % channels;
        const T m = mean[c];
        const T r = inv_std[c];
        const T a = gamma != nullptr ? gamma[c] : T(1);
        const T b = gamma != nullptr ? beta[c] : T(0);
        const T* in = x + p * plane;
        T* out = y + p * plane;
        for (std::size_t j = 0; j < plane; ++j) {
            const T pre = a * ((in[j] - m) * r) + b;
            out[j] = leaky_select(pre > T(0), pre, slope);
        }
    }
};

/// The channel sums of the fused backward, with g = dy lrelu'(gamma x^ + beta) (the gradient
/// at the norm's output): sum_g[c] = sum g (= dL/dbeta) and sum_g_xhat[c] = sum g x^
/// (= dL/dgamma) over the N planes of channel c, each plane in T in 8 interleaved lanes added in
/// a fixed order (vectorises). Index runs over the channels.
template <class T>
struct bn_leaky_backward_sums_body {
    const T* x;
    const T* dy;
    std::size_t batch;
    std::size_t channels;
    std::size_t plane;
    const T* mean;
    const T* inv_std;
    const T* gamma;
    const T* beta;
    T slope;
    T* sum_g;
    T* sum_g_xhat;

    XRESTORE_HD void operator()(std::size_t c) const {
        constexpr std::size_t lanes = 8;
        const T m = mean[c];
        const T r = inv_std[c];
        const T a = gamma != nullptr ? gamma[c] : T(1);
        const T b = gamma != nullptr ? beta[c] : T(0);
        T total(0);
        T total_x(0);
        for (std::size_t n = 0; n < batch; ++n) {
            const T* in = x + (n * channels + c) * plane;
            const T* d = dy + (n * channels + c) * plane;
            T s[lanes] = {};
            T sx[lanes] = {};
            std::size_t j = 0;
            for (; j + lanes <= plane; j += lanes) {
                for (std::size_t l = 0; l < lanes; ++l) {
                    const T h = (in[j + l] - m) * r;
                    const T g = leaky_select(a * h + b > T(0), d[j + l], slope);
                    s[l] += g;
                    sx[l] += g * h;
                }
            }
            for (std::size_t l = 0; j < plane; ++j, ++l) {
                const T h = (in[j] - m) * r;
                const T g = leaky_select(a * h + b > T(0), d[j], slope);
                s[l] += g;
                sx[l] += g * h;
            }
            for (std::size_t l = 0; l < lanes; ++l) {
                total += s[l];
                total_x += sx[l];
            }
        }
        sum_g[c] = total;
        sum_g_xhat[c] = total_x;
    }
};

/// dx of the fused layer: with batch statistics (sum_g not nullptr)
/// dx = inv_std gamma (g - (sum_g + x^ sum_g_xhat) / count), count = N H W; with fixed
/// statistics (eval mode) dx = inv_std gamma g. g = dy lrelu'(gamma x^ + beta). Index runs over
/// the planes, each written whole.
template <class T>
struct bn_leaky_input_grad_body {
    const T* x;
    const T* dy;
    std::size_t channels;
    std::size_t plane;
    std::size_t count;
    const T* mean;
    const T* inv_std;
    const T* gamma;
    const T* beta;
    T slope;
    const T* sum_g;
    const T* sum_g_xhat;
    T* dx;

    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t c = p % channels;
        const T m = mean[c];
        const T r = inv_std[c];
        const T a = gamma != nullptr ? gamma[c] : T(1);
        const T b = gamma != nullptr ? beta[c] : T(0);
        const T scale = r * a;
        const T k = static_cast<T>(count);
        const T mg = sum_g != nullptr ? sum_g[c] / k : T(0);
        const T mgx = sum_g != nullptr ? sum_g_xhat[c] / k : T(0);
        const T* in = x + p * plane;
        const T* d = dy + p * plane;
        T* out = dx + p * plane;
        for (std::size_t j = 0; j < plane; ++j) {
            const T h = (in[j] - m) * r;
            const T g = leaky_select(a * h + b > T(0), d[j], slope);
            out[j] = scale * (g - (mg + h * mgx));
        }
    }
};

} // namespace xrestore::train::kernels
