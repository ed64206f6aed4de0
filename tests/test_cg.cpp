#include <boost/test/unit_test.hpp>

#include <xrestore/solvers/cg.hpp>

#include <xrestore/io/image.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/kernels.hpp>

#include <xtensor/xview.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_cg)

using namespace xrestore;

namespace {

using vec = tensor<1>;

vec make_vec(std::size_t n) {
    return vec(std::array<std::size_t, 1>{n});
}

/// Relative Euclidean distance ||a - b|| / ||b||, in double.
template <class V>
double relative_error(const V& a, const V& b) {
    V d = a;
    xrestore::axpy(-1.0f, b, d);
    return xrestore::norm(d) / xrestore::norm(b);
}

/// A dense SPD system C = M^T M + I (20 x 20, M standard normal), a known solution x* and
/// b = C x* (all in double, b rounded to float once).
struct dense_system {
    static constexpr std::size_t n = 20;
    std::vector<double> c = std::vector<double>(n * n);
    vec x_star = make_vec(n);
    vec b = make_vec(n);

    dense_system() {
        std::mt19937_64 rng(2024);
        std::normal_distribution<double> normal;
        std::vector<double> m(n * n);
        for (auto& v : m) {
            v = normal(rng);
        }
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
                double sum = i == j ? 1.0 : 0.0; // (M^T M + I)_ij
                for (std::size_t k = 0; k < n; ++k) {
                    sum += m[k * n + i] * m[k * n + j];
                }
                c[i * n + j] = sum;
            }
        }
        for (auto& v : x_star) {
            v = static_cast<float>(normal(rng));
        }
        b = apply(x_star);
    }
    /// C v, accumulated in double
    void apply_into(const vec& v, vec& out) const {
        for (std::size_t i = 0; i < n; ++i) {
            double sum = 0.0;
            for (std::size_t j = 0; j < n; ++j) {
                sum += c[i * n + j] * static_cast<double>(v(j));
            }
            out(i) = static_cast<float>(sum);
        }
    }
    vec apply(const vec& v) const {
        vec out = make_vec(n);
        apply_into(v, out);
        return out;
    }
    /// ||e||_C^2 = e^T C e in double
    double energy(const vec& e) const {
        double total = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
                total += static_cast<double>(e(i)) * c[i * n + j] * static_cast<double>(e(j));
            }
        }
        return total;
    }
};

/// C = I + L along the rows of an image, L the 1-D negative second difference with zero
/// (Dirichlet) ends: (C x)_j = 3 x_j - x_{j-1} - x_{j+1}. Symmetric with eigenvalues
/// 3 - 2 cos(k pi / (W + 1)) in (1, 5): SPD. Counts its applications.
struct row_laplacian_plus_identity {
    using domain_type = image;
    using range_type = image;
    shape3 shape;
    mutable int applications = 0;

    void apply_into(const image& x, image& out) const {
        ++applications;
        if (out.shape() != x.shape()) {
            out.resize(x.shape());
        }
        const std::size_t width = shape[2];
        for (std::size_t c = 0; c < shape[0]; ++c) {
            for (std::size_t i = 0; i < shape[1]; ++i) {
                for (std::size_t j = 0; j < width; ++j) {
                    const float left = j > 0 ? x(c, i, j - 1) : 0.0f;
                    const float right = j + 1 < width ? x(c, i, j + 1) : 0.0f;
                    out(c, i, j) = 3.0f * x(c, i, j) - left - right;
                }
            }
        }
    }
    image apply(const image& x) const {
        image out(shape);
        apply_into(x, out);
        return out;
    }
    image adjoint(const image& y) const { return apply(y); }
    shape3 domain_shape() const { return shape; }
    shape3 range_shape() const { return shape; }
};

/// The same operator without apply_into: the solver must fall back to apply().
struct row_laplacian_by_value {
    using domain_type = image;
    using range_type = image;
    row_laplacian_plus_identity inner;
    image apply(const image& x) const { return inner.apply(x); }
    image adjoint(const image& y) const { return inner.apply(y); }
    shape3 domain_shape() const { return inner.shape; }
    shape3 range_shape() const { return inner.shape; }
};

static_assert(square_operator<row_laplacian_plus_identity>);
static_assert(square_operator<row_laplacian_by_value>);
static_assert(std::is_aggregate_v<cg_options>);

image random_image(shape3 shape, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    return vector_space<image>::random(shape, rng);
}

} // namespace

