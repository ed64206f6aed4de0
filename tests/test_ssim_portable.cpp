#include <boost/test/unit_test.hpp>

// The portable code path of the SSIM kernels (no run-time AVX2 dispatch), as it runs on CPUs
// without AVX2, against the scikit-image golden values of tests/golden/metrics.json.
#define XRESTORE_NO_DISPATCH
#include <xrestore/io/npy.hpp>
#include <xrestore/metrics/masked.hpp>
#include <xrestore/metrics/ms_ssim.hpp>
#include <xrestore/metrics/ssim.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <string>

BOOST_AUTO_TEST_SUITE(test_ssim_portable)

using namespace xrestore;
using json = nlohmann::json;

static_assert(!XRESTORE_DETAIL_X86_DISPATCH);

namespace {

image load(const json& golden, const std::string& key) {
    const json& entry = golden.at("arrays").at(key);
    image x = read_npy<3>(std::string(XRESTORE_TEST_DIR) + "/golden/" +
                          entry.at("file").get<std::string>());
    const float divisor = entry.at("divisor").get<float>();
    if (divisor != 1.0f) {
        x = x / divisor;
    }
    return x;
}

} // namespace

BOOST_AUTO_TEST_CASE(portable_path_matches_skimage) {
    std::ifstream in(std::string(XRESTORE_TEST_DIR) + "/golden/metrics.json");
    BOOST_REQUIRE(in);
    const json golden = json::parse(in);
    const ssim_options study{.gaussian_weights = true, .use_sample_covariance = false};
    for (const json& c : golden.at("cases")) {
        const image ref = load(golden, c.at("reference"));
        const image img = load(golden, c.at("image"));
        const double uniform = c.at("ssim").at("uniform7");
        const double gaussian = c.at("ssim").at("gaussian");
        const double box19 = c.at("ssim").at("box19_population");
        BOOST_TEST(ssim(ref, img) == uniform, boost::test_tools::tolerance(1e-7));
        BOOST_TEST(ssim(ref, img, study) == gaussian, boost::test_tools::tolerance(1e-7));
        BOOST_TEST(ssim(ref, img, {.win_size = 19, .use_sample_covariance = false}) == box19,
                   boost::test_tools::tolerance(1e-7));
        const double ms3 = c.at("ms_ssim_3scales");
        BOOST_TEST(ms_ssim(ref, img, {.weights = {0.2, 0.3, 0.5}}) == ms3,
                   boost::test_tools::tolerance(1e-7));
        for (const json& e : c.at("masked")) {
            image mask = load(golden, e.at("mask"));
            if (e.at("invert").get<bool>()) {
                mask = 1.0f - mask;
            }
            const double want = e.at("ssim_gaussian");
            BOOST_TEST(ssim_masked(ref, img, mask, study) == want,
                       boost::test_tools::tolerance(1e-7));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END() // test_ssim_portable
