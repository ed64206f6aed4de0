#define BOOST_TEST_MODULE cuda_solvers
// Every solver run twice, on the CPU backend with the CPU operators and on the device with the
// same operator templates on device arrays, on the same problem: the device estimate must equal the
// CPU one (normalised error) and reach the same PSNR. The denoiser is a Gaussian blur
// (cuda::convolution on the device), so the PnP and RED loops run entirely on the device.
#include "cuda/cuda_test_support.cuh"

#include <xrestore/cuda.cuh>

#include <xtensor/xview.hpp>

#include <functional>
#include <string>

using xrestore::device_array;
using xrestore::image;
using xrestore::test::normalised_error;

// the Haar transform and the gradient on device arrays are the defaults the solvers recognise
// (Haar bands, ||W|| = 1, ||D||^2 <= 8)
static_assert(xrestore::haar_transform<xrestore::haar_transform_t<device_array<3>>>);
static_assert(
    xrestore::tv_gradient<xrestore::gradient_operator_t<device_array<3>>, device_array<3>>);
static_assert(!xrestore::haar_transform<xrestore::identity_operator<device_array<3>>>);

namespace {

/// A 3 x 64 x 64 crop of the bundled butterfly.
image truth() {
    const image full =
        xrestore::read_image(std::string(XRESTORE_DATA_DIR) + "/images/butterfly_set5.png");
    return xt::eval(xt::view(full, xt::all(), xt::range(96, 160), xt::range(96, 160)));
}

/// A blur problem on both backends: y = K x + noise, K Gaussian (reflect boundary).
struct blur_problem {
    image x = truth();
    xrestore::convolution host{xrestore::gaussian_kernel(1.6, 9),
                               xrestore::shape_of<3>(x),
                               {.boundary = xrestore::boundary::reflect}};
    xrestore::cuda::convolution device{host};
    image y = xrestore::add_gaussian_noise(host.apply(x), 0.01, 3);
    device_array<3> device_y = xrestore::to_device(y);
};

/// A Gaussian-blur "denoiser" on each backend (the same arithmetic).
struct smoothing {
    xrestore::convolution host{
        xrestore::gaussian_kernel(0.8, 5), {3, 64, 64}, {.boundary = xrestore::boundary::reflect}};
    xrestore::cuda::convolution device{host};
    image operator()(const image& z) const { return host.apply(z); }
    device_array<3> operator()(const device_array<3>& z) const { return device.apply(z); }
};

/// The device result equals the CPU one and scores the same PSNR against the truth.
template <class HostResult, class DeviceResult>
void check_same_result(const HostResult& cpu, const DeviceResult& gpu, const image& x,
                       double tolerance = 1e-4) {
    BOOST_TEST(gpu.iterations == cpu.iterations);
    BOOST_TEST(std::string(xrestore::to_string(gpu.stop)) == xrestore::to_string(cpu.stop));
    const image device_x = xrestore::to_host(gpu.x);
    BOOST_TEST(normalised_error(device_x, cpu.x) <= tolerance);
    BOOST_TEST(std::abs(xrestore::psnr(x, device_x) - xrestore::psnr(x, cpu.x)) <= 0.01);
}

} // namespace

