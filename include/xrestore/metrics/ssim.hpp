#pragma once
/// @file ssim.hpp
/// Structural similarity (Wang et al. 2004), computed exactly as scikit-image 0.19's
/// `skimage.metrics.structural_similarity(ref, img, channel_axis=0, data_range=...,
/// gaussian_weights=..., sigma=..., use_sample_covariance=..., win_size=...)`.
///
/// @code
/// double s = xrestore::ssim(reference, estimate);                          // uniform 7 x 7
/// double w = xrestore::ssim(reference, estimate, {.gaussian_weights = true,
///                                                 .use_sample_covariance = false}); // Wang 2004
/// @endcode
///
/// Per channel, with window means mu = W * x (W a normalised 2-D window, scipy.ndimage 'reflect'
/// boundary: d c b a | a b c d | d c b a):
///   vx = cn (W * x^2 - mux^2),  vy = cn (W * y^2 - muy^2),  vxy = cn (W * xy - mux muy)
///   S  = (2 mux muy + C1)(2 vxy + C2) / ((mux^2 + muy^2 + C1)(vx + vy + C2))
///   C1 = (k1 R)^2,  C2 = (k2 R)^2,  R = data_range,
///   cn = NP / (NP - 1) with NP = win_size^2 when use_sample_covariance, else 1.
/// The window is a win_size x win_size box (uniform_filter), or with gaussian_weights a
/// Gaussian of `sigma` truncated at 3.5 sigma (radius r = int(3.5 sigma + 0.5), 11 taps for
/// sigma 1.5; gaussian_filter). With gaussian_weights the window size is 2 r + 1 and `win_size`
/// is ignored (skimage's behaviour when win_size is not passed, as its documentation states).
/// The SSIM is the mean of S over the map cropped by pad = (window - 1) / 2 on every side, then
/// the mean over channels. Everything is computed in double (skimage computes in the input's
/// float type; the golden values come from skimage on float64 copies of float32 images, and
/// skimage's own float32 results differ from them by its float32 rounding, ~1e-6).
///
/// Implementation: separable filtering of the four moments x, y, x^2 + y^2 and xy (only
/// vx + vy enters S), each input row filtered horizontally once into a ring of rows that the
/// vertical pass combines (symmetric taps folded; running sums for the box); OpenMP over
/// (channel, block of rows) tasks, with per-thread scratch allocated once; hot loops also
/// compiled for AVX2 + FMA and chosen at run time on x86-64 (define XRESTORE_NO_DISPATCH to
/// turn that off). The result does not depend on the number of threads. Dense arrays of other
/// types (device images) run the two-pass kernel bodies below on their backend instead.

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/host_device.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/metrics/detail/common.hpp"

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <string_view>
#include <type_traits>
#include <vector>

