#include <boost/test/unit_test.hpp>

// BRISQUE against tests/golden/brisque.json (tools/dev/make_brisque_golden.py): OpenCV 4.6's
// cv2.quality.QualityBRISQUE on the 8-bit test arrays of tests/golden/metrics.json (noise, blur,
// quantisation, inpainting; grey and RGB, odd sizes), crops of the bundled photos read from PNG
// and small odd and tiny crops. The 36 features must equal OpenCV's bit for bit; the score
// differs from OpenCV's only through its float exp (measured bound below) and must equal the
// script's numpy port, which rounds exp correctly, to float precision. The masked values come
// from the numpy port, whose unmasked features are OpenCV's exactly. Then the model reader on
// broken files, and the errors.

#include "golden_arrays.hpp"

#include <xrestore/io/image.hpp>
#include <xrestore/metrics/brisque.hpp>

#include <nlohmann/json.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

BOOST_AUTO_TEST_SUITE(test_metrics_brisque)

using namespace xrestore;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// OpenCV's kernel values use its own float exp; the largest difference this makes over the
// golden cases is 1.4e-3 (on scores from 1.85 to 69; 1.8e-4 relative at 1.85).
constexpr double opencv_score_tol = 1.5e-3;
// The numpy port takes the same float steps and a correctly rounded exp: float precision.
constexpr double port_score_rel_tol = 1e-6;

const json& golden() {
    static const json g = test::golden_json("brisque.json");
    return g;
}

const json& metrics() {
    static const json g = test::golden_json("metrics.json");
    return g;
}

const brisque_model& model() {
    static const brisque_model m =
        brisque_model::load(std::string(XRESTORE_DATA_DIR) + "/iqa/brisque_model_live.yml",
                            std::string(XRESTORE_DATA_DIR) + "/iqa/brisque_range_live.yml");
    return m;
}

image load_case(const json& c) {
    const json& source = c.at("source");
    if (source.contains("file")) {
        return test::load_golden_array(source);
    }
    image full =
        read_image(std::string(XRESTORE_DATA_DIR) + "/" + source.at("png").get<std::string>());
    if (!source.contains("rows")) {
        return full;
    }
    const auto r = source.at("rows");
    const auto k = source.at("cols");
    return xt::view(full, xt::all(), xt::range(r[0].get<int>(), r[1].get<int>()),
                    xt::range(k[0].get<int>(), k[1].get<int>()));
}

image load_metrics_array(const std::string& key) {
    return test::load_golden_array(metrics().at("arrays").at(key));
}

void check_features(const std::string& what, const brisque_feature_vector& got, const json& want) {
    BOOST_REQUIRE_EQUAL(want.size(), brisque_feature_count);
    for (std::size_t k = 0; k < brisque_feature_count; ++k) {
        const float w = static_cast<float>(want[k].get<double>()); // a float, stored exactly
        BOOST_TEST(got[k] == w,
                   what << " feature " << k << ": got " << got[k] << ", reference " << w);
    }
}

void check_port(const std::string& what, double got, double want) {
    const double rel = std::abs(got - want) / std::max(std::abs(want), 1e-30);
    BOOST_TEST(rel <= port_score_rel_tol,
               what << ": got " << got << ", numpy port " << want << " (relative " << rel << ")");
}