BOOST_AUTO_TEST_CASE(diagonal_system_converges_in_as_many_steps_as_distinct_eigenvalues) {
    // C = diag(d) with d in {1, 2, 4}: the CG polynomial of degree 3 with roots 1, 2, 4 kills the
    // residual, so CG converges in exactly 3 iterations (in float: to ~1e-7).
    image d({1, 4, 4});
    const float values[3] = {1.0f, 2.0f, 4.0f};
    for (std::size_t k = 0; k < d.size(); ++k) {
        d.data()[k] = values[k % 3];
    }
    auto apply_diag = [&](const image& x, image& out) { out = d * x; };
    const image b = random_image({1, 4, 4}, 1);
    const auto result =
        conjugate_gradient(apply_diag, b, zeros_like(b), {.max_iter = 50, .tol = 1e-5});
    BOOST_TEST(to_string(result.stop) == std::string("converged"));
    BOOST_TEST(result.iterations == 3);
    BOOST_TEST(result.residual_history.size() == 4u);
    for (std::size_t k = 0; k < b.size(); ++k) {
        // x = b / d
        BOOST_TEST(result.x.data()[k] == b.data()[k] / d.data()[k],
                   boost::test_tools::tolerance(1e-5f));
    }

    // One step from x0 = 0 in closed form: x1 = alpha b with alpha = <b,b> / <b, D b>, and
    // ||r1|| = ||b - alpha D b||.
    const auto one = conjugate_gradient(apply_diag, b, zeros_like(b), {.max_iter = 1, .tol = 0.0});
    double bb = 0.0;
    double bdb = 0.0;
    for (std::size_t k = 0; k < b.size(); ++k) {
        bb += double(b.data()[k]) * b.data()[k];
        bdb += double(b.data()[k]) * d.data()[k] * b.data()[k];
    }
    const double alpha = bb / bdb;
    double r1 = 0.0;
    for (std::size_t k = 0; k < b.size(); ++k) {
        const double r = b.data()[k] - alpha * d.data()[k] * b.data()[k];
        r1 += r * r;
    }
    BOOST_TEST((one.stop == cg_stop::max_iterations));
    BOOST_TEST(one.iterations == 1);
    BOOST_TEST(one.residual_history[0] == 1.0);
    BOOST_TEST(one.residual_history[1] == std::sqrt(r1 / bb), boost::test_tools::tolerance(1e-5));
    for (std::size_t k = 0; k < b.size(); ++k) {
        BOOST_TEST(one.x.data()[k] == alpha * b.data()[k], boost::test_tools::tolerance(1e-6));
    }
}

BOOST_AUTO_TEST_CASE(dense_spd_system_recovers_known_solution) {
    const dense_system sys;
    std::vector<double> energies;
    auto record = [&](int k, const vec& x, double relative_residual) {
        BOOST_TEST(k == static_cast<int>(energies.size()) + 1);
        BOOST_TEST(std::isfinite(relative_residual));
        vec e = x;
        xrestore::axpy(-1.0f, sys.x_star, e);
        energies.push_back(sys.energy(e));
        return false;
    };
    const auto result =
        conjugate_gradient([&](const vec& v) { return sys.apply(v); }, sys.b, zeros_like(sys.b),
                           {.max_iter = 200, .tol = 1e-6}, record);
    BOOST_TEST((result.stop == cg_stop::converged));
    BOOST_TEST(relative_error(result.x, sys.x_star) <= 1e-4);
    // history: ||r_0|| / ||b|| = 1 from x0 = 0, one entry per iteration, above tol until the last
    const auto& h = result.residual_history;
    BOOST_TEST(h.size() == static_cast<std::size_t>(result.iterations) + 1);
    BOOST_TEST(h.front() == 1.0);
    BOOST_TEST(h.back() < 1e-6);
    for (std::size_t k = 0; k + 1 < h.size(); ++k) {
        BOOST_TEST(h[k] >= 1e-6);
    }
    BOOST_TEST(h.back() < 1e-4 * h[h.size() / 2 - 1] + 1e-6); // decreasing overall
    // CG minimises the C-norm of the error over growing Krylov spaces: it never increases (the
    // residual norm itself need not decrease monotonically). Float rounding allows a hair.
    BOOST_TEST(energies.size() == static_cast<std::size_t>(result.iterations));
    for (std::size_t k = 1; k < energies.size(); ++k) {
        BOOST_TEST(energies[k] <= energies[k - 1] * (1.0 + 1e-4) + 1e-10);
    }
    BOOST_TEST(energies.back() < 1e-6 * energies.front());
}

