#pragma once
/// @file kernels.hpp
/// Blur kernel factories: box, motion (line), Gaussian, disk (defocus), user arrays, and the
/// command-line kernel syntax. Every factory returns a kh x kw matrix normalised to sum 1. The
/// syntax's `file:PATH` form reads through a reader the caller passes (io's read_kernel_file), so
/// that operators need no file input.
///
/// @code
/// xrestore::matrix k = xrestore::box_kernel(13);                        // 13 x 13, all 1/169
/// xrestore::matrix m = xrestore::parse_kernel_spec("motion:15,0.785");  // 15 x 15 line at 45 deg
/// xrestore::matrix f = xrestore::parse_kernel_spec("file:psf.npy", xrestore::read_kernel_file);
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace xrestore {

/// Reads the kernel stored in a file for parse_kernel_spec's `file:PATH` form (values as stored:
/// parse_kernel_spec normalises them): read_kernel_file of io/kernel_file.hpp.
using kernel_file_reader = std::function<matrix(std::string_view path)>;

/// The largest kernel extent the factories build (a 4096 x 4096 kernel is 64 MiB).
inline constexpr std::size_t max_kernel_size = 4096;

/// `k` divided by its sum. Throws value_error when k is empty, has a NaN or infinite entry, or
/// sums to zero (within float rounding of the sum of |k|).
inline matrix normalized_kernel(matrix k) {
    if (k.size() == 0) {
        throw value_error(detail::concat("normalized_kernel: kernel must be non-empty, got ",
                                         shape_string(k.shape())));
    }
    check_finite(k, "normalized_kernel", "kernel");
    double sum = 0.0;
    double magnitude = 0.0;
    for (float v : k) {
        sum += v;
        magnitude += std::abs(v);
    }
    if (!(std::abs(sum) > 1e-6 * magnitude)) {
        throw value_error(detail::concat("normalized_kernel: kernel must have a nonzero sum, got ",
                                         sum, " (sum of |k| = ", magnitude, ")"));
    }
    for (float& v : k) {
        v = static_cast<float>(v / sum);
    }
    return k;
}

/// The p x p box (uniform) kernel, every entry 1 / p^2. Throws value_error for p = 0 or p > 4096.
inline matrix box_kernel(std::size_t p) {
    require(p >= 1 && p <= max_kernel_size, "box_kernel", "p", "in [1, 4096]", p);
    matrix k({p, p});
    k.fill(static_cast<float>(1.0 / (static_cast<double>(p) * static_cast<double>(p))));
    return k;
}

/// Linear motion blur: a line of length `size` pixels through the centre of a size x size kernel
/// at `angle` radians from the +x axis, counter-clockwise as seen on screen (image rows grow
/// downwards, so a positive angle goes up to the right). The line is anti-aliased like a
/// horizontal line rotated with bilinear interpolation: pixel (i, j) at offset (x, y) =
/// (j - c, i - c) from the centre, with along = x cos(a) - y sin(a) and across = x sin(a) +
/// y cos(a), gets weight max(0, 1 - |across|) * clamp(r + 1 - |along|, 0, 1), r = (size - 1)/2;
/// weights below 1e-6 of the largest are dropped, then the kernel is normalised. Angle 0 gives
/// exactly the centre row, pi/2 the centre column. Throws value_error for an even or zero size
/// or over 4095 size, or a non-finite angle.
inline matrix motion_kernel(std::size_t size, double angle) {
    require(size % 2 == 1 && size <= max_kernel_size, "motion_kernel", "size",
            "odd and at most 4095", size);
    require(std::isfinite(angle), "motion_kernel", "angle", "finite", angle);
    const double c = static_cast<double>(size - 1) / 2.0;
    const double cos_a = std::cos(angle);
    const double sin_a = std::sin(angle);
    std::vector<double> weights(size * size);
    double largest = 0.0;
    for (std::size_t i = 0; i < size; ++i) {
        for (std::size_t j = 0; j < size; ++j) {
            const double x = static_cast<double>(j) - c;
            const double y = static_cast<double>(i) - c;
            const double along = x * cos_a - y * sin_a;
            const double across = x * sin_a + y * cos_a;
            const double w = std::max(0.0, 1.0 - std::abs(across)) *
                             std::clamp(c + 1.0 - std::abs(along), 0.0, 1.0);
            weights[i * size + j] = w;
            largest = std::max(largest, w);
        }
    }
    matrix k({size, size});
    for (std::size_t n = 0; n < size * size; ++n) {
        k.data()[n] = weights[n] < 1e-6 * largest ? 0.0f : static_cast<float>(weights[n]);
    }
    return normalized_kernel(std::move(k));
}

/// The size x size Gaussian exp(-(u^2 + v^2) / (2 sigma^2)), u, v measured from the centre
/// (size - 1) / 2 (between two pixels for an even size), built as the outer product of the
/// normalised 1-D Gaussian (so it is exactly separable). Throws value_error for sigma <= 0 or
/// non-finite, or size outside [1, 4096].
inline matrix gaussian_kernel(double sigma, std::size_t size) {
    require(std::isfinite(sigma) && sigma > 0.0, "gaussian_kernel", "sigma", "positive and finite",
            sigma);
    require(size >= 1 && size <= max_kernel_size, "gaussian_kernel", "size", "in [1, 4096]", size);
    const double c = static_cast<double>(size - 1) / 2.0;
    std::vector<double> g(size);
    double sum = 0.0;
    for (std::size_t n = 0; n < size; ++n) {
        const double u = static_cast<double>(n) - c;
        g[n] = std::exp(-u * u / (2.0 * sigma * sigma));
        sum += g[n];
    }
    matrix k({size, size});
    for (std::size_t i = 0; i < size; ++i) {
        for (std::size_t j = 0; j < size; ++j) {
            k(i, j) = static_cast<float>((g[i] / sum) * (g[j] / sum));
        }
    }
    return k;
}

/// Defocus (pillbox) kernel: size = the smallest odd integer >= diameter; the pixels whose
/// centre lies within diameter / 2 of the kernel centre get equal weight. Throws value_error for
/// a diameter <= 0, non-finite or absurdly large (> 4096).
inline matrix disk_kernel(double diameter) {
    require(std::isfinite(diameter) && diameter > 0.0 && diameter <= 4096.0, "disk_kernel",
            "diameter", "in (0, 4096]", diameter);
    auto size = static_cast<std::size_t>(std::ceil(diameter));
    size += size % 2 == 0 ? 1 : 0;
    const double c = static_cast<double>(size - 1) / 2.0;
    const double r2 = diameter * diameter / 4.0;
    matrix k({size, size});
    for (std::size_t i = 0; i < size; ++i) {
        for (std::size_t j = 0; j < size; ++j) {
            const double u = static_cast<double>(i) - c;
            const double v = static_cast<double>(j) - c;
            k(i, j) = u * u + v * v <= r2 * (1.0 + 1e-12) ? 1.0f : 0.0f;
        }
    }
    return normalized_kernel(std::move(k));
}

namespace detail {

inline std::vector<std::string_view> split_arguments(std::string_view text) {
    std::vector<std::string_view> parts;
    while (true) {
        const auto comma = text.find(',');
        parts.push_back(text.substr(0, comma));
        if (comma == std::string_view::npos) {
            return parts;
        }
        text.remove_prefix(comma + 1);
    }
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

inline std::size_t parse_size_argument(std::string_view spec, std::string_view text,
                                       std::string_view what) {
    text = trim(text);
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
        throw value_error(concat("parse_kernel_spec: ", what,
                                 " must be a non-negative integer in '", spec, "', got '", text,
                                 "'"));
    }
    return value;
}

inline double parse_real_argument(std::string_view spec, std::string_view text,
                                  std::string_view what) {
    text = trim(text);
    double value = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() ||
        !std::isfinite(value)) {
        throw value_error(concat("parse_kernel_spec: ", what, " must be a finite number in '", spec,
                                 "', got '", text, "'"));
    }
    return value;
}

inline void require_argument_count(std::string_view spec, const std::vector<std::string_view>& args,
                                   std::size_t least, std::size_t most, std::string_view usage) {
    if (args.size() < least || args.size() > most) {
        throw value_error(concat("parse_kernel_spec: '", spec, "' must have the form ", usage));
    }
}

} // namespace detail

