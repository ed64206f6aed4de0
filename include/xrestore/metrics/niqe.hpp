#pragma once
/// @file niqe.hpp
/// NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik, "Making a
/// completely blind image quality analyzer", IEEE SPL 2013): a no-reference measure, the
/// distance between a multivariate Gaussian fitted to natural-scene statistics of an image's
/// 96 x 96 blocks and the authors' pristine model. Lower is better (natural photographs score
/// about 2 to 5; noise, blur and compression raise it).
///
/// @code
/// double q = xrestore::niqe(x);                      // x: 1 x H x W or 3 x H x W in [0,1]
/// double r = xrestore::niqe_masked(x, mask);         // blocks the 1 x H x W mask half-covers
/// auto model = xrestore::niqe_model::load("data/iqa");   // or niqe_model::load_default()
/// @endcode
///
/// As the authors' MATLAB release computes it (computequality.m with mu_prisparam and
/// cov_prisparam, block size 96, no overlap), on the grey image of BasicSR's calculate_niqe
/// (convert_to='y'), all arithmetic in double:
///   1. grey levels: for RGB, the Y of ITU-R BT.601 YCbCr on [0, 255],
///      Y = (65481 R + 128553 G + 24966 B) / 1000 + 16 (R, G, B in [0,1]; the integer-weight form
///      makes every product exact); for one channel, 255 x; then rounded to the nearest integer,
///      halves to even (numpy.round). Values are not clipped. BasicSR computes Y through float32
///      steps, which can round a Y lying within about 1e-5 of a half-integer the other way (for
///      8-bit samples: exact halves such as RGB (61, 39, 12) -> 52.5, which becomes 53 here);
///   2. the image is cropped to its top-left floor(H / 96) x floor(W / 96) blocks;
///   3. at each of two scales: mu = the 7 x 7 window (sigma 7/6, the model's window) correlated
///      with the image, edge pixels repeated (imfilter 'replicate'), sigma = sqrt(|window * im^2
///      - mu^2|), MSCN = (im - mu) / (sigma + 1); per block (96 x 96, then 48 x 48; blocks in
///      column-major order) the 18 features of computefeature.m: the AGGD fit (alpha,
///      (beta_l + beta_r) / 2) of the MSCN values and, for the products with the block shifted
///      circularly by (0,1), (1,0), (1,1), (1,-1), alpha, (beta_r - beta_l) G(2/alpha) /
///      G(1/alpha), beta_l, beta_r (G: the gamma function). The AGGD fit: sigma_l, sigma_r = root
///      mean squares of the negative and the positive values (NaN when there are none), r =
///      mean(|v|)^2 / mean(v^2), R = r (g^3 + 1)(g + 1) / (g^2 + 1)^2 with g = sigma_l / sigma_r,
///      alpha = the grid value 0.2 + 0.001 k (k = 0..9800) minimising (G(2/a)^2 / (G(1/a) G(3/a)) -
///      R)^2 (the first, k = 0, when R is not finite), beta = sigma sqrt(G(1/alpha) / G(3/alpha));
///   4. the second scale is MATLAB's imresize(im, 0.5) of the cropped grey image: bicubic
///      (a = -0.5) with antialiasing, i.e. out(i) = sum_t k_t / 512 im(2i - 3 + t), t = 0..7,
///      k = (-6, -18, 58, 222, 222, 58, -18, -6), symmetric padding (edge repeated), rows then
///      columns; exact in double for integer grey levels;
///   5. mu_d = the mean of each feature over the blocks where it is not NaN (nanmean), cov_d =
///      the sample covariance (N - 1) of the blocks whose 36 features are all finite (nancov);
///      NIQE = sqrt((mu_p - mu_d)' pinv((cov_p + cov_d) / 2) (mu_p - mu_d)), the pseudo-inverse
///      from a Jacobi eigendecomposition with numpy.linalg.pinv's cutoff 1e-15 max |eigenvalue|.
/// A block whose MSCN values are all zero (a black area) or all of one sign has NaN features;
/// fewer than 2 blocks without NaN features is a value_error (a covariance needs two).
///
/// In flat areas the MSCN is rounding noise (about 1e-14) whose signs enter the AGGD fits, so
/// there every implementation's value depends on its exact arithmetic. xrestore sums the window
/// products in row-major window order with each product rounded on its own (no FMA), as numpy
/// does, so it matches tools/dev/make_niqe_golden.py to about 1e-13 even on such images;
/// pyiqa (float32 window and resize) differs from both by a few percent on images with large
/// flat areas (text on white) and by 1e-5 or less on others (2e-6 with the model's window).
///
/// niqe_masked keeps the blocks of which the 1 x H x W mask selects (nonzero) at least half of
/// the 96 x 96 pixels, at both scales; the MSCN maps are still computed on the whole cropped
/// image. An all-ones mask gives niqe() exactly.
///
/// The model (36 means, the 36 x 36 covariance, the 7 x 7 window) is read from the text files of
/// xrestore's data/iqa by niqe_model::load(folder); niqe() without a model uses
/// niqe_model::load_default(): the folder iqa/ under the environment variable XRESTORE_DATA_DIR,
/// or, when that is unset, under the macro XRESTORE_DATA_DIR if the including code defines it
/// (a string literal); loaded once and kept.

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/metrics/detail/common.hpp"

