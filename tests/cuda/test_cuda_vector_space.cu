#define BOOST_TEST_MODULE cuda_vector_space
#include "cuda/cuda_test_support.cuh"

#include <xrestore/backend/cuda/device_array.cuh>
#include <xrestore/solvers/cg.hpp>

namespace xrestore::test {
double dot_from_second_unit(const device_array<3>& x, const device_array<3>& y);
} // namespace xrestore::test

using xrestore::device_array;
using xrestore::image;
using xrestore::test::normalised_error;
using xrestore::test::uniform_tensor;

BOOST_AUTO_TEST_CASE(upload_and_download_round_trip_exactly) {
    const image host = uniform_tensor<3>({3, 37, 41}, 1);
    const device_array<3> device = xrestore::to_device(host);
    BOOST_TEST(device.shape() == host.shape(), boost::test_tools::per_element());
    const image back = xrestore::to_host(device);
    BOOST_TEST(normalised_error(back, host) == 0.0);
}

BOOST_AUTO_TEST_CASE(element_wise_operations_match_the_cpu_backend) {
    const image hx = uniform_tensor<3>({3, 64, 65}, 2);
    const image hy = uniform_tensor<3>({3, 64, 65}, 3);
    device_array<3> x = xrestore::to_device(hx);
    device_array<3> y = xrestore::to_device(hy);
    image cx = hx;
    image cy = hy;
    xrestore::axpy(0.75f, x, y);
    xrestore::axpy(0.75f, cx, cy);
    BOOST_TEST(normalised_error(xrestore::to_host(y), cy) <= 1e-6);
    xrestore::axpby(-1.5f, x, 0.25f, y);
    xrestore::axpby(-1.5f, cx, 0.25f, cy);
    BOOST_TEST(normalised_error(xrestore::to_host(y), cy) <= 1e-6);
    xrestore::scal(3.0f, y);
    xrestore::scal(3.0f, cy);
    BOOST_TEST(normalised_error(xrestore::to_host(y), cy) <= 1e-6);
    device_array<3> z;
    xrestore::copy(y, z);
    BOOST_TEST(normalised_error(xrestore::to_host(z), cy) == 0.0);
    const device_array<3> zero = xrestore::zeros_like(x);
    BOOST_TEST(xrestore::norm(zero) == 0.0);
}

BOOST_AUTO_TEST_CASE(dot_is_deterministic_and_matches_the_cpu_sum) {
    // sizes below one block, across the block boundary and large enough for many blocks
    for (std::size_t n : {1u, 255u, 257u, 100000u, 3u * 512u * 512u}) {
        const image hx = uniform_tensor<3>({1, 1, n}, 10 + n);
        const image hy = uniform_tensor<3>({1, 1, n}, 20 + n);
        const device_array<3> x = xrestore::to_device(hx);
        const device_array<3> y = xrestore::to_device(hy);
        const double device = xrestore::dot(x, y);
        double exact = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            exact += static_cast<double>(hx.data()[i]) * static_cast<double>(hy.data()[i]);
        }
        BOOST_TEST(std::abs(device - exact) <= 1e-12 * exact);
        // the same launch geometry and order every time: bit-identical, also from another unit
        BOOST_TEST(xrestore::dot(x, y) == device);
        BOOST_TEST(xrestore::test::dot_from_second_unit(x, y) == device);
    }
}

BOOST_AUTO_TEST_CASE(mismatched_shapes_are_rejected) {
    device_array<3> x = xrestore::zeros<device_array<3>>({1, 4, 4});
    device_array<3> y = xrestore::zeros<device_array<3>>({1, 4, 5});
    BOOST_CHECK_THROW(xrestore::axpy(1.0f, x, y), xrestore::shape_error);
    BOOST_CHECK_THROW(xrestore::dot(x, y), xrestore::shape_error);
}

BOOST_AUTO_TEST_CASE(random_vectors_equal_the_cpu_ones_for_the_same_seed) {
    std::mt19937_64 a(7);
    std::mt19937_64 b(7);
    const auto device = xrestore::vector_space<device_array<3>>::random({2, 5, 6}, a);
    const auto host = xrestore::vector_space<image>::random({2, 5, 6}, b);
    BOOST_TEST(normalised_error(xrestore::to_host(device), host) == 0.0);
}

BOOST_AUTO_TEST_CASE(conjugate_gradient_on_device_matches_the_cpu_solve) {
    // C = diag(d) + 0.5 I, applied element-wise on both backends
    const image hd = uniform_tensor<3>({2, 40, 50}, 4);
    const image hb = uniform_tensor<3>({2, 40, 50}, 5);
    const device_array<3> dd = xrestore::to_device(hd);
    auto cpu_op = [&](const image& v, image& out) { out = hd * v + 0.5f * v; };
    auto device_op = [&](const device_array<3>& v, device_array<3>& out) {
        out.resize(v.shape());
        xrestore::cuda::for_each_index(v.size(),
                                       xrestore::kernels::copy_body{v.data(), out.data()});
        xrestore::cuda::for_each_index(
            v.size(), [d = dd.data(), in = v.data(), o = out.data()] __device__(std::size_t i) {
                o[i] = d[i] * in[i] + 0.5f * in[i];
            });
    };
    const auto cpu = xrestore::conjugate_gradient(cpu_op, hb, xrestore::zeros_like(hb),
                                                  {.max_iter = 50, .tol = 1e-7});
    const device_array<3> b = xrestore::to_device(hb);
    const auto gpu = xrestore::conjugate_gradient(device_op, b, xrestore::zeros_like(b),
                                                  {.max_iter = 50, .tol = 1e-7});
    BOOST_TEST(gpu.iterations == cpu.iterations);
    BOOST_TEST(normalised_error(xrestore::to_host(gpu.x), cpu.x) <= 1e-6);
}
