#pragma once
/// @file iteration.hpp
/// The bookkeeping of an iterative solver run, shared by every solver: its clock, the divergence
/// rule, and the end of an iteration (relative change of x, seconds, the monitor, the tolerance).
///
/// @code
/// xrestore::detail::iteration_tracker track; // first thing in the solver: starts the clock
/// track.watch_norm({xrestore::norm(x0), xrestore::norm(y)}, x0);
/// if (track.finish(result, x, previous, k, options.tol, monitor)) return result;
/// @endcode
///
/// The divergence rule, the one every solver applies: iteration k has diverged when
///   (a) x_k, or the objective F(x_k) of a solver that records one, is not finite; or
///   (b) solvers that record F(x_k) in iteration k: F(x_k) > 1e6 max(F(x_0), F(0)), where F(0) is
///       the data term at x = 0 (every penalty of the library is 0 there) and F(x_0) the objective
///       at the start. A minimising iteration never leaves this far above where it started, and
///       F(0) >= min F keeps the reference meaningful when x_0 is already (nearly) optimal
///       (richardson_lucy: sum(y), the scale of KL, stands for F(0), as KL(y || 0) is infinite); or
///   (c) solvers without an objective at x_k (ADMM, the plug-and-play solvers, RED, whose
///       objective lags one iteration): ||x_k|| > 1e6 max(||x_0||, ||A^T y||, ||y||, sqrt(n)),
///       n the number of entries of x (sqrt(n) is the norm of an array of ones: a floor for
///       problems whose data are all zero).
/// The references are fixed before the first iteration, so a first iterate that is already
/// garbage is caught. A diverged run returns the last good iterate x_{k-1} (x_0 for k = 1),
/// iterations = k - 1, solver_stop::diverged and solver_result::stop_detail saying which test
/// failed. Solvers that solve a linear system by CG (tikhonov, least_squares) minimise a quadratic
/// whose value cannot grow; their divergence is a CG breakdown (a non-finite value, or a system
/// that is not positive definite), and (b) when they record the objective.

#include "xrestore/core/vector_space.hpp"
#include "xrestore/solvers/monitor.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

namespace xrestore::detail {

/// The factor of the divergence rule: growth beyond 1e6 times the reference is divergence.
inline constexpr double divergence_factor = 1e6;

/// Wall-clock seconds since construction, less the time spent in monitors (excluding()).
class solver_clock {
public:
    using clock = std::chrono::steady_clock;

    solver_clock() : start_(clock::now()) {}

    double seconds() const {
        return std::chrono::duration<double>(clock::now() - start_).count() - excluded_;
    }

    /// f(), its duration left out of seconds().
    template <class F>
    decltype(auto) excluding(F&& f) {
        struct timer {
            solver_clock& c;
            clock::time_point t0 = clock::now();
            ~timer() { c.excluded_ += std::chrono::duration<double>(clock::now() - t0).count(); }
        } guard{*this};
        return std::forward<F>(f)();
    }

private:
    clock::time_point start_;
    double excluded_ = 0.0;
};

/// "%.3g" of v.
inline std::string short_number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", v);
    return text;
}

/// The number of entries of a dense vector; 1 for other vector types (product vectors...).
template <class V>
double entry_count(const V& v) {
    if constexpr (requires { v.size(); }) {
        return static_cast<double>(v.size());
    } else {
        return 1.0;
    }
}

