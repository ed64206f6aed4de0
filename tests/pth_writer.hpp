#pragma once
// torch.save files written by hand for the weights tests: a zip writer (STORED entries, as torch
// writes them, optionally with ZIP64 records), a writer of pickle opcodes, and pth_builder, which
// pickles state_dicts of float32, float64 or integer tensors, bare or inside a checkpoint dict,
// each tensor in a storage entry of its own.

#include <xrestore/io/state_dict.hpp>
#include <xrestore/io/zip_archive.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xrestore::test {

inline void append_le(std::string& out, std::uint64_t v, std::size_t width) {
    for (std::size_t k = 0; k < width; ++k) {
        out += static_cast<char>((v >> (8 * k)) & 0xFFU);
    }
}

/// A file of a zip built by make_zip.
struct zip_file {
    std::string name;
    std::string data;
    std::uint16_t method = 0; ///< only recorded: the data is always written as it is
    bool bad_crc = false;
};

/// A zip archive of `files`, as torch writes them (STORED); with `zip64`, every size and offset
/// of the central directory goes into ZIP64 extra fields and ZIP64 end records are written.
inline std::string make_zip(const std::vector<zip_file>& files, bool zip64 = false) {
    std::string out;
    std::string central;
    for (const auto& f : files) {
        const std::uint32_t crc =
            detail::crc32(
                std::span(reinterpret_cast<const unsigned char*>(f.data.data()), f.data.size())) ^
            (f.bad_crc ? 1U : 0U);
        const std::size_t offset = out.size();
        append_le(out, 0x04034b50, 4);
        append_le(out, 20, 2);
        append_le(out, 0, 2);
        append_le(out, f.method, 2);
        append_le(out, 0, 4); // time, date
        append_le(out, crc, 4);
        append_le(out, f.data.size(), 4);
        append_le(out, f.data.size(), 4);
        append_le(out, f.name.size(), 2);
        append_le(out, 4, 2);
        out += f.name;
        append_le(out, 0x4246, 2); // 'FB' padding extra field with no padding
        append_le(out, 0, 2);
        out += f.data;

        append_le(central, 0x02014b50, 4);
        append_le(central, 45, 2);
        append_le(central, 45, 2);
        append_le(central, 0, 2);
        append_le(central, f.method, 2);
        append_le(central, 0, 4);
        append_le(central, crc, 4);
        append_le(central, zip64 ? 0xFFFFFFFFU : f.data.size(), 4);
        append_le(central, zip64 ? 0xFFFFFFFFU : f.data.size(), 4);
        append_le(central, f.name.size(), 2);
        append_le(central, zip64 ? 4 + 24 : 0, 2);
        append_le(central, 0, 2); // comment
        append_le(central, 0, 2); // disk
        append_le(central, 0, 2);
        append_le(central, 0, 4);
        append_le(central, zip64 ? 0xFFFFFFFFU : offset, 4);
        central += f.name;
        if (zip64) {
            append_le(central, 0x0001, 2);
            append_le(central, 24, 2);
            append_le(central, f.data.size(), 8);
            append_le(central, f.data.size(), 8);
            append_le(central, offset, 8);
        }
    }
    const std::size_t cd_offset = out.size();
    out += central;
    if (zip64) {
        const std::size_t record = out.size();
        append_le(out, 0x06064b50, 4);
        append_le(out, 44, 8);
        append_le(out, 45, 2);
        append_le(out, 45, 2);
        append_le(out, 0, 4);
        append_le(out, 0, 4);
        append_le(out, files.size(), 8);
        append_le(out, files.size(), 8);
        append_le(out, central.size(), 8);
        append_le(out, cd_offset, 8);
        append_le(out, 0x07064b50, 4);
        append_le(out, 0, 4);
        append_le(out, record, 8);
        append_le(out, 1, 4);
    }
    append_le(out, 0x06054b50, 4);
    append_le(out, 0, 4);
    append_le(out, zip64 ? 0xFFFFU : files.size(), 2);
    append_le(out, zip64 ? 0xFFFFU : files.size(), 2);
    append_le(out, zip64 ? 0xFFFFFFFFU : central.size(), 4);
    append_le(out, zip64 ? 0xFFFFFFFFU : cd_offset, 4);
    append_le(out, 0, 2);
    return out;
}

/// Pickle opcodes written by hand (protocol 2), for hostile inputs.
struct pickle_writer {
    std::string out = std::string("\x80\x02", 2);