BOOST_AUTO_TEST_CASE(in_place_callable_matches_by_value_callable) {
    const dense_system sys;
    int in_place_calls = 0;
    int by_value_calls = 0;
    auto in_place = [&](const vec& v, vec& out) {
        ++in_place_calls;
        BOOST_TEST(out.size() == v.size()); // out already has the right shape
        sys.apply_into(v, out);
    };
    auto by_value = [&](const vec& v) {
        ++by_value_calls;
        return sys.apply(v);
    };
    vec x0 = make_vec(dense_system::n);
    x0.fill(0.25f);
    const cg_options options{.max_iter = 60, .tol = 1e-6};
    const auto a = conjugate_gradient(in_place, sys.b, x0, options);
    const auto b = conjugate_gradient(by_value, sys.b, x0, options);
    BOOST_TEST((a.stop == cg_stop::converged));
    BOOST_TEST(a.iterations == b.iterations);
    BOOST_TEST(a.x == b.x); // identical arithmetic, bit for bit
    BOOST_TEST(a.residual_history == b.residual_history, boost::test_tools::per_element());
    // one application for r0 = b - C x0, then one per iteration
    BOOST_TEST(in_place_calls == a.iterations + 1);
    BOOST_TEST(by_value_calls == b.iterations + 1);
    BOOST_TEST(relative_error(a.x, sys.x_star) <= 1e-4);
}

BOOST_AUTO_TEST_CASE(zero_rhs_returns_zero_without_iterating) {
    int calls = 0;
    auto identity = [&](const image& v) {
        ++calls;
        return v;
    };
    const image b = xt::zeros<float>({2, 3, 3});
    image x0 = random_image({2, 3, 3}, 5);
    const auto result = conjugate_gradient(identity, b, x0);
    BOOST_TEST((result.stop == cg_stop::zero_rhs));
    BOOST_TEST(result.iterations == 0);
    BOOST_TEST(calls == 0);
    BOOST_TEST(result.x == b);
    BOOST_TEST(result.residual_history.size() == 1u);
}

BOOST_AUTO_TEST_CASE(initial_guess_that_solves_converges_at_once) {
    auto twice = [](const vec& v) { return vec(2.0f * v); };
    vec b = make_vec(4);
    b = xt::arange<float>(1, 5);
    const auto result = conjugate_gradient(twice, b, vec(b / 2.0f));
    BOOST_TEST((result.stop == cg_stop::converged));
    BOOST_TEST(result.iterations == 0);
    BOOST_TEST(result.x == vec(b / 2.0f));
}

BOOST_AUTO_TEST_CASE(indefinite_and_singular_operators_break_down_cleanly) {
    auto diagonal = [](std::vector<float> d) {
        return [d](const vec& v, vec& out) {
            for (std::size_t i = 0; i < d.size(); ++i) {
                out(i) = d[i] * v(i);
            }
        };
    };
    vec b = make_vec(2);
    // indefinite diag(1, -1), b = (1, 1): <d, C d> = 1 - 1 = 0 at the first step
    b = {1.0f, 1.0f};
    auto r = conjugate_gradient(diagonal({1.0f, -1.0f}), b, zeros_like(b));
    BOOST_TEST((r.stop == cg_stop::breakdown));
    BOOST_TEST(r.iterations == 0);
    BOOST_TEST(r.x == zeros_like(b));
    // singular diag(1, 0), b = (0, 1) outside the range: C d = 0
    b = {0.0f, 1.0f};
    r = conjugate_gradient(diagonal({1.0f, 0.0f}), b, zeros_like(b));
    BOOST_TEST((r.stop == cg_stop::breakdown));
    BOOST_TEST(xt::all(xt::isfinite(r.x)));
    // singular diag(1, 0), b = (1, 1): step 1 gives x = (2, 2), r = (-1, 1), then d = (0, 2) and
    // C d = 0: breakdown at step 2 keeping x = (2, 2)
    b = {1.0f, 1.0f};
    r = conjugate_gradient(diagonal({1.0f, 0.0f}), b, zeros_like(b));
    BOOST_TEST((r.stop == cg_stop::breakdown));
    BOOST_TEST(r.iterations == 1);
    BOOST_TEST(r.x(0) == 2.0f);
    BOOST_TEST(r.x(1) == 2.0f);
    // an operator that returns NaN: stop with the finite start
    vec x0 = make_vec(2);
    x0 = {0.5f, -0.5f};
    auto nan_op = [](const vec& v) {
        return vec(xt::full_like(v, std::numeric_limits<float>::quiet_NaN()));
    };
    r = conjugate_gradient(nan_op, b, x0);
    BOOST_TEST((r.stop == cg_stop::breakdown));
    BOOST_TEST(r.x == x0);
    // SPD but the solution (1e60) does not fit in float: stop before x overflows
    b = {1e30f, 1e30f};
    r = conjugate_gradient(diagonal({1e-30f, 1e-30f}), b, zeros_like(b));
    BOOST_TEST((r.stop == cg_stop::breakdown));
    BOOST_TEST(xt::all(xt::isfinite(r.x)));
    // a random indefinite diagonal never yields NaN in x, whatever the stop reason
    std::mt19937_64 rng(3);
    std::normal_distribution<float> normal;
    std::vector<float> d(50);
    for (auto& v : d) {
        v = normal(rng);
    }
    vec b50 = make_vec(50);
    for (auto& v : b50) {
        v = normal(rng);
    }
    r = conjugate_gradient(diagonal(d), b50, zeros_like(b50), {.max_iter = 500});
    BOOST_TEST(xt::all(xt::isfinite(r.x)));
}