namespace xrestore {

/// Parameters of ssim(), named as in skimage.metrics.structural_similarity.
struct ssim_options {
    /// Gaussian window of `sigma` (truncated at 3.5 sigma) instead of a uniform box.
    bool gaussian_weights = false;
    /// Standard deviation of the Gaussian window (used only with gaussian_weights).
    double sigma = 1.5;
    /// Side of the uniform window, odd (ignored with gaussian_weights).
    std::size_t win_size = 7;
    /// Normalise covariances by NP - 1 instead of NP (NP pixels in the window).
    bool use_sample_covariance = true;
    /// Distance between the minimum and maximum possible values.
    double data_range = 1.0;
    /// Stabilising constants, C1 = (k1 data_range)^2 and C2 = (k2 data_range)^2.
    double k1 = 0.01;
    double k2 = 0.03;
};

/// The Gaussian-window preset of Wang et al. as scikit-image runs it (`gaussian_weights=True,
/// sigma=1.5, use_sample_covariance=False`): the SSIM the study, the CLI and the reports use.
inline constexpr ssim_options gaussian_ssim_options{
    .gaussian_weights = true, .sigma = 1.5, .use_sample_covariance = false};

namespace detail {

/// The separable 1-D window of an SSIM computation and the constants that go with it.
struct ssim_window {
    std::vector<double> taps; // 2 r + 1 normalised weights (box: all 1, plain sums)
    std::size_t radius = 0;   // r
    bool box = false;         // uniform window: running sums instead of weighted taps
    std::size_t crop = 0;     // pad removed on every side before the mean
    double cov_norm = 1.0;    // NP / (NP - 1) or 1
    double c1 = 0.0;          // (k1 R)^2
    double c2 = 0.0;          // (k2 R)^2
    std::size_t size() const { return 2 * radius + 1; }
};

/// Window and constants from the options, validating them (value_error naming `where`).
inline ssim_window make_ssim_window(const ssim_options& o, std::string_view where) {
    require(std::isfinite(o.data_range) && o.data_range > 0.0, where, "data_range",
            "positive and finite", o.data_range);
    require(std::isfinite(o.k1) && o.k1 >= 0.0, where, "k1", "non-negative and finite", o.k1);
    require(std::isfinite(o.k2) && o.k2 >= 0.0, where, "k2", "non-negative and finite", o.k2);
    ssim_window w;
    if (o.gaussian_weights) {
        require(std::isfinite(o.sigma) && o.sigma > 0.0 && o.sigma <= 1000.0, where, "sigma",
                "positive and at most 1000", o.sigma);
        // r = int(truncate sigma + 0.5), truncate = 3.5 (scipy.ndimage.gaussian_filter1d)
        w.radius = static_cast<std::size_t>(3.5 * o.sigma + 0.5);
        w.taps.resize(w.size());
        const double sigma2 = o.sigma * o.sigma;
        double total = 0.0;
        for (std::size_t k = 0; k < w.taps.size(); ++k) {
            const double x = static_cast<double>(k) - static_cast<double>(w.radius);
            w.taps[k] = std::exp(-0.5 / sigma2 * x * x); // phi(x) = exp(-x^2 / (2 sigma^2))
            total += w.taps[k];
        }
        for (auto& t : w.taps) {
            t /= total;
        }
    } else {
        require(o.win_size % 2 == 1 && o.win_size <= 4001, where, "win_size",
                "odd and at most 4001", o.win_size);
        w.radius = (o.win_size - 1) / 2;
        w.box = true;
        w.taps.assign(w.size(), 1.0); // plain sums, scaled by 1 / win_size^2 at the end
    }
    w.crop = w.radius;
    const double np = static_cast<double>(w.size()) * static_cast<double>(w.size());
    if (o.use_sample_covariance) {
        require(w.size() > 1, where, "the window",
                "larger than 1 x 1 with use_sample_covariance (NP / (NP - 1))", "a 1 x 1 window");
        w.cov_norm = np / (np - 1.0);
    }
    w.c1 = (o.k1 * o.data_range) * (o.k1 * o.data_range);
    w.c2 = (o.k2 * o.data_range) * (o.k2 * o.data_range);
    return w;
}

/// Images of `h` x `w` must hold the whole window.
inline void check_ssim_extent(std::size_t h, std::size_t w, const ssim_window& win,
                              std::string_view where, const shape3& shape) {
    if (h < win.size() || w < win.size()) {
        throw value_error(concat(where, ": images must be at least ", win.size(), " x ", win.size(),
                                 " (the window) in height and width, got ", shape_string(shape)));
    }
}

/// SSIM at one pixel from the window moments; also returns the contrast-structure term
/// cs = (2 vxy + C2) / (vx + vy + C2).
struct ssim_pixel {
    double c1;
    double c2;
    double cov_norm;
    /// mss = W*(x^2 + y^2): only vx + vy enters, so x^2 and y^2 are filtered together.
    XRESTORE_HD double operator()(double mx, double my, double mss, double mxy, double& cs) const {
        const double vxy = cov_norm * (mxy - mx * my);            // cov(x, y)
        const double vsum = cov_norm * (mss - mx * mx - my * my); // var(x) + var(y)
        const double a1 = 2.0 * mx * my + c1;
        const double a2 = 2.0 * vxy + c2;
        const double b1 = mx * mx + my * my + c1;
        const double b2 = vsum + c2;
        cs = a2 / b2;
        return (a1 * a2) / (b1 * b2);
    }
};

} // namespace detail

namespace kernels {

/// Horizontal pass of the SSIM moments over the "valid" columns, the form the CUDA backend
/// runs: for p = (c, i, j) over C x h x (w - 2r),
///   H_m(c, i, j) = sum_{t <= 2r} taps[t] m(c, i, j + t),  m = x, y, x^2 + y^2, x y  (in double),
/// written to moments[m * C h (w - 2r) + p]. Only the interior of the map (cropped by r) enters
/// the mean SSIM, and the interior's windows never leave the image, so no boundary mode is
/// needed.
struct ssim_horizontal_body {
    const float* x;
    const float* y;
    const double* taps; ///< 2 r + 1 weights (the box: all 1)
    double* moments;    ///< 4 x C x h x (w - 2r)
    std::size_t channels;
    std::size_t height;
    std::size_t width;
    std::size_t radius;
    XRESTORE_HD void operator()(std::size_t p) const {
        const std::size_t out_width = width - 2 * radius;
        const std::size_t j = p % out_width;
        const std::size_t row = p / out_width; // c h + i
        const float* xr = x + row * width + j;
        const float* yr = y + row * width + j;
        double m0 = 0.0;
        double m1 = 0.0;
        double m2 = 0.0;
        double m3 = 0.0;
        for (std::size_t t = 0; t <= 2 * radius; ++t) {
            const double a = xr[t];
            const double b = yr[t];
            const double w = taps[t];
            m0 += w * a;
            m1 += w * b;
            m2 += w * (a * a + b * b);
            m3 += w * (a * b);
        }
        const std::size_t plane = channels * height * out_width;
        moments[p] = m0;
        moments[plane + p] = m1;
        moments[2 * plane + p] = m2;
        moments[3 * plane + p] = m3;
    }
};

/// Vertical pass and SSIM at interior pixel p = (c, i, j) over C x (h - 2r) x (w - 2r): the
/// window moments sum_t taps[t] H_m(c, i + t, j), times `scale` (the box: 1 / size^2), into
/// detail::ssim_pixel. Summed over p and divided by the count, it is the mean SSIM.
struct ssim_map_term {
    const double* moments; ///< from ssim_horizontal_body
    const double* taps;
    std::size_t channels;
    std::size_t height;
    std::size_t width;
    std::size_t radius;
    double scale;
    detail::ssim_pixel pixel;
    XRESTORE_HD double operator()(std::size_t p) const {
        const std::size_t out_width = width - 2 * radius;
        const std::size_t out_height = height - 2 * radius;
        const std::size_t j = p % out_width;
        const std::size_t i = (p / out_width) % out_height;
        const std::size_t c = p / (out_width * out_height);
        const std::size_t plane = channels * height * out_width;
        const double* h = moments + (c * height + i) * out_width + j;
        double m0 = 0.0;
        double m1 = 0.0;
        double m2 = 0.0;
        double m3 = 0.0;
        for (std::size_t t = 0; t <= 2 * radius; ++t) {
            const double w = taps[t];
            const double* ht = h + t * out_width;
            m0 += w * ht[0];
            m1 += w * ht[plane];
            m2 += w * ht[2 * plane];
            m3 += w * ht[3 * plane];
        }
        double cs = 0.0;
        return pixel(scale * m0, scale * m1, scale * m2, scale * m3, cs);
    }
};

} // namespace kernels

namespace detail {

/// Number of filtered quantities: x, y, x^2 + y^2, xy.
inline constexpr std::size_t ssim_moments = 4;

/// The filtered moment rows: W*x, W*y, W*(x^2 + y^2), W*xy.
struct ssim_moment_row {
    const double* mx;
    const double* my;
    const double* mss;
    const double* mxy;
};

/// Call f with the radius as a compile-time constant for the common windows (r <= 8: box
/// windows up to 17 x 17, Gaussians of sigma < 2.43), else as a run-time value, so that the tap
/// loops of the hot kernels unroll.
template <class F>
void with_radius(std::size_t r, F&& f) {
    switch (r) {
    case 1:
        return f(std::integral_constant<std::size_t, 1>{});
    case 2:
        return f(std::integral_constant<std::size_t, 2>{});
    case 3:
        return f(std::integral_constant<std::size_t, 3>{});
    case 4:
        return f(std::integral_constant<std::size_t, 4>{});
    case 5:
        return f(std::integral_constant<std::size_t, 5>{});
    case 6:
        return f(std::integral_constant<std::size_t, 6>{});
    case 7:
        return f(std::integral_constant<std::size_t, 7>{});
    case 8:
        return f(std::integral_constant<std::size_t, 8>{});
    default:
        return f(r);
    }
}

/// Symmetric FIR over rows: o[j] = t_r c[j] + sum_{k<r} t_k (a_k[j] + b_k[j]) for j < n, where
/// rows[k] (k = 0..2r) are the rows under the taps, c = rows[r], a_k = rows[k],
/// b_k = rows[2r - k]. For the horizontal pass rows[k] = v + k (a shifted padded row).
template <class Radius>
XRESTORE_DETAIL_ALWAYS_INLINE inline void symmetric_fir_body(const double* const* rows,
                                                             const double* t, double* o,
                                                             std::size_t n, Radius radius) {
    const std::size_t r = radius;
    if constexpr (std::is_same_v<Radius, std::size_t>) { // run-time radius: accumulate in o
        for (std::size_t j = 0; j < n; ++j) {
            o[j] = t[r] * rows[r][j];
        }
        for (std::size_t k = 0; k < r; ++k) {
            const double* a = rows[k];
            const double* b = rows[2 * r - k];
            const double tk = t[k];
            XRESTORE_DETAIL_SIMD_LOOP
            for (std::size_t j = 0; j < n; ++j) {
                o[j] += tk * (a[j] + b[j]);
            }
        }
    } else { // compile-time radius: the tap loop unrolls, j vectorises
        constexpr std::size_t taps = 2 * Radius::value + 1;
        const double* p[taps];
        double tv[taps];
        for (std::size_t k = 0; k < taps; ++k) {
            p[k] = rows[k];
            tv[k] = t[k];
        }
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t j = 0; j < n; ++j) {
            double acc = tv[r] * p[r][j];
            for (std::size_t k = 0; k < r; ++k) {
                acc += tv[k] * (p[k][j] + p[2 * r - k][j]);
            }
            o[j] = acc;
        }
    }
}

template <class Radius>
void symmetric_fir_default(const double* const* rows, const double* t, double* o, std::size_t n,
                           Radius radius) {
    symmetric_fir_body(rows, t, o, n, radius);
}

#if XRESTORE_DETAIL_X86_DISPATCH
/// The same code compiled for AVX2 + FMA, chosen at run time on CPUs that have them.
template <class Radius>
__attribute__((target("avx2,fma"))) void symmetric_fir_avx2(const double* const* rows,
                                                            const double* t, double* o,
                                                            std::size_t n, Radius radius) {
    symmetric_fir_body(rows, t, o, n, radius);
}
#endif

template <class Radius>
void symmetric_fir(const double* const* rows, const double* t, double* o, std::size_t n,
                   Radius radius) {
#if XRESTORE_DETAIL_X86_DISPATCH
    if (cpu_has_avx2_fma()) {
        symmetric_fir_avx2(rows, t, o, n, radius);
        return;
    }
#endif
    symmetric_fir_default(rows, t, o, n, radius);
}

/// Box window, sliding vertical sum: v[j] += a[j] - b[j] (V_i = V_{i-1} + H_{i+r} - H_{i-r-1}),
/// o[j] = s v[j].
XRESTORE_DETAIL_ALWAYS_INLINE inline void
box_slide_body(double* v, const double* a, const double* b, double* o, std::size_t n, double s) {
    XRESTORE_DETAIL_SIMD_LOOP
    for (std::size_t j = 0; j < n; ++j) {
        v[j] += a[j] - b[j];
        o[j] = v[j] * s;
    }
}

#if XRESTORE_DETAIL_X86_DISPATCH
__attribute__((target("avx2,fma"))) inline void
box_slide_avx2(double* v, const double* a, const double* b, double* o, std::size_t n, double s) {
    box_slide_body(v, a, b, o, n, s);
}
#endif

inline void box_slide(double* v, const double* a, const double* b, double* o, std::size_t n,
                      double s) {
#if XRESTORE_DETAIL_X86_DISPATCH
    if (cpu_has_avx2_fma()) {
        box_slide_avx2(v, a, b, o, n, s);
        return;
    }
#endif
    box_slide_body(v, a, b, o, n, s);
}

/// Reflect-pad a row stored at v[r .. r + w): v[r - 1 - k] = v[r + k'], v[r + w + k] = ...
inline void reflect_pad(double* v, std::size_t w, std::size_t r) {
    const auto ww = static_cast<std::ptrdiff_t>(w);
    for (std::size_t k = 0; k < r; ++k) {
        const auto left = reflect_index(-1 - static_cast<std::ptrdiff_t>(k), ww);
        const auto right = reflect_index(ww + static_cast<std::ptrdiff_t>(k), ww);
        v[r - 1 - k] = v[r + static_cast<std::size_t>(left)];
        v[r + w + k] = v[r + static_cast<std::size_t>(right)];
    }
}

/// The box's running sums restart from a full sum every this many rows.
inline constexpr std::size_t box_restart_rows = 32;

/// Doubles of scratch one thread needs for rows `w` wide with window radius r: padded product
/// rows, a ring of 2 r + 2 horizontally filtered rows, the box's running sums and the output
/// row, for each of the ssim_moments quantities.
inline std::size_t ssim_scratch_size(std::size_t w, std::size_t r) {
    return ssim_moments * ((w + 2 * r) + w * (2 * r + 2) + 2 * w);
}

/// Filtered moments of rows [i0, i1) of one h x w channel pair; calls sink(i, row) per row.
/// Each input row is filtered horizontally once (reflect-padded) into a ring of recent rows;
/// the vertical pass then combines the ring: weighted taps folded by symmetry, or for a box a
/// running sum  V_i = V_{i-1} + H_{i+r} - H_{i-r-1}, restarted from a full sum at i0 and every
/// box_restart_rows rows after `origin`. `scratch` holds ssim_scratch_size(w, r) doubles and
/// `ring_rows` 2 r + 1 pointers.
template <class T, class Sink, class Radius>
void ssim_moment_rows(const T* x, const T* y, std::size_t h, std::size_t w, const ssim_window& win,
                      std::size_t origin, std::size_t i0, std::size_t i1, double* scratch,
                      const double** ring_rows, Radius radius, Sink&& sink) {
    const std::size_t r = radius;
    const std::size_t taps = 2 * r + 1;
    const std::size_t slots = taps + 1; // the box also needs row i - r - 1
    const std::size_t wp = w + 2 * r;
    const double* t = win.taps.data();
    const double box_scale = 1.0 / (static_cast<double>(taps) * static_cast<double>(taps));
    constexpr std::size_t nq = ssim_moments;
    double* pad[nq];
    double* out[nq];
    double* sum[nq];
    double* ring = scratch + nq * wp; // virtual row s, quantity q: ring + (slot(s) nq + q) w
    for (std::size_t q = 0; q < nq; ++q) {
        pad[q] = scratch + q * wp;
        out[q] = ring + nq * w * slots + q * w;
        sum[q] = ring + nq * w * (slots + 1) + q * w;
    }
    const auto hh = static_cast<std::ptrdiff_t>(h);
    // Virtual row s >= i0 - r lives in slot (s - i0 + r) mod slots.
    auto slot = [&](std::ptrdiff_t s) {
        return static_cast<std::size_t>(s - static_cast<std::ptrdiff_t>(i0) +
                                        static_cast<std::ptrdiff_t>(r)) %
               slots;
    };
    auto ring_row = [&](std::ptrdiff_t s, std::size_t q) { return ring + (slot(s) * nq + q) * w; };

    // Horizontally filtered x, y, x^2, y^2, xy of virtual row s (reflected into the image).
    auto horizontal = [&](std::ptrdiff_t s) {
        const auto src = static_cast<std::size_t>(reflect_index(s, hh));
        const T* xs = x + src * w;
        const T* ys = y + src * w;
        double* p0 = pad[0] + r;
        double* p1 = pad[1] + r;
        double* p2 = pad[2] + r;
        double* p3 = pad[3] + r;
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t j = 0; j < w; ++j) {
            const double p = static_cast<double>(xs[j]);
            const double q = static_cast<double>(ys[j]);
            p0[j] = p;
            p1[j] = q;
            p2[j] = p * p + q * q;
            p3[j] = p * q;
        }
        // (for the box all taps are 1: plain sums)
        for (std::size_t q = 0; q < nq; ++q) {
            reflect_pad(pad[q], w, r);
            for (std::size_t k = 0; k < taps; ++k) {
                ring_rows[k] = pad[q] + k;
            }
            symmetric_fir(ring_rows, t, ring_row(s, q), w, radius);
        }
    };

