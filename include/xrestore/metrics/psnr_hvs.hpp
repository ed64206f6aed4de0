#pragma once
/// @file psnr_hvs.hpp
/// PSNR-HVS (Egiazarian, Astola, Ponomarenko et al. 2006) and PSNR-HVS-M (Ponomarenko et al.
/// 2007, "On between-coefficient contrast masking of DCT basis functions"): the PSNR of 8 x 8
/// DCT coefficient differences weighted by a contrast sensitivity table, and for -M lowered by
/// the contrast masking of each block, as the authors' MATLAB psnrhvsm.m computes them. Higher
/// is better; in dB.
///
/// @code
/// double hvs = xrestore::psnr_hvs(reference, distorted);               // images in [0,1]
/// double hvs_m = xrestore::psnr_hvs_m(reference, distorted);
/// auto both = xrestore::psnr_hvs_both_masked(reference, distorted, mask); // mask 1 x H x W
/// @endcode
///
/// Definition, on one plane of the images brought to [0, 255] (t = x / data_range):
///   0. one channel: Y = 255 t; three channels, by psnr_hvs_options::colour: the BT.601 YCbCr
///      Y = 16 + 65.481 t_R + 128.553 t_G + 24.966 t_B (the default, as MATLAB's rgb2ycbcr and
///      the psnr_hvsm package's colour path compute it, without their rounding to 8 bits), the
///      full-range luma Y = 255 (0.299 t_R + 0.587 t_G + 0.114 t_B) of vif_p() and gmsd(), or
///      the mean of the channels Y = 255 (t_R + t_G + t_B) / 3. (The YCbCr Y of a grey RGB
///      image is 16 + 219 t, so it scores otherwise than the same image as one channel.)
///   1. blocks: the 8 x 8 blocks A (reference) and B (distorted) with top-left corner at
///      (step i, step j) for every i, j with the block inside the image (step 8 by default:
///      non-overlapping); rows and columns past the last whole block are not used (psnrhvsm.m
///      does the same: for step 8, the last H mod 8 rows and W mod 8 columns);
///   2. D_A = C A C^T, D_B likewise, with C the orthonormal DCT-II matrix (MATLAB dct2),
///      u(k, l) = |D_A(k, l) - D_B(k, l)|;
///   3. PSNR-HVS: S_2 = sum over blocks and k, l of (u(k, l) T_csf(k, l))^2;
///   4. PSNR-HVS-M: the masking level of a block z is m(z) = sqrt(E(z) P(z)) / 32, with
///      E(z) = sum over (k, l) != (0, 0) of D_z(k, l)^2 T_mask(k, l) (the DC coefficient does
///      not mask) and P(z) = (V(z_11) + V(z_12) + V(z_21) + V(z_22)) / V(z) over the four 4 x 4
///      quarters, P = 0 for a flat block, V(z) = n / (n - 1) sum (z - mean z)^2 (MATLAB's
///      var(z(:)) * numel(z)); M = max(m(A), m(B)); every AC difference becomes
///      max(u - M / T_mask(k, l), 0), the DC difference u(0, 0) stays whole;
///      S_1 = sum of (u T_csf)^2 over the masked differences;
///   5. value = 10 log10(255^2 / (S / (64 N))) for N blocks, and 100000 (psnr_hvs_identical)
///      when S = 0, psnrhvsm.m's value for identical images (for -M: images whose differences
///      all lie under the masking thresholds; in floating point the DC differences of distinct
///      images are rarely exactly 0, so in practice it too means identical blocks).
/// The tables T_csf and T_mask are psnrhvsm.m's (row k: vertical frequency). The measures are
/// symmetric in their arguments. The _masked variants keep the blocks whose 64 pixels a 1 x H x W
/// mask selects (nonzero) at least 32 of; an all-ones mask gives the unmasked values exactly.

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/metrics/detail/common.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <string_view>
#include <vector>

