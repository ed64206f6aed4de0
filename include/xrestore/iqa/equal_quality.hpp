#pragma once
/// @file equal_quality.hpp
/// Degraded copies of one image that all have the same PSNR, or the same SSIM, against it: for
/// each degradation of degradations.hpp, the strength that hits the target is found by
/// bisection on [0, max strength]. Every degradation's output is continuous in its strength, so
/// when the weakest and the strongest setting bracket the target, the bisection converges to a
/// strength whose value is within the tolerance (0.01 dB for PSNR, 0.001 for SSIM by default).
/// A target the degradation cannot reach (JPEG at quality 100 already below a 50 dB target, a
/// mean shift that cannot bring SSIM below 0.3 ...) is reported with `reached = false` and the
/// closest strength tried, never silently.
///
/// @code
/// auto r = xrestore::match_quality(x, xrestore::degradation::jpeg,
///                                  {xrestore::quality_measure::psnr, 24.0});
/// // r.strength: 100 - quality; r.value: the PSNR of r.output, within 0.01 dB of 24
/// auto set = xrestore::equal_quality_set(x, {xrestore::quality_measure::ssim, 0.7});
/// @endcode
///
/// PSNR is xrestore::psnr with data_range 1; SSIM is xrestore::ssim with the options given
/// (default: the Gaussian-window preset of Wang et al., gaussian_ssim_options), both over all
/// channels.

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/iqa/degradations.hpp"
#include "xrestore/metrics/psnr.hpp"
#include "xrestore/metrics/ssim.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xrestore {

/// Which full-reference measure a target is set in.
enum class quality_measure { psnr, ssim };

/// "psnr" or "ssim".
inline std::string_view quality_measure_name(quality_measure m) {
    return m == quality_measure::psnr ? "psnr" : "ssim";
}

/// A target value of a measure (PSNR in dB, or SSIM).
struct quality_target {
    quality_measure measure = quality_measure::psnr;
    double value = 0.0;
};

/// Parameters of match_quality() and equal_quality_set().
struct equal_quality_options {
    /// Largest accepted |PSNR - target| in dB.
    double psnr_tolerance = 0.01;
    /// Largest accepted |SSIM - target|.
    double ssim_tolerance = 0.001;
    /// Most evaluations of the degradation per search (two go to the bracket's ends).
    std::size_t max_evaluations = 80;
    /// Seed of the noise and salt-and-pepper fields.
    std::uint64_t seed = 0;
    /// The SSIM the targets are set in.
    ssim_options ssim = gaussian_ssim_options;
    /// Called after each evaluation with (degradation, evaluations so far); may be empty.
    std::function<void(degradation, std::size_t)> progress;
};

/// What match_quality() found for one degradation.
struct equal_quality_result {
    degradation kind = degradation::gaussian_noise;
    /// The strength of the output (see degradations.hpp for its unit).
    double strength = 0.0;
    /// The measure's value of the output against the reference.
    double value = 0.0;
    /// Whether |value - target| is within the tolerance.
    bool reached = false;
    /// Evaluations of the degradation spent.
    std::size_t evaluations = 0;
    /// The degraded image at `strength`.
    image output;
};

namespace detail {

inline double quality_of(const image& reference, const image& y, const quality_target& target,
                         const equal_quality_options& options) {
    if (target.measure == quality_measure::psnr) {
        return psnr(reference, y, 1.0);
    }
    return ssim(reference, y, options.ssim);
}

inline void check_quality_target(const quality_target& t, const equal_quality_options& o,
                                 std::string_view where) {
    if (t.measure == quality_measure::psnr) {
        if (!std::isfinite(t.value) || t.value <= 0.0 || t.value > 100.0) {
            throw value_error(
                concat(where, ": a PSNR target must be in (0, 100] dB, got ", t.value));
        }
    } else if (!std::isfinite(t.value) || t.value <= -1.0 || t.value >= 1.0) {
        throw value_error(concat(where, ": an SSIM target must be in (-1, 1), got ", t.value));
    }
    if (!(o.psnr_tolerance > 0.0) || !(o.ssim_tolerance > 0.0) ||
        !std::isfinite(o.psnr_tolerance) || !std::isfinite(o.ssim_tolerance)) {
        throw value_error(concat(where, ": tolerances must be positive and finite, got ",
                                 o.psnr_tolerance, " dB and ", o.ssim_tolerance));
    }
    if (o.max_evaluations < 3) {
        throw value_error(
            concat(where, ": max_evaluations must be at least 3, got ", o.max_evaluations));
    }
}

} // namespace detail

/// The strength of `kind` whose output has `target`'s value against `reference` (C x H x W in
/// [0, 1], finite; JPEG needs 1 or 3 channels), by bisection; see the file comment. Throws
/// value_error for a target outside the measure's range (PSNR (0, 100], SSIM (-1, 1)) or bad
/// options, and what apply_degradation and the measure throw for the image.
inline equal_quality_result match_quality(const image& reference, degradation kind,
                                          const quality_target& target,
                                          const equal_quality_options& options = {}) {
    constexpr std::string_view where = "match_quality";
    detail::check_quality_target(target, options, where);
    const double tolerance =
        target.measure == quality_measure::psnr ? options.psnr_tolerance : options.ssim_tolerance;
    equal_quality_result best;
    best.kind = kind;
    double best_gap = HUGE_VAL;
    std::size_t evaluations = 0;
    // value at strength s; keeps the output closest to the target
    auto evaluate = [&](double s) {
        image y = apply_degradation(reference, kind, s, options.seed);
        const double v = detail::quality_of(reference, y, target, options);
        ++evaluations;
        // an identical image has infinite PSNR: as far from a finite target as can be
        const double gap = std::isfinite(v) ? std::abs(v - target.value) : HUGE_VAL;
        if (gap < best_gap || evaluations == 1) {
            best_gap = gap;
            best.strength = s;
            best.value = v;
            best.output = std::move(y);
        }
        if (options.progress) {
            options.progress(kind, evaluations);
        }
        return v;
    };
    auto finish = [&] {
        best.evaluations = evaluations;
        best.reached = best_gap <= tolerance;
        return best;
    };
    // Both measures fall as the damage grows: [lo, hi] keeps value(lo) above the target and
    // value(hi) below it.
    double lo = 0.0;
    double hi = degradation_strength_range(kind).max;
    const double v_lo = evaluate(lo);
    if (best_gap <= tolerance || v_lo < target.value) {
        return finish(); // hit at the weakest setting, or even that is below the target
    }
    const double v_hi = evaluate(hi);
    if (best_gap <= tolerance || v_hi > target.value) {
        return finish(); // hit at the strongest setting, or even that stays above the target
    }
    while (evaluations < options.max_evaluations && best_gap > tolerance) {
        const double mid = 0.5 * (lo + hi);
        if (!(mid > lo && mid < hi)) {
            break; // the interval is down to adjacent doubles: a jump straddles the target
        }
        if (evaluate(mid) > target.value) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return finish();
}

/// match_quality() for each degradation in `kinds` (default: all eight), in that order.
inline std::vector<equal_quality_result>
equal_quality_set(const image& reference, const quality_target& target,
                  std::span<const degradation> kinds = all_degradations,
                  const equal_quality_options& options = {}) {
    std::vector<equal_quality_result> results;
    results.reserve(kinds.size());
    for (const degradation d : kinds) {
        results.push_back(match_quality(reference, d, target, options));
    }
    return results;
}

} // namespace xrestore