#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace xrestore {

/// The pristine NIQE model: the means and covariance of the 36 features over the authors'
/// corpus of natural images, and the 7 x 7 window of the MSCN (row-major).
struct niqe_model {
    static constexpr std::size_t features = 36;
    std::array<double, features> mu{};
    std::array<double, features * features> cov{};
    std::array<double, 49> window{};

    /// Read niqe_mu_pris_param.txt (1 line of 36 numbers), niqe_cov_pris_param.txt (36 lines of
    /// 36) and niqe_gaussian_window_7x7.txt (7 lines of 7) from `folder`. Throws io_error for a
    /// file that cannot be read, value_error for a malformed one (naming the file, line and
    /// what was found).
    static niqe_model load(const std::filesystem::path& folder);

    /// The folder load_default() reads: $XRESTORE_DATA_DIR/iqa, else XRESTORE_DATA_DIR/iqa from
    /// the macro when defined; io_error when neither is set.
    static std::filesystem::path default_folder();

    /// load(default_folder()).
    static niqe_model load_default() { return load(default_folder()); }
};

/// Parameters of niqe().
struct niqe_options {
    /// The pristine model; nullptr: niqe_model::load_default(), read on first use and kept.
    const niqe_model* model = nullptr;
};

/// The 36 features of each block niqe() uses (18 at full scale, then 18 at half scale).
struct niqe_block_features {
    /// blocks x 36, rows in column-major block order (block (0,0), (1,0), ... (0,1), ...).
    xt::xtensor<double, 2> features;
    /// Block row and column (in 96 x 96 blocks of the image) of each row.
    std::vector<std::array<std::size_t, 2>> blocks;
};

namespace detail {

/// Parse a whitespace-separated text matrix of `rows` lines of `columns` finite numbers.
inline void niqe_read_matrix(const std::filesystem::path& path, std::size_t rows,
                             std::size_t columns, double* out) {
    constexpr std::string_view where = "niqe_model::load";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw io_error(concat(where, ": cannot open ", path.string()));
    }
    std::string line;
    std::size_t row = 0;
    std::size_t number = 0; // line number in the file
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.find_first_not_of(" \t") == std::string::npos) {
            continue; // blank lines are allowed (a final newline)
        }
        if (row == rows) {
            throw value_error(concat(where, ": ", path.string(), " line ", number,
                                     ": more than the expected ", rows, " rows"));
        }
        std::size_t column = 0;
        const char* p = line.data();
        const char* end = p + line.size();
        while (true) {
            while (p < end && (*p == ' ' || *p == '\t')) {
                ++p;
            }
            if (p == end) {
                break;
            }
            const char* token_end = p;
            while (token_end < end && *token_end != ' ' && *token_end != '\t') {
                ++token_end;
            }
            double v = 0.0;
            const auto [next, ec] = std::from_chars(p, token_end, v);
            if (ec != std::errc{} || next != token_end || !std::isfinite(v)) {
                throw value_error(concat(where, ": ", path.string(), " line ", number, ": '",
                                         std::string_view(p, token_end - p),
                                         "' is not a finite number"));
            }
            if (column == columns) {
                throw value_error(concat(where, ": ", path.string(), " line ", number,
                                         ": more than the expected ", columns, " numbers"));
            }
            out[row * columns + column++] = v;
            p = token_end;
        }
        if (column != columns) {
            throw value_error(concat(where, ": ", path.string(), " line ", number, ": ", column,
                                     " numbers, expected ", columns));
        }
        ++row;
    }
    if (in.bad()) {
        throw io_error(concat(where, ": error reading ", path.string()));
    }
    if (row != rows) {
        throw value_error(concat(where, ": ", path.string(), " holds ", row, " rows, expected ",
                                 rows, " (truncated?)"));
    }
}

} // namespace detail