namespace xrestore {

/// How psnr_hvs() reduces a 3-channel image to the one plane it compares (step 0 of the file
/// comment); one channel is always used as it is.
enum class psnr_hvs_colour {
    /// BT.601 YCbCr Y, 16 + 65.481 R + 128.553 G + 24.966 B for R, G, B in [0, 1].
    ycbcr_y,
    /// Full-range BT.601 luma, 255 (0.299 R + 0.587 G + 0.114 B), as vif_p() and gmsd().
    luma,
    /// The mean of the three channels, times 255.
    channel_mean,
};

/// Parameters of psnr_hvs() and psnr_hvs_m().
struct psnr_hvs_options {
    /// Distance between the minimum and maximum possible values; images are rescaled to
    /// [0, 255] by 255 / data_range (the peak of the measure is 255).
    double data_range = 1.0;
    /// Plane compared for 3-channel images.
    psnr_hvs_colour colour = psnr_hvs_colour::ycbcr_y;
    /// Distance between the corners of neighbouring 8 x 8 blocks (psnrhvsm.m's wstep): 8 for
    /// non-overlapping blocks, less for overlapping ones.
    std::size_t step = 8;
};

/// Both measures of one pair, from one pass over the blocks.
struct psnr_hvs_result {
    double psnr_hvs = 0.0;
    double psnr_hvs_m = 0.0;
};

/// The value for identical images (a sum of 0), as psnrhvsm.m returns it.
inline constexpr double psnr_hvs_identical = 100000.0;

namespace detail {

/// Contrast sensitivity weights of psnrhvsm.m, row-major (row k: vertical frequency).
inline constexpr std::array<double, 64> psnr_hvs_csf{
    1.608443, 2.339554, 2.573509, 1.608443, 1.072295, 0.643377, 0.504610, 0.421887,
    2.144591, 2.144591, 1.838221, 1.354478, 0.989811, 0.443708, 0.428918, 0.467911,
    1.838221, 1.979622, 1.608443, 1.072295, 0.643377, 0.451493, 0.372972, 0.459555,
    1.838221, 1.513829, 1.169777, 0.887417, 0.504610, 0.295806, 0.321689, 0.415082,
    1.429727, 1.169777, 0.695543, 0.459555, 0.378457, 0.236102, 0.249855, 0.334222,
    1.072295, 0.735288, 0.467911, 0.402111, 0.317717, 0.247453, 0.227744, 0.279729,
    0.525206, 0.402111, 0.329937, 0.295806, 0.249855, 0.212687, 0.214459, 0.254803,
    0.357432, 0.279729, 0.270896, 0.262603, 0.229778, 0.257351, 0.249855, 0.259950};

/// Masking coefficients of psnrhvsm.m, row-major.
inline constexpr std::array<double, 64> psnr_hvs_masking{
    0.390625, 0.826446, 1.000000, 0.390625, 0.173611, 0.062500, 0.038447, 0.026874,
    0.694444, 0.694444, 0.510204, 0.277008, 0.147929, 0.029727, 0.027778, 0.033058,
    0.510204, 0.591716, 0.390625, 0.173611, 0.062500, 0.030779, 0.021004, 0.031888,
    0.510204, 0.346021, 0.206612, 0.118906, 0.038447, 0.013212, 0.015625, 0.026015,
    0.308642, 0.206612, 0.073046, 0.031888, 0.021626, 0.008417, 0.009426, 0.016866,
    0.173611, 0.081633, 0.033058, 0.024414, 0.015242, 0.009246, 0.007831, 0.011815,
    0.041649, 0.024414, 0.016437, 0.013212, 0.009426, 0.006830, 0.006944, 0.009803,
    0.019290, 0.011815, 0.011080, 0.010412, 0.007972, 0.010000, 0.009426, 0.010203};

/// The orthonormal 8-point DCT-II matrix, row-major: C(k, n) = a_k cos(pi (2n + 1) k / 16),
/// a_0 = sqrt(1/8), a_k = sqrt(2/8) = 1/2.
inline const std::array<double, 64>& psnr_hvs_dct_matrix() {
    static const std::array<double, 64> c = [] {
        std::array<double, 64> m{};
        for (std::size_t k = 0; k < 8; ++k) {
            for (std::size_t n = 0; n < 8; ++n) {
                const double angle = std::numbers::pi * static_cast<double>((2 * n + 1) * k) / 16.0;
                m[k * 8 + n] =
                    k == 0 ? std::sqrt(1.0 / 8.0) : std::sqrt(2.0 / 8.0) * std::cos(angle);
            }
        }
        return m;
    }();
    return c;
}

/// C^T, row-major.
inline const std::array<double, 64>& psnr_hvs_dct_matrix_transposed() {
    static const std::array<double, 64> ct = [] {
        const std::array<double, 64>& c = psnr_hvs_dct_matrix();
        std::array<double, 64> m{};
        for (std::size_t k = 0; k < 8; ++k) {
            for (std::size_t n = 0; n < 8; ++n) {
                m[n * 8 + k] = c[k * 8 + n];
            }
        }
        return m;
    }();
    return ct;
}

/// Step 0: the H x W plane on [0, 255] that the measures compare (t = x / data_range, computed
/// as x (1 / data_range)).
inline std::vector<double> psnr_hvs_plane(const image& x, const psnr_hvs_options& options) {
    const std::size_t n = x.shape()[1] * x.shape()[2];
    const double inverse = 1.0 / options.data_range;
    const float* r = x.data();
    std::vector<double> y(n);
    double* out = y.data();
    if (x.shape()[0] == 1) {
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = 255.0 * (static_cast<double>(r[i]) * inverse);
        }
        return y;
    }
    const float* g = r + n;
    const float* b = g + n;
    switch (options.colour) {
    case psnr_hvs_colour::ycbcr_y:
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = 16.0 + 65.481 * (static_cast<double>(r[i]) * inverse) +
                     128.553 * (static_cast<double>(g[i]) * inverse) +
                     24.966 * (static_cast<double>(b[i]) * inverse);
        }
        break;
    case psnr_hvs_colour::luma:
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = 255.0 * (0.299 * (static_cast<double>(r[i]) * inverse) +
                              0.587 * (static_cast<double>(g[i]) * inverse) +
                              0.114 * (static_cast<double>(b[i]) * inverse));
        }
        break;
    case psnr_hvs_colour::channel_mean:
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = 255.0 *
                     (static_cast<double>(r[i]) * inverse + static_cast<double>(g[i]) * inverse +
                      static_cast<double>(b[i]) * inverse) /
                     3.0;
        }
        break;
    }
    return y;
}

