// train/adam.hpp, train/sgd.hpp, train/lr_schedule.hpp, train/clip.hpp and train/state.hpp:
// trajectories of Adam, AdamW and SGD over 20 steps, the schedules and clip_grad_norm against
// torch.optim golden values (tests/data/train/optim_*.json, tools/dev/make_optim_golden.py),
// option errors, and a run resumed from a checkpoint (.pth and safetensors) bit-identical to an
// uninterrupted one.
#include <boost/test/unit_test.hpp>

#include <xrestore/io/pth.hpp>
#include <xrestore/io/pth_writer.hpp>
#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/train/adam.hpp>
#include <xrestore/train/clip.hpp>
#include <xrestore/train/lr_schedule.hpp>
#include <xrestore/train/sgd.hpp>
#include <xrestore/train/state.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <xtensor/xadapt.hpp>
#include <xtensor/xrandom.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_train_optim)

using namespace xrestore;
using namespace xrestore::train;
using json = nlohmann::json;

namespace {

json golden(const std::string& name) {
    std::ifstream in(std::filesystem::path(XRESTORE_TEST_DIR) / "data" / "train" / name);
    BOOST_REQUIRE_MESSAGE(in, "missing golden file " << name);
    return json::parse(in);
}

xt::xarray<double> array_of(const json& values, const json& shape) {
    const auto flat = values.get<std::vector<double>>();
    const auto extents = shape.get<std::vector<std::size_t>>();
    xt::xarray<double> a = xt::zeros<double>(extents);
    std::copy(flat.begin(), flat.end(), a.begin());
    return a;
}

double relative_error(double got, double want) {
    return std::abs(got - want) / std::max(std::abs(want), 1e-12);
}

/// The parameters of a golden case at their initial values.
std::vector<std::unique_ptr<parameter<double>>> initial_parameters(const json& c) {
    std::vector<std::unique_ptr<parameter<double>>> params;
    for (std::size_t k = 0; k < c["names"].size(); ++k) {
        params.push_back(std::make_unique<parameter<double>>(
            c["names"][k].get<std::string>(), array_of(c["initial"][k], c["shapes"][k])));
    }
    return params;
}

std::vector<parameter<double>*> pointers(const std::vector<std::unique_ptr<parameter<double>>>& v) {
    std::vector<parameter<double>*> out;
    for (const auto& p : v) {
        out.push_back(p.get());
    }
    return out;
}

/// Run opt over the case's gradients (setting the case's lr before each step) and compare every
/// parameter after every step with torch's; the largest relative error.
template <class Optimiser>
double run_case(const json& c, Optimiser& opt, const std::vector<parameter<double>*>& params) {
    double worst = 0.0;
    for (std::size_t t = 0; t < c["gradients"].size(); ++t) {
        opt.set_lr(c["lrs"][t].get<double>());
        for (std::size_t k = 0; k < params.size(); ++k) {
            params[k]->grad = array_of(c["gradients"][t][k], c["shapes"][k]);
        }
        opt.step();
        for (std::size_t k = 0; k < params.size(); ++k) {
            const auto want = c["values"][t][k].get<std::vector<double>>();
            BOOST_REQUIRE_EQUAL(want.size(), params[k]->value.size());
            for (std::size_t i = 0; i < want.size(); ++i) {
                worst = std::max(worst, relative_error(params[k]->value.data()[i], want[i]));
            }
        }
    }
    return worst;
}

} // namespace

BOOST_AUTO_TEST_CASE(adam_and_adamw_follow_torch) {
    const json cases = golden("optim_adam.json");
    BOOST_REQUIRE_EQUAL(cases.size(), 5U);
    for (const json& c : cases) {
        auto owned = initial_parameters(c);
        const auto params = pointers(owned);
        adam<double> opt(params, {.lr = c["lrs"][0].get<double>(),
                                  .beta1 = c["beta1"].get<double>(),
                                  .beta2 = c["beta2"].get<double>(),
                                  .eps = c["eps"].get<double>(),
                                  .weight_decay = c["weight_decay"].get<double>(),
                                  .decoupled_weight_decay = c["decoupled"].get<bool>()});
        const double err = run_case(c, opt, params);
        BOOST_TEST(err <= 1e-6, c["name"].get<std::string>() << ": relative error " << err);
        BOOST_TEST(opt.steps() == 20);
    }
}

BOOST_AUTO_TEST_CASE(sgd_follows_torch) {
    const json cases = golden("optim_sgd.json");
    BOOST_REQUIRE_EQUAL(cases.size(), 5U);
    for (const json& c : cases) {
        auto owned = initial_parameters(c);
        const auto params = pointers(owned);
        sgd<double> opt(params, {.lr = c["lrs"][0].get<double>(),
                                 .momentum = c["momentum"].get<double>(),
                                 .weight_decay = c["weight_decay"].get<double>(),
                                 .nesterov = c["nesterov"].get<bool>()});
        const double err = run_case(c, opt, params);
        BOOST_TEST(err <= 1e-6, c["name"].get<std::string>() << ": relative error " << err);
    }
}

