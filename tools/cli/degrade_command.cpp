// xrestore degrade IN OUT --op ... [--noise S]: apply a forward operator (blur, inpainting mask,
// downsampling) to an image and add seeded Gaussian noise.

#include "command.hpp"
#include "memory_budget.hpp"
#include "operator_flags.hpp"
#include "output_paths.hpp"

#include <xrestore/core/noise.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/io/image.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <variant>

namespace xrestore::cli {

namespace {

struct degrade_args {
    std::string input;
    std::string output;
    double noise = 0.0;
    operator_flags op;
    double max_memory = 0.0;
};

int run_degrade(const degrade_args& a) {
    file_plan("degrade")
        .input("IN", a.input)
        .input("--mask", a.op.mask_in)
        .output("OUT", a.output, {".png", ".npy"})
        .output("--mask-out", a.op.mask_out, {".png", ".npy"})
        .check();
    memory_plan memory("degrade", a.max_memory);
    const shape3 shape = memory.input("IN", a.input);
    memory.add("the image, its degraded copy, the noise and the output (4 images)",
               image_bytes(shape, 4));
    memory.check();
    const image x = during("reading IN '" + a.input + "' (" + shape_string(shape) + ")",
                           [&] { return load_array(a.input); });
    check_finite(x, "degrade", "input image");
    const activity degrading("degrading a " + shape_string(shape) + " image");
    const image_operator op =
        as_image_operator(make_operator(a.op, shape_of<3>(x)),
                          "degrade: --op must be blur, inpaint or downsample, got " + a.op.op);
    image y = std::visit([&](const auto& A) -> image { return A.apply(x); }, op);
    y = add_gaussian_noise(y, a.noise, a.op.seed + 1);
    save_array(a.output, y);
    std::printf("degrade: %s (%s) -> %s (%s), noise sigma %g\n", a.input.c_str(),
                shape_string(x.shape()).c_str(), a.output.c_str(), shape_string(y.shape()).c_str(),
                a.noise);
    return 0;
}

} // namespace

command degrade_command() {
    auto a = std::make_shared<degrade_args>();
    command c{"degrade", "apply a forward operator to an image and add noise"};
    c.add("IN", a->input, "input image (PNG/JPEG, or C x H x W .npy)").required();
    c.add("OUT", a->output, "output (.png or .npy)").required();
    c.add("--noise", a->noise, "Gaussian noise sigma (images in [0,1])")
        .in_range(0.0, max_noise_sigma)
        .show_default();
    add_operator_flags(c, a->op);
    add_memory_flag(c, a->max_memory);
    c.run = [a] { return run_degrade(*a); };
    return c;
}

} // namespace xrestore::cli