/// d = C z C^T for an 8 x 8 row-major block z (MATLAB dct2).
inline void psnr_hvs_dct(const double* z, double* d) {
    const std::array<double, 64>& c = psnr_hvs_dct_matrix();
    const std::array<double, 64>& ct = psnr_hvs_dct_matrix_transposed();
    double t[64]; // t = C z
    for (std::size_t k = 0; k < 8; ++k) {
        for (std::size_t n = 0; n < 8; ++n) {
            t[k * 8 + n] = 0.0;
        }
        for (std::size_t m = 0; m < 8; ++m) {
            const double ckm = c[k * 8 + m];
            XRESTORE_DETAIL_SIMD_LOOP
            for (std::size_t n = 0; n < 8; ++n) {
                t[k * 8 + n] += ckm * z[m * 8 + n];
            }
        }
    }
    for (std::size_t k = 0; k < 8; ++k) { // d = t C^T: d(k, l) = sum_n t(k, n) C(l, n)
        for (std::size_t l = 0; l < 8; ++l) {
            d[k * 8 + l] = 0.0;
        }
        for (std::size_t n = 0; n < 8; ++n) {
            const double tkn = t[k * 8 + n];
            XRESTORE_DETAIL_SIMD_LOOP
            for (std::size_t l = 0; l < 8; ++l) {
                d[k * 8 + l] += tkn * ct[n * 8 + l];
            }
        }
    }
}

/// V(z) = n / (n - 1) sum (z - mean z)^2 over the size x size square of the 8 x 8 block z with
/// top-left corner (i0, j0).
inline double psnr_hvs_vari(const double* z, std::size_t i0, std::size_t j0, std::size_t size) {
    double sum = 0.0;
    for (std::size_t i = i0; i < i0 + size; ++i) {
        for (std::size_t j = j0; j < j0 + size; ++j) {
            sum += z[i * 8 + j];
        }
    }
    const double n = static_cast<double>(size * size);
    const double mean = sum / n;
    double ss = 0.0;
    for (std::size_t i = i0; i < i0 + size; ++i) {
        for (std::size_t j = j0; j < j0 + size; ++j) {
            const double e = z[i * 8 + j] - mean;
            ss += e * e;
        }
    }
    return ss / (n - 1.0) * n;
}

