#pragma once
/// @file foreground_mask.hpp
/// A foreground mask by a classical rule, for metrics on the subject only (masked.hpp,
/// gmsd_masked, vif_p_masked ...): the background is modelled by the colours along the image's
/// border, and the foreground is what is far from them.
///
///   1. Each channel is smoothed with a 3 x 3 mean (edge pixels repeated).
///   2. The border band (the outer `border` rows and columns; default max(2, min(H, W) / 50))
///      gives the background's colours: k-means (k = `clusters`, k-means++ seeding from a fixed
///      seed, 20 Lloyd iterations) splits them into groups, each modelled by its mean and
///      covariance (+ 1e-3 of its mean variance + 1e-4 on the diagonal). Groups holding less
///      than `min_cluster_share` of the band are dropped, so a subject that touches the border
///      briefly does not become background; one that covers much of the border does.
///   3. Every pixel's Mahalanobis distance d to the nearest group; threshold t = Otsu's threshold
///   of
///      the distances (256 bins up to their 99.5th percentile) unless `threshold` > 0 is given;
///      foreground where d > t.
///   4. Morphology with disk-shaped elements: opening (radius `opening_radius`) removes specks,
///      the largest 8-connected component is kept, holes (background regions that do not touch
///      the border) are filled, and a closing (radius `closing_radius`) smooths the outline.
/// The result is 1 x H x W with values 0 and 1. It suits a subject against a background of
/// fairly uniform colour statistics (foliage, sky, a wall); inspect it before trusting a
/// masked metric.
///
/// @code
/// xrestore::image m = xrestore::foreground_mask(photo);           // 1 x H x W, 0 / 1
/// double p = xrestore::masked_psnr(reference, estimate, m);
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore {

/// Parameters of foreground_mask().
struct foreground_options {
    /// Width of the border band in pixels (0: max(2, min(H, W) / 50)).
    std::size_t border = 0;
    /// Number of colour groups of the border band (1 to 8).
    std::size_t clusters = 4;
    /// Groups with a smaller share of the band are not background, in [0, 0.5).
    double min_cluster_share = 0.03;
    /// Mahalanobis distance above which a pixel is foreground (0: Otsu's threshold).
    double threshold = 0.0;
    /// Radius of the opening that removes specks (0: none).
    std::size_t opening_radius = 2;
    /// Radius of the closing that smooths the outline (0: none).
    std::size_t closing_radius = 4;
    /// Keep only the largest 8-connected foreground region.
    bool largest_component = true;
    /// Fill background regions that do not touch the image border.
    bool fill_holes = true;
};

/// What foreground_mask_details() reports besides the mask.
struct foreground_result {
    image mask;             ///< 1 x H x W, 0 or 1
    image distance;         ///< 1 x H x W Mahalanobis distances to the border model
    double threshold = 0.0; ///< the threshold used
    double fraction = 0.0;  ///< fraction of pixels in the mask
    std::size_t border = 0; ///< the band width used
};

namespace detail {

/// Binary erosion (erode = true) or dilation of an h x w mask by a disk of radius r; outside
/// the image counts as background for dilation and as foreground for erosion (no border
/// artefacts).
inline std::vector<unsigned char> morph_disk(const std::vector<unsigned char>& in, std::size_t h,
                                             std::size_t w, std::size_t r, bool erode) {
    if (r == 0) {
        return in;
    }
    const auto rr = static_cast<std::ptrdiff_t>(r);
    std::vector<std::ptrdiff_t> span(2 * r + 1); // half width of the disk on each row offset
    for (std::ptrdiff_t d = -rr; d <= rr; ++d) {
        span[static_cast<std::size_t>(d + rr)] = static_cast<std::ptrdiff_t>(
            std::floor(std::sqrt(static_cast<double>(rr * rr - d * d)) + 1e-9));
    }
    const auto hh = static_cast<std::ptrdiff_t>(h);
    const auto ww = static_cast<std::ptrdiff_t>(w);
    std::vector<unsigned char> out(in.size());
    for (std::ptrdiff_t i = 0; i < hh; ++i) {
        for (std::ptrdiff_t j = 0; j < ww; ++j) {
            bool any = false; // dilation: some neighbour set; erosion: some neighbour clear
            for (std::ptrdiff_t di = -rr; di <= rr && !any; ++di) {
                const std::ptrdiff_t ii = i + di;
                if (ii < 0 || ii >= hh) {
                    continue;
                }
                const std::ptrdiff_t s = span[static_cast<std::size_t>(di + rr)];
                for (std::ptrdiff_t jj = std::max<std::ptrdiff_t>(0, j - s);
                     jj <= std::min(ww - 1, j + s); ++jj) {
                    const bool set = in[static_cast<std::size_t>(ii * ww + jj)] != 0;
                    if (set != erode) {
                        any = true;
                        break;
                    }
                }
            }
            out[static_cast<std::size_t>(i * ww + j)] =
                static_cast<unsigned char>(erode ? !any : any);
        }
    }
    return out;
}

/// Label the connected regions of pixels equal to `value` (8- or 4-connected); returns labels
/// (0 for other pixels, 1.. for regions) and each region's size (index = label).
inline std::pair<std::vector<std::uint32_t>, std::vector<std::size_t>>
label_regions(const std::vector<unsigned char>& m, std::size_t h, std::size_t w,
              unsigned char value, bool eight) {
    std::vector<std::uint32_t> label(m.size(), 0);
    std::vector<std::size_t> sizes(1, 0);
    std::vector<std::size_t> stack;
    for (std::size_t start = 0; start < m.size(); ++start) {
        if (m[start] != value || label[start] != 0) {
            continue;
        }
        const auto id = static_cast<std::uint32_t>(sizes.size());
        sizes.push_back(0);
        stack.push_back(start);
        label[start] = id;
        while (!stack.empty()) {
            const std::size_t p = stack.back();
            stack.pop_back();
            ++sizes[id];
            const auto i = static_cast<std::ptrdiff_t>(p / w);
            const auto j = static_cast<std::ptrdiff_t>(p % w);
            for (std::ptrdiff_t di = -1; di <= 1; ++di) {
                for (std::ptrdiff_t dj = -1; dj <= 1; ++dj) {
                    if ((di == 0 && dj == 0) || (!eight && di != 0 && dj != 0)) {
                        continue;
                    }
                    const std::ptrdiff_t ii = i + di;
                    const std::ptrdiff_t jj = j + dj;
                    if (ii < 0 || jj < 0 || ii >= static_cast<std::ptrdiff_t>(h) ||
                        jj >= static_cast<std::ptrdiff_t>(w)) {
                        continue;
                    }
                    const auto q = static_cast<std::size_t>(ii) * w + static_cast<std::size_t>(jj);
                    if (m[q] == value && label[q] == 0) {
                        label[q] = id;
                        stack.push_back(q);
                    }
                }
            }
        }
    }
    return {std::move(label), std::move(sizes)};
}

/// Otsu's threshold of `values` over 256 bins on [0, top]: the bin edge maximising the
/// between-class variance.
inline double otsu_threshold(const std::vector<double>& values, double top) {
    constexpr std::size_t bins = 256;
    std::array<double, bins> hist{};
    for (const double v : values) {
        const double t = std::clamp(v / top, 0.0, 1.0);
        hist[std::min(bins - 1, static_cast<std::size_t>(t * bins))] += 1.0;
    }
    const auto n = static_cast<double>(values.size());
    double total = 0.0;
    for (std::size_t b = 0; b < bins; ++b) {
        total += (static_cast<double>(b) + 0.5) * hist[b];
    }
    double w0 = 0.0;
    double sum0 = 0.0;
    double best = -1.0;
    std::size_t best_bin = bins / 2;
    for (std::size_t b = 0; b + 1 < bins; ++b) {
        w0 += hist[b];
        sum0 += (static_cast<double>(b) + 0.5) * hist[b];
        const double w1 = n - w0;
        if (w0 == 0.0 || w1 == 0.0) {
            continue;
        }
        const double m0 = sum0 / w0;
        const double m1 = (total - sum0) / w1;
        const double between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if (between > best) {
            best = between;
            best_bin = b;
        }
    }
    return top * static_cast<double>(best_bin + 1) / static_cast<double>(bins);
}

/// Solve the small symmetric positive definite system A z = b in place (Cholesky), n <= 4.
inline void solve_spd(std::vector<double> a, std::vector<double>& b, std::size_t n) {
    for (std::size_t j = 0; j < n; ++j) {
        double d = a[j * n + j];
        for (std::size_t k = 0; k < j; ++k) {
            d -= a[j * n + k] * a[j * n + k];
        }
        d = std::sqrt(std::max(d, 1e-300));
        a[j * n + j] = d;
        for (std::size_t i = j + 1; i < n; ++i) {
            double s = a[i * n + j];
            for (std::size_t k = 0; k < j; ++k) {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    for (std::size_t i = 0; i < n; ++i) { // L y = b
        double s = b[i];
        for (std::size_t k = 0; k < i; ++k) {
            s -= a[i * n + k] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    for (std::size_t i = n; i-- > 0;) { // L^T z = y
        double s = b[i];
        for (std::size_t k = i + 1; k < n; ++k) {
            s -= a[k * n + i] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
}

} // namespace detail

/// The foreground mask with the distances and threshold behind it (see the file comment).
/// Throws shape_error for an image smaller than 8 x 8 or with more than 4 channels,
/// value_error for non-finite pixels, bad options, or a rule that finds no foreground.
inline foreground_result foreground_mask_details(const image& x,
                                                 const foreground_options& options = {}) {
    constexpr std::string_view where = "foreground_mask";
    const std::size_t c = x.shape()[0];
    const std::size_t h = x.shape()[1];
    const std::size_t w = x.shape()[2];
    if (c == 0 || c > 4 || h < 8 || w < 8) {
        throw shape_error(
            detail::concat(where, ": image must have 1 to 4 channels and be at least 8 x 8, got ",
                           shape_string(x.shape())));
    }
    check_finite(x, where, "image");
    if (options.clusters < 1 || options.clusters > 8) {
        throw value_error(
            detail::concat(where, ": clusters must be in 1..8, got ", options.clusters));
    }
    if (!(options.min_cluster_share >= 0.0 && options.min_cluster_share < 0.5)) {
        throw value_error(detail::concat(where, ": min_cluster_share must be in [0, 0.5), got ",
                                         options.min_cluster_share));
    }
    if (!std::isfinite(options.threshold) || options.threshold < 0.0) {
        throw value_error(detail::concat(
            where, ": threshold must be >= 0 and finite (0: Otsu), got ", options.threshold));
    }
    const std::size_t b =
        options.border != 0 ? options.border : std::max<std::size_t>(2, std::min(h, w) / 50);
    if (2 * b >= std::min(h, w)) {
        throw value_error(detail::concat(where, ": border ", b, " leaves no interior in a ", h,
                                         " x ", w, " image"));
    }
    const std::size_t n = h * w;
    // 1. 3 x 3 mean per channel, pixel-major colours
    std::vector<double> colour(n * c);
    for (std::size_t k = 0; k < c; ++k) {
        const float* in = x.data() + k * n;
        for (std::size_t i = 0; i < h; ++i) {
            for (std::size_t j = 0; j < w; ++j) {
                double s = 0.0;
                for (std::ptrdiff_t di = -1; di <= 1; ++di) {
                    for (std::ptrdiff_t dj = -1; dj <= 1; ++dj) {
                        const auto ii = static_cast<std::size_t>(
                            std::clamp<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(i) + di, 0,
                                                       static_cast<std::ptrdiff_t>(h) - 1));
                        const auto jj = static_cast<std::size_t>(
                            std::clamp<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(j) + dj, 0,
                                                       static_cast<std::ptrdiff_t>(w) - 1));
                        s += static_cast<double>(in[ii * w + jj]);
                    }
                }
                colour[(i * w + j) * c + k] = s / 9.0;
            }
        }
    }
    // 2. robust Gaussian model of the border band
    std::vector<std::size_t> band;
    for (std::size_t i = 0; i < h; ++i) {
        for (std::size_t j = 0; j < w; ++j) {
            if (i < b || j < b || i >= h - b || j >= w - b) {
                band.push_back(i * w + j);
            }
        }
    }
    // k-means++ seeding (fixed seed), then Lloyd iterations
    const std::size_t k_count = std::min(options.clusters, band.size());
    std::vector<double> centre(k_count * c);
    std::vector<std::size_t> group(band.size(), 0);
    auto squared = [&](std::size_t p, const double* m) {
        double s2 = 0.0;
        for (std::size_t k = 0; k < c; ++k) {
            const double e = colour[p * c + k] - m[k];
            s2 += e * e;
        }
        return s2;
    };
    {
        std::mt19937_64 rng(0);
        std::vector<double> nearest(band.size(), HUGE_VAL);
        std::size_t pick = band[static_cast<std::size_t>(rng() % band.size())];
        for (std::size_t g = 0; g < k_count; ++g) {
            for (std::size_t k = 0; k < c; ++k) {
                centre[g * c + k] = colour[pick * c + k];
            }
            double total = 0.0;
            for (std::size_t b_i = 0; b_i < band.size(); ++b_i) {
                nearest[b_i] = std::min(nearest[b_i], squared(band[b_i], &centre[g * c]));
                total += nearest[b_i];
            }
            // next centre with probability proportional to the squared distance
            double u = total * (static_cast<double>(rng() >> 11) * 0x1.0p-53);
            pick = band.back();
            for (std::size_t b_i = 0; b_i < band.size(); ++b_i) {
                u -= nearest[b_i];
                if (u < 0.0) {
                    pick = band[b_i];
                    break;
                }
            }
        }
    }
    for (int iteration = 0; iteration < 20; ++iteration) {
        for (std::size_t b_i = 0; b_i < band.size(); ++b_i) {
            double best = HUGE_VAL;
            for (std::size_t g = 0; g < k_count; ++g) {
                const double s2 = squared(band[b_i], &centre[g * c]);
                if (s2 < best) {
                    best = s2;
                    group[b_i] = g;
                }
            }
        }
        std::vector<double> sum(k_count * c, 0.0);
        std::vector<std::size_t> count(k_count, 0);
        for (std::size_t b_i = 0; b_i < band.size(); ++b_i) {
            ++count[group[b_i]];
            for (std::size_t k = 0; k < c; ++k) {
                sum[group[b_i] * c + k] += colour[band[b_i] * c + k];
            }
        }
        for (std::size_t g = 0; g < k_count; ++g) {
            for (std::size_t k = 0; k < c && count[g] > 0; ++k) {
                centre[g * c + k] = sum[g * c + k] / static_cast<double>(count[g]);
            }
        }
    }
    // each group's Gaussian
    struct colour_model {
        std::vector<double> mean;
        std::vector<double> cov;
    };
    std::vector<colour_model> models;
    for (std::size_t g = 0; g < k_count; ++g) {
        std::vector<std::size_t> members;
        for (std::size_t b_i = 0; b_i < band.size(); ++b_i) {
            if (group[b_i] == g) {
                members.push_back(band[b_i]);
            }
        }
        if (members.size() < 2 ||
            static_cast<double>(members.size()) <
                options.min_cluster_share * static_cast<double>(band.size())) {
            continue;
        }
        colour_model m{std::vector<double>(c, 0.0), std::vector<double>(c * c, 0.0)};
        for (const std::size_t p : members) {
            for (std::size_t k = 0; k < c; ++k) {
                m.mean[k] += colour[p * c + k];
            }
        }
        for (double& v : m.mean) {
            v /= static_cast<double>(members.size());
        }
        for (const std::size_t p : members) {
            for (std::size_t k = 0; k < c; ++k) {
                for (std::size_t l = 0; l < c; ++l) {
                    m.cov[k * c + l] +=
                        (colour[p * c + k] - m.mean[k]) * (colour[p * c + l] - m.mean[l]);
                }
            }
        }
        double trace = 0.0;
        for (double& v : m.cov) {
            v /= static_cast<double>(members.size());
        }
        for (std::size_t k = 0; k < c; ++k) {
            trace += m.cov[k * c + k];
        }
        for (std::size_t k = 0; k < c; ++k) {
            m.cov[k * c + k] += 1e-3 * trace / static_cast<double>(c) + 1e-4;
        }
        models.push_back(std::move(m));
    }
    if (models.empty()) {
        throw value_error(detail::concat(where, ": no colour group holds ",
                                         options.min_cluster_share,
                                         " of the border band; lower min_cluster_share"));
    }
    auto distance2 = [&](std::size_t p) {
        double best = HUGE_VAL;
        std::vector<double> d(c);
        for (const colour_model& m : models) {
            for (std::size_t k = 0; k < c; ++k) {
                d[k] = colour[p * c + k] - m.mean[k];
            }
            std::vector<double> z = d;
            detail::solve_spd(m.cov, z, c);
            double s2 = 0.0;
            for (std::size_t k = 0; k < c; ++k) {
                s2 += d[k] * z[k];
            }
            best = std::min(best, std::max(s2, 0.0));
        }
        return best;
    };
    // 3. distances and threshold
    foreground_result r;
    r.border = b;
    r.distance = xt::empty<float>(shape3{1, h, w});
    std::vector<double> d(n);
    for (std::size_t p = 0; p < n; ++p) {
        d[p] = std::sqrt(distance2(p));
        r.distance.data()[p] = static_cast<float>(d[p]);
    }
    if (options.threshold > 0.0) {
        r.threshold = options.threshold;
    } else {
        std::vector<double> sorted = d;
        const auto q = static_cast<std::size_t>(0.995 * static_cast<double>(n - 1));
        std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(q),
                         sorted.end());
        const double top = sorted[q] > 0.0 ? sorted[q] : 1.0;
        r.threshold = detail::otsu_threshold(d, top);
    }
    std::vector<unsigned char> m(n);
    for (std::size_t p = 0; p < n; ++p) {
        m[p] = static_cast<unsigned char>(d[p] > r.threshold);
    }
    // 4. morphology
    m = detail::morph_disk(detail::morph_disk(m, h, w, options.opening_radius, true), h, w,
                           options.opening_radius, false);
    if (options.largest_component) {
        const auto [label, sizes] = detail::label_regions(m, h, w, 1, true);
        std::size_t best = 0;
        for (std::size_t id = 1; id < sizes.size(); ++id) {
            if (best == 0 || sizes[id] > sizes[best]) {
                best = id;
            }
        }
        for (std::size_t p = 0; p < n; ++p) {
            m[p] = static_cast<unsigned char>(best != 0 && label[p] == best);
        }
    }
    if (options.fill_holes) {
        const auto [label, sizes] = detail::label_regions(m, h, w, 0, false);
        std::vector<unsigned char> touches(sizes.size(), 0);
        for (std::size_t i = 0; i < h; ++i) {
            for (std::size_t j = 0; j < w; ++j) {
                if (i == 0 || j == 0 || i == h - 1 || j == w - 1) {
                    touches[label[i * w + j]] = 1;
                }
            }
        }
        for (std::size_t p = 0; p < n; ++p) {
            if (m[p] == 0 && touches[label[p]] == 0) {
                m[p] = 1;
            }
        }
    }
    m = detail::morph_disk(detail::morph_disk(m, h, w, options.closing_radius, false), h, w,
                           options.closing_radius, true);
    r.mask = xt::zeros<float>(shape3{1, h, w});
    std::size_t count = 0;
    for (std::size_t p = 0; p < n; ++p) {
        r.mask.data()[p] = m[p] != 0 ? 1.0F : 0.0F;
        count += m[p];
    }
    if (count == 0) {
        throw value_error(detail::concat(where,
                                         ": no pixel differs enough from the border's "
                                         "colours (threshold ",
                                         r.threshold, "); give a mask file instead"));
    }
    r.fraction = static_cast<double>(count) / static_cast<double>(n);
    return r;
}

/// The 1 x H x W foreground mask of `x` (0 / 1) by the rule of the file comment.
inline image foreground_mask(const image& x, const foreground_options& options = {}) {
    return foreground_mask_details(x, options).mask;
}

} // namespace xrestore
