// xrestore convert IN OUT.safetensors [--fp16|--bf16]: rewrite a weights file as safetensors,
// keeping its metadata (the call convention of a JSON sidecar among it).

#include "command.hpp"
#include "memory_budget.hpp"
#include "output_paths.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/state_dict.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/nn/unet.hpp>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

namespace xrestore::cli {

namespace {

struct convert_args {
    std::string input;
    std::string output;
    bool fp16 = false;
    bool bf16 = false;
    double max_memory = 0.0;
};

int run_convert(const convert_args& a) {
    file_plan("convert").input("IN", a.input).output("OUT", a.output, {".safetensors"}).check();
    memory_plan memory("convert", a.max_memory);
    std::error_code ec;
    const auto file_bytes = static_cast<double>(std::filesystem::file_size(a.input, ec));
    // the file, its tensors as float32 (twice its size for float16 weights) and the output
    memory.add("reading IN '" + a.input + "' and writing OUT", ec ? 0.0 : 5.0 * file_bytes);
    memory.check();
    state_dict sd = during("reading IN '" + a.input + "'", [&] { return load_weights(a.input); });
    std::string architecture = "unknown";
    try {
        const auto net = nn::unet::from_state_dict(sd);
        const nn::unet_config& c = net.config();
        architecture = "fastmri_unet";
        sd.metadata.try_emplace("architecture", architecture);
        sd.metadata.try_emplace("in_chans", std::to_string(c.in_chans));
        sd.metadata.try_emplace("out_chans", std::to_string(c.out_chans));
        sd.metadata.try_emplace("chans", std::to_string(c.chans));
        sd.metadata.try_emplace("num_pool_layers", std::to_string(c.num_pool_layers));
    } catch (const xrestore::error&) {
        // Not a U-Net: convert the tensors as they are.
    }
    const weight_dtype as = a.fp16   ? weight_dtype::float16
                            : a.bf16 ? weight_dtype::bfloat16
                                     : weight_dtype::float32;
    during("writing OUT '" + a.output + "'", [&] { write_safetensors(a.output, sd, as); });
    std::size_t parameters = 0;
    for (const auto& [name, t] : sd.entries()) {
        parameters += t.numel();
    }
    std::printf("convert: %zu tensors, %zu parameters (%s) -> %s as %s\n", sd.size(), parameters,
                architecture.c_str(), a.output.c_str(), std::string(to_string(as)).c_str());
    return 0;
}

} // namespace

command convert_command() {
    auto a = std::make_shared<convert_args>();
    command c{"convert", "rewrite a weights file (.pth or .safetensors) as "
                         "safetensors"};
    c.add("IN", a->input, "weights (.pth zip state_dict or .safetensors)").required();
    c.add("OUT", a->output, "output .safetensors").required();
    c.add("--fp16", a->fp16, "store float16");
    c.add("--bf16", a->bf16, "store bfloat16").excludes("--fp16");
    add_memory_flag(c, a->max_memory);
    c.run = [a] { return run_convert(*a); };
    return c;
}

} // namespace xrestore::cli
