#pragma once
/// @file pth.hpp
/// Read a PyTorch state_dict saved by `torch.save(model.state_dict(), path)` (the zip format,
/// torch >= 1.6, torch 2.x included) natively, with no Python: the zip's `<top>/data.pkl` is read
/// by a restricted unpickler that executes nothing, and each tensor is gathered from its storage
/// `<top>/data/<key>` (any strides, shared storages, storage offsets; float32, float16, bfloat16
/// and float64 converted to float32, float64 with a note; integer tensors such as
/// num_batches_tracked kept as int64). A training checkpoint whose top-level dict holds the
/// weights under "state_dict" (Lightning), "model", "model_state_dict", "net" or "ema" is
/// accepted too, and its top-level strings become metadata. The legacy (pre-1.6) format,
/// big-endian files and anything malformed throw io_error naming the file and the tensor.
///
/// @code
/// xrestore::state_dict w = xrestore::read_pth("denoiser.pth");
/// const xrestore::weight_tensor& k = w.at("conv.layers.0.weight");
/// std::cout << xrestore::shape_string(k.shape) << " " << k.values[0] << '\n';
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/io/element_codec.hpp"
#include "xrestore/io/mapped_file.hpp"
#include "xrestore/io/npy.hpp"
#include "xrestore/io/pickle.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/io/zip_archive.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace xrestore {