    const auto first = static_cast<std::ptrdiff_t>(i0) - static_cast<std::ptrdiff_t>(r);
    for (std::ptrdiff_t s = first; s < first + static_cast<std::ptrdiff_t>(2 * r); ++s) {
        horizontal(s);
    }
    for (std::size_t i = i0; i < i1; ++i) {
        const auto ii = static_cast<std::ptrdiff_t>(i);
        const auto rr = static_cast<std::ptrdiff_t>(r);
        horizontal(ii + rr);
        for (std::size_t q = 0; q < nq; ++q) {
            double* o = out[q];
            if (!win.box) {
                for (std::size_t k = 0; k < taps; ++k) {
                    ring_rows[k] = ring_row(ii - rr + static_cast<std::ptrdiff_t>(k), q);
                }
                symmetric_fir(ring_rows, t, o, w, radius);
            } else {
                double* v = sum[q];
                if (i == i0 || (i - origin) % box_restart_rows == 0) { // V = sum of 2 r + 1 rows
                    for (std::size_t j = 0; j < w; ++j) {
                        v[j] = 0.0;
                    }
                    for (std::size_t k = 0; k < taps; ++k) {
                        const double* a = ring_row(ii - rr + static_cast<std::ptrdiff_t>(k), q);
                        for (std::size_t j = 0; j < w; ++j) {
                            v[j] += a[j];
                        }
                    }
                    for (std::size_t j = 0; j < w; ++j) {
                        o[j] = v[j] * box_scale;
                    }
                } else { // V_i = V_{i-1} + H_{i+r} - H_{i-r-1}
                    box_slide(v, ring_row(ii + rr, q), ring_row(ii - rr - 1, q), o, w, box_scale);
                }
            }
        }
        sink(i, ssim_moment_row{out[0], out[1], out[2], out[3]});
    }
}

