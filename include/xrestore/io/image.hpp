#pragma once
/// @file image.hpp
/// Image files in and out. Reading decodes PNG, JPEG, BMP, TGA, GIF (first frame), PSD and PNM
/// through stb_image (Radiance HDR too, tone-mapped to 8 bits by stb), 8- or 16-bit, into a C x H x
/// W float32 image with values in [0,1] (8-bit samples / 255, 16-bit samples / 65535); gray+alpha
/// gives 1 channel and RGBA 3 (alpha is dropped). Writing produces 8-bit PNGs through
/// stb_image_write and 16-bit PNGs through a small built-in encoder (stored deflate blocks), each
/// written atomically (a temporary file beside the target, renamed into place).
/// `load_array` / `save_array` pick .npy or an image format from the file name.
///
/// @code
/// xrestore::image x = xrestore::read_image("cameraman.png");      // 1 x 512 x 512, in [0,1]
/// xrestore::write_png("out16.png", x, {.bit_depth = 16});
/// xrestore::save_array("x.npy", x);                               // exact float32 copy
/// @endcode

#include "xrestore/core/tensor.hpp"
#include "xrestore/io/atomic_file.hpp"
#include "xrestore/io/npy.hpp"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace xrestore {

/// Options of write_png.
struct png_options {
    int bit_depth = 8; ///< bits per sample: 8 or 16
};

namespace detail {

/// Largest image read_image accepts, in pixels (H * W): 2^28, e.g. 16384 x 16384. Larger
/// declared sizes are treated as corrupt files rather than attempted.
inline constexpr std::size_t max_image_pixels = std::size_t{1} << 28;

/// Most pixels a file may declare per byte it holds. No format packs more than about 8300 (a
/// constant 1-bit PNG at deflate's 1032:1 limit; GIF's LZW reaches about 2700, JPEG about 100),
/// while stb decodes a truncated BMP, TGA or PNM as if the missing bytes were zero: a tiny file
/// that declares a huge image is refused before anything is allocated.
inline constexpr std::size_t max_pixels_per_byte = 16384;

struct stbi_deleter {
    void operator()(void* pixels) const { stbi_image_free(pixels); }
};

inline std::string stbi_reason() {
    const char* reason = stbi_failure_reason();
    return reason != nullptr ? reason : "unknown reason";
}

/// Interleaved H x W x n samples -> C x H x W floats in [0,1]; keeps the first `channels` of n.
template <class Sample>
image deinterleave(const Sample* samples, std::size_t height, std::size_t width, std::size_t n,
                   std::size_t channels, float full_scale) {
    image x({channels, height, width});
    float* out = x.data();
    const std::size_t plane = height * width;
    for (std::size_t p = 0; p < plane; ++p) {
        for (std::size_t c = 0; c < channels; ++c) {
            out[c * plane + p] = static_cast<float>(samples[p * n + c]) / full_scale;
        }
    }
    return x;
}

/// Write `bytes` to `path` atomically (write_file_atomically): a reader or a killed run sees the
/// old file or the whole new one.
inline void write_whole_file(const std::filesystem::path& path,
                             std::span<const unsigned char> bytes, std::string_view where) {
    write_file_atomically(path, where, [&](std::ostream& out) {
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
    });
}

/// CRC-32 (ISO 3309, the one PNG uses) of `bytes`, continuing from `crc`.
inline std::uint32_t png_crc32(std::span<const unsigned char> bytes, std::uint32_t crc = 0) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t n = 0; n < 256; ++n) {
            std::uint32_t c = n;
            for (int k = 0; k < 8; ++k) {
                c = (c & 1u) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            t[n] = c;
        }
        return t;
    }();
    crc = ~crc;
    for (unsigned char b : bytes) {
        crc = table[(crc ^ b) & 0xFFu] ^ (crc >> 8);
    }
    return ~crc;
}

inline void put_be32(std::vector<unsigned char>& out, std::uint32_t v) {
    out.push_back(static_cast<unsigned char>(v >> 24));
    out.push_back(static_cast<unsigned char>(v >> 16));
    out.push_back(static_cast<unsigned char>(v >> 8));
    out.push_back(static_cast<unsigned char>(v));
}

inline void png_chunk(std::vector<unsigned char>& out, const char (&kind)[5],
                      std::span<const unsigned char> data) {
    put_be32(out, static_cast<std::uint32_t>(data.size()));
    const std::size_t type_at = out.size();
    out.insert(out.end(), kind, kind + 4);
    out.insert(out.end(), data.begin(), data.end());
    // the CRC covers the chunk type and data
    put_be32(out, png_crc32(std::span<const unsigned char>(out.data() + type_at, 4 + data.size())));
}

