#pragma once
/// @file weights.hpp
/// Load a weights file whatever its format, told by its content rather than its name: a PyTorch
/// zip `.pth` (read_pth), or safetensors (read_safetensors). A legacy (pre-1.6) torch file is
/// refused with the way to re-save it. A JSON sidecar next to a .pth (same path, extension
/// `.json`) fills `metadata` with its top-level values (strings as they are, anything else as
/// its JSON text).
///
/// @code
/// xrestore::state_dict w = xrestore::load_weights("denoiser_unet_c32.pth");
/// std::string call = w.metadata.at("call");          // from denoiser_unet_c32.json
/// const xrestore::weight_tensor& t = w.at("up_conv.3.1.bias");
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/io/json.hpp"
#include "xrestore/io/mapped_file.hpp"
#include "xrestore/io/npy.hpp"
#include "xrestore/io/pth.hpp"
#include "xrestore/io/safetensors.hpp"
#include "xrestore/io/state_dict.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace xrestore {

namespace detail {

/// Whether `bytes` start like a safetensors file: a plausible header length, then '{' (a header
/// longer than the file is a truncated safetensors file, which parse_safetensors says).
inline bool looks_like_safetensors(std::span<const unsigned char> bytes) {
    if (bytes.size() < 10) {
        return false;
    }
    std::uint64_t n = 0;
    for (std::size_t k = 0; k < 8; ++k) {
        n |= static_cast<std::uint64_t>(bytes[k]) << (8 * k);
    }
    return n >= 2 && n <= safetensors_max_header && bytes[8] == '{';
}

/// Top-level values of a JSON sidecar's text into `metadata` (strings as they are, numbers,
/// booleans, arrays and objects as their JSON text); `source` names it in messages. Nesting
/// deeper than json_max_depth is refused before parsing (dump() recurses per level).
inline void parse_weights_sidecar(std::string_view text, std::string_view source,
                                  std::map<std::string, std::string>& metadata) {
    const nlohmann::json j = parse_json(text, "load_weights: sidecar", source);
    if (!j.is_object()) {
        throw io_error(concat("load_weights: sidecar '", source, "' must hold a JSON object, got ",
                              j.type_name()));
    }
    for (const auto& [key, value] : j.items()) {
        metadata[key] = value.is_string() ? value.get<std::string>() : value.dump();
    }
}

/// parse_weights_sidecar on the file `path`.
inline void read_weights_sidecar(const std::filesystem::path& path,
                                 std::map<std::string, std::string>& metadata) {
    parse_weights_sidecar(read_whole_file(path, "load_weights"), path.string(), metadata);
}

} // namespace detail

namespace detail {

/// The state_dict of the weights file `path` whose bytes are `bytes`: the reader chosen from the
/// first bytes, the .pth sidecar read; `release` and `borrow` as for parse_pth_releasing.
template <class Release>
state_dict parse_weights_file(std::span<const unsigned char> bytes,
                              const std::filesystem::path& path, Release&& release, bool borrow) {
    static constexpr std::array<unsigned char, 4> local_header{'P', 'K', 3, 4};
    static constexpr std::array<unsigned char, 4> empty_archive{'P', 'K', 5, 6};
    if (is_legacy_torch_file(bytes)) {
        throw io_error(legacy_torch_message("load_weights", path.string()));
    }
    if (starts_with(bytes, local_header) || starts_with(bytes, empty_archive)) {
        state_dict sd = parse_pth_releasing(bytes, path.string(), release, borrow);
        std::filesystem::path sidecar = path;
        sidecar.replace_extension(".json");
        std::error_code ec;
        if (sidecar != path && std::filesystem::is_regular_file(sidecar, ec)) {
            read_weights_sidecar(sidecar, sd.metadata);
        }
        return sd;
    }
    if (looks_like_safetensors(bytes)) {
        return parse_safetensors_releasing(bytes, path.string(), release, borrow);
    }
    throw io_error(concat(
        "load_weights: '", path.string(),
        "' must be a PyTorch zip .pth (starting with \"PK\\3\\4\") or a safetensors file (an "
        "8-byte little-endian header length, then a JSON header starting with '{'), got ",
        first_bytes_hex(bytes)));
}

} // namespace detail

/// Load a PyTorch zip .pth (with its JSON sidecar, if any) or a safetensors file into float32
/// tensors, choosing the reader from the file's first bytes.
/// The file is memory-mapped (detail::mapped_file): each tensor is decoded from its pages into
/// its own buffer, and the pages are dropped once it is.
inline state_dict load_weights(const std::filesystem::path& path) {
    const detail::mapped_file file(path, "load_weights");
    return detail::parse_weights_file(
        file.bytes(), path, [&](std::span<const unsigned char> part) { file.release(part); },
        false);
}

/// A weights file held memory-mapped while a network is built from it: load_weights, except that
/// float32 tensors are not copied but read in place from the file's pages
/// (weight_tensor::mapped; other dtypes, and float32 data at an unaligned offset, are decoded
/// as by load_weights). `release(t)` drops a tensor once used: its values, or its pages from the
/// process. The tensors are valid while this object lives; a network built from it
/// (nn::unet::from_mapped_weights) owns its packed copy, so the object can go once that is built.
/// Loading then holds the packed network and at most one tensor's pages on top.
///
/// @code
/// xrestore::mapped_weights w("denoiser.pth");
/// auto net = xrestore::nn::unet::from_mapped_weights(w);
/// std::string call = w.dict().metadata.at("call");
/// @endcode
class mapped_weights {
public:
    explicit mapped_weights(const std::filesystem::path& path)
        : file_(path, "load_weights"),
          dict_(detail::parse_weights_file(
              file_.bytes(), path,
              [this](std::span<const unsigned char> part) { file_.release(part); }, true)) {}

    mapped_weights(const mapped_weights&) = delete;
    mapped_weights& operator=(const mapped_weights&) = delete;
    mapped_weights(mapped_weights&&) = delete;
    mapped_weights& operator=(mapped_weights&&) = delete;
    ~mapped_weights() = default;

    /// The tensors, metadata and notes (float32 values in weight_tensor::mapped or ::values).
    [[nodiscard]] state_dict& dict() { return dict_; }
    [[nodiscard]] const state_dict& dict() const { return dict_; }

    /// Drop what `t` (a tensor of dict()) holds: its decoded values, and its pages from the
    /// process (they stay readable: reading them again maps them again).
    void release(weight_tensor& t) const {
        std::vector<float>().swap(t.values);
        if (!t.mapped.empty()) {
            release(t.mapped);
        }
    }

    /// Drop the pages of `part` (values of a tensor of dict() held in the mapped file) from the
    /// process.
    void release(std::span<const float> part) const {
        file_.release({reinterpret_cast<const unsigned char*>(part.data()), part.size_bytes()});
    }

private:
    detail::mapped_file file_;
    state_dict dict_;
};

} // namespace xrestore