namespace detail {

/// How a legacy (pre-1.6) torch.save file starts: the pickle (protocol 2) of the magic number
/// 0x1950a86a20f9469cfc6c.
inline constexpr std::array<unsigned char, 14> legacy_torch_magic{
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

inline bool starts_with(std::span<const unsigned char> bytes,
                        std::span<const unsigned char> prefix) {
    return bytes.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

inline bool is_legacy_torch_file(std::span<const unsigned char> bytes) {
    return starts_with(bytes, legacy_torch_magic);
}

/// "50 4b 03 04" for the first bytes of a file.
inline std::string first_bytes_hex(std::span<const unsigned char> bytes, std::size_t n = 8) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < std::min(n, bytes.size()); ++i) {
        s += i == 0 ? "" : " ";
        s += digits[bytes[i] >> 4];
        s += digits[bytes[i] & 0xFU];
    }
    return s.empty() ? "an empty file" : s;
}

[[noreturn]] inline void pth_fail(std::string_view source, const std::string& what) {
    throw io_error(concat("read_pth: '", source, "': ", what));
}

/// The message for a legacy (pre-1.6, non-zip) torch.save file.
inline std::string legacy_torch_message(std::string_view where, std::string_view source) {
    return concat(where, ": '", source,
                  "' is in PyTorch's legacy (pre-1.6, non-zip) format, which is not supported; "
                  "re-save it with torch>=1.6, where the zip format is the default: "
                  "sd = torch.load(old_path); torch.save(sd, path), or convert it to "
                  "safetensors");
}

/// The keys under which training checkpoints hold their state_dict, in the order they are
/// tried: Lightning's "state_dict", then "model", "model_state_dict" and "net" of common training
/// scripts, and "ema" for averaged weights.
inline constexpr std::array<std::string_view, 5> checkpoint_state_dict_keys{
    "state_dict", "model", "model_state_dict", "net", "ema"};

/// "'state_dict', 'model', 'model_state_dict', 'net' or 'ema'", for messages.
inline std::string checkpoint_keys_text() {
    std::string text;
    for (std::size_t k = 0; k < checkpoint_state_dict_keys.size(); ++k) {
        text += k == 0 ? "'" : k + 1 == checkpoint_state_dict_keys.size() ? "' or '" : "', '";
        text += checkpoint_state_dict_keys[k];
    }
    return text + "'";
}

/// The first `shown` keys of a pickled dict, quoted, for messages ("'epoch', 'w', ... (9 in
/// all)").
inline std::string dict_keys_text(const pickle_document& doc, const pickle_dict& d,
                                  std::size_t shown = 6) {
    std::string text;
    for (std::size_t k = 0; k < d.items.size() && k < shown; ++k) {
        const auto* name = std::get_if<std::string>(&doc.at(d.items[k].first).value);
        text += k == 0 ? "" : ", ";
        text += name != nullptr ? concat("'", name->substr(0, 60), "'")
                                : doc.describe(d.items[k].first);
    }
    if (d.items.size() > shown) {
        text += concat(", ... (", d.items.size(), " in all)");
    }
    return text.empty() ? "none" : text;
}

/// Whether `d` holds at least one value and only tensors: a state_dict.
inline bool holds_only_tensors(const pickle_document& doc, const pickle_dict& d) {
    return !d.items.empty() && std::all_of(d.items.begin(), d.items.end(), [&](const auto& item) {
        return std::holds_alternative<pickle_tensor>(doc.at(item.second).value);
    });
}

/// Which dict of a saved object holds the weights: the object itself, or the entry of a
/// checkpoint under `key`; `others` are the further keys that also hold a state_dict.
struct checkpoint_choice {
    const pickle_dict* weights = nullptr;
    std::string key;
    std::vector<std::string> others;
};

/// The state_dict of the saved dict `root`: `root` itself when it holds tensors only (or is
/// empty), else the first of checkpoint_state_dict_keys whose value is a dict of tensors, else
/// the first of them whose value is a dict (read to report what is wrong in it), else `root`.
inline checkpoint_choice choose_state_dict(const pickle_document& doc, const pickle_dict& root) {
    checkpoint_choice choice{&root, {}, {}};
    if (root.items.empty() || holds_only_tensors(doc, root)) {
        return choice;
    }
    const pickle_dict* first_dict = nullptr;
    std::string first_dict_key;
    for (std::string_view wanted : checkpoint_state_dict_keys) {
        for (const auto& [key, value] : root.items) {
            const auto* name = std::get_if<std::string>(&doc.at(key).value);
            const auto* nested = std::get_if<pickle_dict>(&doc.at(value).value);
            if (name == nullptr || nested == nullptr || *name != wanted) {
                continue;
            }
            if (first_dict == nullptr) {
                first_dict = nested;
                first_dict_key = *name;
            }
            if (!holds_only_tensors(doc, *nested)) {
                continue;
            }
            if (choice.key.empty()) {
                choice.weights = nested;
                choice.key = *name;
            } else {
                choice.others.push_back(*name);
            }
        }
    }
    if (choice.key.empty() && first_dict != nullptr) {
        choice.weights = first_dict;
        choice.key = first_dict_key;
    }
    return choice;
}

/// The string entries of a checkpoint dict (string key, string value of at most 4096 bytes) as
/// metadata: a checkpoint saved as {"state_dict": sd, "call": "residual"} declares its call.
inline void checkpoint_strings(const pickle_document& doc, const pickle_dict& root,
                               std::map<std::string, std::string>& metadata) {
    for (const auto& [key, value] : root.items) {
        const auto* name = std::get_if<std::string>(&doc.at(key).value);
        const auto* text = std::get_if<std::string>(&doc.at(value).value);
        if (name != nullptr && text != nullptr && text->size() <= 4096) {
            metadata[*name] = *text;
        }
    }
}

/// Gather one tensor of a state_dict from its storage entry.
class pth_tensor_reader {
public:
    /// With `borrow`, contiguous float32 tensors view the archive's bytes (weight_tensor::mapped)
    /// instead of being copied.
    pth_tensor_reader(const zip_archive& zip, std::string top, std::string_view source,
                      bool borrow = false)
        : zip_(zip), top_(std::move(top)), source_(source), borrow_(borrow) {}

