// The CUDA backend runs these kernel bodies in device kernels; here they run in plain loops on the
// CPU and are checked against the CPU operators, so the device arithmetic is tested without a GPU.
#include "test_support.hpp"

#include <xrestore/core/cpu_backend.hpp>
#include <xrestore/core/kernel_bodies.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/kernels.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_kernel_bodies)

using namespace xrestore;

namespace {

matrix uniform_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed) {
    return test::uniform_tensor<2>({rows, cols}, seed);
}

constexpr std::array<boundary, 5> all_modes = {
    boundary::zero, boundary::circular, boundary::reflect, boundary::replicate, boundary::mean};

/// Run a body over [0, n) on the CPU backend.
template <class Body>
void run(std::size_t n, const Body& body) {
    backend_kernels<cpu_tag>::for_each_index(n, body);
}

/// The device convolution's adjoint, step by step with the shared bodies on the CPU: the full
/// transpose onto the padded grid (correlation_pixel_body, zero padding kh - 1), the mean mode's
/// per-channel border sums (padding_border_term), then the gathered fold (fold_padding_body).
image adjoint_through_bodies(const convolution& op, const image& y) {
    const auto shape = op.domain_shape();
    const matrix& kernel = op.kernel();
    const auto kh = static_cast<std::int64_t>(kernel.shape()[0]);
    const auto kw = static_cast<std::int64_t>(kernel.shape()[1]);
    const auto height = static_cast<std::int64_t>(shape[1]);
    const auto width = static_cast<std::int64_t>(shape[2]);
    const matrix forward = op.options().flip_kernel ? detail::rotate_180(kernel) : kernel;
    const matrix backward = detail::rotate_180(forward);
    const std::int64_t ph = height + kh - 1;
    const std::int64_t pw = width + kw - 1;
    std::vector<float> padded(shape[0] * static_cast<std::size_t>(ph * pw));
    run(padded.size(),
        kernels::correlation_pixel_body{y.data(), backward.data(), nullptr, padded.data(), height,
                                        width, kh, kw, kh - 1, kw - 1, ph, pw, boundary::zero});
    const auto mode = op.options().boundary;
    const std::int64_t top = (kh - 1) / 2;
    const std::int64_t left = (kw - 1) / 2;
    std::vector<double> outside;
    if (mode == boundary::mean) {
        const auto plane = static_cast<std::size_t>(ph * pw);
        const kernels::padding_border_term term{padded.data(), ph, pw, top, left, height, width};
        for (std::size_t c = 0; c < shape[0]; ++c) {
            double sum = 0.0;
            for (std::size_t i = 0; i < plane; ++i) {
                sum += term(c * plane + i);
            }
            outside.push_back(sum);
        }
    }
    const auto rows = detail::make_padding_gather_map(shape[1], static_cast<std::size_t>(top),
                                                      static_cast<std::size_t>(ph), mode);
    const auto cols = detail::make_padding_gather_map(shape[2], static_cast<std::size_t>(left),
                                                      static_cast<std::size_t>(pw), mode);
    image out(shape);
    run(out.size(), kernels::fold_padding_body{
                        padded.data(), out.data(), rows.offsets.data(), rows.positions.data(),
                        cols.offsets.data(), cols.positions.data(),
                        outside.empty() ? nullptr : outside.data(), height, width, ph, pw});
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(correlation_body_matches_the_operator_in_every_mode) {
    for (const auto mode : all_modes) {
        for (const std::size_t k : {1u, 4u, 9u, 17u}) {
            BOOST_TEST_CONTEXT("mode " << to_string(mode) << ", kernel " << k) {
                const shape3 shape{2, 23, 30};
                const convolution op(uniform_matrix(k, k + 1, k), shape, {.boundary = mode});
                const image x = test::uniform_tensor<3>(shape, 7 + k);
                std::vector<float> fill;
                if (mode == boundary::mean) {
                    // the device computes the means as double sums turned into floats
                    std::vector<double> sums(shape[0], 0.0);
                    const std::size_t plane = shape[1] * shape[2];
                    for (std::size_t i = 0; i < x.size(); ++i) {
                        sums[i / plane] += kernels::value_term{x.data()}(i);
                    }
                    fill.resize(shape[0]);
                    run(shape[0], kernels::mean_from_sum_body{
                                      sums.data(), static_cast<double>(plane), fill.data()});
                }
                const auto kh = static_cast<std::int64_t>(k);
                image out(shape);
                run(out.size(),
                    kernels::correlation_pixel_body{
                        x.data(), op.kernel().data(), fill.empty() ? nullptr : fill.data(),
                        out.data(), 23, 30, kh, kh + 1, (kh - 1) / 2, kh / 2, 23, 30, mode});
                BOOST_TEST(test::max_abs_difference(out, op.apply(x)) <= 2e-6);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(adjoint_bodies_match_the_operator_in_every_mode) {
    for (const auto mode : all_modes) {
        for (const std::size_t k : {1u, 2u, 5u, 17u, 40u}) {
            for (const bool flip : {false, true}) {
                BOOST_TEST_CONTEXT("mode " << to_string(mode) << ", kernel " << k << ", flip "
                                           << flip) {
                    // 40 x 40 on a 2 x 11 x 13 image: the kernel is larger than the image
                    const shape3 shape = k == 40 ? shape3{2, 11, 13} : shape3{3, 21, 26};
                    const matrix kernel = uniform_matrix(k, k, 30 + k);
                    const convolution op(kernel, shape, {.boundary = mode, .flip_kernel = flip});
                    const image y = test::uniform_tensor<3>(shape, 40 + k);
                    const image expected = op.adjoint(y);
                    const double scale = static_cast<double>(xt::amax(xt::abs(expected))());
                    BOOST_TEST(test::max_abs_difference(adjoint_through_bodies(op, y), expected) <=
                               2e-6 * scale);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(tiled_correlation_matches_the_operator_block_by_block) {
    // emulate the CUDA launch: every block (c, tile row, tile column) loads its patch, then every
    // thread (ty, tx) of the block writes its output
    constexpr std::int64_t tile_edge = 16;
    for (const auto mode : all_modes) {
        for (const std::size_t k : {1u, 6u, 17u}) {
            BOOST_TEST_CONTEXT("mode " << to_string(mode) << ", kernel " << k) {
                const shape3 shape{2, 35, 19}; // not a multiple of the tile
                const convolution op(uniform_matrix(k, k, 60 + k), shape, {.boundary = mode});
                const image x = test::uniform_tensor<3>(shape, 70 + k);
                const std::vector<float> fill =
                    mode == boundary::mean ? detail::channel_means(x) : std::vector<float>{};
                const auto kh = static_cast<std::int64_t>(k);
                image out(shape);
                out.fill(-1.0f);
                const kernels::correlation_tile tile{
                    {x.data(), op.kernel().data(), fill.empty() ? nullptr : fill.data(), out.data(),
                     35, 19, kh, kh, (kh - 1) / 2, (kh - 1) / 2, 35, 19, mode},
                    tile_edge};
                std::vector<float> patch(static_cast<std::size_t>(tile.patch_size()));
                for (std::int64_t c = 0; c < 2; ++c) {
                    for (std::int64_t i0 = 0; i0 < 35; i0 += tile_edge) {
                        for (std::int64_t j0 = 0; j0 < 19; j0 += tile_edge) {
                            for (std::int64_t e = 0; e < tile.patch_size(); ++e) {
                                tile.load_patch_element(c, i0, j0, e, patch.data());
                            }
                            for (std::int64_t ty = 0; ty < tile_edge; ++ty) {
                                for (std::int64_t tx = 0; tx < tile_edge; ++tx) {
                                    tile.tile_output(c, i0, j0, ty, tx, op.kernel().data(),
                                                     patch.data());
                                }
                            }
                        }
                    }
                }
                BOOST_TEST(test::max_abs_difference(out, op.apply(x)) <= 2e-6);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(gather_map_lists_every_copied_position_once) {
    // reflect, n = 3, 4 before, 11 padded: sources of t = 0..10 are reflect(t - 4)
    const auto map = detail::make_padding_gather_map(3, 4, 11, boundary::reflect);
    std::vector<std::int64_t> counted(11, 0);
    for (std::size_t s = 0; s < 3; ++s) {
        for (auto a = map.offsets[s]; a < map.offsets[s + 1]; ++a) {
            const auto t = map.positions[static_cast<std::size_t>(a)];
            BOOST_TEST(boundary_source_index(t - 4, 3, boundary::reflect) ==
                       static_cast<std::int64_t>(s));
            ++counted[static_cast<std::size_t>(t)];
        }
    }
    BOOST_TEST(counted == std::vector<std::int64_t>(11, 1), boost::test_tools::per_element());
    // the constant modes list only the interior
    const auto zero = detail::make_padding_gather_map(3, 4, 11, boundary::zero);
    BOOST_TEST(zero.positions == (std::vector<std::int64_t>{4, 5, 6}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(vector_space_bodies_compute_what_they_say) {
    std::vector<float> x{1.0f, -2.0f, 3.5f};
    std::vector<float> y{0.5f, 4.0f, -1.0f};
    run(3, kernels::axpby_body{2.0f, x.data(), -1.0f, y.data()});
    BOOST_TEST(y == (std::vector<float>{1.5f, -8.0f, 8.0f}), boost::test_tools::per_element());
    run(3, kernels::clip_body{0.0f, 1.0f, y.data()});
    BOOST_TEST(y == (std::vector<float>{1.0f, 0.0f, 1.0f}), boost::test_tools::per_element());
    BOOST_TEST(backend_kernels<cpu_tag>::sum_over_indices(3, kernels::value_term{x.data()}) == 2.5);
    BOOST_TEST(backend_kernels<cpu_tag>::sum_over_indices(
                   3, kernels::dot_term{x.data(), x.data()}) == 1.0 + 4.0 + 12.25);
}

BOOST_AUTO_TEST_SUITE_END() // test_kernel_bodies
