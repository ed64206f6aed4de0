#include <boost/test/unit_test.hpp>

// PSNR-HVS and PSNR-HVS-M against tests/golden/psnr_hvs.json (tools/dev/make_psnr_hvs_golden.py):
// the script's numpy version of psnrhvsm.m, which agrees with the PyPI package psnr_hvsm (numpy
// and C++ backends) to 1e-15 on these cases, on the test arrays of tests/golden/metrics.json
// (grey and RGB; noise, blur, quantisation, inpainting; identical pairs), crops to sizes that are
// not multiples of 8, the three colour reductions, steps 4 and 3, data range 255, and masks
// (random, inverted, a rectangle, all ones). Then the properties and the errors.

#include "golden_arrays.hpp"

#include <xrestore/metrics/psnr_hvs.hpp>

#include <nlohmann/json.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <fstream>
#include <string>

#if defined(_OPENMP)
#include <omp.h>
#endif

BOOST_AUTO_TEST_SUITE(test_metrics_psnr_hvs)

using namespace xrestore;
using json = nlohmann::json;

namespace {

// Both sides compute in double from the same float32 arrays; the summation orders differ (the
// worst difference seen is 6e-16).
constexpr double tol = 1e-12;

const json& metrics() {
    static const json g = test::golden_json("metrics.json");
    return g;
}

const json& golden() {
    static const json g = test::golden_json("psnr_hvs.json");
    return g;
}

image load(const std::string& key) {
    return test::load_golden_array(metrics().at("arrays").at(key));
}

// rows r0:r1 and columns c0:c1 of x (the whole of x for a null crop)
image crop(const image& x, const json& c) {
    if (c.is_null()) {
        return x;
    }
    return xt::view(x, xt::all(), xt::range(c.at(0).get<std::size_t>(), c.at(1).get<std::size_t>()),
                    xt::range(c.at(2).get<std::size_t>(), c.at(3).get<std::size_t>()));
}

void check(const std::string& what, double got, double want) {
    if (want == psnr_hvs_identical) { // a sum of exactly 0: the same constant
        BOOST_TEST(got == want, what << ": got " << got << ", reference " << want);
        return;
    }
    const double rel = std::abs(got - want) / std::abs(want);
    BOOST_TEST(rel <= tol, what << ": got " << got << ", reference " << want << " (relative error "
                                << rel << ")");
}

psnr_hvs_options variant(const std::string& name) {
    if (name == "luma") {
        return {.colour = psnr_hvs_colour::luma};
    }
    if (name == "channel_mean") {
        return {.colour = psnr_hvs_colour::channel_mean};
    }
    if (name == "step_4") {
        return {.step = 4};
    }
    if (name == "step_3_luma") {
        return {.colour = psnr_hvs_colour::luma, .step = 3};
    }
    if (name == "data_range_255") {
        return {.data_range = 255.0};
    }
    BOOST_REQUIRE_MESSAGE(name == "default", "unknown variant " << name);
    return {};
}

image cameraman() {
    return load("cameraman77x61_ref");
}

} // namespace

BOOST_AUTO_TEST_CASE(psnr_hvs_matches_reference) {
    const json& cases = golden().at("cases");
    BOOST_TEST(cases.size() >= 18u);
    BOOST_TEST(golden().at("identical_value").get<double>() == psnr_hvs_identical);
    std::size_t checked = 0;
    for (const json& c : cases) {
        const std::string name =
            c.at("image").get<std::string>() + (c.at("crop").is_null() ? "" : " cropped");
        const image ref0 = crop(load(c.at("reference").get<std::string>()), c.at("crop"));
        const image img0 = crop(load(c.at("image").get<std::string>()), c.at("crop"));
        for (const auto& [key, want] : c.at("values").items()) {
            const psnr_hvs_options options = variant(key);
            const bool scaled = key == "data_range_255";
            const image ref = scaled ? image(ref0 * 255.0f) : ref0;
            const image img = scaled ? image(img0 * 255.0f) : img0;
            const std::string what = name + " " + key;
            const double hvs = want.at("psnr_hvs").get<double>();
            const double hvs_m = want.at("psnr_hvs_m").get<double>();
            check(what + " psnr_hvs", psnr_hvs(ref, img, options), hvs);
            check(what + " psnr_hvs_m", psnr_hvs_m(ref, img, options), hvs_m);
            const psnr_hvs_result both = psnr_hvs_both(ref, img, options);
            check(what + " both.psnr_hvs", both.psnr_hvs, hvs);
            check(what + " both.psnr_hvs_m", both.psnr_hvs_m, hvs_m);
            checked += 4;
        }
    }
    BOOST_TEST(checked >= 300u);
}