/// A complete 16-bit PNG (colour type 0 gray, 2 RGB or 6 RGBA) of big-endian samples, zlib
/// "stored" deflate blocks (no compression), filter 0 on every row.
inline std::vector<unsigned char> encode_png16(std::span<const std::uint16_t> samples,
                                               std::size_t height, std::size_t width,
                                               std::size_t channels) {
    const unsigned char colour_type = channels == 1 ? 0 : (channels == 3 ? 2 : 6);
    // raw scanlines: a filter byte (0) then the row's samples, most significant byte first
    const std::size_t row_bytes = 1 + width * channels * 2;
    std::vector<unsigned char> raw(row_bytes * height);
    for (std::size_t y = 0; y < height; ++y) {
        unsigned char* row = raw.data() + y * row_bytes;
        row[0] = 0;
        const std::uint16_t* in = samples.data() + y * width * channels;
        for (std::size_t i = 0; i < width * channels; ++i) {
            row[1 + 2 * i] = static_cast<unsigned char>(in[i] >> 8);
            row[2 + 2 * i] = static_cast<unsigned char>(in[i] & 0xFFu);
        }
    }
    // zlib stream: CMF/FLG (deflate, 32K window, no dictionary, FCHECK so that 0x7801 % 31 == 0),
    // stored blocks of at most 65535 bytes, Adler-32 of the raw data
    constexpr std::size_t max_block = 65535;
    std::vector<unsigned char> zlib;
    zlib.reserve(raw.size() + 5 * (raw.size() / max_block + 1) + 6);
    zlib.push_back(0x78);
    zlib.push_back(0x01);
    std::size_t at = 0;
    do {
        const std::size_t n = std::min(max_block, raw.size() - at);
        const bool last = at + n == raw.size();
        zlib.push_back(last ? 1 : 0); // BFINAL, BTYPE = 00 (stored)
        zlib.push_back(static_cast<unsigned char>(n & 0xFFu));
        zlib.push_back(static_cast<unsigned char>(n >> 8));
        zlib.push_back(static_cast<unsigned char>(~n & 0xFFu));
        zlib.push_back(static_cast<unsigned char>((~n >> 8) & 0xFFu));
        zlib.insert(zlib.end(), raw.begin() + static_cast<std::ptrdiff_t>(at),
                    raw.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
    } while (at < raw.size());
    // Adler-32: a = 1 + sum bytes, b = sum of the a's, both mod 65521 (reduced every 5552 bytes,
    // the longest run that cannot overflow 32 bits)
    std::uint32_t a = 1;
    std::uint32_t b = 0;
    for (std::size_t i = 0; i < raw.size();) {
        const std::size_t end = std::min(raw.size(), i + 5552);
        for (; i < end; ++i) {
            a += raw[i];
            b += a;
        }
        a %= 65521u;
        b %= 65521u;
    }
    put_be32(zlib, (b << 16) | a);

    std::vector<unsigned char> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::vector<unsigned char> ihdr;
    put_be32(ihdr, static_cast<std::uint32_t>(width));
    put_be32(ihdr, static_cast<std::uint32_t>(height));
    ihdr.insert(ihdr.end(),
                {16, colour_type, 0, 0, 0}); // depth, colour, deflate, filter, no interlace
    png_chunk(png, "IHDR", ihdr);
    constexpr std::size_t max_idat = std::size_t{1} << 24; // split long streams over several IDATs
    for (std::size_t i = 0; i < zlib.size(); i += max_idat) {
        const std::size_t n = std::min(max_idat, zlib.size() - i);
        png_chunk(png, "IDAT", std::span<const unsigned char>(zlib.data() + i, n));
    }
    png_chunk(png, "IEND", {});
    return png;
}

inline std::string lower_extension(const std::filesystem::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext;
}

/// The container format of `bytes` from its magic number: "png", "jpeg", "bmp" or "".
inline std::string_view image_format(std::span<const unsigned char> bytes) {
    auto starts = [&](std::initializer_list<unsigned char> magic) {
        return bytes.size() >= magic.size() &&
               std::equal(magic.begin(), magic.end(), bytes.begin());
    };
    if (starts({0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A})) {
        return "png";
    }
    if (starts({0xFF, 0xD8, 0xFF})) {
        return "jpeg";
    }
    if (starts({'B', 'M'})) {
        return "bmp";
    }
    return {};
}

/// Width and height a PNG's IHDR declares, when the file is long enough to hold them.
inline std::optional<std::pair<std::uint32_t, std::uint32_t>>
png_declared_size(std::span<const unsigned char> bytes) {
    static constexpr std::array<unsigned char, 4> ihdr{'I', 'H', 'D', 'R'};
    if (bytes.size() < 24 || !std::equal(ihdr.begin(), ihdr.end(), bytes.begin() + 12)) {
        return std::nullopt;
    }
    auto be32 = [&](std::size_t at) {
        return std::uint32_t{bytes[at]} << 24 | std::uint32_t{bytes[at + 1]} << 16 |
               std::uint32_t{bytes[at + 2]} << 8 | std::uint32_t{bytes[at + 3]};
    };
    return std::pair{be32(16), be32(20)};
}

/// What is wrong with a PNG's chunk structure ("" when every chunk fits and IEND ends it): the
/// decoder's own reason is empty or beside the point for a file that was cut short.
inline std::string png_structure_problem(std::span<const unsigned char> bytes) {
    std::size_t at = 8;
    bool image_data = false;
    while (at + 8 <= bytes.size()) {
        const std::size_t length = std::size_t{bytes[at]} << 24 | std::size_t{bytes[at + 1]} << 16 |
                                   std::size_t{bytes[at + 2]} << 8 | std::size_t{bytes[at + 3]};
        std::string type;
        for (std::size_t k = 4; k < 8; ++k) {
            const unsigned char c = bytes[at + k];
            type += std::isalpha(c) != 0 ? static_cast<char>(c) : '?';
        }
        if (length > bytes.size() - at - 8 || bytes.size() - at - 8 - length < 4) {
            return concat("is truncated: its ", type, " chunk at byte ", at, " declares ", length,
                          " bytes and a CRC, but only ", bytes.size() - at - 8, " bytes follow");
        }
        if (type == "IEND") {
            return image_data ? "" : "has no image data (no IDAT chunk before IEND)";
        }
        image_data = image_data || type == "IDAT";
        at += 12 + length;
    }
    return concat("is truncated: it ends after ", bytes.size(), " bytes, ",
                  image_data ? "inside its image data" : "before any image data (IDAT)",
                  ", with no IEND chunk");
}

/// Why stb_image refused `bytes`: the PNG structure's problem when there is one, else the
/// decoder's reason ("no reason given" when it gives none).
inline std::string decode_failure(std::span<const unsigned char> bytes, std::string_view format) {
    if (format == "png") {
        std::string problem = png_structure_problem(bytes);
        if (!problem.empty()) {
            return problem;
        }
    }
    const std::string reason = stbi_reason();
    return concat("is not a readable image (", reason.empty() ? "no reason given" : reason, ")");
}

/// Throw io_error for a JPEG whose tables would make the decoder (stb_image 2.27) write past them
/// or read memory it never wrote, walking the segments as the decoder does: it skips bytes that
/// are not a marker, passes over each scan's entropy-coded data, and reads tables between scans
/// (a progressive file sends them there). Refused:
///  - a Huffman table (DHT) declaring more than 256 codes, or more bytes than its segment holds
///    (the decoder would write past its tables);
///  - a scan using a Huffman table no DHT before it defined, or a quantisation table no DQT
///    defined before it is applied (before the scan for sequential files, before the end of
///    the image for progressive ones): the decoder reads such tables from memory it never
///    initialised, so the pixels would depend on whatever the heap held (and an undefined
///    Huffman table indexes its symbols with garbage);
///  - an image that ends (EOI) with a component no scan decoded (for a progressive file: no
///    first DC scan): its pixels would be uninitialised memory.
inline void check_jpeg_segments(std::span<const unsigned char> bytes, std::string_view name) {
    auto corrupt = [&](const auto&... what) {
        return io_error(concat("read_image: '", name, "' is a corrupt JPEG: ", what...));
    };
    std::array<bool, 4> quantisation{};
    std::array<std::array<bool, 4>, 2> huffman{}; // [0 DC, 1 AC][table]
    struct component {
        unsigned id = 0;
        unsigned table = 0;   ///< its quantisation table (above 3: the decoder refuses it)
        bool decoded = false; ///< in a scan (progressive: a first DC scan)
    };
    std::vector<component> frame;
    bool have_frame = false;
    bool progressive = false;
    std::size_t i = 2; // after SOI
    bool ended = false;
    while (i + 2 <= bytes.size()) {
        if (bytes[i] != 0xFF) {
            ++i; // not at a marker: the decoder skips such bytes until the next one
            continue;
        }
        const unsigned char marker = bytes[i + 1];
        if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) ||
            marker == 0xFF) {
            i += marker == 0xFF ? 1 : 2;
            continue;
        }
        if (marker == 0xD9) {
            ended = true; // end of image
            break;
        }
        if (i + 4 > bytes.size()) {
            return; // a segment cut in its length: the decoder refuses the file itself
        }
        const std::size_t length = std::size_t{bytes[i + 2]} << 8 | bytes[i + 3];
        const std::size_t end = std::min(bytes.size(), i + 2 + length);
        if (marker == 0xC4) { // DHT
            for (std::size_t p = i + 4; p < end;) {
                if (p + 17 > end) {
                    throw io_error(
                        concat("read_image: '", name, "' has a truncated JPEG Huffman table"));
                }
                std::size_t codes = 0;
                for (std::size_t k = 1; k <= 16; ++k) {
                    codes += bytes[p + k];
                }
                if (codes > 256 || p + 17 + codes > end) {
                    throw io_error(concat("read_image: '", name, "' has a corrupt JPEG Huffman ",
                                          "table (", codes, " codes)"));
                }
                const unsigned kind = bytes[p] >> 4U;
                const unsigned table = bytes[p] & 15U;
                if (kind < 2 && table < 4) {
                    huffman[kind][table] = true;
                }
                p += 17 + codes;
            }
        } else if (marker == 0xDB) { // DQT: 64 entries of 8 or 16 bits per table
            for (std::size_t p = i + 4; p < end;) {
                const unsigned table = bytes[p] & 15U;
                const std::size_t size = 1 + ((bytes[p] >> 4U) != 0 ? 128 : 64);
                if (p + size > end) {
                    break; // the decoder refuses the short table
                }
                if (table < 4) {
                    quantisation[table] = true;
                }
                p += size;
            }
        } else if ((marker == 0xC0 || marker == 0xC1 || marker == 0xC2) && !have_frame) {
            // SOF: precision, height, width, count, then (id, sampling, quantisation table)
            have_frame = true;
            progressive = marker == 0xC2;
            const std::size_t count = i + 10 <= end ? bytes[i + 9] : 0;
            for (std::size_t k = 0; k < count && i + 13 + 3 * k <= end; ++k) {
                frame.push_back({bytes[i + 10 + 3 * k], bytes[i + 12 + 3 * k] & 15U, false});
            }
        } else if (marker == 0xDA && have_frame && i + 5 <= end) {
            // SOS: count, (id, DC table << 4 | AC table) each, first and last coefficient,
            // successive approximation
            const std::size_t count = bytes[i + 4];
            if (length == 6 + 2 * count && i + 2 + length <= bytes.size()) {
                const std::size_t start = bytes[i + 5 + 2 * count];
                const unsigned high = bytes[i + 7 + 2 * count] >> 4U;
                for (std::size_t k = 0; k < count; ++k) {
                    const unsigned id = bytes[i + 5 + 2 * k];
                    const unsigned dc = bytes[i + 6 + 2 * k] >> 4U;
                    const unsigned ac = bytes[i + 6 + 2 * k] & 15U;
                    const auto c = std::find_if(frame.begin(), frame.end(),
                                                [&](const component& f) { return f.id == id; });
                    if (c == frame.end() || dc > 3 || ac > 3) {
                        continue; // the decoder refuses these itself
                    }
                    const bool uses_dc = !progressive || (start == 0 && high == 0);
                    const bool uses_ac = !progressive || start != 0;
                    const bool missing_dc = uses_dc && !huffman[0][dc];
                    if (missing_dc || (uses_ac && !huffman[1][ac])) {
                        throw corrupt("its scan at byte ", i, " decodes component ", id,
                                      " with Huffman table ", missing_dc ? "DC " : "AC ",
                                      missing_dc ? dc : ac,
                                      ", which no DHT segment before it defines");
                    }
                    if (!progressive && c->table < 4 && !quantisation[c->table]) {
                        throw corrupt("its scan at byte ", i, " dequantises component ", id,
                                      " with table ", c->table,
                                      ", which no DQT segment before it defines");
                    }
                    c->decoded = c->decoded || uses_dc;
                }
            }
        }
        if (length < 2) {
            return;
        }
        i += 2 + length;
        if (marker == 0xDA) {
            // the scan's data runs to the next marker: FF 00 is a stuffed FF byte, FF D0-D7 a
            // restart marker inside it
            while (i + 1 < bytes.size() && !(bytes[i] == 0xFF && bytes[i + 1] != 0x00 &&
                                             !(bytes[i + 1] >= 0xD0 && bytes[i + 1] <= 0xD7))) {
                ++i;
            }
        }
    }
    if (!ended) {
        return; // no end of image: the decoder refuses the file itself
    }
    for (const component& c : frame) {
        if (!c.decoded) {
            throw corrupt("it ends with component ", c.id, " in no ",
                          progressive ? "first DC scan" : "scan",
                          " (its pixels would be uninitialised memory)");
        }
        if (progressive && c.table < 4 && !quantisation[c.table]) {
            throw corrupt("component ", c.id, " is dequantised with table ", c.table,
                          ", which no DQT segment defines");
        }
    }
}

} // namespace detail

