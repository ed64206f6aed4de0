// xrestore convert IN OUT.safetensors [--fp16|--bf16] [--call C]: rewrite a weights file as
// safetensors, keeping its metadata (the call convention of a JSON sidecar among it, or the one
// given with --call).

#include "command.hpp"
#include "memory_budget.hpp"
#include "output_paths.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/denoisers/unet_call.hpp>
#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/state_dict.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/nn/unet.hpp>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
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
    std::string call;
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
    for (const std::string& note : sd.notes) {
        std::fprintf(stderr, "xrestore: note: '%s': %s\n", a.input.c_str(), note.c_str());
    }
    // the call convention travels in the metadata: the input's own, or the one chosen here
    if (!a.call.empty()) {
        sd.metadata["call"] = to_string(parse_unet_call(a.call));
    } else if (const std::optional<unet_call> declared = declared_unet_call(sd)) {
        sd.metadata["call"] = to_string(*declared); // a sidecar's quoted JSON string, unquoted
    }
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
    const auto call = sd.metadata.find("call");
    std::printf("convert: %zu tensors, %zu parameters (%s) -> %s as %s, %s\n", sd.size(),
                parameters, architecture.c_str(), a.output.c_str(),
                std::string(to_string(as)).c_str(),
                call != sd.metadata.end()
                    ? ("call convention " + call->second).c_str()
                    : "no call convention (give one with --call to use it as a denoiser)");
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
    c.add("--call", a->call,
          "a U-Net's call convention to record in the metadata (default: the input's own)")
        .one_of({"raw", "normalised", "normalized", "residual"});
    c.run = [a] { return run_convert(*a); };
    return c;
}

} // namespace xrestore::cli
