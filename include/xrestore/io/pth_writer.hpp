#pragma once
/// @file pth_writer.hpp
/// Write a state_dict as a PyTorch zip .pth, the format of `torch.save(model.state_dict(), path)`
/// that `torch.load(path, weights_only=True)` and read_pth / load_weights read back: a zip of
/// STORED entries `archive/data.pkl` (a protocol-2 pickle of an OrderedDict name -> tensor, each
/// tensor rebuilt by torch._utils._rebuild_tensor_v2 from a storage of its own),
/// `archive/data/<k>` (the storages, little-endian, each aligned to 64 bytes as torch aligns
/// them), `archive/byteorder` ("little") and `archive/version` ("3"). Floating-point tensors are
/// written as float32 (torch.float32), integer ones in their own type (int64 buffers such as
/// num_batches_tracked as torch.int64). The file is written atomically (io/atomic_file.hpp).
/// sd.metadata has no place in a state_dict file and is not written (a JSON sidecar beside the
/// file, which load_weights reads, can carry it).
///
/// @code
/// xrestore::state_dict sd = xrestore::train::to_state_dict(params);
/// xrestore::write_pth("denoiser.pth", sd);   // torch.load("denoiser.pth", weights_only=True)
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/atomic_file.hpp"
#include "xrestore/io/element_codec.hpp"
#include "xrestore/io/state_dict.hpp"
#include "xrestore/io/zip_archive.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore {

namespace detail {

inline void put_le(std::string& out, std::uint64_t v, std::size_t width) {
    for (std::size_t k = 0; k < width; ++k) {
        out += static_cast<char>((v >> (8 * k)) & 0xFFU);
    }
}

/// The torch storage class of a tensor written from `t`.
inline std::string_view torch_storage_name(const weight_tensor& t) {
    if (!t.is_integer()) {
        return "FloatStorage";
    }
    switch (t.stored_as) {
    case weight_dtype::int64:
        return "LongStorage";
    case weight_dtype::int32:
        return "IntStorage";
    case weight_dtype::int16:
        return "ShortStorage";
    case weight_dtype::int8:
        return "CharStorage";
    case weight_dtype::uint8:
        return "ByteStorage";
    default:
        return "BoolStorage";
    }
}

/// Pickle opcodes (protocol 2) for a torch state_dict.
class pth_pickle {
public:
    pth_pickle() { out_ = std::string("\x80\x02", 2); }