    /// The tensor `t` of `doc`, checked against its storage; `before_decoding(count)` is
    /// called with its element count once the checks pass and before anything is decoded (the
    /// caller's budget of values may refuse it there).
    template <class BeforeDecoding>
    weight_tensor read(const pickle_document& doc, const pickle_tensor& t, const std::string& name,
                       BeforeDecoding&& before_decoding) {
        const auto& storage = std::get<pickle_storage>(doc.at(t.storage).value);
        const torch_storage_type& type = torch_storage_types[storage.type];
        const std::string what = concat("tensor '", name, "'");
        const weight_dtype dtype = type.dtype;
        const std::span<const unsigned char> data = storage_bytes(storage.key, what);
        // the storage: numel elements of element_size bytes, all inside the entry
        std::uint64_t storage_bytes_needed = 0;
        const auto numel = static_cast<std::uint64_t>(storage.numel);
        if (!checked_mul(numel, type.element_size, storage_bytes_needed) ||
            storage_bytes_needed > data.size()) {
            pth_fail(source_, concat(what, ": storage '", storage.key, "' declares ", numel,
                                     " elements of ", type.element_size,
                                     " bytes, but its entry holds only ", data.size(), " bytes"));
        }
        // shape, strides and offset, all in elements; every reachable index below numel
        const std::size_t rank = t.shape.size();
        if (t.offset < 0) {
            pth_fail(source_, concat(what, " storage offset must be non-negative, got ", t.offset));
        }
        std::uint64_t count = 1;
        bool overflow = false;
        bool empty = false;
        for (std::size_t d = 0; d < rank; ++d) {
            if (t.shape[d] < 0 || t.stride[d] < 0) {
                pth_fail(source_,
                         concat(what, " size and stride must be non-negative, got size ",
                                t.shape[d], " and stride ", t.stride[d], " in dimension ", d));
            }
            empty = empty || t.shape[d] == 0;
            overflow =
                overflow || !checked_mul(count, static_cast<std::uint64_t>(t.shape[d]), count);
        }
        if (empty) {
            count = 0;
        } else if (overflow) {
            pth_fail(source_, concat(what, " size has more than 2^64 elements"));
        }
        const auto offset = static_cast<std::uint64_t>(t.offset);
        std::uint64_t last = offset; // offset + sum (size_d - 1) * stride_d
        bool in_range = count == 0 ? offset <= numel : offset < numel;
        for (std::size_t d = 0; in_range && count != 0 && d < rank; ++d) {
            std::uint64_t step = 0;
            in_range = checked_mul(static_cast<std::uint64_t>(t.shape[d] - 1),
                                   static_cast<std::uint64_t>(t.stride[d]), step) &&
                       checked_add(last, step, last) && last < numel;
        }
        if (!in_range) {
            pth_fail(source_,
                     concat(what, " (storage offset ", offset, ", size [", shape_string(t.shape),
                            "], stride [", shape_string(t.stride), "]) reaches past the ", numel,
                            " elements of storage '", storage.key, "'"));
        }
        // a view may repeat elements (stride 0), so bound what it may allocate
        constexpr std::uint64_t max_broadcast = std::uint64_t{1} << 24;
        if (count > numel && count > max_broadcast) {
            pth_fail(source_, concat(what, " has ", count, " elements but its storage only ", numel,
                                     "; views repeating elements are accepted up to ",
                                     max_broadcast, " elements"));
        }
        before_decoding(count);

        last_storage_ = data;
        weight_tensor out;
        out.stored_as = dtype;
        out.shape.assign(t.shape.begin(), t.shape.end());
        const std::size_t size = type.element_size;
        if (count == 0 || contiguous(t)) {
            decode_or_borrow_tensor_data(data.subspan(static_cast<std::size_t>(offset) * size,
                                                      static_cast<std::size_t>(count) * size),
                                         dtype, static_cast<std::size_t>(count), out, borrow_);
            return out;
        }
        const bool integer = is_integer(dtype);
        if (integer) {
            out.integers.resize(static_cast<std::size_t>(count));
        } else {
            out.values.resize(static_cast<std::size_t>(count));
        }
        // odometer over the row-major index; position = offset + sum index_d * stride_d
        std::vector<std::uint64_t> index(rank, 0);
        std::uint64_t position = offset;
        for (std::size_t i = 0; i < count; ++i) {
            const unsigned char* element = data.data() + position * size;
            if (integer) {
                out.integers[i] = decode_integer(element, dtype);
            } else {
                out.values[i] = decode_element(element, dtype);
            }
            for (std::size_t d = rank; d-- > 0;) {
                const auto stride = static_cast<std::uint64_t>(t.stride[d]);
                if (++index[d] < static_cast<std::uint64_t>(t.shape[d])) {
                    position += stride;
                    break;
                }
                position -= stride * (index[d] - 1);
                index[d] = 0;
            }
        }
        return out;
    }

