// Deep Image Prior's loop (train/deep_image_prior.hpp): the counter generator against the
// twin's numpy values, a 40-iteration inpainting run against the PyTorch twin from the same
// initial weights (tests/data/train/dip_run_*.safetensors, tools/dev/make_dip_golden.py), the
// rollback and early-stopping rules, determinism, and every refused input.
#include <boost/test/unit_test.hpp>

#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/state_dict.hpp>
#include <xrestore/operators/combinators.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/operators/kernels.hpp>
#include <xrestore/train/deep_image_prior.hpp>
#include <xrestore/train/state.hpp>

#include <xtensor/xmath.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_deep_image_prior)

using namespace xrestore;
namespace fs = std::filesystem;

namespace {

const fs::path train_dir = fs::path(XRESTORE_TEST_DIR) / "data" / "train";

image as_image(const weight_tensor& t) {
    BOOST_TEST_REQUIRE(t.shape.size() == 3U);
    image out = image::from_shape({t.shape[0], t.shape[1], t.shape[2]});
    std::copy(t.values.begin(), t.values.end(), out.begin());
    return out;
}

std::vector<std::size_t> size_list(const std::string& text) {
    std::vector<std::size_t> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        out.push_back(std::stoul(item));
    }
    return out;
}

/// A small smooth test image, 3 x h x w in [0.1, 0.9].
image smooth_image(std::size_t h, std::size_t w) {
    image x = image::from_shape({3, h, w});
    for (std::size_t c = 0; c < 3; ++c) {
        for (std::size_t i = 0; i < h; ++i) {
            for (std::size_t j = 0; j < w; ++j) {
                x(c, i, j) = static_cast<float>(0.5 + 0.4 * std::sin(0.3 * (i + 1) * (c + 1)) *
                                                          std::cos(0.2 * j));
            }
        }
    }
    return x;
}

train::dip_options small_options() {
    train::dip_options o;
    o.net.in_chans = 4;
    o.net.down = {6, 8};
    o.net.up = {6, 8};
    o.net.skip = {2, 2};
    o.iterations = 30;
    return o;
}

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

} // namespace

