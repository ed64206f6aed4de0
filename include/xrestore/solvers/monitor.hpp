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

#include "xrestore/core/cpu_backend.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/kernel_bodies.hpp"
#include "xrestore/core/squared_error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/core/vector_space.hpp"

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

/// Records MSE and PSNR of every iterate against a ground truth; optionally stops when the MSE
/// rises. Pass it by std::ref to keep the history in the caller's object. V is the vector type
/// of the iterates (images, device images): the MSE and the clipping run on V's backend, only the
/// scalar comes back, and it equals metrics' mse of the same arrays.
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