BOOST_AUTO_TEST_CASE(pnp_admm_on_device_matches_the_cpu_run) {
    const blur_problem p;
    const smoothing d;
    const xrestore::pnp_admm_options options{.eta = 1e-2, .max_iter = 15};
    const auto cpu = xrestore::pnp_admm(p.host, p.y, d, options);
    const auto gpu = xrestore::pnp_admm(p.device, p.device_y, d, options);
    check_same_result(cpu, gpu, p.x);
    BOOST_TEST(gpu.inner_iterations == cpu.inner_iterations, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(reference_monitor_on_device_records_the_cpu_history) {
    const blur_problem p;
    const smoothing d;
    const xrestore::reference_monitor_options watch{.clip = true};
    xrestore::reference_monitor cpu_watch(p.x, watch);
    xrestore::basic_reference_monitor<device_array<3>> gpu_watch(xrestore::to_device(p.x), watch);
    const xrestore::pnp_admm_options options{.eta = 1e-2, .max_iter = 10};
    xrestore::pnp_admm(p.host, p.y, d, options, std::ref(cpu_watch));
    xrestore::pnp_admm(p.device, p.device_y, d, options, std::ref(gpu_watch));
    BOOST_TEST(gpu_watch.iterations() == cpu_watch.iterations(), boost::test_tools::per_element());
    for (std::size_t k = 0; k < cpu_watch.psnr().size(); ++k) {
        BOOST_TEST(std::abs(gpu_watch.psnr()[k] - cpu_watch.psnr()[k]) <= 1e-3);
    }
}

BOOST_AUTO_TEST_CASE(pnp_admm_inpainting_on_device_matches_the_cpu_run) {
    const image x = truth();
    const xrestore::inpainting host(xrestore::random_mask(xrestore::shape_of<3>(x), 0.4, 5));
    const xrestore::cuda::inpainting device(host);
    const image y = host.apply(x);
    const smoothing d;
    const xrestore::pnp_admm_options options{.eta = 1e-2, .max_iter = 15};
    const auto cpu = xrestore::pnp_admm(host, y, d, options);
    const auto gpu = xrestore::pnp_admm(device, xrestore::to_device(y), d, options);
    check_same_result(cpu, gpu, x);
}

BOOST_AUTO_TEST_CASE(pnp_pgd_and_hqs_on_device_match_the_cpu_runs) {
    const blur_problem p;
    const smoothing d;
    check_same_result(xrestore::pnp_pgd(p.host, p.y, d, {.max_iter = 15}),
                      xrestore::pnp_pgd(p.device, p.device_y, d, {.max_iter = 15}), p.x);
    check_same_result(xrestore::pnp_hqs(p.host, p.y, d, {.mu = 1e-2, .max_iter = 10}),
                      xrestore::pnp_hqs(p.device, p.device_y, d, {.mu = 1e-2, .max_iter = 10}),
                      p.x);
}

BOOST_AUTO_TEST_CASE(red_on_device_matches_the_cpu_runs) {
    const blur_problem p;
    const smoothing d;
    const auto cpu = xrestore::red_gradient_descent(p.host, p.y, d, {.max_iter = 20});
    const auto gpu = xrestore::red_gradient_descent(p.device, p.device_y, d, {.max_iter = 20});
    check_same_result(cpu, gpu, p.x);
    for (std::size_t k = 0; k < cpu.objective.size(); ++k) {
        BOOST_TEST(gpu.objective[k] == cpu.objective[k], boost::test_tools::tolerance(1e-5));
    }
    check_same_result(xrestore::red_fixed_point(p.host, p.y, d, {.max_iter = 10}),
                      xrestore::red_fixed_point(p.device, p.device_y, d, {.max_iter = 10}), p.x);
}

BOOST_AUTO_TEST_CASE(fista_on_device_matches_the_cpu_runs) {
    const blur_problem p;
    const xrestore::fista_options options{.lambda = 1e-3, .levels = 3, .max_iter = 30, .step = 1.0};
    const xrestore::shape3 shape = xrestore::shape_of<3>(p.x);
    for (const bool pixel_basis : {true, false}) {
        const auto cpu = pixel_basis
                             ? xrestore::fista(p.host, p.y, xrestore::identity(shape), options)
                             : xrestore::fista(p.host, p.y, options);
        const auto gpu =
            pixel_basis
                ? xrestore::fista(p.device, p.device_y,
                                  xrestore::identity_operator<device_array<3>>(shape), options)
                : xrestore::fista(p.device, p.device_y, options);
        check_same_result(cpu, gpu, p.x);
        BOOST_TEST(gpu.objective.back() == cpu.objective.back(),
                   boost::test_tools::tolerance(1e-5));
    }
}

BOOST_AUTO_TEST_CASE(tv_primal_dual_on_device_matches_the_cpu_runs) {
    const blur_problem p;
    const xrestore::tv_options options{.lambda = 5e-3, .max_iter = 40, .tau = 1.0, .sigma = 0.09};
    check_same_result(xrestore::tv_primal_dual(p.host, p.y, options),
                      xrestore::tv_primal_dual(p.device, p.device_y, options), p.x);
    const xrestore::tv_haar_options haar{.lambda_tv = 5e-3,
                                         .lambda_wavelet = 1e-3,
                                         .levels = 2,
                                         .max_iter = 30,
                                         .tau = 1.0,
                                         .sigma = 0.09};
    check_same_result(xrestore::tv_haar_primal_dual(p.host, p.y, haar),
                      xrestore::tv_haar_primal_dual(p.device, p.device_y, haar), p.x);
}

BOOST_AUTO_TEST_CASE(admm_with_an_l1_prox_on_device_matches_the_cpu_run) {
    const blur_problem p;
    auto host_prox = [](const image& z, double t) { return xrestore::soft_threshold(z, 1e-3 * t); };
    auto device_prox = [](const device_array<3>& z, double t) {
        return xrestore::soft_threshold(z, 1e-3 * t);
    };
    check_same_result(
        xrestore::admm(p.host, p.y, host_prox, {.eta = 0.05, .max_iter = 15}),
        xrestore::admm(p.device, p.device_y, device_prox, {.eta = 0.05, .max_iter = 15}), p.x);
}
