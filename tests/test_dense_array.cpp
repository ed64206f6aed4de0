// A second host-side array type, plugged in through dense_array_traits only: the generic vector
// space, every operator template, the metrics and a solver run on it through the paths the CUDA
// backend takes (kernel bodies on the array's backend, backend buffers, segment sums, the
// non-finite bisection), and must give the CPU operators' results.
#include "test_support.hpp"

#include <xrestore/core/linear_operator.hpp>
#include <xrestore/core/vector_space.hpp>
#include <xrestore/metrics/mse.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/ssim.hpp>
#include <xrestore/operators/adjoint_check.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/downsampling.hpp>
#include <xrestore/operators/gradient.hpp>
#include <xrestore/operators/haar.hpp>
#include <xrestore/operators/inpainting.hpp>
#include <xrestore/solvers/tv.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace xrestore::test {

/// A float array in a std::vector with a shape: nothing of xtensor, so every operation on it
/// goes through dense_array_traits and the generic code.
template <std::size_t N>
class host_array {
public:
    using shape_type = std::array<std::size_t, N>;
    host_array() = default;
    explicit host_array(const shape_type& shape) : shape_(shape), values_(element_count(shape)) {}

    float* data() { return values_.data(); }
    const float* data() const { return values_.data(); }
    const shape_type& shape() const { return shape_; }
    static constexpr std::size_t dimension() { return N; }
    std::size_t size() const { return values_.size(); }
    void resize(const shape_type& shape) {
        shape_ = shape;
        values_.resize(element_count(shape));
    }

private:
    shape_type shape_{};
    std::vector<float> values_;
};

} // namespace xrestore::test

/// host_array on the CPU backend.
template <std::size_t N>
struct xrestore::dense_array_traits<xrestore::test::host_array<N>> {
    using array = xrestore::test::host_array<N>;
    using backend = cpu_tag;
    static constexpr std::size_t rank = N;
    template <std::size_t M>
    using rebind = xrestore::test::host_array<M>;
    using shape_type = std::array<std::size_t, N>;

    static array allocate(const shape_type& shape) { return array(shape); }
    static shape_type shape(const array& a) { return a.shape(); }
    static void resize(array& a, const shape_type& shape) { a.resize(shape); }
    static array from_host(const tensor<N>& host) {
        array a(shape_of<N>(host));
        std::copy(host.begin(), host.end(), a.data());
        return a;
    }
    static tensor<N> to_host(const array& a) {
        tensor<N> host(a.shape());
        std::copy(a.data(), a.data() + a.size(), host.data());
        return host;
    }
};

BOOST_AUTO_TEST_SUITE(test_dense_array)

using namespace xrestore;
using test::host_array;
using test::uniform_tensor;

static_assert(dense_vector<host_array<3>>);
static_assert(std::same_as<rebind_rank_t<host_array<3>, 4>, host_array<4>>);
static_assert(linear_operator<basic_convolution<host_array<3>>>);
static_assert(linear_operator<basic_gradient<host_array<3>>>);
static_assert(std::same_as<haar_transform_t<host_array<3>>, basic_haar_wavelet<host_array<3>>>);
static_assert(std::same_as<gradient_operator_t<host_array<3>>, basic_gradient<host_array<3>>>);

namespace {

template <std::size_t N>
host_array<N> to_array(const tensor<N>& t) {
    return convert_array<host_array<N>>(t);
}
template <std::size_t N>
tensor<N> to_tensor(const host_array<N>& a) {
    return convert_array<tensor<N>>(a);
}

/// max |a - b| over a generic result and a CPU one.
template <std::size_t N>
double max_difference(const host_array<N>& a, const tensor<N>& b) {
    return static_cast<double>(xt::amax(xt::abs(to_tensor(a) - b))());
}

/// max |a - b| / max(1, max |b|) over a generic result and a CPU one.
template <std::size_t N>
double relative_difference(const host_array<N>& a, const tensor<N>& b) {
    const double scale = static_cast<double>(xt::amax(xt::abs(b))());
    return max_difference(a, b) / std::max(1.0, scale);
}

/// The generic operator `op` (built from the CPU one) gives the CPU operator's apply and adjoint
/// within `tolerance` relative to the largest entry (0: bit for bit), and passes the adjoint
/// check on its own arrays.
template <class HostOp, class Op>
void check_against_cpu(const HostOp& host_op, const Op& op, std::uint64_t seed,
                       double tolerance = 0.0) {
    const auto in_shape = host_op.domain_shape();
    const auto out_shape = host_op.range_shape();
    const auto hx = uniform_tensor<std::tuple_size_v<decltype(in_shape)>>(in_shape, seed);
    const auto hy = uniform_tensor<std::tuple_size_v<decltype(out_shape)>>(out_shape, seed + 1);
    BOOST_TEST(relative_difference(op.apply(to_array(hx)), host_op.apply(hx)) <= tolerance);
    BOOST_TEST(relative_difference(op.adjoint(to_array(hy)), host_op.adjoint(hy)) <= tolerance);
    BOOST_TEST(adjoint_check(op, seed) <= 1e-5);
}

constexpr std::array<boundary, 5> all_modes = {
    boundary::zero, boundary::circular, boundary::reflect, boundary::replicate, boundary::mean};

/// "<exception type>: <message>" of what f throws, or "no exception".
template <class F>
std::string thrown(F&& f) {
    try {
        f();
    } catch (const shape_error& e) {
        return std::string("shape_error: ") + e.what();
    } catch (const value_error& e) {
        return std::string("value_error: ") + e.what();
    }
    return "no exception";
}

} // namespace

