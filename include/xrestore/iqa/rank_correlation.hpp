#pragma once
/// @file rank_correlation.hpp
/// Kendall's rank correlation tau-b between two lists of scores (scipy.stats.kendalltau's
/// default): for n items, P concordant and Q discordant pairs, T pairs tied only in the first
/// list and U pairs tied only in the second,
///   tau_b = (P - Q) / sqrt((P + Q + T) (P + Q + U)),
/// pairs tied in both lists counting nowhere. +1: the same order, -1: reversed. For measures
/// where lower is better (MSE, GMSD, BRISQUE, NIQE) negate the scores first, or read -tau.
///
/// @code
/// double t = xrestore::kendall_tau({1, 2, 3, 4}, {10, 30, 20, 40});   // 0.6667
/// @endcode

#include "xrestore/core/error.hpp"

#include <cmath>
#include <cstddef>
#include <span>
#include <string_view>

namespace xrestore {

/// Kendall's tau-b of `a` and `b` (same length >= 2, finite). NaN when either list is constant
/// (tau-b is undefined then, as in scipy). O(n^2): meant for rankings of tens of items.
inline double kendall_tau(std::span<const double> a, std::span<const double> b) {
    constexpr std::string_view where = "kendall_tau";
    if (a.size() != b.size()) {
        throw shape_error(detail::concat(where, ": the lists must have the same length, got ",
                                         a.size(), " and ", b.size()));
    }
    if (a.size() < 2) {
        throw value_error(detail::concat(where, ": need at least 2 items to rank, got ", a.size()));
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
            throw value_error(detail::concat(where, ": scores must be finite, got ", a[i], " and ",
                                             b[i], " at item ", i));
        }
    }
    double concordant = 0.0;
    double discordant = 0.0;
    double tied_a = 0.0;
    double tied_b = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        for (std::size_t j = i + 1; j < a.size(); ++j) {
            const double da = a[i] - a[j];
            const double db = b[i] - b[j];
            if (da == 0.0 && db == 0.0) {
                continue;
            }
            if (da == 0.0) {
                tied_a += 1.0;
            } else if (db == 0.0) {
                tied_b += 1.0;
            } else if ((da > 0.0) == (db > 0.0)) {
                concordant += 1.0;
            } else {
                discordant += 1.0;
            }
        }
    }
    const double pairs_a = concordant + discordant + tied_b; // pairs not tied in a
    const double pairs_b = concordant + discordant + tied_a; // pairs not tied in b
    if (pairs_a == 0.0 || pairs_b == 0.0) {
        return std::nan("");
    }
    return (concordant - discordant) / std::sqrt(pairs_a * pairs_b);
}

} // namespace xrestore
