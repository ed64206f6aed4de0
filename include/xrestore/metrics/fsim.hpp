#pragma once
/// @file fsim.hpp
/// Feature similarity FSIM and its chromatic form FSIMc (Zhang, Zhang, Mou & Zhang 2011), computed
/// exactly as piq.fsim (piq 0.8) does. Higher is better: 1 for identical images.
///
/// @code
/// double f = xrestore::fsim(reference, distorted);                    // RGB: FSIMc, grey: FSIM
/// double g = xrestore::fsim(reference, distorted, {.chromatic = false}); // FSIM of an RGB pair
/// double m = xrestore::fsim_masked(reference, distorted, mask);       // mask 1 x H x W
/// @endcode
///
/// With x = 255 / data_range * image:
///   1. average pooling by f = max(1, round(min(H, W) / 256)) (half to even: 640 gives 2):
///      non-overlapping f x f blocks, the last H mod f rows and W mod f columns dropped, giving
///      h x w = floor(H / f) x floor(W / f);
///   2. RGB -> YIQ: Y = 0.299 R + 0.587 G + 0.114 B, I = 0.5959 R - 0.2746 G - 0.3213 B,
///      Q = 0.2115 R - 0.5227 G + 0.3112 B (one channel: Y = x);
///   3. phase congruency PC of each Y (Kovesi) from a log-Gabor bank of 4 scales (wavelengths
///      6, 12, 24, 48) x 4 orientations (o pi / 4), built on the frequency grid u_i = i / h for
///      i < h / 2 (rounded up) and (i - h) / h above for even h, with h - 1 as the divisor for
///      odd h (likewise v_j): r = sqrt(u^2 + v^2), theta = atan2(-v, u), lambda the wavelength,
///      filter = exp(-log(r lambda)^2 / (2 log(0.55)^2)) / (1 + (r / 0.45)^30)
///             * exp(-dtheta^2 / (2 (pi / 4.8)^2)), 0 at r = 0, dtheta = |theta - o pi / 4|
///      wrapped to [0, pi]. The responses e + i o = ifft2(fft2(Y) filter); per orientation, with
///      E = (sum_s e, sum_s o) / (|.| + eps), energy = sum_s (e E_e + o E_o - |e E_o - o E_e|),
///      less the noise threshold T = (tau sqrt(pi / 2) + 2 tau sqrt(2 - pi / 2)) / 1.7, tau^2 =
///      noise (sum_s F_s^2 + 2 sum_{s<t} F_s F_t) with noise = -median(|e + i o|^2 at the finest
///      scale) / log(0.5) / sum F_0^2 (the lower middle value for an even count; F_s the
///      Hermitian parts of the filters, sums over the grid), clipped at 0;
///      PC = (sum_o energy + eps) / (sum_{o,s} |e + i o| + eps), eps = 2^-52;
///   4. gradient magnitude G of each Y: the Scharr kernels [-3 0 3; -10 0 10; -3 0 3] / 16 and
///      their transpose, zero padding;
///   5. S = (2 PC1 PC2 + 0.85) / (PC1^2 + PC2^2 + 0.85) (2 G1 G2 + 160) / (G1^2 + G2^2 + 160),
///      times |S_I S_Q|^0.03 for FSIMc with S_I = (2 I1 I2 + 200) / (I1^2 + I2^2 + 200), S_Q
///      likewise (piq takes the modulus where the authors' MATLAB takes the real part of the
///      complex power: they differ where S_I S_Q < 0);
///   FSIM = sum S PC_max / sum PC_max, PC_max = max(PC1, PC2).
/// A 1-channel pair gives FSIM, a 3-channel pair FSIMc, or FSIM with chromatic = false (piq's
/// default is chromatic = True, which it refuses for one channel). FSIM is symmetric in its two
/// arguments; the library's order is (reference, distorted), piq's fsim(x, y) takes the
/// distorted image first. Images must be at least 2 x 2 (piq's grid divides by h - 1 for odd h);
/// values outside [0, data_range] are accepted (piq refuses them).
///
/// fsim_masked restricts both sums to the map entries whose f x f pooling block the mask selects
/// (nonzero) at least half of (2 count >= f^2; f = 1: the pixel itself). An all-ones mask gives
/// fsim() exactly.

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/fft.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/metrics/detail/common.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <string_view>
#include <vector>

