#pragma once
/// @file state_dict.hpp
/// Named float32 tensors read from a weights file (PyTorch .pth or safetensors), in file order,
/// with the file's string metadata. Values are converted to float32 on reading; `stored_as`
/// records the dtype the file held.
///
/// @code
/// xrestore::state_dict w = xrestore::load_weights("denoiser.pth");
/// const xrestore::weight_tensor& t = w.at("conv.layers.0.weight");  // throws io_error if absent
/// std::cout << xrestore::shape_string(t.shape) << '\n';
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore {

/// Element type of a tensor as stored in a weights file.
enum class weight_dtype { float32, float16, bfloat16 };

/// "float32", "float16", "bfloat16".
inline std::string_view to_string(weight_dtype t) {
    switch (t) {
    case weight_dtype::float32:
        return "float32";
    case weight_dtype::float16:
        return "float16";
    case weight_dtype::bfloat16:
        return "bfloat16";
    }
    return "unknown";
}

/// One tensor: row-major float32 values and its shape.
struct weight_tensor {
    std::vector<std::size_t> shape;
    std::vector<float> values;
    weight_dtype stored_as = weight_dtype::float32;

    /// Product of the extents (1 for a scalar).
    [[nodiscard]] std::size_t numel() const {
        std::size_t n = 1;
        for (auto e : shape) {
            n *= e;
        }
        return n;
    }
};

/// An ordered name -> tensor map, as a PyTorch state_dict.
class state_dict {
public:
    /// Add a tensor; throws io_error if the name is already present.
    void insert(std::string name, weight_tensor t) {
        if (index_.count(name) != 0) {
            throw io_error(detail::concat("state_dict: duplicate tensor name '", name, "'"));
        }
        index_.emplace(name, tensors_.size());
        tensors_.emplace_back(std::move(name), std::move(t));
    }

    /// The tensor called `name`, or nullptr.
    [[nodiscard]] const weight_tensor* find(std::string_view name) const {
        auto it = index_.find(std::string(name));
        return it == index_.end() ? nullptr : &tensors_[it->second].second;
    }

    /// The tensor called `name`; throws io_error naming it when absent.
    [[nodiscard]] const weight_tensor& at(std::string_view name) const {
        const weight_tensor* t = find(name);
        if (t == nullptr) {
            throw io_error(detail::concat("state_dict: missing tensor '", name, "'"));
        }
        return *t;
    }

    /// Entries in file order.
    [[nodiscard]] const std::vector<std::pair<std::string, weight_tensor>>& entries() const {
        return tensors_;
    }
    [[nodiscard]] std::size_t size() const { return tensors_.size(); }
    [[nodiscard]] bool empty() const { return tensors_.empty(); }

    /// String metadata (safetensors `__metadata__`, or a JSON sidecar beside a .pth).
    std::map<std::string, std::string> metadata;

private:
    std::vector<std::pair<std::string, weight_tensor>> tensors_;
    std::map<std::string, std::size_t> index_;
};

} // namespace xrestore
