// The operator flags and the operators they describe (see operator_flags.hpp).
#include "operator_flags.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/io/kernel_file.hpp>
#include <xrestore/operators/boundary.hpp>
#include <xrestore/operators/kernels.hpp>

#include <type_traits>
#include <utility>

namespace xrestore::cli {

void add_operator_flags(command& c, operator_flags& f) {
    c.add("--op", f.op, "forward operator")
        .one_of({"blur", "inpaint", "downsample", "gradient", "haar"})
        .show_default();
    c.add("--kernel", f.kernel,
          "blur kernel: box:P | motion:SIZE,ANGLE | gaussian:SIGMA,SIZE | disk:DIAMETER | "
          "file:K.npy|K.png")
        .show_default();
    c.add("--boundary", f.boundary, "blur boundary mode")
        .one_of({"zero", "circular", "reflect", "replicate", "mean"})
        .show_default();
    c.add("--flip-kernel", f.flip_kernel,
          "true convolution with the PSF (default: cross-correlation, as PyTorch conv2d)");
    c.add("--missing", f.missing, "inpaint: fraction of missing pixels in [0,1]")
        .in_range(0.0, 1.0)
        .show_default();
    c.add("--mask-sharing", f.mask_sharing, "inpaint: one mask per channel or shared")
        .one_of({"per-channel", "shared"})
        .show_default();
    c.add("--mask", f.mask_in, "inpaint: read the mask (1 = kept) from a PNG or .npy");
    c.add("--mask-out", f.mask_out, "inpaint: write the mask used to this .npy/.png");
    c.add("--factor", f.factor, "downsample: integer factor").show_default();
    c.add("--antialias", f.antialias, "downsample: Gaussian anti-alias blur first");
    c.add("--levels", f.levels, "haar: number of levels").show_default();
    c.add("--seed", f.seed, "seed of the random mask and noise").show_default();
}

cli_operator make_operator(const operator_flags& f, const shape3& shape) {
    if (f.op == "blur") {
        return convolution(parse_kernel_spec(f.kernel, read_kernel_file), shape,
                           {.boundary = parse_boundary(f.boundary), .flip_kernel = f.flip_kernel});
    }
    if (f.op == "inpaint") {
        if (!f.mask_in.empty()) {
            return inpainting(mask_from_image(load_mask(f.mask_in), shape));
        }
        require(f.missing >= 0.0 && f.missing <= 1.0, "--missing", "missing", "in [0, 1]",
                f.missing);
        const auto sharing =
            f.mask_sharing == "shared" ? mask_sharing::shared : mask_sharing::per_channel;
        inpainting op(random_mask(shape, 1.0 - f.missing, f.seed, sharing));
        if (!f.mask_out.empty()) {
            save_array(f.mask_out, op.mask());
        }
        return op;
    }
    if (f.op == "downsample") {
        return downsampling(shape, f.factor, {.antialias = f.antialias});
    }
    if (f.op == "gradient") {
        return gradient(shape);
    }
    return haar_wavelet(shape, f.levels);
}

image load_mask(const std::string& path) {
    if (detail::lower_extension(path) == ".npy") {
        return read_npy<3>(path);
    }
    return load_array(path);
}

image_operator as_image_operator(cli_operator op, const std::string& message) {
    return std::visit(
        [&](auto&& A) -> image_operator {
            using Op = std::decay_t<decltype(A)>;
            if constexpr (std::is_same_v<range_t<Op>, image>) {
                return std::move(A);
            } else {
                throw value_error(message);
            }
        },
        std::move(op));
}

} // namespace xrestore::cli
