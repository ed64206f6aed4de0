// An xt::xarray (its rank is not fixed) passed to an operator's apply: a plain message naming the
// type needed, not a silent copy (or, for another rank, a garbage shape at run time).
// expect: xrestore: an xt::xarray .* cannot be passed where xrestore::image .* is needed
#include <xrestore/xrestore.hpp>

#include <xtensor/xarray.hpp>

int main() {
    const xrestore::convolution blur(xrestore::box_kernel(3), {1, 8, 8});
    const xt::xarray<float> x = xt::zeros<float>({1, 8, 8});
    const xrestore::image y = blur.apply(x);
    return static_cast<int>(y.size());
}
