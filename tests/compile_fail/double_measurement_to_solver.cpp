// A measurement y of double passed to a solver (with options as a braced list): a plain message
// naming the float image needed, not a silent narrowing copy.
// expect: xrestore: an array of double .* cannot be passed where xrestore::image .* is needed
#include <xrestore/xrestore.hpp>

int main() {
    const xrestore::convolution blur(xrestore::box_kernel(3), {1, 8, 8});
    const xt::xtensor<double, 3> y = xt::zeros<double>({1, 8, 8});
    const auto r = xrestore::pnp_admm(blur, y, xrestore::gaussian_denoiser{}, {.eta = 1e-2});
    return r.iterations;
}