inline niqe_model niqe_model::load(const std::filesystem::path& folder) {
    niqe_model m;
    detail::niqe_read_matrix(folder / "niqe_mu_pris_param.txt", 1, features, m.mu.data());
    detail::niqe_read_matrix(folder / "niqe_cov_pris_param.txt", features, features, m.cov.data());
    detail::niqe_read_matrix(folder / "niqe_gaussian_window_7x7.txt", 7, 7, m.window.data());
    return m;
}

inline std::filesystem::path niqe_model::default_folder() {
    if (const char* dir = std::getenv("XRESTORE_DATA_DIR"); dir != nullptr && *dir != '\0') {
        return std::filesystem::path(dir) / "iqa";
    }
#if defined(XRESTORE_DATA_DIR)
    return std::filesystem::path(XRESTORE_DATA_DIR) / "iqa";
#else
    throw io_error("niqe_model::load_default: no model folder: set the environment variable "
                   "XRESTORE_DATA_DIR to xrestore's data folder (holding iqa/niqe_*.txt), define "
                   "the macro XRESTORE_DATA_DIR, or pass niqe_model::load(folder) in the options");
#endif
}

namespace detail {

/// a * b rounded on its own. Where the compiler may fuse it with a following addition into an
/// FMA (FMA hardware: -march=native, aarch64), the volatile keeps it apart, so that the MSCN's
/// sums round as numpy's do: in flat areas their rounding noise decides signs the AGGD fits see.
inline double niqe_product(double a, double b) {
#if defined(__FP_FAST_FMA) || defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    volatile double p = a * b;
    return p;
#else
    return a * b;
#endif
}

/// A row-major h x w plane of doubles.
struct niqe_plane {
    std::size_t h = 0;
    std::size_t w = 0;
    std::vector<double> v;
};

/// The grey levels of step 1 of the top-left h x w pixels of a 1- or 3-channel image.
inline niqe_plane niqe_grey(const image& x, std::size_t h, std::size_t w) {
    const std::size_t width = x.shape()[2];
    const std::size_t n = x.shape()[1] * width;
    niqe_plane g{h, w, std::vector<double>(h * w)};
    const float* p = x.data();
    for (std::size_t i = 0; i < h; ++i) {
        for (std::size_t j = 0; j < w; ++j) {
            const std::size_t k = i * width + j;
            double y = 0.0;
            if (x.shape()[0] == 3) {
                // Y = (65481 R + 128553 G + 24966 B) / 1000 + 16; the products are exact
                const double r = 65481.0 * static_cast<double>(p[k]);
                const double gr = 128553.0 * static_cast<double>(p[n + k]);
                const double b = 24966.0 * static_cast<double>(p[2 * n + k]);
                y = (r + gr + b) / 1000.0 + 16.0;
            } else {
                y = 255.0 * static_cast<double>(p[k]);
            }
            g.v[i * w + j] = std::nearbyint(y); // halves to even
        }
    }
    return g;
}

/// One window entry of the MSCN sums over a row: mu[x] += w p[x], sq[x] += w p[x]^2 (p^2 is
/// exact: integers, or multiples of 2^-18 below 2^8).
XRESTORE_DETAIL_ALWAYS_INLINE inline void
niqe_accumulate_body(double* mu, double* sq, const double* p, double w, std::size_t n) {
    for (std::size_t x = 0; x < n; ++x) {
        mu[x] += niqe_product(w, p[x]);
        sq[x] += niqe_product(w, p[x] * p[x]);
    }
}

#if XRESTORE_DETAIL_X86_DISPATCH
/// The same loop compiled for AVX2, chosen at run time; without "fma" in the target nothing can
/// be fused, so it rounds exactly as the default loop.
__attribute__((target("avx2"))) inline void
niqe_accumulate_avx2(double* mu, double* sq, const double* p, double w, std::size_t n) {
    niqe_accumulate_body(mu, sq, p, w, n);
}
#endif

inline void niqe_accumulate(double* mu, double* sq, const double* p, double w, std::size_t n) {
#if XRESTORE_DETAIL_X86_DISPATCH
    if (cpu_has_avx2_fma()) {
        niqe_accumulate_avx2(mu, sq, p, w, n);
        return;
    }
#endif
    niqe_accumulate_body(mu, sq, p, w, n);
}

/// MSCN of step 3: (im - mu) / (sigma + 1) with the 7 x 7 window, edges repeated. Each sum runs
/// over the window in row-major order, as the golden script's numpy does.
inline niqe_plane niqe_mscn(const niqe_plane& im, const std::array<double, 49>& window) {
    constexpr std::size_t r = 3;
    const std::size_t pw = im.w + 2 * r;
    // replicate-padded copy
    std::vector<double> pad((im.h + 2 * r) * pw);
    for (std::size_t i = 0; i < im.h + 2 * r; ++i) {
        const std::size_t si = std::min(i > r ? i - r : 0, im.h - 1);
        for (std::size_t j = 0; j < pw; ++j) {
            const std::size_t sj = std::min(j > r ? j - r : 0, im.w - 1);
            pad[i * pw + j] = im.v[si * im.w + sj];
        }
    }
    niqe_plane out{im.h, im.w, std::vector<double>(im.v.size())};
    constexpr std::size_t rows_per_task = 8;
    const std::size_t tasks = (im.h + rows_per_task - 1) / rows_per_task;
    parallel_tasks(tasks, im.h * im.w > 4096, [&](std::size_t t, std::size_t) {
        std::vector<double> mu(im.w);
        std::vector<double> sq(im.w);
        const std::size_t end = std::min(im.h, (t + 1) * rows_per_task);
        for (std::size_t y = t * rows_per_task; y < end; ++y) {
            std::fill(mu.begin(), mu.end(), 0.0);
            std::fill(sq.begin(), sq.end(), 0.0);
            for (std::size_t i = 0; i < 7; ++i) {
                for (std::size_t j = 0; j < 7; ++j) {
                    niqe_accumulate(mu.data(), sq.data(), pad.data() + (y + i) * pw + j,
                                    window[i * 7 + j], im.w);
                }
            }
            const double* row = im.v.data() + y * im.w;
            double* o = out.v.data() + y * im.w;
            for (std::size_t x = 0; x < im.w; ++x) {
                const double sigma = std::sqrt(std::abs(sq[x] - niqe_product(mu[x], mu[x])));
                o[x] = (row[x] - mu[x]) / (sigma + 1.0);
            }
        }
    });
    return out;
}

/// MATLAB's imresize(im, 0.5), bicubic with antialiasing (step 4); h and w are even.
inline niqe_plane niqe_half(const niqe_plane& im) {
    static constexpr std::array<double, 8> k{-6.0 / 512,  -18.0 / 512, 58.0 / 512,  222.0 / 512,
                                             222.0 / 512, 58.0 / 512,  -18.0 / 512, -6.0 / 512};
    const auto h = static_cast<std::ptrdiff_t>(im.h);
    const auto w = static_cast<std::ptrdiff_t>(im.w);
    niqe_plane rows{im.h / 2, im.w, std::vector<double>(im.h / 2 * im.w)};
    for (std::ptrdiff_t i = 0; i < h / 2; ++i) {
        double* o = rows.v.data() + i * w;
        for (std::size_t t = 0; t < 8; ++t) {
            const double* src =
                im.v.data() + reflect_index(2 * i - 3 + static_cast<std::ptrdiff_t>(t), h) * w;
            for (std::ptrdiff_t x = 0; x < w; ++x) {
                o[x] += k[t] * src[x]; // exact: multiples of 2^-9 below 2^17
            }
        }
    }
    niqe_plane out{im.h / 2, im.w / 2, std::vector<double>(im.h / 2 * (im.w / 2))};
    for (std::size_t i = 0; i < out.h; ++i) {
        const double* src = rows.v.data() + i * im.w;
        for (std::ptrdiff_t j = 0; j < w / 2; ++j) {
            double s = 0.0;
            for (std::size_t t = 0; t < 8; ++t) {
                s += k[t] * src[reflect_index(2 * j - 3 + static_cast<std::ptrdiff_t>(t), w)];
            }
            out.v[i * out.w + static_cast<std::size_t>(j)] = s; // exact: multiples of 2^-18
        }
    }
    return out;
}

/// The alpha grid of the AGGD fit with r(alpha) and the two gamma ratios the features need.
struct niqe_aggd_table {
    static constexpr std::size_t size = 9801;
    std::vector<double> alpha, r, beta_ratio, mean_ratio;
    niqe_aggd_table() : alpha(size), r(size), beta_ratio(size), mean_ratio(size) {
        for (std::size_t k = 0; k < size; ++k) {
            const double a = 0.2 + 0.001 * static_cast<double>(k);
            alpha[k] = a;
            const double g1 = std::tgamma(1.0 / a);
            const double g2 = std::tgamma(2.0 / a);
            const double g3 = std::tgamma(3.0 / a);
            r[k] = g2 * g2 / (g1 * g3);         // increasing in alpha
            beta_ratio[k] = std::sqrt(g1 / g3); // beta = sigma sqrt(G(1/a) / G(3/a))
            mean_ratio[k] = g2 / g1;            // mean = (beta_r - beta_l) G(2/a) / G(1/a)
        }
    }
    /// argmin_k (r[k] - target)^2, the first minimum; 0 when every term is NaN or infinite.
    std::size_t nearest(double target) const {
        if (!std::isfinite(target)) {
            return 0;
        }
        const auto it = std::lower_bound(r.begin(), r.end(), target);
        const auto k = static_cast<std::size_t>(it - r.begin());
        std::size_t best = k == size ? size - 1 : k;
        if (k > 0) {
            const double below = (r[k - 1] - target) * (r[k - 1] - target);
            const double above = k < size ? (r[k] - target) * (r[k] - target) : below;
            if (below <= above) {
                best = k - 1;
            }
        }
        const double d = (r[best] - target) * (r[best] - target);
        return std::isfinite(d) ? best : 0;
    }
};

inline const niqe_aggd_table& niqe_table() {
    static const niqe_aggd_table table;
    return table;
}

/// Sums an AGGD fit needs.
struct niqe_moments {
    double neg_sq = 0.0, pos_sq = 0.0, abs_sum = 0.0, sq = 0.0;
    std::size_t neg = 0, pos = 0, n = 0;
    /// Accumulate v[0..count) branch-free (the signs of MSCN values are unpredictable), in four
    /// interleaved partial sums combined in a fixed order.
    void add(const double* v, std::size_t count) {
        std::array<double, 4> ns{}, ps{}, as{}, ss{};
        std::array<std::size_t, 4> nc{}, pc{};
        std::size_t i = 0;
        for (; i + 4 <= count; i += 4) {
            for (std::size_t l = 0; l < 4; ++l) {
                const double x = v[i + l];
                const double s = x * x;
                ns[l] += x < 0.0 ? s : 0.0;
                ps[l] += x > 0.0 ? s : 0.0;
                nc[l] += x < 0.0 ? 1 : 0;
                pc[l] += x > 0.0 ? 1 : 0;
                as[l] += std::abs(x);
                ss[l] += s;
            }
        }
        for (; i < count; ++i) {
            const double x = v[i];
            const double s = x * x;
            ns[0] += x < 0.0 ? s : 0.0;
            ps[0] += x > 0.0 ? s : 0.0;
            nc[0] += x < 0.0 ? 1 : 0;
            pc[0] += x > 0.0 ? 1 : 0;
            as[0] += std::abs(x);
            ss[0] += s;
        }
        neg_sq += (ns[0] + ns[1]) + (ns[2] + ns[3]);
        pos_sq += (ps[0] + ps[1]) + (ps[2] + ps[3]);
        abs_sum += (as[0] + as[1]) + (as[2] + as[3]);
        sq += (ss[0] + ss[1]) + (ss[2] + ss[3]);
        neg += nc[0] + nc[1] + nc[2] + nc[3];
        pos += pc[0] + pc[1] + pc[2] + pc[3];
        n += count;
    }
};

/// estimateaggdparam.m: the grid index k of alpha and the left and right root mean squares
/// (beta = rms * beta_ratio[k]).
struct niqe_aggd {
    std::size_t k = 0;
    double left = 0.0;
    double right = 0.0;
};

inline niqe_aggd niqe_aggd_fit(const niqe_moments& m) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double left = m.neg > 0 ? std::sqrt(m.neg_sq / static_cast<double>(m.neg)) : nan;
    const double right = m.pos > 0 ? std::sqrt(m.pos_sq / static_cast<double>(m.pos)) : nan;
    const double g = left / right;
    const double mean_abs = m.abs_sum / static_cast<double>(m.n);
    const double rhat = mean_abs * mean_abs / (m.sq / static_cast<double>(m.n));
    const double gg = std::pow(g, 2.0) + 1.0;
    const double rnorm = rhat * (std::pow(g, 3.0) + 1.0) * (g + 1.0) / (gg * gg);
    return {niqe_table().nearest(rnorm), left, right};
}