/// What an image file declares, read from its header without decoding it (read_array_info).
struct image_header {
    std::size_t width = 0;
    std::size_t height = 0;
    std::size_t file_channels = 0; ///< 1 to 4, as stored
    std::size_t channels = 0;      ///< as read_image returns it: 1 (gray) or 3
    bool sixteen_bit = false;
};

namespace detail {

/// The header of an image held in memory, with every check read_image_from_memory makes before
/// decoding (format, declared size, pixels per byte).
inline image_header checked_image_header(std::span<const unsigned char> bytes,
                                         std::string_view name) {
    if (bytes.empty()) {
        throw io_error(detail::concat("read_image: '", name, "' is empty (0 bytes)"));
    }
    if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
        throw io_error(detail::concat("read_image: '", name, "' holds ", bytes.size(),
                                      " bytes; the decoder reads at most ", INT_MAX));
    }
    const std::string_view format = detail::image_format(bytes);
    if (format.empty()) {
        throw io_error(detail::concat("read_image: '", name,
                                      "' is not a PNG, JPEG or BMP image (unknown magic number)"));
    }
    if (format == "jpeg") {
        detail::check_jpeg_segments(bytes, name);
    }
    if (format == "png") {
        // stb's info call tries every format after PNG's and reports the last one's reason
        // ("unknown image type"): the declared size is checked here first
        if (const auto size = detail::png_declared_size(bytes)) {
            const auto [w, h] = *size;
            if (w == 0 || h == 0) {
                throw io_error(detail::concat("read_image: '", name, "' declares an empty image (",
                                              w, " x ", h, ")"));
            }
            if (std::uint64_t{w} * h > detail::max_image_pixels) {
                throw io_error(detail::concat("read_image: '", name, "' declares ", w, " x ", h,
                                              " pixels, more than the ", detail::max_image_pixels,
                                              " accepted (a corrupt file?)"));
            }
        }
    }
    const int length = static_cast<int>(bytes.size());
    int width = 0;
    int height = 0;
    int channels = 0;
    if (stbi_info_from_memory(bytes.data(), length, &width, &height, &channels) == 0) {
        throw io_error(
            detail::concat("read_image: '", name, "' ", detail::decode_failure(bytes, format)));
    }
    if (format == "bmp" && height < 0 && height > INT_MIN) {
        height = -height; // a top-down BMP: stbi_info reports its height negative
    }
    if (width <= 0 || height <= 0) {
        throw io_error(detail::concat("read_image: '", name, "' declares an empty image (", width,
                                      " x ", height, ")"));
    }
    if (static_cast<std::size_t>(width) * static_cast<std::size_t>(height) >
        detail::max_image_pixels) {
        throw io_error(detail::concat("read_image: '", name, "' declares ", width, " x ", height,
                                      " pixels, more than the ", detail::max_image_pixels,
                                      " accepted (a corrupt file?)"));
    }
    // Uncompressed BMP holds at least one bit per pixel; JPEG needs a few bits per 8 x 8 block.
    const std::size_t per_byte = format == "bmp"    ? 8
                                 : format == "jpeg" ? 1024
                                                    : detail::max_pixels_per_byte;
    if (static_cast<std::size_t>(width) * static_cast<std::size_t>(height) >
        per_byte * bytes.size()) {
        throw io_error(detail::concat("read_image: '", name, "' declares ", width, " x ", height,
                                      " pixels in only ", bytes.size(),
                                      " bytes (a truncated or corrupt file?)"));
    }
    image_header header;
    header.width = static_cast<std::size_t>(width);
    header.height = static_cast<std::size_t>(height);
    header.file_channels = static_cast<std::size_t>(channels);
    header.channels = channels <= 2 ? 1 : 3;
    header.sixteen_bit = stbi_is_16_bit_from_memory(bytes.data(), length) != 0;
    return header;
}

} // namespace detail

