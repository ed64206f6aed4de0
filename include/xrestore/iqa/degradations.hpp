#pragma once
/// @file degradations.hpp
/// Eight ways to damage an image, each with one continuous strength, for image-quality studies:
/// the degradations of the equal-PSNR / equal-SSIM experiment (equal_quality.hpp). Every output
/// is a C x H x W image in [0, 1] of the input's shape; strength 0 leaves the image as it is
/// (except JPEG, whose strength 0 is quality 100). The strength is continuous so that a
/// bisection can hit a target PSNR or SSIM as closely as asked:
///
/// | degradation            | strength s, range       | output                                    |
/// |------------------------|-------------------------|-------------------------------------------|
/// | gaussian_noise         | sigma, [0, 1]           | clip(x + s n), n ~ N(0, 1) seeded, fixed |
/// | salt_and_pepper        | fraction, [0, 1]        | the first s H W pixels of a seeded order |
/// |                        |                         | set to 0 or 1 (all channels; the last one |
/// |                        |                         | blended by the fractional part) | |
/// gaussian_blur          | sigma in pixels, [0, 32]| separable Gaussian, radius ceil(5 s) + 1,  |
/// |                        |                         | scipy.ndimage's 'reflect' boundary | | jpeg
/// | 100 - quality, [0, 99]  | baseline JPEG (stb) at quality 100 - s;    | | | | between two
/// integer qualities, the pixel-  | |                        |                         | wise
/// interpolation of their two decodes    | | contrast_stretch       | gain - 1, [0, 20]       |
/// clip(m + (1 + s)(x - m)), m = mean of x    | | mean_shift             | offset, [0, 1] | clip(x
/// + s)                                | | translation            | pixels, [0, 16]         | x
/// moved s pixels right and s down          | |                        |                         |
/// (bilinear, edge pixels repeated)           | | colour_quantisation    | step, [0, 1] | clip(step
/// * round(x / step)) per channel   |
///
/// @code
/// image y = xrestore::apply_degradation(x, xrestore::degradation::gaussian_blur, 1.5);
/// auto d = xrestore::parse_degradation("jpeg");
/// @endcode
///
/// The seeded fields (noise, the salt-and-pepper order and values) are drawn once per call from
/// std::mt19937_64(seed): the same seed and shape give the same field for every strength, so
/// the output changes continuously with s.

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/image.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace xrestore {

/// The degradations of apply_degradation (see the file comment for each strength).
enum class degradation {
    gaussian_noise,
    salt_and_pepper,
    gaussian_blur,
    jpeg,
    contrast_stretch,
    mean_shift,
    translation,
    colour_quantisation,
};

/// Every degradation, in the order reports list them.
inline constexpr std::array<degradation, 8> all_degradations{
    degradation::gaussian_noise, degradation::salt_and_pepper,     degradation::gaussian_blur,
    degradation::jpeg,           degradation::contrast_stretch,    degradation::mean_shift,
    degradation::translation,    degradation::colour_quantisation,
};

/// The snake_case name of a degradation ("gaussian_noise", ...), as parse_degradation reads it.
inline std::string_view degradation_name(degradation d) {
    switch (d) {
    case degradation::gaussian_noise:
        return "gaussian_noise";
    case degradation::salt_and_pepper:
        return "salt_and_pepper";
    case degradation::gaussian_blur:
        return "gaussian_blur";
    case degradation::jpeg:
        return "jpeg";
    case degradation::contrast_stretch:
        return "contrast_stretch";
    case degradation::mean_shift:
        return "mean_shift";
    case degradation::translation:
        return "translation";
    case degradation::colour_quantisation:
        return "colour_quantisation";
    }
    return "unknown";
}

/// Prints degradation_name(d).
inline std::ostream& operator<<(std::ostream& out, degradation d) {
    return out << degradation_name(d);
}

/// The degradation called `name`; value_error listing the names otherwise.
inline degradation parse_degradation(std::string_view name) {
    std::string names;
    for (const degradation d : all_degradations) {
        if (degradation_name(d) == name) {
            return d;
        }
        names += names.empty() ? "" : ", ";
        names += degradation_name(d);
    }
    throw value_error(
        detail::concat("parse_degradation: unknown degradation '", name, "' (known: ", names, ")"));
}

/// The strengths a degradation accepts: [0, max]; `unit` names what the strength is.
struct strength_range {
    double max = 0.0;
    std::string_view unit;
};

/// The strength range of `d` (see the file comment).
inline strength_range degradation_strength_range(degradation d) {
    switch (d) {
    case degradation::gaussian_noise:
        return {1.0, "noise sigma"};
    case degradation::salt_and_pepper:
        return {1.0, "fraction of pixels"};
    case degradation::gaussian_blur:
        return {32.0, "blur sigma (pixels)"};
    case degradation::jpeg:
        return {99.0, "100 - JPEG quality"};
    case degradation::contrast_stretch:
        return {20.0, "contrast gain - 1"};
    case degradation::mean_shift:
        return {1.0, "added offset"};
    case degradation::translation:
        return {16.0, "shift (pixels, right and down)"};
    case degradation::colour_quantisation:
        return {1.0, "quantisation step"};
    }
    return {0.0, ""};
}

namespace detail {

inline float clip01(double v) {
    return static_cast<float>(std::clamp(v, 0.0, 1.0));
}

/// Separable Gaussian blur of every plane, scipy.ndimage 'reflect' boundary, in double.
inline image gaussian_blur_planes(const image& x, double sigma) {
    const std::size_t c = x.shape()[0];
    const std::size_t h = x.shape()[1];
    const std::size_t w = x.shape()[2];
    const auto radius = static_cast<std::ptrdiff_t>(std::ceil(5.0 * sigma)) + 1;
    std::vector<double> taps(static_cast<std::size_t>(2 * radius + 1));
    double total = 0.0;
    for (std::ptrdiff_t k = -radius; k <= radius; ++k) {
        const double t = static_cast<double>(k) / sigma;
        const double v = std::exp(-0.5 * t * t);
        taps[static_cast<std::size_t>(k + radius)] = v;
        total += v;
    }
    for (double& v : taps) {
        v /= total;
    }
    // reflect: d c b a | a b c d | d c b a
    auto reflect = [](std::ptrdiff_t i, std::ptrdiff_t n) {
        const std::ptrdiff_t period = 2 * n;
        i %= period;
        if (i < 0) {
            i += period;
        }
        return i < n ? i : period - 1 - i;
    };
    image y = xt::empty<float>(x.shape());
    std::vector<double> rows(h * w);
    const auto hh = static_cast<std::ptrdiff_t>(h);
    const auto ww = static_cast<std::ptrdiff_t>(w);
    for (std::size_t k = 0; k < c; ++k) {
        const float* in = x.data() + k * h * w;
        float* out = y.data() + k * h * w;
        for (std::ptrdiff_t i = 0; i < hh; ++i) {
            for (std::ptrdiff_t j = 0; j < ww; ++j) {
                double s = 0.0;
                for (std::ptrdiff_t t = -radius; t <= radius; ++t) {
                    s += taps[static_cast<std::size_t>(t + radius)] *
                         static_cast<double>(in[i * ww + reflect(j + t, ww)]);
                }
                rows[static_cast<std::size_t>(i * ww + j)] = s;
            }
        }
        for (std::ptrdiff_t i = 0; i < hh; ++i) {
            for (std::ptrdiff_t j = 0; j < ww; ++j) {
                double s = 0.0;
                for (std::ptrdiff_t t = -radius; t <= radius; ++t) {
                    s += taps[static_cast<std::size_t>(t + radius)] *
                         rows[static_cast<std::size_t>(reflect(i + t, hh) * ww + j)];
                }
                out[i * ww + j] = clip01(s);
            }
        }
    }
    return y;
}

/// x moved by s pixels right and s pixels down: y(i, j) = x(i - s, j - s), bilinear, indices
/// clamped to the image (edge pixels repeated).
inline image translate_planes(const image& x, double s) {
    const std::size_t c = x.shape()[0];
    const auto h = static_cast<std::ptrdiff_t>(x.shape()[1]);
    const auto w = static_cast<std::ptrdiff_t>(x.shape()[2]);
    const double whole = std::floor(s);
    const double f = s - whole; // y = (1 - f) x(i - n) + f x(i - n - 1) along each axis
    const auto n = static_cast<std::ptrdiff_t>(whole);
    auto at = [](std::ptrdiff_t i, std::ptrdiff_t size) {
        return std::clamp<std::ptrdiff_t>(i, 0, size - 1);
    };
    image y = xt::empty<float>(x.shape());
    for (std::size_t k = 0; k < c; ++k) {
        const float* in = x.data() + k * static_cast<std::size_t>(h * w);
        float* out = y.data() + k * static_cast<std::size_t>(h * w);
        for (std::ptrdiff_t i = 0; i < h; ++i) {
            const std::ptrdiff_t i0 = at(i - n, h);
            const std::ptrdiff_t i1 = at(i - n - 1, h);
            for (std::ptrdiff_t j = 0; j < w; ++j) {
                const std::ptrdiff_t j0 = at(j - n, w);
                const std::ptrdiff_t j1 = at(j - n - 1, w);
                const double top = (1.0 - f) * in[i0 * w + j0] + f * in[i0 * w + j1];
                const double bottom = (1.0 - f) * in[i1 * w + j0] + f * in[i1 * w + j1];
                out[i * w + j] = clip01((1.0 - f) * top + f * bottom);
            }
        }
    }
    return y;
}

/// Salt and pepper on a fraction s of the pixels (all channels of a pixel together): a seeded
/// permutation orders the pixels, the first floor(s H W) are set to a seeded 0 or 1 and the next
/// one is blended towards its value by the fractional part of s H W.
inline image salt_and_pepper_planes(const image& x, double s, std::uint64_t seed) {
    const std::size_t c = x.shape()[0];
    const std::size_t plane = x.shape()[1] * x.shape()[2];
    std::mt19937_64 rng(seed);
    std::vector<std::size_t> order(plane);
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Fisher-Yates with the generator's raw output (std::shuffle's algorithm is unspecified)
    for (std::size_t i = plane; i > 1; --i) {
        const std::size_t j = static_cast<std::size_t>(rng() % i);
        std::swap(order[i - 1], order[j]);
    }
    std::vector<unsigned char> salt(plane);
    for (std::size_t i = 0; i < plane; ++i) {
        salt[i] = static_cast<unsigned char>(rng() >> 63);
    }
    image y = x;
    const double amount = s * static_cast<double>(plane);
    const auto whole = static_cast<std::size_t>(std::floor(amount));
    const double part = amount - static_cast<double>(whole);
    for (std::size_t r = 0; r < std::min(plane, whole + 1); ++r) {
        const double weight = r < whole ? 1.0 : part;
        if (weight == 0.0) {
            continue;
        }
        const std::size_t p = order[r];
        const double value = salt[r] != 0 ? 1.0 : 0.0;
        for (std::size_t k = 0; k < c; ++k) {
            float& v = y.data()[k * plane + p];
            v = clip01((1.0 - weight) * static_cast<double>(v) + weight * value);
        }
    }
    return y;
}

/// JPEG at the continuous quality q = 100 - s: the decode at floor/ceil quality, interpolated.
inline image jpeg_planes(const image& x, double s) {
    const double quality = 100.0 - s;
    const double low = std::floor(quality);
    const double f = quality - low; // weight of the higher quality
    const image a = jpeg_round_trip(x, static_cast<int>(low));
    if (f == 0.0) {
        return a;
    }
    const image b = jpeg_round_trip(x, static_cast<int>(low) + 1);
    image y = xt::empty<float>(x.shape());
    for (std::size_t i = 0; i < y.size(); ++i) {
        y.data()[i] = clip01((1.0 - f) * a.data()[i] + f * b.data()[i]);
    }
    return y;
}

} // namespace detail

