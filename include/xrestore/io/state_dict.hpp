#pragma once
/// @file state_dict.hpp
/// Named tensors read from a weights file (PyTorch .pth or safetensors), in file order, with the
/// file's string metadata. Floating-point values are converted to float32 on reading (float64
/// too, with a note); integer tensors (int64 buffers such as BatchNorm's num_batches_tracked,
/// int32, int16, int8, uint8, bool) keep their values exactly as int64. `stored_as` records the
/// dtype the file held, and `notes` what the reader changed on the way.
///
/// @code
/// xrestore::state_dict w = xrestore::load_weights("denoiser.pth");
/// const xrestore::weight_tensor& t = w.at("conv.layers.0.weight");  // throws io_error if absent
/// std::cout << xrestore::shape_string(t.shape) << '\n';
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore {

/// Element type of a tensor as stored in a weights file.
enum class weight_dtype {
    float32,
    float16,
    bfloat16,
    float64,
    int64,
    int32,
    int16,
    int8,
    uint8,
    boolean
};

/// "float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8",
/// "bool".
inline std::string_view to_string(weight_dtype t) {
    switch (t) {
    case weight_dtype::float32:
        return "float32";
    case weight_dtype::float16:
        return "float16";
    case weight_dtype::bfloat16:
        return "bfloat16";
    case weight_dtype::float64:
        return "float64";
    case weight_dtype::int64:
        return "int64";
    case weight_dtype::int32:
        return "int32";
    case weight_dtype::int16:
        return "int16";
    case weight_dtype::int8:
        return "int8";
    case weight_dtype::uint8:
        return "uint8";
    case weight_dtype::boolean:
        return "bool";
    }
    return "unknown";
}

/// Whether tensors of this dtype hold integers (kept in weight_tensor::integers).
inline bool is_integer(weight_dtype t) {
    return t != weight_dtype::float32 && t != weight_dtype::float16 &&
           t != weight_dtype::bfloat16 && t != weight_dtype::float64;
}

/// One tensor and its shape: row-major float32 `values` for a floating-point tensor, row-major
/// int64 `integers` for an integer one (the other vector is empty). A tensor of a
/// `mapped_weights` (io/weights.hpp) may instead hold its float32 values in place in the mapped
/// file, `mapped`, with `values` empty: read floating-point values through floats().
struct weight_tensor {
    std::vector<std::size_t> shape;
    std::vector<float> values;
    weight_dtype stored_as = weight_dtype::float32;
    std::vector<std::int64_t> integers{};
    /// The values in the pages of a mapped file (mapped_weights only; valid while it lives).
    std::span<const float> mapped{};

    /// Whether the tensor holds integers (`integers`) rather than floats (`values`).
    [[nodiscard]] bool is_integer() const { return xrestore::is_integer(stored_as); }

    /// The float values, wherever they are held (`mapped`, else `values`).
    [[nodiscard]] std::span<const float> floats() const {
        return mapped.empty() ? std::span<const float>(values) : mapped;
    }

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

    /// The tensor called `name`, or nullptr, to change (a loader that consumes the state_dict
    /// frees each tensor's values once it has copied them).
    [[nodiscard]] weight_tensor* find(std::string_view name) {
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

    /// String metadata (safetensors `__metadata__`, a JSON sidecar beside a .pth, or the string
    /// entries of a checkpoint dict holding the state_dict).
    std::map<std::string, std::string> metadata;

    /// What the reader changed or chose on the way, one sentence each, for the user to see (for
    /// example "2 float64 tensors converted to float32: 'a', 'b'").
    std::vector<std::string> notes;

private:
    std::vector<std::pair<std::string, weight_tensor>> tensors_;
    std::map<std::string, std::size_t> index_;
};

} // namespace xrestore