/// Decode a PNG (8 or 16 bit), JPEG or BMP image held in memory into C x H x W floats in [0,1].
/// `name` only labels error messages. Throws io_error for other formats, empty, truncated,
/// corrupt or unsupported data, zero-size images, images over 2^28 pixels and headers that
/// declare more pixels than the data could hold (over 16384 per byte).
inline image read_image_from_memory(std::span<const unsigned char> bytes,
                                    std::string_view name = "<memory>") {
    const image_header header = detail::checked_image_header(bytes, name);
    const std::string_view format = detail::image_format(bytes);
    if (format == "png") {
        // a PNG cut short is refused before decoding: stb reads past a truncated chunk (an empty
        // IDAT at the end copies from a null buffer)
        if (const std::string problem = detail::png_structure_problem(bytes); !problem.empty()) {
            throw io_error(detail::concat("read_image: cannot decode '", name, "': it ", problem));
        }
    }
    const int length = static_cast<int>(bytes.size());
    const bool sixteen = header.sixteen_bit;
    int w = 0;
    int h = 0;
    int n = 0;
    // Decode with the 8- or 16-bit loader, then check and de-interleave the samples.
    auto decode = [&](auto* pixels_raw, float scale) {
        using sample = std::remove_pointer_t<decltype(pixels_raw)>;
        std::unique_ptr<sample, detail::stbi_deleter> pixels(pixels_raw);
        if (!pixels) {
            throw io_error(detail::concat("read_image: cannot decode '", name, "': it ",
                                          detail::decode_failure(bytes, format)));
        }
        if (w <= 0 || h <= 0 || n < 1 || n > 4) {
            throw io_error(detail::concat("read_image: '", name, "' decodes to an invalid ", w,
                                          " x ", h, " x ", n, " image"));
        }
        const auto keep = static_cast<std::size_t>(n <= 2 ? 1 : 3);
        return detail::deinterleave(pixels.get(), static_cast<std::size_t>(h),
                                    static_cast<std::size_t>(w), static_cast<std::size_t>(n), keep,
                                    scale);
    };
    if (sixteen) {
        return decode(stbi_load_16_from_memory(bytes.data(), length, &w, &h, &n, 0), 65535.0f);
    }
    return decode(stbi_load_from_memory(bytes.data(), length, &w, &h, &n, 0), 255.0f);
}