    /// The storage entry the last tensor read was gathered from (empty before any).
    [[nodiscard]] std::span<const unsigned char> last_storage() const { return last_storage_; }

private:
    const zip_archive& zip_;
    std::string top_;
    std::string_view source_;
    bool borrow_ = false;
    std::map<std::string, std::span<const unsigned char>> storages_; // CRC checked once each
    std::span<const unsigned char> last_storage_;

    std::span<const unsigned char> storage_bytes(const std::string& key, const std::string& what) {
        auto it = storages_.find(key);
        if (it != storages_.end()) {
            return it->second;
        }
        const std::string entry_name = top_ + "/data/" + key;
        const zip_entry* entry = zip_.find(entry_name);
        if (entry == nullptr) {
            pth_fail(source_, concat(what, ": its storage entry '", entry_name, "' is missing"));
        }
        return storages_.emplace(key, zip_.read(*entry)).first->second;
    }

    /// Row-major contiguous (dimensions of size 1 may have any stride).
    static bool contiguous(const pickle_tensor& t) {
        std::int64_t expected = 1;
        for (std::size_t d = t.shape.size(); d-- > 0;) {
            if (t.shape[d] != 1 && t.stride[d] != expected) {
                return false;
            }
            expected *= t.shape[d]; // no overflow: the element count was checked
        }
        return true;
    }
};

/// parse_pth, calling `release(storage)` with each storage entry once a tensor is decoded from
/// it (a mapped file drops its pages there; a storage shared by several tensors is read again).
/// With `borrow`, contiguous float32 tensors view `bytes` (weight_tensor::mapped) instead of
/// being copied (mapped_weights: the bytes outlive the state_dict).
template <class Release>
state_dict parse_pth_releasing(std::span<const unsigned char> bytes, std::string_view source_name,
                               Release&& release, bool borrow = false) {
    const std::string_view source = source_name;
    if (is_legacy_torch_file(bytes)) {
        throw io_error(legacy_torch_message("read_pth", source));
    }
    static constexpr std::array<unsigned char, 4> local_header{'P', 'K', 3, 4};
    static constexpr std::array<unsigned char, 4> empty_archive{'P', 'K', 5, 6};
    if (!starts_with(bytes, local_header) && !starts_with(bytes, empty_archive)) {
        pth_fail(source, concat("not a PyTorch zip file: expected the zip signature "
                                "50 4b 03 04 (\"PK\\3\\4\") at the start, got ",
                                first_bytes_hex(bytes)));
    }
    const zip_archive zip(bytes, std::string(source));
    if (zip.entries().empty()) {
        pth_fail(source, "not a PyTorch zip file: the archive is empty");
    }
    // the folder every entry lives in is named by the first entry: "<top>/data.pkl"
    const std::string& first = zip.entries().front().name;
    const auto slash = first.find('/');
    if (slash == std::string::npos || slash == 0) {
        pth_fail(source, concat("not a PyTorch zip file: the first entry '", first,
                                "' must be inside a folder (<top>/data.pkl)"));
    }
    const std::string top = first.substr(0, slash);
    if (const zip_entry* order = zip.find(top + "/byteorder")) {
        const auto text = zip.read(*order);
        std::string value(text.begin(), text.end());
        while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) {
            value.pop_back();
        }
        if (value != "little") {
            pth_fail(source, concat("byteorder must be 'little', got '", value,
                                    "' (big-endian files are not supported)"));
        }
    }
    const zip_entry* pickle_entry = zip.find(top + "/data.pkl");
    if (pickle_entry == nullptr) {
        pth_fail(source, concat("not a PyTorch zip file: there is no '", top, "/data.pkl'"));
    }
    const pickle_document doc =
        unpickle(zip.read(*pickle_entry), concat(source, ":", top, "/data.pkl"));

