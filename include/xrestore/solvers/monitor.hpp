#pragma once
/// @file monitor.hpp
/// What every iterative solver shares: the result struct with its per-iteration history, and the
/// monitor callback that sees (iteration, x) after each iteration and may stop the solver.
/// `reference_monitor` records MSE/PSNR against a ground truth and can stop early when the error
/// starts to rise.
///
/// @code
/// xrestore::reference_monitor watch(truth, {.stop_when_mse_rises = true, .patience = 3});
/// auto r = xrestore::pnp_admm(A, y, denoiser, {.max_iter = 300}, std::ref(watch));
/// for (double p : watch.psnr()) std::cout << p << '\n';
/// @endcode

#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/metrics/mse.hpp"

#include <algorithm>
#include <cmath>
#include <concepts>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace xrestore {

/// Why an iterative solver stopped.
enum class solver_stop {
    max_iterations, ///< options.max_iter iterations done
    converged,      ///< the solver's own tolerance was met (relative change of x below tol)
    monitor,        ///< the monitor returned true
    diverged,       ///< a non-finite value appeared; x is the last finite iterate
};

inline const char* to_string(solver_stop stop) {
    switch (stop) {
    case solver_stop::max_iterations:
        return "max_iterations";
    case solver_stop::converged:
        return "converged";
    case solver_stop::monitor:
        return "stopped_by_monitor";
    case solver_stop::diverged:
        return "diverged";
    }
    return "unknown";
}

/// What a solver returns: the estimate, the iterations done and the per-iteration history.
/// `objective` holds the objective value after each iteration where the solver defines one
/// (empty otherwise); `change` holds ||x_k - x_{k-1}|| / max(||x_k||, tiny); `inner_iterations`
/// the iterations of the inner solver (CG) in each outer iteration, where there is one.
template <vector_type V>
struct solver_result {
    V x;
    int iterations = 0;
    solver_stop stop = solver_stop::max_iterations;
    std::vector<double> objective;
    std::vector<double> change;
    std::vector<int> inner_iterations;
};

/// A monitor: called as monitor(iteration, x) after each iteration (iteration counts from 1);
/// it may return void (observe only) or something convertible to bool (true stops the solver).
template <class M, class V>
concept solver_monitor = std::invocable<M&, int, const V&>;

/// The monitor that never stops.
struct no_monitor {
    template <class V>
    void operator()(int, const V&) const {}
};

namespace detail {
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
} // namespace detail

/// Options of reference_monitor.
struct reference_monitor_options {
    double data_range = 1.0;          ///< for PSNR
    bool clip = false;                ///< score clip(x, 0, 1) instead of x
    bool stop_when_mse_rises = false; ///< stop once MSE has risen `patience` times in a row
    int patience = 1;                 ///< consecutive rises that stop the solver (>= 1)
};

namespace detail {
/// mse(a, b) found by argument-dependent lookup where the monitor is instantiated, so a
/// backend's overload (device arrays: backend/cuda/mse.cuh) is used.
template <class V>
double monitor_mse(const V& a, const V& b) {
    return mse(a, b);
}
} // namespace detail

/// Records MSE and PSNR of every iterate against a ground truth; optionally stops when the MSE
/// rises. Pass it by std::ref to keep the history in the caller's object. V is the vector type
/// of the iterates (images; device images with backend/cuda/mse.cuh included): the MSE and the
/// clipping run on V's backend, only the scalar comes back.
template <dense_vector V>
class basic_reference_monitor {
public:
    explicit basic_reference_monitor(V reference, reference_monitor_options options = {})
        : reference_(std::move(reference)), options_(options) {
        require(options.patience >= 1, "reference_monitor", "patience", ">= 1", options.patience);
        require(std::isfinite(options.data_range) && options.data_range > 0.0, "reference_monitor",
                "data_range", "positive", options.data_range);
    }

    /// Record x; true when the MSE has risen `patience` times in a row and stopping is enabled.
    bool operator()(int iteration, const V& x) {
        double e = 0.0;
        if (options_.clip) {
            xrestore::copy(x, clipped_); // clip(x, 0, 1)
            for_each_index_on<V>(clipped_.size(), kernels::clip_body{0.0f, 1.0f, clipped_.data()});
            e = detail::monitor_mse(reference_, clipped_);
        } else {
            e = detail::monitor_mse(reference_, x);
        }
        iterations_.push_back(iteration);
        mse_.push_back(e);
        psnr_.push_back(e > 0.0 ? 10.0 * std::log10(options_.data_range * options_.data_range / e)
                                : std::numeric_limits<double>::infinity());
        if (mse_.size() >= 2 && e > mse_[mse_.size() - 2]) {
            ++rises_;
        } else {
            rises_ = 0;
        }
        if (e < best_mse_) {
            best_mse_ = e;
            best_iteration_ = iteration;
        }
        return options_.stop_when_mse_rises && rises_ >= options_.patience;
    }

    const std::vector<int>& iterations() const { return iterations_; }
    const std::vector<double>& mse() const { return mse_; }
    const std::vector<double>& psnr() const { return psnr_; }
    /// Iteration with the lowest MSE so far (0 before any call).
    int best_iteration() const { return best_iteration_; }
    double best_mse() const { return best_mse_; }

private:
    V reference_;
    V clipped_; ///< scratch of the clipped iterate
    reference_monitor_options options_;
    std::vector<int> iterations_;
    std::vector<double> mse_;
    std::vector<double> psnr_;
    int rises_ = 0;
    int best_iteration_ = 0;
    double best_mse_ = std::numeric_limits<double>::infinity();
};

/// The reference monitor of image iterates.
using reference_monitor = basic_reference_monitor<image>;

} // namespace xrestore
