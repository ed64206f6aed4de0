// A debug build (NDEBUG not defined) checks the adjoint on entry without being asked.
#undef NDEBUG
#undef XRESTORE_CHECK_ADJOINT
#include <boost/test/unit_test.hpp>

#include <xrestore/denoisers/gaussian_denoiser.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/solvers/fista.hpp>
#include <xrestore/solvers/pnp.hpp>

#include <string>

BOOST_AUTO_TEST_SUITE(test_solver_adjoint_check_debug)

using namespace xrestore;

namespace {

static_assert(XRESTORE_CHECK_ADJOINT == 1, "debug builds check the adjoint in the solvers");

/// The forward map of a non-symmetric blur as its own adjoint.
struct forward_as_adjoint {
    using domain_type = image;
    using range_type = image;
    convolution blur;
    image apply(const image& x) const { return blur.apply(x); }
    image adjoint(const image& y) const { return blur.apply(y); }
    shape3 domain_shape() const { return blur.domain_shape(); }
    shape3 range_shape() const { return blur.range_shape(); }
};

} // namespace

BOOST_AUTO_TEST_CASE(solvers_refuse_a_wrong_adjoint_in_a_debug_build) {
    const shape3 shape{1, 16, 16};
    const forward_as_adjoint A{convolution(matrix{{0.0f, 0.6f, 0.4f}}, shape)};
    const image y = xt::ones<float>(shape);
    BOOST_CHECK_EXCEPTION(pnp_admm(A, y, gaussian_denoiser{}), adjoint_error,
                          [](const adjoint_error& e) {
                              return std::string(e.what()).find("pnp_admm: the adjoint of") == 0;
                          });
    BOOST_CHECK_EXCEPTION(fista(A, y), adjoint_error, [](const adjoint_error& e) {
        return std::string(e.what()).find("fista: the adjoint of") == 0;
    });
    // the library's blur passes
    BOOST_CHECK_NO_THROW(pnp_admm(A.blur, y, gaussian_denoiser{}, {.max_iter = 2}));
}

BOOST_AUTO_TEST_SUITE_END() // test_solver_adjoint_check_debug
