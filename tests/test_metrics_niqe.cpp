#include <boost/test/unit_test.hpp>

// NIQE against tests/golden/niqe.json (tools/dev/make_niqe_golden.py): the script's numpy
// transcription of the authors' MATLAB release, on crops of the bundled photos read as PNG here
// and there (the uint8 sums recorded in the JSON confirm the same samples) and on noisy, blurred
// and partly black variants stored as .npy; masked values for rectangle masks; the 36 features
// of every block of one crop. Then the model loader and the errors.

#include "golden_arrays.hpp"

#include <xrestore/io/image.hpp>
#include <xrestore/metrics/niqe.hpp>

#include <nlohmann/json.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#if defined(_OPENMP)
#include <omp.h>
#endif

BOOST_AUTO_TEST_SUITE(test_metrics_niqe)

using namespace xrestore;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Both sides compute in double with the MSCN sums in the same order; the block statistics,
// the gamma function and the pseudo-inverse (SVD there, Jacobi here) round differently: about
// 5e-14 apart.
constexpr double tol = 1e-11;

const json& golden() {
    return test::golden_json("niqe.json");
}

const niqe_model& model() {
    static const niqe_model m = niqe_model::load(fs::path(XRESTORE_DATA_DIR) / "iqa");
    return m;
}

image load_case(const json& c) {
    if (c.contains("npy")) {
        return test::load_golden_array(json{{"file", c.at("npy")}, {"divisor", 255}});
    }
    const image full =
        read_image(std::string(XRESTORE_DATA_DIR) + "/" + c.at("png").get<std::string>());
    const auto rows = c.at("rows").get<std::array<std::size_t, 2>>();
    const auto cols = c.at("cols").get<std::array<std::size_t, 2>>();
    return xt::view(full, xt::all(), xt::range(rows[0], rows[1]), xt::range(cols[0], cols[1]));
}

void check(const std::string& what, double got, double want, double tolerance = tol) {
    const double rel = std::abs(got - want) / std::abs(want);
    BOOST_TEST(rel <= tolerance, what << ": got " << got << ", reference " << want
                                      << " (relative error " << rel << ")");
}

image rectangle_mask(const image& x, const json& m) {
    const auto rows = m.at("rows").get<std::array<std::size_t, 2>>();
    const auto cols = m.at("cols").get<std::array<std::size_t, 2>>();
    image mask = xt::zeros<float>({std::size_t{1}, x.shape()[1], x.shape()[2]});
    xt::view(mask, 0, xt::range(rows[0], rows[1]), xt::range(cols[0], cols[1])) = 1.0f;
    return m.at("invert").get<bool>() ? image(1.0f - mask) : mask;
}

image cameraman_crop() {
    return load_case(golden().at("cases").at(0));
}

fs::path scratch_folder(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("xrestore_test_niqe_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const char* file :
         {"niqe_mu_pris_param.txt", "niqe_cov_pris_param.txt", "niqe_gaussian_window_7x7.txt"}) {
        fs::copy_file(fs::path(XRESTORE_DATA_DIR) / "iqa" / file, dir / file);
        fs::permissions(dir / file, fs::perms::owner_read | fs::perms::owner_write); // rewritten
    }
    return dir;
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    BOOST_REQUIRE_MESSAGE(out.good(), "cannot write " << path);
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class Error>
void check_load_error(const fs::path& dir, const std::string& needle) {
    BOOST_CHECK_EXCEPTION(niqe_model::load(dir), Error, [&](const Error& e) {
        const std::string what = e.what();
        BOOST_TEST_MESSAGE(what);
        return what.rfind("niqe_model::load", 0) == 0 && what.find(needle) != std::string::npos;
    });
}

} // namespace