/// Read an image file into C x H x W floats in [0,1] (see read_image_from_memory). Missing,
/// unreadable and directory paths throw io_error naming the path.
inline image read_image(const std::filesystem::path& path) {
    const std::string bytes = detail::read_whole_file(path, "read_image");
    return read_image_from_memory(
        std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(bytes.data()),
                                       bytes.size()),
        path.string());
}

/// What load_array would read from `path`, without decoding it: the C x H x W shape it returns,
/// and the bytes a decoder holds besides that float image (the file, and stb_image's 8- or 16-bit
/// samples). An image's header goes through read_image's checks; a .npy's header is read alone.
struct array_info {
    shape3 shape{};
    std::uint64_t file_bytes = 0;
    std::uint64_t decoder_bytes = 0;
};

inline array_info read_array_info(const std::filesystem::path& path) {
    array_info info;
    if (detail::lower_extension(path) == ".npy") {
        const npy_header h = read_npy_header(path);
        std::error_code ec;
        info.file_bytes = std::filesystem::file_size(path, ec);
        const std::vector<std::size_t>& s = h.shape;
        if (s.size() == 3) {
            info.shape = {s[0], s[1], s[2]};
        } else if (s.size() == 2) {
            info.shape = {1, s[0], s[1]};
        } else {
            throw shape_error(detail::concat("read_npy: '", path.string(),
                                             "' must have rank 3 (or 2), got rank ", s.size(),
                                             " (shape ", shape_string(s), ")"));
        }
        // the file's bytes, then its values converted to float before the image is filled
        info.decoder_bytes = info.file_bytes + 4 * std::uint64_t{h.count};
        return info;
    }
    const std::string bytes = detail::read_whole_file(path, "read_image");
    const image_header h = detail::checked_image_header(
        std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(bytes.data()),
                                       bytes.size()),
        path.string());
    info.shape = {h.channels, h.height, h.width};
    info.file_bytes = bytes.size();
    // stb's interleaved samples, and about as much again for its decoding buffers (a PNG's
    // inflated rows, a JPEG's component planes)
    info.decoder_bytes = info.file_bytes + 2 * std::uint64_t{h.width} * h.height * h.file_channels *
                                               (h.sixteen_bit ? 2 : 1);
    return info;
}