    void op(char c) { out_ += c; }
    void global(std::string_view module, std::string_view name) {
        out_ += 'c';
        out_ += module;
        out_ += '\n';
        out_ += name;
        out_ += '\n';
    }
    void text(std::string_view s) { // BINUNICODE
        out_ += 'X';
        put_le(out_, s.size(), 4);
        out_ += s;
    }
    void integer(std::uint64_t v) {
        if (v < 0x100U) { // BININT1
            out_ += 'K';
            put_le(out_, v, 1);
        } else if (v < 0x10000U) { // BININT2
            out_ += 'M';
            put_le(out_, v, 2);
        } else if (v < 0x80000000U) { // BININT (signed 4 bytes)
            out_ += 'J';
            put_le(out_, v, 4);
        } else { // LONG1 of 9 bytes, so the sign bit stays 0
            out_ += '\x8a';
            out_ += '\x09';
            put_le(out_, v, 8);
            out_ += '\0';
        }
    }
    void integers(const std::vector<std::uint64_t>& values) {
        op('(');
        for (std::uint64_t v : values) {
            integer(v);
        }
        op('t');
    }
    /// OrderedDict()
    void ordered_dict() {
        global("collections", "OrderedDict");
        op(')');
        op('R');
    }
    /// _rebuild_tensor_v2(persistent ('storage', torch.<type>, key, 'cpu', numel), 0, shape,
    /// stride, False, OrderedDict())
    void tensor(std::string_view type, std::string_view key, std::uint64_t numel,
                const std::vector<std::uint64_t>& shape, const std::vector<std::uint64_t>& stride) {
        global("torch._utils", "_rebuild_tensor_v2");
        op('(');
        op('(');
        text("storage");
        global("torch", type);
        text(key);
        text("cpu");
        integer(numel);
        op('t');
        op('Q'); // BINPERSID
        integer(0);
        integers(shape);
        integers(stride);
        op('\x89'); // NEWFALSE: requires_grad
        ordered_dict();
        op('t');
        op('R');
    }
    [[nodiscard]] std::string done() const { return out_ + '.'; }

private:
    std::string out_;
};

/// A zip of STORED entries, each entry's data aligned to 64 bytes by a 'FB' extra field (as
/// torch writes it). Throws value_error past the 4 GiB of a zip without ZIP64 records.
inline std::string stored_zip(const std::vector<std::pair<std::string, std::string>>& files) {
    constexpr std::uint64_t limit = 0xFFFFFFFFU;
    std::string out;
    std::string central;
    for (const auto& [name, data] : files) {
        const auto crc =
            crc32(std::span(reinterpret_cast<const unsigned char*>(data.data()), data.size()));
        const std::uint64_t offset = out.size();
        const std::size_t before_extra = out.size() + 30 + name.size() + 4;
        const std::size_t padding = (64 - before_extra % 64) % 64;
        if (offset > limit || data.size() > limit) {
            throw value_error(describe("write_pth", "the file", "under 4 GiB (no ZIP64)",
                                       std::to_string(offset + data.size()) + " bytes"));
        }
        put_le(out, 0x04034b50U, 4); // local file header
        put_le(out, 20, 2);          // version needed
        put_le(out, 0, 2);           // flags
        put_le(out, 0, 2);           // STORED
        put_le(out, 0, 4);           // time, date
        put_le(out, crc, 4);
        put_le(out, data.size(), 4);
        put_le(out, data.size(), 4);
        put_le(out, name.size(), 2);
        put_le(out, 4 + padding, 2);
        out += name;
        put_le(out, 0x4246U, 2); // 'FB': padding
        put_le(out, padding, 2);
        out.append(padding, 'Z');
        out += data;

        put_le(central, 0x02014b50U, 4); // central directory header
        put_le(central, 20, 2);          // made by
        put_le(central, 20, 2);          // needed
        put_le(central, 0, 2);
        put_le(central, 0, 2);
        put_le(central, 0, 4);
        put_le(central, crc, 4);
        put_le(central, data.size(), 4);
        put_le(central, data.size(), 4);
        put_le(central, name.size(), 2);
        put_le(central, 0, 2); // extra
        put_le(central, 0, 2); // comment
        put_le(central, 0, 2); // disk
        put_le(central, 0, 2); // internal attributes
        put_le(central, 0, 4); // external attributes
        put_le(central, offset, 4);
        central += name;
    }
    const std::uint64_t central_offset = out.size();
    if (central_offset + central.size() > limit || files.size() >= 0xFFFFU) {
        throw value_error(describe("write_pth", "the file", "under 4 GiB and 65535 entries",
                                   std::to_string(central_offset) + " bytes"));
    }
    out += central;
    put_le(out, 0x06054b50U, 4); // end of central directory
    put_le(out, 0, 4);
    put_le(out, files.size(), 2);
    put_le(out, files.size(), 2);
    put_le(out, central.size(), 4);
    put_le(out, central_offset, 4);
    put_le(out, 0, 2);
    return out;
}

} // namespace detail

/// The bytes of a .pth holding `sd` (see the file comment); value_error when a tensor's values
/// do not match its shape.
inline std::string pth_bytes(const state_dict& sd) {
    std::vector<std::pair<std::string, std::string>> files;
    files.emplace_back("archive/data.pkl", std::string());
    detail::pth_pickle p;
    p.ordered_dict();
    if (!sd.empty()) {
        p.op('(');
    }
    for (const auto& [name, t] : sd.entries()) {
        const std::size_t held = t.is_integer() ? t.integers.size() : t.floats().size();
        if (t.numel() != held) {
            throw value_error(detail::describe(
                "write_pth", "the values of tensor '" + name + "'",
                "as many as its shape [" + shape_string(t.shape) + "] says", held));
        }
        std::vector<std::uint64_t> shape(t.shape.begin(), t.shape.end());
        std::vector<std::uint64_t> stride(shape.size(), 1);
        for (std::size_t d = shape.size(); d-- > 1;) {
            stride[d - 1] = stride[d] * shape[d]; // row-major
        }
        const std::string key = std::to_string(files.size() - 1);
        const std::string_view type = detail::torch_storage_name(t);
        p.text(name);
        p.tensor(type, key, held, shape, stride);
        std::string bytes;
        if (t.is_integer()) {
            const std::size_t width = detail::element_size(t.stored_as);
            for (std::int64_t v : t.integers) {
                detail::put_le(bytes, static_cast<std::uint64_t>(v), width); // two's complement
            }
        } else {
            for (float v : t.floats()) {
                detail::put_le(bytes, std::bit_cast<std::uint32_t>(v), 4);
            }
        }
        files.emplace_back("archive/data/" + key, std::move(bytes));
    }
    if (!sd.empty()) {
        p.op('u'); // SETITEMS
    }
    files.front().second = p.done();
    files.emplace_back("archive/byteorder", "little");
    files.emplace_back("archive/version", "3\n");
    return detail::stored_zip(files);
}

/// Write `sd` to `path` as a PyTorch zip .pth (see the file comment), atomically: a reader or a
/// killed run sees the old file or the whole new one. io_error when the file cannot be written.
inline void write_pth(const std::filesystem::path& path, const state_dict& sd) {
    const std::string bytes = pth_bytes(sd);
    write_file_atomically(path, "write_pth", [&](std::ostream& out) {
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    });
}

} // namespace xrestore