BOOST_AUTO_TEST_CASE(max_iter_is_respected_and_monitor_can_stop) {
    const dense_system sys;
    int calls = 0;
    auto counted = [&](const vec& v, vec& out) {
        ++calls;
        sys.apply_into(v, out);
    };
    const auto r =
        conjugate_gradient(counted, sys.b, zeros_like(sys.b), {.max_iter = 3, .tol = 1e-12});
    BOOST_TEST((r.stop == cg_stop::max_iterations));
    BOOST_TEST(r.iterations == 3);
    BOOST_TEST(r.residual_history.size() == 4u);
    BOOST_TEST(calls == 4);

    auto stop_at_two = [](int k, const vec&, double) { return k == 2; };
    const auto m = conjugate_gradient(counted, sys.b, zeros_like(sys.b), {}, stop_at_two);
    BOOST_TEST((m.stop == cg_stop::stopped_by_monitor));
    BOOST_TEST(m.iterations == 2);
    // the first two iterates are the same whichever the stopping rule
    BOOST_TEST(m.residual_history[2] == r.residual_history[2]);

    int seen = 0;
    auto observe = [&](int, const vec&, double) { ++seen; }; // a void monitor only observes
    const auto o = conjugate_gradient(counted, sys.b, zeros_like(sys.b), {.max_iter = 5}, observe);
    BOOST_TEST(seen == 5);
    BOOST_TEST((o.stop == cg_stop::max_iterations));
}

BOOST_AUTO_TEST_CASE(bad_options_and_shapes_are_refused) {
    auto identity = [](const image& v) { return v; };
    const image b = xt::ones<float>({1, 4, 4});
    BOOST_CHECK_THROW(conjugate_gradient(identity, b, zeros_like(b), {.max_iter = 0}), value_error);
    BOOST_CHECK_THROW(conjugate_gradient(identity, b, zeros_like(b), {.max_iter = -3}),
                      value_error);
    BOOST_CHECK_THROW(conjugate_gradient(identity, b, zeros_like(b), {.tol = -1e-3}), value_error);
    BOOST_CHECK_THROW(conjugate_gradient(identity, b, zeros_like(b), {.tol = std::nan("")}),
                      value_error);
    try {
        (void)conjugate_gradient(identity, b, image(xt::zeros<float>({1, 4, 5})));
        BOOST_FAIL("shape mismatch accepted");
    } catch (const shape_error& e) {
        BOOST_TEST(std::string(e.what()).find("1 x 4 x 5") != std::string::npos);
    }
    image bad = b;
    bad(0, 1, 1) = std::numeric_limits<float>::quiet_NaN();
    BOOST_CHECK_THROW(conjugate_gradient(identity, bad, zeros_like(b)), value_error);
    BOOST_CHECK_THROW(conjugate_gradient(identity, b, bad), value_error);

    const row_laplacian_plus_identity op{{1, 4, 5}};
    BOOST_CHECK_THROW(conjugate_gradient(op, b, zeros_like(b)), shape_error);

    BOOST_TEST(to_string(cg_stop::max_iterations) == std::string("max_iterations"));
    BOOST_TEST(to_string(cg_stop::breakdown) == std::string("breakdown"));
    BOOST_TEST(to_string(cg_stop::zero_rhs) == std::string("zero_rhs"));
    BOOST_TEST(to_string(cg_stop::stopped_by_monitor) == std::string("stopped_by_monitor"));
}