BOOST_AUTO_TEST_CASE(psnr_hvs_masked_matches_reference) {
    const json& rects = golden().at("rects");
    std::size_t checked = 0;
    for (const json& c : golden().at("cases")) {
        if (!c.contains("masked")) {
            continue;
        }
        const std::string set = c.at("reference").get<std::string>();
        const std::string set_name = set.substr(0, set.size() - 4); // without "_ref"
        const image ref = load(set);
        const image img = load(c.at("image").get<std::string>());
        const image mask = load(set_name + "_mask");
        image rect = xt::zeros_like(mask);
        const json& r = rects.at(set_name);
        xt::view(rect, 0, xt::range(r.at(0).get<std::size_t>(), r.at(1).get<std::size_t>()),
                 xt::range(r.at(2).get<std::size_t>(), r.at(3).get<std::size_t>())) = 1.0f;
        for (const json& m : c.at("masked")) {
            const std::string kind = m.at("mask").get<std::string>();
            const image used = kind == "mask"       ? mask
                               : kind == "inverted" ? image(1.0f - mask)
                               : kind == "rect"     ? rect
                                                    : image(xt::ones_like(mask));
            const std::string key = m.at("options").get<std::string>();
            const psnr_hvs_options options = variant(key);
            const std::string what = c.at("image").get<std::string>() + " " + kind + " " + key;
            const double hvs = psnr_hvs_masked(ref, img, used, options);
            const double hvs_m = psnr_hvs_m_masked(ref, img, used, options);
            check(what + " psnr_hvs_masked", hvs, m.at("psnr_hvs").get<double>());
            check(what + " psnr_hvs_m_masked", hvs_m, m.at("psnr_hvs_m").get<double>());
            const psnr_hvs_result both = psnr_hvs_both_masked(ref, img, used, options);
            BOOST_TEST(both.psnr_hvs == hvs);
            BOOST_TEST(both.psnr_hvs_m == hvs_m);
            if (kind == "all ones") { // the same sums in the same order
                BOOST_TEST(hvs == psnr_hvs(ref, img, options));
                BOOST_TEST(hvs_m == psnr_hvs_m(ref, img, options));
            }
            checked += 2;
        }
    }
    BOOST_TEST(checked >= 100u);
}

