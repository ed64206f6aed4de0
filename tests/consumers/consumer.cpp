// A downstream program: blur an image and check the adjoint identity through the public API.
#include <xrestore/xrestore.hpp>

#include <cstdio>

int main() {
    xrestore::image x = xt::zeros<float>({3, 21, 17});
    x(1, 10, 8) = 1.0f;
    const xrestore::convolution blur(xrestore::box_kernel(5), {3, 21, 17},
                                     {.boundary = xrestore::boundary::reflect});
    const xrestore::image y = blur.apply(x);
    const double error = xrestore::adjoint_check(blur, 7);
    std::printf("sum %.6f adjoint error %.3g\n", static_cast<double>(xt::sum(y)()), error);
    return (error < 1e-5 && y(1, 10, 8) > 0.039f && y(1, 10, 8) < 0.041f) ? 0 : 1;
}