BOOST_AUTO_TEST_CASE(adam_weight_decay_differs_from_adamw) {
    // the golden cases pin each; here the two must not coincide on the same data
    parameter<double> a{"w", xt::xarray<double>{1.0, -2.0}};
    parameter<double> b{"w", xt::xarray<double>{1.0, -2.0}};
    adam<double> l2({&a}, {.lr = 0.1, .weight_decay = 0.5});
    adam<double> decoupled({&b}, {.lr = 0.1, .weight_decay = 0.5, .decoupled_weight_decay = true});
    for (int t = 0; t < 3; ++t) {
        a.grad = xt::xarray<double>{0.3, 0.1};
        b.grad = a.grad;
        l2.step();
        decoupled.step();
    }
    BOOST_TEST(std::abs(a.value(0) - b.value(0)) > 1e-3);
}

BOOST_AUTO_TEST_CASE(schedules_follow_torch) {
    const json cases = golden("optim_schedules.json");
    BOOST_REQUIRE_EQUAL(cases.size(), 7U);
    for (const json& c : cases) {
        lr_schedule s;
        if (c["kind"] == "step") {
            s = step_lr{.base_lr = c["base_lr"].get<double>(),
                        .step_size = c["step_size"].get<std::int64_t>(),
                        .gamma = c["gamma"].get<double>()};
        } else {
            s = cosine_lr{.base_lr = c["base_lr"].get<double>(),
                          .warmup_steps = c["warmup_steps"].get<std::int64_t>(),
                          .total_steps = c["total_steps"].get<std::int64_t>(),
                          .min_lr = c["min_lr"].get<double>()};
        }
        const auto lrs = c["lrs"].get<std::vector<double>>();
        for (std::size_t t = 0; t < lrs.size(); ++t) {
            const double got = learning_rate(s, static_cast<std::int64_t>(t));
            BOOST_TEST(std::abs(got - lrs[t]) <= 1e-10 * c["base_lr"].get<double>(),
                       c["kind"].get<std::string>()
                           << " step " << t << ": " << got << " vs " << lrs[t]);
        }
    }
    // constant, and the cosine stays at min_lr past total_steps
    BOOST_TEST(learning_rate(lr_schedule{constant_lr{.lr = 0.25}}, 1000) == 0.25);
    const cosine_lr c{.base_lr = 1.0, .warmup_steps = 2, .total_steps = 10, .min_lr = 0.1};
    BOOST_TEST(learning_rate(c, 10) == 0.1);
    BOOST_TEST(learning_rate(c, 11) == 0.1);
    BOOST_TEST(learning_rate(c, 0) == 0.5);
    BOOST_TEST(learning_rate(c, 2) == 1.0);
}