/// `x` (C x H x W, 1 or 3 channels for JPEG, finite) damaged by `d` at `strength` (see the file
/// comment for each degradation's strength and range). Throws value_error for a strength outside
/// the range or non-finite, shape_error for an empty image, value_error for non-finite pixels.
inline image apply_degradation(const image& x, degradation d, double strength,
                               std::uint64_t seed = 0) {
    constexpr std::string_view where = "apply_degradation";
    const strength_range range = degradation_strength_range(d);
    if (!std::isfinite(strength) || strength < 0.0 || strength > range.max) {
        throw value_error(detail::concat(where, ": ", degradation_name(d), " strength (",
                                         range.unit, ") must be in [0, ", range.max, "], got ",
                                         strength));
    }
    if (x.size() == 0) {
        throw shape_error(
            detail::concat(where, ": image must be non-empty, got ", shape_string(x.shape())));
    }
    check_finite(x, where, "image");
    if (strength == 0.0 && d != degradation::jpeg) {
        return x;
    }
    switch (d) {
    case degradation::gaussian_noise: {
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> normal(0.0, 1.0);
        image y = xt::empty<float>(x.shape());
        for (std::size_t i = 0; i < y.size(); ++i) {
            y.data()[i] = detail::clip01(static_cast<double>(x.data()[i]) + strength * normal(rng));
        }
        return y;
    }
    case degradation::salt_and_pepper:
        return detail::salt_and_pepper_planes(x, strength, seed);
    case degradation::gaussian_blur:
        return detail::gaussian_blur_planes(x, strength);
    case degradation::jpeg:
        return detail::jpeg_planes(x, strength);
    case degradation::contrast_stretch: {
        double mean = 0.0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            mean += static_cast<double>(x.data()[i]);
        }
        mean /= static_cast<double>(x.size());
        image y = xt::empty<float>(x.shape());
        for (std::size_t i = 0; i < y.size(); ++i) {
            y.data()[i] = detail::clip01(mean + (1.0 + strength) * (x.data()[i] - mean));
        }
        return y;
    }
    case degradation::mean_shift: {
        image y = xt::empty<float>(x.shape());
        for (std::size_t i = 0; i < y.size(); ++i) {
            y.data()[i] = detail::clip01(static_cast<double>(x.data()[i]) + strength);
        }
        return y;
    }
    case degradation::translation:
        return detail::translate_planes(x, strength);
    case degradation::colour_quantisation: {
        image y = xt::empty<float>(x.shape());
        for (std::size_t i = 0; i < y.size(); ++i) {
            const double v = static_cast<double>(x.data()[i]);
            y.data()[i] = detail::clip01(strength * std::round(v / strength));
        }
        return y;
    }
    }
    throw value_error(detail::concat(where, ": unknown degradation"));
}

} // namespace xrestore
