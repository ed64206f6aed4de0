#include <boost/test/unit_test.hpp>

// VIFp against tests/golden/iqa.json (tools/dev/make_iqa_golden.py): piq.vif_p on float64
// copies of the test arrays of tests/golden/metrics.json (noise, blur, quantisation,
// inpainting, a contrast stretch, an identical pair), for two visual-noise variances and data
// range 255; the masked values come from the script's numpy VIFp, which agrees with piq to
// 1e-12 on the unmasked cases. Then the errors.

#include "golden_arrays.hpp"

#include <xrestore/metrics/vif.hpp>

#include <nlohmann/json.hpp>

#include <xtensor/xview.hpp>

#include <cmath>
#include <fstream>
#include <string>

BOOST_AUTO_TEST_SUITE(test_metrics_vif)

using namespace xrestore;
using json = nlohmann::json;

namespace {

// Both sides compute in double from the same float32 arrays; the summation orders differ.
constexpr double tol = 1e-9;

const json& metrics() {
    static const json g = test::golden_json("metrics.json");
    return g;
}

const json& iqa() {
    static const json g = test::golden_json("iqa.json");
    return g;
}

image load(const std::string& key) {
    return test::load_golden_array(iqa().at("arrays").contains(key)
                                       ? iqa().at("arrays").at(key)
                                       : metrics().at("arrays").at(key));
}

void check(const std::string& what, double got, double want) {
    const double rel = std::abs(got - want) / std::abs(want);
    BOOST_TEST(rel <= tol, what << ": got " << got << ", reference " << want << " (relative error "
                                << rel << ")");
}

image cameraman() {
    return load("cameraman77x61_ref");
}

} // namespace

BOOST_AUTO_TEST_CASE(vif_p_matches_piq) {
    const json& cases = iqa().at("cases");
    BOOST_TEST(cases.size() >= 12u);
    bool above_one = false;
    for (const json& c : cases) {
        const std::string name = c.at("image").get<std::string>();
        const image ref = load(c.at("reference").get<std::string>());
        const image img = load(name);
        const json& v = c.at("vif_p");
        check(name + " default", vif_p(ref, img), v.at("default").get<double>());
        check(name + " sigma_n_sq 0.5", vif_p(ref, img, {.sigma_n_sq = 0.5}),
              v.at("sigma_n_sq_0.5").get<double>());
        const image ref255 = ref * 255.0f;
        const image img255 = img * 255.0f;
        check(name + " data_range 255", vif_p(ref255, img255, {.data_range = 255.0}),
              v.at("data_range_255").get<double>());
        above_one = above_one || v.at("default").get<double>() > 1.0;
        if (!c.contains("vif_p_masked")) {
            continue;
        }
        const image mask = load(c.at("vif_p_masked").at(0).at("mask").get<std::string>());
        for (const json& m : c.at("vif_p_masked")) {
            const bool all = m.at("mask").get<std::string>() == "all ones";
            const image used = all                          ? image(xt::ones_like(mask))
                               : m.at("invert").get<bool>() ? image(1.0f - mask)
                                                            : mask;
            check(name + " masked " + m.at("mask").get<std::string>() +
                      (m.at("invert").get<bool>() ? " inverted" : ""),
                  vif_p_masked(ref, img, used), m.at("value").get<double>());
            if (all) { // the same sums in the same order
                BOOST_TEST(vif_p_masked(ref, img, used) == vif_p(ref, img));
            }
        }
    }
    BOOST_TEST(above_one, "the contrast-stretched case scores above 1");
}

BOOST_AUTO_TEST_CASE(vif_p_identical_images_and_order) {
    const image x = cameraman();
    BOOST_TEST(std::abs(vif_p(x, x) - 1.0) < 1e-8);
    const image y = load("cameraman77x61_noise");
    BOOST_TEST(vif_p(x, y) != vif_p(y, x)); // not symmetric: the reference comes first
}

BOOST_AUTO_TEST_CASE(vif_p_rejects_bad_input) {
    const image x = cameraman(); // 1 x 77 x 61
    const image small = xt::view(x, xt::all(), xt::range(0, 40), xt::all());
    BOOST_CHECK_EXCEPTION(vif_p(small, small), shape_error, [](const shape_error& e) {
        return std::string(e.what()).find("at least 41 x 41") != std::string::npos;
    });
    const image wider = xt::view(x, xt::all(), xt::range(0, 60), xt::all());
    BOOST_CHECK_THROW(vif_p(x, wider), shape_error);
    image nan = x;
    nan(0, 10, 10) = std::nanf("");
    BOOST_CHECK_THROW(vif_p(x, nan), value_error);
    BOOST_CHECK_THROW(vif_p(x, x, {.data_range = 0.0}), value_error);
    BOOST_CHECK_THROW(vif_p(x, x, {.sigma_n_sq = -1.0}), value_error);
    const image two = xt::zeros<float>({std::size_t{2}, std::size_t{77}, std::size_t{61}});
    BOOST_CHECK_THROW(vif_p(two, two), shape_error);

    const image rgb = load("butterfly96_ref");
    const image per_channel = xt::ones_like(rgb);
    BOOST_CHECK_EXCEPTION(vif_p_masked(rgb, rgb, per_channel), shape_error,
                          [](const shape_error& e) {
                              return std::string(e.what()).find("1 x H x W") != std::string::npos;
                          });
    image border = xt::zeros<float>({std::size_t{1}, std::size_t{96}, std::size_t{96}});
    xt::view(border, 0, xt::range(0, 8), xt::all()) = 1.0f; // no window is centred there
    BOOST_CHECK_EXCEPTION(vif_p_masked(rgb, rgb, border), value_error, [](const value_error& e) {
        return std::string(e.what()).find("no window centre") != std::string::npos;
    });
    image bad_mask = xt::ones<float>({std::size_t{1}, std::size_t{96}, std::size_t{96}});
    bad_mask(0, 50, 50) = std::nanf("");
    BOOST_CHECK_THROW(vif_p_masked(rgb, rgb, bad_mask), value_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_metrics_vif