/// Run ssim_moment_rows over rows [i0, i1) of every channel of two C x h x w planes, in
/// parallel blocks of rows; sink(c, i, row) is called once per (channel, row) from any thread.
template <class T, class Sink>
void ssim_for_each_row(const T* x, const T* y, std::size_t channels, std::size_t h, std::size_t w,
                       const ssim_window& win, std::size_t i0, std::size_t i1, const Sink& sink) {
    if (i1 <= i0 || channels == 0) {
        return;
    }
    const bool parallel = channels * h * w >= (1u << 15);
    const std::size_t threads = parallel ? max_threads() : 1;
    // About four tasks per thread; each block re-filters 2 r rows, so blocks stay >= 8 r rows.
    const std::size_t rows = i1 - i0;
    // Blocks are whole multiples of the box's restart period, so that the running sums restart
    // at the same rows, and the result is the same bit for bit, whatever the thread count.
    const std::size_t wanted = (channels * rows + 4 * threads - 1) / (4 * threads);
    std::size_t block = std::max({wanted, 8 * win.radius, box_restart_rows});
    block = std::min(rows, (block + box_restart_rows - 1) / box_restart_rows * box_restart_rows);
    const std::size_t blocks = (rows + block - 1) / block;
    const std::size_t tasks = channels * blocks;
    const std::size_t scratch_size = ssim_scratch_size(w, win.radius);
    std::vector<double> scratch(threads * scratch_size);
    std::vector<const double*> ring_rows(threads * win.size());
    with_radius(win.radius, [&](auto radius) {
        parallel_tasks(tasks, parallel, [&](std::size_t task, std::size_t thread) {
            const std::size_t c = task / blocks;
            const std::size_t lo = i0 + (task % blocks) * block;
            const std::size_t hi = std::min(i1, lo + block);
            const std::size_t plane = c * h * w;
            ssim_moment_rows(x + plane, y + plane, h, w, win, i0, lo, hi,
                             scratch.data() + thread * scratch_size,
                             ring_rows.data() + thread * win.size(), radius,
                             [&](std::size_t i, const ssim_moment_row& m) { sink(c, i, m); });
        });
    });
}

