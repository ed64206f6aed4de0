#pragma once
/// @file npy.hpp
/// Read and write NumPy `.npy` arrays for exact numerical exchange. Reading accepts format
/// versions 1-3, C order, little-endian float32/float64 and unsigned/signed integers (converted to
/// float32); everything else is refused with io_error. Writing produces version 1.0 '<f4'.
///
/// @code
/// xrestore::write_npy("x.npy", x);                        // x: any float32 tensor
/// auto y = xrestore::read_npy<3>("x.npy");                  // C x H x W
/// @endcode

#include "xrestore/core/tensor.hpp"
#include "xrestore/io/atomic_file.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace xrestore {

/// A dense array of any rank read from a .npy file, converted to float32.
struct npy_array {
    std::vector<std::size_t> shape;
    std::vector<float> data;
    std::string dtype{}; ///< the file's dtype as numpy writes it: "<f4", "<f8", "|u1", "<i2"...
};

namespace detail {

/// Throw io_error naming the path and the reason unless `path` exists and is not a directory.
inline void require_file_to_read(const std::filesystem::path& path, std::string_view where) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (status.type() == std::filesystem::file_type::not_found) {
        throw io_error(concat(where, ": cannot read '", path.string(), "': no such file"));
    }
    if (ec) {
        throw io_error(concat(where, ": cannot read '", path.string(), "': ", ec.message()));
    }
    if (std::filesystem::is_directory(status)) {
        throw io_error(concat(where, ": cannot read '", path.string(), "': it is a directory"));
    }
}

/// The whole content of a file. Missing paths, directories and unreadable files throw io_error
/// naming the path and the reason.
inline std::string read_whole_file(const std::filesystem::path& path, std::string_view where) {
    require_file_to_read(path, where);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw io_error(concat(where, ": cannot open '", path.string(), "' for reading"));
    }
    std::string bytes;
    std::array<char, 1 << 16> buffer{};
    while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
        bytes.append(buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    if (in.bad()) {
        throw io_error(concat(where, ": error while reading '", path.string(), "'"));
    }
    return bytes;
}

/// Value of 'key' in a numpy header dict, as the raw text up to the next top-level comma.
inline std::string npy_header_field(const std::string& header, const std::string& key,
                                    const std::string& file) {
    const std::string quoted = "'" + key + "'";
    const auto at = header.find(quoted);
    if (at == std::string::npos) {
        throw io_error(concat("read_npy: '", file, "' header lacks the key ", quoted));
    }
    auto pos = header.find(':', at + quoted.size());
    if (pos == std::string::npos) {
        throw io_error(concat("read_npy: '", file, "' header is malformed near ", quoted));
    }
    ++pos;
    while (pos < header.size() && header[pos] == ' ') {
        ++pos;
    }
    if (pos < header.size() && header[pos] == '(') {
        const auto end = header.find(')', pos);
        if (end == std::string::npos) {
            throw io_error(concat("read_npy: '", file, "' has an unterminated shape tuple"));
        }
        return header.substr(pos, end - pos + 1);
    }
    auto end = header.find_first_of(",}", pos);
    if (end == std::string::npos) {
        throw io_error(concat("read_npy: '", file, "' header is malformed near ", quoted));
    }
    return header.substr(pos, end - pos);
}

inline std::vector<std::size_t> npy_parse_shape(const std::string& text, const std::string& file) {
    std::vector<std::size_t> shape;
    std::size_t i = 1; // skip '('
    while (i < text.size()) {
        const char c = text[i];
        if (c >= '0' && c <= '9') {
            std::size_t value = 0;
            while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
                const auto digit = static_cast<std::size_t>(text[i] - '0');
                if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) {
                    throw io_error(concat("read_npy: '", file, "' declares an absurd extent"));
                }
                value = value * 10 + digit;
                ++i;
            }
            shape.push_back(value);
        } else if (c == ',' || c == ' ' || c == ')' || c == 'L') {
            ++i;
        } else {
            throw io_error(concat("read_npy: '", file, "' has a malformed shape ", text));
        }
    }
    return shape;
}

template <class T>
void npy_convert(const char* bytes, std::size_t count, std::vector<float>& out) {
    for (std::size_t i = 0; i < count; ++i) {
        T value;
        std::memcpy(&value, bytes + i * sizeof(T), sizeof(T));
        if constexpr (std::is_same_v<T, double>) {
            // doubles beyond the float range become +-inf (not an undefined conversion)
            constexpr double largest = std::numeric_limits<float>::max();
            if (value > largest || value < -largest) {
                out[i] = value > 0 ? std::numeric_limits<float>::infinity()
                                   : -std::numeric_limits<float>::infinity();
                continue;
            }
        }
        out[i] = static_cast<float>(value);
    }
}

} // namespace detail