/// Call the monitor with (k, x) or, when it takes it, (k, x, record); true when it asks to stop.
template <class V, class M>
bool ask_monitor(M& monitor, int iteration, const V& x, const iteration_record& record) {
    if constexpr (std::invocable<M&, int, const V&, const iteration_record&>) {
        if constexpr (std::is_void_v<
                          std::invoke_result_t<M&, int, const V&, const iteration_record&>>) {
            std::invoke(monitor, iteration, x, record);
            return false;
        } else {
            return static_cast<bool>(std::invoke(monitor, iteration, x, record));
        }
    } else if constexpr (std::is_void_v<std::invoke_result_t<M&, int, const V&>>) {
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

/// result.stop = diverged with the reason, x unchanged (it holds the last good iterate).
template <vector_type V>
void mark_diverged(solver_result<V>& result, std::string reason) {
    result.stop = solver_stop::diverged;
    result.stop_detail = std::move(reason);
}

/// x <- previous (the last good iterate), result.stop = diverged with the reason.
template <vector_type V>
void stop_diverged(solver_result<V>& result, V& x, const V& previous, std::string reason) {
    xrestore::copy(previous, x);
    mark_diverged(result, std::move(reason));
}

/// One solver run's bookkeeping: the clock (started at construction, so construct it first), the
/// references of the divergence rule (see the file comment), and the end of each iteration.
class iteration_tracker {
public:
    /// Rule (b): F(x_k) > 1e6 max(F(x_0), F(0)). Either may be NaN when unknown.
    void watch_objective(double start_objective, double zero_objective) {
        double reference = 0.0;
        for (double f : {start_objective, zero_objective}) {
            if (std::isfinite(f)) {
                reference = std::max(reference, f);
            }
        }
        objective_reference_ = reference;
        watch_objective_ = true;
    }

    /// Rule (c): ||x_k|| > 1e6 max(norms..., sqrt(n)), n the entries of `like` (shaped as x).
    template <vector_type V>
    void watch_norm(std::initializer_list<double> norms, const V& like) {
        double reference = std::sqrt(entry_count(like));
        for (double v : norms) {
            if (std::isfinite(v)) {
                reference = std::max(reference, v);
            }
        }
        norm_reference_ = reference;
        watch_norm_ = true;
    }

    /// "" while F(x_k) passes rules (a) and (b), else why iteration k diverged.
    std::string objective_verdict(int k, double objective) const {
        if (!std::isfinite(objective)) {
            return "iteration " + std::to_string(k) + ": the objective is " +
                   short_number(objective);
        }
        if (watch_objective_ && objective > divergence_factor * objective_reference_) {
            return "iteration " + std::to_string(k) + ": the objective " + short_number(objective) +
                   " exceeds 1e6 times its reference " + short_number(objective_reference_) +
                   " (the larger of F(x_0) and F(0))";
        }
        return {};
    }

    /// "" while ||x_k|| passes rules (a) and (c), else why iteration k diverged.
    std::string norm_verdict(int k, double x_norm) const {
        if (!std::isfinite(x_norm)) {
            return "iteration " + std::to_string(k) +
                   ": x is not finite (||x|| = " + short_number(x_norm) + ")";
        }
        if (watch_norm_ && x_norm > divergence_factor * norm_reference_) {
            return "iteration " + std::to_string(k) + ": ||x|| = " + short_number(x_norm) +
                   " exceeds 1e6 times its reference " + short_number(norm_reference_) +
                   " (the largest of ||x_0||, ||A^T y||, ||y|| and sqrt(n))";
        }
        return {};
    }

    /// Seconds since the solver started, less the time spent in the monitor.
    double seconds() const { return clock_.seconds(); }

    /// Record the seconds of iteration k (after its relative change and objective, if any) and
    /// call the monitor with its record, the monitor's time left out of the clock. True when the
    /// monitor asks to stop.
    template <vector_type V, class M>
    bool ask(solver_result<V>& result, int k, const V& x, M& monitor) {
        result.seconds.push_back(clock_.seconds());
        const iteration_record record{k, result.seconds.back(),
                                      result.objective.size() == result.seconds.size()
                                          ? result.objective.back()
                                          : std::numeric_limits<double>::quiet_NaN(),
                                      result.change.size() == result.seconds.size()
                                          ? result.change.back()
                                          : std::numeric_limits<double>::quiet_NaN()};
        return clock_.excluding([&] { return ask_monitor(monitor, k, x, record); });
    }

    /// End of a good iteration k: record the relative change (`previous` <- x), iterations = k,
    /// the seconds, ask the monitor, test tol. True when the loop must stop (result.stop set to
    /// monitor or converged).
    template <vector_type V, class M>
    bool record(solver_result<V>& result, const V& x, V& previous, int k, double tol, M& monitor) {
        result.change.push_back(relative_change_and_store(x, previous));
        result.iterations = k;
        if (ask(result, k, x, monitor)) {
            result.stop = solver_stop::monitor;
            return true;
        }
        if (result.change.back() < tol) {
            result.stop = solver_stop::converged;
            return true;
        }
        return false;
    }

    /// record() preceded by rules (a) and (c) on ||x||: a diverged x is replaced by `previous`
    /// (the last good iterate) and stops the loop with solver_stop::diverged.
    template <vector_type V, class M>
    bool finish(solver_result<V>& result, V& x, V& previous, int k, double tol, M& monitor) {
        if (std::string reason = norm_verdict(k, xrestore::norm(x)); !reason.empty()) {
            stop_diverged(result, x, previous, std::move(reason));
            return true;
        }
        return record(result, std::as_const(x), previous, k, tol, monitor);
    }

private:
    solver_clock clock_;
    bool watch_objective_ = false;
    bool watch_norm_ = false;
    double objective_reference_ = 0.0;
    double norm_reference_ = 0.0;
};

} // namespace xrestore::detail