/// Write a C x H x W image (C = 1 gray, 3 RGB or 4 RGBA) as an 8- or 16-bit PNG. Values are
/// clipped to [0,1] and quantised as floor(v * (2^depth - 1) + 0.5). A NaN or infinite value is
/// refused (value_error naming the first such pixel) rather than written as black or white.
inline void write_png(const std::filesystem::path& path, const image& x, png_options options = {}) {
    require(options.bit_depth == 8 || options.bit_depth == 16, "write_png", "options.bit_depth",
            "8 or 16", options.bit_depth);
    const std::size_t channels = x.shape()[0];
    const std::size_t height = x.shape()[1];
    const std::size_t width = x.shape()[2];
    if (channels != 1 && channels != 3 && channels != 4) {
        throw shape_error(detail::concat("write_png: x must have 1, 3 or 4 channels (C x H x W), ",
                                         "got shape ", shape_string(x.shape())));
    }
    if (height == 0 || width == 0) {
        throw shape_error(detail::concat("write_png: x must have at least one pixel, got shape ",
                                         shape_string(x.shape())));
    }
    // stb_image_write indexes with int: keep (row bytes + 1) * height below INT_MAX
    const std::size_t limit =
        options.bit_depth == 8 ? static_cast<std::size_t>(INT_MAX) / 2 : std::size_t{0x7FFFFFFF};
    if (width > limit || height > limit || (width * channels * 2 + 1) > limit / height) {
        throw value_error(detail::concat("write_png: x of shape ", shape_string(x.shape()),
                                         " is too large for a PNG"));
    }
    const std::size_t plane = height * width;
    const float* in = x.data();
    for (std::size_t i = 0; i < channels * plane; ++i) {
        if (!std::isfinite(in[i])) {
            throw value_error(detail::concat("write_png: x must contain only finite values, got ",
                                             in[i], " at channel ", i / plane, ", row ",
                                             (i % plane) / width, ", column ", i % width,
                                             " (writing '", path.string(), "')"));
        }
    }
    const double full_scale = options.bit_depth == 8 ? 255.0 : 65535.0;
    // q = floor(clip(v, 0, 1) * full_scale + 0.5), interleaved H x W x C
    auto quantise = [&](std::size_t c, std::size_t p) {
        const double v = std::clamp(static_cast<double>(in[c * plane + p]), 0.0, 1.0);
        return std::floor(v * full_scale + 0.5);
    };
    std::vector<unsigned char> file;
    if (options.bit_depth == 8) {
        std::vector<unsigned char> samples(plane * channels);
        for (std::size_t p = 0; p < plane; ++p) {
            for (std::size_t c = 0; c < channels; ++c) {
                samples[p * channels + c] = static_cast<unsigned char>(quantise(c, p));
            }
        }
        auto append = [](void* context, void* data, int size) {
            auto* out = static_cast<std::vector<unsigned char>*>(context);
            const auto* bytes = static_cast<const unsigned char*>(data);
            out->insert(out->end(), bytes, bytes + size);
        };
        const int ok = stbi_write_png_to_func(append, &file, static_cast<int>(width),
                                              static_cast<int>(height), static_cast<int>(channels),
                                              samples.data(), static_cast<int>(width * channels));
        if (ok == 0) {
            throw io_error(detail::concat("write_png: stb_image_write failed to encode '",
                                          path.string(), "'"));
        }
    } else {
        std::vector<std::uint16_t> samples(plane * channels);
        for (std::size_t p = 0; p < plane; ++p) {
            for (std::size_t c = 0; c < channels; ++c) {
                samples[p * channels + c] = static_cast<std::uint16_t>(quantise(c, p));
            }
        }
        file = detail::encode_png16(samples, height, width, channels);
    }
    detail::write_whole_file(path, file, "write_png");
}