/// A kernel from the command-line syntax:
///   box:P              P x P box
///   motion:SIZE,ANGLE  motion_kernel(SIZE, ANGLE) (ANGLE in radians)
///   gaussian:SIGMA[,SIZE]  gaussian_kernel(SIGMA, SIZE); SIZE defaults to 2 ceil(3 SIGMA) + 1
///   disk:DIAMETER      disk_kernel(DIAMETER)
///   file:PATH          read_file(PATH) (a .npy array or an image file with io's
///                      read_kernel_file), normalised to sum 1
/// Throws value_error naming the accepted forms on anything malformed, and for a file:PATH spec
/// when no reader is given; read_file's errors pass through.
inline matrix parse_kernel_spec(std::string_view spec, const kernel_file_reader& read_file = {}) {
    const auto colon = spec.find(':');
    const std::string_view kind = colon == std::string_view::npos ? spec : spec.substr(0, colon);
    const std::string_view rest =
        colon == std::string_view::npos ? std::string_view{} : spec.substr(colon + 1);
    if (colon == std::string_view::npos || rest.empty()) {
        throw value_error(detail::concat(
            "parse_kernel_spec: spec must be box:P, motion:SIZE,ANGLE, gaussian:SIGMA[,SIZE], "
            "disk:DIAMETER or file:PATH, got '",
            spec, "'"));
    }
    if (kind == "file") {
        if (!read_file) {
            throw value_error(
                detail::concat("parse_kernel_spec: '", spec,
                               "' names a file: pass a kernel file reader (read_kernel_file of "
                               "io/kernel_file.hpp) as the second argument"));
        }
        return normalized_kernel(read_file(rest));
    }
    const auto args = detail::split_arguments(rest);
    if (kind == "box") {
        detail::require_argument_count(spec, args, 1, 1, "box:P");
        return box_kernel(detail::parse_size_argument(spec, args[0], "P"));
    }
    if (kind == "motion") {
        detail::require_argument_count(spec, args, 2, 2, "motion:SIZE,ANGLE");
        return motion_kernel(detail::parse_size_argument(spec, args[0], "SIZE"),
                             detail::parse_real_argument(spec, args[1], "ANGLE"));
    }
    if (kind == "gaussian") {
        detail::require_argument_count(spec, args, 1, 2, "gaussian:SIGMA[,SIZE]");
        const double sigma = detail::parse_real_argument(spec, args[0], "SIGMA");
        require(sigma > 0.0 && sigma <= 1000.0, "parse_kernel_spec", "SIGMA", "in (0, 1000]",
                sigma);
        const std::size_t size = args.size() == 2
                                     ? detail::parse_size_argument(spec, args[1], "SIZE")
                                     : 2 * static_cast<std::size_t>(std::ceil(3.0 * sigma)) + 1;
        return gaussian_kernel(sigma, size);
    }
    if (kind == "disk") {
        detail::require_argument_count(spec, args, 1, 1, "disk:DIAMETER");
        return disk_kernel(detail::parse_real_argument(spec, args[0], "DIAMETER"));
    }
    throw value_error(
        detail::concat("parse_kernel_spec: kind must be box, motion, gaussian, disk or file, got '",
                       kind, "' in '", spec, "'"));
}

} // namespace xrestore