/// What a .npy header declares (read_npy_header), and where its data starts.
struct npy_header {
    std::vector<std::size_t> shape;
    std::string dtype{};   ///< as numpy writes it: "<f4", "<f8", "|u1", "<i2"...
    std::size_t item = 0;  ///< bytes per element
    std::size_t count = 1; ///< elements
    std::size_t data_start = 0;
};

namespace detail {

/// Parse the preamble and header at the start of `bytes` (the data need not follow).
inline npy_header parse_npy_header(std::string_view bytes, const std::string& file) {
    static constexpr char magic[] = "\x93NUMPY";
    if (bytes.size() < 10 || bytes.compare(0, 6, magic, 6) != 0) {
        throw io_error(concat("read_npy: '", file, "' is not a .npy file (bad magic)"));
    }
    const auto major = static_cast<unsigned char>(bytes[6]);
    std::size_t header_len = 0;
    std::size_t header_start = 0;
    if (major == 1) {
        header_len = static_cast<unsigned char>(bytes[8]) |
                     (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
        header_start = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) {
            throw io_error(concat("read_npy: '", file, "' is truncated in its preamble"));
        }
        for (int k = 0; k < 4; ++k) {
            header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + k]))
                          << (8 * k);
        }
        header_start = 12;
    } else {
        throw io_error(concat("read_npy: '", file, "' has unsupported format version ",
                              static_cast<int>(major)));
    }
    if (header_len > bytes.size() - header_start) {
        throw io_error(concat("read_npy: '", file, "' is truncated in its header"));
    }
    const std::string header(bytes.substr(header_start, header_len));
    const std::string descr = npy_header_field(header, "descr", file);
    const std::string order = npy_header_field(header, "fortran_order", file);
    if (order.find("False") == std::string::npos) {
        throw io_error(
            concat("read_npy: '", file, "' must be in C order (fortran_order False), got ", order));
    }
    npy_header result;
    result.shape = npy_parse_shape(npy_header_field(header, "shape", file), file);
    for (auto extent : result.shape) {
        if (extent != 0 && result.count > std::numeric_limits<std::size_t>::max() / 16 / extent) {
            throw io_error(concat("read_npy: '", file, "' declares too many elements"));
        }
        result.count *= extent;
    }
    std::string type = descr;
    std::erase(type, '\'');
    std::erase(type, ' ');
    result.dtype = type;
    if (type == "<f4") {
        result.item = 4;
    } else if (type == "<f8") {
        result.item = 8;
    } else if (type == "|u1" || type == "<u1" || type == "|i1") {
        result.item = 1;
    } else if (type == "<u2" || type == "<i2") {
        result.item = 2;
    } else if (type == "<i4" || type == "<u4") {
        result.item = 4;
    } else if (type == "<i8" || type == "<u8") {
        result.item = 8;
    } else if (type == "|b1") {
        result.item = 1;
    } else {
        throw io_error(concat("read_npy: '", file, "' has dtype ", type,
                              "; expected little-endian float or integer"));
    }
    result.data_start = header_start + header_len;
    return result;
}

} // namespace detail

/// The shape and dtype a .npy file declares, read from its header only (the data is neither read
/// nor checked; read_npy_any does that).
inline npy_header read_npy_header(const std::filesystem::path& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::is_regular_file(status)) {
        (void)detail::read_whole_file(path, "read_npy"); // the reason, in its words
    }
    std::ifstream in(path, std::ios::binary);
    std::string prefix(12, '\0');
    in.read(prefix.data(), 12);
    prefix.resize(static_cast<std::size_t>(in.gcount()));
    std::size_t header_end = prefix.size();
    if (prefix.size() >= 10) {
        const auto major = static_cast<unsigned char>(prefix[6]);
        std::size_t length = static_cast<unsigned char>(prefix[8]) |
                             static_cast<std::size_t>(static_cast<unsigned char>(prefix[9])) << 8;
        if ((major == 2 || major == 3) && prefix.size() == 12) {
            length = 0;
            for (int k = 0; k < 4; ++k) {
                length |= static_cast<std::size_t>(static_cast<unsigned char>(prefix[8 + k]))
                          << (8 * k);
            }
        }
        header_end = (major == 1 ? 10 : 12) + std::min<std::size_t>(length, std::size_t{1} << 24);
    }
    if (header_end > prefix.size()) {
        const std::size_t have = prefix.size();
        prefix.resize(header_end);
        in.read(prefix.data() + have, static_cast<std::streamsize>(header_end - have));
        prefix.resize(have + static_cast<std::size_t>(in.gcount()));
    }
    return detail::parse_npy_header(prefix, path.string());
}