namespace xrestore {

/// Parameters of fsim().
struct fsim_options {
    /// Distance between the minimum and maximum possible values; images are rescaled to
    /// [0, 255] by 255 / data_range.
    double data_range = 1.0;
    /// FSIMc (the chromatic similarity of I and Q) for RGB pairs; ignored for grey pairs.
    bool chromatic = true;
};

namespace detail {

inline constexpr std::size_t fsim_scales = 4;
inline constexpr std::size_t fsim_orientations = 4;
inline constexpr std::size_t fsim_filters = fsim_scales * fsim_orientations;

/// The sizes of one FSIM computation: pooling factor and pooled map size.
struct fsim_geometry {
    std::size_t factor = 1;
    std::size_t h = 0;
    std::size_t w = 0;
};

/// max(1, round(n / 256)) with Python's rounding (half to even), in integers.
inline std::size_t fsim_pool_factor(std::size_t n) {
    std::size_t q = n / 256;
    const std::size_t r = n % 256;
    if (r > 128 || (r == 128 && q % 2 == 1)) {
        ++q;
    }
    return std::max<std::size_t>(q, 1);
}

/// piq's frequency of DFT bin i of n: i / n and (i - n) / n from n / 2 on for even n, with
/// n - 1 as the divisor for odd n.
inline double fsim_frequency(std::size_t i, std::size_t n) {
    const double divisor = static_cast<double>(n % 2 == 0 ? n : n - 1);
    const double k =
        i < (n + 1) / 2 ? static_cast<double>(i) : static_cast<double>(i) - static_cast<double>(n);
    return k / divisor;
}

/// The log-Gabor bank on an h x w grid in DFT order, stored transposed like the spectra of
/// fsim_transform: filter o * scales + s (orientation o, scale s) at bin (i, j) is
/// filters[(o * scales + s) h w + j h + i]; and per orientation the noise model's sums.
struct fsim_bank {
    std::vector<double> filters;
    std::array<double, fsim_orientations> finest_energy{}; ///< sum F_0^2
    std::array<double, fsim_orientations> sum_squares{};   ///< sum_s sum Fsym_s^2
    std::array<double, fsim_orientations> sum_products{};  ///< sum_{s<t} sum Fsym_s Fsym_t
};

inline fsim_bank fsim_make_bank(std::size_t h, std::size_t w) {
    const std::size_t n = h * w;
    const bool parallel = n > 4096;
    constexpr double pi = std::numbers::pi;
    const double log_sigma = std::log(0.55);
    const double radial_den = 2.0 * log_sigma * log_sigma;
    const double theta_sigma = pi / (static_cast<double>(fsim_orientations) * 1.2);
    const double angular_den = 2.0 * theta_sigma * theta_sigma;
    std::array<double, fsim_scales> centre{}; // centre frequencies 1 / wavelength
    for (std::size_t s = 0; s < fsim_scales; ++s) {
        centre[s] = 1.0 / (6.0 * static_cast<double>(std::size_t{1} << s));
    }
    // The radial part depends on u^2 + v^2 only, the same for bins i and h - i (j and w - j):
    // computed for i <= h / 2, j <= w / 2 and looked up for the others.
    const std::size_t hr = h / 2 + 1;
    const std::size_t wr = w / 2 + 1;
    std::vector<double> radial(fsim_scales * wr * hr);
    parallel_tasks(wr, parallel, [&](std::size_t j, std::size_t) {
        const double v = fsim_frequency(j, w);
        for (std::size_t i = 0; i < hr; ++i) {
            const double u = fsim_frequency(i, h);
            const double radius = std::sqrt(u * u + v * v);
            // Butterworth lowpass of order 15, cutoff 0.45
            const double lowpass = 1.0 / (1.0 + std::pow(radius / 0.45, 30.0));
            for (std::size_t s = 0; s < fsim_scales; ++s) {
                // log-Gabor: exp(-log(r / centre)^2 / (2 log(0.55)^2)), 0 at r = 0
                const double l = std::log(radius / centre[s]);
                radial[(s * wr + j) * hr + i] =
                    i + j == 0 ? 0.0 : std::exp(-l * l / radial_den) * lowpass;
            }
        }
    });
    fsim_bank bank;
    bank.filters.resize(fsim_filters * n);
    parallel_tasks(w, parallel, [&](std::size_t j, std::size_t) {
        const double v = fsim_frequency(j, w);
        const std::size_t b = std::min(j, w - j);
        for (std::size_t i = 0; i < h; ++i) {
            const double u = fsim_frequency(i, h);
            const std::size_t a = std::min(i, h - i);
            const double theta = std::atan2(-v, u);
            for (std::size_t o = 0; o < fsim_orientations; ++o) {
                // angular distance to the orientation o pi / 4, wrapped to [0, pi]
                const double angle = static_cast<double>(o) * pi / fsim_orientations;
                double d = theta - angle; // in [-7 pi / 4, pi]
                if (d < -pi) {
                    d += 2.0 * pi;
                }
                const double spread = std::exp(-d * d / angular_den);
                for (std::size_t s = 0; s < fsim_scales; ++s) {
                    bank.filters[(o * fsim_scales + s) * n + j * h + i] =
                        spread * radial[(s * wr + b) * hr + a];
                }
            }
        }
    });
    // The noise model's sums, by columns of bins in parallel and added in order. The spatial
    // filters piq sums (the real parts of ifft2(F) times sqrt(h w)) are, by Parseval, the
    // Hermitian parts Fsym(k) = (F(k) + F(-k)) / 2 summed over the grid.
    constexpr std::size_t per_task = 3 * fsim_orientations;
    std::vector<double> partial(w * per_task, 0.0);
    parallel_tasks(w, parallel, [&](std::size_t j, std::size_t) {
        const std::size_t nj = (w - j) % w;
        double* out = partial.data() + j * per_task;
        for (std::size_t o = 0; o < fsim_orientations; ++o) {
            const double* f = bank.filters.data() + o * fsim_scales * n;
            double finest = 0.0;
            double squares = 0.0;
            double products = 0.0;
            for (std::size_t i = 0; i < h; ++i) {
                const std::size_t p = j * h + i;
                const std::size_t q = nj * h + (h - i) % h;
                std::array<double, fsim_scales> sym{};
                for (std::size_t s = 0; s < fsim_scales; ++s) {
                    sym[s] = 0.5 * (f[s * n + p] + f[s * n + q]);
                }
                finest += f[p] * f[p];
                for (std::size_t s = 0; s < fsim_scales; ++s) {
                    squares += sym[s] * sym[s];
                    for (std::size_t t = s + 1; t < fsim_scales; ++t) {
                        products += sym[s] * sym[t];
                    }
                }
            }
            out[3 * o] = finest;
            out[3 * o + 1] = squares;
            out[3 * o + 2] = products;
        }
    });
    for (std::size_t j = 0; j < w; ++j) {
        for (std::size_t o = 0; o < fsim_orientations; ++o) {
            bank.finest_energy[o] += partial[j * per_task + 3 * o];
            bank.sum_squares[o] += partial[j * per_task + 3 * o + 1];
            bank.sum_products[o] += partial[j * per_task + 3 * o + 2];
        }
    }
    return bank;
}

/// 2-D transforms of h x w planar arrays kept transposed (w x h) after the forward transform:
/// each transform is two passes of batched 1-D transforms, the transposition riding on the
/// forward transform's second pass. Const, so shared by threads.
struct fsim_transform {
    std::size_t h;
    std::size_t w;
    fft_plan<double> columns; ///< length h
    fft_plan<double> rows;    ///< length w

