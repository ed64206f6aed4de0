#pragma once
/// @file monitor.hpp
/// What every iterative solver shares: the result struct with its per-iteration history (relative
/// change, seconds, objective), and the monitor callback that sees (iteration, x), or
/// (iteration, x, record) with the iteration's seconds, objective and change, after each
/// iteration and may stop the solver. `reference_monitor` records MSE/PSNR against a ground truth
/// with the seconds and objective of each iteration, and can stop early when the error rises.
///
/// @code
/// xrestore::reference_monitor watch(truth, {.stop_when_mse_rises = true, .patience = 3});
/// auto r = xrestore::pnp_admm(A, y, denoiser, {.max_iter = 300}, std::ref(watch));
/// for (std::size_t i = 0; i < watch.psnr().size(); ++i) std::cout << watch.seconds()[i] << '\n';
/// @endcode
///
/// Which solvers record an objective (solver_result::objective, iteration_record::objective):
///   gradient_descent      1/2 ||A x - y||^2
///   ista, fista           1/2 ||A x - y||^2 + lambda ||W x||_1
///   tv_primal_dual        1/2 ||A x - y||^2 + lambda TV(x) (tv_haar_primal_dual: + ||W x||_1)
///   richardson_lucy       KL(y || A x) (+ tv_lambda TV(x)), when record_objective (the default)
///   tikhonov, least_squares  ||A x - y||^2 + lambda ||R x||^2, when record_objective (off by
///                         default: it costs one more A and R per CG iteration)
///   red_gradient_descent, red_fixed_point  E(x) = 1/2 ||A x - y||^2 + lambda/2 <x, x - D(x)>
///                         at the iterate the iteration started from (one iteration behind x_k,
///                         see red.hpp: the denoiser call it needs is the next iteration's)
/// and which do not: admm (g is known to the solver only through its proximal map, never as a
/// value) and pnp_admm, pnp_pgd, pnp_hqs (a denoiser is in general not the proximal map of any
/// function, so there is no objective to evaluate).

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/squared_error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
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
    /// the iteration diverged (non-finite values, or growth by orders of magnitude: the rule of
    /// solvers/detail/iteration.hpp); x is the last good iterate, stop_detail says what happened
    diverged,
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

/// What a solver returns: the estimate, the iterations done and the per-iteration history, one
/// entry per iteration done (k = 1..iterations) in each vector that is filled:
/// `change` holds ||x_k - x_{k-1}|| / max(||x_k||, tiny); `seconds` the wall-clock seconds from
/// the solver's start (argument checks and step-size estimates included) to the end of iteration
/// k, less the time spent in the monitor; `objective` the objective after each iteration where
/// the solver defines one (empty otherwise; see the file comment for which); `inner_iterations`
/// the iterations of the inner solver (CG) in each outer iteration, where there is one.
/// `stop_detail` says in words why a diverged run stopped (empty otherwise).
template <vector_type V>
struct solver_result {
    V x;
    int iterations = 0;
    solver_stop stop = solver_stop::max_iterations;
    std::vector<double> objective;
    std::vector<double> change;
    std::vector<int> inner_iterations;
    std::vector<double> seconds;
    std::string stop_detail;
};

/// What a solver tells a monitor about iteration k, besides x_k: the entries of the result's
/// history for k.
struct iteration_record {
    int iteration = 0;    ///< k, counted from 1
    double seconds = 0.0; ///< solver_result::seconds of k
    /// solver_result::objective of k; NaN for solvers that record none
    double objective = std::numeric_limits<double>::quiet_NaN();
    double change = std::numeric_limits<double>::quiet_NaN(); ///< solver_result::change of k
};

/// A monitor: called after each iteration (iteration counts from 1) as monitor(iteration, x), or
/// as monitor(iteration, x, record) when it accepts that (preferred when it accepts both); it may
/// return void (observe only) or something convertible to bool (true stops the solver). The
/// solver's clock stops while the monitor runs.
template <class M, class V>
concept solver_monitor =
    std::invocable<M&, int, const V&> || std::invocable<M&, int, const V&, const iteration_record&>;

/// The monitor that never stops.
struct no_monitor {
    template <class V>
    void operator()(int, const V&) const {}
};

/// Options of reference_monitor.
struct reference_monitor_options {
    double data_range = 1.0;          ///< for PSNR
    bool clip = false;                ///< score clip(x, 0, 1) instead of x
    bool stop_when_mse_rises = false; ///< stop once MSE has risen `patience` times in a row
    int patience = 1;                 ///< consecutive rises that stop the solver (>= 1)
};