/// sum_{j0 <= j < j1} S_j and (with Cs) sum cs_j of one row of moments.
template <bool Cs>
XRESTORE_DETAIL_ALWAYS_INLINE inline void
ssim_row_sums_body(const ssim_pixel& pixel, const ssim_moment_row& m, std::size_t j0,
                   std::size_t j1, double& s_sum, double& cs_sum) {
    const double* mx = m.mx;
    const double* my = m.my;
    const double* mss = m.mss;
    const double* mxy = m.mxy;
    double s_acc = 0.0;
    double cs_acc = 0.0;
#if defined(_OPENMP)
#pragma omp simd reduction(+ : s_acc, cs_acc)
#endif
    for (std::size_t j = j0; j < j1; ++j) {
        double cs;
        s_acc += pixel(mx[j], my[j], mss[j], mxy[j], cs);
        if constexpr (Cs) {
            cs_acc += cs;
        }
    }
    s_sum = s_acc;
    cs_sum = cs_acc;
}

#if XRESTORE_DETAIL_X86_DISPATCH
template <bool Cs>
__attribute__((target("avx2,fma"))) void
ssim_row_sums_avx2(const ssim_pixel& pixel, const ssim_moment_row& m, std::size_t j0,
                   std::size_t j1, double& s_sum, double& cs_sum) {
    ssim_row_sums_body<Cs>(pixel, m, j0, j1, s_sum, cs_sum);
}
#endif