/// Masking level m(z) = sqrt(E(z) P(z)) / 32 of block z with DCT d (step 4 of the file comment).
inline double psnr_hvs_masking_level(const double* z, const double* d) {
    double energy = 0.0; // E = sum over the AC coefficients of d^2 T_mask
    for (std::size_t k = 1; k < 64; ++k) {
        energy += d[k] * d[k] * psnr_hvs_masking[k];
    }
    double p = psnr_hvs_vari(z, 0, 0, 8);
    if (p != 0.0) { // P = share of the variation inside the four quarters
        p = (psnr_hvs_vari(z, 0, 0, 4) + psnr_hvs_vari(z, 0, 4, 4) + psnr_hvs_vari(z, 4, 4, 4) +
             psnr_hvs_vari(z, 4, 0, 4)) /
            p;
    }
    return std::sqrt(energy * p) / 32.0;
}

/// S_2 and S_1 (steps 2 to 4) of the blocks of the planes a and b (row stride w) with top-left
/// corner (y, x).
inline void psnr_hvs_block(const double* a, const double* b, std::size_t w, std::size_t y,
                           std::size_t x, double& s_hvs, double& s_hvs_m) {
    double za[64];
    double zb[64];
    for (std::size_t i = 0; i < 8; ++i) {
        for (std::size_t j = 0; j < 8; ++j) {
            za[i * 8 + j] = a[(y + i) * w + x + j];
            zb[i * 8 + j] = b[(y + i) * w + x + j];
        }
    }
    double da[64];
    double db[64];
    psnr_hvs_dct(za, da);
    psnr_hvs_dct(zb, db);
    const double level = std::max(psnr_hvs_masking_level(za, da), psnr_hvs_masking_level(zb, db));
    // DC: weighted in both measures, never masked
    const double dc = std::abs(da[0] - db[0]) * psnr_hvs_csf[0];
    double hvs = dc * dc;
    double hvs_m = dc * dc;
    for (std::size_t k = 1; k < 64; ++k) {
        const double u = std::abs(da[k] - db[k]);
        const double weighted = u * psnr_hvs_csf[k];
        hvs += weighted * weighted;
        const double threshold = level / psnr_hvs_masking[k];
        const double masked = (u < threshold ? 0.0 : u - threshold) * psnr_hvs_csf[k];
        hvs_m += masked * masked;
    }
    s_hvs = hvs;
    s_hvs_m = hvs_m;
}

/// 10 log10(255^2 / (s / count)), psnr_hvs_identical for s = 0 (step 5).
inline double psnr_hvs_db(double s, double count) {
    return s == 0.0 ? psnr_hvs_identical : 10.0 * std::log10(255.0 * 255.0 / (s / count));
}

/// Validate the pair and the options; returns the number of block rows and columns.
inline void psnr_hvs_check(const image& reference, const image& distorted,
                           const psnr_hvs_options& options, std::string_view where,
                           std::size_t& rows, std::size_t& columns) {
    check_pair(reference, distorted, where);
    require(std::isfinite(options.data_range) && options.data_range > 0.0, where, "data_range",
            "positive and finite", options.data_range);
    require(options.step > 0, where, "step", "at least 1", options.step);
    const auto colour = static_cast<int>(options.colour);
    require(colour >= 0 && colour <= 2, where, "colour",
            "psnr_hvs_colour::ycbcr_y, luma or channel_mean", colour);
    const std::size_t c = reference.shape()[0];
    const std::size_t h = reference.shape()[1];
    const std::size_t w = reference.shape()[2];
    if (c != 1 && c != 3) {
        throw shape_error(concat(where, ": images must have 1 (gray) or 3 (RGB) channels, got ",
                                 shape_string(reference.shape())));
    }
    if (h < 8 || w < 8) {
        throw shape_error(concat(where, ": images must hold at least one 8 x 8 block, got ",
                                 shape_string(reference.shape())));
    }
    rows = (h - 8) / options.step + 1;
    columns = (w - 8) / options.step + 1;
}