BOOST_AUTO_TEST_CASE(niqe_matches_reference) {
    const json& cases = golden().at("cases");
    BOOST_TEST(cases.size() >= 8u);
    bool rgb = false, grey = false, nan_block = false, masked = false;
    for (const json& c : cases) {
        const std::string name = c.at("name").get<std::string>();
        const image x = load_case(c);
        BOOST_TEST_REQUIRE(x.shape()[0] == c.at("channels").get<std::size_t>());
        BOOST_TEST_REQUIRE(x.shape()[1] == c.at("height").get<std::size_t>());
        BOOST_TEST_REQUIRE(x.shape()[2] == c.at("width").get<std::size_t>());
        long long sum = 0;
        for (const float v : x) {
            sum += std::lround(static_cast<double>(v) * 255.0);
        }
        BOOST_TEST(sum == c.at("uint8_sum").get<long long>(), name << ": the same samples");
        rgb = rgb || x.shape()[0] == 3;
        grey = grey || x.shape()[0] == 1;
        nan_block = nan_block || c.at("blocks_with_nan").get<int>() > 0;

        const double value = niqe(x, {.model = &model()});
        check(name, value, c.at("niqe").get<double>());
        BOOST_TEST(niqe(x) == value, name << ": the default model is data/iqa's");
        const niqe_block_features f = niqe_features(x);
        BOOST_TEST(f.features.shape()[0] == c.at("blocks").get<std::size_t>());

        const image ones = xt::ones<float>({std::size_t{1}, x.shape()[1], x.shape()[2]});
        BOOST_TEST(niqe_masked(x, ones) == value, name << ": an all-ones mask is niqe()");
        if (c.contains("masked")) {
            for (const json& m : c.at("masked")) {
                masked = true;
                check(name + " masked " + m.dump(), niqe_masked(x, rectangle_mask(x, m)),
                      m.at("value").get<double>());
            }
        }
        if (c.contains("features")) {
            const json& want = c.at("features");
            BOOST_TEST_REQUIRE(f.features.shape()[0] == want.size());
            for (std::size_t i = 0; i < want.size(); ++i) {
                for (std::size_t k = 0; k < 36; ++k) {
                    check(name + " block " + std::to_string(i) + " feature " + std::to_string(k),
                          f.features(i, k), want.at(i).at(k).get<double>(), 1e-12);
                }
            }
            // column-major block order
            BOOST_TEST(f.blocks.at(1)[0] == 1u);
            BOOST_TEST(f.blocks.at(1)[1] == 0u);
        }
    }
    BOOST_TEST(rgb);
    BOOST_TEST(grey);
    BOOST_TEST(nan_block, "a case with a block of NaN features");
    BOOST_TEST(masked);
}

BOOST_AUTO_TEST_CASE(niqe_orders_distortions_and_ignores_threads) {
    const json& cases = golden().at("cases");
    const image clean = cameraman_crop();
    const image noisy = load_case(cases.at(5));
    BOOST_TEST(cases.at(5).at("name").get<std::string>() == "cameraman192x288_noise12");
    BOOST_TEST(niqe(noisy) > niqe(clean) + 1.0); // noise is unnatural
    // a crop beyond the blocks does not change the value
    const image wider =
        load_case(json{{"png", "images/cameraman.png"}, {"rows", {100, 292}}, {"cols", {50, 383}}});
    BOOST_TEST(niqe(wider) == niqe(clean));
#if defined(_OPENMP)
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    const double one = niqe(clean);
    omp_set_num_threads(3);
    const double three = niqe(clean);
    omp_set_num_threads(threads);
    BOOST_TEST(one == three);
#endif
}

