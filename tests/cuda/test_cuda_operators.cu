#define BOOST_TEST_MODULE cuda_operators
#include "cuda/cuda_test_support.cuh"

#include <xrestore/cuda.cuh>

#include <array>
#include <cstdint>

using xrestore::device_array;
using xrestore::image;
using xrestore::matrix;
using xrestore::test::normalised_error;
using xrestore::test::uniform_tensor;

namespace {

constexpr std::array<xrestore::boundary, 5> all_modes = {
    xrestore::boundary::zero, xrestore::boundary::circular, xrestore::boundary::reflect,
    xrestore::boundary::replicate, xrestore::boundary::mean};

/// Device apply and adjoint of `device_op` equal the CPU operator's, and the device pair is
/// adjoint: <A x, y> = <x, A^T y>.
template <class HostOp, class DeviceOp>
void check_against_cpu(const HostOp& host_op, const DeviceOp& device_op, std::uint64_t seed) {
    const auto in_shape = host_op.domain_shape();
    const auto out_shape = host_op.range_shape();
    const auto hx = uniform_tensor<std::tuple_size_v<decltype(in_shape)>>(in_shape, seed);
    const auto hy = uniform_tensor<std::tuple_size_v<decltype(out_shape)>>(out_shape, seed + 1);
    const auto dx = xrestore::to_device(hx);
    const auto dy = xrestore::to_device(hy);
    const auto ax = device_op.apply(dx);
    const auto aty = device_op.adjoint(dy);
    BOOST_TEST(normalised_error(xrestore::to_host(ax), host_op.apply(hx)) <= 1e-6);
    BOOST_TEST(normalised_error(xrestore::to_host(aty), host_op.adjoint(hy)) <= 1e-6);
    const double lhs = xrestore::dot(ax, dy);
    const double rhs = xrestore::dot(dx, aty);
    BOOST_TEST(std::abs(lhs - rhs) <= 1e-5 * std::abs(lhs));
}

matrix random_kernel(std::size_t kh, std::size_t kw, std::uint64_t seed) {
    return uniform_tensor<2>({kh, kw}, seed);
}

} // namespace

BOOST_AUTO_TEST_CASE(convolution_matches_the_cpu_operator_in_every_mode_and_size) {
    // tiled (1x1, 3x3, even 4x6, 17x17), larger than the image (13x13 on 9x11), untiled (35x3)
    const std::array<std::array<std::size_t, 2>, 6> sizes = {
        {{1, 1}, {3, 3}, {4, 6}, {17, 17}, {13, 13}, {35, 3}}};
    std::uint64_t seed = 100;
    for (const auto mode : all_modes) {
        for (const auto& size : sizes) {
            for (const bool flip : {false, true}) {
                const xrestore::shape3 shape =
                    size[0] == 13 ? xrestore::shape3{2, 9, 11} : xrestore::shape3{3, 37, 50};
                BOOST_TEST_CONTEXT("mode " << xrestore::to_string(mode) << ", kernel " << size[0]
                                           << " x " << size[1] << ", flip " << flip) {
                    const xrestore::convolution host(random_kernel(size[0], size[1], ++seed), shape,
                                                     {.boundary = mode, .flip_kernel = flip});
                    const xrestore::cuda::convolution device(host);
                    check_against_cpu(host, device, ++seed);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(convolution_in_place_and_bad_shapes) {
    const xrestore::convolution host(xrestore::box_kernel(5), {1, 20, 20},
                                     {.boundary = xrestore::boundary::reflect});
    const xrestore::cuda::convolution device(host);
    const image hx = uniform_tensor<3>({1, 20, 20}, 1);
    device_array<3> x = xrestore::to_device(hx);
    device.apply_into(x, x);
    BOOST_TEST(normalised_error(xrestore::to_host(x), host.apply(hx)) <= 1e-6);
    const device_array<3> wrong = xrestore::zeros<device_array<3>>({1, 20, 21});
    BOOST_CHECK_THROW(device.apply(wrong), xrestore::shape_error);
    BOOST_CHECK_THROW(device.adjoint(wrong), xrestore::shape_error);
}

BOOST_AUTO_TEST_CASE(inpainting_matches_the_cpu_operator) {
    const xrestore::inpainting host(xrestore::random_mask({3, 31, 45}, 0.4, 3));
    const xrestore::cuda::inpainting device(host);
    check_against_cpu(host, device, 7);
    const image hx = uniform_tensor<3>({3, 31, 45}, 8);
    BOOST_TEST(normalised_error(xrestore::to_host(device.normal(xrestore::to_device(hx))),
                                host.normal(hx)) == 0.0);
}

BOOST_AUTO_TEST_CASE(downsampling_matches_the_cpu_operator) {
    for (const std::size_t factor : {1u, 2u, 3u}) {
        for (const bool antialias : {false, true}) {
            const xrestore::downsampling host({3, 40, 47}, factor, {.antialias = antialias});
            const xrestore::cuda::downsampling device(host);
            check_against_cpu(host, device, 20 + factor);
        }
    }
}

BOOST_AUTO_TEST_CASE(gradient_and_divergence_match_the_cpu_operators) {
    const xrestore::gradient host({2, 33, 29});
    const xrestore::cuda::gradient device(host);
    check_against_cpu(host, device, 40);
    const auto hp = uniform_tensor<4>({2, 2, 33, 29}, 41);
    BOOST_TEST(
        normalised_error(xrestore::to_host(xrestore::cuda::divergence(xrestore::to_device(hp))),
                         xrestore::divergence(hp)) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(haar_matches_the_cpu_transform) {
    for (const std::size_t levels : {1u, 3u}) {
        const xrestore::haar_wavelet host({3, 45, 38}, levels);
        const xrestore::cuda::haar_wavelet device(host);
        check_against_cpu(host, device, 50 + levels);
    }
}