template <bool Cs>
void ssim_row_sums(const ssim_pixel& pixel, const ssim_moment_row& m, std::size_t j0,
                   std::size_t j1, double& s_sum, double& cs_sum) {
#if XRESTORE_DETAIL_X86_DISPATCH
    if (cpu_has_avx2_fma()) {
        ssim_row_sums_avx2<Cs>(pixel, m, j0, j1, s_sum, cs_sum);
        return;
    }
#endif
    ssim_row_sums_body<Cs>(pixel, m, j0, j1, s_sum, cs_sum);
}

/// Per-channel sums over the cropped SSIM map: of S, of cs (when `with_cs`) and the number of
/// pixels summed. With a mask (nonzero = counted; `mask_channel_stride` 0 when one H x W mask
/// serves every channel) only those pixels count. Writes the full S map when `map` is given.
struct ssim_sums {
    std::vector<double> ssim;
    std::vector<double> cs;
    std::vector<double> count;
};

template <class T>
ssim_sums ssim_channel_sums(const T* x, const T* y, std::size_t channels, std::size_t h,
                            std::size_t w, const ssim_window& win, float* map, bool with_cs,
                            const float* mask = nullptr, std::size_t mask_channel_stride = 0) {
    const ssim_pixel pixel{win.c1, win.c2, win.cov_norm};
    const std::size_t crop = win.crop;
    std::vector<double> row_s(channels * h, 0.0);
    std::vector<double> row_cs(with_cs ? channels * h : 0, 0.0);
    std::vector<double> row_n(mask ? channels * h : 0, 0.0);
    const std::size_t i0 = map ? 0 : crop;
    const std::size_t i1 = map ? h : h - crop;
    const std::size_t j0 = crop;
    const std::size_t j1 = w - crop;
    ssim_for_each_row(x, y, channels, h, w, win, i0, i1,
                      [&](std::size_t c, std::size_t i, const ssim_moment_row& m) {
                          const double* mx = m.mx;
                          const double* my = m.my;
                          const double* mss = m.mss;
                          const double* mxy = m.mxy;
                          const bool inside = i >= crop && i < h - crop;
                          if (map) {
                              float* out = map + (c * h + i) * w;
                              XRESTORE_DETAIL_SIMD_LOOP
                              for (std::size_t j = 0; j < w; ++j) {
                                  double cs;
                                  out[j] =
                                      static_cast<float>(pixel(mx[j], my[j], mss[j], mxy[j], cs));
                              }
                          }
                          if (!inside) {
                              return;
                          }
                          double s_sum = 0.0;
                          double cs_sum = 0.0;
                          if (mask) {
                              const float* mk = mask + c * mask_channel_stride + i * w;
                              double n = 0.0;
                              for (std::size_t j = j0; j < j1; ++j) {
                                  if (mk[j] != 0.0f) {
                                      double cs;
                                      s_sum += pixel(mx[j], my[j], mss[j], mxy[j], cs);
                                      cs_sum += cs;
                                      n += 1.0;
                                  }
                              }
                              row_n[c * h + i] = n;
                          } else if (with_cs) {
                              ssim_row_sums<true>(pixel, m, j0, j1, s_sum, cs_sum);
                          } else {
                              ssim_row_sums<false>(pixel, m, j0, j1, s_sum, cs_sum);
                          }
                          row_s[c * h + i] = s_sum;
                          if (with_cs) {
                              row_cs[c * h + i] = cs_sum;
                          }
                      });
    // Reduce the row sums in row order: independent of the thread count.
    ssim_sums sums{std::vector<double>(channels, 0.0), std::vector<double>(channels, 0.0),
                   std::vector<double>(channels, 0.0)};
    for (std::size_t c = 0; c < channels; ++c) {
        for (std::size_t i = crop; i < h - crop; ++i) {
            sums.ssim[c] += row_s[c * h + i];
            if (with_cs) {
                sums.cs[c] += row_cs[c * h + i];
            }
            if (mask) {
                sums.count[c] += row_n[c * h + i];
            }
        }
        if (!mask) {
            sums.count[c] = static_cast<double>((h - 2 * crop) * (w - 2 * crop));
        }
    }
    return sums;
}