BOOST_AUTO_TEST_CASE(clip_grad_norm_follows_torch) {
    const json cases = golden("optim_clip.json");
    BOOST_REQUIRE_EQUAL(cases.size(), 4U);
    int clipped = 0;
    for (const json& c : cases) {
        std::vector<std::unique_ptr<parameter<double>>> owned;
        const std::vector<std::string> names{"p0", "p1", "p2"};
        for (std::size_t k = 0; k < c["shapes"].size(); ++k) {
            auto p = std::make_unique<parameter<double>>(
                names.at(k), xt::zeros<double>(c["shapes"][k].get<std::vector<std::size_t>>()));
            p->grad = array_of(c["gradients"][k], c["shapes"][k]);
            owned.push_back(std::move(p));
        }
        const auto params = pointers(owned);
        const double norm = clip_grad_norm(params, c["max_norm"].get<double>());
        BOOST_TEST(relative_error(norm, c["norm"].get<double>()) <= 1e-12);
        clipped += norm > c["max_norm"].get<double>() ? 1 : 0;
        double worst = 0.0;
        for (std::size_t k = 0; k < params.size(); ++k) {
            const auto want = c["clipped"][k].get<std::vector<double>>();
            for (std::size_t i = 0; i < want.size(); ++i) {
                worst = std::max(worst, relative_error(params[k]->grad.data()[i], want[i]));
            }
        }
        BOOST_TEST(worst <= 1e-12, "max_norm " << c["max_norm"] << ": relative error " << worst);
        BOOST_TEST(grad_norm(params) <= c["max_norm"].get<double>() * (1 + 1e-12));
    }
    BOOST_TEST(clipped >= 2); // the cases clip some and leave others
    BOOST_TEST(clipped <= 3);
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused_clearly) {
    parameter<double> w{"w", xt::zeros<double>({2})};
    const std::vector<parameter<double>*> ps{&w};
    auto message = [](const std::function<void()>& f) -> std::string {
        try {
            f();
        } catch (const xrestore::error& e) {
            return e.what();
        }
        return "no error";
    };
    BOOST_TEST(message([&] { adam<double>(ps, {.lr = -1.0}); }) ==
               "adam: lr must be a finite number >= 0, got -1");
    BOOST_TEST(message([&] { adam<double>(ps, {.beta1 = 1.0}); }) ==
               "adam: beta1 must be in [0, 1), got 1");
    BOOST_TEST(message([&] { adam<double>(ps, {.beta2 = -0.5}); }) ==
               "adam: beta2 must be in [0, 1), got -0.5");
    BOOST_TEST(message([&] { adam<double>(ps, {.eps = -1e-8}); }) ==
               "adam: eps must be a finite number >= 0, got -1e-08");
    BOOST_TEST(message([&] { adam<double>(ps, {.weight_decay = -0.1}); }) ==
               "adam: weight_decay must be a finite number >= 0, got -0.1");
    BOOST_TEST(message([&] { adam<double>(ps).set_lr(std::nan("")); }) ==
               "adam::set_lr: lr must be a finite number >= 0, got nan");
    BOOST_TEST(message([&] { sgd<double>(ps, {.lr = -0.1}); }) ==
               "sgd: lr must be a finite number >= 0, got -0.1");
    BOOST_TEST(message([&] { sgd<double>(ps, {.momentum = -0.9}); }) ==
               "sgd: momentum must be a finite number >= 0, got -0.9");
    BOOST_TEST(message([&] { sgd<double>(ps, {.nesterov = true}); }) ==
               "sgd: momentum must be > 0 with nesterov, got 0");
    BOOST_TEST(message([&] { sgd<double>(ps, {.weight_decay = -1}); }) ==
               "sgd: weight_decay must be a finite number >= 0, got -1");
    parameter<double> twin{"w", xt::zeros<double>({1})};
    BOOST_TEST(message([&] {
                   adam<double>({&w, &twin});
               }) == "adam: parameter 1's name must be non-empty and unique, got a second 'w'");
    BOOST_TEST(message([&] {
                   sgd<double>({&w, nullptr});
               }) == "sgd: parameter 1 must be non-null, got a null pointer");
    BOOST_TEST(message([&] {
                   step_lr{.step_size = 0};
                   (void)learning_rate(step_lr{.step_size = 0}, 0);
               }) == "step_lr: step_size must be >= 1, got 0");
    BOOST_TEST(message([&] { (void)learning_rate(step_lr{}, -1); }) ==
               "step_lr: the step must be >= 0, got -1");
    BOOST_TEST(message([&] {
                   (void)learning_rate(cosine_lr{.warmup_steps = 5, .total_steps = 5}, 0);
               }) == "cosine_lr: warmup_steps must be in [0, total_steps), got 5");
    BOOST_TEST(message([&] { (void)learning_rate(cosine_lr{.base_lr = 0.1, .min_lr = 0.2}, 0); }) ==
               "cosine_lr: min_lr must be in [0, base_lr], got 0.2");
    BOOST_TEST(message([&] { (void)clip_grad_norm(ps, 0.0); }) ==
               "clip_grad_norm: max_norm must be a finite number > 0, got 0");
    w.grad = xt::zeros<double>({3});
    BOOST_TEST(message([&] { adam<double>(ps).step(); }) ==
               "adam::step: the gradient of 'w' must be of its value's shape 2, got 3");
}

namespace {

/// Three float parameters and a gradient for step t that depends on the values (so that a
/// resumed run with wrong parameters or state diverges).
struct toy_model {
    parameter<float> a{"conv.weight", xt::zeros<float>({2, 1, 3, 3})};
    parameter<float> b{"conv.bias", xt::zeros<float>({2})};
    parameter<float> c{"head.weight", xt::zeros<float>({1, 2})};

