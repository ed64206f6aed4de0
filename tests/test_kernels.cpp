#include <boost/test/unit_test.hpp>

#include <xrestore/io/image.hpp>
#include <xrestore/io/kernel_file.hpp>
#include <xrestore/io/npy.hpp>
#include <xrestore/operators/boundary.hpp>
#include <xrestore/operators/kernels.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_kernels)

using namespace xrestore;
namespace tt = boost::test_tools;

namespace {

double kernel_sum(const matrix& k) {
    double s = 0.0;
    for (float v : k) {
        s += v;
    }
    return s;
}

/// k(i, j) == k(n-1-i, m-1-j) for every entry
bool point_symmetric(const matrix& k) {
    const std::size_t n = k.shape()[0];
    const std::size_t m = k.shape()[1];
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < m; ++j) {
            if (std::abs(k(i, j) - k(n - 1 - i, m - 1 - j)) > 1e-7f) {
                return false;
            }
        }
    }
    return true;
}

std::filesystem::path temporary(const std::string& name) {
    return std::filesystem::temp_directory_path() / ("xrestore_test_kernels_" + name);
}

} // namespace

BOOST_AUTO_TEST_CASE(box_kernel_is_uniform) {
    for (std::size_t p : {1u, 7u, 13u, 17u}) {
        const matrix k = box_kernel(p);
        BOOST_TEST((k.shape()[0] == p && k.shape()[1] == p));
        BOOST_TEST(kernel_sum(k) == 1.0, tt::tolerance(1e-6));
        BOOST_TEST(xt::all(xt::equal(k, static_cast<float>(1.0 / static_cast<double>(p * p)))));
    }
    BOOST_CHECK_THROW((void)box_kernel(0), value_error);
    BOOST_CHECK_THROW((void)box_kernel(100000), value_error);
}

BOOST_AUTO_TEST_CASE(motion_kernel_at_zero_is_the_centre_row) {
    const matrix k = motion_kernel(15, 0.0);
    BOOST_TEST((k.shape()[0] == 15 && k.shape()[1] == 15));
    for (std::size_t i = 0; i < 15; ++i) {
        for (std::size_t j = 0; j < 15; ++j) {
            BOOST_TEST(k(i, j) == (i == 7 ? 1.0f / 15.0f : 0.0f), tt::tolerance(1e-7f));
        }
    }
    // angle pi is the same line
    BOOST_TEST(xt::amax(xt::abs(motion_kernel(15, std::numbers::pi) - k))() <= 1e-7f);
}

BOOST_AUTO_TEST_CASE(motion_kernel_at_right_angle_is_the_centre_column) {
    const matrix k = motion_kernel(9, std::numbers::pi / 2);
    for (std::size_t i = 0; i < 9; ++i) {
        for (std::size_t j = 0; j < 9; ++j) {
            BOOST_TEST(k(i, j) == (j == 4 ? 1.0f / 9.0f : 0.0f), tt::tolerance(1e-7f));
        }
    }
}

BOOST_AUTO_TEST_CASE(motion_kernel_at_45_degrees_goes_up_to_the_right) {
    const std::size_t n = 15;
    const matrix k = motion_kernel(n, std::numbers::pi / 4);
    BOOST_TEST(kernel_sum(k) == 1.0, tt::tolerance(1e-6));
    BOOST_TEST(point_symmetric(k));
    // the anti-diagonal (up-right from the centre) carries the most weight, the diagonal none
    // beyond the centre
    const float on_line = k(7 - 3, 7 + 3);
    BOOST_TEST(on_line == k(7, 7), tt::tolerance(1e-6f));
    BOOST_TEST(k(7 - 3, 7 - 3) == 0.0f);
    BOOST_TEST(k(7 + 3, 7 + 3) == 0.0f);
    // mirror symmetric about the line itself: k(i, j) = k(n-1-j, n-1-i)
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            BOOST_TEST(k(i, j) == k(n - 1 - j, n - 1 - i), tt::tolerance(1e-6f));
        }
    }
    // the line has length 15: the corner pixel (distance 7 sqrt 2 ~ 9.9 > 8) is empty
    BOOST_TEST(k(0, n - 1) == 0.0f);
}

BOOST_AUTO_TEST_CASE(motion_kernel_sums_to_one_at_every_angle) {
    for (double angle : {0.1, 0.785, 1.3, 2.0, 3.0, -0.5}) {
        const matrix k = motion_kernel(15, angle);
        BOOST_TEST(kernel_sum(k) == 1.0, tt::tolerance(1e-6));
        BOOST_TEST(point_symmetric(k));
        BOOST_TEST(xt::amin(k)() >= 0.0f);
    }
    BOOST_CHECK_THROW((void)motion_kernel(14, 0.1), value_error);
    BOOST_CHECK_THROW((void)motion_kernel(0, 0.1), value_error);
    BOOST_CHECK_THROW((void)motion_kernel(15, std::numeric_limits<double>::quiet_NaN()),
                      value_error);
}