BOOST_AUTO_TEST_CASE(psnr_hvs_properties) {
    const image x = load("butterfly96_ref");
    const image y = load("butterfly96_noise");
    // symmetric, exactly: |D_A - D_B| and max(m(A), m(B)) do not depend on the order
    BOOST_TEST(psnr_hvs(x, y) == psnr_hvs(y, x));
    BOOST_TEST(psnr_hvs_m(x, y) == psnr_hvs_m(y, x));
    // masking only lowers the differences
    BOOST_TEST(psnr_hvs_m(x, y) > psnr_hvs(x, y));
    BOOST_TEST(psnr_hvs(x, x) == psnr_hvs_identical);
    BOOST_TEST(psnr_hvs_m(x, x) == psnr_hvs_identical);

    // rows and columns past the last whole block do not count: 91 x 85 uses 88 x 80
    const image a = xt::view(x, xt::all(), xt::range(0, 91), xt::range(0, 85));
    image b = xt::view(y, xt::all(), xt::range(0, 91), xt::range(0, 85));
    const double before = psnr_hvs_m(a, b);
    xt::view(b, xt::all(), xt::range(88, 91), xt::all()) = 0.0f;
    xt::view(b, xt::all(), xt::all(), xt::range(80, 85)) = 1.0f;
    BOOST_TEST(psnr_hvs_m(a, b) == before);
    b(0, 87, 79) = 0.5f; // inside the last block: it counts
    BOOST_TEST(psnr_hvs_m(a, b) != before);

    // a grey image as three equal channels: the luma and the channel mean give back the grey
    // plane (up to rounding); the YCbCr Y is 16 + 219 t and scores otherwise
    const image g = cameraman();
    const image h = load("cameraman77x61_noise");
    const image g3 = xt::concatenate(xt::xtuple(g, g, g), 0);
    const image h3 = xt::concatenate(xt::xtuple(h, h, h), 0);
    for (const auto colour : {psnr_hvs_colour::luma, psnr_hvs_colour::channel_mean}) {
        const psnr_hvs_result grey = psnr_hvs_both(g, h);
        const psnr_hvs_result rgb = psnr_hvs_both(g3, h3, {.colour = colour});
        BOOST_TEST(std::abs(rgb.psnr_hvs - grey.psnr_hvs) < 1e-11 * grey.psnr_hvs);
        BOOST_TEST(std::abs(rgb.psnr_hvs_m - grey.psnr_hvs_m) < 1e-11 * grey.psnr_hvs_m);
    }
    BOOST_TEST(std::abs(psnr_hvs(g3, h3) - psnr_hvs(g, h)) > 0.5);

    // a block counts when the mask selects at least 32 of its 64 pixels
    const image one_a = xt::view(g, xt::all(), xt::range(0, 8), xt::range(0, 8));
    const image one_b = xt::view(h, xt::all(), xt::range(0, 8), xt::range(0, 8));
    image half = xt::zeros<float>({std::size_t{1}, std::size_t{8}, std::size_t{8}});
    xt::view(half, 0, xt::range(0, 4), xt::all()) = 1.0f; // 32 pixels
    BOOST_TEST(psnr_hvs_masked(one_a, one_b, half) == psnr_hvs(one_a, one_b));
    half(0, 3, 7) = 0.0f; // 31 pixels
    BOOST_CHECK_EXCEPTION(psnr_hvs_masked(one_a, one_b, half), value_error,
                          [](const value_error& e) {
                              return std::string(e.what()).find("psnr_hvs_masked: the mask "
                                                                "selects no 8 x 8 block") == 0;
                          });
}

#if defined(_OPENMP)
BOOST_AUTO_TEST_CASE(psnr_hvs_independent_of_thread_count) {
    const image x = load("cameraman184x177_ref");
    const image y = load("cameraman184x177_noise");
    const int threads = omp_get_max_threads();
    const psnr_hvs_result many = psnr_hvs_both(x, y, {.step = 3});
    omp_set_num_threads(1);
    const psnr_hvs_result one = psnr_hvs_both(x, y, {.step = 3});
    omp_set_num_threads(threads);
    BOOST_TEST(many.psnr_hvs == one.psnr_hvs);
    BOOST_TEST(many.psnr_hvs_m == one.psnr_hvs_m);
}
#endif