BOOST_AUTO_TEST_CASE(counter_generator_matches_the_twins_numpy) {
    // tools/dev/dip_torch.py: counter_uniform(0, 0, 3), counter_uniform(7, 1, 2),
    // counter_normal(0, 2, 3), counter_normal(123, 1001, 2)
    const train::detail::counter_rng u00(0, 0);
    BOOST_TEST(u00.uniform(0) == 0.6524484863740322, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(u00.uniform(1) == 0.1663964394676608, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(u00.uniform(2) == 0.5098789996255109, boost::test_tools::tolerance(1e-15));
    const train::detail::counter_rng u71(7, 1);
    BOOST_TEST(u71.uniform(0) == 0.9201069302882274, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(u71.uniform(1) == 0.6489336612975427, boost::test_tools::tolerance(1e-15));
    const train::detail::counter_rng n02(0, 2);
    BOOST_TEST(n02.normal(0) == 0.9775722818450644, boost::test_tools::tolerance(1e-13));
    BOOST_TEST(n02.normal(1) == -0.9572017639161673, boost::test_tools::tolerance(1e-13));
    BOOST_TEST(n02.normal(2) == -0.6020820482456489, boost::test_tools::tolerance(1e-13));
    const train::detail::counter_rng n(123, 1001);
    BOOST_TEST(n.normal(0) == -2.234793839580407, boost::test_tools::tolerance(1e-13));
    BOOST_TEST(n.normal(1) == -0.8538554048659693, boost::test_tools::tolerance(1e-13));
    // the normals have mean 0 and variance 1, and the two of a pair are uncorrelated
    double s = 0.0;
    double s2 = 0.0;
    double cross = 0.0;
    constexpr std::size_t count = 200000;
    for (std::size_t i = 0; i < count; ++i) {
        const double v = n.normal(i);
        s += v;
        s2 += v * v;
        if (i % 2 == 1) {
            cross += v * n.normal(i - 1);
        }
    }
    BOOST_TEST(std::abs(s / count) < 0.01);
    BOOST_TEST(std::abs(s2 / count - 1.0) < 0.01);
    BOOST_TEST(std::abs(cross / (count / 2)) < 0.01);
}

BOOST_AUTO_TEST_CASE(a_run_follows_the_pytorch_twin) {
    const state_dict all = read_safetensors(train_dir / "dip_run_inpaint_s2_32x32.safetensors");
    state_dict initial;
    for (const auto& [key, t] : all.entries()) {
        if (key.starts_with("weight.")) {
            initial.insert(key.substr(7), t);
        }
    }
    const auto& meta = all.metadata;
    train::dip_options o;
    o.net.in_chans = std::stoul(meta.at("in_chans"));
    o.net.out_chans = 3;
    o.net.down = size_list(meta.at("down"));
    o.net.up = size_list(meta.at("up"));
    o.net.skip = size_list(meta.at("skip"));
    o.iterations = std::stoul(meta.at("iterations"));
    o.holdout = std::stod(meta.at("holdout"));
    o.seed = std::stoull(meta.at("seed"));
    BOOST_TEST(std::stod(meta.at("lr")) == o.lr);
    BOOST_TEST(std::stod(meta.at("input_noise")) == o.input_noise);
    BOOST_TEST(std::stod(meta.at("average")) == o.average);
    BOOST_TEST(std::stod(meta.at("rollback_db")) == o.rollback_db);
    train::skip_net<float> net(o.net, 0);
    train::load_state_dict(net.parameters(), initial);

    const image mask = as_image(*all.find("mask"));
    const image y = as_image(*all.find("y"));
    const inpainting A(mask);
    const train::dip_result r = train::deep_image_prior(A, y, o, net);
    BOOST_TEST_REQUIRE(r.iterations == o.iterations);

    std::vector<double> reference;
    {
        std::stringstream in(meta.at("loss_series"));
        double v = 0.0;
        while (in >> v) {
            reference.push_back(v);
        }
    }
    BOOST_TEST_REQUIRE(reference.size() == o.iterations);
    // Both sides run float32 and their roundings differ. The runs agree closely at first and
    // then drift apart: Adam moves every parameter by about lr per step whatever the size of its
    // gradient, and the conv biases in front of a batch norm have an exact gradient of 0, so
    // their rounding noise (different on each side) becomes full steps. Measured on the 2-core
    // machine: iterations 1-8 within 3e-7 relative, then growing to 1e-2 by iteration 31
    // (0.05 dB of PSNR); the last output within 0.023, the average within 0.0013.
    double worst = 0.0;
    for (std::size_t t = 0; t < o.iterations; ++t) {
        const double e = std::abs(r.history[t].loss - reference[t]) / reference[t];
        if (t < 8) {
            BOOST_TEST(e < 1e-5, "iteration " << t + 1 << ": relative loss difference " << e);
        }
        worst = std::max(worst, e);
    }
    BOOST_TEST(worst < 0.05, "worst relative loss difference " << worst);
    BOOST_TEST_MESSAGE("loss against the twin: first " << r.history[0].loss << " vs "
                                                       << reference[0] << ", worst relative "
                                                       << worst);
    const auto* held = all.find("heldout");
    const auto* rolled = all.find("rolled_back");
    for (std::size_t t = 0; t < o.iterations; ++t) {
        BOOST_TEST(r.history[t].rolled_back == (rolled->values[t] != 0.0F));
        BOOST_TEST(r.history[t].heldout == held->values[t], boost::test_tools::tolerance(0.05));
    }
    const image x = as_image(*all.find("x"));
    const image x_avg = as_image(*all.find("x_avg"));
    const double dx = xt::amax(xt::abs(r.x - x))();
    const double davg = xt::amax(xt::abs(r.x_avg - x_avg))();
    BOOST_TEST_MESSAGE("max |x - twin| " << dx << ", max |x_avg - twin| " << davg);
    BOOST_TEST(dx < 0.1);
    BOOST_TEST(davg < 0.01);
}

BOOST_AUTO_TEST_CASE(fits_the_measurements_deterministically) {
    const image truth = smooth_image(16, 20);
    const auto A = identity({3, 16, 20});
    train::dip_options o = small_options();
    o.iterations = 60;
    const train::dip_result a = train::deep_image_prior(A, truth, o);
    const train::dip_result b = train::deep_image_prior(A, truth, o);
    BOOST_TEST(a.history.size() == 60U);
    BOOST_TEST(a.history.back().loss < 0.2 * a.history.front().loss);
    BOOST_TEST(a.x == b.x); // same seed, same bits
    BOOST_TEST(a.x_avg == b.x_avg);
    o.seed = 1;
    const train::dip_result c = train::deep_image_prior(A, truth, o);
    BOOST_TEST(c.history.front().loss != a.history.front().loss);
    // the average is a = 0.99 a + 0.01 x from the first output
    BOOST_TEST(double(xt::amax(xt::abs(a.x_avg - a.x))()) > 0.0);
    // no rule enabled: nothing recorded
    BOOST_TEST(a.heldout_iteration == 0U);
    BOOST_TEST(a.variance_iteration == 0U);
    BOOST_TEST(std::isnan(a.history.back().heldout));
}

/// A with its adjoint replaced by A itself: the wrong gradient for an asymmetric kernel.
template <class Op>
struct adjoint_replaced_by_apply {
    using domain_type = image;
    using range_type = image;
    Op op;
    image apply(const image& x) const { return op.apply(x); }
    image adjoint(const image& y) const { return op.apply(y); }
    shape3 domain_shape() const { return op.domain_shape(); }
    shape3 range_shape() const { return op.range_shape(); }
};

BOOST_AUTO_TEST_CASE(deblurring_and_a_composition_fit_through_the_adjoint) {
    // A = a one-sided blur (reflect boundary), and A = mask o blur: each iteration's loss is
    // ||A f - y||^2 / m of the output the monitor sees, and the gradient 2 A^T r / m fits y
    // better than the same run with A in place of A^T
    const image truth = smooth_image(16, 16);
    matrix kernel = xt::zeros<float>({std::size_t{3}, std::size_t{3}});
    kernel(1, 1) = 0.4F;
    kernel(1, 2) = 0.35F;
    kernel(2, 2) = 0.25F;
    const convolution K(kernel, {3, 16, 16}, {.boundary = boundary::reflect});
    image mask = xt::ones<float>({std::size_t{3}, std::size_t{16}, std::size_t{16}});
    for (std::size_t i = 0; i < mask.size(); i += 3) {
        mask.data()[i] = 0.0F;
    }
    const auto run = [&](const auto& A, const image& y) {
        train::dip_options o = small_options();
        o.iterations = 80;
        double worst = 0.0;
        const train::dip_result r =
            train::deep_image_prior(A, y, o, [&](const train::dip_step& step) {
                const image d = A.apply(step.x) - y;
                const double direct = double(xt::sum(d * d)()) / static_cast<double>(y.size());
                worst = std::max(worst, std::abs(direct - step.record.loss) / direct);
                return true;
            });
        BOOST_TEST(worst < 1e-5);
        return std::pair{r.history.front().loss, r.history.back().loss};
    };
    const auto check = [&](const auto& A) {
        const image y = A.apply(truth);
        const auto [first, last] = run(A, y);
        const auto [wrong_first, wrong_last] = run(adjoint_replaced_by_apply<decltype(A)>{A}, y);
        BOOST_TEST_MESSAGE("loss " << first << " -> " << last << ", with A for A^T -> "
                                   << wrong_last);
        BOOST_TEST(wrong_first == first); // the same start
        BOOST_TEST(last < 0.2 * first);
        BOOST_TEST(last < 0.8 * wrong_last); // measured: 0.63x (blur), 0.55x (mask o blur)
    };
    check(K);
    check(compose(inpainting(mask), K));
}

BOOST_AUTO_TEST_CASE(rollback_restores_after_a_collapse) {
    // A learning rate of 5 makes the fit collapse: the rule restores the last accepted weights
    const image truth = smooth_image(16, 16);
    const auto A = identity({3, 16, 16});
    train::dip_options o = small_options();
    o.lr = 5.0;
    o.iterations = 40;
    const train::dip_result r = train::deep_image_prior(A, truth, o);
    BOOST_TEST(r.rollbacks > 0U);
    std::size_t flagged = 0;
    for (std::size_t t = 0; t < r.history.size(); ++t) {
        if (r.history[t].rolled_back) {
            ++flagged;
            BOOST_TEST_REQUIRE(t > 0U);
            // rolled back because this fit fell more than 5 dB below the last accepted one
            double accepted = -1e300;
            for (std::size_t k = t; k-- > 0;) {
                if (!r.history[k].rolled_back) {
                    accepted = r.history[k].fit_psnr;
                    break;
                }
            }
            BOOST_TEST(r.history[t].fit_psnr < accepted - 5.0);
        }
    }
    BOOST_TEST(flagged == r.rollbacks);
    o.rollback_db = std::numeric_limits<double>::infinity();
    BOOST_TEST(train::deep_image_prior(A, truth, o).rollbacks == 0U);
}

BOOST_AUTO_TEST_CASE(held_out_rule_on_the_running_average) {
    // the averaged output's held-out error, recomputed from the monitor's averages with the
    // run's held-out mask, and the average kept at its minimum
    const image truth = smooth_image(16, 16);
    image noisy = truth;
    const train::detail::counter_rng rng(5, 9);
    for (std::size_t i = 0; i < noisy.size(); ++i) {
        noisy.data()[i] += static_cast<float>(0.2 * rng.normal(i));
    }
    const auto A = identity({3, 16, 16});
    train::dip_options o = small_options();
    o.iterations = 150;
    o.holdout = 0.2;
    const image fit = train::dip_fit_mask({3, 16, 16}, o.holdout, o.seed);
    double held = 0.0;
    for (float v : fit) {
        held += 1.0 - v;
    }
    std::vector<double> errors;
    double best = 1e300;
    image best_average;
    const train::dip_result r = train::deep_image_prior(A, noisy, o, [&](const train::dip_step& s) {
        double e = 0.0;
        for (std::size_t i = 0; i < noisy.size(); ++i) {
            const double d =
                (static_cast<double>(s.x_avg.data()[i]) - noisy.data()[i]) * (1.0 - fit.data()[i]);
            e += d * d;
        }
        errors.push_back(e / held);
        if (e / held < best) {
            best = e / held;
            best_average = s.x_avg;
        }
        return true;
    });
    BOOST_REQUIRE(errors.size() == r.history.size());
    std::size_t at = 0;
    for (std::size_t t = 0; t < errors.size(); ++t) {
        BOOST_TEST(r.history[t].heldout_average == errors[t], boost::test_tools::tolerance(1e-6));
        at = errors[t] == best ? t + 1 : at;
    }
    BOOST_TEST(r.avg_heldout_iteration == at);
    BOOST_TEST(r.avg_heldout_iteration > 1U); // the average improves on its first value
    BOOST_TEST(xt::amax(xt::abs(r.x_avg_heldout - best_average))() == 0.0F);
    // off without a held-out fraction
    o.holdout = 0.0;
    const train::dip_result off = train::deep_image_prior(A, noisy, o);
    BOOST_TEST(off.avg_heldout_iteration == 0U);
    BOOST_TEST(std::isnan(off.history.back().heldout_average));
}

BOOST_AUTO_TEST_CASE(held_out_and_variance_rules_stop_and_keep_their_best) {
    const image truth = smooth_image(16, 16);
    image noisy = truth;
    const train::detail::counter_rng rng(3, 9);
    for (std::size_t i = 0; i < noisy.size(); ++i) {
        noisy.data()[i] += static_cast<float>(0.2 * rng.normal(i));
    }
    const auto A = identity({3, 16, 16});
    train::dip_options o = small_options();
    o.iterations = 400;
    o.holdout = 0.2;
    o.variance_window = 10;
    o.stop_on = train::dip_stop::heldout;
    o.patience = 20;
    const train::dip_result r = train::deep_image_prior(A, noisy, o);
    BOOST_TEST(r.stopped_early);
    BOOST_TEST(r.iterations == r.heldout_iteration + o.patience);
    double best = 1e300;
    std::size_t at = 0;
    for (const auto& rec : r.history) {
        if (rec.heldout < best) {
            best = rec.heldout;
            at = rec.iteration;
        }
    }
    BOOST_TEST(at == r.heldout_iteration);
    BOOST_TEST(r.variance_iteration >= o.variance_window);
    BOOST_TEST(std::isnan(r.history[o.variance_window - 2].variance));
    BOOST_TEST(!std::isnan(r.history[o.variance_window - 1].variance));
    // the variance of a window is that of its outputs: recompute the last window's from scratch
    // is not possible here (the outputs are not kept), so check its minimum's bookkeeping
    double best_var = 1e300;
    std::size_t var_at = 0;
    for (const auto& rec : r.history) {
        if (!std::isnan(rec.variance) && rec.variance < best_var) {
            best_var = rec.variance;
            var_at = rec.iteration;
        }
    }
    BOOST_TEST(var_at == r.variance_iteration);
    // the variance rule stops on its own
    o.stop_on = train::dip_stop::variance;
    const train::dip_result v = train::deep_image_prior(A, noisy, o);
    BOOST_TEST(v.stopped_early);
    BOOST_TEST(v.iterations == v.variance_iteration + o.patience);
    // a monitor can stop the run
    std::size_t seen = 0;
    const train::dip_result m =
        train::deep_image_prior(A, noisy, small_options(), [&](const train::dip_step& s) {
            ++seen;
            return s.record.iteration < 5;
        });
    BOOST_TEST(m.interrupted);
    BOOST_TEST(m.iterations == 5U);
    BOOST_TEST(seen == 5U);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_with_its_name) {
    const image truth = smooth_image(16, 16);
    const auto A = identity({3, 16, 16});
    const auto message = [&](train::dip_options o, const image& y) {
        return error_of([&] { (void)train::deep_image_prior(A, y, o); });
    };
    train::dip_options o = small_options();
    o.lr = std::nan("");
    BOOST_TEST(message(o, truth).find("lr") != std::string::npos);
    o = small_options();
    o.average = 1.0;
    BOOST_TEST(message(o, truth).find("average") != std::string::npos);
    o = small_options();
    o.holdout = 0.7;
    BOOST_TEST(message(o, truth).find("holdout") != std::string::npos);
    o = small_options();
    o.stop_on = train::dip_stop::heldout;
    BOOST_TEST(message(o, truth).find("> 0 when stop_on is heldout") != std::string::npos);
    o = small_options();
    o.stop_on = train::dip_stop::variance;
    BOOST_TEST(message(o, truth).find("variance_window") != std::string::npos);
    o = small_options();
    o.iterations = 0;
    BOOST_TEST(message(o, truth).find("iterations") != std::string::npos);
    o = small_options();
    BOOST_TEST(message(o, smooth_image(16, 12)).find("the operator's range") != std::string::npos);
    image bad = truth;
    bad(1, 2, 3) = std::nanf("");
    BOOST_TEST(message(o, bad).find("NaN") != std::string::npos);
    const auto odd = identity({3, 18, 16});
    const std::string size =
        error_of([&] { (void)train::deep_image_prior(odd, smooth_image(18, 16), o); });
    BOOST_TEST(size.find("multiples of 2^2 = 4") != std::string::npos, size);
    o.net.out_chans = 1;
    BOOST_TEST(message(o, truth).find("out_chans") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END() // test_train_deep_image_prior
