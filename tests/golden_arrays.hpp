#pragma once
// The test arrays of tests/golden (tools/dev/make_metrics_golden.py, make_iqa_golden.py): an
// entry {"file": "metrics/x.npy", "divisor": 255} is the .npy's values divided by the divisor
// in float32, exactly as the scripts do.

#include <xrestore/core/tensor.hpp>
#include <xrestore/io/npy.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

namespace xrestore::test {

/// tests/golden/<name> parsed, read once per process; std::runtime_error when it cannot be read.
inline const nlohmann::json& golden_json(const std::string& name) {
    static std::map<std::string, nlohmann::json> cache;
    const auto found = cache.find(name);
    if (found != cache.end()) {
        return found->second;
    }
    std::ifstream in(std::string(XRESTORE_TEST_DIR) + "/golden/" + name);
    if (!in) {
        throw std::runtime_error("cannot open tests/golden/" + name);
    }
    return cache.emplace(name, nlohmann::json::parse(in)).first->second;
}

inline image load_golden_array(const nlohmann::json& entry) {
    const float divisor = entry.at("divisor").get<float>();
    image x = read_npy<3>(std::string(XRESTORE_TEST_DIR) + "/golden/" +
                          entry.at("file").get<std::string>());
    if (divisor != 1.0f) {
        x = x / divisor; // float32(k) / 255, correctly rounded like numpy
    }
    return x;
}

} // namespace xrestore::test