/// Both measures over the blocks `keep(block row, block column)` accepts; `count` receives
/// their number (the result is meaningless when it is 0). The arguments are validated.
template <class Keep>
psnr_hvs_result psnr_hvs_scores(const image& reference, const image& distorted,
                                const psnr_hvs_options& options, std::size_t rows,
                                std::size_t columns, const Keep& keep, std::size_t& count) {
    const std::size_t w = reference.shape()[2];
    const std::vector<double> a = psnr_hvs_plane(reference, options);
    const std::vector<double> b = psnr_hvs_plane(distorted, options);
    const std::size_t step = options.step;
    std::vector<double> hvs(rows * columns, 0.0);
    std::vector<double> hvs_m(rows * columns, 0.0);
    std::vector<char> kept(rows * columns, 0);
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = 0; j < columns; ++j) {
            kept[i * columns + j] = keep(i, j) ? 1 : 0;
        }
    }
    // one task per row of blocks; each block's sums land in its own slot
    parallel_tasks(rows, rows * columns >= 64, [&](std::size_t i, std::size_t) {
        for (std::size_t j = 0; j < columns; ++j) {
            const std::size_t p = i * columns + j;
            if (kept[p] != 0) {
                psnr_hvs_block(a.data(), b.data(), w, i * step, j * step, hvs[p], hvs_m[p]);
            }
        }
    });
    double s_hvs = 0.0; // reduced in block order: independent of the thread count
    double s_hvs_m = 0.0;
    count = 0;
    for (std::size_t p = 0; p < kept.size(); ++p) {
        if (kept[p] != 0) {
            s_hvs += hvs[p];
            s_hvs_m += hvs_m[p];
            ++count;
        }
    }
    const double n = 64.0 * static_cast<double>(count);
    return {psnr_hvs_db(s_hvs, n), psnr_hvs_db(s_hvs_m, n)};
}

/// Both measures over all blocks.
inline psnr_hvs_result psnr_hvs_all(const image& reference, const image& distorted,
                                    const psnr_hvs_options& options, std::string_view where) {
    std::size_t rows = 0;
    std::size_t columns = 0;
    psnr_hvs_check(reference, distorted, options, where, rows, columns);
    std::size_t count = 0;
    return psnr_hvs_scores(
        reference, distorted, options, rows, columns, [](std::size_t, std::size_t) { return true; },
        count);
}

/// Both measures over the blocks whose pixels the 1 x H x W mask selects at least half of.
inline psnr_hvs_result psnr_hvs_all_masked(const image& reference, const image& distorted,
                                           const image& mask, const psnr_hvs_options& options,
                                           std::string_view where) {
    std::size_t rows = 0;
    std::size_t columns = 0;
    psnr_hvs_check(reference, distorted, options, where, rows, columns);
    require_shared_mask(mask, shape_of<3>(reference), where, "PSNR-HVS");
    const std::size_t w = reference.shape()[2];
    const float* m = mask.data();
    const auto half_selected = [&](std::size_t i, std::size_t j) {
        std::size_t selected = 0;
        for (std::size_t y = i * options.step; y < i * options.step + 8; ++y) {
            for (std::size_t x = j * options.step; x < j * options.step + 8; ++x) {
                selected += m[y * w + x] != 0.0F ? 1 : 0;
            }
        }
        return 2 * selected >= 64;
    };
    std::size_t count = 0;
    const psnr_hvs_result r =
        psnr_hvs_scores(reference, distorted, options, rows, columns, half_selected, count);
    if (count == 0) {
        throw value_error(concat(where,
                                 ": the mask selects no 8 x 8 block (a block counts when the "
                                 "mask selects at least 32 of its 64 pixels; ",
                                 rows * columns, " blocks with step ", options.step, ")"));
    }
    return r;
}

} // namespace detail

