#pragma once
// Central finite differences against a train/ layer's backward, in double precision. The loss
// is L = <w, layer.forward(x)> for a fixed random w, so dL/dy = w: backward(w) must give dL/dx
// and add dL/dtheta to every parameter's grad. Each analytic gradient is compared with
// (L(v + h) - L(v - h)) / (2 h) at every element (or at `max_probes` elements spread over the
// tensor): the relative error ||analytic - numeric|| / max(||numeric||, 1e-12) of each tensor
// must be at most `tolerance`.
#include <xrestore/train/parameter.hpp>

#include <boost/test/unit_test.hpp>

#include <xtensor/xarray.hpp>
#include <xtensor/xrandom.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace xrestore::test {

struct grad_check_options {
    double step = 1e-6;           ///< h of the central difference
    double tolerance = 1e-6;      ///< relative error allowed per tensor
    std::size_t max_probes = 400; ///< elements probed per tensor (all when the tensor is smaller)
    unsigned seed = 7;            ///< seed of w
};

/// The relative error of one gradient tensor against central differences of `loss` with
/// respect to the elements of `values` (probed in place and restored).
template <class Values, class Analytic, class Loss>
double finite_difference_error(Values& values, const Analytic& analytic, Loss&& loss,
                               const grad_check_options& o) {
    const std::size_t n = values.size();
    const std::size_t probes = std::min(n, o.max_probes);
    double diff2 = 0.0;
    double ref2 = 0.0;
    for (std::size_t k = 0; k < probes; ++k) {
        const std::size_t i = probes == n ? k : (k * (n - 1)) / (probes - 1);
        const double saved = values.data()[i];
        values.data()[i] = saved + o.step;
        const double plus = loss();
        values.data()[i] = saved - o.step;
        const double minus = loss();
        values.data()[i] = saved;
        const double numeric = (plus - minus) / (2.0 * o.step);
        const double d = analytic.data()[i] - numeric;
        diff2 += d * d;
        ref2 += numeric * numeric;
    }
    return std::sqrt(diff2) / std::max(std::sqrt(ref2), 1e-12);
}

/// Check dL/dx and dL/dtheta of `layer` at input `x` (see the file comment). Returns the worst
/// relative error and reports each tensor's through BOOST_CHECK_LE.
template <class Layer>
double check_layer_gradients(Layer& layer, train::tensor4<double> x,
                             const grad_check_options& o = {}) {
    xt::random::seed(o.seed);
    const train::tensor4<double> y0 = layer.forward(x);
    const train::tensor4<double> w = xt::random::randn<double>(y0.shape());
    auto loss = [&] {
        const train::tensor4<double> y = layer.forward(x);
        return static_cast<double>(xt::sum(w * y)());
    };
    // analytic gradients at x
    for (train::parameter<double>* p : layer.parameters()) {
        p->zero_grad();
    }
    static_cast<void>(layer.forward(x));
    const train::tensor4<double> dx = layer.backward(w);
    BOOST_REQUIRE(dx.shape() == x.shape());
    std::vector<xt::xarray<double>> grads;
    for (train::parameter<double>* p : layer.parameters()) {
        grads.push_back(p->grad);
    }
    double worst = finite_difference_error(x, dx, loss, o);
    BOOST_TEST_MESSAGE("dL/dx relative error " << worst);
    BOOST_CHECK_LE(worst, o.tolerance);
    std::size_t k = 0;
    for (train::parameter<double>* p : layer.parameters()) {
        const double e = finite_difference_error(p->value, grads[k++], loss, o);
        BOOST_TEST_MESSAGE("dL/d" << p->name << " relative error " << e);
        BOOST_CHECK_LE(e, o.tolerance);
        worst = std::max(worst, e);
    }
    return worst;
}

} // namespace xrestore::test