namespace detail {
/// The MSE of x against the reference, with the checks and messages of metrics' mse: on the CPU
/// the host sum that mse uses (the same number to the last bit), on another backend the backend's
/// reduction of the squared differences (the device mse's number).
template <dense_vector V>
double monitor_mse(const V& reference, const V& x) {
    using space = vector_space<V>;
    if (!(space::shape(reference) == space::shape(x))) {
        throw shape_error(concat("mse: estimate must have the reference's shape ",
                                 shape_string(space::shape(reference)), ", got ",
                                 shape_string(space::shape(x))));
    }
    require(reference.size() > 0, "mse", "reference", "non-empty", "an empty array");
    const std::size_t n = reference.size();
    if constexpr (std::same_as<backend_t<V>, cpu_tag>) {
        return squared_error_sum(reference.data(), x.data(), n) / static_cast<double>(n);
    } else {
        // sum_i (a_i - b_i)^2 / n
        return sum_over_indices_on<V>(
                   n, kernels::squared_difference_term{reference.data(), x.data()}) /
               static_cast<double>(n);
    }
}
} // namespace detail

/// Records MSE and PSNR of every iterate against a ground truth, with the iteration's seconds and
/// objective; optionally stops when the MSE rises. Pass it by std::ref to keep the history in the
/// caller's object. V is the vector type of the iterates (images, device images): the MSE and the
/// clipping run on V's backend, only the scalar comes back, and it equals metrics' mse of the same
/// arrays. Called by a solver it takes the seconds and objective from the solver's record; called
/// as monitor(iteration, x) it times itself (seconds since its construction, less its own time)
/// and records no objective (NaN).
template <dense_vector V>
class basic_reference_monitor {
public:
    explicit basic_reference_monitor(V reference, reference_monitor_options options = {})
        : reference_(std::move(reference)), options_(options),
          start_(std::chrono::steady_clock::now()) {
        require(options.patience >= 1, "reference_monitor", "patience", ">= 1", options.patience);
        require(std::isfinite(options.data_range) && options.data_range > 0.0, "reference_monitor",
                "data_range", "positive", options.data_range);
    }

    /// Record x with the solver's record of the iteration; true when the MSE has risen
    /// `patience` times in a row and stopping is enabled.
    bool operator()(int iteration, const V& x, const iteration_record& record) {
        return observe(iteration, x, record.seconds, record.objective);
    }

    /// Record x, timed by the monitor itself; as above.
    bool operator()(int iteration, const V& x) {
        using clock = std::chrono::steady_clock;
        const auto t0 = clock::now();
        const double seconds = std::chrono::duration<double>(t0 - start_).count() - own_seconds_;
        const bool stop = observe(iteration, x, seconds, std::numeric_limits<double>::quiet_NaN());
        own_seconds_ += std::chrono::duration<double>(clock::now() - t0).count();
        return stop;
    }

    const std::vector<int>& iterations() const { return iterations_; }
    const std::vector<double>& mse() const { return mse_; }
    const std::vector<double>& psnr() const { return psnr_; }
    /// Seconds of each recorded iteration (see the class comment).
    const std::vector<double>& seconds() const { return seconds_; }
    /// The solver's objective of each recorded iteration (NaN where it records none).
    const std::vector<double>& objective() const { return objective_; }
    /// Iteration with the lowest MSE so far (0 before any call).
    int best_iteration() const { return best_iteration_; }
    double best_mse() const { return best_mse_; }

private:
    bool observe(int iteration, const V& x, double seconds, double objective) {
        double e = 0.0;
        if (options_.clip) {
            xrestore::copy(x, clipped_); // clip(x, 0, 1)
            for_each_index_on<V>(clipped_.size(), kernels::clip_body{0.0f, 1.0f, clipped_.data()});
            e = detail::monitor_mse(reference_, clipped_);
        } else {
            e = detail::monitor_mse(reference_, x);
        }
        iterations_.push_back(iteration);
        seconds_.push_back(seconds);
        objective_.push_back(objective);
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

    V reference_;
    V clipped_; ///< scratch of the clipped iterate
    reference_monitor_options options_;
    std::chrono::steady_clock::time_point start_;
    double own_seconds_ = 0.0; ///< time spent in calls without a record
    std::vector<int> iterations_;
    std::vector<double> mse_;
    std::vector<double> psnr_;
    std::vector<double> seconds_;
    std::vector<double> objective_;
    int rises_ = 0;
    int best_iteration_ = 0;
    double best_mse_ = std::numeric_limits<double>::infinity();
};

/// The reference monitor of image iterates.
using reference_monitor = basic_reference_monitor<image>;

} // namespace xrestore