/// Read an image for a restoration run: `.npy` (rank 3, or rank 2 read as 1 x H x W; float32,
/// float64 or bool) through read_npy, any other name through read_image. An empty array is
/// refused with io_error, and so is an integer .npy: its values are not on the [0, 1] scale of
/// an image, and guessing a scale (255? the largest value?) would change results silently;
/// the message says how to convert it. (read_npy itself reads integers as they are, as masks
/// and kernels want.)
inline image load_array(const std::filesystem::path& path) {
    image x;
    if (detail::lower_extension(path) == ".npy") {
        npy_array a = read_npy_any(path);
        if (a.dtype != "<f4" && a.dtype != "<f8" && a.dtype != "|b1") {
            const bool is_unsigned = a.dtype.find('u') != std::string::npos;
            throw io_error(detail::concat(
                "load_array: '", path.string(), "' must hold float32 or float64 values in [0, 1], ",
                "got integers (dtype ", a.dtype, "); convert it in numpy, e.g. ",
                is_unsigned ? "(a / np.iinfo(a.dtype).max).astype('float32')"
                            : "a.astype('float32') scaled to [0, 1]"));
        }
        x = detail::npy_as_tensor<3>(std::move(a), path);
    } else {
        x = read_image(path);
    }
    if (x.size() == 0) {
        throw io_error(detail::concat("load_array: '", path.string(),
                                      "' holds an empty array (shape ", shape_string(x.shape()),
                                      ")"));
    }
    return x;
}