BOOST_AUTO_TEST_CASE(vector_space_of_a_user_array_matches_the_tensor_one) {
    const image hx = uniform_tensor<3>({2, 9, 11}, 1);
    const image hy = uniform_tensor<3>({2, 9, 11}, 2);
    host_array<3> x = to_array(hx);
    host_array<3> y = to_array(hy);
    image cy = hy;
    xrestore::axpby(0.5f, x, -2.0f, y);
    xrestore::axpby(0.5f, hx, -2.0f, cy);
    BOOST_TEST(max_difference(y, cy) == 0.0);
    BOOST_TEST(xrestore::dot(x, y) == xrestore::dot(hx, cy));
    host_array<3> z;
    xrestore::copy(y, z);
    BOOST_TEST(max_difference(z, cy) == 0.0);
    BOOST_TEST(xrestore::norm(xrestore::zeros_like(x)) == 0.0);
    std::mt19937_64 a(5);
    std::mt19937_64 b(5);
    BOOST_TEST(max_difference(vector_space<host_array<3>>::random({2, 3, 4}, a),
                              vector_space<image>::random({2, 3, 4}, b)) == 0.0);
    host_array<3> wrong({2, 9, 12});
    BOOST_CHECK_THROW(xrestore::axpy(1.0f, x, wrong), shape_error);
}

BOOST_AUTO_TEST_CASE(element_wise_operators_equal_the_cpu_ones_bit_for_bit) {
    const inpainting mask(random_mask({3, 17, 21}, 0.4, 3));
    check_against_cpu(mask, basic_inpainting<host_array<3>>(mask), 10);
    check_against_cpu(mask, basic_inpainting<host_array<3>>(random_mask({3, 17, 21}, 0.4, 3)), 10);
    const gradient d({2, 13, 11});
    check_against_cpu(d, basic_gradient<host_array<3>>(d), 20);
    const tensor<4> p = uniform_tensor<4>({2, 2, 13, 11}, 21);
    BOOST_TEST(max_difference(divergence(to_array(p)), divergence(p)) == 0.0);
    BOOST_CHECK_THROW(divergence(host_array<4>({3, 2, 13, 11})), shape_error);
    for (const std::size_t levels : {1u, 3u}) {
        const haar_wavelet w({3, 19, 14}, levels);
        check_against_cpu(w, basic_haar_wavelet<host_array<3>>(w), 30 + levels);
    }
    {
        // the block bodies against the CPU's banded rows, bit for bit: odd sides at every level,
        // above the CPU's parallel threshold
        const haar_wavelet w({3, 151, 103}, 7);
        check_against_cpu(w, basic_haar_wavelet<host_array<3>>(w), 37);
    }
    for (const std::size_t factor : {1u, 3u}) {
        const downsampling s({3, 20, 23}, factor);
        check_against_cpu(s, basic_downsampling<host_array<3>>(s), 40 + factor);
        check_against_cpu(s.decimator(), basic_decimation<host_array<3>>(s.decimator()),
                          50 + factor);
    }
}

