#pragma once
/// @file iteration.hpp
/// The bookkeeping at the end of a solver iteration, shared by every iterative solver: ask the
/// monitor, record the relative change of x, test the tolerance, fall back to the last finite
/// iterate when x stops being finite.
///
/// @code
/// if (xrestore::detail::finish_iteration(result, x, previous, k, options.tol, monitor)) {
///     return result;  // result.stop is monitor, converged or diverged
/// }
/// @endcode

#include "xrestore/core/vector_space.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <type_traits>
#include <utility>

namespace xrestore::detail {

/// Call the monitor; true when it asks to stop.
template <class V, class M>
bool ask_monitor(M& monitor, int iteration, const V& x) {
    if constexpr (std::is_void_v<std::invoke_result_t<M&, int, const V&>>) {
        std::invoke(monitor, iteration, x);
        return false;
    } else {
        return static_cast<bool>(std::invoke(monitor, iteration, x));
    }
}

/// ||x - previous|| / max(||x||, 1e-30), with `previous` overwritten by x afterwards.
template <vector_type V>
double relative_change_and_store(const V& x, V& previous) {
    // previous <- x - previous
    xrestore::axpby(1.0f, x, -1.0f, previous);
    const double change = xrestore::norm(previous) / std::max(xrestore::norm(x), 1e-30);
    xrestore::copy(x, previous);
    return change;
}

/// x <- previous (the last finite iterate) and result.stop = diverged.
template <vector_type V>
void stop_diverged(solver_result<V>& result, V& x, const V& previous) {
    xrestore::copy(previous, x);
    result.stop = solver_stop::diverged;
}

/// End of a finite iteration k: record the relative change (`previous` <- x), iterations = k, ask
/// the monitor, test tol. True when the loop must stop (result.stop set to monitor or converged).
template <vector_type V, class M>
bool record_iteration(solver_result<V>& result, const V& x, V& previous, int k, double tol,
                      M& monitor) {
    result.change.push_back(relative_change_and_store(x, previous));
    result.iterations = k;
    if (ask_monitor(monitor, k, x)) {
        result.stop = solver_stop::monitor;
        return true;
    }
    if (result.change.back() < tol) {
        result.stop = solver_stop::converged;
        return true;
    }
    return false;
}

/// record_iteration preceded by a finite check of ||x||: a non-finite x is replaced by
/// `previous` (the last finite iterate) and stops the loop with solver_stop::diverged.
template <vector_type V, class M>
bool finish_iteration(solver_result<V>& result, V& x, V& previous, int k, double tol, M& monitor) {
    if (!std::isfinite(xrestore::norm(x))) {
        stop_diverged(result, x, previous);
        return true;
    }
    return record_iteration(result, std::as_const(x), previous, k, tol, monitor);
}

} // namespace xrestore::detail
