#include <boost/test/unit_test.hpp>

// FSIM and FSIMc against the "fsim" section of tests/golden/iqa.json
// (tools/dev/make_iqa_golden.py): piq.fsim on float64 copies of the test arrays of
// tests/golden/metrics.json (96 x 96 RGB, 77 x 61 and 184 x 177 grey: no pooling), a channel
// swap (negative chromatic similarities), an identical pair, data range 255, and crops of
// data/images/cameraman.png large enough for piq's pooling by 2 and 3 (odd sizes, powers of two,
// a 640 side where round(2.5) = 2), rebuilt here by the script's integer formulas. The masked
// values come from the script's numpy port of piq.fsim, which agrees with piq to 4e-15 on the
// unmasked cases. Then symmetry, thread-count independence and the errors.

#include "golden_arrays.hpp"

#include <xrestore/io/image.hpp>
#include <xrestore/metrics/fsim.hpp>

#include <nlohmann/json.hpp>

#include <xtensor/xview.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

BOOST_AUTO_TEST_SUITE(test_metrics_fsim)

using namespace xrestore;
using json = nlohmann::json;

namespace {

// Both sides compute in double from the same float32 arrays; the FFTs and summation orders
// differ (the largest difference seen is 1.4e-14).
constexpr double tol = 1e-12;

const json& metrics() {
    static const json g = test::golden_json("metrics.json");
    return g;
}

const json& golden() {
    static const json g = test::golden_json("iqa.json").at("fsim");
    return g;
}

using u8_array = xt::xtensor<int, 3>;

u8_array to_u8(const image& x) {
    u8_array a = xt::zeros<int>(x.shape());
    for (std::size_t i = 0; i < x.size(); ++i) {
        a.data()[i] = static_cast<int>(std::lround(x.data()[i] * 255.0f));
    }
    return a;
}

image from_u8(const u8_array& a) {
    image x = xt::zeros<float>(a.shape());
    for (std::size_t i = 0; i < a.size(); ++i) {
        x.data()[i] = static_cast<float>(a.data()[i]) / 255.0f; // as numpy's float32 division
    }
    return x;
}

// The bundled photo as uint8, checked against the sums PIL gave the script.
const u8_array& source(const std::string& key) {
    static std::map<std::string, u8_array> cache;
    if (const auto it = cache.find(key); it != cache.end()) {
        return it->second;
    }
    const json& info = golden().at("sources").at(key);
    const image x = read_image(std::string(XRESTORE_DATA_DIR) + "/images/" +
                               info.at("file").get<std::string>());
    u8_array a = to_u8(x);
    BOOST_REQUIRE(x == from_u8(a)); // 8-bit samples / 255
    std::int64_t sum = 0;
    std::int64_t weighted = 0;
    for (std::size_t i = 0; i < a.shape()[1]; ++i) {
        for (std::size_t j = 0; j < a.shape()[2]; ++j) {
            sum += a(0, i, j);
            weighted += static_cast<std::int64_t>(a(0, i, j)) *
                        static_cast<std::int64_t>((i * 31 + j) % 997);
        }
    }
    BOOST_REQUIRE_EQUAL(sum, info.at("u8_sum").get<std::int64_t>());
    BOOST_REQUIRE_EQUAL(weighted, info.at("u8_weighted_sum").get<std::int64_t>());
    return cache.emplace(key, std::move(a)).first->second;
}

// derive_u8 of the script: one crop per channel of the (upsampled) photo.
u8_array derive(const std::string& name) {
    const json& d = golden().at("derived").at(name);
    const u8_array& base = source(d.at("source").get<std::string>());
    const auto factor = d.at("upsample").get<std::size_t>();
    const auto h = d.at("size").at(0).get<std::size_t>();
    const auto w = d.at("size").at(1).get<std::size_t>();
    const json& offsets = d.at("offsets");
    u8_array a = xt::zeros<int>({offsets.size(), h, w});
    for (std::size_t c = 0; c < offsets.size(); ++c) {
        const auto r0 = offsets.at(c).at(0).get<std::size_t>();
        const auto c0 = offsets.at(c).at(1).get<std::size_t>();
        for (std::size_t i = 0; i < h; ++i) {
            for (std::size_t j = 0; j < w; ++j) {
                a(c, i, j) = base(0, (r0 + i) / factor, (c0 + j) / factor);
            }
        }
    }
    return a;
}

// distort_u8 of the script.
u8_array distort(const u8_array& a, const std::string& kind) {
    u8_array b = a;
    const std::size_t channels = a.shape()[0];
    for (std::size_t c = 0; c < channels; ++c) {
        for (std::size_t i = 0; i < a.shape()[1]; ++i) {
            for (std::size_t j = 0; j < a.shape()[2]; ++j) {
                const int v = a(c, i, j);
                if (kind == "swap") {
                    b(c, i, j) = a(channels - 1 - c, i, j);
                } else if (kind == "quant") {
                    b(c, i, j) = (v / 32) * 32 + 16;
                } else if (kind == "noise") {
                    const std::size_t hash = (i * 7919 + j * 104729 + c * 1299709) % 65521 % 29;
                    b(c, i, j) = std::clamp(v + static_cast<int>(hash) - 14, 0, 255);
                } else {
                    BOOST_REQUIRE_MESSAGE(kind == "none", "unknown distortion " << kind);
                }
            }
        }
    }
    return b;
}

image load(const std::string& key, const std::string& distortion = "none") {
    if (golden().at("derived").contains(key)) {
        return from_u8(distort(derive(key), distortion));
    }
    const image x = test::load_golden_array(metrics().at("arrays").at(key));
    return distortion == "none" ? x : from_u8(distort(to_u8(x), distortion));
}

image checker_mask(std::size_t h, std::size_t w) {
    image m = xt::zeros<float>({std::size_t{1}, h, w});
    for (std::size_t i = 0; i < h; ++i) {
        for (std::size_t j = 0; j < w; ++j) {
            m(0, i, j) = (i / 37 + j / 29) % 2 == 0 ? 1.0f : 0.0f;
        }
    }
    return m;
}

void check(const std::string& what, double got, double want) {
    const double rel = std::abs(got - want) / std::abs(want);
    BOOST_TEST(rel <= tol, what << ": got " << got << ", reference " << want << " (relative error "
                                << rel << ")");
}

} // namespace