/// computefeature.m: the 18 features of one b x b MSCN block (row-major), into out[0..17];
/// `pair` is scratch of b entries.
inline void niqe_block(const double* block, std::size_t b, double* pair, double* out) {
    niqe_moments m;
    m.add(block, b * b);
    const niqe_aggd_table& t = niqe_table();
    const niqe_aggd a = niqe_aggd_fit(m);
    out[0] = t.alpha[a.k];
    out[1] = (a.left * t.beta_ratio[a.k] + a.right * t.beta_ratio[a.k]) / 2.0;
    // products with the block rolled by (dy, dx) (numpy.roll, MATLAB circshift):
    // v(i, j) v((i - dy) mod b, (j - dx) mod b), dy in {0, 1}, dx in {-1, 0, 1}
    constexpr std::array<std::array<int, 2>, 4> shifts{{{0, 1}, {1, 0}, {1, 1}, {1, -1}}};
    for (std::size_t s = 0; s < 4; ++s) {
        niqe_moments p;
        for (std::size_t i = 0; i < b; ++i) {
            const double* row = block + i * b;
            const double* rolled =
                block + (shifts[s][0] == 1 && i == 0 ? b - 1 : i - shifts[s][0]) * b;
            if (shifts[s][1] == 1) { // rolled column j - 1
                pair[0] = row[0] * rolled[b - 1];
                for (std::size_t j = 1; j < b; ++j) {
                    pair[j] = row[j] * rolled[j - 1];
                }
            } else if (shifts[s][1] == -1) { // rolled column j + 1
                for (std::size_t j = 0; j + 1 < b; ++j) {
                    pair[j] = row[j] * rolled[j + 1];
                }
                pair[b - 1] = row[b - 1] * rolled[0];
            } else {
                for (std::size_t j = 0; j < b; ++j) {
                    pair[j] = row[j] * rolled[j];
                }
            }
            p.add(pair, b);
        }
        const niqe_aggd f = niqe_aggd_fit(p);
        const double beta_l = f.left * t.beta_ratio[f.k];
        const double beta_r = f.right * t.beta_ratio[f.k];
        out[2 + 4 * s] = t.alpha[f.k];
        out[3 + 4 * s] = (beta_r - beta_l) * t.mean_ratio[f.k];
        out[4 + 4 * s] = beta_l;
        out[5 + 4 * s] = beta_r;
    }
}