/// Validate a pair for SSIM and return its window.
inline ssim_window prepare_ssim(const image& reference, const image& estimate,
                                const ssim_options& options, std::string_view where) {
    check_pair(reference, estimate, where);
    ssim_window win = make_ssim_window(options, where);
    const shape3 shape = shape_of<3>(reference);
    check_ssim_extent(shape[1], shape[2], win, where, shape);
    return win;
}

} // namespace detail

/// Mean structural similarity of two C x H x W images (mean over channels of the per-channel
/// cropped mean), identical to skimage.metrics.structural_similarity with channel_axis=0.
/// Throws shape_error for different shapes, value_error for images smaller than the window,
/// non-finite values or invalid options.
inline double ssim(const image& reference, const image& estimate,
                   const ssim_options& options = {}) {
    const detail::ssim_window win = detail::prepare_ssim(reference, estimate, options, "ssim");
    const auto sums =
        detail::ssim_channel_sums(reference.data(), estimate.data(), reference.shape()[0],
                                  reference.shape()[1], reference.shape()[2], win, nullptr, false);
    double total = 0.0; // mean over channels of the per-channel means
    for (std::size_t c = 0; c < sums.ssim.size(); ++c) {
        total += sums.ssim[c] / sums.count[c];
    }
    return total / static_cast<double>(sums.ssim.size());
}