BOOST_AUTO_TEST_CASE(fsim_matches_piq) {
    const json& cases = golden().at("cases");
    BOOST_TEST(cases.size() >= 20u);
    std::size_t pooled = 0;
    for (const json& c : cases) {
        const std::string distortion = c.at("distortion").get<std::string>();
        const std::string name = c.at("image").get<std::string>() + " " + distortion;
        const image ref = load(c.at("reference").get<std::string>());
        const image img = load(c.at("image").get<std::string>(), distortion);
        BOOST_TEST_REQUIRE(ref.shape()[1] == c.at("shape").at(1).get<std::size_t>());
        const bool rgb = ref.shape()[0] == 3;
        const double grey = fsim(ref, img, {.chromatic = false});
        check(name + " fsim", grey, c.at("fsim").get<double>());
        const double colour = fsim(ref, img); // chromatic is ignored for grey pairs
        if (rgb) {
            check(name + " fsimc", colour, c.at("fsimc").get<double>());
        } else {
            BOOST_TEST(colour == grey);
        }
        if (c.contains("fsimc_data_range_255")) {
            const image ref255 = ref * 255.0f;
            const image img255 = img * 255.0f;
            check(name + " data_range 255", fsim(ref255, img255, {.data_range = 255.0}),
                  c.at("fsimc_data_range_255").get<double>());
        }
        pooled += std::min(ref.shape()[1], ref.shape()[2]) >= 384 ? 1 : 0;
        if (!c.contains("masked")) {
            continue;
        }
        for (const json& m : c.at("masked")) {
            const std::string mask_name = m.at("mask").get<std::string>();
            const std::size_t h = ref.shape()[1];
            const std::size_t w = ref.shape()[2];
            image mask = mask_name == "all ones" ? image(xt::ones<float>({std::size_t{1}, h, w}))
                         : mask_name == "checker"
                             ? checker_mask(h, w)
                             : test::load_golden_array(metrics().at("arrays").at(mask_name));
            if (m.at("invert").get<bool>()) {
                mask = 1.0f - mask;
            }
            const std::string what =
                name + " masked " + mask_name + (m.at("invert").get<bool>() ? " inverted" : "");
            const double masked_grey = fsim_masked(ref, img, mask, {.chromatic = false});
            check(what + " fsim", masked_grey, m.at("fsim").get<double>());
            const double masked_colour = rgb ? fsim_masked(ref, img, mask) : masked_grey;
            if (rgb) {
                check(what + " fsimc", masked_colour, m.at("fsimc").get<double>());
            }
            if (mask_name == "all ones") { // the same sums in the same order
                BOOST_TEST(masked_grey == grey);
                BOOST_TEST(masked_colour == colour);
            }
        }
    }
    BOOST_TEST(pooled >= 5u, "cases with pooling by 2 or 3");
}