BOOST_AUTO_TEST_CASE(convolution_body_path_matches_the_blocked_cpu_path_in_every_mode) {
    std::uint64_t seed = 100;
    for (const auto mode : all_modes) {
        for (const std::array<std::size_t, 2> size :
             {std::array<std::size_t, 2>{1, 1}, {4, 6}, {9, 9}, {13, 13}}) {
            for (const bool flip : {false, true}) {
                BOOST_TEST_CONTEXT("mode " << to_string(mode) << ", kernel " << size[0] << " x "
                                           << size[1] << ", flip " << flip) {
                    // 13 x 13 on a 2 x 9 x 11 image: the kernel is larger than the image
                    const shape3 shape = size[0] == 13 ? shape3{2, 9, 11} : shape3{3, 23, 30};
                    const convolution host(uniform_tensor<2>({size[0], size[1]}, ++seed), shape,
                                           {.boundary = mode, .flip_kernel = flip});
                    // the sums run in another order: a few float roundings apart
                    check_against_cpu(host, basic_convolution<host_array<3>>(host), ++seed, 5e-6);
                }
            }
        }
    }
    // built from host data directly, and the anti-aliased downsampling whose blur it is
    const convolution host(box_kernel(5), {1, 12, 12}, {.boundary = boundary::reflect});
    const basic_convolution<host_array<3>> direct(box_kernel(5), {1, 12, 12},
                                                  {.boundary = boundary::reflect});
    check_against_cpu(host, direct, 7, 5e-6);
    host_array<3> x = to_array(uniform_tensor<3>({1, 12, 12}, 8));
    direct.apply_into(x, x);
    BOOST_TEST(max_difference(x, host.apply(uniform_tensor<3>({1, 12, 12}, 8))) <= 5e-6);
    BOOST_CHECK_THROW(direct.apply(host_array<3>({1, 12, 13})), shape_error);
    const downsampling s({3, 30, 31}, 2, {.antialias = true});
    check_against_cpu(s, basic_downsampling<host_array<3>>(s), 9, 5e-6);
}

BOOST_AUTO_TEST_CASE(metrics_on_a_user_array_match_the_cpu_metrics) {
    const image x = uniform_tensor<3>({3, 31, 29}, 60);
    const image y = xt::eval(0.7f * x + 0.3f * uniform_tensor<3>({3, 31, 29}, 61));
    const host_array<3> ax = to_array(x);
    const host_array<3> ay = to_array(y);
    BOOST_TEST(mse(ax, ay) == mse(x, y), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(psnr(ax, ay, 2.0) == psnr(x, y, 2.0), boost::test_tools::tolerance(1e-12));
    for (const ssim_options& options : {ssim_options{}, gaussian_ssim_options}) {
        BOOST_TEST(ssim(ax, ay, options) == ssim(x, y, options),
                   boost::test_tools::tolerance(1e-9));
    }
    BOOST_TEST(ssim(ax, ax) == 1.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(metrics_on_a_user_array_throw_the_cpu_messages) {
    const image a = uniform_tensor<3>({1, 20, 20}, 1);
    const image b = uniform_tensor<3>({1, 20, 21}, 2);
    const auto same = [](auto cpu, auto generic) {
        const std::string expected = thrown(cpu);
        BOOST_TEST(expected != "no exception");
        BOOST_TEST(thrown(generic) == expected);
    };
    same([&] { (void)mse(a, b); }, [&] { (void)mse(to_array(a), to_array(b)); });
    same([&] { (void)ssim(a, b); }, [&] { (void)ssim(to_array(a), to_array(b)); });
    same([&] { (void)ssim(a, a, {.win_size = 4}); },
         [&] { (void)ssim(to_array(a), to_array(a), {.win_size = 4}); });
    // the first non-finite entry by flat index, found by bisection of sums
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (const auto& entries : std::vector<std::vector<std::pair<std::size_t, float>>>{
             {{0, nan}}, {{399, inf}}, {{123, -inf}, {300, nan}}, {{211, -nan}}}) {
        image bad = a;
        for (const auto& [index, value] : entries) {
            bad.data()[index] = value;
        }
        same([&] { (void)ssim(a, bad); }, [&] { (void)ssim(to_array(a), to_array(bad)); });
        same([&] { (void)ssim(bad, a); }, [&] { (void)ssim(to_array(bad), to_array(a)); });
    }
}

BOOST_AUTO_TEST_CASE(tv_haar_on_a_user_array_matches_the_cpu_run) {
    // gradient_operator_t and haar_transform_t of the user array: the generic templates
    const image truth = test::butterfly_crop(32);
    const inpainting host(random_mask(shape_of<3>(truth), 0.6, 4));
    const basic_inpainting<host_array<3>> op(host);
    const image y = host.apply(truth);
    const tv_haar_options options{.lambda_tv = 5e-3,
                                  .lambda_wavelet = 1e-3,
                                  .levels = 2,
                                  .max_iter = 20,
                                  .tau = 1.0,
                                  .sigma = 0.09};
    const auto cpu = tv_haar_primal_dual(host, y, options);
    const auto generic = tv_haar_primal_dual(op, to_array(y), options);
    BOOST_TEST(generic.iterations == cpu.iterations);
    BOOST_TEST(max_difference(generic.x, cpu.x) <= 1e-6);
}

BOOST_AUTO_TEST_SUITE_END() // test_dense_array
