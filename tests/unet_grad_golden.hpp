#pragma once
// The PyTorch references of whole-U-Net loss gradients, tests/data/train/unet_grad_*.safetensors
// (tools/dev/make_unet_grad_golden.py; layout in tests/data/train/README.md), read and split by
// key prefix for tests/test_unet_grad_golden.cpp and tests/test_train_unet.cpp.
#include <xrestore/io/safetensors.hpp>
#include <xrestore/io/state_dict.hpp>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace xrestore::test {

inline const std::filesystem::path train_dir =
    std::filesystem::path(XRESTORE_TEST_DIR) / "data" / "train";

/// The cases tools/dev/make_unet_grad_golden.py writes (its CASES), as unet_grad_<name>.
inline const std::vector<std::string> case_names = {
    "c8_p2_1to1_1x1x37x45",
    "c8_p3_3to3_2x3x33x35",
    "c16_p2_1to3_2x1x33x35",
    "c16_p2_3to3_1x3x37x45_residual",
};

inline std::filesystem::path case_path(const std::string& name) {
    return train_dir / ("unet_grad_" + name + ".safetensors");
}

/// One golden file split by its key prefixes.
struct grad_golden {
    state_dict weights;   ///< "weight.<name>" without the prefix: the network's state_dict
    state_dict gradients; ///< "grad.<name>" without the prefix (including "input")
    weight_tensor input;
    weight_tensor target;
    std::map<std::string, std::string> metadata;
};

inline grad_golden read_golden(const std::filesystem::path& path) {
    const state_dict all = read_safetensors(path);
    grad_golden g;
    for (const auto& [name, t] : all.entries()) {
        BOOST_TEST_REQUIRE(!t.is_integer(), name);
        BOOST_TEST((t.stored_as == weight_dtype::float32), name);
        if (name.starts_with("weight.")) {
            g.weights.insert(name.substr(7), t);
        } else if (name.starts_with("grad.")) {
            g.gradients.insert(name.substr(5), t);
        } else if (name == "input") {
            g.input = t;
        } else if (name == "target") {
            g.target = t;
        } else {
            BOOST_FAIL("unexpected tensor " << name << " in " << path);
        }
    }
    g.metadata = all.metadata;
    return g;
}

} // namespace xrestore::test