/// The features of the chosen blocks (column-major order) at both scales, blocks x 36.
inline niqe_block_features niqe_features_of(const image& x, const niqe_model& model,
                                            const std::vector<std::array<std::size_t, 2>>& blocks,
                                            std::size_t nh, std::size_t nw) {
    constexpr std::size_t block = 96;
    niqe_plane im = niqe_grey(x, nh * block, nw * block);
    niqe_block_features result{xt::xtensor<double, 2>::from_shape({blocks.size(), 36}), blocks};
    double* f = result.features.data();
    for (std::size_t scale = 0; scale < 2; ++scale) {
        const niqe_plane s = niqe_mscn(im, model.window);
        const std::size_t b = block >> scale;
        parallel_tasks(blocks.size(), true, [&](std::size_t t, std::size_t) {
            std::vector<double> buf(b * b + b);
            const std::size_t r0 = blocks[t][0] * b;
            const std::size_t c0 = blocks[t][1] * b;
            for (std::size_t i = 0; i < b; ++i) {
                std::copy_n(s.v.data() + (r0 + i) * s.w + c0, b, buf.data() + i * b);
            }
            niqe_block(buf.data(), b, buf.data() + b * b, f + t * 36 + 18 * scale);
        });
        if (scale == 0) {
            im = niqe_half(im);
        }
    }
    return result;
}

