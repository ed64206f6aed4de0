// Writing an operator: a colour-crosstalk operator defined outside the library.
//
// A camera whose colour filters leak into each other records y(c) = sum_k M(c, k) x(k) at every
// pixel. The type below satisfies xrestore::linear_operator by having domain_type/range_type,
// apply/adjoint and the two shapes; nothing is registered anywhere. It is then checked with
// adjoint_check, combined with a library blur, and inverted with conjugate gradient.
#include <xrestore/xrestore.hpp>

#include <array>
#include <cstdio>

/// y(c, i, j) = sum_k M(c, k) x(k, i, j): a 3 x 3 mixing matrix applied at every pixel.
class colour_crosstalk {
public:
    using domain_type = xrestore::image;
    using range_type = xrestore::image;

    colour_crosstalk(std::array<std::array<float, 3>, 3> mixing, std::size_t height,
                     std::size_t width)
        : mixing_(mixing), shape_{3, height, width} {}

    xrestore::image apply(const xrestore::image& x) const { return mix(x, false); }
    // A^T applies M^T at every pixel.
    xrestore::image adjoint(const xrestore::image& y) const { return mix(y, true); }
    xrestore::shape3 domain_shape() const { return shape_; }
    xrestore::shape3 range_shape() const { return shape_; }

private:
    xrestore::image mix(const xrestore::image& x, bool transpose) const {
        xrestore::check_shape(x, shape_, "colour_crosstalk", "x");
        xrestore::image y = xt::zeros<float>(shape_);
        for (std::size_t c = 0; c < 3; ++c) {
            for (std::size_t k = 0; k < 3; ++k) {
                const float m = transpose ? mixing_[k][c] : mixing_[c][k];
                xt::view(y, c) += m * xt::view(x, k);
            }
        }
        return y;
    }

    std::array<std::array<float, 3>, 3> mixing_;
    xrestore::shape3 shape_;
};

static_assert(xrestore::linear_operator<colour_crosstalk>);

int main() {
    using namespace xrestore;
    try {
        const image truth = read_image(XRESTORE_DATA_DIR "/images/butterfly_set5.png");
        const auto [channels, height, width] = shape_of<3>(truth);
        if (channels != 3) {
            std::fprintf(stderr, "custom_operator: needs an RGB image\n");
            return 1;
        }
        const colour_crosstalk crosstalk(
            {{{0.70f, 0.20f, 0.10f}, {0.15f, 0.70f, 0.15f}, {0.10f, 0.25f, 0.65f}}}, height, width);
        std::printf("adjoint check, crosstalk alone:    %.2e\n", adjoint_check(crosstalk, 1));

        // The camera: optics blur (library operator) then colour crosstalk (ours).
        const convolution optics(gaussian_kernel(1.5, 9), shape_of<3>(truth),
                                 {.boundary = boundary::reflect});
        const auto camera = compose(crosstalk, optics);
        std::printf("adjoint check, crosstalk o blur:   %.2e\n", adjoint_check(camera, 2));

        const image y = add_gaussian_noise(camera.apply(truth), 0.005, 3);
        // (A^T A + eta I) x = A^T y
        const auto result = conjugate_gradient(shifted_normal(camera, 1e-3), camera.adjoint(y), y,
                                               {.max_iter = 100, .tol = 1e-5});
        const image x = xt::clip(result.x, 0.0f, 1.0f);
        std::printf("CG: %d iterations (%s)\n", result.iterations, to_string(result.stop));
        std::printf("PSNR measured %.2f dB -> restored %.2f dB\n", psnr(truth, y), psnr(truth, x));
        write_png("custom_operator_restored.png", x);
        return 0;
    } catch (const xrestore::error& e) {
        std::fprintf(stderr, "custom_operator: error: %s\n", e.what());
        return 1;
    }
}