BOOST_AUTO_TEST_CASE(square_operator_overload_solves_laplacian_system) {
    const shape3 shape{2, 5, 24};
    const row_laplacian_plus_identity op{shape};
    const image x_star = random_image(shape, 9);
    const image b = op.apply(x_star);
    op.applications = 0;
    const auto result = conjugate_gradient(op, b, zeros_like(b), {.max_iter = 100, .tol = 1e-6});
    BOOST_TEST((result.stop == cg_stop::converged));
    BOOST_TEST(relative_error(result.x, x_star) <= 1e-5);
    // spectrum in (1, 5): condition number < 5, error factor (sqrt 5 - 1) / (sqrt 5 + 1) = 0.382
    // per step, so 1e-6 takes at most log(2e-6) / log(0.382) = 14 steps (with slack, 24 = W:
    // at most as many as distinct eigenvalues)
    BOOST_TEST(result.iterations <= 24);
    BOOST_TEST(op.applications == result.iterations + 1); // went through apply_into

    // the same operator without apply_into gives the same answer through apply()
    const row_laplacian_by_value by_value{{shape}};
    const auto again =
        conjugate_gradient(by_value, b, zeros_like(b), {.max_iter = 100, .tol = 1e-6});
    BOOST_TEST(again.x == result.x);

    // monitor form of the operator overload
    int seen = 0;
    const auto monitored =
        conjugate_gradient(op, b, zeros_like(b), {.tol = 1e-6},
                           [&](int, const image&, double) { return ++seen == 3; });
    BOOST_TEST((monitored.stop == cg_stop::stopped_by_monitor));
    BOOST_TEST(monitored.iterations == 3);
}

BOOST_AUTO_TEST_CASE(product_vectors_are_supported) {
    // C (u, v) = (2 u, 3 v): two distinct eigenvalues, two iterations
    using pv = product_vector<image, vec>;
    auto scale = [](const pv& p) {
        pv out = p;
        xrestore::scal(2.0f, out.first);
        xrestore::scal(3.0f, out.second);
        return out;
    };
    pv b{random_image({1, 3, 3}, 4), make_vec(5)};
    b.second = xt::arange<float>(1, 6);
    const auto result = conjugate_gradient(scale, b, zeros_like(b), {.tol = 1e-6});
    BOOST_TEST((result.stop == cg_stop::converged));
    BOOST_TEST(result.iterations == 2);
    for (std::size_t k = 0; k < 9; ++k) {
        BOOST_TEST(result.x.first.data()[k] == b.first.data()[k] / 2.0f,
                   boost::test_tools::tolerance(1e-5f));
    }
    for (std::size_t k = 0; k < 5; ++k) {
        BOOST_TEST(result.x.second(k) == b.second(k) / 3.0f, boost::test_tools::tolerance(1e-5f));
    }
}

BOOST_AUTO_TEST_CASE(tikhonov_deblurring_of_cameraman) {
    // (A^T A + eta I) x = A^T y with A a 7 x 7 box blur (reflect boundary), eta = 1e-3, y = A x
    const image photo = read_image(XRESTORE_DATA_DIR "/images/cameraman.png");
    const image truth = xt::view(photo, xt::all(), xt::range(96, 160), xt::range(224, 288));
    const shape3 shape{1, 64, 64};
    const convolution blur(box_kernel(7), shape, {.boundary = boundary::reflect});
    const image y = blur.apply(truth);
    const image rhs = blur.adjoint(y);
    const auto system = shifted_normal(blur, 1e-3);
    const double tol = 1e-5;
    const auto result =
        conjugate_gradient(system, rhs, zeros_like(rhs), {.max_iter = 500, .tol = tol});
    // (a) the CG criterion on the recursive residual
    BOOST_TEST((result.stop == cg_stop::converged));
    BOOST_TEST(result.residual_history.back() < tol);
    // (b) the true residual of the normal equations
    image residual = system.apply(result.x);
    xrestore::axpy(-1.0f, rhs, residual);
    const double true_residual = xrestore::norm(residual) / xrestore::norm(rhs);
    // float32 round-off lets the true residual drift slightly above the recursive one
    BOOST_TEST(true_residual <= tol * 2.0);
    // (c) better than the blurred image by at least 1 dB; PSNR = 10 log10(1 / MSE), peak 1
    auto psnr = [&](const image& x) {
        double sum = 0.0;
        for (std::size_t k = 0; k < x.size(); ++k) {
            const double e = double(x.data()[k]) - double(truth.data()[k]);
            sum += e * e;
        }
        return 10.0 * std::log10(static_cast<double>(x.size()) / sum);
    };
    const double blurred = psnr(y);
    const double restored = psnr(result.x);
    BOOST_TEST_MESSAGE("Tikhonov: blurred " << blurred << " dB, restored " << restored << " dB in "
                                            << result.iterations << " iterations, true residual "
                                            << true_residual);
    BOOST_TEST(restored >= blurred + 1.0);
}

BOOST_AUTO_TEST_SUITE_END() // test_cg