BOOST_AUTO_TEST_CASE(fsim_identical_symmetric_and_thread_independent) {
    const image x = load("butterfly96_ref");
    const image y = load("butterfly96_noise");
    BOOST_TEST(fsim(x, x) == 1.0);
    BOOST_TEST(fsim(x, y) == fsim(y, x));                      // symmetric, term by term
    BOOST_TEST(fsim(x, y) < fsim(x, y, {.chromatic = false})); // the chroma term lowers it
    const image big = load("rgb401x423", "noise");
    const image big_ref = load("rgb401x423");
#if defined(_OPENMP)
    const int threads = omp_get_max_threads();
    const double many = fsim(big_ref, big);
    omp_set_num_threads(1);
    const double one = fsim(big_ref, big);
    omp_set_num_threads(3);
    const double three = fsim(big_ref, big);
    omp_set_num_threads(threads);
    BOOST_TEST(many == one);
    BOOST_TEST(three == one);
#else
    BOOST_TEST(fsim(big_ref, big) > 0.9);
#endif
}

BOOST_AUTO_TEST_CASE(lower_median_by_radix_selection) {
    // the noise estimate's median against std::nth_element: odd and even counts, ties, values
    // that differ only in their last bits, zeros
    std::mt19937_64 rng(7);
    std::exponential_distribution<double> spread(1.0);
    std::vector<std::uint64_t> keys;
    for (const std::size_t n : {1u, 2u, 3u, 10u, 4096u, 65537u}) {
        for (int kind = 0; kind < 3; ++kind) {
            std::vector<double> x(n);
            for (std::size_t p = 0; p < n; ++p) {
                const double v = spread(rng);
                x[p] = kind == 0   ? v * v
                       : kind == 1 ? std::nextafter(1.0, 2.0 + static_cast<double>(p % 5)) +
                                         static_cast<double>(rng() % 8) * 2.220446049250313e-16
                                   : static_cast<double>(rng() % 3);
            }
            std::vector<double> sorted = x;
            std::nth_element(sorted.begin(),
                             sorted.begin() + static_cast<std::ptrdiff_t>((n - 1) / 2),
                             sorted.end());
            BOOST_TEST(detail::fsim_lower_median(x.data(), n, keys) == sorted[(n - 1) / 2],
                       "n " << n << " kind " << kind);
        }
    }
}