    fsim_transform(std::size_t height, std::size_t width)
        : h(height), w(width), columns(height), rows(width) {}

    /// (re, im) h x w -> its spectrum Z, transposed: out[j h + i] = Z(i, j); re and im are
    /// overwritten.
    void forward(double* re, double* im, double* out_re, double* out_im) const {
        // along i, in place: vector j, element i at i w + j
        columns.transform_many({re, im, w, 1}, {re, im, w, 1}, w, fft_direction::forward);
        // along j, written transposed: vector i, element j at i w + j -> j h + i
        rows.transform_many({re, im, 1, w}, {out_re, out_im, h, 1}, h, fft_direction::forward);
    }

    /// (re, im) a transposed spectrum (re[j h + i] = Z(i, j)) -> ifft2(Z), in place and still
    /// transposed (re[j h + i] = z(i, j)): both passes read and write whole vectors.
    void inverse(double* re, double* im) const {
        // along j: vector i, element j at j h + i
        rows.transform_many({re, im, h, 1}, {re, im, h, 1}, h, fft_direction::inverse);
        // along i: vector j, element i at j h + i
        columns.transform_many({re, im, 1, h}, {re, im, 1, h}, w, fft_direction::inverse);
    }
};

/// The pooled planes of one image: Y, and I, Q when `chroma`.
struct fsim_planes {
    std::vector<double> y;
    std::vector<double> i;
    std::vector<double> q;
};

/// Steps 1 and 2 of the file comment.
inline fsim_planes fsim_pool(const image& x, const fsim_geometry& g, double data_range,
                             bool chroma) {
    const std::size_t c = x.shape()[0];
    const std::size_t width = x.shape()[2];
    const std::size_t plane = x.shape()[1] * width;
    const std::size_t f = g.factor;
    const double area = static_cast<double>(f * f);
    fsim_planes out;
    out.y.resize(g.h * g.w);
    if (chroma) {
        out.i.resize(g.h * g.w);
        out.q.resize(g.h * g.w);
    }
    parallel_tasks(g.h, g.h * g.w * f * f * c > 65536, [&](std::size_t r, std::size_t) {
        for (std::size_t col = 0; col < g.w; ++col) {
            std::array<double, 3> mean{};
            for (std::size_t k = 0; k < c; ++k) {
                // mean of the f x f block of 255 / data_range * x
                const float* block = x.data() + k * plane + r * f * width + col * f;
                double sum = 0.0;
                for (std::size_t a = 0; a < f; ++a) {
                    for (std::size_t b = 0; b < f; ++b) {
                        sum += static_cast<double>(block[a * width + b]) / data_range * 255.0;
                    }
                }
                mean[k] = sum / area;
            }
            const std::size_t p = r * g.w + col;
            if (c == 1) {
                out.y[p] = mean[0];
                continue;
            }
            out.y[p] = 0.299 * mean[0] + 0.587 * mean[1] + 0.114 * mean[2];
            if (chroma) {
                out.i[p] = 0.5959 * mean[0] - 0.2746 * mean[1] - 0.3213 * mean[2];
                out.q[p] = 0.2115 * mean[0] - 0.5227 * mean[1] + 0.3112 * mean[2];
            }
        }
    });
    return out;
}

/// Step 4: Scharr gradient magnitude of an h x w plane, zero padding.
inline std::vector<double> fsim_gradient(const std::vector<double>& y, std::size_t h,
                                         std::size_t w) {
    std::vector<double> m(h * w);
    const auto at = [&](std::size_t i, std::size_t j, std::ptrdiff_t di, std::ptrdiff_t dj) {
        const std::ptrdiff_t r = static_cast<std::ptrdiff_t>(i) + di;
        const std::ptrdiff_t c = static_cast<std::ptrdiff_t>(j) + dj;
        if (r < 0 || c < 0 || r >= static_cast<std::ptrdiff_t>(h) ||
            c >= static_cast<std::ptrdiff_t>(w)) {
            return 0.0;
        }
        return y[static_cast<std::size_t>(r) * w + static_cast<std::size_t>(c)];
    };
    parallel_tasks(h, h * w > 65536, [&](std::size_t i, std::size_t) {
        for (std::size_t j = 0; j < w; ++j) {
            // gx = (3 (right - left) of the rows above and below + 10 (right - left)) / 16
            const double gx = (3.0 * (at(i, j, -1, 1) - at(i, j, -1, -1)) +
                               10.0 * (at(i, j, 0, 1) - at(i, j, 0, -1)) +
                               3.0 * (at(i, j, 1, 1) - at(i, j, 1, -1))) /
                              16.0;
            const double gy = (3.0 * (at(i, j, 1, -1) - at(i, j, -1, -1)) +
                               10.0 * (at(i, j, 1, 0) - at(i, j, -1, 0)) +
                               3.0 * (at(i, j, 1, 1) - at(i, j, -1, 1))) /
                              16.0;
            m[i * w + j] = std::sqrt(gx * gx + gy * gy);
        }
    });
    return m;
}

/// The lower median (element (n - 1) / 2 in ascending order, as torch.median) of n >= 1
/// non-negative doubles, by radix selection on their bit patterns (ordered like the values):
/// 12 bits at a time from the top, keeping the candidates of the bucket that holds the element.
/// `keys` is scratch.
inline double fsim_lower_median(const double* x, std::size_t n, std::vector<std::uint64_t>& keys) {
    keys.resize(n);
    for (std::size_t p = 0; p < n; ++p) {
        std::memcpy(&keys[p], x + p, sizeof(double));
    }
    std::size_t count = n;
    std::size_t rank = (n - 1) / 2; // among the candidates keys[0, count)
    std::array<std::size_t, 4096> histogram{};
    for (int shift = 52; shift >= 0 && count > 1; shift -= 12) {
        histogram.fill(0);
        for (std::size_t p = 0; p < count; ++p) {
            ++histogram[(keys[p] >> shift) & 4095];
        }
        std::size_t bucket = 0;
        while (rank >= histogram[bucket]) {
            rank -= histogram[bucket];
            ++bucket;
        }
        std::size_t kept = 0;
        for (std::size_t p = 0; p < count; ++p) {
            if (((keys[p] >> shift) & 4095) == bucket) {
                keys[kept++] = keys[p];
            }
        }
        count = kept;
    }
    // the candidates left agree in their top 60 bits; the last 4 by a selection among them
    const auto middle = keys.begin() + static_cast<std::ptrdiff_t>(rank);
    std::nth_element(keys.begin(), middle, keys.begin() + static_cast<std::ptrdiff_t>(count));
    double v = 0.0;
    std::memcpy(&v, &*middle, sizeof(double));
    return v;
}

/// Step 3 for both images: their phase congruency maps pc[0], pc[1].
inline std::array<std::vector<double>, 2>
fsim_phase_congruency(const std::array<const std::vector<double>*, 2>& luminance,
                      const fsim_bank& bank, std::size_t h, std::size_t w) {
    const std::size_t n = h * w;
    const fsim_transform transform(h, w);
    const bool parallel = n > 1024;
    // each image's transform, once: spectrum k at [2 k n, (2 k + 1) n) (real parts) and
    // [(2 k + 1) n, (2 k + 2) n) (imaginary parts)
    std::vector<double> spectra(4 * n);
    parallel_tasks(2, parallel, [&](std::size_t k, std::size_t) {
        std::vector<double> re(*luminance[k]);
        std::vector<double> im(n, 0.0);
        transform.forward(re.data(), im.data(), spectra.data() + 2 * k * n,
                          spectra.data() + (2 * k + 1) * n);
    });
    // task (image k, orientation o): the thresholded energy and the summed amplitude
    constexpr std::size_t tasks = 2 * fsim_orientations;
    std::vector<double> energy(tasks * n);
    std::vector<double> amplitude(tasks * n);
    std::vector<std::vector<double>> scratch(max_threads());
    std::vector<std::vector<std::uint64_t>> select(max_threads());
    const double eps = std::numeric_limits<double>::epsilon();
    parallel_tasks(tasks, parallel, [&](std::size_t t, std::size_t thread) {
        const std::size_t k = t / fsim_orientations;
        const std::size_t o = t % fsim_orientations;
        // the responses e_s + i o_s (2 planes per scale), the product and |e_0 + i o_0|^2
        std::vector<double>& buffer = scratch[thread];
        buffer.resize((2 * fsim_scales + 1) * n);
        double* response = buffer.data();
        double* finest = response + 2 * fsim_scales * n;
        const double* x_re = spectra.data() + 2 * k * n;
        const double* x_im = x_re + n;
        for (std::size_t s = 0; s < fsim_scales; ++s) {
            // e + i o = ifft2(fft2(Y) F), transposed like the spectrum
            const double* f = bank.filters.data() + (o * fsim_scales + s) * n;
            double* r_re = response + 2 * s * n;
            double* r_im = r_re + n;
            for (std::size_t p = 0; p < n; ++p) {
                r_re[p] = x_re[p] * f[p];
                r_im[p] = x_im[p] * f[p];
            }
            transform.inverse(r_re, r_im);
        }
        double* en = energy.data() + t * n;
        double* am = amplitude.data() + t * n;
        for (std::size_t p = 0; p < n; ++p) {
            double sum_e = 0.0;
            double sum_o = 0.0;
            double sum_a = 0.0;
            double a0 = 0.0; // |e_0 + i o_0|
            for (std::size_t s = 0; s < fsim_scales; ++s) {
                const double re = response[2 * s * n + p];
                const double im = response[(2 * s + 1) * n + p];
                sum_e += re;
                sum_o += im;
                const double a = std::sqrt(re * re + im * im);
                a0 = s == 0 ? a : a0;
                sum_a += a;
            }
            // the unit vector of the mean phase
            const double norm = std::sqrt(sum_e * sum_e + sum_o * sum_o) + eps;
            const double mean_e = sum_e / norm;
            const double mean_o = sum_o / norm;
            double e = 0.0;
            for (std::size_t s = 0; s < fsim_scales; ++s) {
                const double re = response[2 * s * n + p];
                const double im = response[(2 * s + 1) * n + p];
                // A (cos(phase deviation) - |sin(phase deviation)|)
                e += re * mean_e + im * mean_o - std::abs(re * mean_o - im * mean_e);
            }
            en[p] = e;
            am[p] = sum_a;
            finest[p] = a0 * a0;
        }
        // noise: the lower median of |e + i o|^2 at the finest scale, a Rayleigh model
        const double median = fsim_lower_median(finest, n, select[thread]);
        const double noise_power = -median / std::log(0.5) / bank.finest_energy[o];
        const double energy2 =
            2.0 * noise_power * bank.sum_squares[o] + 4.0 * noise_power * bank.sum_products[o];
        const double tau = std::sqrt(energy2 / 2.0);
        const double threshold = (tau * std::sqrt(std::numbers::pi / 2.0) +
                                  2.0 * std::sqrt((2.0 - std::numbers::pi / 2.0) * tau * tau)) /
                                 1.7;
        for (std::size_t p = 0; p < n; ++p) {
            en[p] = std::max(en[p] - threshold, 0.0);
        }
    });
    std::array<std::vector<double>, 2> pc{std::vector<double>(n), std::vector<double>(n)};
    parallel_tasks(2 * w, parallel, [&](std::size_t t, std::size_t) {
        const std::size_t k = t / w;
        const std::size_t j = t % w;
        for (std::size_t i = 0; i < h; ++i) {
            const std::size_t q = j * h + i; // the maps are transposed
            double e = 0.0;
            double a = 0.0;
            for (std::size_t o = 0; o < fsim_orientations; ++o) {
                e += energy[(k * fsim_orientations + o) * n + q];
                a += amplitude[(k * fsim_orientations + o) * n + q];
            }
            pc[k][i * w + j] = (e + eps) / (a + eps);
        }
    });
    return pc;
}

/// All checks of fsim() and the sizes.
inline fsim_geometry fsim_check(const image& reference, const image& distorted,
                                const fsim_options& options, std::string_view where) {
    check_pair(reference, distorted, where);
    require(std::isfinite(options.data_range) && options.data_range > 0.0, where, "data_range",
            "positive and finite", options.data_range);
    if (reference.shape()[0] != 1 && reference.shape()[0] != 3) {
        throw shape_error(concat(where,
                                 ": images must have 1 (grey: FSIM) or 3 (RGB: FSIMc) channels, "
                                 "got ",
                                 shape_string(reference.shape())));
    }
    const std::size_t height = reference.shape()[1];
    const std::size_t width = reference.shape()[2];
    if (height < 2 || width < 2) {
        throw shape_error(concat(where,
                                 ": images must be at least 2 x 2 (the frequency grid divides by "
                                 "the size less one for odd sizes), got ",
                                 shape_string(reference.shape())));
    }
    fsim_geometry g;
    g.factor = fsim_pool_factor(std::min(height, width));
    g.h = height / g.factor;
    g.w = width / g.factor;
    return g;
}

/// FSIM of a checked pair over the map entries keep selects (all when keep is empty).
inline double fsim_value(const image& reference, const image& distorted,
                         const fsim_options& options, const fsim_geometry& g,
                         const std::vector<unsigned char>& keep) {
    const bool chroma = options.chromatic && reference.shape()[0] == 3;
    const fsim_planes a = fsim_pool(reference, g, options.data_range, chroma);
    const fsim_planes b = fsim_pool(distorted, g, options.data_range, chroma);
    const fsim_bank bank = fsim_make_bank(g.h, g.w);
    const auto pc = fsim_phase_congruency({&a.y, &b.y}, bank, g.h, g.w);
    const std::vector<double> ga = fsim_gradient(a.y, g.h, g.w);
    const std::vector<double> gb = fsim_gradient(b.y, g.h, g.w);
    const auto similarity = [](double x, double y, double c) {
        return (2.0 * x * y + c) / (x * x + y * y + c);
    };
    // sums by rows in parallel, added in row order
    std::vector<double> partial(2 * g.h);
    parallel_tasks(g.h, g.h * g.w > 4096, [&](std::size_t i, std::size_t) {
        double num = 0.0;
        double den = 0.0;
        for (std::size_t p = i * g.w; p < (i + 1) * g.w; ++p) {
            if (!keep.empty() && keep[p] == 0) {
                continue;
            }
            const double pc_max = std::max(pc[0][p], pc[1][p]);
            double score =
                similarity(ga[p], gb[p], 160.0) * similarity(pc[0][p], pc[1][p], 0.85) * pc_max;
            if (chroma) {
                const double si = similarity(a.i[p], b.i[p], 200.0);
                const double sq = similarity(a.q[p], b.q[p], 200.0);
                score *= std::pow(std::abs(si * sq), 0.03);
            }
            num += score;
            den += pc_max;
        }
        partial[2 * i] = num;
        partial[2 * i + 1] = den;
    });
    double num = 0.0;
    double den = 0.0;
    for (std::size_t i = 0; i < g.h; ++i) {
        num += partial[2 * i];
        den += partial[2 * i + 1];
    }
    return num / den;
}

} // namespace detail

/// FSIM (grey pairs, or chromatic = false) or FSIMc (RGB pairs) of two C x H x W images, H and
/// W at least 2, reference first (the value is symmetric). Throws shape_error for different
/// shapes, channel counts other than 1 and 3 or images under 2 x 2, value_error for empty
/// images, non-finite values or a data_range that is not positive and finite.
inline double fsim(const image& reference, const image& distorted,
                   const fsim_options& options = {}) {
    const detail::fsim_geometry g = detail::fsim_check(reference, distorted, options, "fsim");
    return detail::fsim_value(reference, distorted, options, g, {});
}

/// fsim() pooled over the map entries whose pooling block a 1 x H x W mask selects (nonzero) at
/// least half of (see the file comment). Throws like fsim(), shape_error for a mask of another
/// shape (FSIM pools one map for all channels), value_error for a non-finite mask or one that
/// selects no entry.
inline double fsim_masked(const image& reference, const image& distorted, const image& mask,
                          const fsim_options& options = {}) {
    constexpr std::string_view where = "fsim_masked";
    const detail::fsim_geometry g = detail::fsim_check(reference, distorted, options, where);
    detail::require_shared_mask(mask, shape_of<3>(reference), where, "FSIM");
    const std::size_t width = reference.shape()[2];
    const std::size_t f = g.factor;
    std::vector<unsigned char> keep(g.h * g.w);
    std::size_t selected = 0;
    for (std::size_t i = 0; i < g.h; ++i) {
        for (std::size_t j = 0; j < g.w; ++j) {
            std::size_t count = 0;
            for (std::size_t a = 0; a < f; ++a) {
                const float* row = mask.data() + (i * f + a) * width + j * f;
                for (std::size_t b = 0; b < f; ++b) {
                    count += row[b] != 0.0F ? 1 : 0;
                }
            }
            keep[i * g.w + j] = 2 * count >= f * f ? 1 : 0;
            selected += keep[i * g.w + j];
        }
    }
    if (selected == 0) {
        throw value_error(detail::concat(where, ": the mask selects no entry of the ", g.h, " x ",
                                         g.w,
                                         " similarity map (an entry needs at least half of its ", f,
                                         " x ", f, " pooling block)"));
    }
    return detail::fsim_value(reference, distorted, options, g, keep);
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float fail to compile here with a plain message
// naming the type needed (core/array_argument.hpp) instead of converting silently.
template <class R, class E>
requires detail::mismatched_arrays<image, R, E>
double fsim(const R&, const E&, const fsim_options& = {}) {
    detail::reject_arrays<image, R, E>();
    return {};
}

template <class R, class E, class M>
requires detail::mismatched_arrays<image, R, E, M>
double fsim_masked(const R&, const E&, const M&, const fsim_options& = {}) {
    detail::reject_arrays<image, R, E, M>();
    return {};
}

} // namespace xrestore
