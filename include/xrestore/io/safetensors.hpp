#pragma once
/// @file safetensors.hpp
/// Read and write safetensors files: an 8-byte little-endian header length N, N bytes of JSON
/// header ({"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {"key": "value"}}), then the raw little-endian data, offsets relative to its
/// start. F32, F16, BF16 and F64 are read (converted to float32, `stored_as` records which, F64
/// with a note), and I64, I32, I16, I8, U8 and BOOL as int64 integers; floats are written as
/// F32, F16 or BF16 (round to nearest even; a finite value that would overflow to infinity is
/// refused), integers in their own type.
/// Tensors are read in data order, which is the order the writer uses: the state_dict's order.
///
/// @code
/// xrestore::state_dict w = xrestore::read_safetensors("model.safetensors");
/// w.metadata["format"] = "pt";
/// xrestore::write_safetensors("half.safetensors", w, xrestore::weight_dtype::float16);
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/io/atomic_file.hpp"
#include "xrestore/io/element_codec.hpp"
#include "xrestore/io/json.hpp"
#include "xrestore/io/mapped_file.hpp"
#include "xrestore/io/npy.hpp"
#include "xrestore/io/state_dict.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore {

namespace detail {

[[noreturn]] inline void safetensors_fail(std::string_view source, const std::string& what) {
    throw io_error(concat("read_safetensors: '", source, "': ", what));
}

/// The keys of the top-level object of a JSON text, as their raw tokens with the quotes (in text
/// order, duplicates kept): the strings at depth 1 followed by ':'. Linear in the text's length.
inline std::vector<std::string_view> json_top_level_keys(std::string_view text) {
    std::vector<std::string_view> keys;
    std::size_t depth = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '"') {
            const std::size_t start = i;
            for (++i; i < text.size() && text[i] != '"'; ++i) {
                i += text[i] == '\\' ? 1 : 0;
            }
            if (depth != 1) {
                continue;
            }
            std::size_t next = i + 1;
            while (next < text.size() && (text[next] == ' ' || text[next] == '\t' ||
                                          text[next] == '\n' || text[next] == '\r')) {
                ++next;
            }
            if (next < text.size() && text[next] == ':') {
                keys.push_back(text.substr(start, std::min(i, text.size() - 1) - start + 1));
            }
        } else if (c == '[' || c == '{') {
            ++depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return keys;
}

/// The safetensors dtype names read and written, and their weight_dtype.
inline constexpr std::array<std::pair<std::string_view, weight_dtype>, 10> safetensors_dtypes{{
    {"F32", weight_dtype::float32},
    {"F16", weight_dtype::float16},
    {"BF16", weight_dtype::bfloat16},
    {"F64", weight_dtype::float64},
    {"I64", weight_dtype::int64},
    {"I32", weight_dtype::int32},
    {"I16", weight_dtype::int16},
    {"I8", weight_dtype::int8},
    {"U8", weight_dtype::uint8},
    {"BOOL", weight_dtype::boolean},
}};

/// The weight_dtype of a safetensors dtype name, if it is one this reader knows.
inline std::optional<weight_dtype> safetensors_dtype(std::string_view name) {
    for (const auto& [text, dtype] : safetensors_dtypes) {
        if (text == name) {
            return dtype;
        }
    }
    return std::nullopt;
}

/// The safetensors name of a dtype ("F32", "I64", ...).
inline std::string_view safetensors_dtype_name(weight_dtype t) {
    for (const auto& [text, dtype] : safetensors_dtypes) {
        if (dtype == t) {
            return text;
        }
    }
    return "F32";
}

/// A non-negative JSON integer, or an io_error naming `what`.
inline std::uint64_t json_unsigned(const nlohmann::json& j, std::string_view source,
                                   std::string_view what) {
    if (!j.is_number_unsigned()) {
        safetensors_fail(source, concat(what, " must be a non-negative integer, got ", j.dump()));
    }
    return j.get<std::uint64_t>();
}

} // namespace detail

/// Largest safetensors header accepted (the reference implementation's limit).
inline constexpr std::uint64_t safetensors_max_header = 100'000'000;

/// Most tensors a safetensors header may describe (a large language model has a few thousand).
inline constexpr std::size_t safetensors_max_tensors = 100'000;

