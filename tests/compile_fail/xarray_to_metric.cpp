// An xt::xarray passed to an image metric: a plain message naming the type needed.
// expect: xrestore: an xt::xarray .* cannot be passed where xrestore::image .* is needed
#include <xrestore/xrestore.hpp>

#include <xtensor/xarray.hpp>

int main() {
    const xrestore::image reference = xt::zeros<float>({1, 16, 16});
    const xt::xarray<float> estimate = xt::zeros<float>({1, 16, 16});
    return xrestore::ssim(reference, estimate) > 0.5 ? 0 : 1;
}