BOOST_AUTO_TEST_CASE(gaussian_kernel_follows_the_formula) {
    const double sigma = 2.0;
    const matrix k = gaussian_kernel(sigma, 13);
    BOOST_TEST(kernel_sum(k) == 1.0, tt::tolerance(1e-6));
    BOOST_TEST(point_symmetric(k));
    BOOST_TEST(xt::amax(xt::abs(k - xt::transpose(k)))() == 0.0f);
    // k(6, 6 + d) / k(6, 6) = exp(-d^2 / (2 sigma^2))
    for (std::size_t d = 1; d <= 6; ++d) {
        const double ratio = static_cast<double>(k(6, 6 + d)) / k(6, 6);
        BOOST_TEST(ratio == std::exp(-static_cast<double>(d * d) / (2 * sigma * sigma)),
                   tt::tolerance(1e-5));
    }
    // even size: centred between pixels 3 and 4
    const matrix e = gaussian_kernel(sigma, 8);
    BOOST_TEST(kernel_sum(e) == 1.0, tt::tolerance(1e-6));
    BOOST_TEST(point_symmetric(e));
    BOOST_TEST(e(3, 3) == e(4, 4));
    BOOST_TEST(e(3, 3) == xt::amax(e)());
    BOOST_CHECK_THROW((void)gaussian_kernel(-1.0, 5), value_error);
    BOOST_CHECK_THROW((void)gaussian_kernel(0.0, 5), value_error);
    BOOST_CHECK_THROW((void)gaussian_kernel(std::numeric_limits<double>::infinity(), 5),
                      value_error);
    BOOST_CHECK_THROW((void)gaussian_kernel(1.0, 0), value_error);
}

BOOST_AUTO_TEST_CASE(disk_kernel_is_a_symmetric_pillbox) {
    const matrix k = disk_kernel(9.0);
    BOOST_TEST((k.shape()[0] == 9 && k.shape()[1] == 9));
    BOOST_TEST(kernel_sum(k) == 1.0, tt::tolerance(1e-6));
    BOOST_TEST(point_symmetric(k));
    BOOST_TEST(xt::amax(xt::abs(k - xt::transpose(k)))() == 0.0f);
    BOOST_TEST(k(0, 0) == 0.0f);    // corner: distance 4 sqrt 2 > 4.5
    BOOST_TEST(k(0, 4) == k(4, 4)); // edge midpoint: distance 4 <= 4.5
    // 69 pixel centres lie within 4.5 of the centre
    std::size_t inside = 0;
    for (float v : k) {
        inside += v > 0.0f ? 1 : 0;
    }
    BOOST_TEST(inside == 69u);
    BOOST_TEST(disk_kernel(4.0).shape()[0] == 5u); // odd ceil
    BOOST_TEST(disk_kernel(1.0).size() == 1u);
    BOOST_CHECK_THROW((void)disk_kernel(0.0), value_error);
    BOOST_CHECK_THROW((void)disk_kernel(-3.0), value_error);
}

BOOST_AUTO_TEST_CASE(normalized_kernel_checks_its_input) {
    const matrix k = normalized_kernel(matrix{{1.0f, 2.0f, 1.0f}});
    BOOST_TEST(k(0, 1) == 0.5f);
    BOOST_TEST(kernel_sum(normalized_kernel(matrix{{-1.0f, 3.0f}})) == 1.0, tt::tolerance(1e-7));
    BOOST_CHECK_THROW((void)normalized_kernel(matrix{{1.0f, -1.0f}}), value_error);
    BOOST_CHECK_THROW((void)normalized_kernel(matrix(xt::zeros<float>({0, 2}))), value_error);
    BOOST_CHECK_THROW(
        (void)normalized_kernel(matrix{{1.0f, std::numeric_limits<float>::quiet_NaN()}}),
        value_error);
}

BOOST_AUTO_TEST_CASE(kernel_specs_build_the_factories_kernels) {
    BOOST_TEST(parse_kernel_spec("box:13") == box_kernel(13));
    BOOST_TEST(parse_kernel_spec("motion:15,0.785") == motion_kernel(15, 0.785));
    BOOST_TEST(parse_kernel_spec("gaussian:2.0,13") == gaussian_kernel(2.0, 13));
    BOOST_TEST(parse_kernel_spec("gaussian:2") == gaussian_kernel(2.0, 13)); // 2 ceil(3 s) + 1
    BOOST_TEST(parse_kernel_spec("disk:9") == disk_kernel(9.0));
    BOOST_TEST(parse_kernel_spec("motion: 15, -0.5") == motion_kernel(15, -0.5));
}