fs::path scratch_dir() {
    static const fs::path dir = [] {
        fs::path d = fs::temp_directory_path() /
                     ("xrestore_test_brisque_" + std::to_string(std::random_device{}()));
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

const std::string& model_text() {
    static const std::string t =
        read_file(std::string(XRESTORE_DATA_DIR) + "/iqa/brisque_model_live.yml");
    return t;
}

const std::string& range_text() {
    static const std::string t =
        read_file(std::string(XRESTORE_DATA_DIR) + "/iqa/brisque_range_live.yml");
    return t;
}

fs::path write_scratch(const std::string& name, const std::string& text) {
    const fs::path p = scratch_dir() / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
    const std::size_t at = text.find(from);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' not in the model file");
    return text.replace(at, from.size(), to);
}

// load() of a broken model (or range) file throws io_error whose message holds `needle`.
void expect_broken(const std::string& what, const std::string& model_yml,
                   const std::string& range_yml, const std::string& needle) {
    const fs::path m = write_scratch("model.yml", model_yml);
    const fs::path r = write_scratch("range.yml", range_yml);
    try {
        (void)brisque_model::load(m, r);
        BOOST_ERROR(what << ": no exception");
    } catch (const io_error& e) {
        const std::string message = e.what();
        BOOST_TEST(message.find(needle) != std::string::npos,
                   what << ": message '" << message << "' lacks '" << needle << "'");
        BOOST_TEST(message.find("brisque_model::load: ") == 0, what << ": " << message);
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(brisque_model_reads_the_live_files) {
    const brisque_model& m = model();
    BOOST_TEST(m.size() == 774u);
    BOOST_TEST(m.support_vectors.size() == 774u * 36u);
    BOOST_TEST(m.gamma == 0.05);
    BOOST_TEST(m.rho == -1.4963506109127357e+02);
    BOOST_TEST(m.alpha.front() == -1024.0);
    BOOST_TEST(m.alpha.back() == 1024.0);
    BOOST_TEST(m.support_vectors.front() == -5.97555935e-01f);
    BOOST_TEST(m.support_vectors.back() == -6.13803744e-01f);
    BOOST_TEST(m.feature_min[0] == 3.44000012e-01f);
    BOOST_TEST(m.feature_max[0] == 10.0f);
    BOOST_TEST(m.feature_max[35] == 5.38609207e-01f);
    // the bundled model through the data folder (the test defines XRESTORE_DATA_DIR)
    const brisque_model d = brisque_model::load_default();
    BOOST_TEST(d.alpha == m.alpha);
    BOOST_TEST(d.support_vectors == m.support_vectors);
}

BOOST_AUTO_TEST_CASE(brisque_matches_opencv) {
    const json& cases = golden().at("cases");
    BOOST_TEST(cases.size() >= 20u);
    double worst = 0.0;
    bool rgb = false;
    bool grey = false;
    bool odd = false;
    bool large = false;
    for (const json& c : cases) {
        const std::string name = c.at("image").get<std::string>();
        const image x = load_case(c);
        BOOST_TEST_CONTEXT(name) {
            BOOST_REQUIRE(x.shape()[0] == c.at("shape")[0].get<std::size_t>());
            BOOST_REQUIRE(x.shape()[1] == c.at("shape")[1].get<std::size_t>());
            BOOST_REQUIRE(x.shape()[2] == c.at("shape")[2].get<std::size_t>());
            rgb = rgb || x.shape()[0] == 3;
            grey = grey || x.shape()[0] == 1;
            odd = odd || x.shape()[1] % 2 == 1 || x.shape()[2] % 2 == 1;
            large = large || x.shape()[1] * x.shape()[2] >= 256u * 256u;

            const brisque_feature_vector f = brisque_features(x);
            check_features(name, f, c.at("features"));

            const double score = brisque(x, model());
            const double opencv = c.at("score").get<double>();
            worst = std::max(worst, std::abs(score - opencv));
            BOOST_TEST(std::abs(score - opencv) <= opencv_score_tol,
                       name << ": got " << score << ", OpenCV " << opencv);
            check_port(name, score, c.at("score_rounded_exp").get<double>());
            BOOST_TEST(score == model().predict(f));

            const double raw = brisque(x, model(), {.clamp = false});
            BOOST_TEST(std::abs(raw - c.at("unclamped").get<double>()) <= opencv_score_tol);
            check_port(name + " unclamped", raw, c.at("unclamped_rounded_exp").get<double>());
            BOOST_TEST(score == std::min(std::max(raw, 0.0), 100.0));
        }
    }
    BOOST_TEST(rgb);
    BOOST_TEST(grey);
    BOOST_TEST(odd);
    BOOST_TEST(large);
    BOOST_TEST_MESSAGE("largest difference from OpenCV's score: " << worst);
}

BOOST_AUTO_TEST_CASE(brisque_masked_matches_numpy_port) {
    std::size_t checked = 0;
    std::size_t errors = 0;
    for (const json& c : golden().at("cases")) {
        if (!c.contains("masked")) {
            continue;
        }
        const std::string name = c.at("image").get<std::string>();
        const image x = load_case(c);
        const image mask = load_metrics_array(c.at("masked").at(0).at("mask").get<std::string>());
        for (const json& m : c.at("masked")) {
            const std::string variant = m.at("variant").get<std::string>();
            const image used = variant == "all ones"   ? image(xt::ones_like(mask))
                               : variant == "inverted" ? image(1.0f - mask)
                                                       : mask;
            const std::string what = name + " masked " + variant;
            if (m.value("error", false)) {
                BOOST_CHECK_EXCEPTION(
                    brisque_masked(x, used, model()), value_error, [](const value_error& e) {
                        return std::string(e.what()).find("no positive") != std::string::npos ||
                               std::string(e.what()).find("no negative") != std::string::npos;
                    });
                ++errors;
                continue;
            }
            check_features(what, brisque_features_masked(x, used), m.at("features"));
            check_port(what, brisque_masked(x, used, model()), m.at("score").get<double>());
            check_port(what + " unclamped", brisque_masked(x, used, model(), {.clamp = false}),
                       m.at("unclamped").get<double>());
            if (variant == "all ones") { // the same sums in the same order
                BOOST_TEST(brisque_masked(x, used, model()) == brisque(x, model()));
                BOOST_TEST(brisque_features_masked(x, used) == brisque_features(x));
            }
            ++checked;
        }
    }
    BOOST_TEST(checked >= 20u);
    BOOST_TEST(errors >= 1u);
}

BOOST_AUTO_TEST_CASE(brisque_grey_and_equal_channels_agree) {
    // (9798 + 19235 + 3735) / 2^15 = 1: equal channels give the grey image's 8-bit values
    const image g = load_metrics_array("cameraman77x61_noise");
    image rgb = xt::concatenate(xt::xtuple(g, g, g), 0);
    BOOST_TEST(brisque_features(rgb) == brisque_features(g));
    // values off the 8-bit grid round to it; values outside [0,1] clamp
    image off = g + 0.4f / 255.0f;
    BOOST_TEST(brisque_features(off) == brisque_features(g));
    image wide = g * 3.0f - 1.0f;
    image clamped = xt::clip(wide, 0.0f, 1.0f);
    BOOST_TEST(brisque_features(wide) == brisque_features(clamped));
}

BOOST_AUTO_TEST_CASE(brisque_rejects_bad_images) {
    const image x = load_metrics_array("butterfly96_noise");
    const image two = xt::zeros<float>({std::size_t{2}, std::size_t{20}, std::size_t{20}});
    BOOST_CHECK_EXCEPTION(brisque(two, model()), shape_error, [](const shape_error& e) {
        return std::string(e.what()).find("brisque: image must have 1 (grey) or 3") == 0;
    });
    const image row = xt::view(x, xt::all(), xt::range(0, 1), xt::all());
    BOOST_CHECK_EXCEPTION(brisque_features(row), shape_error, [](const shape_error& e) {
        return std::string(e.what()).find("at least 2 x 2") != std::string::npos;
    });
    image nan = x;
    nan(1, 10, 20) = std::nanf("");
    BOOST_CHECK_EXCEPTION(brisque(nan, model()), value_error, [](const value_error& e) {
        return std::string(e.what()).find("finite") != std::string::npos;
    });
    image inf = x;
    inf(0, 0, 0) = INFINITY;
    BOOST_CHECK_THROW(brisque_features(inf), value_error);
    // a flat image: no positive MSCN value (OpenCV returns NaN)
    const image flat = xt::full_like(x, 0.5f);
    BOOST_CHECK_EXCEPTION(brisque(flat, model()), value_error, [](const value_error& e) {
        return std::string(e.what()).find("fit is undefined") != std::string::npos;
    });
}

BOOST_AUTO_TEST_CASE(brisque_masked_rejects_bad_masks) {
    const image x = load_metrics_array("butterfly96_noise");
    const std::size_t n = 96;
    const image per_channel = xt::ones_like(x);
    BOOST_CHECK_EXCEPTION(brisque_masked(x, per_channel, model()), shape_error,
                          [](const shape_error& e) {
                              return std::string(e.what()).find("1 x H x W") != std::string::npos;
                          });
    const image small = xt::ones<float>({std::size_t{1}, n, n - 1});
    BOOST_CHECK_THROW(brisque_masked(x, small, model()), shape_error);
    image nan = xt::ones<float>({std::size_t{1}, n, n});
    nan(0, 3, 4) = std::nanf("");
    BOOST_CHECK_THROW(brisque_masked(x, nan, model()), value_error);
    const image none = xt::zeros<float>({std::size_t{1}, n, n});
    BOOST_CHECK_EXCEPTION(brisque_masked(x, none, model()), value_error, [](const value_error& e) {
        return std::string(e.what()).find("brisque_masked: the mask selects no pixel") == 0;
    });
    image one = xt::zeros<float>({std::size_t{1}, n, n});
    one(0, 50, 50) = 1.0f; // the resized mask peaks below 0.5
    BOOST_CHECK_EXCEPTION(brisque_features_masked(x, one), value_error, [](const value_error& e) {
        return std::string(e.what()).find("second scale") != std::string::npos;
    });
    image few = xt::zeros<float>({std::size_t{1}, n, n});
    xt::view(few, 0, xt::range(40, 42), xt::range(40, 42)) = 1.0f; // 2 x 2: too few to fit
    BOOST_CHECK_THROW(brisque_masked(x, few, model()), value_error);
}

BOOST_AUTO_TEST_CASE(brisque_model_rejects_broken_files) {
    const std::string& m = model_text();
    const std::string& r = range_text();
    // the unchanged files load
    BOOST_CHECK_NO_THROW(
        brisque_model::load(write_scratch("ok.yml", m), write_scratch("ok_range.yml", r)));
    BOOST_CHECK_EXCEPTION(brisque_model::load(scratch_dir() / "missing.yml", scratch_dir() / "x"),
                          io_error, [](const io_error& e) {
                              return std::string(e.what()).find("cannot open") != std::string::npos;
                          });
    // truncated: in the support vectors, before the decision function, empty
    expect_broken("truncated in a vector", m.substr(0, m.size() / 2), r, "truncated");
    expect_broken("truncated before alpha", m.substr(0, m.find("decision_functions")), r,
                  "missing key opencv_ml_svm.decision_functions");
    expect_broken("truncated in alpha", m.substr(0, m.size() - 40), r, "truncated");
    expect_broken("empty", "", r, "empty");
    expect_broken("truncated range", m, r.substr(0, r.size() / 2), "truncated");
    // missing keys
    expect_broken("no gamma", replace_once(m, "gamma:", "gamme:"), r,
                  "missing key opencv_ml_svm.kernel.gamma");
    expect_broken("no svm", replace_once(m, "opencv_ml_svm:", "other:"), r,
                  "missing key opencv_ml_svm");
    expect_broken("no rho", replace_once(m, "rho:", "rh0:"), r, "rho");
    expect_broken("no range", m, replace_once(r, "range:", "rang:"), "missing key range");
    // wrong kinds and counts
    expect_broken("classifier", replace_once(m, "EPS_SVR", "C_SVC"), r, "EPS_SVR or NU_SVR");
    expect_broken("linear", replace_once(m, "type: RBF", "type: LINEAR"), r, "RBF");
    expect_broken("var_count", replace_once(m, "var_count: 36", "var_count: 35"), r, "36");
    expect_broken("sv_total", replace_once(m, "sv_total: 774", "sv_total: 775"), r,
                  "support_vectors must have 775 entries, got 774");
    expect_broken("short vector", replace_once(m, "-5.97555935e-01, ", ""), r,
                  "support_vectors[0] must have 36 entries, got 35");
    expect_broken("sv_count", replace_once(m, "sv_count: 774", "sv_count: 7"), r,
                  "sv_count must equal sv_total");
    expect_broken("short alpha", replace_once(m, "alpha: [ -1024., ", "alpha: [ "), r,
                  "alpha must have 774 entries, got 773");
    expect_broken("range size", m, replace_once(r, "cols: 36", "cols: 35"), "2 x 36");
    expect_broken("range type", m, replace_once(r, "dt: f", "dt: d"), "dt must be f");
    expect_broken("range order", m, replace_once(r, "3.44000012e-01", "11."), "max > min");
    // values
    expect_broken("text", replace_once(m, "-5.97555935e-01", "abc"), r,
                  "must be a number, got 'abc'");
    expect_broken("nan", replace_once(m, "-5.97555935e-01", "nan"), r, "must be finite");
    expect_broken("opencv nan", replace_once(m, "-5.97555935e-01", ".Nan"), r, "'.Nan'");
    expect_broken("huge", replace_once(m, "rho: -1.4963506109127357e+02", "rho: 1e999"), r,
                  "must be a number");
    expect_broken("gamma", replace_once(m, "gamma: 5.0000000000000003e-02", "gamma: -1"), r,
                  "gamma must be positive");
    expect_broken("fraction", replace_once(m, "sv_total: 774", "sv_total: 7.5"), r, "whole number");
    expect_broken("range nan", m, replace_once(r, "10.,", "inf,"), "finite");
    // structure
    expect_broken("tab", replace_once(m, "   format: 3", "\tformat: 3"), r, "tab");
    expect_broken("binary", replace_once(m, "format: 3", std::string("format: \0", 9)), r,
                  "control character");
    expect_broken("indent", replace_once(m, "   var_count: 36", "     var_count: 36"), r,
                  "unexpected indentation");
    expect_broken("nested", replace_once(m, "[ -5.97555935e-01,", "[ [ -5.97555935e-01,"), r,
                  "nested");
    expect_broken("no colon", replace_once(m, "var_count: 36", "var_count 36"), r,
                  "expected 'key: value'");
    std::string deep = "%YAML:1.0\n";
    for (int i = 0; i < 40; ++i) {
        deep += std::string(static_cast<std::size_t>(i), ' ') + "-\n";
    }
    expect_broken("deep", deep, r, "nested more than 16 levels");
    BOOST_CHECK_THROW(brisque_model{}.predict({}), value_error); // an empty model
    fs::remove_all(scratch_dir());
}

BOOST_AUTO_TEST_CASE(brisque_load_default_follows_the_environment) {
    ::setenv("XRESTORE_DATA_DIR", (scratch_dir() / "nowhere").c_str(), 1);
    BOOST_CHECK_EXCEPTION(brisque_model::load_default(), io_error, [](const io_error& e) {
        return std::string(e.what()).find("nowhere/iqa/brisque_model_live.yml") !=
               std::string::npos;
    });
    ::setenv("XRESTORE_DATA_DIR", XRESTORE_DATA_DIR, 1);
    BOOST_TEST(brisque_model::load_default().size() == 774u);
    ::unsetenv("XRESTORE_DATA_DIR");
}

BOOST_AUTO_TEST_SUITE_END() // test_metrics_brisque