    const auto* root = std::get_if<pickle_dict>(&doc.root().value);
    if (root == nullptr) {
        pth_fail(source, concat("the saved object must be a dict of tensors (a "
                                "state_dict), got ",
                                doc.describe(doc.root_index)));
    }
    // a training checkpoint keeps the weights under one of checkpoint_state_dict_keys
    const checkpoint_choice choice = choose_state_dict(doc, *root);
    state_dict sd;
    if (!choice.key.empty()) {
        checkpoint_strings(doc, *root, sd.metadata);
    }
    if (!choice.others.empty()) {
        std::string others;
        for (const std::string& k : choice.others) {
            others += concat(others.empty() ? "'" : "', '", k);
        }
        sd.notes.push_back(concat("the checkpoint holds state_dicts under '", choice.key, "' and ",
                                  others, "': the one under '", choice.key,
                                  "' is read (to use another, save it alone: ",
                                  "torch.save(checkpoint['", choice.others.front(), "'], path))"));
    }
    pth_tensor_reader reader(zip, top, source, borrow);
    std::size_t decoded = 0;
    // A file's own values number at most its size (int8) and decode to float32, so 4 x the size
    // covers every honest file; 2^20 more allows small broadcast views in a small file.
    const std::size_t max_decoded = 4 * bytes.size() + (std::size_t{1} << 20);
    std::vector<std::string> converted; // float64 tensors
    for (const auto& [key, value] : choice.weights->items) {
        const auto* name = std::get_if<std::string>(&doc.at(key).value);
        if (name == nullptr) {
            pth_fail(source, concat("state_dict keys must be strings, got ", doc.describe(key)));
        }
        const auto* tensor = std::get_if<pickle_tensor>(&doc.at(value).value);
        if (tensor == nullptr) {
            pth_fail(source,
                     concat("value of '", *name, "'",
                            choice.key.empty() ? std::string()
                                               : " in the checkpoint's '" + choice.key + "'",
                            " must be a tensor, got ", doc.describe(value),
                            " (expected a state_dict, or a checkpoint holding one under ",
                            checkpoint_keys_text(),
                            "; the file's keys: ", dict_keys_text(doc, *root), ")"));
        }
        // Keys may name one storage many times (tied weights, or a hostile file repeating a
        // broadcast view): bound the values decoded in all by the file's size, checked before
        // each tensor is decoded.
        weight_tensor t = reader.read(doc, *tensor, *name, [&](std::uint64_t count) {
            if (count > max_decoded - decoded) {
                pth_fail(source,
                         concat("the tensors decode to more than ", max_decoded, " values from a ",
                                bytes.size(), "-byte file (too many keys repeat shared storages)"));
            }
        });
        release(reader.last_storage());
        decoded += t.values.size() + t.integers.size() + t.mapped.size();
        if (t.stored_as == weight_dtype::float64) {
            converted.push_back(*name);
        }
        sd.insert(*name, std::move(t));
    }
    if (!converted.empty()) {
        sd.notes.push_back(float64_note(converted));
    }
    return sd;
}

} // namespace detail

/// Parse a torch.save zip file held in memory; `source_name` names it in error messages.
inline state_dict parse_pth(std::span<const unsigned char> bytes, std::string_view source_name) {
    return detail::parse_pth_releasing(bytes, source_name, [](std::span<const unsigned char>) {});
}

/// Read a torch.save zip file (a state_dict, or a checkpoint holding one under "state_dict",
/// "model", "model_state_dict", "net" or "ema"), memory-mapped (detail::mapped_file): each
/// tensor is decoded from the file's pages into its own buffer.
inline state_dict read_pth(const std::filesystem::path& path) {
    const detail::mapped_file file(path, "read_pth");
    return detail::parse_pth_releasing(
        file.bytes(), path.string(),
        [&](std::span<const unsigned char> part) { file.release(part); });
}

} // namespace xrestore