BOOST_AUTO_TEST_CASE(fsim_rejects_bad_input) {
    const auto says = [](std::string_view prefix, std::string_view part) {
        return [prefix, part](const xrestore::error& e) {
            const std::string what = e.what();
            return what.rfind(prefix, 0) == 0 && what.find(part) != std::string::npos;
        };
    };
    const image x = load("cameraman77x61_ref"); // 1 x 77 x 61
    const image narrower = xt::view(x, xt::all(), xt::all(), xt::range(0, 60));
    BOOST_CHECK_EXCEPTION(fsim(x, narrower), shape_error, says("fsim: ", "1 x 77 x 60"));
    image nan = x;
    nan(0, 10, 10) = std::nanf("");
    BOOST_CHECK_EXCEPTION(fsim(x, nan), value_error, says("fsim: ", "finite"));
    BOOST_CHECK_EXCEPTION(fsim(nan, x), value_error, says("fsim: ", "finite"));
    BOOST_CHECK_EXCEPTION(fsim(x, x, {.data_range = 0.0}), value_error,
                          says("fsim: ", "data_range"));
    BOOST_CHECK_EXCEPTION(fsim(x, x, {.data_range = std::nan("")}), value_error,
                          says("fsim: ", "data_range"));
    const image two = xt::zeros<float>({std::size_t{2}, std::size_t{20}, std::size_t{20}});
    BOOST_CHECK_EXCEPTION(fsim(two, two), shape_error, says("fsim: ", "2 x 20 x 20"));
    const image four = xt::zeros<float>({std::size_t{4}, std::size_t{20}, std::size_t{20}});
    BOOST_CHECK_EXCEPTION(fsim(four, four, {.chromatic = false}), shape_error,
                          says("fsim: ", "3 (RGB: FSIMc)"));
    // the minimum size: 2 x 2
    const image row = xt::view(x, xt::all(), xt::range(0, 1), xt::all());
    BOOST_CHECK_EXCEPTION(fsim(row, row), shape_error, says("fsim: ", "at least 2 x 2"));
    const image column = xt::view(x, xt::all(), xt::all(), xt::range(0, 1));
    BOOST_CHECK_EXCEPTION(fsim(column, column), shape_error, says("fsim: ", "at least 2 x 2"));
    const image corner = xt::view(x, xt::all(), xt::range(30, 32), xt::range(30, 32));
    BOOST_TEST(std::isfinite(fsim(corner, corner * 0.5f)));
    const image empty = xt::zeros<float>({std::size_t{1}, std::size_t{0}, std::size_t{5}});
    BOOST_CHECK_THROW(fsim(empty, empty), value_error);

    const image rgb = load("butterfly96_ref");
    const image per_channel = xt::ones_like(rgb);
    BOOST_CHECK_EXCEPTION(fsim_masked(rgb, rgb, per_channel), shape_error,
                          says("fsim_masked: ", "1 x H x W"));
    const image wrong = xt::ones<float>({std::size_t{1}, std::size_t{96}, std::size_t{95}});
    BOOST_CHECK_EXCEPTION(fsim_masked(rgb, rgb, wrong), shape_error,
                          says("fsim_masked: ", "1 x 96 x 95"));
    image bad_mask = xt::ones<float>({std::size_t{1}, std::size_t{96}, std::size_t{96}});
    bad_mask(0, 50, 50) = std::nanf("");
    BOOST_CHECK_EXCEPTION(fsim_masked(rgb, rgb, bad_mask), value_error,
                          says("fsim_masked: ", "mask"));
    const image none = xt::zeros<float>({std::size_t{1}, std::size_t{96}, std::size_t{96}});
    BOOST_CHECK_EXCEPTION(fsim_masked(rgb, rgb, none), value_error,
                          says("fsim_masked: ", "selects no entry"));
    // pooled by 2: a mask holding one pixel of each 2 x 2 block selects no entry
    const image big = load("cam512");
    image sparse = xt::zeros<float>({std::size_t{1}, std::size_t{512}, std::size_t{512}});
    xt::view(sparse, 0, xt::range(0, 512, 2), xt::range(0, 512, 2)) = 1.0f;
    BOOST_CHECK_EXCEPTION(fsim_masked(big, big, sparse), value_error,
                          says("fsim_masked: ", "256 x 256"));
    xt::view(sparse, 0, xt::range(1, 512, 2), xt::range(0, 512, 2)) = 1.0f; // half: selected
    BOOST_TEST(fsim_masked(big, big, sparse) == 1.0);
    BOOST_CHECK_EXCEPTION(fsim_masked(x, narrower, xt::ones_like(x)), shape_error,
                          says("fsim_masked: ", "1 x 77 x 60"));
}

BOOST_AUTO_TEST_SUITE_END() // test_metrics_fsim