/// PSNR-HVS in dB of two 1- or 3-channel C x H x W images (H, W >= 8), reference first (the
/// measure is symmetric); psnr_hvs_identical for identical images. Throws shape_error for
/// different shapes, other channel counts or images under 8 x 8, value_error for non-finite
/// values or invalid options.
inline double psnr_hvs(const image& reference, const image& distorted,
                       const psnr_hvs_options& options = {}) {
    return detail::psnr_hvs_all(reference, distorted, options, "psnr_hvs").psnr_hvs;
}

/// PSNR-HVS-M in dB (PSNR-HVS with contrast masking; see the file comment). Throws like
/// psnr_hvs().
inline double psnr_hvs_m(const image& reference, const image& distorted,
                         const psnr_hvs_options& options = {}) {
    return detail::psnr_hvs_all(reference, distorted, options, "psnr_hvs_m").psnr_hvs_m;
}

/// PSNR-HVS and PSNR-HVS-M from one pass (psnrhvsm.m's two outputs). Throws like psnr_hvs().
inline psnr_hvs_result psnr_hvs_both(const image& reference, const image& distorted,
                                     const psnr_hvs_options& options = {}) {
    return detail::psnr_hvs_all(reference, distorted, options, "psnr_hvs_both");
}

/// PSNR-HVS over the 8 x 8 blocks whose 64 pixels a 1 x H x W mask selects (nonzero) at least
/// 32 of. Throws like psnr_hvs(), shape_error for a mask of another shape (the measure compares
/// one plane, so one mask for all channels), value_error for a non-finite mask or one that
/// selects no block.
inline double psnr_hvs_masked(const image& reference, const image& distorted, const image& mask,
                              const psnr_hvs_options& options = {}) {
    return detail::psnr_hvs_all_masked(reference, distorted, mask, options, "psnr_hvs_masked")
        .psnr_hvs;
}

/// PSNR-HVS-M over the blocks a 1 x H x W mask selects (as psnr_hvs_masked()).
inline double psnr_hvs_m_masked(const image& reference, const image& distorted, const image& mask,
                                const psnr_hvs_options& options = {}) {
    return detail::psnr_hvs_all_masked(reference, distorted, mask, options, "psnr_hvs_m_masked")
        .psnr_hvs_m;
}

/// Both measures over the blocks a 1 x H x W mask selects (as psnr_hvs_masked()).
inline psnr_hvs_result psnr_hvs_both_masked(const image& reference, const image& distorted,
                                            const image& mask,
                                            const psnr_hvs_options& options = {}) {
    return detail::psnr_hvs_all_masked(reference, distorted, mask, options, "psnr_hvs_both_masked");
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float fail to compile here with a plain message
// naming the type needed (core/array_argument.hpp) instead of converting silently.
template <class R, class E>
requires detail::mismatched_arrays<image, R, E>
double psnr_hvs(const R&, const E&, const psnr_hvs_options& = {}) {
    detail::reject_arrays<image, R, E>();
    return {};
}

template <class R, class E>
requires detail::mismatched_arrays<image, R, E>
double psnr_hvs_m(const R&, const E&, const psnr_hvs_options& = {}) {
    detail::reject_arrays<image, R, E>();
    return {};
}

template <class R, class E>
requires detail::mismatched_arrays<image, R, E>
    psnr_hvs_result psnr_hvs_both(const R&, const E&, const psnr_hvs_options& = {}) {
    detail::reject_arrays<image, R, E>();
    return {};
}

template <class R, class E, class M>
requires detail::mismatched_arrays<image, R, E, M>
double psnr_hvs_masked(const R&, const E&, const M&, const psnr_hvs_options& = {}) {
    detail::reject_arrays<image, R, E, M>();
    return {};
}

template <class R, class E, class M>
requires detail::mismatched_arrays<image, R, E, M>
double psnr_hvs_m_masked(const R&, const E&, const M&, const psnr_hvs_options& = {}) {
    detail::reject_arrays<image, R, E, M>();
    return {};
}

template <class R, class E, class M>
requires detail::mismatched_arrays<image, R, E, M> psnr_hvs_result
psnr_hvs_both_masked(const R&, const E&, const M&, const psnr_hvs_options& = {}) {
    detail::reject_arrays<image, R, E, M>();
    return {};
}

} // namespace xrestore