/// Read a .npy file of any rank into float32.
inline npy_array read_npy_any(const std::filesystem::path& path) {
    const std::string file = path.string();
    const std::string bytes = detail::read_whole_file(path, "read_npy");
    const npy_header h = detail::parse_npy_header(bytes, file);
    const std::size_t count = h.count;
    const std::size_t item = h.item;
    const std::string& type = h.dtype;
    const std::size_t data_start = h.data_start;
    npy_array result;
    result.shape = h.shape;
    result.dtype = h.dtype;
    if (count * item != bytes.size() - data_start) {
        throw io_error(detail::concat("read_npy: '", file, "' holds ", bytes.size() - data_start,
                                      " data bytes, but its header declares ", count * item,
                                      " (shape ", shape_string(result.shape), ", dtype ", type,
                                      ")"));
    }
    result.data.resize(count);
    const char* p = bytes.data() + data_start;
    if (type == "<f4") {
        detail::npy_convert<float>(p, count, result.data);
    } else if (type == "<f8") {
        detail::npy_convert<double>(p, count, result.data);
    } else if (type == "|i1") {
        detail::npy_convert<std::int8_t>(p, count, result.data);
    } else if (item == 1) {
        detail::npy_convert<std::uint8_t>(p, count, result.data);
    } else if (type == "<u2") {
        detail::npy_convert<std::uint16_t>(p, count, result.data);
    } else if (type == "<i2") {
        detail::npy_convert<std::int16_t>(p, count, result.data);
    } else if (type == "<i4") {
        detail::npy_convert<std::int32_t>(p, count, result.data);
    } else if (type == "<u4") {
        detail::npy_convert<std::uint32_t>(p, count, result.data);
    } else if (type == "<i8") {
        detail::npy_convert<std::int64_t>(p, count, result.data);
    } else {
        detail::npy_convert<std::uint64_t>(p, count, result.data);
    }
    return result;
}

namespace detail {

/// `a`, read from `path`, as a rank-N tensor (see read_npy).
template <std::size_t N>
tensor<N> npy_as_tensor(npy_array a, const std::filesystem::path& path) {
    if (N == 3 && a.shape.size() == 2) {
        a.shape.insert(a.shape.begin(), 1);
    }
    if (a.shape.size() != N) {
        throw shape_error(detail::concat("read_npy: '", path.string(), "' must have rank ", N,
                                         ", got rank ", a.shape.size(), " (shape ",
                                         shape_string(a.shape), ")"));
    }
    std::array<std::size_t, N> shape{};
    std::copy(a.shape.begin(), a.shape.end(), shape.begin());
    tensor<N> t(shape);
    std::copy(a.data.begin(), a.data.end(), t.begin());
    return t;
}

} // namespace detail

/// Read a .npy file of rank N (a rank-2 file read as rank 3 gets a leading channel of 1).
template <std::size_t N>
tensor<N> read_npy(const std::filesystem::path& path) {
    return detail::npy_as_tensor<N>(read_npy_any(path), path);
}

/// Write a float32 tensor (any xtensor expression is evaluated first) as a version 1.0 .npy,
/// atomically (a temporary file beside `path`, renamed into place).
template <class E>
void write_npy(const std::filesystem::path& path, const E& expression) {
    const auto values = xt::eval(xt::cast<float>(expression));
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (std::size_t i = 0; i < values.dimension(); ++i) {
        header += std::to_string(values.shape()[i]);
        header += (values.dimension() == 1 || i + 1 < values.dimension()) ? "," : "";
        header += (i + 1 < values.dimension()) ? " " : "";
    }
    header += "), }";
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    // atomically: a reader or a killed run sees the old file or the whole new one
    write_file_atomically(path, "write_npy", [&](std::ostream& out) {
        // magic, version 1.0, header length (little-endian uint16)
        unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
        preamble[8] = static_cast<unsigned char>(header.size() & 0xff);
        preamble[9] = static_cast<unsigned char>(header.size() >> 8);
        out.write(reinterpret_cast<const char*>(preamble), 10);
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        out.write(reinterpret_cast<const char*>(values.data()),
                  static_cast<std::streamsize>(values.size() * sizeof(float)));
    });
}

} // namespace xrestore