/// Encode `x` (1 or 3 channels, finite, values clipped to [0,1] and rounded to 8 bits) as a
/// baseline JPEG at `quality` 1..100 through stb_image_write (4:2:0 chroma subsampling at quality
/// 90 and below, as stb does). Returns the file's bytes; read_image_from_memory decodes them.
/// Throws value_error for another channel count, a non-finite value or a quality outside 1..100.
inline std::vector<unsigned char> encode_jpeg(const image& x, int quality) {
    constexpr std::string_view where = "encode_jpeg";
    const std::size_t channels = x.shape()[0];
    const std::size_t height = x.shape()[1];
    const std::size_t width = x.shape()[2];
    if (channels != 1 && channels != 3) {
        throw shape_error(
            detail::concat(where, ": x must have 1 or 3 channels, got ", shape_string(x.shape())));
    }
    if (height == 0 || width == 0 || height > 65535 || width > 65535) {
        throw value_error(detail::concat(where, ": a JPEG is 1 to 65535 pixels per side, got ",
                                         shape_string(x.shape())));
    }
    if (quality < 1 || quality > 100) {
        throw value_error(detail::concat(where, ": quality must be in 1..100, got ", quality));
    }
    const std::size_t plane = height * width;
    std::vector<unsigned char> samples(plane * channels);
    const float* in = x.data();
    for (std::size_t p = 0; p < plane; ++p) {
        for (std::size_t c = 0; c < channels; ++c) {
            const float v = in[c * plane + p];
            if (!std::isfinite(v)) {
                throw value_error(detail::concat(where, ": x must contain only finite values, got ",
                                                 v, " at channel ", c, ", row ", p / width,
                                                 ", column ", p % width));
            }
            // q = floor(clip(v, 0, 1) * 255 + 0.5), as write_png
            const double q = std::floor(std::clamp(static_cast<double>(v), 0.0, 1.0) * 255.0 + 0.5);
            samples[p * channels + c] = static_cast<unsigned char>(q);
        }
    }
    std::vector<unsigned char> file;
    auto append = [](void* context, void* data, int size) {
        auto* out = static_cast<std::vector<unsigned char>*>(context);
        const auto* bytes = static_cast<const unsigned char*>(data);
        out->insert(out->end(), bytes, bytes + size);
    };
    const int ok =
        stbi_write_jpg_to_func(append, &file, static_cast<int>(width), static_cast<int>(height),
                               static_cast<int>(channels), samples.data(), quality);
    if (ok == 0 || file.empty()) {
        throw io_error(detail::concat(where, ": stb_image_write failed to encode a ",
                                      shape_string(x.shape()), " image"));
    }
    return file;
}

/// `x` after a JPEG round trip at `quality` (encode_jpeg, then decode): the compression
/// artefacts of a real baseline JPEG, as a C x H x W image in [0,1].
inline image jpeg_round_trip(const image& x, int quality) {
    const std::vector<unsigned char> file = encode_jpeg(x, quality);
    return read_image_from_memory(file, "<jpeg_round_trip>");
}

/// Save an array by extension: `.npy` keeps the float32 values exactly (write_npy), `.png`
/// writes an 8-bit PNG (write_png). Any other extension throws io_error.
inline void save_array(const std::filesystem::path& path, const image& x) {
    const std::string ext = detail::lower_extension(path);
    if (ext == ".npy") {
        write_npy(path, x);
    } else if (ext == ".png") {
        write_png(path, x);
    } else {
        throw io_error(detail::concat("save_array: '", path.string(),
                                      "' must end in .npy or .png, got extension '", ext, "'"));
    }
}

} // namespace xrestore
