#pragma once
/// @file shifted_normal_solver.hpp
/// The x-update of ADMM, PnP-ADMM, half-quadratic splitting and the RED fixed point: solve
/// (A^T A + eta I) x = A^T y + eta c by conjugate gradient, for any linear operator A, keeping
/// A^T y and the work buffers between solves.
///
/// @code
/// xrestore::detail::shifted_normal_solver<Op> solver(A, y, eta, {.max_iter = 100, .tol = 1e-6});
/// solver.solve(c, x, true);  // x = (A^T A + eta I)^{-1} (A^T y + eta c), CG from x
/// @endcode

#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/solvers/cg.hpp"

#include <utility>

namespace xrestore::detail {

/// out = A^T A x, through A's normal() when it has one, else A^T (A x) with `ax` as the
/// range buffer.
template <linear_operator Op>
void normal_into(const Op& A, const domain_t<Op>& x, range_t<Op>& ax, domain_t<Op>& out) {
    if constexpr (has_normal<Op>) {
        out = A.normal(x);
    } else {
        xrestore::apply_into(A, x, ax);
        xrestore::adjoint_into(A, ax, out);
    }
}

/// Solves (A^T A + eta I) x = A^T y + eta c by CG: the x-update of ADMM, PnP-ADMM, HQS and the
/// RED fixed point. Holds A^T y and the work buffers, so repeated solves allocate only CG's.
template <linear_operator Op>
class shifted_normal_solver {
public:
    using V = domain_t<Op>;

    shifted_normal_solver(const Op& A, const range_t<Op>& y, double eta, cg_options cg)
        : A_(A), eta_(eta), cg_(cg), aty_(xrestore::zeros<V>(A.domain_shape())),
          rhs_(xrestore::zeros<V>(A.domain_shape())),
          ax_(xrestore::zeros<range_t<Op>>(A.range_shape())) {
        xrestore::adjoint_into(A, y, aty_); // A^T y
    }

    void set_eta(double eta) { eta_ = eta; }
    const V& aty() const { return aty_; }
    /// CG iterations of the last solve.
    int last_iterations() const { return last_iterations_; }

    /// x <- (A^T A + eta I)^{-1} (A^T y + eta c), CG from x itself (warm) or from 0.
    cg_stop solve(const V& c, V& x, bool warm) {
        xrestore::combine(1.0f, aty_, static_cast<float>(eta_), c, rhs_); // b = A^T y + eta c
        auto apply_c = [this](const V& in, V& out) {
            normal_into(A_, in, ax_, out);                     // out = A^T A in
            xrestore::axpy(static_cast<float>(eta_), in, out); // out += eta in
        };
        V start = warm ? std::move(x) : xrestore::zeros_like(rhs_);
        auto result = conjugate_gradient<V>(apply_c, rhs_, std::move(start), cg_);
        x = std::move(result.x);
        last_iterations_ = result.iterations;
        return result.stop;
    }

private:
    const Op& A_;
    double eta_;
    cg_options cg_;
    V aty_;
    V rhs_;
    range_t<Op> ax_;
    int last_iterations_ = 0;
};

} // namespace xrestore::detail