BOOST_AUTO_TEST_CASE(psnr_hvs_rejects_bad_input) {
    const auto starts = [](std::string_view prefix, std::string_view part) {
        return [prefix, part](const xrestore::error& e) {
            const std::string what = e.what();
            return what.rfind(prefix, 0) == 0 && what.find(part) != std::string::npos;
        };
    };
    const image x = cameraman(); // 1 x 77 x 61
    const image wider = xt::view(x, xt::all(), xt::range(0, 60), xt::all());
    BOOST_CHECK_EXCEPTION(psnr_hvs(x, wider), shape_error,
                          starts("psnr_hvs: ", "the reference's shape"));
    BOOST_CHECK_EXCEPTION(psnr_hvs_m(x, wider), shape_error,
                          starts("psnr_hvs_m: ", "the reference's shape"));
    image nan = x;
    nan(0, 10, 10) = std::nanf("");
    BOOST_CHECK_EXCEPTION(psnr_hvs(x, nan), value_error, starts("psnr_hvs: ", "finite"));
    BOOST_CHECK_EXCEPTION(psnr_hvs_m(nan, x), value_error, starts("psnr_hvs_m: ", "finite"));
    image inf = x;
    inf(0, 0, 0) = INFINITY;
    BOOST_CHECK_THROW(psnr_hvs_both(inf, x), value_error);

    const image short7 = xt::view(x, xt::all(), xt::range(0, 7), xt::all());
    BOOST_CHECK_EXCEPTION(psnr_hvs(short7, short7), shape_error,
                          starts("psnr_hvs: ", "at least one 8 x 8 block, got 1 x 7 x 61"));
    const image narrow7 = xt::view(x, xt::all(), xt::all(), xt::range(0, 7));
    BOOST_CHECK_EXCEPTION(psnr_hvs_m(narrow7, narrow7), shape_error,
                          starts("psnr_hvs_m: ", "at least one 8 x 8 block"));
    const image smallest = xt::view(x, xt::all(), xt::range(0, 8), xt::range(0, 8));
    BOOST_TEST(std::isfinite(psnr_hvs(smallest, smallest * 0.5f)));
    const image two = xt::zeros<float>({std::size_t{2}, std::size_t{77}, std::size_t{61}});
    BOOST_CHECK_EXCEPTION(psnr_hvs(two, two), shape_error, starts("psnr_hvs: ", "channels"));
    const image empty = xt::zeros<float>({std::size_t{1}, std::size_t{0}, std::size_t{61}});
    BOOST_CHECK_THROW(psnr_hvs(empty, empty), value_error);

    BOOST_CHECK_EXCEPTION(psnr_hvs(x, x, {.data_range = 0.0}), value_error,
                          starts("psnr_hvs: ", "data_range must be positive and finite"));
    BOOST_CHECK_THROW(psnr_hvs(x, x, {.data_range = std::nan("")}), value_error);
    BOOST_CHECK_EXCEPTION(psnr_hvs_m(x, x, {.step = 0}), value_error,
                          starts("psnr_hvs_m: ", "step must be at least 1, got 0"));
    BOOST_CHECK_EXCEPTION(psnr_hvs(x, x, {.colour = static_cast<psnr_hvs_colour>(7)}), value_error,
                          starts("psnr_hvs: ", "colour must be"));

    const image rgb = load("butterfly96_ref");
    const image per_channel = xt::ones_like(rgb);
    BOOST_CHECK_EXCEPTION(psnr_hvs_masked(rgb, rgb, per_channel), shape_error,
                          starts("psnr_hvs_masked: ", "1 x H x W"));
    const image other = xt::ones<float>({std::size_t{1}, std::size_t{96}, std::size_t{95}});
    BOOST_CHECK_EXCEPTION(psnr_hvs_m_masked(rgb, rgb, other), shape_error,
                          starts("psnr_hvs_m_masked: ", "mask must have shape"));
    image bad_mask = xt::ones<float>({std::size_t{1}, std::size_t{96}, std::size_t{96}});
    bad_mask(0, 50, 50) = std::nanf("");
    BOOST_CHECK_EXCEPTION(psnr_hvs_both_masked(rgb, rgb, bad_mask), value_error,
                          starts("psnr_hvs_both_masked: ", "mask must contain only finite"));
    const image none = xt::zeros<float>({std::size_t{1}, std::size_t{96}, std::size_t{96}});
    BOOST_CHECK_EXCEPTION(psnr_hvs_m_masked(rgb, rgb, none), value_error,
                          starts("psnr_hvs_m_masked: ", "selects no 8 x 8 block"));
    const image small_rgb = xt::view(rgb, xt::all(), xt::range(0, 7), xt::all());
    const image small_mask = xt::ones<float>({std::size_t{1}, std::size_t{7}, std::size_t{96}});
    BOOST_CHECK_EXCEPTION(psnr_hvs_masked(small_rgb, small_rgb, small_mask), shape_error,
                          starts("psnr_hvs_masked: ", "at least one 8 x 8 block"));
}

BOOST_AUTO_TEST_SUITE_END() // test_metrics_psnr_hvs
