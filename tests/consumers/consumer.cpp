// A downstream program: blur an image and check the adjoint identity through the public API,
// then plot it with the reporting module (xrestore::report: its font and stb_truetype).
#include <xrestore/report/plot.hpp>
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
    const xrestore::report::canvas plot = xrestore::report::render_line_plot(
        {{.label = "row 10", .x = {0, 1, 2, 3, 4}, .y = {0, 0.04, 0.04, 0.04, 0}}},
        {.title = "blurred", .width = 320, .height = 200});
    const double ink = static_cast<double>(xt::sum(1.0f - plot.pixels())());
    std::printf("plot %zu x %zu, ink %.1f\n", plot.width(), plot.height(), ink);
    return (error < 1e-5 && y(1, 10, 8) > 0.039f && y(1, 10, 8) < 0.041f && ink > 100.0) ? 0 : 1;
}