    pickle_writer& op(char c) {
        out += c;
        return *this;
    }
    pickle_writer& global(std::string_view module, std::string_view name) {
        out += 'c';
        out += module;
        out += '\n';
        out += name;
        out += '\n';
        return *this;
    }
    pickle_writer& str(std::string_view s) {
        out += 'X';
        append_le(out, s.size(), 4);
        out += s;
        return *this;
    }
    pickle_writer& integer(std::int64_t v) {
        if (v >= 0 && v < 256) {
            out += 'K';
            out += static_cast<char>(v);
        } else {
            out += '\x8a'; // LONG1, 8 bytes
            out += '\x08';
            append_le(out, static_cast<std::uint64_t>(v), 8);
        }
        return *this;
    }
    pickle_writer& ints(const std::vector<std::int64_t>& values) {
        op('(');
        for (auto v : values) {
            integer(v);
        }
        return op('t');
    }
    /// _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, shape, stride,
    /// False, OrderedDict())
    pickle_writer& tensor(std::string_view type, std::string_view key, std::int64_t numel,
                          std::int64_t offset, const std::vector<std::int64_t>& shape,
                          const std::vector<std::int64_t>& stride) {
        global("torch._utils", "_rebuild_tensor_v2").op('(').op('(').str("storage");
        global("torch", type).str(key).str("cpu").integer(numel).op('t').op('Q');
        integer(offset).ints(shape).ints(stride).op('\x89');
        global("collections", "OrderedDict").op(')').op('R');
        return op('t').op('R');
    }
    pickle_writer& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
    std::string done() const { return out + '.'; }
};

/// A tensor to save: its name, its values and the torch storage type to store them as
/// (FloatStorage: float32; DoubleStorage: float64 of the float values; LongStorage, IntStorage,
/// ShortStorage, CharStorage, ByteStorage, BoolStorage: the integers).
struct saved_tensor {
    std::string name;
    weight_tensor tensor;
    std::string type = "FloatStorage";
};

/// The little-endian storage bytes of `s`.
inline std::string storage_bytes(const saved_tensor& s) {
    std::string out;
    const weight_tensor& t = s.tensor;
    if (s.type == "FloatStorage" || s.type == "DoubleStorage") {
        for (float v : t.values) {
            if (s.type == "FloatStorage") {
                append_le(out, std::bit_cast<std::uint32_t>(v), 4);
            } else {
                append_le(out, std::bit_cast<std::uint64_t>(static_cast<double>(v)), 8);
            }
        }
        return out;
    }
    const std::size_t width = s.type == "LongStorage"    ? 8
                              : s.type == "IntStorage"   ? 4
                              : s.type == "ShortStorage" ? 2
                                                         : 1;
    for (std::int64_t v : t.integers) {
        append_le(out, static_cast<std::uint64_t>(v), width);
    }
    return out;
}

/// Builds a .pth: state_dicts pickled into a pickle_writer, their storages kept for the archive.
///   pth_builder b;  pickle_writer p;
///   p.op('}').op('(').str("epoch").integer(3).str("model");
///   b.state_dict(p, tensors).str("call").str("residual").op('u');
///   std::string bytes = b.file(p);
class pth_builder {
public:
    /// Write an OrderedDict of `tensors` into `p` (contiguous, each in a new storage).
    pickle_writer& state_dict(pickle_writer& p, const std::vector<saved_tensor>& tensors) {
        p.ordered_dict();
        if (tensors.empty()) {
            return p;
        }
        p.op('(');
        for (const saved_tensor& s : tensors) {
            const std::string key = std::to_string(storages_.size());
            std::vector<std::int64_t> shape;
            std::vector<std::int64_t> stride(s.tensor.shape.size(), 1);
            std::int64_t numel = 1;
            for (std::size_t d = s.tensor.shape.size(); d-- > 0;) {
                stride[d] = numel;
                numel *= static_cast<std::int64_t>(s.tensor.shape[d]);
            }
            for (std::size_t e : s.tensor.shape) {
                shape.push_back(static_cast<std::int64_t>(e));
            }
            p.str(s.name).tensor(s.type, key, numel, 0, shape, stride);
            storages_.push_back({"archive/data/" + key, storage_bytes(s)});
        }
        return p.op('u');
    }

    /// The .pth file: `p` as archive/data.pkl, then the storages and archive/version.
    [[nodiscard]] std::string file(const pickle_writer& p) const {
        std::vector<zip_file> files{{"archive/data.pkl", p.done()}};
        files.insert(files.end(), storages_.begin(), storages_.end());
        files.push_back({"archive/version", "3\n"});
        return make_zip(files);
    }

private:
    std::vector<zip_file> storages_;
};

} // namespace xrestore::test