/// Mean SSIM of two C x H x W dense arrays of any other type (device images...), on their
/// backend: the same options, checks, error messages (in the same order) and definition as the
/// image overload. Two passes over the "valid" region only, since the cropped map's windows never
/// leave the image and the reflected border never enters the mean: kernels::ssim_horizontal_body
/// writes the four horizontally filtered moments, then kernels::ssim_map_term filters them
/// vertically and evaluates S per pixel inside a deterministic reduction. Only scalars come back.
template <dense_vector V>
requires std::same_as<shape_t<V>, shape3>
double ssim(const V& reference, const V& estimate, const ssim_options& options = {}) {
    constexpr std::string_view where = "ssim";
    detail::check_pair(reference, estimate, where);
    const detail::ssim_window win = detail::make_ssim_window(options, where);
    const shape3 shape = vector_space<V>::shape(reference);
    detail::check_ssim_extent(shape[1], shape[2], win, where, shape);
    const std::size_t channels = shape[0];
    const std::size_t height = shape[1];
    const std::size_t width = shape[2];
    const std::size_t r = win.radius;
    const std::size_t out_width = width - 2 * r;
    const std::size_t out_height = height - 2 * r;
    const buffer_on<V, double> taps(win.taps);
    // H_m(c, i, j) = sum_t taps[t] m(c, i, j + t), m = x, y, x^2 + y^2, xy
    buffer_on<V, double> moments(detail::ssim_moments * channels * height * out_width);
    for_each_index_on<V>(channels * height * out_width,
                         kernels::ssim_horizontal_body{reference.data(), estimate.data(),
                                                       taps.data(), moments.data(), channels,
                                                       height, width, r});
    // the box's taps are plain sums: scale the window moments by 1 / size^2
    const double scale =
        win.box ? 1.0 / (static_cast<double>(win.size()) * static_cast<double>(win.size())) : 1.0;
    const std::size_t count = channels * out_height * out_width;
    const double total = sum_over_indices_on<V>(
        count, kernels::ssim_map_term{moments.data(), taps.data(), channels, height, width, r,
                                      scale, detail::ssim_pixel{win.c1, win.c2, win.cov_norm}});
    // equal counts per channel: the mean over channels of channel means is the overall mean
    return total / static_cast<double>(count);
}

/// The full C x H x W SSIM map S (skimage's `full=True` output, not cropped). Its mean over
/// the interior that excludes `(window - 1) / 2` pixels on every side is ssim().
inline image ssim_map(const image& reference, const image& estimate,
                      const ssim_options& options = {}) {
    const detail::ssim_window win = detail::prepare_ssim(reference, estimate, options, "ssim_map");
    image map = image::from_shape(reference.shape());
    detail::ssim_channel_sums(reference.data(), estimate.data(), reference.shape()[0],
                              reference.shape()[1], reference.shape()[2], win, map.data(), false);
    return map;
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float (an xt::xarray, a matrix, a double
// tensor) fail to compile here with a plain message naming the type needed
// (core/array_argument.hpp) instead of converting silently.
template <class R, class E>
requires detail::mismatched_arrays<image, R, E>
double ssim(const R&, const E&, const ssim_options& = {}) {
    detail::reject_arrays<image, R, E>();
    return {};
}

template <class R, class E>
requires detail::mismatched_arrays<image, R, E> image ssim_map(const R&, const E&,
                                                               const ssim_options& = {}) {
    detail::reject_arrays<image, R, E>();
    return {};
}

} // namespace xrestore
