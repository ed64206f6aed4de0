// The tiled U-Net forward pass (unet_tiling, nn/unet.hpp) against the untiled pass: the same up
// to float rounding with the whole image's instance-norm statistics (the default), not with each
// tile's own; and the automatic switch by memory.
#include <boost/test/unit_test.hpp>

#include "unet_test_support.hpp"

#include <xrestore/io/weights.hpp>
#include <xrestore/nn/unet.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_unet_tiling)

using namespace xrestore;
using xrestore::test::uniform_values;

namespace {

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, double(std::abs(a[i] - b[i])));
    }
    return worst;
}

std::vector<float> untiled(const nn::unet& net, const std::vector<float>& x, std::size_t h,
                           std::size_t w) {
    std::vector<float> y(net.config().out_chans * h * w);
    net.forward(x.data(), 1, h, w, y.data());
    return y;
}

std::vector<float> tiled(const nn::unet& net, const std::vector<float>& x, std::size_t h,
                         std::size_t w, const nn::unet_tiling& tiling) {
    std::vector<float> y(net.config().out_chans * h * w, -7.0F);
    net.forward_tiled(x.data(), h, w, y.data(), tiling);
    return y;
}

} // namespace

BOOST_AUTO_TEST_CASE(whole_image_statistics_make_tiles_exact) {
    // With the whole image's statistics, the cores, whose halo covers the receptive field, give
    // the untiled values. Images several tiles and halos wide, partial tiles at the right and
    // bottom, odd sizes (the decoder's reflect padding), 2 and 3 pool layers (halo 32 and 64).
    struct tiling_case {
        nn::unet_config config;
        std::size_t h, w, tile;
    };
    for (const tiling_case k :
         {tiling_case{{3, 3, 8, 2}, 200, 168, 32}, tiling_case{{1, 2, 4, 3}, 261, 229, 40},
          tiling_case{{2, 1, 8, 2}, 128, 128, 16}}) {
        const nn::unet net = nn::unet::from_state_dict(xrestore::test::random_unet(k.config, 5));
        const std::vector<float> x =
            uniform_values(k.config.in_chans * k.h * k.w, k.h + k.w, 0.0F, 1.0F);
        const std::vector<float> expected = untiled(net, x, k.h, k.w);
        nn::unet_tiling tiling;
        tiling.tile = k.tile;
        const double err = max_abs_diff(tiled(net, x, k.h, k.w, tiling), expected);
        BOOST_TEST(err <= 2e-5, k.h << " x " << k.w << " in tiles of " << k.tile << ": " << err);
        // each tile by its own statistics is not the untiled pass
        tiling.statistics = nn::tile_statistics::per_tile;
        BOOST_TEST(max_abs_diff(tiled(net, x, k.h, k.w, tiling), expected) > 1e-3);
    }
}

BOOST_AUTO_TEST_CASE(shipped_denoiser_in_tiles_matches_the_untiled_pass) {
    // The shipped chans-32 model (4 pools: halo 128) on a 288 x 256 noisy image in tiles of 96
    // (12 tiles, partial ones at the bottom; the halo makes the middle ones nearly the whole
    // image, the test above covers images many halos wide).
    const std::filesystem::path weights =
        std::filesystem::path(XRESTORE_TEST_DIR) / ".." / "models" / "denoiser_unet_c32.pth";
    mapped_weights file(weights);
    const nn::unet net = nn::unet::from_mapped_weights(file);
    const std::size_t h = 288;
    const std::size_t w = 256;
    std::vector<float> x = uniform_values(3 * h * w, 11, -0.1F, 0.1F);
    for (std::size_t c = 0; c < 3; ++c) { // smooth structure under the noise
        for (std::size_t r = 0; r < h; ++r) {
            for (std::size_t col = 0; col < w; ++col) {
                x[(c * h + r) * w + col] += 0.5F + 0.4F * float(std::sin(0.05 * double(r + 2 * c)) *
                                                                std::cos(0.03 * double(col)));
            }
        }
    }
    const std::vector<float> expected = untiled(net, x, h, w);
    nn::unet_tiling tiling;
    tiling.tile = 96;
    const double exact = max_abs_diff(tiled(net, x, h, w, tiling), expected);
    BOOST_TEST(exact <= 1e-4, "whole-image statistics: " << exact);
    tiling.statistics = nn::tile_statistics::per_tile;
    const double own = max_abs_diff(tiled(net, x, h, w, tiling), expected);
    BOOST_TEST_MESSAGE("whole-image statistics: " << exact << ", per-tile statistics: " << own);
    BOOST_TEST(own > exact);
}

BOOST_AUTO_TEST_CASE(forward_tiles_above_the_memory_limit) {
    nn::unet net = nn::unet::from_state_dict(xrestore::test::random_unet({3, 3, 8, 2}, 9));
    const std::size_t h = 96;
    const std::size_t w = 80;
    const std::vector<float> x = uniform_values(3 * h * w, 3, 0.0F, 1.0F);
    const std::size_t bytes = nn::unet_workspace::bytes_for(net.architecture(), h, w);
    BOOST_TEST(!net.tiles(h, w));
    nn::unet_tiling tiling;
    tiling.max_workspace_bytes = bytes - 1;
    tiling.tile = 32;
    net.set_tiling(tiling);
    BOOST_TEST(net.tiles(h, w));
    BOOST_TEST(!net.tiles(h / 2, w / 2));
    const std::vector<float> automatic = untiled(net, x, h, w);
    BOOST_TEST(max_abs_diff(automatic, tiled(net, x, h, w, tiling)) == 0.0);
    // the automatic core: the largest whose pass fits the limit
    tiling.tile = 0;
    tiling.max_workspace_bytes = nn::unet_workspace::bytes_for(net.architecture(), 72, 72);
    net.set_tiling(tiling);
    BOOST_TEST(max_abs_diff(untiled(net, x, h, w), automatic) <= 2e-5);
    // a tile too small for the network is refused with the network's size error
    std::vector<float> y(3 * h * w);
    tiling.tile = 4;
    tiling.halo = 4;
    BOOST_CHECK_NO_THROW(net.forward_tiled(x.data(), h, w, y.data(), tiling)); // rounded up to 4
    BOOST_CHECK_THROW(net.forward_tiled(x.data(), 3, 3, y.data(), tiling), shape_error);
}

BOOST_AUTO_TEST_SUITE_END()