BOOST_AUTO_TEST_CASE(malformed_kernel_specs_are_refused) {
    for (const char* spec : {"",
                             "box",
                             "box:",
                             "box:x",
                             "box:3,4",
                             "box:-3",
                             "box:3.5",
                             "box:0",
                             "motion:15",
                             "motion:14,0.1",
                             "motion:15,nan",
                             "motion:15,1,2",
                             "gaussian:-1,5",
                             "gaussian:2,0",
                             "gaussian:abc",
                             "disk:0",
                             "disk:",
                             "blur:3",
                             ":3",
                             "motion:15,0.785x"}) {
        BOOST_TEST_CONTEXT("spec '" << spec << "'") {
            BOOST_CHECK_THROW((void)parse_kernel_spec(spec), value_error);
        }
    }
    BOOST_CHECK_THROW((void)parse_kernel_spec("file:/nonexistent/k.npy", read_kernel_file),
                      io_error);
    // operators read no files: the file form needs io's reader
    BOOST_CHECK_THROW((void)parse_kernel_spec("file:/nonexistent/k.npy"), value_error);
}

BOOST_AUTO_TEST_CASE(kernel_files_npy_and_image) {
    const matrix raw = {{0.0f, 1.0f, 2.0f}, {1.0f, 4.0f, 0.0f}};
    const auto npy = temporary("k.npy");
    write_npy(npy, raw);
    BOOST_TEST(read_kernel_file(npy) == raw);
    const matrix k = parse_kernel_spec("file:" + npy.string(), read_kernel_file);
    BOOST_TEST(xt::amax(xt::abs(k - raw / 8.0f))() <= 1e-7f);
    // 1 x 1 x kh x kw (a PyTorch depthwise weight) is one plane too
    write_npy(npy, xt::eval(xt::reshape_view(raw, {1, 1, 2, 3})));
    BOOST_TEST(read_kernel_file(npy) == raw);
    write_npy(npy, xt::zeros<float>({2, 2, 3}));
    BOOST_CHECK_THROW((void)read_kernel_file(npy), shape_error);
    // a zero-sum file cannot be normalised
    write_npy(npy, xt::zeros<float>({3, 3}));
    BOOST_CHECK_THROW((void)parse_kernel_spec("file:" + npy.string(), read_kernel_file),
                      value_error);
    std::filesystem::remove(npy);

    // an 8-bit gray PNG PSF: values are i / 255
    const auto png = temporary("k.png");
    image psf = xt::zeros<float>({1, 3, 3});
    psf(0, 1, 1) = 1.0f;
    psf(0, 1, 2) = 51.0f / 255.0f;
    write_png(png, psf);
    const matrix from_png = read_kernel_file(png);
    BOOST_TEST(from_png(1, 1) == 1.0f);
    BOOST_TEST(from_png(1, 2) == 0.2f, tt::tolerance(1e-6f));
    const matrix normalized = parse_kernel_spec("file:" + png.string(), read_kernel_file);
    BOOST_TEST(normalized(1, 1) == 1.0f / 1.2f, tt::tolerance(1e-6f));
    std::filesystem::remove(png);
}

BOOST_AUTO_TEST_CASE(boundary_names_round_trip) {
    for (auto b : {boundary::zero, boundary::circular, boundary::reflect, boundary::replicate,
                   boundary::mean}) {
        BOOST_TEST((parse_boundary(to_string(b)) == b));
    }
    BOOST_TEST((parse_boundary("periodic") == boundary::circular));
    BOOST_TEST((parse_boundary("wrap") == boundary::circular));
    BOOST_TEST((parse_boundary("edge") == boundary::replicate));
    for (const char* name : {"", "Zero", "symmetric", "reflect101", "constant"}) {
        BOOST_CHECK_THROW((void)parse_boundary(name), value_error);
    }
}

BOOST_AUTO_TEST_CASE(boundary_indices_match_numpy_pad) {
    // np.pad(np.arange(5), 9, mode=...) for the positions -9 .. 13
    const std::vector<std::int64_t> reflect = {1, 0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2,
                                               3, 4, 3, 2, 1, 0, 1, 2, 3, 4, 3};
    const std::vector<std::int64_t> wrap = {1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2,
                                            3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3};
    for (std::int64_t i = -9; i <= 13; ++i) {
        const auto at = static_cast<std::size_t>(i + 9);
        BOOST_TEST(boundary_source_index(i, 5, boundary::reflect) == reflect[at]);
        BOOST_TEST(boundary_source_index(i, 5, boundary::circular) == wrap[at]);
        BOOST_TEST(boundary_source_index(i, 5, boundary::replicate) ==
                   std::clamp<std::int64_t>(i, 0, 4));
        BOOST_TEST(boundary_source_index(i, 5, boundary::zero) == (i >= 0 && i < 5 ? i : -1));
        BOOST_TEST(boundary_source_index(i, 5, boundary::mean) == (i >= 0 && i < 5 ? i : -1));
    }
    // a single pixel reflects onto itself; two pixels alternate
    BOOST_TEST(boundary_source_index(-3, 1, boundary::reflect) == 0);
    BOOST_TEST(boundary_source_index(-5, 2, boundary::reflect) == 1);
    BOOST_TEST(boundary_source_index(6, 2, boundary::reflect) == 0);
}

BOOST_AUTO_TEST_SUITE_END() // test_kernels