namespace detail {

/// parse_safetensors, calling `release(data)` with each tensor's bytes once it is decoded (a
/// mapped file drops their pages there). With `borrow`, float32 tensors at 4-byte-aligned
/// offsets view `bytes` (weight_tensor::mapped) instead of being copied (mapped_weights).
template <class Release>
state_dict parse_safetensors_releasing(std::span<const unsigned char> bytes,
                                       std::string_view source_name, Release&& release,
                                       bool borrow = false) {
    using json = nlohmann::json; // ordered by name; the tensors are then put in data order
    const std::string_view source = source_name;
    if (bytes.size() < 8) {
        safetensors_fail(
            source, concat("is too short (", bytes.size(), " bytes) for the 8-byte header length"));
    }
    std::uint64_t header_length = 0;
    for (std::size_t k = 0; k < 8; ++k) {
        header_length |= static_cast<std::uint64_t>(bytes[k]) << (8 * k);
    }
    if (header_length > safetensors_max_header) {
        safetensors_fail(source, concat("header length must be at most ", safetensors_max_header,
                                        " bytes, got ", header_length));
    }
    if (header_length > bytes.size() - 8) {
        safetensors_fail(source,
                         concat("is truncated: header length ", header_length,
                                " must be at most the ", bytes.size() - 8, " bytes after it"));
    }
    const std::string_view header(reinterpret_cast<const char*>(bytes.data() + 8),
                                  static_cast<std::size_t>(header_length));
    if (header.empty() || header.front() != '{') {
        safetensors_fail(source, "header must be a JSON object starting with '{'");
    }
    if (const auto nul = header.find('\0'); nul != std::string_view::npos) {
        // the JSON parser would stop there and read only the text before it
        safetensors_fail(source, concat("header is not valid JSON: it holds a NUL "
                                        "byte at offset ",
                                        nul));
    }
    if (json_depth(header) > 8) {
        safetensors_fail(source, "header JSON must be nested at most 8 levels deep");
    }
    // The top-level keys, counted before parsing and compared after it: a name given twice is
    // refused (nlohmann keeps the last), in linear time (a parser callback rescans the object
    // after every entry, quadratic in the number of tensors).
    const std::vector<std::string_view> keys = json_top_level_keys(header);
    const auto tensor_count = static_cast<std::size_t>(std::count_if(
        keys.begin(), keys.end(), [](std::string_view key) { return key != "\"__metadata__\""; }));
    if (tensor_count > safetensors_max_tensors) {
        safetensors_fail(source, concat("header must describe at most ", safetensors_max_tensors,
                                        " tensors, got ", tensor_count, " entries"));
    }
    json root;
    try {
        root = json::parse(header.begin(), header.end());
    } catch (const json::exception& e) {
        safetensors_fail(source, concat("header is not valid JSON: ", e.what()));
    }
    if (root.is_object() && root.size() != keys.size()) {
        std::set<std::string> seen;
        for (const std::string_view key : keys) {
            std::string name;
            try {
                name = json::parse(key.begin(), key.end()).get<std::string>();
            } catch (const json::exception& e) {
                safetensors_fail(source, concat("header is not valid JSON: ", e.what()));
            }
            if (!seen.insert(name).second) {
                safetensors_fail(source, concat("header names tensor '", name, "' twice"));
            }
        }
    }
    if (!root.is_object()) {
        safetensors_fail(source, "header must be a JSON object");
    }

    struct entry {
        std::string name;
        weight_dtype dtype;
        std::vector<std::size_t> shape;
        std::uint64_t begin;
        std::uint64_t end;
    };
    std::vector<entry> entries;
    state_dict sd;
    const std::uint64_t data_size = bytes.size() - 8 - header_length;
    for (const auto& [name, info] : root.items()) {
        if (name == "__metadata__") {
            if (!info.is_object()) {
                safetensors_fail(source, "__metadata__ must be an object of strings");
            }
            for (const auto& [key, value] : info.items()) {
                if (!value.is_string()) {
                    safetensors_fail(source, concat("__metadata__ value of '", key,
                                                    "' must be a string, got ", value.dump()));
                }
                sd.metadata[key] = value.template get<std::string>();
            }
            continue;
        }
        const std::string what = concat("tensor '", name, "'");
        if (!info.is_object()) {
            safetensors_fail(source, concat(what,
                                            " must be described by an "
                                            "object, got ",
                                            info.dump()));
        }
        const auto dtype = info.find("dtype");
        const auto shape = info.find("shape");
        const auto offsets = info.find("data_offsets");
        if (dtype == info.end() || shape == info.end() || offsets == info.end()) {
            safetensors_fail(source, concat(what,
                                            " must have dtype, shape and "
                                            "data_offsets, got ",
                                            info.dump()));
        }
        entry e{name, weight_dtype::float32, {}, 0, 0};
        const std::string dtype_name = dtype->is_string() ? dtype->template get<std::string>() : "";
        const std::optional<weight_dtype> known = safetensors_dtype(dtype_name);
        if (!known) {
            safetensors_fail(source, concat(what,
                                            " dtype must be F32, F16, BF16, F64, "
                                            "I64, I32, I16, I8, U8 or BOOL, got ",
                                            dtype->dump()));
        }
        e.dtype = *known;
        if (!shape->is_array() || shape->size() > 64) {
            safetensors_fail(source, concat(what,
                                            " shape must be an array of at most "
                                            "64 integers, got ",
                                            shape->dump()));
        }
        std::uint64_t numel = 1;
        bool overflow = false;
        for (const auto& extent : *shape) {
            const std::uint64_t n = json_unsigned(extent, source, what + " shape extent");
            overflow = overflow || !checked_mul(numel, n, numel);
            e.shape.push_back(static_cast<std::size_t>(n));
        }
        if (!offsets->is_array() || offsets->size() != 2) {
            safetensors_fail(source, concat(what,
                                            " data_offsets must be [begin, end], "
                                            "got ",
                                            offsets->dump()));
        }
        e.begin = json_unsigned((*offsets)[0], source, what + " data_offsets begin");
        e.end = json_unsigned((*offsets)[1], source, what + " data_offsets end");
        if (e.begin > e.end || e.end > data_size) {
            safetensors_fail(source, concat(what, " data_offsets [", e.begin, ", ", e.end,
                                            "] must satisfy begin <= end "
                                            "<= ",
                                            data_size, " (the data size)"));
        }
        std::uint64_t byte_count = 0;
        const bool countable = !overflow && checked_mul(numel, element_size(e.dtype), byte_count);
        if (!countable || byte_count != e.end - e.begin) {
            const std::string needs =
                countable ? concat(byte_count, " bytes (", numel, " x ", element_size(e.dtype), ")")
                          : std::string("more than 2^64 bytes");
            safetensors_fail(source, concat(what, " of shape [", shape_string(e.shape),
                                            "] and dtype ", dtype_name, " needs ", needs,
                                            ", but data_offsets span ", e.end - e.begin, " bytes"));
        }
        entries.push_back(std::move(e));
    }

    // file order = data order; no two tensors may share a byte
    std::vector<std::size_t> order(entries.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return entries[a].begin < entries[b].begin;
    });
    const entry* previous = nullptr;
    for (std::size_t i : order) {
        const entry& e = entries[i];
        if (e.begin == e.end) {
            continue;
        }
        if (previous != nullptr && e.begin < previous->end) {
            safetensors_fail(source, concat("tensors '", previous->name, "' [", previous->begin,
                                            ", ", previous->end, ") and '", e.name, "' [", e.begin,
                                            ", ", e.end, ") overlap"));
        }
        previous = &e;
    }
    const std::size_t data_start = 8 + static_cast<std::size_t>(header_length);
    std::vector<std::string> converted; // float64 tensors
    for (std::size_t i : order) {
        entry& e = entries[i];
        weight_tensor t;
        t.shape = std::move(e.shape);
        const auto data = bytes.subspan(data_start + static_cast<std::size_t>(e.begin),
                                        static_cast<std::size_t>(e.end - e.begin));
        decode_or_borrow_tensor_data(
            data, e.dtype, static_cast<std::size_t>((e.end - e.begin) / element_size(e.dtype)), t,
            borrow);
        release(data);
        if (e.dtype == weight_dtype::float64) {
            converted.push_back(e.name);
        }
        sd.insert(std::move(e.name), std::move(t));
    }
    if (!converted.empty()) {
        sd.notes.push_back(float64_note(converted));
    }
    return sd;
}

} // namespace detail