/// Jacobi eigendecomposition of a symmetric n x n matrix a (row-major, destroyed): eigenvalues
/// into `values`, eigenvectors as the columns of v.
inline void niqe_jacobi(std::vector<double>& a, std::size_t n, std::vector<double>& values,
                        std::vector<double>& v) {
    v.assign(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        v[i * n + i] = 1.0;
    }
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0.0;
        double diag = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            diag += a[i * n + i] * a[i * n + i];
            for (std::size_t j = i + 1; j < n; ++j) {
                off += a[i * n + j] * a[i * n + j];
            }
        }
        if (off <= 1e-36 * diag || off == 0.0) {
            break;
        }
        for (std::size_t p = 0; p + 1 < n; ++p) {
            for (std::size_t q = p + 1; q < n; ++q) {
                const double apq = a[p * n + q];
                if (apq == 0.0) {
                    continue;
                }
                // rotation zeroing a(p, q): tan t solves t^2 + 2 theta t - 1 = 0, smaller root
                const double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                const double t = (theta >= 0.0 ? 1.0 : -1.0) /
                                 (std::abs(theta) + std::sqrt(theta * theta + 1.0));
                const double c = 1.0 / std::sqrt(t * t + 1.0);
                const double s = t * c;
                for (std::size_t k = 0; k < n; ++k) { // columns p, q: A <- A J
                    const double akp = a[k * n + p];
                    const double akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (std::size_t k = 0; k < n; ++k) { // rows p, q: A <- J' A
                    const double apk = a[p * n + k];
                    const double aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for (std::size_t k = 0; k < n; ++k) { // V <- V J
                    const double vkp = v[k * n + p];
                    const double vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    values.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        values[i] = a[i * n + i];
    }
}

/// Step 5 from the block features.
inline double niqe_distance(const niqe_block_features& f, const niqe_model& model,
                            std::string_view where) {
    constexpr std::size_t d = niqe_model::features;
    const std::size_t rows = f.features.shape()[0];
    const double* x = f.features.data();
    // nanmean per feature; the complete rows for the covariance
    std::array<double, d> mean{};
    std::array<std::size_t, d> count{};
    std::vector<std::size_t> complete;
    for (std::size_t i = 0; i < rows; ++i) {
        bool all = true;
        for (std::size_t k = 0; k < d; ++k) {
            const double v = x[i * d + k];
            if (std::isnan(v)) {
                all = false;
            } else {
                mean[k] += v;
                ++count[k];
            }
        }
        if (all) {
            complete.push_back(i);
        }
    }
    if (complete.size() < 2) {
        throw value_error(concat(where, ": ", complete.size(), " of the ", rows,
                                 " blocks have finite features (flat or one-signed blocks give "
                                 "NaN), but the covariance needs at least 2"));
    }
    // sample covariance of the complete rows (N - 1)
    std::array<double, d> centre{};
    for (const std::size_t i : complete) {
        for (std::size_t k = 0; k < d; ++k) {
            centre[k] += x[i * d + k];
        }
    }
    const auto n = static_cast<double>(complete.size());
    for (double& c : centre) {
        c /= n;
    }
    std::vector<double> m(d * d, 0.0);
    for (const std::size_t i : complete) {
        for (std::size_t k = 0; k < d; ++k) {
            const double ak = x[i * d + k] - centre[k];
            for (std::size_t l = k; l < d; ++l) {
                m[k * d + l] += ak * (x[i * d + l] - centre[l]);
            }
        }
    }
    // M = (cov_p + cov_d) / 2, symmetric
    for (std::size_t k = 0; k < d; ++k) {
        for (std::size_t l = k; l < d; ++l) {
            const double c = (model.cov[k * d + l] + m[k * d + l] / (n - 1.0)) / 2.0;
            m[k * d + l] = c;
            m[l * d + k] = c;
        }
    }
    std::array<double, d> diff{};
    for (std::size_t k = 0; k < d; ++k) {
        diff[k] = model.mu[k] - mean[k] / static_cast<double>(count[k]);
    }
    // d' pinv(M) d = sum over kept eigenpairs of (v_i . d)^2 / lambda_i
    std::vector<double> values;
    std::vector<double> vectors;
    niqe_jacobi(m, d, values, vectors);
    double largest = 0.0;
    for (const double l : values) {
        largest = std::max(largest, std::abs(l));
    }
    const double cutoff = 1e-15 * largest;
    double q = 0.0;
    for (std::size_t i = 0; i < d; ++i) {
        if (std::abs(values[i]) <= cutoff) {
            continue;
        }
        double proj = 0.0;
        for (std::size_t k = 0; k < d; ++k) {
            proj += vectors[k * d + i] * diff[k];
        }
        q += proj * proj / values[i];
    }
    return std::sqrt(q);
}

/// Checks shared by the entry points; returns the block grid (rows, columns).
inline std::array<std::size_t, 2> niqe_check(const image& x, std::string_view where) {
    if (x.shape()[0] != 1 && x.shape()[0] != 3) {
        throw shape_error(concat(where, ": image must have 1 (gray) or 3 (RGB) channels, got ",
                                 shape_string(x.shape())));
    }
    const std::size_t nh = x.shape()[1] / 96;
    const std::size_t nw = x.shape()[2] / 96;
    if (nh * nw < 2) {
        throw shape_error(concat(where,
                                 ": image must hold at least two 96 x 96 blocks (192 x 96 or "
                                 "96 x 192; NIQE fits a covariance over blocks), got ",
                                 shape_string(x.shape())));
    }
    require_finite(x, where, "image");
    return {nh, nw};
}

/// All blocks of an nh x nw grid, column-major.
inline std::vector<std::array<std::size_t, 2>> niqe_all_blocks(std::size_t nh, std::size_t nw) {
    std::vector<std::array<std::size_t, 2>> blocks;
    for (std::size_t j = 0; j < nw; ++j) {
        for (std::size_t i = 0; i < nh; ++i) {
            blocks.push_back({i, j});
        }
    }
    return blocks;
}

inline const niqe_model& niqe_model_of(const niqe_options& options) {
    if (options.model != nullptr) {
        return *options.model;
    }
    static const niqe_model model = niqe_model::load_default();
    return model;
}

} // namespace detail

/// The 36 features of every 96 x 96 block of a 1- or 3-channel image (steps 1 to 4 of the file
/// comment). Throws like niqe().
inline niqe_block_features niqe_features(const image& x, const niqe_options& options = {}) {
    const auto [nh, nw] = detail::niqe_check(x, "niqe_features");
    return detail::niqe_features_of(x, detail::niqe_model_of(options),
                                    detail::niqe_all_blocks(nh, nw), nh, nw);
}

/// NIQE of a 1- or 3-channel C x H x W image with values in [0,1] (lower is better). Throws
/// shape_error for other channel counts or an image without two 96 x 96 blocks, value_error for
/// non-finite values or fewer than 2 blocks with finite features, io_error/value_error when the
/// default model cannot be loaded.
inline double niqe(const image& x, const niqe_options& options = {}) {
    constexpr std::string_view where = "niqe";
    const auto [nh, nw] = detail::niqe_check(x, where);
    const niqe_model& model = detail::niqe_model_of(options);
    return detail::niqe_distance(
        detail::niqe_features_of(x, model, detail::niqe_all_blocks(nh, nw), nh, nw), model, where);
}

/// NIQE over the blocks of which a 1 x H x W mask selects (nonzero) at least half of the pixels
/// (see the file comment). Throws like niqe(), shape_error for a mask of another shape,
/// value_error for a non-finite mask or one that selects fewer than 2 blocks.
inline double niqe_masked(const image& x, const image& mask, const niqe_options& options = {}) {
    constexpr std::string_view where = "niqe_masked";
    const auto [nh, nw] = detail::niqe_check(x, where);
    detail::require_shared_mask(mask, shape_of<3>(x), where, "NIQE");
    const std::size_t w = x.shape()[2];
    const float* m = mask.data();
    std::vector<std::array<std::size_t, 2>> blocks;
    for (const auto& b : detail::niqe_all_blocks(nh, nw)) {
        std::size_t selected = 0;
        for (std::size_t i = b[0] * 96; i < (b[0] + 1) * 96; ++i) {
            for (std::size_t j = b[1] * 96; j < (b[1] + 1) * 96; ++j) {
                selected += m[i * w + j] != 0.0F ? 1 : 0;
            }
        }
        if (2 * selected >= 96 * 96) {
            blocks.push_back(b);
        }
    }
    if (blocks.size() < 2) {
        throw value_error(detail::concat(where, ": the mask selects at least half of ",
                                         blocks.size(), " of the ", nh * nw,
                                         " 96 x 96 blocks, but NIQE's covariance needs 2"));
    }
    const niqe_model& model = detail::niqe_model_of(options);
    return detail::niqe_distance(detail::niqe_features_of(x, model, blocks, nh, nw), model, where);
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float fail to compile here with a plain message
// naming the type needed (core/array_argument.hpp) instead of converting silently.
template <class E>
requires detail::mismatched_arrays<image, E>
double niqe(const E&, const niqe_options& = {}) {
    detail::reject_arrays<image, E>();
    return {};
}

template <class E, class M>
requires detail::mismatched_arrays<image, E, M>
double niqe_masked(const E&, const M&, const niqe_options& = {}) {
    detail::reject_arrays<image, E, M>();
    return {};
}

} // namespace xrestore