    toy_model() {
        xt::random::seed(7);
        a.value = xt::random::randn<float>(a.value.shape());
        b.value = xt::random::randn<float>(b.value.shape());
        c.value = xt::random::randn<float>(c.value.shape());
    }
    std::vector<parameter<float>*> parameters() { return {&a, &b, &c}; }
    void gradients(int t) {
        for (parameter<float>* p : parameters()) {
            for (std::size_t i = 0; i < p->value.size(); ++i) {
                const float v = p->value.data()[i];
                p->grad.data()[i] =
                    std::sin(3.0F * v + 0.7F * static_cast<float>(t + i)) + 0.1F * v;
            }
        }
    }
};

template <class Optimiser, class Options>
void resume_is_bit_identical(const Options& options, const std::string& format) {
    const cosine_lr schedule{.base_lr = 0.05, .warmup_steps = 3, .total_steps = 30, .min_lr = 1e-3};
    auto train = [&](toy_model& m, Optimiser& opt, int from, int to) {
        for (int t = from; t < to; ++t) {
            m.gradients(t);
            (void)clip_grad_norm(m.parameters(), 1.0);
            opt.set_lr(learning_rate(schedule, t));
            opt.step();
        }
    };
    toy_model straight;
    Optimiser uninterrupted(straight.parameters(), options);
    train(straight, uninterrupted, 0, 30);

    test::scratch_dir dir("xrestore_train_resume_");
    toy_model first;
    Optimiser before(first.parameters(), options);
    train(first, before, 0, 12);
    state_dict checkpoint = to_state_dict(first.parameters());
    before.save_state(checkpoint);
    const auto path = dir / ("checkpoint." + format);
    if (format == "pth") {
        write_pth(path, checkpoint);
    } else {
        write_safetensors(path, checkpoint);
    }

    toy_model resumed; // fresh values, overwritten from the file
    resumed.a.value += 1.0F;
    const state_dict loaded = load_weights(path);
    load_state_dict(resumed.parameters(), loaded);
    Optimiser after(resumed.parameters(), options);
    after.load_state(loaded);
    BOOST_TEST(after.steps(2) == 12);
    train(resumed, after, 12, 30);
    for (std::size_t k = 0; k < 3; ++k) {
        const auto& x = straight.parameters()[k]->value;
        const auto& y = resumed.parameters()[k]->value;
        BOOST_TEST(std::equal(x.begin(), x.end(), y.begin()), format << ": parameter " << k);
    }
    // and a run restarted without the optimiser state differs
    toy_model forgetful;
    load_state_dict(forgetful.parameters(), loaded);
    Optimiser fresh(forgetful.parameters(), options);
    train(forgetful, fresh, 12, 30);
    BOOST_TEST(
        !std::equal(forgetful.a.value.begin(), forgetful.a.value.end(), straight.a.value.begin()));
}

} // namespace

BOOST_AUTO_TEST_CASE(adam_resumes_bit_identically_from_a_checkpoint) {
    resume_is_bit_identical<adam<float>>(adam_options{.lr = 0.05, .weight_decay = 0.01}, "pth");
    resume_is_bit_identical<adam<float>>(
        adam_options{.lr = 0.05, .weight_decay = 0.1, .decoupled_weight_decay = true},
        "safetensors");
}

BOOST_AUTO_TEST_CASE(sgd_resumes_bit_identically_from_a_checkpoint) {
    resume_is_bit_identical<sgd<float>>(sgd_options{.lr = 0.05, .momentum = 0.9, .nesterov = true},
                                        "pth");
    resume_is_bit_identical<sgd<float>>(sgd_options{.lr = 0.05, .momentum = 0.5}, "safetensors");
}

BOOST_AUTO_TEST_CASE(optimiser_state_names_and_missing_tensors) {
    parameter<float> w{"layer.weight", xt::ones<float>({2, 2})};
    adam<float> opt({&w});
    w.grad = xt::ones<float>({2, 2});
    opt.step();
    state_dict sd;
    opt.save_state(sd);
    BOOST_TEST(sd.size() == 3U);
    BOOST_TEST(sd.at("adam.layer.weight.step").integers == std::vector<std::int64_t>{1});
    BOOST_TEST(sd.at("adam.layer.weight.exp_avg").values[0] == 0.1F);
    BOOST_TEST(sd.at("adam.layer.weight.exp_avg_sq").shape == (std::vector<std::size_t>{2, 2}));
    state_dict partial;
    partial.insert("adam.layer.weight.exp_avg", sd.at("adam.layer.weight.exp_avg"));
    try {
        opt.load_state(partial);
        BOOST_FAIL("a state without exp_avg_sq was accepted");
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "adam::load_state: the state must be a tensor 'adam.layer.weight.exp_avg_sq', "
                   "got none");
    }
    BOOST_TEST(opt.steps() == 1); // left as it was
    parameter<float> other{"layer.weight", xt::ones<float>({3})};
    sgd<float> s({&other});
    BOOST_CHECK_THROW(adam<float>({&other}).load_state(sd), shape_error);
    state_dict sgd_state;
    s.save_state(sgd_state);
    BOOST_TEST(sgd_state.at("sgd.layer.weight.step").integers == std::vector<std::int64_t>{0});
}

BOOST_AUTO_TEST_SUITE_END() // test_train_optim