/// Parse a safetensors file held in memory; `source_name` names it in error messages.
inline state_dict parse_safetensors(std::span<const unsigned char> bytes,
                                    std::string_view source_name) {
    return detail::parse_safetensors_releasing(bytes, source_name,
                                               [](std::span<const unsigned char>) {});
}

/// Read a safetensors file (F32, F16, BF16 and F64 as float32; integer tensors as int64).
/// The file is memory-mapped (detail::mapped_file): each tensor is decoded from its pages into its
/// own buffer.
inline state_dict read_safetensors(const std::filesystem::path& path) {
    const detail::mapped_file file(path, "read_safetensors");
    return detail::parse_safetensors_releasing(
        file.bytes(), path.string(),
        [&](std::span<const unsigned char> part) { file.release(part); });
}

/// Write `sd` as safetensors with every floating-point tensor stored `as` float32, float16 or
/// bfloat16 (round to nearest even) and every integer tensor in its own type (I64, ..., BOOL), in
/// the state_dict's order, with sd.metadata as `__metadata__`, atomically (a temporary file beside
/// `path`, renamed into place). A finite value that overflows the target type, or a tensor whose
/// values do not match its shape, throws value_error naming the tensor.
inline void write_safetensors(const std::filesystem::path& path, const state_dict& sd,
                              weight_dtype as = weight_dtype::float32) {
    using json = nlohmann::json;
    if (as != weight_dtype::float32 && as != weight_dtype::float16 &&
        as != weight_dtype::bfloat16) {
        throw value_error(detail::describe("write_safetensors", "as",
                                           "float32, float16 or bfloat16", to_string(as)));
    }
    // the header is assembled by hand to keep the state_dict's order (json objects sort keys)
    std::string text = "{";
    auto quoted = [&](const std::string& s) {
        try {
            return json(s).dump();
        } catch (const json::exception& e) {
            throw value_error(detail::concat("write_safetensors: tensor names and metadata must "
                                             "be valid UTF-8: ",
                                             e.what()));
        }
    };
    if (!sd.metadata.empty()) {
        text += "\"__metadata__\":{";
        for (const auto& [key, value] : sd.metadata) {
            text += text.back() == '{' ? "" : ",";
            text += quoted(key) + ":" + quoted(value);
        }
        text += "}";
    }
    std::string data;
    for (const auto& [name, t] : sd.entries()) {
        std::uint64_t numel = 1;
        bool ok = true;
        for (auto extent : t.shape) {
            ok = ok && detail::checked_mul(numel, extent, numel);
        }
        const std::size_t held = t.is_integer() ? t.integers.size() : t.floats().size();
        if (!ok || numel != held) {
            throw value_error(detail::concat("write_safetensors: tensor '", name,
                                             "' must hold as many values as its shape [",
                                             shape_string(t.shape), "] says, got ", held));
        }
        if (name == "__metadata__") {
            throw value_error("write_safetensors: a tensor must not be called '__metadata__'");
        }
        // integer tensors keep their own type; floating-point ones are stored `as`
        const weight_dtype stored = t.is_integer() ? t.stored_as : as;
        const std::string_view dtype_name = detail::safetensors_dtype_name(stored);
        const std::size_t size = detail::element_size(stored);
        const std::size_t begin = data.size();
        data.resize(begin + held * size);
        auto* out = reinterpret_cast<unsigned char*>(data.data() + begin);
        const std::span<const float> floats = t.floats();
        for (std::size_t i = 0; i < held; ++i) {
            std::uint64_t bits = 0;
            if (t.is_integer()) {
                bits = static_cast<std::uint64_t>(t.integers[i]); // two's complement, truncated
            } else if (as == weight_dtype::float32) {
                bits = std::bit_cast<std::uint32_t>(floats[i]);
            } else {
                const float v = floats[i];
                const std::uint16_t h = as == weight_dtype::float16 ? detail::float_to_half(v)
                                                                    : detail::float_to_bfloat16(v);
                const std::uint16_t infinity = as == weight_dtype::float16 ? 0x7C00U : 0x7F80U;
                if (std::isfinite(v) && (h & 0x7FFFU) == infinity) {
                    throw value_error(detail::concat(
                        "write_safetensors: tensor '", name, "' value ", v, " at index ", i,
                        " must be finite in ", to_string(as), ", got an overflow to infinity"));
                }
                bits = h;
            }
            for (std::size_t k = 0; k < size; ++k) {
                out[i * size + k] = static_cast<unsigned char>((bits >> (8 * k)) & 0xFFU);
            }
        }
        text += text.size() == 1 ? "" : ",";
        text += quoted(name) + ":{\"dtype\":\"" + std::string(dtype_name) +
                "\",\"shape\":" + json(t.shape).dump() + ",\"data_offsets\":[" +
                std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
    }
    text += "}";
    text.append((8 - text.size() % 8) % 8, ' '); // as the reference implementation pads
    // atomically: a reader or a killed run sees the old file or the whole new one
    write_file_atomically(path, "write_safetensors", [&](std::ostream& out) {
        unsigned char length[8];
        for (std::size_t k = 0; k < 8; ++k) {
            length[k] = static_cast<unsigned char>(
                (static_cast<std::uint64_t>(text.size()) >> (8 * k)) & 0xFFU);
        }
        out.write(reinterpret_cast<const char*>(length), 8);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.write(data.data(), static_cast<std::streamsize>(data.size()));
    });
}

} // namespace xrestore