BOOST_AUTO_TEST_CASE(niqe_model_loader) {
    const niqe_model& m = model();
    BOOST_TEST(std::abs(m.mu[0] - 2.6013136801541448) < 1e-15);
    double window_sum = 0.0;
    for (const double w : m.window) {
        window_sum += w;
    }
    BOOST_TEST(std::abs(window_sum - 1.0) < 1e-12);
    BOOST_TEST(m.cov[1] == m.cov[36]); // symmetric

    const fs::path dir = scratch_folder("loader");
    const fs::path cov = dir / "niqe_cov_pris_param.txt";
    const std::string good = read_text(cov);
    BOOST_TEST(niqe_model::load(dir).cov == m.cov);

    // truncated: the last line cut in half, then the last line missing
    write_text(cov, good.substr(0, good.size() - 300));
    check_load_error<value_error>(dir, "numbers, expected 36");
    write_text(cov, good.substr(0, good.rfind('\n', good.size() - 2) + 1));
    check_load_error<value_error>(dir, "holds 35 rows, expected 36");
    // garbled
    std::string garbled = good;
    garbled.replace(garbled.find(' ') + 1, 3, "x.y");
    write_text(cov, garbled);
    check_load_error<value_error>(dir, "is not a finite number");
    std::string nan = good;
    nan.replace(0, nan.find(' '), "nan");
    write_text(cov, nan);
    check_load_error<value_error>(dir, "'nan' is not a finite number");
    write_text(cov, good + good.substr(0, good.find('\n') + 1));
    check_load_error<value_error>(dir, "more than the expected 36 rows");
    std::string wide = good;
    wide.insert(wide.find('\n'), " 1.0");
    write_text(cov, wide);
    check_load_error<value_error>(dir, "more than the expected 36 numbers");
    write_text(cov, good);
    fs::remove(dir / "niqe_gaussian_window_7x7.txt");
    check_load_error<io_error>(dir, "cannot open");
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(niqe_model_default_folder) {
    const image x = cameraman_crop();
    ::setenv("XRESTORE_DATA_DIR", "/nonexistent/xrestore-data", 1);
    BOOST_TEST(niqe_model::default_folder() == fs::path("/nonexistent/xrestore-data/iqa"));
    BOOST_CHECK_THROW(niqe_model::load_default(), io_error);
    ::unsetenv("XRESTORE_DATA_DIR");
    // the macro the tests define (the repository's data/)
    BOOST_TEST(niqe_model::default_folder() == fs::path(XRESTORE_DATA_DIR) / "iqa");
    BOOST_TEST(niqe_model::load_default().mu == model().mu);
}

BOOST_AUTO_TEST_CASE(niqe_rejects_bad_input) {
    const image x = cameraman_crop(); // 1 x 192 x 288
    const auto has = [](const std::string& needle) {
        return [needle](const error& e) {
            BOOST_TEST_MESSAGE(e.what());
            return std::string(e.what()).find(needle) != std::string::npos;
        };
    };
    const image one_block = xt::view(x, xt::all(), xt::range(0, 191), xt::range(0, 191));
    BOOST_CHECK_EXCEPTION(niqe(one_block), shape_error, has("niqe: image must hold at least two"));
    const image tiny = xt::view(x, xt::all(), xt::range(0, 96), xt::range(0, 96));
    BOOST_CHECK_EXCEPTION(niqe(tiny), shape_error, has("1 x 96 x 96"));
    const image two = xt::zeros<float>({std::size_t{2}, std::size_t{192}, std::size_t{192}});
    BOOST_CHECK_EXCEPTION(niqe(two), shape_error, has("1 (gray) or 3 (RGB) channels"));
    BOOST_CHECK_THROW(niqe_features(two), shape_error);
    image nan = x;
    nan(0, 100, 100) = std::nanf("");
    BOOST_CHECK_EXCEPTION(niqe(nan), value_error, has("finite"));
    // flat: every block's features are NaN; one black block of two: one is left
    const image black = xt::zeros<float>({std::size_t{1}, std::size_t{192}, std::size_t{96}});
    BOOST_CHECK_EXCEPTION(niqe(black), value_error, has("0 of the 2 blocks have finite features"));
    image half_black = xt::view(x, xt::all(), xt::range(0, 192), xt::range(0, 96));
    xt::view(half_black, 0, xt::range(0, 110), xt::all()) = 0.0f;
    BOOST_CHECK_EXCEPTION(niqe(half_black), value_error, has("1 of the 2 blocks"));

    // masks
    const image rgb = xt::concatenate(xt::xtuple(x, x, x), 0);
    BOOST_TEST_REQUIRE(rgb.shape()[0] == 3u);
    const image per_channel = xt::ones_like(rgb);
    BOOST_CHECK_EXCEPTION(niqe_masked(rgb, per_channel), shape_error, has("1 x H x W"));
    const image small_mask = xt::ones<float>({std::size_t{1}, std::size_t{192}, std::size_t{96}});
    BOOST_CHECK_THROW(niqe_masked(x, small_mask), shape_error);
    image mask = xt::ones<float>({std::size_t{1}, std::size_t{192}, std::size_t{288}});
    mask(0, 5, 5) = std::nanf("");
    BOOST_CHECK_EXCEPTION(niqe_masked(x, mask), value_error, has("mask"));
    image one = xt::zeros<float>({std::size_t{1}, std::size_t{192}, std::size_t{288}});
    xt::view(one, 0, xt::range(0, 96), xt::range(0, 96)) = 1.0f;
    xt::view(one, 0, xt::range(96, 192), xt::range(96, 143)) = 1.0f; // 47 of 96 columns: below half
    BOOST_CHECK_EXCEPTION(niqe_masked(x, one), value_error, has("1 of the 6"));
    xt::view(one, 0, xt::range(96, 192), xt::range(96, 144)) = 1.0f; // exactly half: selected
    BOOST_TEST(std::isfinite(niqe_masked(x, one)));
    const image one_block_mask = xt::ones_like(one_block);
    BOOST_CHECK_THROW(niqe_masked(one_block, one_block_mask), shape_error);
}

BOOST_AUTO_TEST_SUITE_END() // test_metrics_niqe
